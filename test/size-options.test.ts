/**
 * Every size option takes what parseSize() takes (bytes, or a string such as
 * '1KiB'), read once where the option enters: a string behaves exactly as
 * its number of bytes, and a bad one is refused at once naming the option and
 * quoting the value as given, in parseSize()'s words.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import {
  archiveSource, ArchiveDecoder, ArchiveEncoder, encode, encodeNdjson, encodeRecords, rollingSink, unpack, zstd, zstdDecompress,
  type ShoeboxRecord
} from '../lib/index.js'
import { tempDir } from './fixtures-roll/util.js'
import { decodeAll, thrown } from './helpers.js'

/** What `promise` rejects with, as 'CODE: message'. */
async function rejected (promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    return `${(err as { code?: string }).code ?? 'no code'}: ${(err as Error).message}`
  }
  return 'nothing thrown'
}

/** The end of a pipeline that takes whatever comes. */
async function drain (source: AsyncIterable<unknown>): Promise<void> {
  for await (const chunk of source) void chunk
}

/** A v2 record without metadata of `bytes` bytes in all (32 bytes plus its payload). */
function recordOf (bytes: number): { payload: Buffer } {
  return { payload: Buffer.alloc(bytes - 32, 0x61) }
}

/** Two records of 100 bytes around one of 2 KiB: a limit of 1 KiB keeps the first and refuses the second. */
const archive = encodeRecords([recordOf(100), recordOf(2048), recordOf(100)])

t.test("maxRecordSize '1KiB' refuses a 2 KiB record exactly as 1024 does, in every writer and reader", async (t) => {
  const dir = tempDir(t, 'shoebox-sizes-')
  fs.writeFileSync(path.join(dir, 'a.shoebox'), archive)
  const pattern = path.join(dir, '*.shoebox')
  const ways: Array<[string, (limit: number | string) => Promise<string>]> = [
    ['encodeRecords()', async (limit) => thrown(() => encodeRecords([recordOf(100), recordOf(2048)], { maxRecordSize: limit }))],
    ['encode()', async (limit) => await rejected(pipeline(Readable.from([recordOf(100), recordOf(2048)]), encode({ maxRecordSize: limit }), drain))],
    ['encodeNdjson()', async (limit) => await rejected(pipeline(Readable.from([`${'x'.repeat(2000)}\n`]), encodeNdjson({ maxRecordSize: limit, maxLineLength: 4096 }), drain))],
    ['rollingSink()', async (limit) => await rejected(pipeline(Readable.from([recordOf(100), recordOf(2048)]), rollingSink({ dir: tempDir(t, 'shoebox-sizes-sink-'), maxRecordSize: limit })))],
    ['decode()', async (limit) => {
      const { records, error } = await decodeAll(archive, { maxRecordSize: limit })
      return `${records.length} record(s), then ${(error as { code: string }).code}: ${(error as Error).message}`
    }],
    ['decode() lenient', async (limit) => JSON.stringify((await decodeAll(archive, { maxRecordSize: limit, mode: 'lenient' })).corrupt)],
    ['ArchiveDecoder', async (limit) => {
      const seen: string[] = []
      const decoder = new ArchiveDecoder({ record: (r) => seen.push(`record of ${r.payload.length}`), corrupt: (c) => seen.push(`${c.reason} at ${c.offset}`) }, { maxRecordSize: limit, mode: 'lenient' })
      decoder.write(archive)
      decoder.end()
      return seen.join(', ')
    }],
    ['archiveSource()', async (limit) => await rejected(archiveSource(pattern, { maxRecordSize: limit }).toArray())],
    ['archiveSource() positions', async (limit) => await rejected(archiveSource(pattern, { positions: [{ file: 'a.shoebox', offset: 100 }], maxRecordSize: limit }).toArray())]
  ]
  for (const [name, run] of ways) {
    const asNumber = await run(1024)
    t.not(asNumber, 'nothing thrown', `${name}: 1024 refuses it`)
    t.match(asNumber, /1024|record-too-large/, `${name}: the refusal names the limit or the damage`)
    t.equal(await run('1KiB'), asNumber, `${name}: '1KiB' as 1024`)
  }
  // And a limit that lets it through, as a string.
  t.equal((await archiveSource(pattern, { maxRecordSize: '2KiB' }).toArray() as ShoeboxRecord[]).length, 3, "archiveSource() '2KiB' reads it")
})

