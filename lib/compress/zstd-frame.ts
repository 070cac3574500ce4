/**
 * Where zstd frames begin and end, from their headers alone (RFC 8878), so
 * a reader can hand whole frames to the decompressor, name each frame's
 * compressed offset, and tell a torn last frame from a complete one without
 * decompressing. A frame is: magic, frame header (whose descriptor byte says
 * how long the header is), blocks each led by a 3-byte header holding its
 * size and whether it is the last, then an optional 4-byte checksum.
 * Skippable frames (magic 0x184D2A5?, a 4-byte length) carry no content.
 */

import { isSkippableMagic, isZstd, ZSTD_FRAME_MAGIC as MAGIC, ZSTD_MAGIC } from './zstd.js'

// The magic numbers live in zstd.ts, so that sniffing a codec does not load the frame walker.
export { isZstd, ZSTD_MAGIC }

const BLOCK_MAX = 128 * 1024

/** Not enough bytes yet to say. */
export const NEED_MORE = Symbol('need more bytes')

export interface FrameExtent {
  /** Offset just past the frame. */
  end: number
  /** A skippable frame: no content. */
  skippable: boolean
}

/**
 * Walks the frame starting at `start` of a growing buffer. step() resumes
 * where the last call stopped, so a frame arriving in many chunks is read
 * once, not again from its start for each chunk.
 */
export class FrameWalker {
  readonly start: number
  /** The next header to read (frame header, then each block header). */
  #cursor: number
  #phase: 'magic' | 'blocks' = 'magic'
  #checksum = false

  constructor (start: number) {
    this.start = start
    this.#cursor = start
  }

  /**
   * With `length` bytes available (read through `byte`), the frame's extent,
   * NEED_MORE, or why the bytes at `start` are not a zstd frame.
   */
  step (length: number, byte: (at: number) => number): FrameExtent | typeof NEED_MORE | string {
    const u32 = (at: number): number => (byte(at) | byte(at + 1) << 8 | byte(at + 2) << 16 | byte(at + 3) << 24) >>> 0
    if (this.#phase === 'magic') {
      const at = this.start
      if (length < at + 5) return NEED_MORE
      const magic = u32(at)
      if (isSkippableMagic(magic)) {
        if (length < at + 8) return NEED_MORE
        const end = at + 8 + u32(at + 4)
        return length < end ? NEED_MORE : { end, skippable: true }
      }
      if (magic !== MAGIC) return 'no zstd frame starts here'
      const fhd = byte(at + 4)
      if ((fhd & 0x08) !== 0) return 'the frame header\'s reserved bit is set'
      const single = (fhd & 0x20) !== 0
      const fcsFlag = fhd >> 6
      const fcsSize = fcsFlag === 0 ? (single ? 1 : 0) : 1 << fcsFlag
      const dictSize = [0, 1, 2, 4][fhd & 3]
      this.#checksum = (fhd & 0x04) !== 0
      this.#cursor = at + 5 + (single ? 0 : 1) + dictSize + fcsSize
      this.#phase = 'blocks'
    }
    for (;;) {
      const at = this.#cursor
      if (length < at + 3) return NEED_MORE
      const header = byte(at) | byte(at + 1) << 8 | byte(at + 2) << 16
      const last = (header & 1) === 1
      const type = (header >> 1) & 3
      const size = header >>> 3
      if (type === 3) return `block at compressed byte ${at} has the reserved type`
      if (size > BLOCK_MAX) return `block at compressed byte ${at} claims ${size} bytes, over zstd's 128 KiB`
      this.#cursor = at + 3 + (type === 1 ? 1 : size)
      if (last) {
        const end = this.#cursor + (this.#checksum ? 4 : 0)
        if (length < end) {
          // Resume at the last block's end next time: only the checksum is missing.
          this.#cursor = at
          return NEED_MORE
        }
        return { end, skippable: false }
      }
    }
  }
}

/** The frames of a whole buffer from `start`: complete ones, then where the walk stopped and why. */
export function walkFrames (data: Buffer, start = 0): { frames: Array<{ start: number } & FrameExtent>, stop: number, problem: string | null } {
  const frames: Array<{ start: number } & FrameExtent> = []
  let at = start
  while (at < data.length) {
    const extent = new FrameWalker(at).step(data.length, (i) => data[i])
    if (extent === NEED_MORE) return { frames, stop: at, problem: 'cut short' }
    if (typeof extent === 'string') return { frames, stop: at, problem: extent }
    frames.push({ start: at, ...extent })
    at = extent.end
  }
  return { frames, stop: at, problem: null }
}
