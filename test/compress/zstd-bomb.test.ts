/**
 * Decompression bombs (issue 12): a few KB of zstd can say a gigabyte of
 * zeros, and a frame is decompressed whole. The frame walker bounds each
 * frame's content from its headers (exactly for raw and RLE blocks and a
 * Frame_Content_Size, 128 KiB or the window for a compressed block), and
 * zstdDecompress() refuses a frame whose bound is over maxFrameSize without
 * decompressing it: strict after the frames before it, lenient skipping
 * just that frame.
 */
import { execFileSync } from 'node:child_process'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { DEFAULT_MAX_FRAME_SIZE, zstdFrame } from '../../lib/compress/zstd.js'
import { zstdDecompress } from '../../lib/compress/zstd-decompress.js'
import { FrameWalker, isNotRead, isTooLarge, leadingBlocks, NEED_MORE, walkFrames } from '../../lib/compress/zstd-frame.js'
import { haveZstdCommand, unzstd } from '../helpers.js'

const haveCommand = haveZstdCommand

const text = Buffer.from(Array.from({ length: 4000 }, (_, i) => `{"i":${i},"k":"é✓ ${'x'.repeat(i % 50)}"}\n`).join(''))


/** The bound step() gives with the bytes arriving `by` at a time (resuming each time). */
function boundOf (frame: Buffer, by = frame.length): number {
  const walker = new FrameWalker(0)
  for (let length = Math.min(by, frame.length); ; length = Math.min(length + by, frame.length)) {
    const extent = walker.step(length, (at) => frame[at])
    if (typeof extent === 'string') throw new Error(extent)
    if (isTooLarge(extent)) throw new Error(extent.tooLarge)
    if (isNotRead(extent)) throw new Error(extent.notRead)
    if (extent !== NEED_MORE) return extent.bound
    if (length === frame.length) throw new Error('cut short')
  }
}

/** A frame without Frame_Content_Size (as the zstd command writes from a pipe): its blocks unchanged. */
function withoutContentSize (frame: Buffer): Buffer {
  const leading = leadingBlocks(frame)
  if (leading === null) throw new Error('not a frame')
  return leading.frame(leading.count)
}

/** A frame by hand: a 1 MiB window, these blocks (type, size, byte); the last gets Last_Block. With `contentSize`: a 4-byte Frame_Content_Size. */
function handFrame (blocks: Array<{ type: 0 | 1, size: number, byte?: number }>, contentSize?: number): Buffer {
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, contentSize === undefined ? 0x00 : 0x80, 10 << 3])]
  if (contentSize !== undefined) {
    const fcs = Buffer.alloc(4)
    fcs.writeUInt32LE(contentSize)
    parts.push(fcs)
  }
  blocks.forEach((block, i) => {
    const header = Buffer.alloc(3)
    header.writeUIntLE(block.size << 3 | block.type << 1 | (i === blocks.length - 1 ? 1 : 0), 0, 3)
    parts.push(header, block.type === 1 ? Buffer.from([block.byte ?? 0x7a]) : Buffer.alloc(block.size, block.byte ?? 0x7a))
  })
  return Buffer.concat(parts)
}

t.test('raw and RLE blocks are counted exactly, compressed ones at most 128 KiB or the window', async (t) => {
  const frame = handFrame([{ type: 0, size: 5 }, { type: 1, size: 100000 }, { type: 0, size: 0 }, { type: 1, size: 131072 }])
  t.equal(boundOf(frame), 5 + 100000 + 131072, 'the sum of the blocks\' sizes')
  const back = await unzstd(frame, 7, 'strict', { file: 'bomb.zst' })
  t.equal(back.error, undefined)
  t.equal(back.data.length, 5 + 100000 + 131072, 'which is what it decompresses to')
  // Frame_Content_Size is exactly the content: the bound when the blocks allow more, not when they allow less.
  const rle = [{ type: 1 as const, size: 131072 }, { type: 1 as const, size: 1000 }]
  t.equal(boundOf(handFrame(rle, 5000)), 5000, 'the content size')
  t.equal(boundOf(handFrame(rle, 200000)), 132072, 'the blocks')
  t.equal(boundOf(handFrame(rle, 5000), 1), 5000, 'a byte at a time')
  // Our own frames (no content size): at least the content, at most 128 KiB per compressed block more.
  for (const content of [Buffer.alloc(0), text.subarray(0, 1), text, Buffer.alloc(300000, 0x61)]) {
    const ours = await zstdFrame(content, 1)
    const bound = boundOf(ours)
    t.equal(bound, boundOf(ours, 1), `${content.length} bytes: the same bound walked a byte at a time`)
    t.ok(bound >= content.length && bound < content.length + 131072, `${content.length} bytes: ${bound}`)
  }
  t.equal(boundOf(await zstdFrame(Buffer.alloc(300000, 0x61), 1)), 300000, 'RLE blocks: exactly')
  // The zstd command's, with a content size (as from a file) and a checksum: exactly.
  const sized = execFileSyncOr(['-c', '-1', `--stream-size=${text.length}`], text)
  if (sized !== null) {
    t.equal(boundOf(sized), text.length, 'zstd --stream-size: the content size')
    t.equal(boundOf(sized, 3), text.length, 'walked three bytes at a time, checksum last')
  }
  // A compressed block of a frame whose window is smaller than 128 KiB regenerates at most the window.
  const small = execFileSyncOr(['-c', '-1', '--no-content-size', '--long=10'], text)
  if (small !== null) t.ok(boundOf(small) >= text.length && boundOf(small) <= Math.ceil(text.length / 1024) * 1024 + 1024, `window 1 KiB: ${boundOf(small)}`)
})

