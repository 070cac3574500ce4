/**
 * The s3:// store against the Store contract, on a real S3-protocol server
 * (fauxqs) behind the fault proxy: put/get/range/list (prefix isolation,
 * continuation), stat/exists/delete, content type and metadata, reads that
 * resume where a broken body stopped (pinned to one version), and the
 * client configuration read from options and the environment.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import t, { type Test } from 'tap'
import {
  openStore, ShoeboxError, StoreError, type ObjectInfo, type Store, type StoreOptions
} from '../../lib/index.js'
import { makeS3Client } from '../../lib/store/s3-client.js'
import type { LazyS3Store } from '../../lib/store/lazy-store.js'
import { S3Store } from '../../lib/store/s3-store.js'
import { parseS3Url } from '../../lib/store/s3-config.js'
import { startFauxS3 } from '../../bench/s3-server.js'
import { startFaultProxy, type FaultProxy, type FaultRule } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'

const MiB = 1024 * 1024
const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) & 0xff))
const big = randomBytes(3 * MiB)
const md5 = (b: Buffer): string => `"${createHash('md5').update(b).digest('hex')}"`

interface Setup { s3: TestS3, proxy: FaultProxy, store: Store, raw: S3Client }

/** A server, a proxy before it, a store on s3://bucket/pfx through the proxy, and a raw client straight to the server. */
async function setup (t: Test, options: { prefix?: string, rules?: FaultRule[], store?: StoreOptions } = {}): Promise<Setup> {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, options.rules)
  t.teardown(() => proxy.close())
  const url = `s3://${s3.bucket}${options.prefix === undefined ? '/pfx' : options.prefix}`
  const store = openStore(url, { endpoint: proxy.endpoint, credentials: s3.credentials, maxAttempts: 4, ...options.store })
  t.teardown(() => store.close())
  return { s3, proxy, store, raw: s3.client() }
}

