/**
 * Which lines of NDJSON bytes are not valid UTF-8, found on the bytes before
 * split2 decodes them: its StringDecoder turns bad bytes into U+FFFD without
 * a word, and the event would be shipped changed (while `shoebox serve`
 * refuses a body that is not UTF-8). The bytes pass through untouched; the
 * numbers of the bad lines (from 1, blank lines counted, as stampNdjson's
 * line mapper counts them) are noted in `badLines`, which the mapper reads
 * for each line after this stage has seen it.
 *
 * Whether the bytes are UTF-8, a character split across chunks allowed, is
 * decided by events/utf8-chunks.ts, as for every other stream check; this
 * stage only maps its first bad byte to a line. A newline byte never occurs
 * inside a multi-byte sequence (one cut short by a newline is bad at its
 * start), so the bad byte's line is the bad line; the check starts afresh
 * after that line's newline. A valid chunk costs one isUtf8 and a newline count.
 */
import { Transform, type TransformCallback } from 'node:stream'
import { BEFORE_CHUNK, Utf8Chunks } from '../events/utf8-chunks.js'

const NEWLINE = 10

export class Utf8LineCheck extends Transform {
  /** Numbers of the lines that are not valid UTF-8, not yet taken by the mapper. */
  readonly badLines = new Set<number>()
  /** The number of the line the next byte belongs to. */
  #line = 1
  /** The check of the current line's bytes (and the lines after it, while they are valid). */
  #utf8 = new Utf8Chunks()
  /** Whether the current line is already known bad: its bytes up to the newline are not checked. */
  #lineBad = false

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let rest = chunk
    while (rest.length > 0) {
      if (this.#lineBad) {
        const nl = rest.indexOf(NEWLINE)
        if (nl === -1) break
        this.#nextLine()
        rest = rest.subarray(nl + 1)
        continue
      }
      const bad = this.#utf8.check(rest)
      // A sequence begun in an earlier chunk is in the current line: no newline ends a character.
      const badAt = bad === BEFORE_CHUNK ? 0 : bad
      this.#countLines(bad === -1 ? rest : rest.subarray(0, badAt))
      if (bad === -1) break
      this.badLines.add(this.#line)
      this.#lineBad = true
      rest = rest.subarray(badAt)
    }
    callback(null, chunk)
  }

  override _flush (callback: TransformCallback): void {
    // A last line without a newline is a line: one that ends inside a character is bad.
    if (!this.#lineBad && this.#utf8.unfinished()) this.badLines.add(this.#line)
    callback()
  }

  /** Counts the newlines of valid bytes. */
  #countLines (bytes: Buffer): void {
    for (let nl = bytes.indexOf(NEWLINE); nl !== -1; nl = bytes.indexOf(NEWLINE, nl + 1)) this.#line++
  }

  /** Past the newline of a bad line: the next line is checked from its first byte. */
  #nextLine (): void {
    this.#line++
    this.#lineBad = false
    this.#utf8 = new Utf8Chunks()
  }
}
