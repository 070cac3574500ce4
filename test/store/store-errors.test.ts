/**
 * Errors a user can act on: a missing bucket, refused credentials, an
 * unreachable endpoint, a throttling server, a missing object, an unknown
 * URL scheme. Each is one line naming the store and the operation, with a
 * stable code, and never shows a secret. Also the transfer statistics
 * (rates over a sliding window, parents) and their one-line summary.
 */
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import util from 'node:util'
import t, { type Test } from 'tap'
import {
  formatStats, openStore, ShoeboxError, StoreError, uploadSink,
  type ObjectWriter, type Store, type StoreOptions, type TransferSnapshot
} from '../../lib/index.js'
import { TransferStats } from '../../lib/transfer/stats.js'
import { classify, redact, storeError } from '../../lib/store/store-error.js'
import { seen, startFaultProxy, type FaultProxy, type FaultRule } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'

const MiB = 1024 * 1024
const SECRET = 'SECRET-do-not-print-123'
const TOKEN = 'TOKEN-do-not-print-456'
const ENV_SECRET = 'ENVSECRET-do-not-print-789'
const credentials = { accessKeyId: 'AKIDSHOEBOXTEST', secretAccessKey: SECRET, sessionToken: TOKEN }

let s3: TestS3
t.before(async () => { s3 = await startS3() })
t.teardown(() => s3.stop())

async function proxied (t: Test, rules: FaultRule[]): Promise<FaultProxy> {
  const proxy = await startFaultProxy(s3.endpoint, rules)
  t.teardown(() => proxy.close())
  return proxy
}

function open (t: Test, url: string, options: StoreOptions): Store {
  const store = openStore(url, { credentials, ...options })
  t.teardown(() => store.close())
  return store
}

async function errorOf (p: Promise<unknown>): Promise<unknown> {
  return await p.then(() => { throw new Error('expected a rejection') }, (err: unknown) => err)
}

async function drain (store: Store, key: string): Promise<void> {
  for await (const chunk of store.get(key)) void chunk
}

async function listAll (store: Store): Promise<void> {
  for await (const info of store.list()) void info
}

function writerError (writer: ObjectWriter, body: Buffer): Promise<unknown> {
  return new Promise((resolve) => {
    writer.once('error', resolve)
    writer.once('finish', () => { resolve(new Error('expected the writer to fail')) })
    writer.end(body)
  })
}

/** Everything of an error a log might show. */
function renderings (err: unknown): Record<string, string> {
  const e = err as Error
  const own = Object.fromEntries(Object.getOwnPropertyNames(e).map((k) => [k, (e as unknown as Record<string, unknown>)[k]]))
  return {
    message: e.message,
    string: String(e),
    inspect: util.inspect(e, { depth: 10, showHidden: true }),
    json: JSON.stringify(own),
    stack: e.stack ?? ''
  }
}

/** A StoreError with this code, one line naming the store and `operation`, with no secret anywhere in it. */
function checkError (t: Test, err: unknown, code: string, store: Store, operation: string, key?: string): void {
  t.ok(err instanceof StoreError, `${code}: a StoreError`)
  const e = err as StoreError
  t.equal(e.code, code)
  t.equal(e.store, store.url)
  t.equal(e.operation, operation)
  t.equal(e.key, key)
  t.equal(e.cause, undefined, 'the SDK error (and its signed request) is not attached')
  const head = key === undefined ? `${store.url}: ${operation}: ` : `${store.url}: ${operation} ${key}: `
  t.ok(e.message.startsWith(head), `names the store and the operation: ${e.message}`)
  t.notMatch(e.message, /\n/, 'one line')
  for (const [how, text] of Object.entries(renderings(err))) {
    for (const secret of [SECRET, TOKEN, ENV_SECRET]) {
      t.notOk(text.includes(secret), `${how} does not show ${secret.split('-')[0]}`)
    }
  }
}

