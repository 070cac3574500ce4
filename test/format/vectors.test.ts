/**
 * The record codec against real archives written by the original shoebox
 * (shared vectors), plus the spec's golden records inline.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import {
  ArchiveDecoder, CorruptArchiveError, encodeRecords, type ShoeboxRecord
} from '../../lib/index.js'
import {
  archiveEntries, decodeAll, decodeRecords, firstMismatch, haveVectors, listVectorDir, readExpected,
  readManifest, readVector, toInputs, vectorSkip, type ExpectedRecord, type PlainRecord
} from '../helpers.js'

/** Decode with the push-style decoder, keeping each record's version and offset. */
function decodeWithOffsets (buf: Buffer): Array<{ record: ShoeboxRecord, version: 1 | 2, offset: number }> {
  const out: Array<{ record: ShoeboxRecord, version: 1 | 2, offset: number }> = []
  const decoder = new ArchiveDecoder({
    record: (record, version, offset) => { out.push({ record, version, offset }) },
    corrupt: () => { throw new Error('no corrupt events expected in strict mode') }
  })
  decoder.write(buf)
  decoder.end()
  return out
}

t.test('golden records from spec section 2.4 (inline, no vectors needed)', async (t) => {
  const golden: Array<{ name: string, hex: string, size: number, expected: PlainRecord }> = [
    {
      name: '{"key":"value","some":"stuff"}, empty payload',
      hex: '84788669 0100 25000000 04000000 00000000 ' +
        '08000000 03000000 05000000 04000000 05000000 6b6579 76616c7565 736f6d65 7374756666 ' +
        '00000000',
      size: 59,
      expected: { pairs: [['key', 'value'], ['some', 'stuff']], payload: Buffer.alloc(0) }
    },
    {
      name: 'empty metadata, empty payload',
      hex: '84788669 0100 04000000 04000000 00000000 00000000 00000000',
      size: 26,
      expected: { pairs: [], payload: Buffer.alloc(0) }
    },
    {
      name: '{"":"","empty-value":""}, payload x',
      hex: '84788669 0100 1f000000 05000000 00000000 ' +
        '08000000 00000000 00000000 0b000000 00000000 ' + Buffer.from('empty-value').toString('hex') + ' ' +
        '01000000 78',
      size: 54,
      expected: { pairs: [['', ''], ['empty-value', '']], payload: Buffer.from('x') }
    }
  ]
  for (const g of golden) {
    const bytes = Buffer.from(g.hex.replace(/ /g, ''), 'hex')
    t.equal(bytes.length, g.size, `${g.name}: golden record is ${g.size} bytes`)
    const encoded = encodeRecords([{ metadata: g.expected.pairs, payload: g.expected.payload }], { format: 'v1' })
    t.equal(encoded.toString('hex'), bytes.toString('hex'), `${g.name}: v1 encoding is byte-exact`)
    const records = await decodeRecords(bytes)
    t.equal(firstMismatch(records, [g.expected]), undefined, `${g.name}: decodes to the expected record`)
  }
  // All three back to back, as in unicode_empty.shoebox records 2, 3, 4.
  const all = Buffer.concat(golden.map((g) => Buffer.from(g.hex.replace(/ /g, ''), 'hex')))
  const records = await decodeRecords(all)
  t.equal(firstMismatch(records, golden.map((g) => g.expected)), undefined, 'golden records back to back decode in order')
})

t.test('shared vectors directory', { skip: vectorSkip }, async (t) => {
  t.ok(haveVectors, 'manifest.json is there')
  const entries = archiveEntries()
  t.equal(entries.length, 11, 'manifest lists 11 valid archives (4 single files + 7 rolled/)')
  t.equal(entries.filter((e) => e.file.startsWith('rolled/')).length, 7, '7 of them are rolled/ files')
})

