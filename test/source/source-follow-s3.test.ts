/**
 * Following an S3 prefix while objects are put and deleted (a bucket with a
 * lifecycle rule, an uploader's keys expiring): an object listed and deleted
 * before its GET is skipped and the follow goes on, as a local file is; a
 * key a listing no longer shows is forgotten, so a follower of months keeps
 * nothing per object gone, and an object put again under a deleted key is
 * read. Against the in-process S3 server through the fault proxy; every wait
 * is on the follower's records or on the listings the proxy saw, none timed.
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import t, { type Test } from 'tap'
import { archiveSource, encodeRecords, type ArchiveSource, type ShoeboxRecord, type SkippedEvent } from '../../lib/index.js'
import { startFaultProxy, type FaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'

const archive = (tag: string, n: number): Buffer => encodeRecords(Array.from({ length: n }, (_, i) => ({ metadata: { tag }, payload: `${tag}${i}` })))

interface Follower {
  source: ArchiveSource
  seen: string[]
  skipped: SkippedEvent[]
  /** Resolves once `n` records came; false if the stream failed or ended first. */
  until: (n: number) => Promise<boolean>
  error: () => unknown
}

interface Bucket {
  proxy: FaultProxy
  put: (key: string, bytes: Buffer) => Promise<void>
  remove: (key: string) => Promise<void>
  follow: (pattern: string) => Follower
  /** Resolves once the follower has sent `n` more listings than now: the first of them began and ended after this call. */
  listings: (n: number) => Promise<void>
}

async function bucket (t: Test): Promise<Bucket> {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint)
  t.teardown(() => proxy.close())
  const client = s3.client()
  const storeOptions = { endpoint: proxy.endpoint, credentials: s3.credentials, maxAttempts: 1 }
  return {
    proxy,
    put: async (key, bytes) => { await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes })) },
    remove: async (key) => { await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key })) },
    follow: (pattern) => {
      const source = archiveSource(`s3://${s3.bucket}/${pattern}`, { storeOptions, follow: true, pollInterval: 10 })
      t.teardown(() => { source.destroy() })
      const seen: string[] = []
      const skipped: SkippedEvent[] = []
      let error: unknown
      let ended = false
      const waiters = new Set<() => void>()
      const wake = (): void => { for (const w of waiters) w() }
      source.on('data', (record: ShoeboxRecord) => { seen.push(record.payload.toString()); wake() })
      source.on('skipped', (event) => { skipped.push(event) })
      source.on('error', (err) => { error = err; ended = true; wake() })
      source.on('end', () => { ended = true; wake() })
      return {
        source,
        seen,
        skipped,
        error: () => error,
        until: async (n) => {
          while (seen.length < n && !ended) await new Promise<void>((resolve) => { waiters.add(resolve) }).then(() => { waiters.clear() })
          return seen.length >= n
        }
      }
    },
    listings: async (n) => {
      const target = proxy.count('ListObjectsV2') + n
      while (proxy.count('ListObjectsV2') < target) {
        await new Promise<void>((resolve) => { proxy.rules.unshift({ match: (r) => { if (r.op === 'ListObjectsV2') resolve(); return false }, fault: { kind: 'latency', ms: 0 } }) })
      }
    }
  }
}

t.test('an object listed and deleted before its GET is skipped, and the follow goes on', async (t) => {
  const b = await bucket(t)
  await b.put('tail/a-1.shoebox', archive('a', 2))
  await b.put('tail/a-2.shoebox', archive('b', 2))
  // Deleted between the listing and the GET, as S3 answers a GET of a key deleted meanwhile.
  b.proxy.rules.push({ match: (r) => r.op === 'GetObject' && r.url.includes('a-2.shoebox'), fault: { kind: 'status', status: 404, code: 'NoSuchKey' }, times: 1 })
  const f = b.follow('tail/*.shoebox')
  t.ok(await f.until(2), 'the first object read')
  await b.remove('tail/a-2.shoebox')
  await b.put('tail/a-3.shoebox', archive('c', 2))
  t.ok(await f.until(4), 'the follow goes on to the next object', { error: f.error() })
  t.equal(f.error(), undefined)
  t.same(f.seen, ['a0', 'a1', 'c0', 'c1'])
  t.same(f.skipped.map((s) => [s.name, s.reason]), [['tail/a-2.shoebox', 'deleted before it could be read']])
})

t.test('a key no listing shows is forgotten: a follower keeps nothing per object gone, and one put again under it is read', async (t) => {
  const b = await bucket(t)
  await b.put('tail/a.shoebox', archive('a', 2))
  await b.put('tail/b.shoebox', archive('b', 1))
  const f = b.follow('tail/*.shoebox')
  t.ok(await f.until(3))
  t.equal(f.source.followKept?.names, 2, 'two names read')
  await b.remove('tail/a.shoebox')
  await b.remove('tail/b.shoebox')
  await b.listings(2)
  t.equal(f.source.followKept?.names, 0, 'nothing kept once the listings show neither')
  // Put again under a deleted key (a new object): read, whole.
  await b.put('tail/a.shoebox', archive('n', 2))
  // Its records come in the first listing after the put: three listings without them is a follower that never reads them.
  t.ok(await Promise.race([f.until(5), b.listings(3).then(() => false)]), 'the new object under the name is read', { seen: f.seen })
  t.same(f.seen, ['a0', 'a1', 'b0', 'n0', 'n1'])
  t.equal(f.error(), undefined)
})