t.test('a missing bucket', async (t) => {
  const store = open(t, 's3://no-such-bucket/some/prefix', { endpoint: s3.endpoint, maxAttempts: 2 })
  checkError(t, await errorOf(listAll(store)), 'SHOEBOX_NO_BUCKET', store, 'list')
  checkError(t, await errorOf(store.put('k', 'v')), 'SHOEBOX_NO_BUCKET', store, 'put', 'k')
  checkError(t, await errorOf(drain(store, 'k')), 'SHOEBOX_NO_BUCKET', store, 'get', 'k')
  const err = await writerError(uploadSink(store, 'big', { partSize: 5 * MiB }), randomBytes(6 * MiB))
  checkError(t, err, 'SHOEBOX_NO_BUCKET', store, 'put', 'big')
  t.match((err as Error).message, /s3:\/\/no-such-bucket\/some\/prefix: put big: the bucket does not exist/)
  t.equal(s3.openMultipartUploads(), 0)
})

t.test('refused credentials', async (t) => {
  for (const code of ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied']) {
    // The server's message even echoes the secret: it must be scrubbed.
    const proxy = await proxied(t, [{
      match: () => true,
      fault: { kind: 'status', status: 403, code, message: `refused; you sent ${SECRET} and ${TOKEN} (env ${ENV_SECRET})` }
    }])
    const store = open(t, `s3://${s3.bucket}/p`, { endpoint: proxy.endpoint, maxAttempts: 3, env: { AWS_SECRET_ACCESS_KEY: ENV_SECRET } })
    const putErr = await errorOf(store.put('k', 'v'))
    checkError(t, putErr, 'SHOEBOX_DENIED', store, 'put', 'k')
    t.match((putErr as Error).message, new RegExp(`credentials refused.*\\(${code}, HTTP 403: refused; you sent \\*\\*\\* and \\*\\*\\* \\(env \\*\\*\\*\\)\\)`), code)
    checkError(t, await errorOf(listAll(store)), 'SHOEBOX_DENIED', store, 'list')
    checkError(t, await errorOf(store.stat('a/b')), 'SHOEBOX_DENIED', store, 'stat', 'a/b')
    // exists() is a stat underneath, and its errors say so
    checkError(t, await errorOf(store.exists('a/b')), 'SHOEBOX_DENIED', store, 'stat', 'a/b')
    checkError(t, await errorOf(drain(store, 'k')), 'SHOEBOX_DENIED', store, 'get', 'k')
    checkError(t, await errorOf(store.delete('k')), 'SHOEBOX_DENIED', store, 'delete', 'k')
    checkError(t, await writerError(uploadSink(store, 'big', { partSize: 5 * MiB }), randomBytes(6 * MiB)), 'SHOEBOX_DENIED', store, 'put', 'big')
    t.equal(proxy.log.filter((e) => e.op === 'PutObject').length, 1, `${code}: a refusal is not retried`)
    t.match(store.stats().errors, { denied: proxy.log.length })
  }
  t.same(s3.keys(), [])
})

t.test('an unreachable endpoint', async (t) => {
  const store = open(t, `s3://${s3.bucket}/p`, { endpoint: 'http://127.0.0.1:1', maxAttempts: 2 })
  const start = Date.now()
  const err = await errorOf(store.put('k', 'v'))
  checkError(t, err, 'SHOEBOX_UNREACHABLE', store, 'put', 'k')
  t.match((err as Error).message, /endpoint unreachable .*ECONNREFUSED/)
  t.ok(Date.now() - start < 10_000, 'fails promptly')
  checkError(t, await errorOf(store.stat('k')), 'SHOEBOX_UNREACHABLE', store, 'stat', 'k')
  checkError(t, await errorOf(listAll(store)), 'SHOEBOX_UNREACHABLE', store, 'list')
  checkError(t, await errorOf(drain(store, 'k')), 'SHOEBOX_UNREACHABLE', store, 'get', 'k')
  const stats = store.stats()
  t.ok(stats.retries >= 4, `retried (${stats.retries})`)
  t.ok((stats.errors.unreachable ?? 0) >= 8, 'counted as unreachable')
})

