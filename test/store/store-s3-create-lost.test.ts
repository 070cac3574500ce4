/**
 * A CreateMultipartUpload whose answer is lost on the way (the server made
 * the upload; the connection dropped before its id reached the writer) is
 * tried again by the SDK, and the writer goes on with the second upload. The
 * first stayed open for good, its id known to no one (2 creates, 1 id noted,
 * 1 upload open after a write that succeeded): the writer now lists the key's
 * uploads begun since it asked and aborts the strays before telling its id.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { openStore } from '../../lib/index.js'
import { startFaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'

const PART = 5 * 1024 * 1024

for (const listUploads of [true, false]) {
  t.test(`a create whose answer was lost leaves no upload open${listUploads ? '' : ' (server without ListMultipartUploads: still written)'}`, async (t) => {
    const s3 = await startS3({ listUploads })
    t.teardown(() => s3.stop())
    const proxy = await startFaultProxy(s3.endpoint, [
      { match: (r) => r.op === 'CreateMultipartUpload', fault: { kind: 'drop-response', afterBytes: 0 }, times: 1 }
    ])
    t.teardown(() => proxy.close())
    const store = openStore(`s3://${s3.bucket}/p`, { endpoint: proxy.endpoint, credentials: s3.credentials, region: s3.region })
    t.teardown(async () => { await store.close() })
    const noted: string[] = []
    const body = randomBytes(2 * PART + 1000)
    const writer = store.writer('big.bin', { partSize: PART, onMultipartUpload: (id) => { noted.push(id) } })
    writer.end(body)
    await new Promise<void>((resolve, reject) => {
      writer.once('finish', resolve)
      writer.once('error', reject)
    })
    t.equal(proxy.count('CreateMultipartUpload'), 2, 'the create was tried twice (the first answer lost)')
    t.equal(noted.length, 1, 'one id told')
    t.same(s3.keys(), ['p/big.bin'], 'exactly one object')
    t.ok(s3.object('p/big.bin')?.equals(body), 'with the bytes written')
    if (listUploads) {
      t.equal(s3.openMultipartUploads(), 0, 'no upload left open')
      t.equal(proxy.count('AbortMultipartUpload'), 1, 'the stray aborted')
    } else {
      t.equal(s3.openMultipartUploads(), 1, 'the stray stays where the server cannot list it (README says so)')
    }
  })
}

t.test('a writer destroyed while its create is under way leaves no upload open', async (t) => {
  // destroy() cancelled the CreateMultipartUpload in flight: the server had made the upload, its id never
  // reached the writer, and nothing aborted it (1 upload left open per writer so destroyed).
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'CreateMultipartUpload', fault: { kind: 'hold-response', ms: 300 }, times: 1 }
  ])
  t.teardown(() => proxy.close())
  const store = openStore(`s3://${s3.bucket}/p`, { endpoint: proxy.endpoint, credentials: s3.credentials, region: s3.region })
  t.teardown(async () => { await store.close() })
  const writer = store.writer('big.bin', { partSize: PART })
  writer.on('error', () => {})
  writer.write(randomBytes(PART + 1000))
  // The server has made the upload; its answer is held at the proxy.
  while (s3.openMultipartUploads() === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  writer.destroy()
  await new Promise((resolve) => writer.once('close', resolve))
  t.equal(s3.openMultipartUploads(), 0, 'the upload is aborted before close')
  t.same(s3.keys(), [], 'nothing stored')
})

t.test('a writer destroyed while a server holds its create\'s answer closes within the grace, saying the upload may stay open', async (t) => {
  // destroy() waited for the create's answer through every attempt of the SDK: on a server that takes requests
  // and never answers, close came after requestTimeout x maxAttempts (10 minutes with the defaults), and a
  // pipeline() whose other stage failed waited that long. Now no attempt starts after destroy(), and the one under
  // way is given up after a grace of 5 s (or the request timeout if smaller).
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'CreateMultipartUpload', fault: { kind: 'hold-response', ms: 120_000 } }
  ])
  t.teardown(() => proxy.close())
  const store = openStore(`s3://${s3.bucket}/p`, { endpoint: proxy.endpoint, credentials: s3.credentials, region: s3.region })
  t.teardown(async () => { await store.close() })
  const writer = store.writer('big.bin', { partSize: PART })
  const warnings: Error[] = []
  writer.on('warning', (w: Error) => { warnings.push(w) })
  const failed = new Promise<Error>((resolve) => writer.once('error', resolve))
  writer.write(randomBytes(PART + 1000))
  while (s3.openMultipartUploads() === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  writer.destroy(new Error('the other stage failed'))
  await new Promise((resolve) => writer.once('close', resolve))
  // The answer is held for 120 s: the close came while the proxy still holds it, so the upload is still open.
  t.equal(s3.openMultipartUploads(), 1, 'closed before the create was answered')
  t.equal(proxy.count('CreateMultipartUpload'), 1, 'no attempt after destroy()')
  const err = await failed
  t.match(err.message, new RegExp(`^the other stage failed; its CreateMultipartUpload had no answer within 5 s of destroy\\(\\) and was given up: the upload it may have made stays open \\(shoebox multipart s3://${s3.bucket}/p lists it\\)$`))
  t.same(warnings, [], 'said in the error, where there is one')
})

t.test('a plain destroy() of a writer whose create is never answered: a warning says the upload may stay open', async (t) => {
  // requestTimeout 1s: the grace is the request timeout, being smaller than 5 s; the attempt under way times out
  // and the SDK, which tried again up to maxAttempts, starts no other.
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'CreateMultipartUpload', fault: { kind: 'hold-response', ms: 120_000 } },
    { match: (r) => r.op === 'ListMultipartUploads', fault: { kind: 'hold-response', ms: 120_000 } }
  ])
  t.teardown(() => proxy.close())
  const store = openStore(`s3://${s3.bucket}/p`, { endpoint: proxy.endpoint, credentials: s3.credentials, region: s3.region, requestTimeout: '1s', maxAttempts: 5 })
  t.teardown(async () => { await store.close() })
  const writer = store.writer('big.bin', { partSize: PART })
  const warnings: Error[] = []
  writer.on('warning', (w: Error) => { warnings.push(w) })
  writer.on('error', (e: Error) => { t.fail(`no error for a plain destroy(): ${e.message}`) })
  writer.write(randomBytes(PART + 1000))
  while (s3.openMultipartUploads() === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  writer.destroy()
  await new Promise((resolve) => writer.once('close', resolve))
  t.equal(proxy.count('CreateMultipartUpload'), 1, 'no attempt after destroy()')
  const said = warnings.map((w) => w.message)
  t.equal(said.length, 1, 'one warning')
  t.match(said, [/: put big\.bin: its CreateMultipartUpload had no answer within 1 s of destroy\(\) and was given up: the upload it may have made stays open \(shoebox multipart s3:\/\/\S+ lists it\)$/])
})