t.test('valid archives decode to their expected records and re-encode byte-for-byte', { skip: vectorSkip }, async (t) => {
  for (const entry of archiveEntries()) {
    t.test(entry.file, async (t) => {
      const archive = readVector(entry.file)
      t.equal(archive.length, entry.bytes, 'archive size matches the manifest')
      t.equal(createHash('sha256').update(archive).digest('hex'), entry.sha256, 'archive sha256 matches the manifest')
      const expected = readExpected(entry.expected)
      t.equal(expected.length, entry.records, 'expected jsonl has the manifest record count')

      const { records, corrupt, error } = await decodeAll([archive])
      t.equal(error, undefined, 'decodes without error')
      t.same(corrupt, [], 'no corrupt events')
      t.equal(records.length, entry.records, `decodes to ${String(entry.records)} records`)
      t.equal(firstMismatch(records, expected), undefined, 'records equal the expected jsonl (metadata order and payload bytes)')

      const withOffsets = decodeWithOffsets(archive)
      t.same(withOffsets.map((r) => r.offset), expected.map((e) => e.offset), 'record offsets equal the expected offsets')
      t.ok(withOffsets.every((r) => r.version === 1), 'every record is version 1')
      const sizes = expected.map((e, i) => (i + 1 < expected.length ? expected[i + 1].offset : archive.length) - e.offset)
      t.same(sizes, expected.map((e) => e.size), 'expected sizes tile the archive')

      const reencoded = encodeRecords(toInputs(expected), { format: 'v1' })
      t.equal(reencoded.length, archive.length, 'v1 re-encoding has the archive length')
      t.ok(reencoded.equals(archive), 'v1 re-encoding equals the archive byte-for-byte')

      for (const checksum of ['crc32', 'crc32c'] as const) {
        const v2 = encodeRecords(toInputs(expected), { format: 'v2', checksum })
        t.notOk(v2.equals(archive), `v2 (${checksum}) encoding differs from v1`)
        const back = await decodeAll([v2])
        t.equal(back.error, undefined, `v2 (${checksum}) decodes without error`)
        t.equal(firstMismatch(back.records, expected), undefined, `v2 (${checksum}) round-trip gives the same records`)
      }
    })
  }
})

t.test('rolled/ files read in sorted name order give 10,000 records', { skip: vectorSkip }, async (t) => {
  const manifest = readManifest()
  const rolled = manifest.vectors.find((v) => v.kind === 'rolled-directory' && v.dir === 'rolled') as
    ({ original_reader_order: string[], total_records: number } | undefined)
  t.ok(rolled, 'manifest describes the rolled directory')
  if (rolled === undefined) return
  const names = listVectorDir('rolled').filter((n) => n.endsWith('.shoebox')).sort()
  t.same(names.map((n) => `rolled/${n}`), rolled.original_reader_order, 'sorted order is the original reader order')
  t.equal(names.length, 7, '7 files')

  let total = 0
  const seqs: number[] = []
  const all: ExpectedRecord[] = []
  const parts: Buffer[] = []
  for (const name of names) {
    const archive = readVector(`rolled/${name}`)
    parts.push(archive)
    const records = await decodeRecords(archive)
    total += records.length
    for (const r of records) seqs.push((JSON.parse(r.payload.toString('utf8')) as { seq: number }).seq)
    all.push(...readExpected(`expected/rolled/${name}.jsonl`))
  }
  t.equal(total, 10000, '10,000 records in total')
  t.equal(total, rolled.total_records, 'manifest total_records')
  t.ok(seqs.every((s, i) => s === i), 'payload seq runs 0..9999 in reading order')

  // The files concatenated are one valid archive too (no file header or footer).
  const joined = await decodeRecords(Buffer.concat(parts))
  t.equal(firstMismatch(joined, all), undefined, 'the concatenated files decode to all 10,000 expected records in order')
})

interface DamagedExpectation {
  strictRecords: number
  code: string
  reason: string
  offset: number
  /** Index in small.shoebox of the record the damage hits. */
  damagedIndex: number
  lenientIndices: number[]
  bytesSkipped: number
}

