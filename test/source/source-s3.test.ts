/**
 * archiveSource over s3:// against a real S3-protocol server (fauxqs, through
 * the fault proxy): the same records, in the same order, with the same damage
 * handling as reading the same files locally; listing by the pattern's
 * literal prefix; `from` resume; a connection broken mid-object resumed at
 * the byte where it stopped, so every record comes once; transfer statistics;
 * and the same for zstd objects (from a frame's ranged GET, fetch by positions,
 * a damaged frame and a torn object).
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import t, { type Test } from 'tap'
import {
  archiveSource, CorruptArchiveError, encodeRecords,
  type ArchiveSource, type ArchiveSourceOptions, type ShoeboxRecord, type StoreOptions
} from '../../lib/index.js'
import { answeredAtArrival, startFaultProxy, type FaultProxy } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'
import { garbleZstdFrame } from '../helpers.js'

const MiB = 1024 * 1024

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-source-s3-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

interface Collected {
  records: ShoeboxRecord[]
  events: Array<{ type: string, info: Record<string, unknown> }>
  error: unknown
  source: ArchiveSource
}

async function collect (source: ArchiveSource): Promise<Collected> {
  const records: ShoeboxRecord[] = []
  const events: Collected['events'] = []
  for (const type of ['file', 'fileEnd', 'skipped', 'corrupt']) {
    source.on(type, (info: Record<string, unknown>) => { events.push({ type, info }) })
  }
  let error: unknown
  try {
    for await (const record of source) records.push(record as ShoeboxRecord)
  } catch (err) {
    error = err
  }
  return { records, events, error, source }
}

function read (pattern: string, options?: ArchiveSourceOptions): Promise<Collected> {
  return collect(archiveSource(pattern, options))
}

/** Record n: ordered metadata and a payload of about `size` bytes (some binary; random above 100 bytes). */
function record (n: number, size = 20): { metadata: Array<[string, string]>, payload: Buffer } {
  if (size > 100) return { metadata: [['n', String(n)]], payload: randomBytes(size) }
  const payload = n % 7 === 3
    ? Buffer.concat([Buffer.from([0, 0xff, 0x1f, 0x8b]), randomBytes(Math.max(0, size - 4))])
    : Buffer.from(JSON.stringify({ n, pad: 'x'.repeat(Math.max(0, size - 20)) }))
  return { metadata: [['n', String(n)], ['kind', n % 2 === 0 ? 'even' : 'odd']], payload }
}

/** An archive of records from..to-1: plain, gzip as one member, or one member per `perMember` records. */
function archive (from: number, to: number, gzip: false | 'one' | number = false, size?: number): Buffer {
  const records = Array.from({ length: to - from }, (_, k) => record(from + k, size))
  if (gzip === false) return encodeRecords(records)
  if (gzip === 'one') return zlib.gzipSync(encodeRecords(records))
  const members: Buffer[] = []
  for (let i = 0; i < records.length; i += gzip) members.push(zlib.gzipSync(encodeRecords(records.slice(i, i + gzip))))
  return Buffer.concat(members)
}

/** What a read gave, with the names that differ between a bucket and its local mirror left out. */
function shape (c: Collected): unknown {
  return {
    records: plain(c.records),
    events: c.events.map((e) => ({ type: e.type, ...e.info, path: undefined, name: undefined, file: undefined })),
    error: c.error instanceof CorruptArchiveError ? { reason: c.error.reason, offset: c.error.offset, code: c.error.code } : c.error
  }
}

/** Comparable form of records: metadata, payload and (if any) the offset of the position. */
function plain (records: ShoeboxRecord[]): Array<{ metadata: Record<string, string>, payload: string, offset?: number }> {
  return records.map((r) => ({
    metadata: r.metadata,
    payload: r.payload.toString('hex'),
    ...(r.position === undefined ? {} : { offset: r.position.offset })
  }))
}

function numbers (records: ShoeboxRecord[]): number[] {
  return records.map((r) => Number(r.metadata.n))
}

/** GET requests as [object, range], sorted: the objects after the first are fetched ahead, so they arrive in any order. */
function inAnyOrder (gets: Array<Array<string | undefined>>): Array<Array<string | undefined>> {
  return [...gets].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
}

