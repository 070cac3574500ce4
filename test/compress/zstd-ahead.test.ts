/**
 * zstdDecompress() decompresses the frames after the one being delivered
 * ahead of time: a frame still arrives while the input stays open (a file
 * being followed), damage among frames already under way is reported at its
 * frame as before (strict after everything before it, lenient skipping just
 * that frame), and how many jobs a backend runs at once leaves the thread
 * pool room for file I/O.
 */
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { zstdDecompress, type ZstdCorruptInfo, type ZstdDecompressStage } from '../../lib/compress/zstd-decompress.js'
import { zstdConcurrency } from '../../lib/compress/zstd-loader.js'
import { walkFrames } from '../../lib/compress/zstd-frame.js'

const blocks = Array.from({ length: 24 }, (_, b) =>
  Buffer.from(Array.from({ length: 200 + b * 7 }, (_, i) => `{"b":${b},"i":${i},"t":"ünï ${'z'.repeat((i * b) % 40)}"}\n`).join('')))
const text = Buffer.concat(blocks)

async function frames (level = 3): Promise<Buffer> {
  return Buffer.concat(await Promise.all(blocks.map(async (b) => await zstdFrame(b, level))))
}

interface Outcome { data: Buffer, error?: Error & { code?: string, offset?: number }, corrupt: ZstdCorruptInfo[], stage: ZstdDecompressStage }

/** Decompress `input` fed in chunks of `size`, collecting what comes out, the error and the corrupt events. */
async function unzstd (input: Buffer, size: number, mode: 'strict' | 'lenient'): Promise<Outcome> {
  const stage = zstdDecompress({ mode, file: 'ahead.zst' })
  const corrupt: ZstdCorruptInfo[] = []
  stage.on('corrupt', (info: ZstdCorruptInfo) => corrupt.push(info))
  const out: Buffer[] = []
  const chunks: Buffer[] = []
  for (let at = 0; at < input.length; at += size) chunks.push(input.subarray(at, at + size))
  try {
    await pipeline(Readable.from(chunks), stage, async (source: AsyncIterable<Buffer>) => {
      for await (const c of source) out.push(c)
    })
  } catch (err) {
    return { data: Buffer.concat(out), error: err as Outcome['error'], corrupt, stage }
  }
  return { data: Buffer.concat(out), corrupt, stage }
}

t.test('frames written while the input stays open come out without waiting for more input or the end', async (t) => {
  const data = await frames()
  const stage = zstdDecompress()
  const out: Buffer[] = []
  let length = 0
  const firstThree = blocks[0].length + blocks[1].length + blocks[2].length
  const arrived = new Promise<void>((resolve) => {
    stage.on('data', (chunk: Buffer) => {
      out.push(chunk)
      length += chunk.length
      if (length === firstThree) resolve()
    })
  })
  // Exactly three frames, then nothing: the stage has nothing more to walk and must deliver them anyway.
  const walk = walkFrames(data).frames
  stage.write(data.subarray(0, walk[2].end))
  await arrived
  t.ok(Buffer.concat(out).equals(Buffer.concat(blocks.slice(0, 3))), 'the three frames, in order, before the input ended')
  const ended = new Promise((resolve) => stage.on('end', resolve))
  stage.end(data.subarray(walk[2].end))
  await ended
  t.ok(Buffer.concat(out).equals(text), 'then the rest')
})

t.test('many frames at once, in every chunk size: the same bytes in order, and one frame each in members', async (t) => {
  const data = await frames(1)
  for (const size of [1, 13, 4096, data.length]) {
    const r = await unzstd(data, size, 'strict')
    t.equal(r.error, undefined, `chunks of ${size}`)
    t.ok(r.data.equals(text), `chunks of ${size}: identical`)
    // Each block's first byte and last byte map to its own frame.
    const walk = walkFrames(data).frames
    let out = 0
    const seen = blocks.flatMap((b, i) => {
      const first = r.stage.members.at(out)
      const last = r.stage.members.at(out + b.length - 1)
      out += b.length
      return [first?.offset === walk[i].start && first.skip === 0, last?.offset === walk[i].start && last.skip === b.length - 1]
    })
    t.ok(seen.every(Boolean), `chunks of ${size}: members name each block's frame`)
  }
})