t.test('a frame over maxFrameSize: strict fails at its offset after the frames before it, never decompressing it', async (t) => {
  // One compressed block each: each bound by 128 KiB, under the limit.
  const before = [await zstdFrame(text.subarray(0, 60000), 1), await zstdFrame(text.subarray(60000, 120000), 3)]
  const bomb = handFrame([{ type: 1, size: 131072, byte: 0x20 }, { type: 1, size: 68929, byte: 0x20 }])
  const after = await zstdFrame(text.subarray(0, 1000), 1)
  const input = Buffer.concat([...before, bomb, after])
  const bombAt = before[0].length + before[1].length
  for (const size of [1, 13, 4096, input.length]) {
    const strict = await unzstd(input, size, 'strict', { file: 'bomb.zst', maxFrameSize: 200000 })
    t.equal(strict.error?.code, 'SHOEBOX_BAD_COMPRESSION', `chunks of ${size}`)
    t.equal(strict.error?.offset, bombAt, 'at the frame\'s offset')
    t.match(strict.error?.message, /bomb\.zst.*200001 bytes.*over maxFrameSize 200000.*--max-frame-size/s)
    t.ok(strict.data.equals(text.subarray(0, 120000)), 'every frame before it delivered')
  }
  // Just at the limit: read.
  const at = await unzstd(Buffer.concat([bomb, after]), 4096, 'strict', { file: 'bomb.zst', maxFrameSize: 200001 })
  t.equal(at.error, undefined)
  t.equal(at.data.length, 200001 + 1000)
})

t.test('lenient skips exactly the frame, reports it, and reads the frames after it', async (t) => {
  const first = await zstdFrame(text.subarray(0, 60000), 1)
  const bomb = withoutContentSize(await zstdFrame(Buffer.alloc(400000), 1))
  const last = await zstdFrame(text.subarray(60000), 1)
  const back = await unzstd(Buffer.concat([first, bomb, last]), 1000, 'lenient', { file: 'bomb.zst', maxFrameSize: 300000 })
  t.equal(back.error, undefined)
  t.ok(back.data.equals(text), 'the frames before and after it')
  t.equal(back.corrupt.length, 1)
  t.match(back.corrupt[0], { offset: first.length, bytesSkipped: bomb.length, reason: 'bad-compression' })
  t.match(back.corrupt[0].detail, /could hold at least 393216 bytes \(by the headers of its first 3 blocks\), over maxFrameSize 300000/)
})

t.test('a frame refused for its size says so by a field, frameTooLarge, not only in words (ls told it from damage by the message text)', async (t) => {
  const first = await zstdFrame(text.subarray(0, 60000), 1)
  const bomb = withoutContentSize(await zstdFrame(Buffer.alloc(400000), 1))
  const input = Buffer.concat([first, bomb])
  const lenient = await unzstd(input, 1000, 'lenient', { maxFrameSize: 300000 })
  t.match(lenient.corrupt, [{ offset: first.length, reason: 'bad-compression', frameTooLarge: true }])
  const strict = await unzstd(input, 1000, 'strict', { maxFrameSize: 300000 })
  t.match(strict.error, { code: 'SHOEBOX_BAD_COMPRESSION', offset: first.length, frameTooLarge: true })
  // Damage is not: the field is false on the error, and absent from the report.
  const damaged = Buffer.from(input)
  damaged.fill(0x41, first.length - 40, first.length - 8)
  const hurt = await unzstd(damaged, 1000, 'lenient', { maxFrameSize: 300000 })
  t.equal(hurt.corrupt[0].offset, 0)
  t.equal(hurt.corrupt[0].frameTooLarge, undefined, 'damage has no frameTooLarge')
  const hurtStrict = await unzstd(damaged, 1000, 'strict', { maxFrameSize: 300000 })
  t.equal(hurtStrict.error?.frameTooLarge, false)
})

