/**
 * Lenient resynchronisation after a header whose length cannot be trusted: a
 * v2 header with a valid header CRC that claims more than maxRecordSize, or
 * more than the input holds, must not swallow the records behind it. A
 * record that is all there and fails its record checksum is still skipped
 * whole (records inside its payload are not top-level records).
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { crc32, CorruptArchiveError, decode, encodeRecords, payloadText, type RecordInput, type ShoeboxRecord } from '../../lib/index.js'
import { breakAfter } from '../../lib/stream/content-break.js'
import { cli } from '../cli-run.js'
import { tempDir } from '../fixtures-roll/util.js'
import { chunked, decodeAll, decodeDirect } from '../helpers.js'

/** A v2 header (24 bytes) with a valid header CRC, M = 4 and the given payload length; no body. */
function forgedHeader (payloadLength: number): Buffer {
  const h = Buffer.alloc(24)
  h.writeUInt32LE(0x69867884, 0)
  h.writeUInt16LE(2, 4)
  h[6] = 1 // CRC32
  h[7] = 0
  h.writeUInt32LE(4, 8)
  h.writeUInt32LE(payloadLength, 12)
  h.writeUInt32LE(crc32(h.subarray(0, 20)), 20)
  return h
}

const before: RecordInput[] = Array.from({ length: 5 }, (_, i) => ({ metadata: { part: 'before', i: String(i) }, payload: `b${i}` }))
const after: RecordInput[] = Array.from({ length: 1000 }, (_, i) => ({ metadata: { part: 'after', i: String(i) }, payload: { i, pad: 'x'.repeat(i % 50) } }))
const head = encodeRecords(before)
const tail = encodeRecords(after)
const expected = [...before, ...after].map((r) => `${(r.metadata as Record<string, string>).part}:${(r.metadata as Record<string, string>).i}`)

const cases: Array<{ name: string, length: number, reason: string }> = [
  { name: 'length 0xFFFFFFF0 (over maxRecordSize)', length: 0xfffffff0, reason: 'record-too-large' },
  // Under the limit but past the end of the input: the decoder waits for it, then resyncs at the end.
  { name: 'length 10 MiB (past the end of the input)', length: 10 * 1024 * 1024, reason: 'truncated' }
]

for (const c of cases) {
  const archive = Buffer.concat([head, forgedHeader(c.length), tail])
  for (const size of [1, 7, 4096, archive.length]) {
    t.test(`forged header, ${c.name}: lenient recovers every record behind it, chunks of ${size}`, async (t) => {
      const chunks = chunked(archive, size)
      // 1-byte chunks through the stream take long; the ArchiveDecoder does the chunk handling either way.
      const out = size === 1 ? decodeDirect(chunks, { mode: 'lenient' }) : await decodeAll(chunks, { mode: 'lenient' })
      t.equal(out.error, undefined)
      t.same(out.records.map((r) => `${r.metadata.part}:${r.metadata.i}`), expected, 'all 1,005 records')
      t.same(out.corrupt.map((d) => [d.offset, d.reason, d.bytesSkipped]), [[head.length, c.reason, 24]], 'one damaged stretch: the 24-byte header')
    })
  }
  t.test(`forged header, ${c.name}: strict delivers the records before it and fails at it`, async (t) => {
    for (const size of [7, archive.length]) {
      const out = await decodeAll(chunked(archive, size))
      t.ok(out.error instanceof CorruptArchiveError, 'a CorruptArchiveError')
      t.match(out.error, { reason: c.reason, offset: head.length })
      t.equal(out.records.length, before.length, `chunks of ${size}: the records before it`)
    }
  })
}