const damagedExpectations: Record<string, DamagedExpectation> = {
  'damaged/small_flipped_magic.shoebox': {
    strictRecords: 2,
    code: 'SHOEBOX_BAD_MAGIC',
    reason: 'bad-magic',
    offset: 1161,
    damagedIndex: 2,
    lenientIndices: [0, 1, 3, 4],
    bytesSkipped: 603
  },
  'damaged/small_truncated_in_payload.shoebox': {
    strictRecords: 3,
    code: 'SHOEBOX_TRUNCATED',
    reason: 'truncated',
    offset: 1764,
    damagedIndex: 3,
    lenientIndices: [0, 1, 2],
    bytesSkipped: 529
  }
}

interface DamagedJson {
  archive_reader: { records_returned: number }
  records: Array<{ index: number, metadata: Array<[string, string]>, payload: string }>
}

t.test('damaged archives', { skip: vectorSkip }, async (t) => {
  const damaged = readManifest().vectors.filter((v) => v.kind === 'damaged')
  t.equal(damaged.length, 2, 'two damaged vectors')
  const small = readExpected('expected/small.shoebox.jsonl')
  for (const entry of damaged) {
    const file = entry.file as string
    const exp = damagedExpectations[file]
    t.test(file, async (t) => {
      t.ok(exp, 'this test knows what to expect of the vector')
      if (exp === undefined) return
      const archive = readVector(file)
      const info = JSON.parse(readVector(entry.expected as string).toString('utf8')) as DamagedJson
      t.equal(info.archive_reader.records_returned, exp.strictRecords, 'the original reader returned as many records')
      t.equal(small[exp.damagedIndex].offset, exp.offset, `damage offset is the start of record ${exp.damagedIndex}`)
      if (entry.mutation?.type === 'xor') {
        t.equal(exp.bytesSkipped, small[exp.damagedIndex].size, 'lenient skips exactly the damaged record')
      } else {
        t.equal(exp.bytesSkipped, archive.length - exp.offset, 'lenient skips the truncated tail')
      }

      // strict, with a file name
      const strict = await decodeAll([archive], { file })
      t.equal(strict.records.length, exp.strictRecords, `strict: ${exp.strictRecords} records before the error`)
      // The original reader returns a dict: compare with metadata sorted by key.
      const sortedStrict = strict.records.map((r) => ({
        pairs: Object.entries(r.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        payload: r.payload
      }))
      t.equal(firstMismatch(sortedStrict, info.records.map((r) => ({ pairs: r.metadata, payload: Buffer.from(r.payload) }))),
        undefined, 'strict: the records the original reader returned')
      t.equal(firstMismatch(strict.records, small.slice(0, exp.strictRecords)), undefined, 'strict: the first records of small.shoebox, in order')
      t.ok(strict.error instanceof CorruptArchiveError, 'strict: fails with a CorruptArchiveError')
      const err = strict.error as CorruptArchiveError
      t.equal(err.code, exp.code, `strict: code ${exp.code}`)
      t.equal(err.reason, exp.reason, `strict: reason ${exp.reason}`)
      t.equal(err.offset, exp.offset, `strict: offset ${exp.offset}`)
      t.equal(err.file, file, 'strict: error names the file')
      t.ok(err.message.includes(file), 'strict: message contains the file name')
      t.same(strict.corrupt, [], 'strict: no corrupt events')

      // strict, without a file name
      const anon = await decodeAll([archive])
      t.equal((anon.error as CorruptArchiveError).code, exp.code, 'strict without file: same code')
      t.equal((anon.error as CorruptArchiveError).file, undefined, 'strict without file: no file')

      // lenient
      const lenient = await decodeAll([archive], { mode: 'lenient', file })
      t.equal(lenient.error, undefined, 'lenient: no error')
      t.equal(lenient.records.length, exp.lenientIndices.length, `lenient: ${exp.lenientIndices.length} records`)
      t.equal(firstMismatch(lenient.records, exp.lenientIndices.map((i) => small[i])), undefined,
        `lenient: records ${exp.lenientIndices.join(',')} of small.shoebox`)
      t.equal(lenient.corrupt.length, 1, 'lenient: one corrupt event')
      t.match(lenient.corrupt[0], { offset: exp.offset, reason: exp.reason, bytesSkipped: exp.bytesSkipped, file },
        'lenient: corrupt event offset, reason, bytesSkipped and file')
    })
  }
})
