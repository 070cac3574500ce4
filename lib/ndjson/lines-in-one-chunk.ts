/**
 * LinesInOneChunk: bytes through, each line in one chunk. The pieces of a line
 * that spans chunks are held and joined once its newline (or the end) comes.
 * It goes in front of split2, which appends every chunk to the unfinished
 * line's text and splits all of it again: a line in n chunks cost n splits of
 * up to its length (stampNdjson() took 5 s for a 16 MiB line; a 300 MB one, a
 * file with no newline, over ten minutes).
 *
 * A line longer than `longest` bytes is not held: its bytes are dropped as they
 * come, and TOO_LONG_LINE goes on in its place (one line for one line, so the
 * lines after it keep their numbers), for the next stage to refuse by name.
 * Held whole, a line of 600 MB became a string longer than V8 allows, and
 * split2 crashed the process ('Cannot create a string longer than 0x1fffffe8
 * characters') with 1.2 GB held.
 */
// node:stream's Transform: loading readable-stream would cost start-up (see encode-ndjson.ts).
import { Transform, type TransformCallback } from 'node:stream'

/**
 * The text a line too long stands in as. A NUL byte is never in a JSON text (as
 * itself), so no line that would be taken reads so.
 */
export const TOO_LONG_LINE = '\u0000line too long\u0000'

const NEWLINE = 10
const TOO_LONG = Buffer.from(TOO_LONG_LINE + '\n')

export class LinesInOneChunk extends Transform {
  #held: Buffer[] = []
  #heldBytes = 0
  /** The line under way is longer than #longest: its bytes are dropped up to its newline. */
  #dropping = false
  readonly #longest: number

  constructor (options: { longest?: number } = {}) {
    super()
    this.#longest = options.longest ?? Infinity
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let rest = chunk
    if (this.#dropping || this.#heldBytes > 0) {
      // The line under way ends in this chunk, or not.
      const nl = chunk.indexOf(NEWLINE)
      if (nl === -1) {
        this.#hold(chunk)
        callback()
        return
      }
      if (this.#dropping || this.#heldBytes + nl > this.#longest) {
        this.push(TOO_LONG)
        this.#held = []
        this.#heldBytes = 0
        this.#dropping = false
        rest = chunk.subarray(nl + 1)
      }
    }
    const end = rest.lastIndexOf(NEWLINE) + 1
    if (end === 0) {
      if (rest.length > 0) this.#hold(rest)
      callback()
      return
    }
    const lines = rest.subarray(0, end)
    this.push(this.#held.length === 0 ? lines : Buffer.concat([...this.#held, lines]))
    this.#held = end === rest.length ? [] : [rest.subarray(end)]
    this.#heldBytes = rest.length - end
    callback()
  }

  override _flush (callback: TransformCallback): void {
    if (this.#dropping) this.push(TOO_LONG.subarray(0, TOO_LONG.length - 1))
    else if (this.#held.length > 0) this.push(Buffer.concat(this.#held))
    this.#held = []
    this.#heldBytes = 0
    callback()
  }

  /** A piece of the unfinished line: held, or dropped once the line is longer than #longest. */
  #hold (piece: Buffer): void {
    if (this.#dropping) return
    this.#held.push(piece)
    this.#heldBytes += piece.length
    if (this.#heldBytes > this.#longest) {
      this.#held = []
      this.#heldBytes = 0
      this.#dropping = true
    }
  }
}
