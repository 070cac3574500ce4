/**
 * WholeLines: bytes through, cut after each chunk's last newline, so that an
 * input cut short (a signal) ends at a line's end: a partial last line, whose
 * end was never read, is no line and stays out. At a real end it is a line.
 */
// node:stream's Transform: loading readable-stream would cost ~30 ms of start-up (see encode-ndjson.ts).
import { Transform, type TransformCallback } from 'node:stream'

/** Bytes through, cut after each chunk's last newline: a partial last line waits for its end. */
export class WholeLines extends Transform {
  #held: Buffer[] = []
  #heldBytes = 0
  /** Set before end() when stdin was cut: a held partial line is not a line, it stays out. */
  cut = false
  /** A partial line held past this many bytes is passed on as it comes (see the constructor). */
  readonly #longest: number

  /**
   * `longest`: the longest line the stage after this one takes. A partial line past it is passed on as it
   * comes, for that stage to refuse as too long, not held whole to its end: a 1.2 GB line with no newline
   * held 1.3 GB of memory, and a longer one all there was.
   */
  constructor (options: { longest?: number } = {}) {
    super()
    this.#longest = options.longest ?? Infinity
  }

  /** Bytes of a partial last line held back. */
  get heldBytes (): number {
    return this.#heldBytes
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const end = chunk.lastIndexOf(10) + 1
    if (end === 0) {
      this.#held.push(chunk)
      this.#heldBytes += chunk.length
      if (this.#heldBytes > this.#longest) this.#passHeld()
      callback()
      return
    }
    this.#passHeld()
    if (end === chunk.length) {
      this.push(chunk)
    } else {
      this.push(chunk.subarray(0, end))
      this.#held.push(chunk.subarray(end))
      this.#heldBytes = chunk.length - end
    }
    callback()
  }

  #passHeld (): void {
    // Views, not copies: split2 joins the pieces of a line itself.
    for (const piece of this.#held) this.push(piece)
    this.#held = []
    this.#heldBytes = 0
  }

  override _flush (callback: TransformCallback): void {
    // At the end of the input a last line without a newline is a line.
    if (!this.cut) for (const piece of this.#held) this.push(piece)
    callback()
  }
}