function seq (from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, k) => from + k)
}

interface Setup {
  s3: TestS3
  proxy: FaultProxy
  storeOptions: StoreOptions
  /** A local directory holding the same files as the bucket, at the same relative paths. */
  mirror: string
  /** Store `bytes` under `key` in the bucket and at the same path in the mirror. */
  put: (key: string, bytes: Buffer) => Promise<void>
}

let setups = 0
async function setup (t: Test): Promise<Setup> {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint)
  t.teardown(() => proxy.close())
  const client = s3.client()
  const mirror = path.join(tmp, `mirror-${setups++}`)
  return {
    s3,
    proxy,
    storeOptions: { endpoint: proxy.endpoint, credentials: s3.credentials, maxAttempts: 3 },
    mirror,
    async put (key, bytes) {
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes }))
      const file = path.join(mirror, ...key.split('/'))
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, bytes)
    }
  }
}

/** The layout most tests read: four archives whose key order is not their natural order, and decoys. */
async function standardObjects (s: Setup): Promise<void> {
  await s.put('data/f-1.shoebox', archive(0, 30))
  await s.put('data/f-2.shoebox.gz', archive(30, 70, 10))
  await s.put('data/f-9.shoebox.gz', archive(70, 80, 'one'))
  await s.put('data/f-10.shoebox', archive(80, 130))
  await s.put('data/notes.txt', Buffer.from('not an archive, not matched\n'))
  await s.put('data-old/f-0.shoebox', archive(1000, 1010))
  await s.put('other/f-0.shoebox', archive(2000, 2010))
}

const NATURAL = ['data/f-1.shoebox', 'data/f-2.shoebox.gz', 'data/f-9.shoebox.gz', 'data/f-10.shoebox']

t.test('natural name order, gzip and plain, the same records as the local read of the same files', async (t) => {
  const s = await setup(t)
  await standardObjects(s)
  const url = `s3://${s.s3.bucket}/data/*.shoebox*`
  const remote = await read(url, { storeOptions: s.storeOptions, positions: true })
  t.equal(remote.error, undefined)
  t.same(numbers(remote.records), seq(0, 130), "every record once, in natural name order ('f-9' before 'f-10', though S3 lists 'f-10' first)")
  t.same(remote.events.filter((e) => e.type === 'file').map((e) => e.info.name), NATURAL)
  t.same(remote.events.filter((e) => e.type === 'fileEnd').map((e) => e.info.records), [30, 40, 10, 50])
  t.same(remote.events.find((e) => e.type === 'file')?.info, { path: `s3://${s.s3.bucket}/data/f-1.shoebox`, name: 'data/f-1.shoebox' }, 'events name the object by URL and key')
  t.same([...new Set(remote.records.map((r) => r.position?.file))], NATURAL, "position.file is the object's key")

  const local = await read(path.join(s.mirror, 'data', '*.shoebox*'), { positions: true })
  t.equal(local.error, undefined)
  t.same(plain(remote.records), plain(local.records), 'metadata, payloads and offsets equal those of the local read')
  t.same(remote.records.map((r) => r.position?.file), local.records.map((r) => `data/${r.position?.file ?? ''}`))

  const stats = remote.source.stats()
  t.ok(stats !== undefined)
  const sizes = NATURAL.reduce((n, key) => n + (s.s3.object(key)?.length ?? 0), 0)
  t.equal(stats?.downloaded.objects, 4, 'stats: four objects downloaded')
  t.equal(stats?.downloaded.bytes, sizes, 'stats: their bytes')
  t.equal(stats?.uploaded.objects, 0)
  t.equal(stats?.retries, 0)
  const localStats = local.source.stats().downloaded
  t.same({ objects: localStats.objects, bytes: localStats.bytes }, { objects: 4, bytes: sizes }, 'a local source counts the same through its file store')
})

