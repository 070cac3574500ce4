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
import { walkFrames } from '../../lib/compress/zstd-frame.js'

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
  t.match(whole.error?.message, new RegExp(`${name}.*1048576 bytes.*over maxFrameSize 524288`))
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

t.test('maxFrameSize is checked at once', async (t) => {
  t.throws(() => archiveSource(path.join(tmp, '*.zst'), { maxFrameSize: 0 }), { code: 'SHOEBOX_INVALID_OPTION', message: /maxFrameSize/ })
  t.throws(() => archiveSource(path.join(tmp, '*.zst'), { maxFrameSize: -5, positions: [] }), { code: 'SHOEBOX_INVALID_OPTION', message: /maxFrameSize/ })
})