async function readAll (stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function errorOf (p: Promise<unknown>): Promise<unknown> {
  return await p.then(() => { throw new Error('expected a rejection') }, (err: unknown) => err)
}

async function list (store: Store, prefix?: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = []
  for await (const info of store.list(prefix)) out.push(info)
  return out
}

t.test('put a Buffer, a string and a stream under the URL prefix; get them back', async (t) => {
  const { s3, store, proxy } = await setup(t)
  t.ok(await (store as LazyS3Store).loaded() instanceof S3Store, 'openStore(s3://...) is an S3Store once loaded')
  t.equal(store.url, 's3://test-bucket/pfx')
  const r1 = await store.put('buf.bin', bytes)
  t.same(r1, { key: 'buf.bin', bytes: 1000, etag: md5(bytes) })
  const r2 = await store.put('dir/text.txt', 'hello, wörld\n')
  t.same(r2, { key: 'dir/text.txt', bytes: 14, etag: md5(Buffer.from('hello, wörld\n')) })
  const r3 = await store.put('stream.bin', Readable.from([bytes.subarray(0, 1), bytes.subarray(1, 600), bytes.subarray(600)]))
  t.same(r3, { key: 'stream.bin', bytes: 1000, etag: md5(bytes) })
  const r4 = await store.put('empty', Buffer.alloc(0))
  t.same(r4, { key: 'empty', bytes: 0, etag: md5(Buffer.alloc(0)) })

  t.same(s3.keys(), ['pfx/buf.bin', 'pfx/dir/text.txt', 'pfx/empty', 'pfx/stream.bin'], 'stored under the prefix')
  t.same(s3.object('pfx/buf.bin'), bytes)
  t.same(s3.object('pfx/empty'), Buffer.alloc(0))
  t.same(await readAll(store.get('buf.bin')), bytes)
  t.equal((await readAll(store.get('dir/text.txt'))).toString(), 'hello, wörld\n')
  t.same(await readAll(store.get('stream.bin')), bytes)
  t.same(await readAll(store.get('empty')), Buffer.alloc(0))
  t.ok(proxy.log.every((e) => e.status === 200), 'all through the proxy, no faults')

  const missing = await errorOf(readAll(store.get('nope')))
  t.ok(missing instanceof StoreError)
  t.match(missing, { code: 'SHOEBOX_NOT_FOUND', operation: 'get', key: 'nope', store: 's3://test-bucket/pfx' })

  t.match(store.stats(), { uploaded: { bytes: 2014, objects: 4 }, downloaded: { bytes: 2014, objects: 4 }, retries: 0 })
})

t.test('ranges', async (t) => {
  const { store, proxy } = await setup(t)
  await store.put('r', bytes)
  const cases: Array<[{ start: number, end?: number }, Buffer]> = [
    [{ start: 0 }, bytes],
    [{ start: 10, end: 20 }, bytes.subarray(10, 20)],
    [{ start: 990 }, bytes.subarray(990)],
    [{ start: 0, end: 1 }, bytes.subarray(0, 1)],
    [{ start: 999, end: 1000 }, bytes.subarray(999)],
    [{ start: 5, end: 5 }, Buffer.alloc(0)],
    [{ start: 990, end: 5000 }, bytes.subarray(990)],
    [{ start: 1000 }, Buffer.alloc(0)],
    [{ start: 5000 }, Buffer.alloc(0)]
  ]
  for (const [range, expected] of cases) {
    t.same(await readAll(store.get('r', { range })), expected, JSON.stringify(range))
  }
  const ranges = proxy.log.filter((e) => e.op === 'GetObject').map((e) => e.headers.range)
  t.ok(ranges.includes('bytes=10-19'), 'a ranged GET, not a whole one cut locally')
  t.ok(ranges.includes('bytes=990-'))
})

t.test('list: relative keys, in order, only below the URL prefix', async (t) => {
  const { store, raw, s3 } = await setup(t)
  for (const key of ['pfx2/sibling', 'pfx', 'outside/x', 'a/pfx/y']) {
    await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: Buffer.from('not mine') }))
  }
  for (const [i, key] of ['b/2', 'a/1', 'b/1', 'c'].entries()) await store.put(key, 'x'.repeat(i + 1))
  const all = await list(store)
  t.same(all.map((o) => o.key), ['a/1', 'b/1', 'b/2', 'c'])
  t.same(all.map((o) => o.size), [2, 3, 1, 4])
  for (const o of all) {
    t.equal(o.etag, md5(Buffer.from('x'.repeat(o.size))), `${o.key} etag`)
    t.ok(o.mtime instanceof Date && Math.abs(o.mtime.getTime() - Date.now()) < 60_000, `${o.key} mtime`)
  }
  t.same((await list(store, 'b/')).map((o) => o.key), ['b/1', 'b/2'])
  t.same((await list(store, 'b/2')).map((o) => o.key), ['b/2'])
  t.same(await list(store, 'zzz'), [])

  // a store at the bucket's root sees everything, with full keys
  const rootStore = openStore(`s3://${s3.bucket}`, { endpoint: s3.endpoint, credentials: s3.credentials })
  t.teardown(() => rootStore.close())
  t.equal(rootStore.url, 's3://test-bucket')
  t.same((await list(rootStore)).map((o) => o.key), s3.keys())
  t.same((await list(rootStore, 'pfx/')).map((o) => o.key), ['pfx/a/1', 'pfx/b/1', 'pfx/b/2', 'pfx/c'])
  // a trailing slash on the URL changes nothing
  const slashed = openStore(`s3://${s3.bucket}/pfx/`, { endpoint: s3.endpoint, credentials: s3.credentials })
  t.teardown(() => slashed.close())
  t.equal(slashed.url, 's3://test-bucket/pfx')
  t.same((await list(slashed)).map((o) => o.key), ['a/1', 'b/1', 'b/2', 'c'])
})

