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
 * What is held: the bytes from the walker's next header on, when they have
 * come (a header cut by a chunk's end), never a block or a skippable frame's
 * content. Input that is not a frame where one should start ends the
 * cutting: the rest passes whole, for the decoder to say what it makes of it.
 */
import { FrameWalker, isTooLarge, isNotRead, NEED_MORE } from './zstd-frame.js'

/**
 * The most the walker reads from its cursor on: a frame header (magic, 14
 * header bytes at most), a skippable frame's 8 or a block's 3.
 */
const HEADER_MAX = 18

export interface FramePiece {
  bytes: Buffer
  /** The compressed offset of the frame the piece's first byte is in. */
  frameStart: number
}

export class FrameEnds {
  #walker = new FrameWalker(0)
  /**
   * The first bytes (HEADER_MAX at most) from the walker's cursor on, of
   * those come before the chunk being cut: a header cut by a chunk's end,
   * or the header of a last block whose bytes are still coming, which the
   * walker reads again once they have all come. Only these: holding every
   * byte from the cursor on (a whole block) and adding each chunk to them
   * copied a block again for every chunk.
   */
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
    // The walker reads only at a header it has reached: before the chunk, that header's bytes are held.
    const byte = (at: number): number => at >= chunkAt ? chunk[at - chunkAt] : this.#held[at - this.#heldAt]
    const pieces: FramePiece[] = []
    let from = chunkAt
    for (;;) {
      const answer = this.#walker.step(this.#length, byte)
      if (answer === NEED_MORE) break
      if (typeof answer === 'string' || isTooLarge(answer) || isNotRead(answer)) {
        this.#lost = true
        break
      }
      if (answer.end > from) pieces.push({ bytes: chunk.subarray(from - chunkAt, answer.end - chunkAt), frameStart: this.#walker.start })
      from = Math.max(from, answer.end)
      this.#walker = new FrameWalker(answer.end)
    }
    if (from < this.#length) pieces.push({ bytes: chunk.subarray(from - chunkAt), frameStart: this.#walker.start })
    this.#hold(chunk, chunkAt)
    return pieces
  }

  /** Keep the first HEADER_MAX bytes from the cursor on that have come (copied: a chunk is the caller's). */
  #hold (chunk: Buffer, chunkAt: number): void {
    const from = this.#walker.cursor
    const to = Math.min(from + HEADER_MAX, this.#length)
    if (this.#lost || from >= to) {
      this.#held = Buffer.alloc(0)
      this.#heldAt = from
      return
    }
    const kept = Buffer.alloc(to - from)
    for (let at = from; at < to; at++) kept[at - from] = at >= chunkAt ? chunk[at - chunkAt] : this.#held[at - this.#heldAt]
    this.#held = kept
    this.#heldAt = from
  }
}
