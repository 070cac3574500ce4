/**
 * archiveSource(pattern, { positions: [...] }) (fetch-records.ts): exactly
 * the records at the given positions, in the given order, from plain, gzip
 * and zstd archives written by rollingSink, local and on a real S3 server;
 * bytes read (counted by the store, not timed) far below the file's size;
 * each failure typed, naming the file and offset, after the records before it.
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { archiveSource, rollingSink, type ArchiveSourceOptions, type Position, type ShoeboxRecord } from '../../lib/index.js'
import { zstdBlockEnds, zstdFirstBlock } from '../helpers.js'
import { startS3 } from '../s3-server.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-fetch-records-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const CODECS = ['none', 'gzip', 'zstd'] as const
type Codec = typeof CODECS[number]

/** Record n: about 1 KiB of poorly compressible text (so files hold many members), every 500th far over a fetch window. */
const input = Array.from({ length: 3000 }, (_, n) => ({
  metadata: { n: String(n), note: n % 3 === 0 ? 'ü ✓' : '' },
  payload: randomBytes(n % 500 === 7 ? 200_000 : 700 + (n % 13)).toString('base64')
}))

const dirOf = (codec: Codec): string => path.join(tmp, codec)

interface Got { records: ShoeboxRecord[], error: unknown, bytesRead: number }

async function read (pattern: string, options: ArchiveSourceOptions): Promise<Got> {
  const source = archiveSource(pattern, options)
  const records: ShoeboxRecord[] = []
  let error: unknown = null
  try {
    for await (const record of source) records.push(record as ShoeboxRecord)
  } catch (err) {
    error = err
  }
  return { records, error, bytesRead: source.stats().downloaded.bytes }
}

const view = (records: ShoeboxRecord[]): Array<{ n: string, note: string, position: Position | undefined, payload: string }> =>
  records.map((r) => ({ n: r.metadata.n, note: r.metadata.note, position: r.position, payload: r.payload.toString() }))

/** Every record of each codec's archives, read whole with positions: what fetching must give back. */
const full = new Map<Codec, ShoeboxRecord[]>()

t.before(async () => {
  for (const codec of CODECS) {
    // Small blocks: many members (frames) per file; two files.
    await pipeline(Readable.from(input), rollingSink({ dir: dirOf(codec), compress: codec, blockSize: 16384, roll: { records: 1500 }, flushInterval: 0 }))
    const all = await read(path.join(dirOf(codec), '*'), { positions: true })
    if (all.error !== null || all.records.length !== input.length) throw new Error(`${codec}: full read failed: ${String(all.error)}`)
    full.set(codec, all.records)
  }
})

const PICK = [2999, 0, 1500, 1499, 7, 0, 1777, 2507, 42]

for (const codec of CODECS) {
  t.test(`${codec}: the records at the positions, in the given order, with their positions`, async (t) => {
    const records = full.get(codec) as ShoeboxRecord[]
    if (codec !== 'none') t.ok(records.every((r) => r.position?.member !== undefined), 'every compressed record names its member')
    const positions = PICK.map((i) => records[i].position as Position)
    const got = await read(path.join(dirOf(codec), '*'), { positions })
    t.equal(got.error, null)
    t.same(view(got.records), view(PICK.map((i) => records[i])))
    t.same(positions, PICK.map((i) => records[i].position), 'the positions given are not changed')
  })

  t.test(`${codec}: fetching 3 records from a file of many members reads far less than the file`, async (t) => {
    const records = full.get(codec) as ShoeboxRecord[]
    const positions = [100, 800, 1400].map((i) => records[i].position as Position)
    const size = fs.statSync(path.join(dirOf(codec), positions[0].file)).size
    const got = await read(path.join(dirOf(codec), '*'), { positions })
    t.equal(got.error, null)
    t.same(got.records.map((r) => r.metadata.n), ['100', '800', '1400'])
    t.ok(got.bytesRead > 0 && got.bytesRead <= 3 * 64 * 1024, `read ${got.bytesRead} bytes: at most two windows per record`)
    t.ok(got.bytesRead * 10 < size, `read ${got.bytesRead} of the file's ${size} bytes`)
  })

  t.test(`${codec}: a record far larger than a window is read whole`, async (t) => {
    const records = full.get(codec) as ShoeboxRecord[]
    const got = await read(path.join(dirOf(codec), '*'), { positions: [records[2007].position as Position, records[8].position as Position] })
    t.equal(got.error, null)
    t.same(view(got.records), view([records[2007], records[8]]))
  })
}

