/**
 * A frame over maxFrameSize is refused as soon as its headers pass the
 * limit, not once the whole frame has arrived (issue 12): a 5 GB frame of
 * raw blocks from the zstd command cost 5 GB before it was refused. Strict
 * fails with only its first part written; lenient skips it by its block
 * headers, never salvaging it, and reads the frames after it. A frame's
 * Frame_Content_Size over the limit is refused at its header, and blocks
 * that take more bytes than a frame within the limit can (empty blocks cost
 * bytes without raising the bound) are refused too.
 */
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { zstdDecompress, type ZstdCorruptInfo, type ZstdDecompressOptions } from '../../lib/compress/zstd-decompress.js'
import { walkFrames } from '../../lib/compress/zstd-frame.js'
import { chunked, unzstd } from '../helpers.js'

const MiB = 1024 * 1024
const text = Buffer.from(Array.from({ length: 3000 }, (_, i) => `{"i":${i},"k":"é✓ ${'y'.repeat(i % 40)}"}\n`).join(''))

/** One frame of raw blocks over `content`, no content size: the zstd command's from a pipe, or the same by hand. */
function rawFrame (content: Buffer): Buffer {
  try {
    return execFileSync('zstd', ['-c', '-1', '-q'], { input: content, maxBuffer: 64 * MiB })
  } catch {
    const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3])]
    for (let at = 0; at < content.length; at += 131072) {
      const block = content.subarray(at, at + 131072)
      const header = Buffer.alloc(3)
      header.writeUIntLE(block.length << 3 | (at + 131072 >= content.length ? 1 : 0), 0, 3)
      parts.push(header, block)
    }
    return Buffer.concat(parts)
  }
}

interface Partial { data: Buffer, error?: Error & { code?: string, offset?: number }, written: number }

/** Write `input` to a stage in 64 KiB chunks without ending it: what came out, and the error once it fails. */
async function writeOnly (input: Buffer, options: ZstdDecompressOptions): Promise<Partial> {
  const stage = zstdDecompress({ file: 'big.zst', ...options })
  const out: Buffer[] = []
  stage.on('data', (chunk: Buffer) => out.push(chunk))
  let error: Partial['error']
  stage.on('error', (err) => { error = err })
  let written = 0
  for (const chunk of chunked(input, 65536)) {
    const done = await new Promise<Error | null | undefined>((resolve) => stage.write(chunk, resolve))
    if (done != null || error !== undefined) break
    written += chunk.length
  }
  await new Promise((resolve) => setImmediate(resolve))
  return { data: Buffer.concat(out), error, written }
}

const before = await zstdFrame(text.subarray(0, 50000), 1)
const big = rawFrame(randomBytes(3 * MiB))
const after = await zstdFrame(text.subarray(50000), 1)

t.test('the frames', async (t) => {
  t.equal(walkFrames(big).frames.length, 1, 'the 3 MiB is one frame')
  t.ok(big.length > 3 * MiB, 'of raw blocks')
})

t.test('strict: refused with only the first part of the frame written, after the frames before it', async (t) => {
  const input = Buffer.concat([before, big.subarray(0, big.length / 2)])
  const back = await writeOnly(input, { maxFrameSize: MiB })
  t.equal(back.error?.code, 'SHOEBOX_BAD_COMPRESSION')
  t.equal(back.error?.offset, before.length, 'at the frame\'s offset')
  t.match(back.error?.message, /big\.zst.*the frame at compressed byte \d+ could hold at least 1179648 bytes \(by the headers of its first 9 blocks\), over maxFrameSize 1048576;.*--max-frame-size/s)
  t.ok(back.data.equals(text.subarray(0, 50000)), 'the frame before it delivered')
  t.ok(back.written < before.length + 1.25 * MiB, `refused after ${back.written} bytes written, about 1 MiB of the frame`)
})

t.test('lenient: the frame skipped by its headers, reported once, the frames after it read', async (t) => {
  const input = Buffer.concat([before, big, after])
  for (const size of [7919, 65536, input.length]) {
    const back = await unzstd(input, size, 'lenient', { file: 'big.zst', maxFrameSize: MiB })
    t.equal(back.error, undefined, `chunks of ${size}`)
    t.ok(back.data.equals(text), 'the frames before and after it, nothing of it')
    t.same(back.corrupt.map((c) => ({ offset: c.offset, bytesSkipped: c.bytesSkipped })), [{ offset: before.length, bytesSkipped: big.length }])
    t.match(back.corrupt[0].detail, /could hold at least 1179648 bytes \(by the headers of its first 9 blocks\), over maxFrameSize 1048576/)
  }
})

