/**
 * Part buffers left by a store's finished S3 writers for its next ones
 * (part-buffers.ts):
 *
 * - PartBuffers keeps at most what it is told, of one size, and lets them go
 *   on release(), or once no taker came within its keep time of the last give;
 * - against the test S3 server: a second multipart upload through the same
 *   store fills the very buffers the first one left (and no others), and
 *   both objects are stored as written; a writer leaves them as soon as its
 *   last part is sent, before its completion (the next file's writer, under
 *   way meanwhile, fills them); a writer destroyed in the middle of
 *   its upload leaves its buffers once its requests have settled, and the
 *   next upload is stored as written; close() lets them go.
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { PartBuffers } from '../../lib/store/part-buffers.js'
import { startFaultProxy } from '../fault-proxy.js'
import { S3Store } from '../../lib/store/s3-store.js'
import { startS3, type TestS3 } from '../s3-server.js'

const MiB = 1024 * 1024
const PART = 5 * MiB

/** Every buffer the store keeps, taken out and given back as they were. */
function keptBuffers (store: S3Store): Buffer[] {
  const kept: Buffer[] = []
  for (let b = store.partBuffers.take(PART); b !== undefined; b = store.partBuffers.take(PART)) kept.push(b)
  store.partBuffers.give(kept, PART, kept.length)
  return kept
}

async function upload (store: S3Store, key: string, body: Buffer): Promise<void> {
  await pipeline(Readable.from([body]), store.writer(key, { partSize: PART, queueSize: 2 }))
}

t.test('PartBuffers keeps at most what it is told, of one size, until released', async (t) => {
  const pool = new PartBuffers()
  const [a, b, c] = [Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(8)]
  pool.give([a, b, c, Buffer.alloc(4)], 8, 2)
  t.equal(pool.kept, 2, 'two of the right size kept, the rest not')
  t.equal(pool.take(4), undefined, 'none of another size')
  t.equal(pool.take(8), b)
  pool.give([c], 16, 3)
  t.equal(pool.kept, 0, 'another size given: the other size is dropped, and a buffer not of the size given is not kept')
  pool.give([Buffer.alloc(16), Buffer.alloc(16)], 16, 3)
  t.equal(pool.kept, 2)
  pool.release()
  t.equal(pool.kept, 0)
  t.equal(pool.take(16), undefined)
})

t.test('PartBuffers lets what it keeps go once no taker came for its keep time, counted from the last give', async (t) => {
  const KEEP = 400
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
  const pool = new PartBuffers(KEEP)
  const first = performance.now()
  pool.give([Buffer.alloc(8), Buffer.alloc(8)], 8, 2)
  await sleep(KEEP / 2)
  const last = performance.now()
  pool.give([Buffer.alloc(8)], 8, 3) // starts the wait again
  while (performance.now() < first + KEEP + 50) await sleep(10)
  // Past the first give's time; within the last one's unless this process was stalled for a while.
  if (performance.now() - last < KEEP) t.equal(pool.kept, 3, 'kept past the first give\'s keep time, within the last one\'s')
  else t.comment('the process stalled past the last give\'s keep time: the restart was not checked')
  while (pool.kept > 0 && performance.now() < last + 10_000) await sleep(20)
  t.equal(pool.kept, 0, 'let go after the last give\'s keep time')
  t.equal(pool.take(8), undefined)
})

t.test('against the test S3 server', async (t) => {
  const s3: TestS3 = await startS3()
  t.teardown(async () => { await s3.stop() })
  const store = new S3Store(`s3://${s3.bucket}`, { endpoint: s3.endpoint, credentials: s3.credentials })
  t.teardown(async () => { await store.close() })

  t.test('the next upload fills the buffers the last one left, and both objects are as written', async (t) => {
    const first = randomBytes(12 * MiB)
    const second = randomBytes(13 * MiB)
    await upload(store, 'first', first)
    const left = keptBuffers(store)
    // Queue size 2: two parts in flight and the one filling, each a part long.
    t.ok(left.length >= 2 && left.length <= 3, `the first writer left its part buffers (${left.length})`)
    t.ok(left.every((b) => b.length === PART))
    await upload(store, 'second', second)
    const again = keptBuffers(store)
    t.equal(again.length, left.length, 'no buffer allocated beside them')
    t.ok(again.every((b) => left.includes(b)), 'the very buffers the first writer left')
    t.ok(s3.object('first')?.equals(first), 'the first object is as written')
    t.ok(s3.object('second')?.equals(second), 'the second object is as written, sent from the first one\'s buffers')
  })

  t.test('a writer leaves its buffers once its last part is sent: the next writer fills them while its completion is held', async (t) => {
    store.partBuffers.release()
    // The completion held at a proxy: the writer has sent every part and not finished.
    const proxy = await startFaultProxy(s3.endpoint, [{ match: (r) => r.op === 'CompleteMultipartUpload', fault: { kind: 'latency', ms: 3000 }, times: 1 }])
    t.teardown(async () => { await proxy.close() })
    const held = new S3Store(`s3://${s3.bucket}`, { endpoint: proxy.endpoint, credentials: s3.credentials })
    t.teardown(async () => { await held.close() })
    const first = randomBytes(11 * MiB)
    let firstDone = false
    const firstUpload = upload(held, 'held-first', first).then(() => { firstDone = true })
    while (proxy.count('CompleteMultipartUpload') === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const left = keptBuffers(held)
    t.notOk(firstDone, 'the first upload has not finished')
    t.ok(left.length >= 2, `its part buffers were left already (${left.length})`)
    const second = randomBytes(11 * MiB)
    await upload(held, 'held-second', second)
    t.notOk(firstDone, 'the second upload finished while the first one\'s completion was held')
    const after = keptBuffers(held)
    t.equal(after.length, left.length, 'no buffer allocated beside them')
    t.ok(after.every((b) => left.includes(b)), 'it filled the buffers the first one left')
    await firstUpload
    t.ok(s3.object('held-first')?.equals(first), 'the first object is as written')
    t.ok(s3.object('held-second')?.equals(second), 'the second object is as written')
  })

  t.test('a writer destroyed mid-upload leaves its buffers once its requests settle; the next upload is as written', async (t) => {
    store.partBuffers.release()
    const writer = store.writer('stopped', { partSize: PART, queueSize: 2 })
    // More than a part: the first part is sent, the rest fills the next buffer.
    await new Promise<void>((resolve, reject) => { writer.write(randomBytes(PART + MiB), (err) => { if (err == null) resolve(); else reject(err) }) })
    writer.destroy()
    await once(writer, 'close')
    t.equal(s3.openMultipartUploads(), 0, 'the upload was aborted')
    t.ok(store.partBuffers.kept >= 1, 'its buffers were left for the next writer')
    const body = randomBytes(11 * MiB)
    await upload(store, 'after', body)
    t.ok(s3.object('after')?.equals(body), 'the next object is as written')
    t.notOk(s3.keys().includes('stopped'), 'nothing stored under the stopped writer\'s key')
  })

  t.test('close() lets the kept buffers go', async (t) => {
    t.ok(store.partBuffers.kept > 0, 'buffers kept before')
    await store.close()
    t.equal(store.partBuffers.kept, 0, 'none after')
  })
})
