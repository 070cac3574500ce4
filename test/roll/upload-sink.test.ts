/**
 * uploadSink() on S3 (lib-storage multipart uploads) against a real
 * S3-protocol server behind the fault proxy: byte-identical multipart
 * objects with the MD5-of-MD5s ETag checked, CRC32 checksums on every part,
 * progress, empty streams, bounded memory with real backpressure, retries
 * through throttling and dropped connections, and no multipart upload left
 * behind after a failure or a destroy().
 */
import { once } from 'node:events'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CreateMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3'
import { crc32 } from '@node-rs/crc32'
import t, { type Test } from 'tap'
import {
  openStore, ShoeboxError, StoreError, uploadSink, type ObjectWriter, type Store, type StoreOptions
} from '../../lib/index.js'
import { startFaultProxy, type FaultProxy, type FaultRule } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'

const MiB = 1024 * 1024
const data = randomBytes(40 * MiB)
const md5 = (b: Buffer): Buffer => createHash('md5').update(b).digest()

/** The ETag S3 gives a multipart object: MD5 of the parts' MD5s, '-', the part count. */
function multipartEtag (body: Buffer, partSize: number): string {
  const digests: Buffer[] = []
  for (let at = 0; at < body.length; at += partSize) digests.push(md5(body.subarray(at, at + partSize)))
  return `"${md5(Buffer.concat(digests)).toString('hex')}-${digests.length}"`
}

interface Setup { s3: TestS3, proxy: FaultProxy, store: Store }

async function setup (t: Test, rules: FaultRule[] = [], options: StoreOptions = {}): Promise<Setup> {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, rules)
  t.teardown(() => proxy.close())
  const store = openStore(`s3://${s3.bucket}/pfx`, { endpoint: proxy.endpoint, credentials: s3.credentials, maxAttempts: 4, ...options })
  t.teardown(() => store.close())
  return { s3, proxy, store }
}

/** Settles when the writer finishes (or errors); fails the test if that takes longer than `ms`. */
function settled (writer: ObjectWriter, ms = 30_000): Promise<Error | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`the writer neither finished nor failed within ${ms} ms`)) }, ms)
    writer.once('finish', () => { clearTimeout(timer); resolve(undefined) })
    writer.once('error', (err: Error) => { clearTimeout(timer); resolve(err) })
  })
}

function closed (writer: ObjectWriter): Promise<void> {
  return new Promise((resolve) => { writer.once('close', () => { resolve() }) })
}

interface FeedResult { writesRefused: number }

/** Write `body` in chunks of the given sizes (cycled), waiting for 'drain' whenever write() says so; then end(). */
async function feed (writer: ObjectWriter, body: Buffer, sizes: number[], onAccepted?: (bytes: number) => void): Promise<FeedResult> {
  const gone = closed(writer)
  let writesRefused = 0
  let at = 0
  for (let i = 0; at < body.length; i++) {
    if (writer.destroyed) return { writesRefused }
    const chunk = body.subarray(at, at + sizes[i % sizes.length])
    at += chunk.length
    const ok = writer.write(chunk, (err) => { if (err == null) onAccepted?.(chunk.length) })
    if (!ok) {
      writesRefused++
      await Promise.race([new Promise((resolve) => writer.once('drain', resolve)), gone])
    }
  }
  if (!writer.destroyed) writer.end()
  return { writesRefused }
}