t.test("maxFrameSize '64KiB' refuses a larger zstd frame exactly as 65536 does", async (t) => {
  const dir = tempDir(t, 'shoebox-sizes-')
  const chunks: Buffer[] = []
  // One write: one frame holding all 300 KB (zstd() compresses each write as a frame of up to 1 MiB).
  await pipeline(Readable.from([encodeRecords([recordOf(300_000)])]), zstd(), async (s: AsyncIterable<Buffer>) => { for await (const c of s) chunks.push(c) })
  const file = Buffer.concat(chunks)
  fs.writeFileSync(path.join(dir, 'big.shoebox.zst'), file)
  const ways: Array<[string, (limit: number | string) => Promise<string>]> = [
    ['zstdDecompress()', async (limit) => await rejected(pipeline(Readable.from([file]), zstdDecompress({ maxFrameSize: limit, file: 'big.zst' }), drain))],
    ['archiveSource()', async (limit) => await rejected(archiveSource(path.join(dir, '*.zst'), { maxFrameSize: limit }).toArray())],
    ['archiveSource() positions', async (limit) => await rejected(archiveSource(path.join(dir, '*.zst'), { maxFrameSize: limit, positions: [{ file: 'big.shoebox.zst', offset: 0, member: { offset: 0, skip: 0 } }] }).toArray())]
  ]
  for (const [name, run] of ways) {
    const asNumber = await run(65536)
    t.match(asNumber, /^SHOEBOX_BAD_COMPRESSION: .*over maxFrameSize 65536/, `${name}: 65536 refuses it`)
    t.equal(await run('64KiB'), asNumber, `${name}: '64KiB' as 65536`)
  }
  t.equal((await archiveSource(path.join(dir, '*.zst'), { maxFrameSize: '1MiB' }).toArray()).length, 1, "'1MiB' reads it")
})

t.test("maxLineLength '1KiB' refuses a 2 KiB line exactly as 1024 does", async (t) => {
  const run = async (limit: number | string): Promise<string> => await rejected(pipeline(
    Readable.from([`short\n${'y'.repeat(2048)}\n`]), encodeNdjson({ maxLineLength: limit }), drain))
  const asNumber = await run(1024)
  t.match(asNumber, /^SHOEBOX_INVALID_RECORD: .*line 2.*1024/)
  t.equal(await run('1KiB'), asNumber)
})

t.test("chunkSize '64KiB' cuts the output as 65536 does", async (t) => {
  t.equal(new ArchiveEncoder({ chunkSize: '64KiB' }).chunkSize, 65536)
  const sizes = async (chunkSize: number | string): Promise<number[]> => {
    const out: number[] = []
    const records = Array.from({ length: 2000 }, () => recordOf(200))
    await pipeline(Readable.from(records), encode({ chunkSize }), async (s: AsyncIterable<Buffer>) => { for await (const c of s) out.push(c.length) })
    return out
  }
  const asNumber = await sizes(65536)
  t.ok(asNumber.length > 1, `several chunks: ${asNumber.join(', ')}`)
  t.same(await sizes('64KiB'), asNumber)
})

