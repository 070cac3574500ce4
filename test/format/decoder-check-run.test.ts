/**
 * The decoder's native fast path (native/record_crc.c checkRun): it vouches
 * for a run of whole, sound v2 records in one call, and the decoder reads
 * those without checking them again. Whatever it stops at is checked by the
 * decoder as before, so every record, offset, damage report and error must
 * be the same with it and without it, for any bytes cut at any point.
 */
import t from 'tap'
import { ArchiveDecoder, CorruptArchiveError, encodeRecords, type CorruptInfo, type DecodeMode, type RecordInput } from '../../lib/index.js'
import { nativeRecords } from '../../lib/native.js'
import { mulberry32, randomInt as int, type Rng } from '../helpers.js'

const checkRun = nativeRecords()?.checkRun


function randomRecords (rng: Rng, n: number): RecordInput[] {
  const records: RecordInput[] = []
  for (let i = 0; i < n; i++) {
    const payload = Buffer.alloc(rng() < 0.1 ? 0 : int(rng, 1, rng() < 0.1 ? 70_000 : 600), i % 251)
    const metadata: Record<string, string> = rng() < 0.2 ? {} : { id: String(i), kind: rng() < 0.5 ? 'a' : 'héllo' }
    records.push({ metadata, payload })
  }
  return records
}

/** v2 (CRC32 and CRC32C) and v1 records, in runs, as one archive. */
function randomArchive (rng: Rng): Buffer {
  const parts: Buffer[] = []
  for (let run = int(rng, 1, 4); run > 0; run--) {
    const r = rng()
    const options = r < 0.6 ? {} : r < 0.85 ? { checksum: 'crc32c' as const } : { format: 'v1' as const }
    parts.push(encodeRecords(randomRecords(rng, int(rng, 1, 40)), options))
  }
  return Buffer.concat(parts)
}

/** One byte changed, a stretch of junk put in, or the end cut off. */
function damaged (rng: Rng, archive: Buffer): Buffer {
  const copy = Buffer.from(archive)
  const r = rng()
  if (r < 0.5) {
    copy[int(rng, 0, copy.length - 1)] ^= 1 << int(rng, 0, 7)
    return copy
  }
  if (r < 0.75) {
    const at = int(rng, 0, copy.length)
    return Buffer.concat([copy.subarray(0, at), Buffer.from('junk! not a record'), copy.subarray(at)])
  }
  return copy.subarray(0, int(rng, 0, copy.length - 1))
}

interface Outcome {
  records: string[]
  corrupt: CorruptInfo[]
  error: string | null
}

function decodeWith (bytes: Buffer, chunk: number, mode: DecodeMode, maxRecordSize: number, native: boolean): Outcome {
  const out: Outcome = { records: [], corrupt: [], error: null }
  const decoder = new ArchiveDecoder({
    record: (record, version, offset, size) => {
      out.records.push(`${version} ${offset} ${size} ${JSON.stringify(record.metadata)} ${record.payload.toString('base64')}`)
    },
    corrupt: (info) => { out.corrupt.push(info) }
  }, { mode, maxRecordSize }, native ? {} : { checkRun: null })
  try {
    for (let at = 0; at < bytes.length; at += chunk) decoder.write(bytes.subarray(at, at + chunk))
    decoder.end()
  } catch (err) {
    if (!(err instanceof CorruptArchiveError)) throw err
    out.error = `${err.reason} at ${err.offset}: ${err.message}`
  }
  return out
}