t.test('a 23 MiB multipart upload in odd-sized writes is byte-identical, checksummed and verified', async (t) => {
  const { s3, proxy, store } = await setup(t)
  const body = data.subarray(0, 23 * MiB)
  const partSize = 5 * MiB
  const writer = uploadSink(store, 'big.bin', { partSize, queueSize: 3 })
  let atFinish: { stored: boolean, completes: number } | undefined
  writer.once('finish', () => { atFinish = { stored: s3.object('pfx/big.bin')?.equals(body) === true, completes: proxy.count('CompleteMultipartUpload') } })
  const done = settled(writer)
  const progress: number[] = []
  writer.on('progress', (p) => {
    t.equal(p.key, 'big.bin')
    progress.push(p.bytes)
  })
  await feed(writer, body, [777_777, 1, 65_536, 3_000_001])
  t.equal(await done, undefined, 'finished')
  t.same(atFinish, { stored: true, completes: 1 }, 'finish only once the server holds the whole object')
  t.ok(s3.object('pfx/big.bin')?.equals(body), 'byte-identical')
  t.same(s3.keys(), ['pfx/big.bin'])

  const etag = multipartEtag(body, partSize)
  t.match(etag, /-5"$/)
  t.same(writer.result, { key: 'big.bin', bytes: body.length, etag })
  t.equal((await store.stat('big.bin')).etag, etag)

  t.ok(progress.length >= 2, `${progress.length} progress events`)
  t.ok(progress.every((b, i) => i === 0 || b > progress[i - 1]), 'progress only grows')
  t.equal(progress.at(-1), body.length, 'progress ends at the total')

  t.equal(proxy.count('CreateMultipartUpload'), 1)
  t.equal(proxy.count('CompleteMultipartUpload'), 1)
  const parts = proxy.log.filter((e) => e.op === 'UploadPart')
  t.equal(parts.length, 5)
  // every part carries a CRC32 the server could check, and it is the CRC32 of that part's bytes
  for (const part of parts) {
    const n = Number(new URL(part.url, 'http://x').searchParams.get('partNumber'))
    const bytes = body.subarray((n - 1) * partSize, n * partSize)
    const expected = Buffer.alloc(4)
    expected.writeUInt32BE(crc32(bytes))
    t.equal(part.headers['x-amz-checksum-crc32'], expected.toString('base64'), `part ${n} CRC32`)
  }
  t.equal(s3.openMultipartUploads(), 0)
  t.match(writer.stats(), { uploaded: { bytes: body.length, objects: 1 }, retries: 0, errors: {} })
  t.match(store.stats(), { uploaded: { bytes: body.length, objects: 1 } })
})

t.test('uploadSink from a URL opens (and closes) its own store', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const body = data.subarray(0, 6 * MiB)
  const writer = uploadSink(`s3://${s3.bucket}/via/url`, 'k.bin', { endpoint: s3.endpoint, credentials: s3.credentials, partSize: '5MiB' })
  const done = settled(writer)
  const gone = closed(writer)
  await feed(writer, body, [MiB])
  t.equal(await done, undefined)
  await gone
  t.ok(s3.object('via/url/k.bin')?.equals(body))
  t.equal(writer.result?.etag, multipartEtag(body, 5 * MiB))
})

t.test('a small object is one PutObject with a plain MD5 ETag', async (t) => {
  const { s3, proxy, store } = await setup(t)
  const body = data.subarray(0, 100_000)
  const writer = uploadSink(store, 'small.bin', { partSize: 5 * MiB })
  const done = settled(writer)
  await feed(writer, body, [4096])
  t.equal(await done, undefined)
  t.same(writer.result, { key: 'small.bin', bytes: body.length, etag: `"${md5(body).toString('hex')}"` })
  t.ok(s3.object('pfx/small.bin')?.equals(body))
  t.equal(proxy.count('CreateMultipartUpload'), 0)
  t.equal(proxy.count('PutObject'), 1)
  t.equal(s3.openMultipartUploads(), 0)
})

