/**
 * LinesInOneChunk: bytes through, each line in one chunk. The pieces of a line
 * that spans chunks are held and joined once its newline (or the end) comes.
 * It goes in front of split2, which appends every chunk to the unfinished
 * line's text and splits all of it again: a line in n chunks cost n splits of
 * up to its length (stampNdjson() took 5 s for a 16 MiB line; a 300 MB one, a
 * file with no newline, over ten minutes).
 *
 * With `maxLine` (bytes, a CR before the newline not counted) a longer line
 * ends the output where it starts: the whole lines before it go on, it is
 * dropped, and `tooLong` is set for the stage after split2 to report (it
 * knows the line's number). No more input is taken (the write callback is
 * held): a writer that went on was written into a stream being destroyed,
 * and its ERR_STREAM_DESTROYED beat the real error. So a line is never held
 * past maxLine (+1 for a CR): a file with no newline costs no more memory
 * than that. Lines inside one chunk are measured only when the chunk's lines
 * together are over the limit (never, at the default: chunks are smaller).
 */
// node:stream's Transform: loading readable-stream would cost start-up (see encode-ndjson.ts).
import { Transform, type TransformCallback } from 'node:stream'

const NEWLINE = 10
const CR = 13

export class LinesInOneChunk extends Transform {
  #held: Buffer[] = []
  #heldBytes = 0
  readonly #maxLine: number
  /** A line was over maxLine: the output ended before it, and the rest of the input is dropped. */
  tooLong = false

  constructor (maxLine = Infinity) {
    super()
    this.#maxLine = maxLine
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const end = chunk.lastIndexOf(NEWLINE) + 1
    if (end === 0) {
      // Once refused, the callback is held: no more input is taken.
      if (this.#hold(chunk)) callback()
      return
    }
    const lines = chunk.subarray(0, end)
    // Only a region longer than maxLine can hold a line over it: the common case scans nothing.
    const over = this.#heldBytes + end - 1 > this.#maxLine ? this.#firstOver(lines) : -1
    if (over >= 0) {
      // The whole lines before the long one go on; it and what follows do not.
      const before = over - this.#heldBytes
      if (before > 0) this.push(lines.subarray(0, before))
      this.#refuse()
      return
    }
    this.push(this.#held.length === 0 ? lines : Buffer.concat([...this.#held, lines]))
    this.#held = []
    this.#heldBytes = 0
    if (end === chunk.length || this.#hold(chunk.subarray(end))) callback()
  }

  override _flush (callback: TransformCallback): void {
    if (this.#held.length > 0) this.push(Buffer.concat(this.#held))
    this.#held = []
    callback()
  }

  /** Hold the start of an unfinished line; false (refused) when that makes it longer than any line allowed (one byte more may be a CR). */
  #hold (piece: Buffer): boolean {
    if (this.#heldBytes + piece.length > this.#maxLine + 1) {
      this.#refuse()
      return false
    }
    this.#held.push(piece)
    this.#heldBytes += piece.length
    return true
  }

  /**
   * Where (counting the held bytes first) the first line of held + `lines`
   * longer than maxLine starts, or -1. `lines` ends with a newline.
   */
  #firstOver (lines: Buffer): number {
    let start = -this.#heldBytes
    for (let nl = lines.indexOf(NEWLINE); nl !== -1; nl = lines.indexOf(NEWLINE, nl + 1)) {
      const cr = (nl > 0 ? lines[nl - 1] : this.#lastHeldByte()) === CR ? 1 : 0
      if (nl - cr - start > this.#maxLine) return start + this.#heldBytes
      start = nl + 1
    }
    return -1
  }

  /** The last byte held (a CR whose newline starts the next chunk), or -1. */
  #lastHeldByte (): number {
    const last = this.#held.at(-1)
    return last === undefined || last.length === 0 ? -1 : last[last.length - 1]
  }

  #refuse (): void {
    this.tooLong = true
    this.#held = []
    this.#heldBytes = 0
    this.push(null)
  }
}