t.test('a bad size is refused at once, naming the option and quoting the value as given', async (t) => {
  const dir = tempDir(t, 'shoebox-sizes-')
  const pattern = path.join(dir, '*.shoebox')
  const entries: Array<[string, string, (value: unknown) => unknown]> = [
    ['encode()', 'maxRecordSize', (v) => encode({ maxRecordSize: v as string })],
    ['ArchiveEncoder', 'maxRecordSize', (v) => new ArchiveEncoder({ maxRecordSize: v as string })],
    ['ArchiveEncoder', 'chunkSize', (v) => new ArchiveEncoder({ chunkSize: v as string })],
    ['encodeNdjson()', 'maxRecordSize', (v) => encodeNdjson({ maxRecordSize: v as string })],
    ['encodeNdjson()', 'maxLineLength', (v) => encodeNdjson({ maxLineLength: v as string })],
    ['rollingSink()', 'maxRecordSize', (v) => rollingSink({ dir, maxRecordSize: v as string })],
    ['decode()', 'maxRecordSize', (v) => new ArchiveDecoder({ record () {}, corrupt () {} }, { maxRecordSize: v as string })],
    ['zstdDecompress()', 'maxFrameSize', (v) => zstdDecompress({ maxFrameSize: v as string })],
    ['archiveSource()', 'maxRecordSize', (v) => archiveSource(pattern, { maxRecordSize: v as string })],
    ['archiveSource()', 'maxFrameSize', (v) => archiveSource(pattern, { maxFrameSize: v as string })],
    ['archiveSource() positions', 'maxRecordSize', (v) => archiveSource(pattern, { positions: [], maxRecordSize: v as string })],
    ['archiveSource() positions', 'maxFrameSize', (v) => archiveSource(pattern, { positions: [], maxFrameSize: v as string })]
  ]
  for (const [where, option, make] of entries) {
    for (const [value, reason] of [
      ['lots', 'expected a size such as 100MiB, 10MB or 4096, got "lots"'],
      ['10 MiBs', 'expected a size such as 100MiB, 10MB or 4096, got "10 MiBs"'],
      [null, 'expected a size such as 100MiB, 10MB or 4096, got null'],
      [-1, 'must be a non-negative number of bytes, got -1'],
      [Number.NaN, 'must be a non-negative number of bytes, got NaN'],
      ['99999999999999999999', 'must be at most 9007199254740991 bytes, got "99999999999999999999"']
    ] as const) {
      t.equal(thrown(() => make(value)), `SHOEBOX_INVALID_OPTION: option ${option}: ${reason}`, `${where} ${option} ${String(value)}`)
    }
  }
  // Each option's least, quoted as given (and the bytes it came to, for a size with a unit).
  t.equal(thrown(() => encode({ maxRecordSize: '25B' })), 'SHOEBOX_INVALID_OPTION: option maxRecordSize: must be at least 26 bytes, got "25B" (25 bytes)')
  t.equal(thrown(() => archiveSource(pattern, { maxRecordSize: 25 })), 'SHOEBOX_INVALID_OPTION: option maxRecordSize: must be at least 26 bytes, got 25')
  t.equal(thrown(() => zstdDecompress({ maxFrameSize: 0 })), 'SHOEBOX_INVALID_OPTION: option maxFrameSize: must be at least 1 byte, got 0')
  t.equal(thrown(() => new ArchiveEncoder({ chunkSize: '63' })), 'SHOEBOX_INVALID_OPTION: option chunkSize: must be at least 64 bytes, got "63"')
  t.equal(thrown(() => encodeNdjson({ maxLineLength: 0 })), 'SHOEBOX_INVALID_OPTION: option maxLineLength: must be at least 1 byte, got 0')
  // unpack() refuses before it lists or makes anything.
  const out = path.join(dir, 'out')
  t.equal(await rejected(unpack(pattern, { out, maxRecordSize: 'lots' })), 'SHOEBOX_INVALID_OPTION: option maxRecordSize: expected a size such as 100MiB, 10MB or 4096, got "lots"')
  t.equal(await rejected(unpack(pattern, { out, maxFrameSize: '0KiB' })), 'SHOEBOX_INVALID_OPTION: option maxFrameSize: must be at least 1 byte, got "0KiB" (0 bytes)')
  t.notOk(fs.existsSync(out), 'no directory made')
})