t.test('checkRun vouches for exactly the whole, sound v2 records', async (t) => {
  if (nativeRecords() === null) {
    // No native part here (not built, another CPU): the decoder checks each record itself, as the tests below compare.
    t.equal(checkRun, undefined, 'no native part, no checkRun')
    return
  }
  t.type(checkRun, 'function', 'wherever the encoder\'s functions are, the decoder\'s is')
  const run = checkRun as NonNullable<typeof checkRun>
  const records = randomRecords(mulberry32(7), 30)
  const sizes = records.map((r) => encodeRecords([r]).length)
  const ends: number[] = []
  sizes.reduce((n, s) => { ends.push(n + s); return n + s }, 0)
  const archive = encodeRecords(records)
  t.equal(run(archive, 0, archive.length, 64 * 1024 * 1024), archive.length, 'a clean archive: all of it')
  t.equal(run(archive, ends[4], archive.length, 64 * 1024 * 1024), archive.length, 'from any record on')
  t.equal(run(archive, archive.length, archive.length, 64 * 1024 * 1024), archive.length, 'nothing to check')
  t.equal(run(archive, 0, ends[9] - 1, 64 * 1024 * 1024), ends[8], 'a record cut by the end: it stops before it')
  t.equal(run(archive, 0, ends[9] + 23, 64 * 1024 * 1024), ends[9], 'a header cut by the end')
  const biggest = Math.max(...sizes)
  const first = sizes.indexOf(biggest)
  t.equal(run(archive, 0, archive.length, biggest - 1), first === 0 ? 0 : ends[first - 1], 'a record over maxSize')
  t.equal(run(archive, 0, archive.length, biggest), archive.length, 'maxSize itself is allowed')
  // Damage in record 12: header field, header checksum, payload, record checksum; an unknown algorithm or codec.
  const at = ends[11]
  const payloadEnd = ends[12] - 4
  for (const [what, offset, bit] of [
    ['magic', at, 1], ['version', at + 4, 1], ['metadata length', at + 8, 1], ['header checksum', at + 21, 4],
    ['extension length', at + 16, 1], ['payload or metadata', payloadEnd - 1, 1], ['record checksum', payloadEnd, 2],
    ['checksum algorithm', at + 6, 4], ['codec', at + 7, 0x10]
  ] as const) {
    const copy = Buffer.from(archive)
    copy[offset] ^= bit
    t.equal(run(copy, 0, copy.length, 64 * 1024 * 1024), at, `${what} damaged: it stops at that record`)
  }
  const v1 = encodeRecords(records.slice(0, 3), { format: 'v1' })
  t.equal(run(Buffer.concat([archive.subarray(0, ends[2]), v1]), 0, ends[2] + v1.length, 64 * 1024 * 1024), ends[2], 'a v1 record: it stops there')
  // Its arguments (offsets, odd buffers) are check-run-fuzz.test.ts's.
})

t.test('the decoder says the same with and without it: records, damage, errors, at every chunking', async (t) => {
  const cases = 150
  let damagedCases = 0
  for (let i = 0; i < cases; i++) {
    const rng = mulberry32(0xc4ec + i)
    const clean = randomArchive(rng)
    const bytes = i % 3 === 0 ? clean : damaged(rng, clean)
    if (bytes !== clean) damagedCases++
    const maxRecordSize = rng() < 0.2 ? int(rng, 200, 2000) : 64 * 1024 * 1024
    for (const chunk of [bytes.length + 1, int(rng, 1, 64), int(rng, 65, 5000), 65536]) {
      for (const mode of ['strict', 'lenient'] as const) {
        const slow = decodeWith(bytes, chunk, mode, maxRecordSize, false)
        const fast = decodeWith(bytes, chunk, mode, maxRecordSize, true)
        if (JSON.stringify(fast) !== JSON.stringify(slow)) {
          t.same(fast, slow, `case ${i} (${bytes.length} bytes, ${mode}, chunks of ${chunk}, maxRecordSize ${maxRecordSize})`)
          return
        }
      }
    }
  }
  t.pass(`${cases} archives (${damagedCases} damaged), 4 chunkings, strict and lenient: the same outcome`)
})

t.test('every way of cutting a small archive into two chunks', async (t) => {
  const rng = mulberry32(99)
  const bytes = Buffer.concat([encodeRecords(randomRecords(rng, 5)), encodeRecords(randomRecords(rng, 3), { format: 'v1' }), encodeRecords(randomRecords(rng, 4), { checksum: 'crc32c' })])
  let differ = 0
  for (let cut = 0; cut <= bytes.length; cut++) {
    for (const mode of ['strict', 'lenient'] as const) {
      const outcomes = [false, true].map((native) => {
        const out: string[] = []
        const decoder = new ArchiveDecoder({
          record: (r, version, offset, size) => { out.push(`${version} ${offset} ${size} ${r.payload.length}`) },
          corrupt: (info) => { out.push(`corrupt ${info.offset} ${info.reason}`) }
        }, { mode }, native ? {} : { checkRun: null })
        decoder.write(bytes.subarray(0, cut))
        decoder.write(bytes.subarray(cut))
        decoder.end()
        return out.join('\n')
      })
      if (outcomes[0] !== outcomes[1]) differ++
    }
  }
  t.equal(differ, 0, `${bytes.length + 1} cuts, strict and lenient`)
})