t.test('list follows continuation tokens past 1,000 keys', async (t) => {
  // 1,100 PutObjects through the SDK take seconds; fill the server's store directly instead.
  const faux = await startFauxS3({ bucket: 'pages' })
  t.teardown(() => faux.app.close())
  const proxy = await startFaultProxy(faux.endpoint)
  t.teardown(() => proxy.close())
  const server = faux.store as unknown as { putObject (bucket: string, key: string, body: Buffer): void }
  const n = 1100
  const keys = Array.from({ length: n }, (_, i) => `many/${String(i).padStart(5, '0')}`)
  for (const [i, key] of keys.entries()) server.putObject('pages', `deep/er/${key}`, Buffer.alloc(i % 7))
  server.putObject('pages', 'deep/other', Buffer.from('no'))
  server.putObject('pages', 'deep/er-not', Buffer.from('no'))
  const store = openStore('s3://pages/deep/er', { endpoint: proxy.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
  t.teardown(() => store.close())

  const listed = await list(store, 'many/')
  t.equal(listed.length, n)
  t.same(listed.map((o) => o.key), keys, 'every key once, in order')
  t.ok(listed.every((o, i) => o.size === i % 7), 'sizes')
  t.equal(proxy.count('ListObjectsV2'), 2, 'two pages')
  const second = proxy.log.filter((e) => e.op === 'ListObjectsV2')[1]
  t.match(second.url, /continuation-token=/)
  t.equal(new URL(second.url, 'http://x').searchParams.get('prefix'), 'deep/er/many/')
  t.same((await list(store)).map((o) => o.key), keys, 'the whole store: the same')
})

t.test('stat, exists, delete', async (t) => {
  const { store, s3 } = await setup(t)
  await store.put('a/b', bytes)
  const info = await store.stat('a/b')
  t.same({ ...info, mtime: undefined }, { key: 'a/b', size: 1000, etag: md5(bytes), mtime: undefined })
  t.ok(info.mtime instanceof Date && Math.abs(info.mtime.getTime() - Date.now()) < 60_000)
  t.equal(await store.exists('a/b'), true)
  t.equal(await store.exists('a/c'), false)
  t.equal(await store.exists('a'), false)
  const missing = await errorOf(store.stat('a/c'))
  t.ok(missing instanceof StoreError)
  t.match(missing, { code: 'SHOEBOX_NOT_FOUND', operation: 'stat', key: 'a/c', message: /^s3:\/\/test-bucket\/pfx: stat a\/c: / })
  await store.delete('a/b')
  t.same(s3.keys(), [])
  t.equal(await store.exists('a/b'), false)
  await store.delete('a/b')
  await store.delete('never/was')
  t.pass('deleting a missing object is ok')
  t.same(store.stats().errors, {}, 'a missing object asked about is not an error')
})

t.test('many requests at once warn of no listener leak (each holds the store\'s close signal, or its writer\'s)', async (t) => {
  // The latency keeps all 12 under way together: `shoebox upload --concurrency 16` printed Node's
  // MaxListenersExceededWarning on stderr, 11 abort listeners on one AbortSignal.
  const { store } = await setup(t, { rules: [{ match: (r) => r.op === 'HeadObject' || r.op === 'UploadPart', fault: { kind: 'latency', ms: 200 } }] })
  await store.put('a', bytes)
  const warnings: string[] = []
  const onWarning = (w: Error): void => { if (w.name === 'MaxListenersExceededWarning') warnings.push(w.message) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const all = await Promise.all(Array.from({ length: 12 }, async () => await store.stat('a')))
  t.equal(all.length, 12)
  // One writer's parts in flight (`shoebox upload --queue-size 12`) each listen to its destroy's signal.
  const parts = Buffer.alloc(12 * 5 * MiB, 7)
  const writer = store.writer('parts', { partSize: '5MiB', queueSize: 12 })
  await new Promise<void>((resolve, reject) => { writer.on('error', reject).end(parts, resolve) })
  t.equal((await store.stat('parts')).size, parts.length)
  // A warning is emitted on the next tick.
  await new Promise((resolve) => setImmediate(resolve))
  t.same(warnings, [], 'no listener leak warning')
})

t.test('keys that are no portable path are refused for writes and deletes before any request; reads and aborts refuse only the empty key and NUL', async (t) => {
  const { store, proxy } = await setup(t)
  const check = (err: unknown, what: string): void => {
    t.ok(err instanceof ShoeboxError && err.code === 'SHOEBOX_BAD_KEY', `${what}: SHOEBOX_BAD_KEY`)
    t.match((err as Error).message, /^s3:\/\/test-bucket\/pfx: key /, `${what}: the message names the store`)
  }
  for (const key of ['../x', 'a/../../b', '/abs', 'a\0b', 'a\\b', 'C:x', 'a//b', '', 'a/./b']) {
    const label = JSON.stringify(key)
    check(await errorOf(store.put(key, 'x')), `put ${label}`)
    check(await errorOf((async () => store.writer(key))()), `writer ${label}`)
    check(await errorOf(store.delete(key)), `delete ${label}`)
  }
  for (const key of ['a\0b', '']) {
    const label = JSON.stringify(key)
    check(await errorOf(store.stat(key)), `stat ${label}`)
    check(await errorOf(store.exists(key)), `exists ${label}`)
    check(await errorOf(store.delete(key)), `delete ${label}`)
    check(await errorOf(store.abortUpload(key, 'upload-id')), `abortUpload ${label}`)
    // get may throw at once or fail the stream; either way, with BAD_KEY
    check(await errorOf((async () => await readAll(store.get(key)))()), `get ${label}`)
  }
  t.same(proxy.log, [], 'nothing was sent')
  // S3 holds these names (a key is a name, not a path: sent as it is, it climbs nowhere); none is stored here.
  for (const key of ['../x', 'a/../../b', '/abs', 'a\\b', 'a//b', 'a/./b']) {
    const label = JSON.stringify(key)
    t.match(await errorOf(store.stat(key)), { code: 'SHOEBOX_NOT_FOUND', key }, `stat ${label}: asked, not found`)
    t.equal(await store.exists(key), false, `exists ${label}`)
    t.match(await errorOf((async () => await readAll(store.get(key)))()), { code: 'SHOEBOX_NOT_FOUND' }, `get ${label}: asked, not found`)
    // The upload id pins what an abort touches: asked, and no such upload is no failure.
    const asked = proxy.log.length
    await store.abortUpload(key, 'no-such-upload')
    t.ok(proxy.log.length > asked, `abortUpload ${label}: asked`)
  }
})

t.test('content type and user metadata are stored', async (t) => {
  const { store, raw, s3 } = await setup(t)
  await store.put('m.txt', 'hello', { contentType: 'text/plain; charset=utf-8', metadata: { origin: 'unit-test', count: '42' } })
  const head = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'pfx/m.txt' }))
  t.equal(head.ContentType, 'text/plain; charset=utf-8')
  t.same(head.Metadata, { origin: 'unit-test', count: '42' })

  // through a multipart upload too
  const writer = store.writer('m.bin', { contentType: 'application/x-shoebox', metadata: { records: '7' }, partSize: '5MiB' })
  const finished = new Promise((resolve, reject) => { writer.once('finish', resolve).once('error', reject) })
  writer.end(randomBytes(6 * MiB))
  await finished
  t.match(writer.result?.etag, /-2"$/, 'two parts')
  const head2 = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'pfx/m.bin' }))
  t.equal(head2.ContentType, 'application/x-shoebox')
  t.same(head2.Metadata, { records: '7' })
})

