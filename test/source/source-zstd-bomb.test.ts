/**
 * archiveSource refuses a zstd frame that could hold more than maxFrameSize
 * (a decompression bomb, issue 12) on every path that decompresses: a read
 * (after the records before it), `from` a position in that frame, and a
 * fetch by position; the frame is never decompressed. A few bytes of RLE
 * blocks stand for the bomb, with a small maxFrameSize.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, rollingSink, type Position, type ShoeboxRecord } from '../../lib/index.js'
import { randomBytes } from 'node:crypto'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { walkFrames } from '../../lib/compress/zstd-frame.js'
import { encodeRecords } from '../../lib/index.js'
import { fetchRecord } from '../../lib/source/fetch-records.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-source-zstd-bomb-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const records = (from: number, n: number): Array<{ metadata: Record<string, string>, payload: unknown }> =>
  Array.from({ length: n }, (_, i) => ({ metadata: { n: String(from + i) }, payload: { n: from + i, text: 'bömb '.repeat((from + i) % 40) } }))

/** 1 MiB of zeros in 33 bytes: eight RLE blocks of 128 KiB, no content size. */
const bomb = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 10 << 3]), ...Array.from({ length: 8 }, (_, i) => {
  const block = Buffer.alloc(4)
  block.writeUIntLE(131072 << 3 | 1 << 1 | (i === 7 ? 1 : 0), 0, 3)
  return block
})])

interface Outcome { records: ShoeboxRecord[], error?: Error & { code?: string, offset?: number } }

async function read (pattern: string, options: Parameters<typeof archiveSource>[1]): Promise<Outcome> {
  const out: ShoeboxRecord[] = []
  try {
    for await (const record of archiveSource(pattern, options)) out.push(record as ShoeboxRecord)
  } catch (err) {
    return { records: out, error: err as Outcome['error'] }
  }
  return { records: out }
}

const numbers = (rs: ShoeboxRecord[]): number[] => rs.map((r) => Number(r.metadata.n))

t.test('a read, from a position, and a fetch by position all refuse the frame at its offset', async (t) => {
  const dir = path.join(tmp, 'a')
  await pipeline(Readable.from(records(0, 400)), rollingSink({ dir, compress: 'zstd', blockSize: 4096, flushInterval: 0 }))
  const [name] = fs.readdirSync(dir)
  const file = path.join(dir, name)
  const good = fs.readFileSync(file)
  const frames = walkFrames(good).frames
  t.ok(frames.length > 4, `${frames.length} frames`)
  // The bomb after the first half of the frames, the rest after it.
  const half = frames[Math.floor(frames.length / 2)].start
  fs.writeFileSync(file, Buffer.concat([good.subarray(0, half), bomb, good.subarray(half)]))
  const pattern = path.join(dir, '*.zst')
  const options = { maxFrameSize: 512 * 1024 }

  const whole = await read(pattern, { ...options, positions: true })
  t.equal(whole.error?.code, 'SHOEBOX_BAD_COMPRESSION')
  t.equal(whole.error?.offset, half, 'at the bomb\'s compressed offset')
  t.match(whole.error?.message, new RegExp(`${name}.*at least 655360 bytes \\(by the headers of its first 5 blocks\\), over maxFrameSize 524288`))
  const before = whole.records.length
  t.ok(before > 0 && before < 400, `the ${before} records before it`)
  t.same(numbers(whole.records), Array.from({ length: before }, (_, i) => i))

  // A limit over its 1 MiB decompresses it (its zeros are no records: damage, but not this refusal).
  const unlimited = await read(pattern, { maxFrameSize: 2 * 1024 * 1024 })
  t.not(unlimited.error?.message ?? '', /maxFrameSize/, 'a larger limit decompresses it')

  // `from` a position in the bomb's frame (as if saved before the file was changed).
  const last = whole.records[before - 1].position as Position
  const inBomb: Position = { file: name, offset: last.offset + 1, member: { offset: half, skip: 0 } }
  const from = await read(pattern, { ...options, from: inBomb })
  t.equal(from.error?.code, 'SHOEBOX_BAD_COMPRESSION')
  t.equal(from.error?.offset, half)
  t.match(from.error?.message, /over maxFrameSize 524288/)

  // Fetched by position: the record before it, then the refusal.
  const fetched = await read(pattern, { ...options, positions: [last, inBomb] })
  t.same(numbers(fetched.records), [before - 1])
  t.equal(fetched.error?.code, 'SHOEBOX_BAD_COMPRESSION')
  t.equal(fetched.error?.offset, half)
  t.match(fetched.error?.message, /over maxFrameSize 524288/)
})

