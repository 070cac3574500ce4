/**
 * Issue 9, C8: `from` a position inside a gzip file opens the file at the
 * position's member (a ranged read through the store), so the members before
 * it are never read or decompressed; the records after the position are
 * exactly those of a full read, positions included. Bytes read are counted
 * by the file store (source.stats()), not timed.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, encodeRecords, rollingSink, type Position, type ShoeboxRecord } from '../../lib/index.js'
import { cli } from '../cli-run.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-resume-member-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const dir = path.join(tmp, 'events')
const input = Array.from({ length: 2000 }, (_, n) => ({ metadata: { n: String(n) }, payload: { n, text: 'ü'.repeat(n % 200) } }))

async function read (options: Parameters<typeof archiveSource>[1]): Promise<{ records: ShoeboxRecord[], bytesRead: number, error: unknown }> {
  const source = archiveSource(path.join(dir, '*.gz'), options)
  const records: ShoeboxRecord[] = []
  let error: unknown = null
  try {
    for await (const record of source) records.push(record as ShoeboxRecord)
  } catch (err) {
    error = err
  }
  return { records, bytesRead: source.stats().downloaded.bytes, error }
}

const view = (records: ShoeboxRecord[]): Array<{ n: string, position: Position | undefined, payload: string }> =>
  records.map((r) => ({ n: r.metadata.n, position: r.position, payload: r.payload.toString() }))

t.before(async () => {
  // Small blocks: many members per file, and two files.
  await pipeline(Readable.from(input), rollingSink({ dir, gzip: true, blockSize: 4096, roll: { records: 1000 }, flushInterval: 0 }))
})

t.test('from a record in a gzip file: read from its member on, the same records as a full read', async (t) => {
  const full = await read({ positions: true })
  t.equal(full.error, null)
  t.equal(full.records.length, 2000)
  const files = [...new Set(full.records.map((r) => (r.position as Position).file))]
  t.equal(files.length, 2, 'two files')
  const sizes = new Map(files.map((f) => [f, fs.statSync(path.join(dir, f)).size]))
  t.equal(full.bytesRead, [...sizes.values()].reduce((a, b) => a + b), 'a full read reads every byte once')
  // First record, inside the first file's members, its last record, inside and at the end of the second.
  for (const i of [0, 1, 437, 999, 1000, 1500, 1998, 1999]) {
    const from = full.records[i].position as Position
    const member = from.member
    if (member === undefined) throw new Error(`record ${i}: no member`)
    const rest = await read({ from })
    t.equal(rest.error, null)
    t.same(view(rest.records), view(full.records.slice(i + 1)), `after record ${i}: exactly the later records, with their positions`)
    const later = files.slice(files.indexOf(from.file) + 1).reduce((n, f) => n + (sizes.get(f) ?? 0), 0)
    t.equal(rest.bytesRead, (sizes.get(from.file) ?? 0) - member.offset + later, `after record ${i}: ${from.file} read from compressed byte ${member.offset} on, not from its start`)
  }
})

t.test('a member offset at or past the end of the file is an error naming it, even when lenient', async (t) => {
  const full = await read({ positions: true })
  const from = full.records[10].position as Position
  const size = fs.statSync(path.join(dir, from.file)).size
  for (const mode of ['strict', 'lenient'] as const) {
    const past = await read({ mode, from: { ...from, offset: from.offset, member: { offset: size, skip: (from.member as { skip: number }).skip } } })
    t.same(past.records, [], mode)
    t.match(past.error, { code: 'SHOEBOX_NOT_FOUND', message: `from: ${path.join(dir, from.file)}: the member (gzip member or zstd frame) at compressed byte ${size} is past the end of the file (${size} bytes)` }, mode)
  }
})

t.test('a file replaced since the position was taken fails by name, instead of reading other bytes as records', async (t) => {
  const full = await read({ positions: true })
  const from = full.records[1500].position as Position
  const file = path.join(dir, from.file)
  const saved = fs.readFileSync(file)
  t.teardown(() => { fs.writeFileSync(file, saved) })
  // A plain archive as long as the gzip file was: the member offset is inside it, but no member starts there.
  const plain = encodeRecords(Array.from({ length: 3000 }, (_, n) => ({ payload: `plain ${n}` })))
  fs.writeFileSync(file, plain.subarray(0, saved.length))
  const got = await read({ from })
  t.same(got.records, [])
  t.match(got.error, { code: 'SHOEBOX_BAD_COMPRESSION', message: new RegExp(`${path.basename(file).replace(/\./g, '\\.')}.*no gzip member starts here`) })
})

t.test('a malformed member in `from` is refused at once', async (t) => {
  t.throws(() => archiveSource(path.join(dir, '*.gz'), { from: { file: 'x.gz', offset: 5, member: { offset: 0, skip: 6 } } }), { code: 'SHOEBOX_INVALID_OPTION' })
})

t.test('an offset and a skip that disagree are refused naming the position, not read on with shifted positions (a record again, or positions off)', async (t) => {
  const full = await read({ positions: true })
  const at = full.records[437].position as Position
  const member = at.member as { offset: number, skip: number }
  t.not(member.offset, 0, 'a record past the first member')
  // The skip lands inside the record before: the read delivered record 437 again, its offset 5 bytes off.
  for (const skip of [member.skip - 5, member.skip + 1]) {
    const from = { ...at, member: { ...member, skip } }
    for (const mode of ['strict', 'lenient'] as const) {
      const got = await read({ from, mode, positions: true })
      t.same(view(got.records), [], `skip ${skip} ${mode}: no record`)
      t.match(got.error, {
        code: 'SHOEBOX_INVALID_OPTION',
        option: 'from',
        message: `option from: ${at.file}:${at.offset}@${member.offset}+${skip} names no record: none starts ${skip} bytes into the member at compressed byte ${member.offset} of ${path.join(dir, at.file)} (its offset and skip disagree, or the file changed since)`
      }, `skip ${skip} ${mode}`)
    }
  }
  // In the first member (compressed byte 0) a record's offset is its skip: any other pair is refused at once.
  const first = full.records[3].position as Position
  t.equal(first.member?.offset, 0)
  t.throws(() => archiveSource(path.join(dir, '*.gz'), { from: { ...first, offset: first.offset + 7 } }),
    { code: 'SHOEBOX_INVALID_OPTION', option: 'from.member', message: /the member at compressed byte 0 starts the file: its skip must equal the offset/ })
  // The CLI: a usage error naming --from (exit 2).
  const text = `${at.file}:${at.offset}@${member.offset}+${member.skip - 5}`
  const r = await cli(['read', path.join(dir, '*.gz'), '--from', text, '--payload-only'])
  t.equal(r.stdout.length, 0)
  t.match(r.stderr, new RegExp(`^shoebox read: --from: ${text.replace(/[.+]/g, '\\$&')} names no record: `))
  t.equal(r.code, 2)
})