t.test('a small object takes a small buffer, not a part-sized one; a big one still goes in whole parts', async (t) => {
  const { s3, store } = await setup(t)
  // V8 counts every part-sized buffer against its heap: uploading many small files with 8 MiB each spent a
  // quarter of the time in the garbage collector.
  const sizes: number[] = []
  const allocUnsafeSlow = Buffer.allocUnsafeSlow
  Buffer.allocUnsafeSlow = (size: number) => {
    sizes.push(size)
    return allocUnsafeSlow(size)
  }
  let blockSizes: number[]
  try {
    const small = uploadSink(store, 'tiny.bin', { partSize: 5 * MiB })
    const done = settled(small)
    await feed(small, data.subarray(0, 1000), [300])
    t.equal(await done, undefined)
    blockSizes = sizes.splice(0)
    // A first write of a block or more (a file read in 1 MiB chunks) takes a part-sized buffer at once: no growing.
    const blocks = uploadSink(store, 'blocks.bin', { partSize: 5 * MiB })
    const written = settled(blocks)
    await feed(blocks, data.subarray(0, 2 * MiB), [MiB])
    t.equal(await written, undefined)
  } finally {
    Buffer.allocUnsafeSlow = allocUnsafeSlow
  }
  t.ok(s3.object('pfx/tiny.bin')?.equals(data.subarray(0, 1000)), 'stored whole')
  t.same(blockSizes.filter((n) => n >= 64 * 1024), [64 * 1024], 'one 64 KiB buffer')
  t.same(sizes.filter((n) => n >= 64 * 1024), [5 * MiB], 'written in 1 MiB blocks: one part-sized buffer')
  // Growing the first part (64 KiB after a small first write, doubled as it fills) ends at the part size: parts are whole.
  const body = data.subarray(0, 11 * MiB + 7)
  const big = uploadSink(store, 'grown.bin', { partSize: 5 * MiB })
  const done = settled(big)
  await feed(big, body, [1000, 3 * MiB])
  t.equal(await done, undefined)
  t.ok(s3.object('pfx/grown.bin')?.equals(body), 'stored whole')
  t.equal(big.result?.etag, multipartEtag(body, 5 * MiB), 'in parts of exactly the part size')
})

t.test('an empty stream makes an empty object, and finish fires', async (t) => {
  const { s3, proxy, store } = await setup(t)
  const writer = uploadSink(store, 'empty', { contentType: 'text/plain' })
  const done = settled(writer, 10_000)
  writer.end()
  t.equal(await done, undefined, 'finished')
  t.same(writer.result, { key: 'empty', bytes: 0, etag: `"${md5(Buffer.alloc(0)).toString('hex')}"` })
  t.same(s3.object('pfx/empty'), Buffer.alloc(0))
  t.equal((await store.stat('empty')).size, 0)
  t.equal(proxy.count('CreateMultipartUpload'), 0)

  // through pipeline() from an empty source, too
  const second = uploadSink(store, 'empty2')
  await Promise.race([
    pipeline(Readable.from([]), second),
    new Promise((_resolve, reject) => setTimeout(() => { reject(new Error('hung')) }, 10_000))
  ])
  t.same(s3.object('pfx/empty2'), Buffer.alloc(0))
  t.match(store.stats(), { uploaded: { bytes: 0, objects: 2 } })
})

t.test('backpressure: memory stays bounded by part size x queue size while parts are slow', async (t) => {
  const { s3, store } = await setup(t, [{ match: (r) => r.op === 'UploadPart', fault: { kind: 'latency', ms: 300 } }])
  const partSize = 5 * MiB
  const queueSize = 2
  const writer = uploadSink(store, 'slow.bin', { partSize, queueSize })
  const done = settled(writer)
  let accepted = 0
  let confirmed = 0
  let maxAhead = 0
  writer.on('progress', (p) => { confirmed = p.bytes })
  const { writesRefused } = await feed(writer, data, [256 * 1024], (n) => {
    accepted += n
    maxAhead = Math.max(maxAhead, accepted - confirmed)
  })
  t.equal(await done, undefined)
  t.ok(s3.object('pfx/slow.bin')?.equals(data), 'byte-identical')
  const bound = partSize * (queueSize + 2) + 2 * MiB
  t.comment(`at most ${(maxAhead / MiB).toFixed(1)} MiB accepted but not confirmed (bound ${bound / MiB} MiB); write() refused ${writesRefused} times`)
  t.ok(maxAhead <= bound, `accepted - confirmed stayed <= ${bound / MiB} MiB`)
  t.ok(maxAhead >= partSize, 'the measure is real: at least a part was ahead')
  t.ok(writesRefused > 0, 'write() returned false')
  t.equal(accepted, data.length)
})