t.test('an https:// endpoint that speaks plain http (a typo of the scheme): unreachable, said in words, not OpenSSL\'s', async (t) => {
  // The line was 'failed (Error: write EPROTO 803C...:error:0A00010B:SSL routines:ssl3_get_record:wrong version
  // number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:)'.
  const store = open(t, `s3://${s3.bucket}/p`, { endpoint: s3.endpoint.replace('http:', 'https:'), maxAttempts: 1 })
  const err = await errorOf(store.put('k', 'v'))
  checkError(t, err, 'SHOEBOX_UNREACHABLE', store, 'put', 'k')
  t.equal((err as Error).message, `s3://${s3.bucket}/p: put k: endpoint unreachable (EPROTO: the endpoint does not speak TLS: an http:// endpoint given as https://?)`)
})

t.test('a throttling server', async (t) => {
  const proxy = await proxied(t, [{ match: () => true, fault: { kind: 'status', status: 503, code: 'SlowDown', message: `Please reduce your request rate (${SECRET}).` } }])
  const store = open(t, `s3://${s3.bucket}/p`, { endpoint: proxy.endpoint, maxAttempts: 2 })
  const err = await errorOf(store.put('k', 'v'))
  checkError(t, err, 'SHOEBOX_THROTTLED', store, 'put', 'k')
  t.match((err as Error).message, /throttling requests and retries ran out \(SlowDown, HTTP 503: Please reduce your request rate \(\*\*\*\)\.\)/)
  t.equal(proxy.count('PutObject'), 2, 'tried maxAttempts times')
  checkError(t, await errorOf(listAll(store)), 'SHOEBOX_THROTTLED', store, 'list')
  checkError(t, await errorOf(drain(store, 'k')), 'SHOEBOX_THROTTLED', store, 'get', 'k')
  checkError(t, await errorOf(store.stat('k')), 'SHOEBOX_THROTTLED', store, 'stat', 'k')
  const stats = store.stats()
  t.equal(stats.retries, 4, 'one retry each')
  t.same(stats.errors, { throttled: 8 }, 'every attempt counted, as throttled')
  t.equal(formatStats(stats), 'nothing transferred; 4 retries; errors: throttled 8')
})