t.test('listing asks only for the literal prefix of the pattern, then filters with minimatch', async (t) => {
  const s = await setup(t)
  await standardObjects(s)
  await s.put('data/sub/f-3.shoebox', archive(500, 505))
  await s.put('data/sub/deeper/f-4.shoebox.gz', archive(505, 510, 'one'))

  const flat = await read(`s3://${s.s3.bucket}/data/*.gz`, { storeOptions: s.storeOptions })
  t.equal(flat.error, undefined)
  t.same(numbers(flat.records), seq(30, 80), 'only the .gz objects directly under data/')
  const lists = s.proxy.log.filter((e) => e.op === 'ListObjectsV2')
  t.equal(lists.length, 1)
  t.equal(new URL(lists[0].url, 'http://x').searchParams.get('prefix'), 'data/', "listed with prefix 'data/' (not 'data-old/', not 'other/')")

  s.proxy.log.length = 0
  const deep = await read(`s3://${s.s3.bucket}/data/sub/**/*.shoebox*`, { storeOptions: s.storeOptions })
  t.same(numbers(deep.records), [...seq(505, 510), ...seq(500, 505)], "a ** pattern reaches nested keys ('deeper/f-4' sorts before 'f-3')")
  t.same(s.proxy.log.filter((e) => e.op === 'ListObjectsV2').map((e) => new URL(e.url, 'http://x').searchParams.get('prefix')), ['data/sub/'])
  t.same(s.proxy.log.filter((e) => e.op === 'GetObject').map((e) => decodeURIComponent(new URL(e.url, 'http://x').pathname)).sort(),
    [`/${s.s3.bucket}/data/sub/deeper/f-4.shoebox.gz`, `/${s.s3.bucket}/data/sub/f-3.shoebox`], 'only the matched objects are read')

  // A prefix in the URL and a wildcard right after it.
  s.proxy.log.length = 0
  const prefixed = await read(`s3://${s.s3.bucket}/data/f-1*`, { storeOptions: s.storeOptions })
  t.same(numbers(prefixed.records), [...seq(0, 30), ...seq(80, 130)], "'f-1*' matches f-1 and f-10, in natural order")
  t.same(s.proxy.log.filter((e) => e.op === 'ListObjectsV2').map((e) => new URL(e.url, 'http://x').searchParams.get('prefix')), ['data/'])

  const none = await read(`s3://${s.s3.bucket}/nothing/here/*.gz`, { storeOptions: s.storeOptions })
  t.match(none.error, { code: 'SHOEBOX_NOT_FOUND', message: `no archive matches s3://${s.s3.bucket}/nothing/here/*.gz` }, 'no match: an error naming the pattern')
  t.same(none.records, [])
  // A prefix given as the pattern (`shoebox read s3://b/data`, as after `write --to s3://b/data`), with no key of
  // that name, stands for the objects directly under it, as 'data/*' does and as a local directory does for its
  // files: the four archives (not data/sub/'s, not data-old/'s), then data/notes.txt, which is none, refused.
  for (const given of ['data', 'data/']) {
    s.proxy.log.length = 0
    const prefix = await read(`s3://${s.s3.bucket}/${given}`, { storeOptions: s.storeOptions })
    t.same(numbers(prefix.records), seq(0, 130), `${given}: the archives directly under data/`)
    t.match((prefix.error as Error | undefined)?.message, /data\/notes\.txt/, `${given}: then the object that is no archive, named`)
    // A pattern with no wildcard is listed from itself, not from its parent: 'data' listed the whole bucket.
    t.same(s.proxy.log.filter((e) => e.op === 'ListObjectsV2').map((e) => new URL(e.url, 'http://x').searchParams.get('prefix')), [given])
  }
  // A prefix with objects only deeper down says so.
  await s.put('deep/only/f-5.shoebox', archive(600, 601))
  const deeper = await read(`s3://${s.s3.bucket}/deep`, { storeOptions: s.storeOptions })
  t.match(deeper.error, { code: 'SHOEBOX_NOT_FOUND', message: `no archive matches s3://${s.s3.bucket}/deep (a prefix with no objects directly under it)` })
  const notPrefix = await read(`s3://${s.s3.bucket}/dat`, { storeOptions: s.storeOptions })
  t.equal((notPrefix.error as Error | undefined)?.message, `no archive matches s3://${s.s3.bucket}/dat`, 'no hint for a key that only begins as a prefix does')
  const allowed = await read(`s3://${s.s3.bucket}/nothing/here/*.gz`, { storeOptions: s.storeOptions, allowEmpty: true })
  t.equal(allowed.error, undefined)
  t.same(allowed.records, [], 'allowEmpty: no records, no error')
})