t.test('retries: 503 SlowDown twice and a connection dropped mid-part', async (t) => {
  const { s3, proxy, store } = await setup(t, [
    { match: (r) => r.op === 'UploadPart', fault: { kind: 'status', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' }, times: 2 },
    { match: (r) => r.op === 'UploadPart', fault: { kind: 'drop-request', afterBytes: MiB }, times: 1 }
  ])
  const body = data.subarray(0, 12 * MiB)
  const writer = uploadSink(store, 'retried.bin', { partSize: 5 * MiB })
  const done = settled(writer)
  await feed(writer, body, [1_000_003])
  t.equal(await done, undefined, 'finished')
  t.ok(s3.object('pfx/retried.bin')?.equals(body), 'byte-identical: nothing lost or duplicated')
  t.same(s3.keys(), ['pfx/retried.bin'])
  t.equal(writer.result?.etag, multipartEtag(body, 5 * MiB))
  t.same(proxy.rules.map((r) => r.times), [0, 0], 'every fault was injected')
  t.equal(proxy.count('UploadPart'), 3 + 3, 'three parts, three repeats')
  t.equal(s3.openMultipartUploads(), 0)
  const stats = writer.stats()
  t.comment(JSON.stringify(stats))
  t.ok(stats.retries >= 3, `writer retries ${stats.retries} >= 3`)
  t.ok((stats.errors.throttled ?? 0) >= 2, 'two throttled attempts')
  t.ok((stats.errors.network ?? 0) >= 1, 'one broken connection')
  t.ok(store.stats().retries >= 3, 'the store counts them too')
  t.match(store.stats().errors, { throttled: stats.errors.throttled })
})

t.test('a permanent 500 on every part fails the writer and aborts the upload', async (t) => {
  const { s3, proxy, store } = await setup(t, [
    { match: (r) => r.op === 'UploadPart', fault: { kind: 'status', status: 500, code: 'InternalError', message: 'We encountered an internal error.' } }
  ], { maxAttempts: 2 })
  const writer = uploadSink(store, 'doomed/file.bin', { partSize: 5 * MiB })
  const done = settled(writer)
  const gone = closed(writer)
  await feed(writer, data.subarray(0, 12 * MiB), [MiB])
  const err = await done
  await gone
  t.ok(err instanceof StoreError, 'a StoreError')
  t.match(err, {
    code: 'SHOEBOX_STORE_FAILED',
    kind: 'server',
    store: 's3://test-bucket/pfx',
    operation: 'put',
    key: 'doomed/file.bin',
    status: 500
  })
  t.match(err?.message, /^s3:\/\/test-bucket\/pfx: put doomed\/file\.bin: server error/)
  t.equal(s3.openMultipartUploads(), 0, 'no multipart upload left once closed')
  t.ok(proxy.count('AbortMultipartUpload') >= 1, 'aborted')
  t.same(s3.keys(), [], 'no object')
  t.equal(writer.result, undefined)
  t.ok((writer.stats().errors.server ?? 0) >= 2)

  // pipeline() rejects with the same kind of error
  const second = uploadSink(store, 'doomed/two.bin', { partSize: 5 * MiB })
  await t.rejects(pipeline(Readable.from([data.subarray(0, 6 * MiB)]), second), { code: 'SHOEBOX_STORE_FAILED', operation: 'put' })
  t.equal(s3.openMultipartUploads(), 0)
  t.same(s3.keys(), [])
})

t.test('destroy() mid-upload aborts the multipart upload and leaves no object', async (t) => {
  const { s3, proxy, store } = await setup(t, [{ match: (r) => r.op === 'UploadPart', fault: { kind: 'latency', ms: 150 } }])
  let uploadId: string | undefined
  const writer = uploadSink(store, 'cancelled.bin', { partSize: 5 * MiB, queueSize: 2, onMultipartUpload: (id) => { uploadId = id } })
  const gone = closed(writer)
  let progressed = 0
  writer.once('progress', (p) => {
    progressed = p.bytes
    t.equal(s3.openMultipartUploads(), 1, 'an upload is open when destroyed')
    writer.destroy()
  })
  const errors: Error[] = []
  writer.on('error', (err: Error) => { errors.push(err) })
  await feed(writer, data, [512 * 1024])
  await gone
  t.ok(progressed > 0 && progressed < data.length, 'destroyed after some, not all, parts')
  t.type(uploadId, 'string', 'onMultipartUpload told the upload id')
  t.equal(s3.openMultipartUploads(), 0, 'aborted by the time close fires')
  t.same(s3.keys(), [], 'no object')
  t.equal(proxy.count('CompleteMultipartUpload'), 0)
  t.same(errors, [], 'a plain destroy() is not an error')
  t.equal(writer.result, undefined)

  // destroyed with an error: that error, and still nothing left
  const w2 = uploadSink(store, 'cancelled2.bin', { partSize: 5 * MiB })
  const done2 = settled(w2)
  const gone2 = closed(w2)
  w2.once('progress', () => { w2.destroy(new Error('producer gave up')) })
  await feed(w2, data, [MiB])
  t.match(await done2, { message: 'producer gave up' })
  await gone2
  t.equal(s3.openMultipartUploads(), 0)
  t.same(s3.keys(), [])

  // destroyed before anything was written: nothing to clean up, and close still fires
  const w3 = uploadSink(store, 'never.bin')
  const gone3 = closed(w3)
  w3.destroy()
  await gone3
  t.same(s3.keys(), [])
})

t.test('abortUpload and onMultipartUpload', async (t) => {
  const { s3, store } = await setup(t)
  const raw = s3.client()
  const { UploadId } = await raw.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'pfx/crashed.bin' }))
  t.equal(s3.openMultipartUploads(), 1)
  await store.abortUpload('crashed.bin', UploadId as string)
  t.equal(s3.openMultipartUploads(), 0)
  await store.abortUpload('crashed.bin', UploadId as string)
  t.pass('aborting an upload that is gone is not an error')
})

