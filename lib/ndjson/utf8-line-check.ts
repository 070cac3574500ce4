/**
 * Which lines of NDJSON bytes are not valid UTF-8, found on the bytes before
 * split2 decodes them: its StringDecoder turns bad bytes into U+FFFD without
 * a word, and the event would be shipped changed (while `shoebox serve`
 * refuses a body that is not UTF-8). The bytes pass through untouched; the
 * numbers of the bad lines (from 1, blank lines counted, as stampNdjson's
 * line mapper counts them) are noted in `badLines`, which the mapper reads
 * for each line after this stage has seen it.
 *
 * A line begun in an earlier chunk is joined and checked alone; the rest of
 * the chunk, when valid UTF-8 as a whole, costs one isUtf8 over it plus a
 * newline count; only a rest that is not is checked line by line. Newline bytes never occur inside a
 * multi-byte sequence, so lines are checked on whole-character boundaries.
 */
import { isUtf8 } from 'node:buffer'
import { Transform, type TransformCallback } from 'node:stream'

const NEWLINE = 10

export class Utf8LineCheck extends Transform {
  /** Numbers of the lines that are not valid UTF-8, not yet taken by the mapper. */
  readonly badLines = new Set<number>()
  /** The number of the line the next byte belongs to. */
  #line = 1
  /** The current line's bytes from earlier chunks (views, not copies). */
  #partial: Buffer[] = []

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let rest = chunk
    if (this.#partial.length > 0) {
      // Finish the line an earlier chunk began; the rest of this chunk starts a line.
      const nl = chunk.indexOf(NEWLINE)
      if (nl === -1) {
        this.#partial.push(chunk)
        callback(null, chunk)
        return
      }
      this.#partial.push(chunk.subarray(0, nl))
      this.#check(Buffer.concat(this.#partial))
      this.#partial = []
      this.#line++
      rest = chunk.subarray(nl + 1)
    }
    if (isUtf8(rest)) this.#count(rest)
    else this.#checkLines(rest)
    callback(null, chunk)
  }

  override _flush (callback: TransformCallback): void {
    // A last line without a newline is a line.
    if (this.#partial.length > 0) this.#check(Buffer.concat(this.#partial))
    this.#partial = []
    callback()
  }

  /** A valid chunk: count its newlines, and keep its unfinished last line for the next chunk's check. */
  #count (chunk: Buffer): void {
    let from = 0
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
      this.#line++
      from = nl + 1
    }
    if (from < chunk.length) this.#partial.push(chunk.subarray(from))
  }

  /** A chunk (starting a line) that is not valid as a whole: check its whole lines one by one. */
  #checkLines (chunk: Buffer): void {
    let from = 0
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
      this.#check(chunk.subarray(from, nl))
      this.#line++
      from = nl + 1
    }
    if (from < chunk.length) this.#partial.push(chunk.subarray(from))
  }

  #check (line: Buffer): void {
    if (!isUtf8(line)) this.badLines.add(this.#line)
  }
}
