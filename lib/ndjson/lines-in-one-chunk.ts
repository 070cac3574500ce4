/**
 * LinesInOneChunk: bytes through, each line in one chunk. The pieces of a line
 * that spans chunks are held and joined once its newline (or the end) comes.
 * It goes in front of split2, which appends every chunk to the unfinished
 * line's text and splits all of it again: a line in n chunks cost n splits of
 * up to its length (stampNdjson() took 5 s for a 16 MiB line; a 300 MB one, a
 * file with no newline, over ten minutes).
 *
 * A line longer than `longest` bytes (a CR before its newline not counted) is
 * not passed on: TOO_LONG_LINE goes on in its place (one line for one line, so
 * the lines after it keep their numbers), for the next stage to refuse by
 * name. One that spans chunks is not held either: past `longest` (+1 for a CR)
 * its bytes are dropped as they come, so input without a newline costs no more
 * memory than that. Held whole, a line of 600 MB became a string longer than
 * V8 allows, and split2 crashed the process ('Cannot create a string longer
 * than 0x1fffffe8 characters') with 1.2 GB held. Lines inside one chunk are
 * measured only when the chunk's lines together are longer than `longest`
 * (never at the default limits, far above a chunk), so the limit is exact
 * however the input is cut, and the common case scans nothing.
 */
// node:stream's Transform: loading readable-stream would cost start-up (see encode-ndjson.ts).
import { Transform, type TransformCallback } from 'node:stream'

/**
 * The text a line too long stands in as. A NUL byte is never in a JSON text (as
 * itself), so no line that would be taken reads so.
 */
export const TOO_LONG_LINE = '\u0000line too long\u0000'

const NEWLINE = 10
const CR = 13
const TOO_LONG = Buffer.from(TOO_LONG_LINE + '\n')

export class LinesInOneChunk extends Transform {
  /** The start of the line under way (its newline not yet come), at most #longest + 1 bytes. */
  #held: Buffer[] = []
  #heldBytes = 0
  /** The line under way is longer than #longest: its bytes are dropped up to its newline. */
  #dropping = false
  readonly #longest: number

  constructor (options: { longest?: number } = {}) {
    super()
    this.#longest = options.longest ?? Infinity
  }

  /** Bytes of the line under way held (none once it is known to be too long). */
  get heldBytes (): number {
    return this.#heldBytes
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let rest = chunk
    if (this.#dropping) {
      const nl = chunk.indexOf(NEWLINE)
      if (nl === -1) {
        callback()
        return
      }
      this.push(TOO_LONG)
      this.#dropping = false
      rest = chunk.subarray(nl + 1)
    }
    const end = rest.lastIndexOf(NEWLINE) + 1
    if (end === 0) {
      this.#hold(rest)
      callback()
      return
    }
    const lines = rest.subarray(0, end)
    // Only a region longer than #longest can hold a line over it.
    if (this.#heldBytes + end - 1 > this.#longest) this.#passMeasured(lines)
    else this.push(this.#held.length === 0 ? lines : Buffer.concat([...this.#held, lines]))
    this.#held = []
    this.#heldBytes = 0
    this.#hold(rest.subarray(end))
    callback()
  }

  override _flush (callback: TransformCallback): void {
    // The last line, without a newline (so a CR at its end is its own byte).
    if (this.#dropping || this.#heldBytes > this.#longest) this.push(TOO_LONG.subarray(0, TOO_LONG.length - 1))
    else if (this.#held.length > 0) this.push(Buffer.concat(this.#held))
    this.#held = []
    this.#heldBytes = 0
    this.#dropping = false
    callback()
  }

  /** A piece of the unfinished line: held, or dropped (with what was held) once the line is surely too long. */
  #hold (piece: Buffer): void {
    if (piece.length === 0) return
    // One byte more than #longest may be a CR before the newline still to come.
    if (this.#heldBytes + piece.length > this.#longest + 1) {
      this.#held = []
      this.#heldBytes = 0
      this.#dropping = true
      return
    }
    this.#held.push(piece)
    this.#heldBytes += piece.length
  }

  /** The held start of a line, then `lines` (which ends with a newline), each line over #longest replaced by TOO_LONG. */
  #passMeasured (lines: Buffer): void {
    let held = this.#held
    // Where the current line starts, in `lines` (negative: it began in the held bytes).
    let start = -this.#heldBytes
    // The first byte of `lines` not yet passed on or replaced.
    let from = 0
    for (let nl = lines.indexOf(NEWLINE); nl !== -1; nl = lines.indexOf(NEWLINE, nl + 1)) {
      const cr = (nl > 0 ? lines[nl - 1] : this.#lastHeldByte()) === CR ? 1 : 0
      if (nl - cr - start > this.#longest) {
        // The lines before it go on (the first with its held start); it does not.
        if (start > from) this.push(held.length === 0 ? lines.subarray(from, start) : Buffer.concat([...held, lines.subarray(from, start)]))
        held = []
        this.push(TOO_LONG)
        from = nl + 1
      }
      start = nl + 1
    }
    if (from < lines.length) this.push(held.length === 0 ? lines.subarray(from) : Buffer.concat([...held, lines.subarray(from)]))
  }

  /** The last byte held (a CR whose newline starts the next chunk), or -1. */
  #lastHeldByte (): number {
    const last = this.#held.at(-1)
    return last === undefined ? -1 : last[last.length - 1]
  }
}