/**
 * A client that flips one byte of the first body of each of `commands`:
 * 'wire' after the SDK has checksummed it (bytes corrupted on the way, which
 * S3 itself would refuse but the test server does not check), 'sdk' before
 * (bytes changed between the sink and the SDK, so the checksum sent is not
 * that of the bytes written).
 */
function corruptingClient (s3: TestS3, endpoint: string, commands: string[], where: 'wire' | 'sdk'): { client: S3Client, corrupted: () => number } {
  const client = s3.client({ endpoint, maxAttempts: 2 })
  let corrupted = 0
  const flip = (body: unknown): Buffer | undefined => {
    if (corrupted > 0 || !(body instanceof Uint8Array) || body.length === 0) return undefined
    corrupted++
    const copy = Buffer.from(body)
    copy[copy.length >> 1] ^= 0xff
    return copy
  }
  if (where === 'wire') {
    client.middlewareStack.add((next, context) => async (args) => {
      const request = args.request as { body?: unknown }
      const copy = commands.includes(context.commandName ?? '') ? flip(request.body) : undefined
      if (copy !== undefined) request.body = copy
      return await next(args)
    }, { step: 'finalizeRequest', name: 'testCorruptBody' })
  } else {
    client.middlewareStack.add((next, context) => async (args) => {
      const input = args.input as { Body?: unknown }
      const copy = commands.includes(context.commandName ?? '') ? flip(input.Body) : undefined
      if (copy !== undefined) input.Body = copy
      return await next(args)
    }, { step: 'initialize', name: 'testCorruptInput' })
  }
  return { client, corrupted: () => corrupted }
}