t.test('no positions: an empty stream that reads nothing', async (t) => {
  const got = await read(path.join(dirOf('gzip'), '*'), { positions: [] })
  t.same(got, { records: [], error: null, bytesRead: 0 })
})

t.test('on S3: the same records as the local files, with ranged reads', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const client = s3.client()
  for (const codec of CODECS) {
    for (const name of fs.readdirSync(dirOf(codec))) {
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `archives/${codec}/${name}`, Body: fs.readFileSync(path.join(dirOf(codec), name)) }))
    }
  }
  const storeOptions = { endpoint: s3.endpoint, credentials: s3.credentials, region: s3.region }
  for (const codec of CODECS) {
    const records = full.get(codec) as ShoeboxRecord[]
    const pattern = `s3://${s3.bucket}/archives/${codec}/*`
    const remote = await read(pattern, { storeOptions, positions: true })
    const positions = PICK.map((i) => remote.records[i].position as Position)
    t.same(positions.map((p) => p.file.replace(`archives/${codec}/`, '')), PICK.map((i) => records[i].position?.file), `${codec}: keys name the files`)
    const got = await read(pattern, { storeOptions, positions })
    t.equal(got.error, null, codec)
    t.same(got.records.map((r) => r.payload.toString()), PICK.map((i) => records[i].payload.toString()), `${codec}: the same payloads`)
    const few = await read(pattern, { storeOptions, positions: [100, 1400, 2999].map((i) => remote.records[i].position as Position) })
    t.same(few.records.map((r) => r.metadata.n), ['100', '1400', '2999'])
    t.ok(few.bytesRead * 20 < remote.bytesRead, `${codec}: 3 records: ${few.bytesRead} bytes fetched, ${remote.bytesRead} in all`)
  }
  const missing = await read(`s3://${s3.bucket}/archives/none/*`, { storeOptions, positions: [{ file: 'archives/none/gone.shoebox', offset: 0 }] })
  t.match(missing.error, { code: 'SHOEBOX_NOT_FOUND', message: /position 0 in s3:\/\/test-bucket\/archives\/none\/gone\.shoebox: / })
  const file = (full.get('none') as ShoeboxRecord[])[0].position?.file as string
  const size = fs.statSync(path.join(dirOf('none'), file)).size
  const past = await read(`s3://${s3.bucket}/archives/none/*`, { storeOptions, positions: [{ file: `archives/none/${file}`, offset: size + 10 }] })
  t.match(past.error, { code: 'SHOEBOX_NOT_FOUND', message: `s3://test-bucket/archives/none/${file}: offset ${size + 10} is past the end of the archive` })
})