/** A reader of `file`'s ranges (as a store's ranged get) that remembers the furthest byte asked for. */
function rangesOf (file: Buffer): { read: (start: number, end: number) => Promise<Buffer>, furthest: () => number } {
  let furthest = 0
  return {
    read: async (start, end) => {
      furthest = Math.max(furthest, Math.min(end, file.length))
      return file.subarray(start, end)
    },
    furthest: () => furthest
  }
}

t.test('a fetch by position refuses a frame over maxFrameSize without reading to its end', async (t) => {
  const first = await zstdFrame(encodeRecords(records(0, 3)), 1)
  // 3 MiB of raw blocks of 128 KiB, no content size: what the zstd command writes of random bytes from a pipe.
  const content = randomBytes(3 * 1024 * 1024)
  const blocks = Array.from({ length: 24 }, (_, i) => {
    const header = Buffer.alloc(3)
    header.writeUIntLE(131072 << 3 | (i === 23 ? 1 : 0), 0, 3)
    return [header, content.subarray(i * 131072, (i + 1) * 131072)]
  }).flat()
  const big = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3]), ...blocks])
  const file = Buffer.concat([first, big])
  const ranges = rangesOf(file)
  const position: Position = { file: 'big.zst', offset: 5000, member: { offset: first.length, skip: 0 } }
  await t.rejects(fetchRecord(ranges.read, position, 'big.zst', undefined, 1024 * 1024), {
    code: 'SHOEBOX_BAD_COMPRESSION',
    offset: first.length,
    message: /big\.zst: at byte \d+: bad-compression: zstd data: the frame at compressed byte \d+ could hold at least 1179648 bytes \(by the headers of its first 9 blocks\), over maxFrameSize 1048576/
  })
  // The windows double: 2 MiB read when the 9th block's header arrives, not the 3 MiB frame.
  t.equal(ranges.furthest(), first.length + 2 * 1024 * 1024, `read to ${ranges.furthest()} of ${file.length}`)
})

t.test('a fetch walks on through frames only as far as a record can reach from its own', async (t) => {
  const first = await zstdFrame(encodeRecords(records(0, 1)), 1)
  const empty = await zstdFrame(Buffer.alloc(0), 1)
  const file = Buffer.concat([first, ...Array.from({ length: 60000 }, () => empty)])
  const ranges = rangesOf(file)
  // A position past its frame's content (not one a read gives): frames of no content follow, to the end.
  const position: Position = { file: 'empty.zst', offset: 1e6, member: { offset: 0, skip: 1e6 } }
  await t.rejects(fetchRecord(ranges.read, position, 'empty.zst', 4096, 200 * 1024), {
    code: 'SHOEBOX_NOT_FOUND',
    message: /^empty\.zst: offset 1000000 is not in reach of its frame at compressed byte 0 \(the frames from compressed byte 0 to \d+ hold \d+ bytes, the position skips 1000000\)/
  })
  // Frames are walked to 200 KiB and a record's 4 KiB (and their headers) past the position's frame: the 256 KiB window holds them.
  t.equal(ranges.furthest(), 256 * 1024, `read to ${ranges.furthest()} of ${file.length}`)
})

t.test('maxFrameSize is checked at once', async (t) => {
  t.throws(() => archiveSource(path.join(tmp, '*.zst'), { maxFrameSize: 0 }), { code: 'SHOEBOX_INVALID_OPTION', message: /maxFrameSize/ })
  t.throws(() => archiveSource(path.join(tmp, '*.zst'), { maxFrameSize: -5, positions: [] }), { code: 'SHOEBOX_INVALID_OPTION', message: /maxFrameSize/ })
})
