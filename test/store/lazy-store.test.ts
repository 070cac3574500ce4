/**
 * openStore('s3://...') returns a store whose modules load on its first use
 * (lib/store/lazy-store.ts). What a caller sees before that load must be what
 * the S3 store shows: stats() at zero, close() without a load, a bad key or
 * writer option refused at once; and a writer or a read asked for before
 * the load must behave as the S3 store's own: the object stored and
 * confirmed, a destroyed upload aborted (no multipart upload left open), a
 * read destroyed early closing (also while its response has not come), a missing object a not-found StoreError.
 * Every case opens a fresh store, so each first call meets the unloaded one.
 * Which modules load when is test/startup-lazy.test.ts's.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t, { type Test } from 'tap'
import { openStore, StoreError, type ObjectWriter, type Store } from '../../lib/index.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { startFaultProxy } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'

const MiB = 1024 * 1024

let s3: TestS3
t.before(async () => { s3 = await startS3() })
t.teardown(async () => { await s3?.stop() })

function fresh (t: Test, prefix: string): Store {
  const store = openStore(`s3://${s3.bucket}/${prefix}`, { endpoint: s3.endpoint, credentials: s3.credentials })
  t.teardown(async () => { await store.close() })
  return store
}

const md5 = (b: Buffer): string => `"${createHash('md5').update(b).digest('hex')}"`

t.test('before its first use: stats at zero, close() resolves, bad keys and options are refused at once', async (t) => {
  const store = fresh(t, 'unused')
  t.equal(store.url, `s3://${s3.bucket}/unused`)
  const stats = store.stats()
  t.equal(stats.uploaded.bytes, 0)
  t.equal(stats.downloaded.bytes, 0)
  // Named as the loaded store names it: `shoebox upload 'a\\b.log' --to s3://...` said only 'key "a\\\\b.log":
  // contains a backslash', no store, where a later writer's error began with the URL.
  t.throws(() => store.writer('../x'), { code: 'SHOEBOX_BAD_KEY', message: `s3://${s3.bucket}/unused: key "../x": has a '..' segment` })
  t.throws(() => store.writer('a\\b'), { code: 'SHOEBOX_BAD_KEY', message: `s3://${s3.bucket}/unused: key "a\\\\b": contains a backslash` })
  // A file named 'k:notes.log' uploaded: 'is absolute' said nothing of why (a Windows drive, where a key is a path).
  t.throws(() => store.writer('k:notes.log'), { code: 'SHOEBOX_BAD_KEY', message: `s3://${s3.bucket}/unused: key "k:notes.log": is absolute (it begins as a Windows drive does, 'k:')` })
  t.throws(() => store.writer('/abs'), { code: 'SHOEBOX_BAD_KEY', message: `s3://${s3.bucket}/unused: key "/abs": is absolute` })
  const read = store.get('a\0b')
  const readError = await new Promise<Error>((resolve) => { read.once('error', resolve) })
  t.match(readError, { code: 'SHOEBOX_BAD_KEY', message: `s3://${s3.bucket}/unused: key "a\\u0000b": contains NUL` })
  t.throws(() => store.writer('k', { partSize: '4MiB' }), { code: 'SHOEBOX_INVALID_OPTION', message: /partSize/ })
  t.throws(() => store.writer('k', { verify: 'md5' as never }), { code: 'SHOEBOX_INVALID_OPTION', message: /verify/ })
  t.throws(() => openStore('s3://UPPER/x'), { code: 'SHOEBOX_BAD_URL' })
  await t.resolves(store.close())
  t.same(s3.keys(), [], 'nothing was stored')
})

t.test('a writer asked for before the load stores the object, and finishes only once it is confirmed', async (t) => {
  const store = fresh(t, 'written')
  const body = randomBytes(11 * MiB)
  const writer = store.writer('big.bin', { partSize: '5MiB' }) as ObjectWriter & { partSize: number }
  t.equal(writer.partSize, 5 * MiB)
  const progress: number[] = []
  writer.on('progress', (p) => { progress.push(p.bytes) })
  await pipeline(Readable.from([body.subarray(0, 1), body.subarray(1, 7 * MiB), body.subarray(7 * MiB)]), writer)
  t.same(writer.result, { key: 'big.bin', bytes: body.length, etag: writer.result?.etag })
  t.ok(s3.object('written/big.bin')?.equals(body), 'the stored bytes are those written')
  t.ok(progress.length > 0 && progress[progress.length - 1] === body.length, 'progress reaches the whole object')
  t.equal(writer.stats().uploaded.bytes, body.length, "the writer's stats count its bytes")
  t.equal(store.stats().uploaded.bytes, body.length, "and so do the store's")

  const empty = store.writer('empty')
  await pipeline(Readable.from([]), empty)
  t.same(empty.result, { key: 'empty', bytes: 0, etag: md5(Buffer.alloc(0)) }, 'an empty object too')
})

t.test('a writer asked for before the load and destroyed mid-upload leaves no object and no multipart upload', async (t) => {
  const store = fresh(t, 'aborted')
  const writer = store.writer('part.bin', { partSize: '5MiB' })
  const closed = new Promise<void>((resolve) => writer.once('close', resolve))
  writer.on('error', () => {})
  // One whole part goes out (a multipart upload is open), then the writer is destroyed.
  await new Promise<void>((resolve, reject) => {
    writer.once('progress', () => { resolve() })
    writer.once('error', reject)
    writer.write(randomBytes(6 * MiB))
  })
  writer.destroy()
  await closed
  t.equal(writer.result, undefined)
  t.equal(s3.openMultipartUploads(), 0, 'the multipart upload was aborted before close')
  t.same(s3.keys().filter((k) => k.startsWith('aborted/')), [], 'no object')
})

t.test('a writer asked for before the load and given a record, not bytes, fails naming its key and stores nothing', async (t) => {
  const store = fresh(t, 'records')
  const writer = store.writer('r.bin')
  const errored = new Promise<Error>((resolve) => writer.once('error', resolve))
  const closed = new Promise<void>((resolve) => writer.once('close', resolve))
  // Node's ERR_INVALID_ARG_TYPE was thrown from write(), and the writer stayed open.
  t.equal(writer.write({ payload: 'x' }), false)
  t.match(await errored, { code: 'SHOEBOX_USAGE', message: /^the writer of key "r\.bin" takes bytes \(a Buffer, Uint8Array or string\), got an object; it stores bytes/ })
  await closed
  t.equal(s3.openMultipartUploads(), 0)
  t.same(s3.keys().filter((k) => k.startsWith('records/')), [], 'no object')
})

t.test('a read asked for before the load: the bytes, a range, an early destroy, a missing object', async (t) => {
  const seed = fresh(t, 'read')
  const body = randomBytes(3 * MiB + 17)
  await seed.put('r.bin', body)

  const chunks: Buffer[] = []
  for await (const chunk of fresh(t, 'read').get('r.bin')) chunks.push(chunk as Buffer)
  t.ok(Buffer.concat(chunks).equals(body), 'the whole object')

  const ranged: Buffer[] = []
  for await (const chunk of fresh(t, 'read').get('r.bin', { range: { start: 5, end: 1005 } })) ranged.push(chunk as Buffer)
  t.ok(Buffer.concat(ranged).equals(body.subarray(5, 1005)), 'a range')

  const early = fresh(t, 'read').get('r.bin')
  await new Promise<void>((resolve) => early.once('data', () => { resolve() }))
  early.destroy()
  await new Promise<void>((resolve) => early.once('close', resolve))
  t.ok(early.destroyed, 'destroyed after its first chunk, it closes')

  const missing = await (async () => { for await (const chunk of fresh(t, 'read').get('nothing-here')) void chunk })().then(() => undefined, (err: unknown) => err)
  t.ok(missing instanceof StoreError && missing.kind === 'not-found', 'a missing object: a not-found StoreError')

  const badKey = await (async () => { for await (const chunk of fresh(t, 'read').get('a\0b')) void chunk })().then(() => undefined, (err: unknown) => err)
  t.match(badKey, { code: 'SHOEBOX_BAD_KEY' }, 'a bad key fails the stream')
  // A name S3 holds is read as the S3Store reads it (keys.ts checkObjectName): asked for, not refused.
  const odd = await (async () => { for await (const chunk of fresh(t, 'read').get('a/../../b')) void chunk })().then(() => undefined, (err: unknown) => err)
  t.ok(odd instanceof StoreError && odd.kind === 'not-found', 'a/../../b: asked for, not found')
})

t.test('a read asked for before the load, destroyed while its response is held back, closes at once', async (t) => {
  await fresh(t, 'held').put('h.bin', 'held back')
  // Held ten minutes: a read that waited for the response to close would time the test out.
  const proxy = await startFaultProxy(s3.endpoint, [{ match: (req) => req.op === 'GetObject', fault: { kind: 'latency', ms: 600_000 } }])
  t.teardown(() => proxy.close())
  const store = openStore(`s3://${s3.bucket}/held`, { endpoint: proxy.endpoint, credentials: s3.credentials })
  t.teardown(async () => { await store.close() })
  const read = store.get('h.bin')
  read.on('error', () => {})
  read.resume()
  // A condition polled, not a pause relied on: the request has reached the proxy.
  while (proxy.count('GetObject') === 0) await sleep(10)
  const closed = new Promise<void>((resolve) => read.once('close', resolve))
  read.destroy()
  await closed
  t.ok(read.destroyed, 'closed without its response')
})