t.test('lenient, the input ending inside the refused frame: reported once to the end, none of it salvaged', async (t) => {
  const input = Buffer.concat([before, big.subarray(0, 2 * MiB)])
  const back = await unzstd(input, 65536, 'lenient', { file: 'big.zst', maxFrameSize: MiB })
  t.equal(back.error, undefined)
  t.ok(back.data.equals(text.subarray(0, 50000)), 'its leading blocks are not salvaged (that would decompress them)')
  t.equal(back.corrupt.length, 1)
  t.match(back.corrupt[0], { offset: before.length, bytesSkipped: 2 * MiB, detail: /over maxFrameSize 1048576.*the file ends inside it; skipped to the end/ })
})

t.test('lenient and growing (a followed file): a refused frame cut short is read again once it grows', async (t) => {
  const stage = zstdDecompress({ mode: 'lenient', growing: true, maxFrameSize: MiB, file: 'big.zst' })
  const corrupt: ZstdCorruptInfo[] = []
  stage.on('corrupt', (info: ZstdCorruptInfo) => corrupt.push(info))
  stage.resume()
  const failed = once(stage, 'error')
  stage.end(Buffer.concat([before, big.subarray(0, 2 * MiB)]))
  const [err] = await failed as [Error & { offset?: number, cutShort?: boolean }]
  t.match(err, { code: 'SHOEBOX_BAD_COMPRESSION', offset: before.length, cutShort: true })
  t.same(corrupt, [], 'not reported as skipped yet')
})

t.test('a Frame_Content_Size over the limit is refused at the frame header', async (t) => {
  // 4-byte Frame_Content_Size of 2 MiB, a 1 MiB window, then one raw block of 100 bytes of the 2 MiB.
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x80, 10 << 3, 0, 0, 0x20, 0])
  const block = Buffer.alloc(3)
  block.writeUIntLE(100 << 3, 0, 3)
  const back = await writeOnly(Buffer.concat([before, header, block, Buffer.alloc(100, 0x61)]), { maxFrameSize: MiB })
  t.equal(back.error?.code, 'SHOEBOX_BAD_COMPRESSION')
  t.equal(back.error?.offset, before.length)
  t.match(back.error?.message, /the frame at compressed byte \d+ holds 2097152 bytes by its Frame_Content_Size, over maxFrameSize 1048576/)
  t.ok(back.data.equals(text.subarray(0, 50000)))
})

t.test('blocks taking more bytes than a frame within the limit can are refused, however little they hold', async (t) => {
  // Frame_Content_Size 10 (so a bound of 10), then empty raw blocks of 3 bytes each, without end.
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, 10])
  const empty = Buffer.alloc(3 * 40000)
  const back = await writeOnly(Buffer.concat([header, empty]), { maxFrameSize: 65536 })
  t.equal(back.error?.code, 'SHOEBOX_BAD_COMPRESSION')
  t.equal(back.error?.offset, 0)
  t.match(back.error?.message, /takes 65751 compressed bytes in its first 21915 blocks \(which could hold 0 bytes\), more than a frame within the limit takes, over maxFrameSize 65536/)
})

t.test('a frame just within the limit, incompressible, still reads', async (t) => {
  const content = randomBytes(MiB)
  const frame = rawFrame(content)
  const back = await unzstd(Buffer.concat([frame, after]), 65536, 'strict', { maxFrameSize: MiB })
  t.equal(back.error, undefined)
  t.ok(back.data.equals(Buffer.concat([content, text.subarray(50000)])))
})

t.test('a Frame_Content_Size that understates its blocks: the salvage decompresses only blocks within the limit', async (t) => {
  // Frame_Content_Size 1000 (so the walker's bound is 1000), then 16 RLE blocks of 128 KiB: 2 MiB in 74 bytes.
  // The frame fails whole (its content is not 1000 bytes); its salvage, without the content size, would hold 2 MiB.
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x80, 10 << 3, 0xe8, 0x03, 0, 0])
  const blocks = Array.from({ length: 16 }, (_, i) => {
    const block = Buffer.from([0, 0, 0, 0x61])
    block.writeUIntLE(131072 << 3 | 1 << 1 | (i === 15 ? 1 : 0), 0, 3)
    return block
  })
  const back = await unzstd(Buffer.concat([header, ...blocks, after]), 65536, 'lenient', { maxFrameSize: MiB })
  t.equal(back.error, undefined)
  t.ok(back.data.equals(Buffer.concat([Buffer.alloc(MiB, 0x61), text.subarray(50000)])), 'its first 8 blocks (1 MiB), then the frame after it')
  t.equal(back.corrupt.length, 1)
  t.match(back.corrupt[0].detail, /its first 1048576 bytes \(8 of 16 whole blocks\) were read/)
})