t.test('a prefix of many keys: listing pages through them all', async (t) => {
  const s = await setup(t)
  // More than one ListObjectsV2 page (1000 keys): the archives sort after 1050 other keys, on the second page.
  const client = s.s3.client()
  const n = 1050
  for (let i = 0; i < n; i += 150) {
    await Promise.all(seq(i, Math.min(n, i + 150)).map(async (k) =>
      await client.send(new PutObjectCommand({ Bucket: s.s3.bucket, Key: `many/a-${k}.txt`, Body: Buffer.from('x') }))))
  }
  await s.put('many/z-10.shoebox', archive(10, 20))
  await s.put('many/z-9.shoebox', archive(0, 10))
  const all = await read(`s3://${s.s3.bucket}/many/*.shoebox`, { storeOptions: s.storeOptions })
  t.equal(all.error, undefined)
  t.same(numbers(all.records), seq(0, 20), 'the archives on the second page, in natural order')
  t.ok(s.proxy.count('ListObjectsV2') >= 2, `listed in ${s.proxy.count('ListObjectsV2')} pages`)
  t.equal(s.proxy.count('GetObject'), 2, 'only the matches are read')
})

t.test('from: exactly the records after the position, plain and gzip, as locally', async (t) => {
  const s = await setup(t)
  await standardObjects(s)
  const url = `s3://${s.s3.bucket}/data/*.shoebox*`
  const all = (await read(url, { storeOptions: s.storeOptions, positions: true })).records
  const local = (await read(path.join(s.mirror, 'data', '*.shoebox*'), { positions: true })).records
  t.equal(all.length, 130)
  // Inside a plain file, inside each kind of gzip file, at a file's last record, and the very last record.
  for (const i of [0, 12, 29, 45, 69, 75, 100, 129]) {
    const from = all[i].position
    if (from === undefined) throw new Error('no position')
    const rest = await read(url, { storeOptions: s.storeOptions, from })
    t.equal(rest.error, undefined)
    t.same(numbers(rest.records), seq(i + 1, 130), `from record ${i} (${from.file}:${from.offset}): every later record once`)
    const localFrom = local[i].position
    if (localFrom === undefined) throw new Error('no position')
    const localRest = await read(path.join(s.mirror, 'data', '*.shoebox*'), { from: localFrom })
    t.same(plain(rest.records), plain(localRest.records), '  the same records (and offsets) as resuming locally')
  }

  // A plain file is entered at the saved offset (a ranged GET) after its first 4 bytes say it is not compressed.
  s.proxy.log.length = 0
  const fromPlain = all[80 + 20].position
  if (fromPlain === undefined) throw new Error('no position')
  await read(url, { storeOptions: s.storeOptions, from: fromPlain })
  const gets = s.proxy.log.filter((e) => e.op === 'GetObject' && e.headers.range !== 'bytes=0-3')
  t.same(gets.map((e) => e.headers.range), [`bytes=${fromPlain.offset}-`], 'one ranged GET from the saved record')

  // A gzip file is entered at the saved record's member: one ranged GET from there, nothing before it.
  s.proxy.log.length = 0
  const fromGzip = all[55].position // data/f-2.shoebox.gz, ten records per member
  const member = fromGzip?.member
  if (fromGzip === undefined || member === undefined) throw new Error('no member in the position')
  t.ok(member.offset > 0, 'a member after the first')
  const rest = await read(url, { storeOptions: s.storeOptions, from: fromGzip })
  t.same(numbers(rest.records), seq(56, 130), 'every later record once')
  const gzGets = s.proxy.log.filter((e) => e.op === 'GetObject')
  t.same(inAnyOrder(gzGets.map((e) => [e.url.replace(/\?.*$/, '').split('/').pop(), e.headers.range])),
    inAnyOrder([['f-2.shoebox.gz', `bytes=${member.offset}-`], ['f-9.shoebox.gz', undefined], ['f-10.shoebox', undefined]]),
    'the gzip file from its member on (no head read), the later files whole (fetched ahead: in any order)')
})

