/**
 * LinesInOneChunk: bytes through, each line in one chunk. The pieces of a line
 * that spans chunks are held and joined once its newline (or the end) comes.
 * It goes in front of split2, which appends every chunk to the unfinished
 * line's text and splits all of it again: a line in n chunks cost n splits of
 * up to its length (stampNdjson() took 5 s for a 16 MiB line; a 300 MB one, a
 * file with no newline, over ten minutes).
 */
// node:stream's Transform: loading readable-stream would cost start-up (see encode-ndjson.ts).
import { Transform, type TransformCallback } from 'node:stream'

export class LinesInOneChunk extends Transform {
  #held: Buffer[] = []

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const end = chunk.lastIndexOf(10) + 1
    if (end === 0) {
      this.#held.push(chunk)
      callback()
      return
    }
    const lines = chunk.subarray(0, end)
    this.push(this.#held.length === 0 ? lines : Buffer.concat([...this.#held, lines]))
    this.#held = end === chunk.length ? [] : [chunk.subarray(end)]
    callback()
  }

  override _flush (callback: TransformCallback): void {
    if (this.#held.length > 0) this.push(Buffer.concat(this.#held))
    this.#held = []
    callback()
  }
}