t.test('failures name the file and offset, after the records before them', async (t) => {
  const plain = full.get('none') as ShoeboxRecord[]
  const gzip = full.get('gzip') as ShoeboxRecord[]
  const zstd = full.get('zstd') as ShoeboxRecord[]
  const good = plain[5].position as Position
  const at = (codec: Codec, p: Position): string => path.join(dirOf(codec), p.file)
  const plainSize = fs.statSync(at('none', good)).size
  const gz = gzip[1200].position as Required<Position>
  const gzSize = fs.statSync(at('gzip', gz)).size
  const zs = zstd[1200].position as Required<Position>
  const cases: Array<{ name: string, codec: Codec, position: Position, code: string, message: string | RegExp }> = [
    { name: 'a file that is gone', codec: 'none', position: { file: 'gone.shoebox', offset: 10 }, code: 'SHOEBOX_NOT_FOUND', message: /^position 10 in .*gone\.shoebox: / },
    { name: 'an offset past the end', codec: 'none', position: { ...good, offset: plainSize }, code: 'SHOEBOX_NOT_FOUND', message: `${at('none', good)}: offset ${plainSize} is past the end of the archive` },
    { name: 'an offset inside a record', codec: 'none', position: { ...good, offset: good.offset + 1 }, code: 'SHOEBOX_BAD_MAGIC', message: `${at('none', good)}: at byte ${good.offset + 1}: bad-magic` },
    { name: 'a member offset where no member starts', codec: 'gzip', position: { ...gz, member: { ...gz.member, offset: gz.member.offset + 1 } }, code: 'SHOEBOX_BAD_COMPRESSION', message: `${at('gzip', gz)}: at byte ${gz.member.offset + 1}: bad-compression: no gzip member or zstd frame starts here` },
    { name: 'a member past the end', codec: 'gzip', position: { ...gz, member: { ...gz.member, offset: gzSize } }, code: 'SHOEBOX_NOT_FOUND', message: `${at('gzip', gz)}: the member at compressed byte ${gzSize} is past the end of the file` },
    { name: 'a skip inside a record', codec: 'gzip', position: { ...gz, offset: gz.offset + 3, member: { ...gz.member, skip: gz.member.skip + 3 } }, code: 'SHOEBOX_BAD_MAGIC', message: `${at('gzip', gz)}: at byte ${gz.offset + 3}: bad-magic` },
    { name: 'a skip past the last member', codec: 'gzip', position: { ...gz, offset: gz.offset + 1e8, member: { ...gz.member, skip: gz.member.skip + 1e8 } }, code: 'SHOEBOX_NOT_FOUND', message: `${at('gzip', gz)}: offset ${gz.offset + 1e8} is past the end of the archive` },
    { name: 'a frame offset where no frame starts', codec: 'zstd', position: { ...zs, member: { ...zs.member, offset: zs.member.offset + 1 } }, code: 'SHOEBOX_BAD_COMPRESSION', message: `${at('zstd', zs)}: at byte ${zs.member.offset + 1}: bad-compression` },
    { name: 'a skip past the last frame', codec: 'zstd', position: { ...zs, offset: zs.offset + 1e8, member: { ...zs.member, skip: zs.member.skip + 1e8 } }, code: 'SHOEBOX_NOT_FOUND', message: `${at('zstd', zs)}: offset ${zs.offset + 1e8} is past the end of the archive` },
    { name: 'a file the pattern does not match', codec: 'none', position: { file: '../gzip/x', offset: 0 }, code: 'SHOEBOX_NOT_FOUND', message: `positions: no archive named ../gzip/x matches ${path.join(dirOf('none'), '*')}` }
  ]
  for (const c of cases) {
    const records = full.get(c.codec) as ShoeboxRecord[]
    const before = [records[3].position as Position, records[1].position as Position]
    const got = await read(path.join(dirOf(c.codec), '*'), { positions: [...before, c.position, records[4].position as Position] })
    t.same(got.records.map((r) => r.metadata.n), ['3', '1'], `${c.name}: the records before it are delivered`)
    t.match(got.error, { code: c.code, message: c.message }, c.name)
  }
})

t.test('a file cut inside a record: truncated, naming the file and the record', async (t) => {
  const records = full.get('none') as ShoeboxRecord[]
  const last = records[1499].position as Position
  const dir = path.join(tmp, 'cut')
  fs.mkdirSync(dir)
  const bytes = fs.readFileSync(path.join(dirOf('none'), last.file))
  fs.writeFileSync(path.join(dir, last.file), bytes.subarray(0, last.offset + 100))
  const got = await read(path.join(dir, '*'), { positions: [records[0].position as Position, last] })
  t.same(got.records.map((r) => r.metadata.n), ['0'])
  t.match(got.error, { code: 'SHOEBOX_TRUNCATED', message: `${path.join(dir, last.file)}: at byte ${last.offset}: truncated` })
})