t.test('the default: a 20 MB frame of the zstd command reads, a gigabyte of zeros in 36 KB does not', async (t) => {
  t.equal(DEFAULT_MAX_FRAME_SIZE, 256 * 1024 * 1024)
  const zeros = Buffer.alloc(20 * 1000 * 1000)
  const frames = [await zstdFrame(zeros, 1), withoutContentSize(await zstdFrame(zeros, 1))]
  const theirs = execFileSyncOr(['-c', '-1', '--no-content-size'], zeros)
  if (theirs !== null) frames.push(theirs, execFileSyncOr(['-c', '-1'], zeros) as Buffer)
  for (const frame of frames) {
    t.equal(walkFrames(frame).frames.length, 1, 'one frame')
    const back = await unzstd(frame, 65536, 'strict', { file: 'bomb.zst' })
    t.equal(back.error, undefined)
    t.equal(back.data.length, zeros.length)
  }
  // 1 GiB of zeros as one frame without content size, made by hand (RLE blocks of 128 KiB: 32 KB): walked, not decompressed.
  const bomb = handFrame(Array.from({ length: 8192 }, () => ({ type: 1 as const, size: 131072, byte: 0 })))
  t.ok(bomb.length < 40000)
  const back = await unzstd(Buffer.concat([await zstdFrame(text, 1), bomb]), 65536, 'strict')
  t.equal(back.error?.code, 'SHOEBOX_BAD_COMPRESSION')
  t.match(back.error?.message, /at least 268566528 bytes \(by the headers of its first 2049 blocks\), over maxFrameSize 268435456/)
  t.ok(back.data.equals(text))
})

t.test('frames bigger than the budget ahead come out whole and in order', async (t) => {
  const parts = Array.from({ length: 5 }, (_, i) => Buffer.alloc(12 * 1000 * 1000, 0x61 + i))
  const input = Buffer.concat(await Promise.all(parts.map(async (p) => withoutContentSize(await zstdFrame(p, 1)))))
  const back = await unzstd(input, 1 << 20, 'strict', { file: 'bomb.zst' })
  t.equal(back.error, undefined)
  t.ok(back.data.equals(Buffer.concat(parts)))
})

t.test('maxFrameSize must be a size of at least 1 byte (bytes, or a string such as 64KiB)', async (t) => {
  for (const bad of [0, -1, 0.5, Number.NaN, 'lots', '0KiB', null]) {
    t.throws(() => zstdDecompress({ maxFrameSize: bad as number }), { code: 'SHOEBOX_INVALID_OPTION', option: 'maxFrameSize' }, String(bad))
  }
  t.doesNotThrow(() => zstdDecompress({ maxFrameSize: '64KiB' }).destroy())
})

/** The zstd command's output for `input`, or null when it is not on PATH. */
function execFileSyncOr (args: string[], input: Buffer): Buffer | null {
  if (!haveCommand) return null
  return execFileSync('zstd', args, { input, maxBuffer: 1 << 26 })
}

t.test('a skippable frame is dropped as it arrives, never held: 4 GiB of one passes, and the frame after it reads', async (t) => {
  const after = await zstdFrame(Buffer.from('{"after":1}\n'), 1)
  // The largest length a skippable frame can say: more bytes than one Buffer can hold, so held, they could not be joined.
  const header = Buffer.alloc(8)
  header.writeUInt32LE(0x184d2a5e, 0)
  header.writeUInt32LE(0xffffffff, 4)
  const chunk = Buffer.alloc(64 * 1024 * 1024) // the same bytes written again and again: nothing new is allocated
  async function * input (): AsyncGenerator<Buffer> {
    yield header
    let left = 0xffffffff
    while (left > 0) {
      const n = Math.min(left, chunk.length)
      yield chunk.subarray(0, n)
      left -= n
    }
    yield after
  }
  const stage = zstdDecompress()
  const out: Buffer[] = []
  await pipeline(Readable.from(input()), stage, async (source: AsyncIterable<Buffer>) => { for await (const c of source) out.push(c) })
  t.equal(Buffer.concat(out).toString(), '{"after":1}\n')
  t.equal(stage.members.size, 1)
  t.match(stage.members.span(0), { offset: 8 + 0xffffffff, length: after.length }, 'the frame after it, at its offset')
})

t.test('a skippable frame cut short: strict fails at its start after the frames before it; lenient reports it', async (t) => {
  const before = await zstdFrame(Buffer.from('{"before":1}\n'), 1)
  const header = Buffer.alloc(8)
  header.writeUInt32LE(0x184d2a50, 0)
  header.writeUInt32LE(1024 * 1024, 4)
  const input = Buffer.concat([before, header, Buffer.alloc(1000)])
  for (const size of [1, 100, input.length]) {
    const strict = await unzstd(input, size)
    t.equal(strict.data.toString(), '{"before":1}\n', `strict, chunks of ${size}`)
    t.match(strict.error, { code: 'SHOEBOX_BAD_COMPRESSION', offset: before.length, cutShort: true, message: new RegExp(`f\\.zst.*the skippable frame at compressed byte ${before.length} is cut short`) }, `strict, chunks of ${size}`)
    const lenient = await unzstd(input, size, 'lenient')
    t.equal(lenient.error, undefined)
    t.equal(lenient.data.toString(), '{"before":1}\n')
    t.match(lenient.corrupt, [{ offset: before.length, bytesSkipped: 1008, reason: 'bad-compression' }], `lenient, chunks of ${size}`)
  }
})