t.test('a connection broken mid-object resumes at the byte where it stopped: every record once, in order', async (t) => {
  const s = await setup(t)
  // Big enough objects that a break lands in the middle: ~3 MiB plain, ~2 MiB gzip (incompressible payloads).
  const big = archive(0, 3000, false, 1000)
  const bigGz = archive(3000, 5000, 200, 1000)
  t.ok(big.length > 2.5 * MiB && bigGz.length > 1.5 * MiB)
  await s.put('run/a-1.shoebox', big)
  await s.put('run/a-2.shoebox.gz', bigGz)
  await s.put('run/a-3.shoebox', archive(5000, 5010))
  const expected = await read(path.join(s.mirror, 'run', '*'), { positions: true })

  const cut1 = MiB + 12345
  const cut2 = 700_000
  s.proxy.rules.push(
    // The plain object breaks twice (the second time in the resumed GET), the gzip one once.
    { match: (r) => r.op === 'GetObject' && r.url.includes('a-1.shoebox') && r.headers.range === undefined, fault: { kind: 'drop-response', afterBytes: cut1 }, times: 1 },
    { match: (r) => r.op === 'GetObject' && r.url.includes('a-1.shoebox') && r.headers.range !== undefined, fault: { kind: 'drop-response', afterBytes: cut1 }, times: 1 },
    { match: (r) => r.op === 'GetObject' && r.url.includes('a-2.shoebox.gz'), fault: { kind: 'drop-response', afterBytes: cut2 }, times: 1 }
  )
  const got = await read(`s3://${s.s3.bucket}/run/*`, { storeOptions: s.storeOptions, positions: true })
  t.equal(got.error, undefined, 'no error')
  t.ok(s.proxy.rules.every((r) => r.times === 0), 'all three breaks happened')
  t.same(numbers(got.records), seq(0, 5010), 'every record once, in order')
  t.same(plain(got.records), plain(expected.records), 'byte-identical records and offsets')

  const gets = s.proxy.log.filter((e) => e.op === 'GetObject')
  const ranges = (key: string): Array<string | undefined> => gets.filter((e) => e.url.includes(key)).map((e) => e.headers.range as string | undefined)
  t.same(ranges('a-1.shoebox'), [undefined, `bytes=${cut1}-`, `bytes=${2 * cut1}-`], 'the plain object: resumed at the first byte not received, twice')
  t.same(ranges('a-2.shoebox.gz'), [undefined, `bytes=${cut2}-`], 'the gzip object: resumed at the first byte not received')
  const etag = gets.find((e) => e.url.includes('a-1.shoebox') && e.headers.range !== undefined)?.headers['if-match']
  t.match(etag, /^"[0-9a-f]{32}"$/, 'a resumed GET is pinned to the version first read')

  const stats = got.source.stats()
  t.equal(stats?.downloaded.objects, 3)
  t.equal(stats?.downloaded.bytes, big.length + bigGz.length + (s.s3.object('run/a-3.shoebox')?.length ?? 0), 'bytes counted once each')
  t.ok((stats?.retries ?? 0) >= 3, `the resumes count as retries (${stats?.retries})`)
})

t.test('an object replaced while it is read: the resumed read refuses to mix versions', async (t) => {
  const s = await setup(t)
  await s.put('v/a.shoebox', archive(0, 3000, false, 1000))
  let replaced = false
  s.proxy.rules.push({ match: (r) => r.op === 'GetObject' && r.headers.range === undefined, fault: { kind: 'drop-response', afterBytes: MiB }, times: 1 })
  const source = archiveSource(`s3://${s.s3.bucket}/v/*.shoebox`, { storeOptions: s.storeOptions })
  const records: ShoeboxRecord[] = []
  let error: unknown
  try {
    for await (const r of source) {
      records.push(r as ShoeboxRecord)
      if (!replaced) {
        replaced = true
        await s.s3.client().send(new PutObjectCommand({ Bucket: s.s3.bucket, Key: 'v/a.shoebox', Body: archive(9000, 9100) }))
      }
    }
  } catch (err) {
    error = err
  }
  t.ok(error instanceof Error, 'the read fails')
  t.match((error as { code?: string }).code, /^SHOEBOX_/)
  t.match((error as Error).message, /s3:\/\/test-bucket: get v\/a\.shoebox/, 'naming the store, the operation and the key')
  t.ok(numbers(records).every((n, i) => n === i), 'nothing from the new version')
})