for (const size of [4096, Number.MAX_SAFE_INTEGER]) {
  t.test(`a damaged frame among frames already decompressing (chunks of ${size === 4096 ? '4096' : 'the whole input'})`, async (t) => {
    const data = Buffer.from(await frames())
    const walk = walkFrames(data).frames
    const bad = walk[9]
    for (let i = bad.start + 30; i < bad.start + 70; i++) data[i] ^= 0xa5
    const before = Buffer.concat(blocks.slice(0, 9))

    const strict = await unzstd(data, size, 'strict')
    t.equal(strict.error?.code, 'SHOEBOX_BAD_COMPRESSION')
    t.equal(strict.error?.offset, bad.start, 'at the damaged frame, though the frames after it were under way')
    t.ok(strict.data.equals(before), 'every frame before it, nothing after')

    const lenient = await unzstd(data, size, 'lenient')
    t.equal(lenient.error, undefined)
    t.same(lenient.corrupt.map((c) => [c.offset, c.bytesSkipped]), [[bad.start, bad.end - bad.start]], 'that frame skipped, to the next one')
    t.ok(lenient.data.equals(Buffer.concat([before, ...blocks.slice(10)])), 'every other frame, in order')
  })
}

t.test('jobs at once: one more than the cores, a pool thread left to file I/O, at least one', async (t) => {
  t.equal(zstdConcurrency(4, 2), 3)
  t.equal(zstdConcurrency(4, 1), 2)
  t.equal(zstdConcurrency(4, 16), 3)
  t.equal(zstdConcurrency(16, 8), 9)
  t.equal(zstdConcurrency(2, 8), 1)
  t.equal(zstdConcurrency(1, 1), 1)
  t.equal(zstdConcurrency(Number.NaN, 8), 3, 'a UV_THREADPOOL_SIZE that is not a number: libuv\'s 4')
})

t.test('a reader that is not reading: one frame waits in its buffer, and the stage takes nothing more until it reads', async (t) => {
  const MiB = 1024 * 1024
  const content = Buffer.alloc(MiB, text)
  const count = 24
  const frame = await zstdFrame(content, 1)
  const input = Buffer.concat(Array.from({ length: count }, () => frame))
  const stage = zstdDecompress({ file: 'paused.zst' })
  // Every frame at once, and nothing read: before, each was pushed as it finished decompressing (all 24 MiB held).
  stage.write(input)
  const check = (): void => { if (stage.readableLength > content.length) pushedPastOne() }
  let pushedPastOne = (): void => {}
  const pastOne = new Promise<void>((resolve) => { pushedPastOne = resolve })
  stage.on('readable', check)
  // As long as the whole input takes another stage to decompress twice, read as it comes (the same backend).
  const settled = (async () => {
    for (let round = 0; round < 2; round++) {
      const other = await unzstd(input, input.length, 'strict')
      if (other.error !== undefined) throw other.error
    }
  })()
  await Promise.race([pastOne, settled])
  t.equal(stage.readableLength, content.length, 'one frame\'s content waits in the read buffer, no more')
  stage.off('readable', check)
  // Then read: the rest comes, a frame each time the reader asks, never more than one waiting.
  const out: Buffer[] = []
  let most = 0
  stage.end()
  for await (const chunk of stage) {
    // A read takes all that waits in the buffer.
    out.push(chunk as Buffer)
    most = Math.max(most, (chunk as Buffer).length)
  }
  t.ok(most <= content.length, `at most one frame waiting while read (${most} bytes)`)
  t.equal(Buffer.concat(out).length, count * content.length)
  t.ok(Buffer.concat(out).equals(Buffer.concat(Array.from({ length: count }, () => content))), 'every frame, in order')
})