t.test('a zstd file torn inside a frame: the records a read salvages from it are fetched; one past them fails at the frame', async (t) => {
  const dir = path.join(tmp, 'torn-zstd')
  // Flush blocks of 1 MiB (the default): frames of several blocks.
  await pipeline(Readable.from(input.slice(0, 1500)), rollingSink({ dir, compress: 'zstd', flushInterval: 0 }))
  const [name] = fs.readdirSync(dir)
  const whole = await read(path.join(dir, '*'), { positions: true })
  const bytes = fs.readFileSync(path.join(dir, name))
  const ends = zstdBlockEnds(bytes)
  t.ok(ends.length >= 4, `the first frame has ${ends.length} blocks`)
  fs.writeFileSync(path.join(dir, name), bytes.subarray(0, ends[2] + 50)) // torn in its fourth block
  const torn = await read(path.join(dir, '*'), { positions: true })
  t.match(torn.error, { code: 'SHOEBOX_BAD_COMPRESSION', offset: 0 })
  t.ok(torn.records.length > 0, `a read salvages ${torn.records.length} records`)
  t.same(view(torn.records), view(whole.records.slice(0, torn.records.length)))
  const got = await read(path.join(dir, '*'), { positions: torn.records.map((r) => r.position as Position) })
  t.equal(got.error, null)
  t.same(view(got.records), view(torn.records), 'each fetched by its position')
  const beyond = whole.records[torn.records.length].position as Position
  const past = await read(path.join(dir, '*'), { positions: [torn.records[0].position as Position, beyond] })
  t.same(past.records.map((r) => r.metadata.n), ['0'])
  t.match(past.error, { code: 'SHOEBOX_BAD_COMPRESSION', offset: 0, message: new RegExp(`${name}: at byte 0: .*is cut short.*\\(3 of 3 whole blocks\\) were read, and the record at ${beyond.offset} is not in them`) })
})

t.test('a fetch from a frame whose block header is bad names the block at its offset in the file', async (t) => {
  const records = full.get('zstd') as ShoeboxRecord[]
  const target = records[1200].position as Required<Position>
  t.ok(target.member.offset > 0, 'a frame after the first')
  const dir = path.join(tmp, 'bad-block')
  fs.mkdirSync(dir)
  const bytes = fs.readFileSync(path.join(dirOf('zstd'), target.file))
  const header = target.member.offset + zstdFirstBlock(bytes.subarray(target.member.offset))
  bytes[header] |= 0x06 // the reserved block type
  fs.writeFileSync(path.join(dir, target.file), bytes)
  const got = await read(path.join(dir, '*'), { positions: [records[0].position as Position, target] })
  t.same(got.records.map((r) => r.metadata.n), ['0'])
  t.match(got.error, { code: 'SHOEBOX_BAD_COMPRESSION', offset: target.member.offset, message: new RegExp(`block at compressed byte ${header} has the reserved type`) })
})

t.test('malformed positions are refused at once', async (t) => {
  const pattern = path.join(dirOf('none'), '*')
  for (const bad of [[{ file: '', offset: 0 }], [{ file: 'f', offset: -1 }], [{ file: 'f', offset: 1.5 }], [null], [{ file: 'f', offset: 5, member: { offset: 0, skip: 6 } }]]) {
    t.throws(() => archiveSource(pattern, { positions: bad as unknown as Position[] }), { code: 'SHOEBOX_INVALID_OPTION' }, JSON.stringify(bad))
  }
  const one = [(full.get('none') as ShoeboxRecord[])[0].position as Position]
  t.throws(() => archiveSource(pattern, { positions: one, from: one[0] }), { code: 'SHOEBOX_INVALID_OPTION', message: /option from: does not apply/ })
  t.throws(() => archiveSource(pattern, { positions: one, follow: true }), { code: 'SHOEBOX_INVALID_OPTION', message: /option follow: does not apply/ })
})