t.test('damage: strict and lenient behave as for the same files locally', async (t) => {
  const s = await setup(t)
  await s.put('d/a-1.shoebox', archive(0, 10))
  // A flipped byte in the payload of record 15.
  const damaged = archive(10, 30)
  const at = encodeRecords(Array.from({ length: 5 }, (_, k) => record(10 + k))).length
  damaged[at + 30] ^= 0xff
  await s.put('d/a-2.shoebox', damaged)
  // A gzip object cut short: the records before the cut come, then 'bad-compression'.
  const whole = archive(30, 60, 5)
  await s.put('d/a-3.shoebox.gz', whole.subarray(0, whole.length - 40))
  // Not an archive at all.
  await s.put('d/a-4.shoebox', Buffer.from('just some text, not records\n'.repeat(20)))
  await s.put('d/a-5.shoebox', archive(60, 70))

  const url = `s3://${s.s3.bucket}/d/*`
  const localPattern = path.join(s.mirror, 'd', '*')

  const lenientRemote = await read(url, { storeOptions: s.storeOptions, mode: 'lenient', positions: true })
  const lenientLocal = await read(localPattern, { mode: 'lenient', positions: true })
  t.equal(lenientRemote.error, undefined)
  t.same(shape(lenientRemote), shape(lenientLocal), 'lenient: the same records, corrupt and skipped events as locally')
  t.ok(lenientRemote.events.some((e) => e.type === 'corrupt' && e.info.reason === 'bad-checksum'), 'the flipped byte is reported')
  t.ok(lenientRemote.events.some((e) => e.type === 'corrupt' && e.info.reason === 'bad-compression'), 'the cut gzip is reported')
  t.ok(lenientRemote.events.some((e) => e.type === 'skipped' && e.info.name === 'd/a-4.shoebox'), 'the non-archive is skipped')
  t.match(lenientRemote.events.find((e) => e.type === 'corrupt')?.info, { path: `s3://${s.s3.bucket}/d/a-2.shoebox`, file: 'd/a-2.shoebox' })
  const n = numbers(lenientRemote.records)
  t.ok(!n.includes(15) && n.includes(16) && n.includes(69), 'the damaged record is skipped; those after it still come')

  const strictRemote = await read(url, { storeOptions: s.storeOptions })
  const strictLocal = await read(localPattern)
  t.ok(strictRemote.error instanceof CorruptArchiveError, 'strict: a CorruptArchiveError')
  t.same(shape(strictRemote), shape(strictLocal), 'strict: the same records before it, the same error')
  t.same(numbers(strictRemote.records), seq(0, 15), 'the records before the damage')
  t.match((strictRemote.error as Error).message, /s3:\/\/test-bucket\/d\/a-2\.shoebox/, 'the error names the object')
})