t.test('shoebox verify and decode --lenient report one stretch and recover all 1,000 records', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'forged.shoebox')
  fs.writeFileSync(file, Buffer.concat([forgedHeader(0xfffffff0), tail]))
  const verify = await cli(['verify', file])
  t.equal(verify.code, 1)
  t.same(verify.stdout.toString().split('\n'), [
    `${file}: DAMAGED: 1000 records (v1 0, v2 1000), ${tail.length} bytes readable, 1 damaged stretch, 24 bytes skipped`,
    `${file}:   at byte 0: record-too-large: record of ${0xfffffff0 + 32} bytes exceeds --max-record-size 67108864 (24 bytes skipped)`,
    ''
  ])
  const decoded = await cli(['decode', '--lenient', '--payload-only', file])
  t.equal(decoded.code, 1, 'exit 1: damage was skipped')
  t.same(decoded.stdout.toString().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { i: number }).i),
    after.map((_, i) => i), 'every record, in order')
  t.match(decoded.stderr, /^shoebox decode: .*forged\.shoebox: skipped 24 damaged bytes at byte 0 \(record-too-large/)
  const strict = await cli(['decode', file])
  t.equal(strict.code, 1)
  t.equal(strict.stdout.length, 0, 'strict: nothing before the damage')
  t.match(strict.stderr, /forged\.shoebox: at byte 0: record-too-large/)
})

t.test('a record that is all there and fails its checksum is still skipped whole', async (t) => {
  // Its payload is an archive: searching inside it would hand out the inner records.
  const inner = encodeRecords([{ payload: 'inner 1' }, { payload: 'inner 2' }])
  const outer = encodeRecords([{ payload: 'first' }, { payload: inner }, { payload: 'last' }])
  const damaged = Buffer.from(outer)
  const innerAt = damaged.indexOf(inner)
  damaged[innerAt + inner.length - 1] ^= 0xff // the inner archive's last byte: the outer record's checksum fails
  for (const size of [1, 5, damaged.length]) {
    const out = decodeDirect(chunked(damaged, size), { mode: 'lenient' })
    t.same(out.records.map(payloadText), ['first', 'last'], `chunks of ${size}: no inner record surfaces`)
    t.same(out.corrupt.map((d) => d.reason), ['bad-checksum'])
  }
})

/*
 * A chunk marked as the end of its content (stream/content-break.ts: a lenient
 * zstd stage's salvaged blocks, cut mid-record): the record held there is
 * truncated at the mark, and the record behind it, which a decoder reading
 * the cut record's intact length across would skip with it, comes through.
 */
t.test('a marked break mid-record: truncated there; every record after it read, at every cut and chunk size', async (t) => {
  const records = encodeRecords(before)
  const cutRecord = encodeRecords([{ metadata: { part: 'cut' }, payload: 'y'.repeat(300) }])
  const wrong: string[] = []
  for (let cut = 1; cut < cutRecord.length; cut += 7) {
    for (const size of [1, 64, 4096]) {
      const decoder = decode({ mode: 'lenient' })
      const corrupt: Array<{ offset: number, bytesSkipped: number, reason: string }> = []
      decoder.on('corrupt', (info: { offset: number, bytesSkipped: number, reason: string }) => corrupt.push({ offset: info.offset, bytesSkipped: info.bytesSkipped, reason: info.reason }))
      const got: string[] = []
      decoder.on('data', (r: ShoeboxRecord) => got.push(`${r.metadata.part}:${r.metadata.i}`))
      const done = new Promise((resolve) => decoder.on('end', resolve))
      // The salvaged content in chunks of `size`, the last one marked, then the next frame's records.
      const salvaged = chunked(Buffer.concat([records, cutRecord.subarray(0, cut)]), size)
      salvaged[salvaged.length - 1] = breakAfter(Buffer.from(salvaged[salvaged.length - 1]))
      for (const chunk of [...salvaged, ...chunked(tail, size)]) decoder.write(chunk)
      decoder.end()
      await done
      if (got.join() !== expected.join()) wrong.push(`cut ${cut}, chunks of ${size}: ${got.length} records`)
      const where = { offset: records.length, bytesSkipped: cut, reason: 'truncated' }
      if (JSON.stringify(corrupt) !== JSON.stringify([where])) wrong.push(`cut ${cut}, chunks of ${size}: ${JSON.stringify(corrupt)}`)
    }
  }
  t.same(wrong, [])
  // Strict: the record cut at the mark is an error there (a lenient stage before a strict decoder).
  const strict = decode()
  const error = new Promise((resolve) => strict.on('error', resolve))
  strict.on('data', () => {})
  strict.write(breakAfter(Buffer.concat([records, cutRecord.subarray(0, 40)])))
  strict.write(tail)
  t.match(await error, { code: 'SHOEBOX_TRUNCATED', offset: records.length })
})