const cases = [['multi.bin', 11 * MiB, 'UploadPartCommand'], ['single.bin', 1000, 'PutObjectCommand']] as const

t.test('bytes that are not those written fail the upload and the object is removed', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint)
  t.teardown(() => proxy.close())
  const body = data.subarray(0, 11 * MiB)

  const modes = [
    { verify: undefined, where: 'sdk', message: /part \d+: CRC32 \S+ was sent for bytes written with CRC32/ },
    { verify: 'etag', where: 'wire', message: /ETag .* does not match/ }
  ] as const
  for (const { verify, where, message } of modes) {
    for (const [key, size, command] of cases) {
      const { client, corrupted } = corruptingClient(s3, proxy.endpoint, [command], where)
      const store = openStore(`s3://${s3.bucket}/v`, { client })
      const writer = uploadSink(store, key, { partSize: 5 * MiB, verify })
      const done = settled(writer)
      await feed(writer, body.subarray(0, size), [MiB])
      const err = await done
      const what = `${verify ?? 'checksum'}, ${key}`
      t.equal(corrupted(), 1, `${what}: one body was corrupted`)
      t.ok(err instanceof StoreError, `${what}: a StoreError`)
      t.match(err, { code: 'SHOEBOX_VERIFY_FAILED', kind: 'verify', operation: 'put', key, message }, what)
      t.equal(s3.object(`v/${key}`), undefined, `${what}: the bad object was removed`)
      t.equal(s3.openMultipartUploads(), 0)
      t.equal(writer.result, undefined)
    }
  }

  // Each corruption with verify: false goes unnoticed: it is the check that caught it.
  for (const where of ['sdk', 'wire'] as const) {
    const { client } = corruptingClient(s3, proxy.endpoint, ['UploadPartCommand'], where)
    const store = openStore(`s3://${s3.bucket}/v`, { client })
    const writer = uploadSink(store, `unchecked-${where}.bin`, { partSize: 5 * MiB, verify: false })
    const done = settled(writer)
    await feed(writer, body, [MiB])
    t.equal(await done, undefined, 'finished')
    const stored = s3.object(`v/unchecked-${where}.bin`)
    t.equal(stored?.length, body.length)
    t.notOk(stored?.equals(body), `${where}: the stored bytes differ from those written`)
  }
})

t.test('options are checked', async (t) => {
  const { store, proxy } = await setup(t)
  for (const partSize of [5 * MiB - 1, '4MiB', 0]) {
    t.throws(() => uploadSink(store, 'k', { partSize }), { code: 'SHOEBOX_INVALID_OPTION', message: /partSize/ }, `partSize ${partSize}`)
  }
  for (const queueSize of [0, -1, 1.5]) {
    t.throws(() => uploadSink(store, 'k', { queueSize }), { code: 'SHOEBOX_INVALID_OPTION', message: /queueSize/ }, `queueSize ${queueSize}`)
  }
  const ok = uploadSink(store, 'k', { partSize: '6MiB', queueSize: 1 }) as ObjectWriter & { partSize: number, queueSize: number }
  t.equal(ok.partSize, 6 * MiB)
  t.equal(ok.queueSize, 1)
  t.equal((uploadSink(store, 'k') as ObjectWriter & { partSize: number }).partSize, 8 * MiB, 'default 8 MiB')
  t.throws(() => uploadSink(store, '../k'), ShoeboxError)
  t.throws(() => uploadSink(store, '../k'), { code: 'SHOEBOX_BAD_KEY' })
  t.same(proxy.log, [], 'nothing was sent')
  ok.destroy()
  await once(ok, 'close')
})