t.test('many requests at once on one store print no listener-leak warning (each listens to the store\'s close signal)', async (t) => {
  // shoebox upload --concurrency 16 checks each object with a HEAD: 11 or more under way printed Node's
  // MaxListenersExceededWarning on the user's stderr.
  const { store } = await setup(t, { rules: [{ match: (r) => r.op === 'HeadObject' || r.op === 'ListObjectsV2', fault: { kind: 'latency', ms: 100 } }] })
  await store.put('one.bin', bytes)
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { warnings.push(`${warning.name}: ${warning.message}`) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const sizes = await Promise.all(Array.from({ length: 16 }, async () => (await store.stat('one.bin')).size))
  t.same(sizes, Array(16).fill(bytes.length))
  const listings = await Promise.all(Array.from({ length: 12 }, async () => {
    let n = 0
    for await (const _ of store.list()) n++ // eslint-disable-line @typescript-eslint/no-unused-vars
    return n
  }))
  t.same(listings, Array(12).fill(1))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(warnings, [], 'no MaxListenersExceededWarning')
})

t.test('a broken GetObject body resumes at the byte where it stopped', async (t) => {
  const { store, proxy, s3 } = await setup(t, {
    rules: [
      { match: (r) => r.op === 'GetObject', fault: { kind: 'drop-response', afterBytes: 100_000 }, times: 1 },
      { match: (r) => r.op === 'GetObject', fault: { kind: 'drop-response', afterBytes: 250_000 }, times: 1 }
    ]
  })
  await store.put('big.bin', big)
  const etag = (await store.stat('big.bin')).etag
  const got = await readAll(store.get('big.bin'))
  t.equal(got.length, big.length)
  t.ok(got.equals(big), 'byte-identical')
  const gets = proxy.log.filter((e) => e.op === 'GetObject')
  t.same(gets.map((e) => e.headers.range), [undefined, 'bytes=100000-', 'bytes=350000-'], 'each resume starts at the bytes delivered')
  t.same(gets.map((e) => e.fault), ['drop-response', 'drop-response', undefined])
  t.same(gets.map((e) => e.headers['if-match']), [undefined, etag, etag], 'resumes are pinned to the version read first')
  const stats = store.stats()
  t.equal(stats.retries, 2)
  t.equal(stats.downloaded.bytes, big.length, 'nothing counted twice')
  t.equal(stats.downloaded.objects, 1)
  t.equal(s3.openMultipartUploads(), 0)

  // a range resumes within itself
  proxy.rules.push({ match: (r) => r.op === 'GetObject', fault: { kind: 'drop-response', afterBytes: 70_000 }, times: 1 })
  const from = proxy.log.length
  const part = await readAll(store.get('big.bin', { range: { start: 1000, end: 2_000_000 } }))
  t.ok(part.equals(big.subarray(1000, 2_000_000)), 'ranged read byte-identical')
  t.same(proxy.log.slice(from).map((e) => e.headers.range), ['bytes=1000-1999999', 'bytes=71000-1999999'])
})

t.test('a resumed read of an object that changed fails rather than mixing versions', async (t) => {
  const faux = await startFauxS3({ bucket: 'versions' })
  t.teardown(() => faux.app.close())
  const server = faux.store as unknown as { putObject (bucket: string, key: string, body: Buffer): void }
  const replacement = randomBytes(big.length)
  const proxy = await startFaultProxy(faux.endpoint, [
    { match: (r) => r.op === 'GetObject', fault: { kind: 'drop-response', afterBytes: 100_000 }, times: 1 },
    {
      // the resume: just before it reaches the server, another writer replaces the object
      match: (r) => {
        if (r.op !== 'GetObject') return false
        server.putObject('versions', 'pfx/v.bin', replacement)
        return true
      },
      fault: { kind: 'latency', ms: 1 },
      times: 1
    }
  ])
  t.teardown(() => proxy.close())
  const store = openStore('s3://versions/pfx', { endpoint: proxy.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
  t.teardown(() => store.close())
  await store.put('v.bin', big)
  const received: Buffer[] = []
  const err = await errorOf((async () => {
    for await (const chunk of store.get('v.bin')) received.push(chunk as Buffer)
  })())
  t.ok(err instanceof StoreError, 'a StoreError')
  t.match(err, { status: 412, operation: 'get', key: 'v.bin', store: 's3://versions/pfx' })
  const got = Buffer.concat(received)
  t.equal(got.length, 100_000, 'only the bytes of the first version')
  t.ok(got.equals(big.subarray(0, 100_000)), 'all of them from the first version')
  const gets = proxy.log.filter((e) => e.op === 'GetObject')
  t.equal(gets.length, 2, 'a changed object is not retried')
  t.equal(gets[1].headers.range, 'bytes=100000-')
  t.equal(gets[1].status, 412)
  t.ok(faux.store.buckets.get('versions')?.get('pfx/v.bin')?.body.equals(replacement), 'the object did change')
})

t.test('a resumed read answered with another version (a server that ignores If-Match) fails rather than mixing versions', async (t) => {
  // The resume's answer names another ETag than the bytes before it: spliced on, the reader got the
  // head of one version and the tail of another, with no error.
  const other = '"0123456789abcdef0123456789abcdef"'
  const { store, proxy } = await setup(t, {
    rules: [
      { match: (r) => r.op === 'GetObject', fault: { kind: 'drop-response', afterBytes: 100_000 }, times: 1 },
      { match: (r) => r.op === 'GetObject', fault: { kind: 'set-response-header', name: 'etag', value: other }, times: 1 }
    ]
  })
  await store.put('v.bin', big)
  const received: Buffer[] = []
  const err = await errorOf((async () => {
    for await (const chunk of store.get('v.bin')) received.push(chunk as Buffer)
  })())
  t.ok(err instanceof StoreError, 'a StoreError')
  t.match(err, {
    operation: 'get',
    key: 'v.bin',
    message: `s3://test-bucket/pfx: get v.bin: the object changed while it was read (resumed at byte 100000, the server answered ETag ${other}, not ${md5(big)}: it ignored If-Match)`
  })
  t.same(Buffer.concat(received), big.subarray(0, 100_000), 'only the bytes of the first answer')
  t.equal(proxy.log.filter((e) => e.op === 'GetObject').length, 2, 'not retried')
})

t.test('configuration: endpoint from SHOEBOX_S3_ENDPOINT, region, path style', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint)
  t.teardown(() => proxy.close())

  const viaEnv = openStore(`s3://${s3.bucket}/env`, { env: { SHOEBOX_S3_ENDPOINT: proxy.endpoint }, credentials: s3.credentials })
  t.teardown(() => viaEnv.close())
  await viaEnv.put('k', 'via env')
  t.same(s3.keys(), ['env/k'])
  t.equal(proxy.count('PutObject'), 1, 'the request went to SHOEBOX_S3_ENDPOINT')
  t.match(proxy.log[0].url, /^\/test-bucket\/env\/k/, 'path-style addressing')
  t.equal(await (await (viaEnv as S3Store).client()).config.region(), 'us-east-1', 'a custom endpoint defaults the region')

  // the endpoint option wins over the environment
  const both = openStore(`s3://${s3.bucket}/env`, { endpoint: s3.endpoint, env: { SHOEBOX_S3_ENDPOINT: 'http://127.0.0.1:1' }, credentials: s3.credentials })
  t.teardown(() => both.close())
  t.equal((await readAll(both.get('k'))).toString(), 'via env')
  t.equal(proxy.count('GetObject'), 0)

  const regional = makeS3Client({ env: { SHOEBOX_S3_ENDPOINT: s3.endpoint, AWS_REGION: 'eu-west-3' } })
  t.teardown(() => regional.destroy())
  t.equal(await regional.config.region(), 'eu-west-3')
  t.equal(regional.config.forcePathStyle, true)
  const defaultRegion = makeS3Client({ env: { AWS_DEFAULT_REGION: 'ap-south-1' } })
  t.teardown(() => defaultRegion.destroy())
  t.equal(await defaultRegion.config.region(), 'ap-south-1')
  t.equal(defaultRegion.config.forcePathStyle, false, 'AWS itself: virtual-hosted style')
  const virtual = makeS3Client({ env: { SHOEBOX_S3_ENDPOINT: s3.endpoint, SHOEBOX_S3_PATH_STYLE: '0' } })
  t.teardown(() => virtual.destroy())
  t.equal(virtual.config.forcePathStyle, false)
  const explicit = makeS3Client({ region: 'us-west-2', pathStyle: true, maxAttempts: 7, env: {} })
  t.teardown(() => explicit.destroy())
  t.equal(await explicit.config.region(), 'us-west-2')
  t.equal(explicit.config.forcePathStyle, true)
  t.equal(await explicit.config.maxAttempts(), 7)
})

t.test('configuration: credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint)
  t.teardown(() => proxy.close())
  const names = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']
  const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]))
  t.teardown(() => {
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n]
      else process.env[n] = saved[n]
    }
  })
  for (const n of names) delete process.env[n]
  process.env.AWS_ACCESS_KEY_ID = 'AKIDFROMENVIRONMENT'
  process.env.AWS_SECRET_ACCESS_KEY = 'secret-from-the-environment'
  const store = openStore(`s3://${s3.bucket}`, { endpoint: proxy.endpoint })
  t.teardown(() => store.close())
  await store.put('k', 'v')
  t.same(s3.keys(), ['k'])
  const auth = String(proxy.log[0].headers.authorization)
  t.match(auth, /^AWS4-HMAC-SHA256 Credential=AKIDFROMENVIRONMENT\//, 'signed with the key from the environment')
  t.notMatch(auth, /secret-from-the-environment/)
})

