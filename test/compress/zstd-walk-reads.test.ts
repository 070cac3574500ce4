/**
 * FrameWalker.step() resumes where the last call stopped: a frame arriving in
 * many chunks has each header read once, not again for each chunk. Its last
 * block was the exception: while its bytes (or the checksum after them) had
 * not all come, its header was read again at every step, and zstdDecompress()
 * reads a held byte by walking the chunks held before it, so a frame written
 * a few bytes at a time cost time quadratic in its size (a 100 KB frame in
 * 3-byte writes: seconds; test/cli/cli-compressed-input.test.ts, 17 s).
 */
import t from 'tap'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { FrameWalker, NEED_MORE } from '../../lib/compress/zstd-frame.js'
import { seededText } from '../helpers.js'

/** The extent step() gives with the bytes arriving `by` at a time, and how many byte reads it took. */
function walk (frame: Buffer, by: number): { extent: unknown, reads: number } {
  const walker = new FrameWalker(0)
  let reads = 0
  const byte = (at: number): number => { reads++; return frame[at] }
  for (let length = Math.min(by, frame.length); ; length = Math.min(length + by, frame.length)) {
    const extent = walker.step(length, byte)
    if (extent !== NEED_MORE || length === frame.length) return { extent, reads }
  }
}

t.test('a frame arriving a byte at a time: each block header read once (the last at most twice), whatever its size', async (t) => {
  for (const size of [20_000, 300_000]) {
    const frame = await zstdFrame(seededText(3).lines(size), 3)
    const whole = walk(frame, frame.length)
    t.match(whole.extent, { end: frame.length, skippable: false }, `${size}: the frame's extent, walked whole`)
    const byByte = walk(frame, 1)
    t.same(byByte.extent, whole.extent, `${size}: the same extent, a byte at a time`)
    // Over a whole walk's reads: the frame header's few bytes read again while it arrives, and the last block's
    // header once more when its end has come. Not a read per byte of the frame (before: ~3 per byte of the last block).
    t.ok(byByte.reads <= whole.reads + 18 * 18 + 3, `${size}: ${byByte.reads} reads a byte at a time, ${whole.reads} whole (a ${frame.length}-byte frame)`)
  }
})
