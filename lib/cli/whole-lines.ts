/**
 * WholeLines: bytes through, cut after each chunk's last newline, so that an
 * input cut short (a signal) ends at a line's end: a partial last line, whose
 * end was never read, is no line and stays out. At a real end it is a line.
 * A partial line is held up to `maxHeld` bytes: one longer goes on as it
 * comes, for the next stage to refuse (stampNdjson's maxLineLength), so
 * that input without a newline is not held whole.
 */
// node:stream's Transform: loading readable-stream would cost ~30 ms of start-up (see encode-ndjson.ts).
import { Transform, type TransformCallback } from 'node:stream'

/** Bytes through, cut after each chunk's last newline: a partial last line waits for its end. */
export class WholeLines extends Transform {
  #held: Buffer[] = []
  #heldBytes = 0
  /** Set before end() when stdin was cut: a held partial line is not a line, it stays out. */
  cut = false
  readonly #maxHeld: number

  constructor (maxHeld = Infinity) {
    super()
    this.#maxHeld = maxHeld
  }

  /** Bytes of a partial last line held back. */
  get heldBytes (): number {
    return this.#heldBytes
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const end = chunk.lastIndexOf(10) + 1
    if (end === 0 && this.#heldBytes + chunk.length <= this.#maxHeld) {
      this.#held.push(chunk)
      this.#heldBytes += chunk.length
      callback()
      return
    }
    if (end === 0) {
      // Too long to be a line the next stage takes: on it goes, to be refused there, naming it.
      for (const piece of this.#held) this.push(piece)
      this.#held = []
      this.#heldBytes = 0
      this.push(chunk)
      callback()
      return
    }
    // Views, not copies: split2 joins the pieces of a line itself.
    for (const piece of this.#held) this.push(piece)
    this.#held = []
    this.#heldBytes = 0
    if (end === chunk.length) {
      this.push(chunk)
    } else {
      this.push(chunk.subarray(0, end))
      this.#held.push(chunk.subarray(end))
      this.#heldBytes = chunk.length - end
    }
    callback()
  }

  override _flush (callback: TransformCallback): void {
    // At the end of the input a last line without a newline is a line.
    if (!this.cut) for (const piece of this.#held) this.push(piece)
    callback()
  }
}
