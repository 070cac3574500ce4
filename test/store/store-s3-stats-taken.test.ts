/**
 * The S3 store's stats() count the bytes a reader took, as the file store's
 * do: a GET's body is fetched ahead of its reader (up to a MiB buffered), and
 * a reader that goes away (archiveSource's files read ahead and then dropped,
 * read-ahead.ts) left those bytes counted as downloaded, and the object
 * counted once its body had been fetched, read or not.
 */
import { randomBytes } from 'node:crypto'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { archiveSource, encodeRecords, openStore } from '../../lib/index.js'
import { startFaultProxy } from '../fault-proxy.js'
import { readFirstArchiveThen } from '../helpers.js'
import { startS3 } from '../s3-server.js'

/** Read `key` from `store` until its body has been fetched ahead, take one chunk, and go away: the bytes taken. */
async function takeOneChunk (store: ReturnType<typeof openStore>, key: string): Promise<number> {
  const stream = store.get(key)
  const taken = await new Promise<number>((resolve, reject) => {
    stream.once('error', reject)
    stream.once('readable', () => {
      // Wait while the body is fetched ahead into the stream's buffers, then take one chunk and go away.
      setTimeout(() => {
        const chunk = stream.read() as Buffer | null
        stream.destroy()
        resolve(chunk?.length ?? 0)
      }, 300)
    })
  })
  await new Promise((resolve) => setTimeout(resolve, 100))
  return taken
}

t.test('a get dropped after its first chunk counts the bytes taken, not those fetched ahead; no object', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const body = randomBytes(3 * 1024 * 1024)
  await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'big.bin', Body: body }))
  const store = openStore(`s3://${s3.bucket}`, { endpoint: s3.endpoint, credentials: s3.credentials, region: s3.region })
  t.teardown(async () => { await store.close() })
  // The first get is asked for before the S3 code has loaded (lazy-store.ts: a stream around the S3Store's).
  const first = await takeOneChunk(store, 'big.bin')
  t.ok(first > 0 && first < body.length, `one chunk taken (${first} bytes)`)
  t.same([store.stats().downloaded.bytes, store.stats().downloaded.objects], [first, 0], 'the bytes taken, and no object')
  const whole = await new Promise<number>((resolve, reject) => {
    let n = 0
    store.get('big.bin').on('data', (chunk: Buffer) => { n += chunk.length }).once('end', () => { resolve(n) }).once('error', reject)
  })
  t.equal(whole, body.length)
  t.same([store.stats().downloaded.bytes, store.stats().downloaded.objects], [first + body.length, 1], 'a read to its end: all its bytes, and the object')
  // Now the S3Store's own stream.
  const again = await takeOneChunk(store, 'big.bin')
  t.same([store.stats().downloaded.bytes, store.stats().downloaded.objects], [first + body.length + again, 1], 'the loaded store\'s get: the same')
})

for (const how of ['stop', 'destroy'] as const) {
  t.test(`archiveSource on S3, ${how}() after the first object: the objects fetched ahead and dropped are not counted in stats()`, async (t) => {
    const s3 = await startS3()
    t.teardown(() => s3.stop())
    const client = s3.client()
    // More records than the source buffers (1024): reading waits in the first object while the next are fetched ahead.
    const first = encodeRecords(Array.from({ length: 2000 }, (_, i) => ({ payload: String(i) })))
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'a/000.shoebox', Body: first }))
    for (let i = 1; i < 6; i++) await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `a/00${i}.shoebox`, Body: encodeRecords([{ payload: String(i) }]) }))
    const source = archiveSource(`s3://${s3.bucket}/a/*.shoebox`, { storeOptions: { endpoint: s3.endpoint, credentials: s3.credentials, region: s3.region } })
    const records = await readFirstArchiveThen(source, how, 300)
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.equal(records, 2000, 'the first object\'s records, none after')
    t.same([source.stats().downloaded.objects, source.stats().downloaded.bytes], [1, first.length], 'one object read, and its bytes')
  })
}

t.test('a get dropped while its request waits for an answer: the request is cut, and counted as no failure', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'slow.bin', Body: 'slow' }))
  // Held until the test ends (the proxy's close): a get that waited for its answer would never close.
  const proxy = await startFaultProxy(s3.endpoint, [{ match: (r) => r.op === 'GetObject', fault: { kind: 'latency', ms: 600_000 } }])
  t.teardown(() => proxy.close())
  const store = openStore(`s3://${s3.bucket}`, { endpoint: proxy.endpoint, credentials: s3.credentials, region: s3.region })
  t.teardown(async () => { await store.close() })
  await store.stat('slow.bin') // the S3 code loaded: the get below is the S3Store's own stream
  const stream = store.get('slow.bin')
  stream.read(0)
  // Dropped once its request waits at the proxy (not after a fixed 200 ms, which under load could come first).
  while (proxy.count('GetObject') === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  const closing = new Promise((resolve) => stream.once('close', () => { resolve(true) }))
  stream.destroy()
  let timer: NodeJS.Timeout | undefined
  const closed = await Promise.race([
    closing,
    // Only so that a get that never closes fails here rather than at tap's timeout.
    new Promise((resolve) => { timer = setTimeout(resolve, 60_000, false) })
  ])
  clearTimeout(timer)
  t.ok(closed, 'closed after destroy(), with no answer')
  const stats = store.stats()
  t.same([stats.downloaded.bytes, stats.downloaded.objects, stats.retries, stats.errors], [0, 0, 0, {}], 'nothing downloaded, nothing failed')
})