t.test('zstd objects: from a record in frame 2 of 3, a fetch by positions, a broken connection, a damaged frame and a torn object, as locally', async (t) => {
  const { zstdFrame } = await import('../../lib/compress/zstd.js')
  const s = await setup(t)
  /** Records from..to-1 as zstd frames of `perFrame` records each (incompressible payloads of `size` bytes when given). */
  const zstdArchive = async (from: number, to: number, perFrame: number, size?: number): Promise<Buffer> => {
    const frames: Buffer[] = []
    for (let i = from; i < to; i += perFrame) {
      frames.push(await zstdFrame(encodeRecords(Array.from({ length: Math.min(perFrame, to - i) }, (_, k) => record(i + k, size))), 1))
    }
    return Buffer.concat(frames)
  }
  await s.put('z/a-1.shoebox.zst', await zstdArchive(0, 30, 10))
  await s.put('z/a-2.shoebox.zst', await zstdArchive(30, 2030, 500, 1000))
  await s.put('z/a-3.shoebox', archive(2030, 2040))
  const url = `s3://${s.s3.bucket}/z/*`
  const localPattern = path.join(s.mirror, 'z', '*')
  const all = await read(url, { storeOptions: s.storeOptions, positions: true })
  const local = await read(localPattern, { positions: true })
  t.equal(all.error, undefined)
  t.same(numbers(all.records), seq(0, 2040))
  t.same(plain(all.records), plain(local.records), 'the same records and offsets as locally')

  // From record 15, in the second of a-1's three frames: one ranged GET from that frame on.
  s.proxy.log.length = 0
  const from = all.records[15].position
  const member = from?.member
  if (from === undefined || member === undefined) throw new Error('no frame in the position')
  t.ok(member.offset > 0 && member.skip > 0, 'inside a frame after the first')
  const rest = await read(url, { storeOptions: s.storeOptions, from })
  t.equal(rest.error, undefined)
  t.same(numbers(rest.records), seq(16, 2040), 'every later record once')
  const gets = s.proxy.log.filter((e) => e.op === 'GetObject').map((e) => [e.url.replace(/\?.*$/, '').split('/').pop(), e.headers.range])
  t.same(inAnyOrder(gets), inAnyOrder([['a-1.shoebox.zst', `bytes=${member.offset}-`], ['a-2.shoebox.zst', undefined], ['a-3.shoebox', undefined]]),
    'a-1 from its frame on, the later objects whole (fetched ahead: in any order)')

  // Fetched by positions: each record from its own frame.
  const wanted = [5, 25, 1200, 2035]
  const fetched = await read(url, { storeOptions: s.storeOptions, positions: wanted.map((i) => all.records[i].position as NonNullable<ShoeboxRecord['position']>) })
  t.equal(fetched.error, undefined)
  t.same(numbers(fetched.records), wanted, 'the records the positions name')

  // A connection broken in the middle of a-2 (incompressible: about 2 MB): resumed where it stopped.
  s.proxy.rules.push({ match: (r) => r.op === 'GetObject' && r.url.includes('a-2.shoebox.zst'), fault: { kind: 'drop-response', afterBytes: 700_000 }, times: 1 })
  const resumed = await read(url, { storeOptions: s.storeOptions, positions: true })
  t.equal(resumed.error, undefined)
  t.ok(s.proxy.rules.every((r) => r.times === 0), 'the break happened')
  t.same(plain(resumed.records), plain(all.records), 'every record once, in order')

  // a-1's second frame damaged; a-2 torn inside its third frame.
  const damaged = Buffer.from(s.s3.object('z/a-1.shoebox.zst') as Buffer)
  garbleZstdFrame(damaged, { start: member.offset }, 'header')
  await s.put('z/a-1.shoebox.zst', damaged)
  const whole = s.s3.object('z/a-2.shoebox.zst') as Buffer
  await s.put('z/a-2.shoebox.zst', whole.subarray(0, Math.floor(whole.length * 0.6)))
  const lenientRemote = await read(url, { storeOptions: s.storeOptions, mode: 'lenient', positions: true })
  const lenientLocal = await read(localPattern, { mode: 'lenient', positions: true })
  t.equal(lenientRemote.error, undefined)
  t.same(shape(lenientRemote), shape(lenientLocal), 'lenient: the same records and events as locally')
  const n = numbers(lenientRemote.records)
  t.ok(n.includes(9) && !n.includes(15) && n.includes(20) && n.includes(1030) && !n.includes(2029) && n.includes(2039), 'the damaged frame and the torn tail are skipped; the rest comes')
  // The torn frame's whole blocks are salvaged: the record they end inside is reported truncated there.
  t.same(lenientRemote.events.filter((e) => e.type === 'corrupt').map((e) => [e.info.file, e.info.reason]),
    [['z/a-1.shoebox.zst', 'bad-compression'], ['z/a-2.shoebox.zst', 'bad-compression'], ['z/a-2.shoebox.zst', 'truncated']], 'the damaged frame, the torn frame, the record cut by the tear')
  const strictRemote = await read(url, { storeOptions: s.storeOptions })
  t.same(shape(strictRemote), shape(await read(localPattern)), 'strict: the same records before it and the same error as locally')
  t.same(numbers(strictRemote.records), seq(0, 10), 'the records of the frame before the damage')
  t.match(strictRemote.error, { code: 'SHOEBOX_BAD_COMPRESSION', offset: member.offset, message: /s3:\/\/test-bucket\/z\/a-1\.shoebox\.zst/ })
})