t.test('throttled, then a broken connection on the last attempt: still reported as throttling', async (t) => {
  // A retry after a 503 can meet a reset (a kept-alive connection the server closed during the backoff); the
  // throttling is what the user can act on, so the line says so and names the last attempt's failure.
  const proxy = await proxied(t, [
    { match: (r) => r.op === 'PutObject', fault: { kind: 'status', status: 503, code: 'SlowDown' }, times: 1 },
    { match: (r) => r.op === 'PutObject', fault: { kind: 'drop-request' } }
  ])
  const store = open(t, `s3://${s3.bucket}/p`, { endpoint: proxy.endpoint, maxAttempts: 2 })
  const err = await errorOf(store.put('k', 'v'))
  checkError(t, err, 'SHOEBOX_THROTTLED', store, 'put', 'k')
  t.match((err as Error).message, /throttling requests and retries ran out \(last attempt: .*(ECONNRESET|socket hang up)/i)
  t.equal(proxy.count('PutObject'), 2, 'tried maxAttempts times')
  t.same(store.stats().errors, { throttled: 1, network: 1 }, 'each attempt counted as what it was')
})

t.test('throttled, then refused: the refusal is reported', async (t) => {
  const proxy = await proxied(t, [
    { match: (r) => r.op === 'PutObject', fault: { kind: 'status', status: 503, code: 'SlowDown' }, times: 1 },
    { match: (r) => r.op === 'PutObject', fault: { kind: 'status', status: 403, code: 'AccessDenied' } }
  ])
  const store = open(t, `s3://${s3.bucket}/p`, { endpoint: proxy.endpoint, maxAttempts: 2 })
  const err = await errorOf(store.put('k', 'v'))
  checkError(t, err, 'SHOEBOX_DENIED', store, 'put', 'k')
  t.equal(proxy.count('PutObject'), 2, 'the 503 was retried')
})

t.test('a server that takes a request and never answers: the try is given up after requestTimeout and retried', async (t) => {
  // The SDK's own requestTimeout only logged a warning (no throwOnRequestTimeout): a stalled server held a
  // list, a get or a put for ever. requestTimeout is now the socket's idle limit, which fails the try.
  const stall: FaultRule['fault'] = { kind: 'latency', ms: 10 * 60_000 }
  const proxy = await proxied(t, [
    { match: (r) => r.op === 'PutObject', fault: stall, times: 1 },
    { match: (r) => r.op === 'ListObjectsV2', fault: stall, times: 1 },
    { match: (r) => r.op === 'GetObject', fault: stall, times: 1 }
  ])
  const store = open(t, `s3://${s3.bucket}/p`, { endpoint: proxy.endpoint, maxAttempts: 2, requestTimeout: '300ms' })
  await store.put('k', 'v')
  await listAll(store)
  const got: Buffer[] = []
  for await (const chunk of store.get('k')) got.push(chunk as Buffer)
  t.equal(Buffer.concat(got).toString(), 'v')
  t.same([proxy.count('PutObject'), proxy.count('ListObjectsV2'), proxy.count('GetObject')], [2, 2, 2], 'each stalled try given up and tried again')
  // A server that stalls every try: a failure naming the store and the operation, not a hang.
  const always = await proxied(t, [{ match: (r) => r.op === 'HeadObject', fault: stall }])
  const stalled = open(t, `s3://${s3.bucket}/p`, { endpoint: always.endpoint, maxAttempts: 2, requestTimeout: '300ms' })
  const err = await errorOf(stalled.stat('k'))
  t.ok(err instanceof StoreError, 'a StoreError')
  t.match((err as Error).message, /^s3:\/\/test-bucket\/p: stat k: /)
  t.equal(always.count('HeadObject'), 2, 'tried maxAttempts times')
})

t.test('close() ends a listing, a stat, a delete and a get under way on a server that stalls, without trying them again', async (t) => {
  // Destroying the client closed the socket, which the SDK took for a broken connection and tried again on a
  // new one: read or unpack stopped by Ctrl-C (which closes the store) lived on until the server answered.
  const stall: FaultRule['fault'] = { kind: 'latency', ms: 10 * 60_000 }
  const ops = ['ListObjectsV2', 'HeadObject', 'DeleteObject', 'GetObject']
  const proxy = await proxied(t, [{ match: (r) => ops.includes(r.op), fault: stall }])
  const store = open(t, `s3://${s3.bucket}/p`, { endpoint: proxy.endpoint })
  const arrived = ops.map(async (op) => await seen(proxy, (r) => r.op === op))
  // (A get whose reader stays, as a source's read is when a signal stops the source and closes its store.)
  const pending = [listAll(store), store.stat('k'), store.delete('k'), drain(store, 'k')].map(errorOf)
  await Promise.all(arrived)
  await store.close()
  for (const err of await Promise.all(pending)) t.ok(err instanceof Error, `ended: ${String(err)}`)
  t.same(ops.map((op) => proxy.count(op)), [1, 1, 1, 1], 'none tried again')
  // The store still serves requests after close(), as before.
  const direct = open(t, `s3://${s3.bucket}/p`, { endpoint: s3.endpoint })
  await direct.close()
  await direct.put('after-close', 'x')
  t.equal((await direct.stat('after-close')).size, 1)
})

t.test('a listing answer that is no listing, or a page that goes on from nowhere: refused, not an empty or a short listing', async (t) => {
  // What a proxy, a portal or an S3 look-alike may answer with 200: an HTML page was taken for an empty
  // listing ("no archive matches"); a truncated page without a continuation token ended the listing there,
  // leaving out every key after it, unsaid.
  const page = (body: string): string => `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${body}</ListBucketResult>`
  const item = '<Contents><Key>p/a.shoebox</Key><Size>3</Size><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>"e"</ETag></Contents>'
  const answers: Record<string, string> = {
    html: '<html><body>Please sign in</body></html>',
    'no token': page(`<Name>bkt-x</Name><Prefix>p/</Prefix><IsTruncated>true</IsTruncated>${item}`),
    'same token': page(`<Name>bkt-x</Name><Prefix>p/</Prefix><IsTruncated>true</IsTruncated><NextContinuationToken>t1</NextContinuationToken>${item}`)
  }
  let answer = ''
  const server = http.createServer((req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': answer.startsWith('<html') ? 'text/html' : 'application/xml' })
    res.end(answer)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  for (const [name, body] of Object.entries(answers)) {
    answer = body
    const store = open(t, 's3://bkt-x/p', { endpoint, maxAttempts: 1 })
    const keys: string[] = []
    const err = await errorOf((async () => { for await (const info of store.list()) keys.push(info.key) })())
    t.ok(err instanceof StoreError, `${name}: a StoreError`)
    t.match((err as Error).message, name === 'html' ? /^s3:\/\/bkt-x\/p: list: .*not a listing/ : /^s3:\/\/bkt-x\/p: list: .*goes on but not from where/, name)
  }
})

t.test('a missing object', async (t) => {
  const store = open(t, `s3://${s3.bucket}/p`, { endpoint: s3.endpoint })
  checkError(t, await errorOf(store.stat('no/such')), 'SHOEBOX_NOT_FOUND', store, 'stat', 'no/such')
  checkError(t, await errorOf(drain(store, 'no/such')), 'SHOEBOX_NOT_FOUND', store, 'get', 'no/such')
  t.equal(await store.exists('no/such'), false)
  t.same(store.stats().errors, {})
  const files = openStore(t.testdirName)
  checkError(t, await errorOf(files.stat('no/such')), 'SHOEBOX_NOT_FOUND', files, 'stat', 'no/such')
  checkError(t, await errorOf(drain(files, 'no/such')), 'SHOEBOX_NOT_FOUND', files, 'get', 'no/such')
})

t.test('an unknown URL scheme', async (t) => {
  for (const url of ['gs://bucket/x', 'azure://container', 'HTTPS://host/path']) {
    let err: unknown
    try {
      openStore(url, { credentials })
    } catch (e) {
      err = e
    }
    t.ok(err instanceof ShoeboxError, url)
    const scheme = url.slice(0, url.indexOf(':')).toLowerCase()
    t.match(err, { code: 'SHOEBOX_BAD_URL', message: new RegExp(`unknown store URL scheme '${scheme}://'.*known: s3://, file://`) })
    t.notMatch((err as Error).message, /\n/)
  }
  t.throws(() => uploadSink('gs://b/x', 'k'), { code: 'SHOEBOX_BAD_URL', message: /'gs:\/\/'/ })
})

t.test('classify and storeError', async (t) => {
  const sdk = (name: string, status?: number, extra: object = {}): Error =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } }, extra)
  t.equal(classify(sdk('NoSuchBucket', 404)), 'no-bucket')
  t.equal(classify(sdk('NoSuchKey', 404)), 'not-found')
  t.equal(classify(sdk('NotFound', 404)), 'not-found')
  t.equal(classify(sdk('Unknown', 403)), 'denied')
  t.equal(classify(sdk('ExpiredToken', 400)), 'denied')
  t.equal(classify(sdk('SlowDown', 503)), 'throttled')
  t.equal(classify(sdk('Unknown', 429)), 'throttled')
  t.equal(classify(sdk('InternalError', 500)), 'server')
  t.equal(classify(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })), 'unreachable')
  t.equal(classify(Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' })), 'unreachable')
  // the SDK names a reset connection 'TimeoutError': still a broken connection, not an unreachable endpoint
  t.equal(classify(Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET' })), 'network')
  t.equal(classify(Object.assign(new Error('write EPIPE'), { name: 'TimeoutError', code: 'EPIPE' })), 'network')
  t.equal(classify(Object.assign(new Error('connection timed out'), { name: 'TimeoutError' })), 'unreachable')
  t.equal(classify(Object.assign(new Error('read ECONNRESET'), { name: 'TimeoutError' })), 'network', 'the code only in the message')
  t.equal(classify(Object.assign(new Error('nope'), { code: 'ENOENT' })), 'not-found')
  t.equal(classify(Object.assign(new Error('nope'), { code: 'EACCES' })), 'denied')
  t.equal(classify(new Error('something else')), 'other')
  t.equal(classify(undefined), 'other')

  t.equal(redact(`a ${SECRET} b ${SECRET}`, [SECRET]), 'a *** b ***')
  t.equal(redact('abc', ['abc']), 'abc', 'too short to be a secret')
  const long = storeError(sdk('InternalError', 500, { message: 'x'.repeat(1000) }), 's3://b', 'put', 'k')
  t.ok(long.message.length < 400, 'a long server message is cut')
  const multi = storeError(sdk('InternalError', 500, { message: 'line one\nline two\r\n\tthree' }), 's3://b', 'put', 'k')
  t.equal(multi.message, 's3://b: put k: server error (InternalError, HTTP 500: line one line two three)')
  // An answer the SDK cannot parse: its words, not its advice to inspect the error object.
  const garbled = storeError(sdk('Error', 200, { message: '@aws-sdk XML parse error: expected > at the end of opening tag.\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.' }), 's3://b', 'list', undefined)
  t.equal(garbled.message, 's3://b: list: failed (Error, HTTP 200: @aws-sdk XML parse error: expected > at the end of opening tag.)')
  const same = storeError(multi, 's3://other', 'get', 'x')
  t.equal(same, multi, 'a StoreError passes through')
})

t.test('TransferStats: a slow, small transfer is not rounded to nothing', async (t) => {
  // 300 one-record files, 19.3 kB in 4 s, were summed up as "at 0 B/s": rates were kept in steps of 10 kB/s.
  let now = 0
  const stats = new TransferStats({ clock: () => now, windowMs: 5000 })
  for (let i = 0; i < 300; i++) {
    stats.uploadedBytes(64)
    stats.uploadedObject()
    now += 13.3
  }
  const s = stats.snapshot()
  t.equal(s.uploaded.averageMbPerSec, 0.004812, '19,200 B in 3.99 s')
  t.equal(formatStats(s), 'uploaded 300 objects, 19.2 kB at 4.8 kB/s')
  t.equal(formatStats(s, 'live'), 'uploaded 300 objects, 19.2 kB at 4.8 kB/s', 'the window holds the whole transfer')
})

t.test('TransferStats: totals, sliding-window rates, parents', async (t) => {
  let now = 1_000_000
  const clock = (): number => now
  const parent = new TransferStats({ clock, windowMs: 1000 })
  const stats = new TransferStats({ clock, windowMs: 1000, parent })
  t.equal(stats.windowMs, 1000)
  t.match(stats.snapshot(), {
    uploaded: { bytes: 0, objects: 0, mbPerSec: 0, averageMbPerSec: 0 },
    downloaded: { bytes: 0, objects: 0, mbPerSec: 0, averageMbPerSec: 0 },
    retries: 0,
    errors: {},
    elapsedMs: 0,
    windowMs: 1000
  })

  stats.uploadedBytes(2_000_000)
  now += 500
  let s = stats.snapshot()
  t.equal(s.elapsedMs, 500)
  t.equal(s.uploaded.mbPerSec, 4, '2 MB in 0.5 s')
  t.equal(s.uploaded.averageMbPerSec, 4)

  now += 1500 // t = 2.0 s: the first bytes have left the 1 s window
  s = stats.snapshot()
  t.equal(s.uploaded.mbPerSec, 0, 'nothing in the window')
  t.equal(s.uploaded.averageMbPerSec, 1, '2 MB in 2 s')

  stats.uploadedBytes(3_000_000)
  now += 250
  stats.uploadedBytes(1_000_000)
  now += 250 // t = 2.5 s
  s = stats.snapshot()
  t.equal(s.uploaded.bytes, 6_000_000)
  t.equal(s.uploaded.mbPerSec, 4, '4 MB in the last second')
  t.equal(s.uploaded.averageMbPerSec, 2.4, '6 MB in 2.5 s')
  now += 600 // t = 3.1 s: only the 1 MB at 2.25 s is still in the window
  t.equal(stats.snapshot().uploaded.mbPerSec, 1)

  stats.downloadedBytes(500_000)
  stats.downloadedObject()
  stats.uploadedObject()
  stats.retried()
  stats.retried(2)
  stats.retried(0)
  stats.uploadedBytes(0)
  stats.downloadedBytes(-5)
  stats.failed('throttled')
  stats.failed('throttled')
  stats.failed('network')
  s = stats.snapshot()
  t.match(s, { uploaded: { bytes: 6_000_000, objects: 1 }, downloaded: { bytes: 500_000, objects: 1 }, retries: 3, errors: { throttled: 2, network: 1 } })

  // everything reached the parent; the parent's own counts do not reach the child
  parent.uploadedBytes(1)
  parent.failed('denied')
  const p = parent.snapshot()
  t.match(p, { uploaded: { bytes: 6_000_001, objects: 1 }, downloaded: { bytes: 500_000, objects: 1 }, retries: 3, errors: { throttled: 2, network: 1, denied: 1 } })
  t.same(stats.snapshot().errors, { throttled: 2, network: 1 })

  // a snapshot is a copy
  s.errors.throttled = 99
  t.equal(stats.snapshot().errors.throttled, 2)

  // the default window is 10 s, and the default clock is real time
  const real = new TransferStats()
  t.equal(real.snapshot().windowMs, 10_000)
  real.uploadedBytes(1e6)
  t.ok(real.snapshot().uploaded.mbPerSec > 0)
})

t.test('formatStats', async (t) => {
  const side = (bytes: number, objects: number, mbPerSec: number, averageMbPerSec: number): TransferSnapshot['uploaded'] =>
    ({ bytes, objects, mbPerSec, averageMbPerSec })
  const snap = (over: Partial<TransferSnapshot>): TransferSnapshot => ({
    uploaded: side(0, 0, 0, 0), downloaded: side(0, 0, 0, 0), retries: 0, errors: {}, elapsedMs: 1000, windowMs: 10_000, ...over
  })
  t.equal(formatStats(snap({})), 'nothing transferred')
  const busy = snap({ uploaded: side(24_100_000, 3, 50, 80.2), retries: 2, errors: { throttled: 2 } })
  t.equal(formatStats(busy), 'uploaded 3 objects, 24.1 MB at 80.2 MB/s; 2 retries; errors: throttled 2')
  t.equal(formatStats(busy, 'final'), formatStats(busy))
  t.equal(formatStats(busy, 'live'), 'uploaded 3 objects, 24.1 MB at 50.0 MB/s; 2 retries; errors: throttled 2', 'live: the window\'s rate')
  t.equal(formatStats(snap({ downloaded: side(1_000_000, 1, 1, 1), retries: 1 })), 'downloaded 1 object, 1.0 MB at 1.0 MB/s; 1 retry')
  t.equal(
    formatStats(snap({ uploaded: side(0, 1, 0, 0), downloaded: side(2_500_000, 2, 0, 0.5), errors: { network: 1, server: 3 } })),
    'uploaded 1 object, 0 B at 0 B/s; downloaded 2 objects, 2.5 MB at 500.0 kB/s; errors: network 1, server 3'
  )
  // each figure in the largest unit it fills: 1,000 small files are not '0.0 MB'
  t.equal(formatStats(snap({ uploaded: side(49_000, 1000, 0, 0.012_25) })), 'uploaded 1000 objects, 49.0 kB at 12.3 kB/s')
  t.equal(formatStats(snap({ uploaded: side(999, 1, 0, 0.000_5) })), 'uploaded 1 object, 999 B at 500 B/s')
  t.equal(formatStats(snap({ uploaded: side(3_210_000_000, 1, 0, 1500) })), 'uploaded 1 object, 3.2 GB at 1.5 GB/s')
  t.equal(formatStats(snap({ retries: 5 })), 'nothing transferred; 5 retries')
  // from a real store's snapshot
  const store = open(t, `s3://${s3.bucket}/fmt`, { endpoint: s3.endpoint })
  await store.put('a', Buffer.alloc(1_500_000))
  t.match(formatStats(store.stats()), /^uploaded 1 object, 1\.5 MB at \d+\.\d MB\/s$/)
})
