/**
 * FrameEnds: zstd input, as it passes in chunks, cut where its frames end,
 * by their headers (zstd-frame.ts's FrameWalker; nothing is decompressed).
 * For node:zlib's input stream (zstd-stream.ts's ZlibZstdStage): zlib
 * decodes a write in calls that run across frame ends, and a call that
 * fails hands over nothing it decoded, so the last whole frames before a
 * damaged one were lost when they came in the same write. Written a frame
 * at a time, each frame's content is pushed before the next frame's first
 * byte is decoded; and each piece names the frame it is in, for errors.
 *
 * What is held: the bytes from the walker's next header on (at most a block
 * and a checksum), not a frame. Input that is not a frame where one should
 * start, or a skippable frame over HELD_MAX, ends the cutting: the rest
 * passes whole, for the decoder to say what it makes of it.
 */
import { FrameWalker, isTooLarge, NEED_MORE } from './zstd-frame.js'

/** The most held for the walk (a skippable frame is walked whole): past it, no more cuts. */
const HELD_MAX = 1024 * 1024

export interface FramePiece {
  bytes: Buffer
  /** The compressed offset of the frame the piece's first byte is in. */
  frameStart: number
}

export class FrameEnds {
  #walker = new FrameWalker(0)
  /** Bytes from #heldAt on, as far as the input has come. */
  #held: Buffer = Buffer.alloc(0)
  #heldAt = 0
  #length = 0
  #lost = false

  /** The offset of the frame the input has reached. */
  get frameStart (): number {
    return this.#walker.start
  }

  /** `chunk`, the next bytes of the input, cut after each frame that ends in it. */
  cut (chunk: Buffer): FramePiece[] {
    const chunkAt = this.#length
    this.#length += chunk.length
    if (this.#lost) return [{ bytes: chunk, frameStart: this.#walker.start }]
    this.#held = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk])
    const pieces: FramePiece[] = []
    let from = chunkAt
    for (;;) {
      const answer = this.#walker.step(this.#length, (at) => this.#held[at - this.#heldAt])
      if (answer === NEED_MORE) break
      if (typeof answer === 'string' || isTooLarge(answer)) {
        this.#lost = true
        break
      }
      if (answer.end > from) pieces.push({ bytes: chunk.subarray(from - chunkAt, answer.end - chunkAt), frameStart: this.#walker.start })
      from = Math.max(from, answer.end)
      this.#walker = new FrameWalker(answer.end)
    }
    if (from < this.#length) pieces.push({ bytes: chunk.subarray(from - chunkAt), frameStart: this.#walker.start })
    const keepFrom = Math.min(this.#walker.cursor, this.#length)
    this.#held = this.#held.subarray(keepFrom - this.#heldAt)
    this.#heldAt = keepFrom
    if (this.#held.length > HELD_MAX) this.#lost = true
    if (this.#lost) this.#held = Buffer.alloc(0)
    return pieces
  }
}