t.test('parseS3Url', async (t) => {
  t.same(parseS3Url('s3://bucket'), { bucket: 'bucket', prefix: '' })
  t.same(parseS3Url('s3://bucket/'), { bucket: 'bucket', prefix: '' })
  t.same(parseS3Url('s3://my.bucket-1/a/b/'), { bucket: 'my.bucket-1', prefix: 'a/b' })
  t.throws(() => parseS3Url('s3://Upper/x'), { code: 'SHOEBOX_BAD_URL', message: /s3:\/\/Upper: not a valid bucket name/ })
  t.throws(() => parseS3Url('s3:///x'), { code: 'SHOEBOX_BAD_URL' })
  let err: unknown
  try {
    openStore('s3://AKID:SECRET-in-url@bucket/x')
  } catch (e) {
    err = e
  }
  t.match(err, { code: 'SHOEBOX_BAD_URL', message: /must not carry credentials/ })
  t.notMatch((err as Error).message, /SECRET-in-url/)
  // A scheme in capitals (or any text that is no s3:// URL) is refused without its user name and password.
  for (const url of ['S3://AKID:SECRET-in-url@bucket/x', 'S3://AKID:SECRET-in-url@bucket']) {
    t.throws(() => parseS3Url(url), { code: 'SHOEBOX_BAD_URL', message: /^not an s3:\/\/ URL: "S3:\/\/\*\*\*@bucket(\/x)?"$/ }, url)
    t.throws(() => openStore(url), { code: 'SHOEBOX_BAD_URL', message: /^(?!.*SECRET-in-url)/ }, `${url}: openStore`)
  }
})