t.test('many small objects: the next ones are fetched while one is read, not one round trip after another', async (t) => {
  const { s3, proxy, storeOptions, put } = await setup(t)
  for (let i = 0; i < 8; i++) await put(`small/o${i}.shoebox`, archive(i, i + 1))
  const overlap = answeredAtArrival(proxy, 'GetObject', 600)
  const c = await read(`s3://${s3.bucket}/small/*.shoebox`, { storeOptions })
  t.equal(c.error, undefined)
  t.same(numbers(c.records), seq(0, 8), 'every record, in order')
  t.equal(overlap.length, 8, 'one GET per object')
  t.ok(overlap.filter((n) => n === 0).length >= 3, `several GETs under way before the first answer (${overlap.join(' ')})`)
})

t.test('follow: a listing that fails past the store\'s retries is said and tried again after a pause; a denied one fails at once', async (t) => {
  // One failed listing (a network blip during a long tail) ended the follow with its error.
  const s = await setup(t)
  await s.put('tail/a-1.shoebox', archive(0, 5))
  const source = archiveSource(`s3://${s.s3.bucket}/tail/*.shoebox`, { storeOptions: s.storeOptions, follow: true, pollInterval: '20ms' })
  const failed: Array<{ path: string, code: unknown, retryMs: number }> = []
  source.on('listFailed', (e: { path: string, error: { code?: unknown }, retryMs: number }) => failed.push({ path: e.path, code: e.error.code, retryMs: e.retryMs }))
  const got: number[] = []
  let error: unknown
  const done = (async () => {
    try {
      for await (const r of source) {
        const n = Number((r as ShoeboxRecord).metadata.n)
        got.push(n)
        if (n === 4) {
          // Every try of the next listing fails (maxAttempts 3), twice over; then a new object comes.
          s.proxy.rules.push({ match: (req) => req.op === 'ListObjectsV2', fault: { kind: 'status', status: 500, code: 'InternalError' }, times: 6 })
          setTimeout(() => { void s.put('tail/a-2.shoebox', archive(5, 8)) }, 100)
        }
        if (n === 7) break
      }
    } catch (err) {
      error = err
    }
  })()
  await done
  t.equal(error, undefined)
  t.same(got, [0, 1, 2, 3, 4, 5, 6, 7], 'every record, the tail going on past the failed listings')
  t.same(failed, [
    { path: `s3://${s.s3.bucket}/tail/*.shoebox`, code: 'SHOEBOX_STORE_FAILED', retryMs: 1000 },
    { path: `s3://${s.s3.bucket}/tail/*.shoebox`, code: 'SHOEBOX_STORE_FAILED', retryMs: 2000 }
  ], 'each said, the pause growing')

  // Refused credentials do not heal: the follow fails at once, with the store's error.
  const denied = archiveSource(`s3://${s.s3.bucket}/tail/*.shoebox`, { storeOptions: s.storeOptions, follow: true, pollInterval: '20ms' })
  const deniedFailures: unknown[] = []
  denied.on('listFailed', (e) => deniedFailures.push(e))
  let seen = 0
  let deniedError: unknown
  try {
    for await (const r of denied) {
      void r
      if (++seen === 8) s.proxy.rules.push({ match: (req) => req.op === 'ListObjectsV2', fault: { kind: 'status', status: 403, code: 'AccessDenied' } })
    }
  } catch (err) {
    deniedError = err
  }
  t.equal(seen, 8)
  t.match(deniedError, { code: 'SHOEBOX_DENIED' })
  t.same(deniedFailures, [])
})
