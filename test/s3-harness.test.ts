/**
 * The S3 test harness itself: the fauxqs server (test/s3-server.ts, and
 * bench/s3-server.js as a child process) and the fault proxy
 * (test/fault-proxy.ts), driven through the real AWS SDK and lib-storage.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import { createInterface } from 'node:readline'
import { Readable, type Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import {
  AbortMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadBucketCommand,
  ListMultipartUploadsCommand, PutObjectCommand, S3Client, type S3ClientConfig
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import t, { type Test } from 'tap'
import { startFauxS3 } from '../bench/s3-server.js'
import { guessOp, startFaultProxy, type FaultProxy, type FaultRule } from './fault-proxy.js'
import { startS3, type TestS3 } from './s3-server.js'

const MiB = 1024 * 1024
const data = randomBytes(20 * MiB)
const sha256 = (b: Buffer | Uint8Array | undefined): string =>
  b === undefined ? 'missing' : createHash('sha256').update(b).digest('hex')

/** The SDK's standard retries, 4 attempts: its backoff (100 ms base, 500 ms for throttling errors such as SlowDown, with jitter) keeps these tests fast. */
const fastRetries: S3ClientConfig = { maxAttempts: 4, retryMode: 'standard' }

/** A server, a proxy in front of it, and a client talking to the proxy; all stopped at the test's end. */
async function setup (t: Test, rules: FaultRule[] = []): Promise<{ s3: TestS3, proxy: FaultProxy, client: S3Client }> {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, rules)
  t.teardown(() => proxy.close())
  return { s3, proxy, client: s3.client({ ...fastRetries, endpoint: proxy.endpoint }) }
}

function upload (client: S3Client, bucket: string, key: string, body: Buffer): Upload {
  return new Upload({ client, params: { Bucket: bucket, Key: key, Body: body }, partSize: 5 * MiB, queueSize: 4, leavePartsOnError: false })
}

t.test('the server listens on 127.0.0.1; PutObject/GetObject round trip', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  t.equal(new URL(s3.endpoint).hostname, '127.0.0.1')
  t.equal(s3.endpoint, `http://127.0.0.1:${s3.port}`)
  t.equal(s3.bucket, 'test-bucket')
  t.same(s3.env, {
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    AWS_REGION: 'us-east-1',
    SHOEBOX_S3_ENDPOINT: s3.endpoint
  })

  const client = s3.client()
  const body = Buffer.from('hello shoebox\n')
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'b/hello.txt', Body: body }))
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'a/first', Body: Buffer.from('1') }))
  const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'b/hello.txt' }))
  t.equal(await got.Body?.transformToString(), 'hello shoebox\n')
  t.same(s3.keys(), ['a/first', 'b/hello.txt'])
  t.same(s3.object('b/hello.txt'), body)
  t.equal(s3.object('nope'), undefined)

  s3.createBucket('other')
  await client.send(new PutObjectCommand({ Bucket: 'other', Key: 'x', Body: Buffer.from('x') }))
  t.same(s3.keys('other'), ['x'])
  t.same(s3.object('x', 'other'), Buffer.from('x'))
  t.same(s3.keys('missing-bucket'), [])
})

t.test('startFauxS3 binds 127.0.0.1 (not 0.0.0.0)', async (t) => {
  const { app, port } = await startFauxS3({ bucket: 'b' })
  t.teardown(() => app.close())
  const address = app.server.address()
  t.match(address, { address: '127.0.0.1', port })
})

async function startBenchServer (t: Test, args: string[]): Promise<{ child: ChildProcessByStdio<Writable, Readable, null>, endpoint: string, exited: Promise<number | null> }> {
  const script = fileURLToPath(new URL('../bench/s3-server.js', import.meta.url))
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  t.teardown(() => { if (child.exitCode === null) child.kill() })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve)
    child.once('error', reject)
  })
  const { endpoint } = JSON.parse(line) as { endpoint: string }
  t.match(endpoint, /^http:\/\/127\.0\.0\.1:\d+$/)
  return { child, endpoint, exited }
}

function plainClient (t: Test, endpoint: string): S3Client {
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
  t.teardown(() => client.destroy())
  return client
}

t.test('bench/s3-server.js runs as a child process and exits when stdin closes', async (t) => {
  const { child, endpoint, exited } = await startBenchServer(t, ['bench-bucket'])
  const client = plainClient(t, endpoint)
  await client.send(new HeadBucketCommand({ Bucket: 'bench-bucket' }))
  await t.rejects(client.send(new HeadBucketCommand({ Bucket: 'no-such-bucket' })), { name: 'NotFound' })
  child.stdin.end()
  t.equal(await exited, 0)
})

t.test('bench/s3-server.js: default bucket \'bench\', exits on SIGTERM', async (t) => {
  const { child, endpoint, exited } = await startBenchServer(t, [])
  await plainClient(t, endpoint).send(new HeadBucketCommand({ Bucket: 'bench' }))
  child.kill('SIGTERM')
  t.equal(await exited, 0)
})

t.test('guessOp', async (t) => {
  t.equal(guessOp('PUT', '/b/k?x-id=PutObject'), 'PutObject')
  t.equal(guessOp('PUT', '/b/k/x'), 'PutObject')
  t.equal(guessOp('PUT', '/b/k?partNumber=1&uploadId=u'), 'UploadPart')
  t.equal(guessOp('POST', '/b/k?uploads'), 'CreateMultipartUpload')
  t.equal(guessOp('POST', '/b/k?uploadId=u'), 'CompleteMultipartUpload')
  t.equal(guessOp('DELETE', '/b/k?uploadId=u'), 'AbortMultipartUpload')
  t.equal(guessOp('DELETE', '/b/k'), 'DeleteObject')
  t.equal(guessOp('GET', '/b/k'), 'GetObject')
  t.equal(guessOp('HEAD', '/b/k'), 'HeadObject')
  t.equal(guessOp('HEAD', '/b'), 'HeadBucket')
  t.equal(guessOp('HEAD', '/b/'), 'HeadBucket')
  t.equal(guessOp('GET', '/b?list-type=2&prefix=a'), 'ListObjectsV2')
  t.equal(guessOp('GET', '/b/?list-type=2'), 'ListObjectsV2')
  t.equal(guessOp('PATCH', '/b/k'), 'other')
})

t.test('a 20 MiB lib-storage Upload through the proxy is byte-identical', async (t) => {
  const { s3, proxy, client } = await setup(t)
  await upload(client, s3.bucket, 'big.bin', data).done()
  t.equal(sha256(s3.object('big.bin')), sha256(data))
  t.equal(proxy.count('CreateMultipartUpload'), 1)
  t.equal(proxy.count('UploadPart'), 4)
  t.equal(proxy.count('CompleteMultipartUpload'), 1)
  t.ok(proxy.log.every((e) => e.fault === undefined && e.status === 200), 'no faults, all 200')
  t.equal(s3.openMultipartUploads(), 0)
  const part = proxy.log.find((e) => e.op === 'UploadPart')
  t.equal(part?.headers.host, `127.0.0.1:${proxy.port}`, 'the Host header the client signed reaches the server')
  // default checksums: UploadPart of a Buffer carries x-amz-checksum-crc32 as a header, no aws-chunked
  t.equal(part?.headers['x-amz-sdk-checksum-algorithm'], 'CRC32')
})

t.test('a streaming PutObject body (aws-chunked, trailing checksum) through the proxy', async (t) => {
  const { s3, proxy, client } = await setup(t)
  const body = data.subarray(0, 3 * MiB)
  await client.send(new PutObjectCommand({
    Bucket: s3.bucket, Key: 'stream.bin', Body: Readable.from([body.subarray(0, MiB), body.subarray(MiB)]), ContentLength: body.length
  }))
  t.equal(sha256(s3.object('stream.bin')), sha256(body))
  // the SDK sent it aws-chunked (content-encoding: aws-chunked, transfer-encoding: chunked,
  // x-amz-trailer: x-amz-checksum-crc32); fauxqs decodes that
  t.match(proxy.log.find((e) => e.op === 'PutObject'), { status: 200 })
})

t.test('503 SlowDown twice on UploadPart: the SDK retries and the upload completes', async (t) => {
  const { s3, proxy, client } = await setup(t, [
    { match: (r) => r.op === 'UploadPart', fault: { kind: 'status', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' }, times: 2 }
  ])
  const body = data.subarray(0, 12 * MiB)
  const start = Date.now()
  await upload(client, s3.bucket, 'slow.bin', body).done()
  t.comment(`took ${Date.now() - start} ms`)
  t.equal(sha256(s3.object('slow.bin')), sha256(body))
  t.equal(proxy.rules[0].times, 0, 'the rule was used up')
  const faults = proxy.log.filter((e) => e.fault !== undefined)
  t.equal(faults.length, 2)
  t.ok(faults.every((e) => e.op === 'UploadPart' && e.fault === 'status' && e.status === 503))
  t.equal(proxy.count('UploadPart'), 3 + 2, 'three parts and two retries')
  t.equal(s3.openMultipartUploads(), 0)
})

t.test('a status fault answers with an S3 error the SDK parses', async (t) => {
  const { s3, client } = await setup(t, [
    { match: (r) => r.op === 'PutObject', fault: { kind: 'status', status: 400, code: 'InvalidArgument', message: 'no <thanks>' } }
  ])
  const err = await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'k', Body: Buffer.from('x') })).then(() => undefined, (e: unknown) => e)
  t.match(err, { name: 'InvalidArgument', message: 'no <thanks>', $metadata: { httpStatusCode: 400, attempts: 1 } })
  t.same(s3.keys(), [])
})

t.test('drop-request after 1 MiB of an UploadPart: the upload still completes byte-identical', async (t) => {
  const { s3, proxy, client } = await setup(t, [
    { match: (r) => r.op === 'UploadPart', fault: { kind: 'drop-request', afterBytes: MiB }, times: 1 }
  ])
  const body = data.subarray(0, 12 * MiB)
  await upload(client, s3.bucket, 'dropped.bin', body).done()
  t.equal(sha256(s3.object('dropped.bin')), sha256(body))
  const faults = proxy.log.filter((e) => e.fault !== undefined)
  t.equal(faults.length, 1)
  t.match(faults[0], { op: 'UploadPart', fault: 'drop-request' })
  t.equal(faults[0].status, undefined, 'no response was sent')
  t.equal(proxy.count('UploadPart'), 3 + 1)
  t.equal(s3.openMultipartUploads(), 0)
})

t.test('drop-response on GetObject: the body stream errors', async (t) => {
  const { s3, proxy, client } = await setup(t, [
    { match: (r) => r.op === 'GetObject', fault: { kind: 'drop-response', afterBytes: 1000 }, times: 1 }
  ])
  const body = data.subarray(0, 256 * 1024)
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'get.bin', Body: body }))
  const res = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'get.bin' }))
  t.equal(res.ContentLength, body.length)
  let received = 0
  const err = await (async () => {
    for await (const chunk of res.Body as AsyncIterable<Buffer>) received += chunk.length
  })().then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof Error, 'the body stream errors')
  t.match(err, { message: 'aborted', code: 'ECONNRESET' })
  t.equal(received, 1000, 'exactly afterBytes bytes arrived')
  t.match(proxy.log.find((e) => e.op === 'GetObject'), { fault: 'drop-response', status: 200 })

  // afterBytes 0: the headers arrive, then the connection ends
  proxy.rules.push({ match: (r) => r.op === 'GetObject', fault: { kind: 'drop-response', afterBytes: 0 }, times: 1 })
  const empty = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'get.bin' }))
  await t.rejects(empty.Body!.transformToByteArray(), { code: 'ECONNRESET' })

  // The rules are used up: the next GetObject is whole.
  const again = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'get.bin' }))
  t.equal(sha256(await again.Body?.transformToByteArray()), sha256(body))
})

t.test('openMultipartUploads counts uploads neither completed nor aborted', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  s3.createBucket('second')
  const client = s3.client()
  t.equal(s3.openMultipartUploads(), 0)
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'mpu' }))
  t.equal(s3.openMultipartUploads(), 1)
  t.equal(s3.openMultipartUploads(s3.bucket), 1)
  t.equal(s3.openMultipartUploads('second'), 0)
  await client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: 'mpu', UploadId }))
  t.equal(s3.openMultipartUploads(), 0)
  t.equal(s3.openMultipartUploads(s3.bucket), 0)
  t.same(s3.keys(), [])
})

t.test('ListMultipartUploads (added to fauxqs): by key then initiation, under a prefix, page after page from the markers', async (t) => {
  const s3 = await startS3({ maxUploads: 2 })
  t.teardown(() => s3.stop())
  const client = s3.client()
  const begin = async (key: string): Promise<string> =>
    (await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }))).UploadId ?? ''
  const late = await begin('p/a')
  const b = await begin('p/b')
  const early = await begin('p/a')
  const c = await begin('p/c')
  await begin('q/d')
  // Initiation, not creation order nor upload id, orders two uploads of one key.
  s3.setUploadInitiated(late, new Date('2026-01-02T00:00:00.000Z'))
  s3.setUploadInitiated(early, new Date('2026-01-01T00:00:00.000Z'))
  t.same(s3.openUploads().filter((u) => u.key.startsWith('p/')).map((u) => u.uploadId), [early, late, b, c], 'openUploads(): by key then initiation')

  const first = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: 'p/' }))
  t.equal(first.Bucket, s3.bucket)
  t.same(first.Uploads?.map((u) => [u.Key, u.UploadId]), [['p/a', early], ['p/a', late]], 'a page of 2, by key then initiation')
  t.same(first.Uploads?.map((u) => u.Initiated?.toISOString()), ['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z'], 'each with when it began')
  t.match(first, { IsTruncated: true, NextKeyMarker: 'p/a', NextUploadIdMarker: late })
  // A client that aborts what it lists asks for the page after an upload that is gone.
  await client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: 'p/a', UploadId: late }))
  const second = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: 'p/', KeyMarker: 'p/a', UploadIdMarker: late }))
  t.same(second.Uploads?.map((u) => u.UploadId), [b, c], 'the next page starts after the marker, gone or not')
  t.equal(second.IsTruncated, false)
  const afterKey = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, KeyMarker: 'p/b', MaxUploads: 1 }))
  t.same(afterKey.Uploads?.map((u) => u.Key), ['p/c'], 'a key-marker alone: after every upload of that key; max-uploads below the cap')
  t.equal(afterKey.IsTruncated, true)

  await t.rejects(client.send(new ListMultipartUploadsCommand({ Bucket: 'no-such-bucket' })), { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } })
})

t.test('started with nextMarkers: false, a truncated ListMultipartUploads page says so but not where the next begins; the markers still work', async (t) => {
  const s3 = await startS3({ maxUploads: 2, nextMarkers: false })
  t.teardown(() => s3.stop())
  const client = s3.client()
  const ids: string[] = []
  for (const key of ['p/a', 'p/b', 'p/c']) ids.push((await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }))).UploadId ?? '')
  const first = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }))
  t.match(first, { IsTruncated: true, NextKeyMarker: undefined, NextUploadIdMarker: undefined })
  t.same(first.Uploads?.map((u) => u.UploadId), ids.slice(0, 2))
  const second = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, KeyMarker: 'p/b', UploadIdMarker: ids[1] }))
  t.same(second.Uploads?.map((u) => u.UploadId), ids.slice(2))
  t.equal(second.IsTruncated, false)
})

t.test('started with listUploads: false, the server answers ListMultipartUploads as fauxqs does: a listing of objects, no bucket named', async (t) => {
  const s3 = await startS3({ listUploads: false })
  t.teardown(() => s3.stop())
  const client = s3.client()
  await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'p/a' }))
  const page = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }))
  t.equal(page.Bucket, undefined)
  t.same(page.Uploads ?? [], [])
  t.equal(s3.openMultipartUploads(), 1)
})

t.test('latency delays a request', async (t) => {
  const ms = 300
  const { s3, proxy, client } = await setup(t, [
    { match: (r) => r.op === 'HeadBucket', fault: { kind: 'latency', ms } }
  ])
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'warm', Body: Buffer.from('w') }))
  const start = Date.now()
  await client.send(new HeadBucketCommand({ Bucket: s3.bucket }))
  const took = Date.now() - start
  t.ok(took >= ms - 20, `took ${took} ms`)
  t.match(proxy.log.find((e) => e.op === 'HeadBucket'), { fault: 'latency', status: 200 })
})

t.test('a permanent 500 on UploadPart: Upload.done() rejects and the upload is aborted', async (t) => {
  const { s3, proxy, client } = await setup(t, [
    { match: (r) => r.op === 'UploadPart', fault: { kind: 'status', status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' } }
  ])
  const body = data.subarray(0, 12 * MiB)
  const err = await upload(client, s3.bucket, 'fail.bin', body).done().then(() => undefined, (e: unknown) => e)
  t.match(err, { name: 'InternalError', $metadata: { httpStatusCode: 500, attempts: 4 } })
  t.equal(proxy.count('AbortMultipartUpload'), 1, 'lib-storage aborted the upload')
  t.equal(s3.openMultipartUploads(), 0)
  t.same(s3.keys(), [])
  t.equal(proxy.log.filter((e) => e.op === 'UploadPart').length % 4, 0, 'each part tried maxAttempts times')
})

t.test('close() does not hang on keep-alive connections', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint)
  const httpAgent = new http.Agent({ keepAlive: true })
  t.teardown(() => httpAgent.destroy())
  const client = s3.client({ endpoint: proxy.endpoint, requestHandler: { httpAgent } })
  // (GET, not HEAD: fauxqs answers HEAD without content-length, and such a socket is not reused)
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'k', Body: Buffer.from('v') }))
  const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'k' }))
  t.equal(await got.Body?.transformToString(), 'v')
  t.ok(proxy.log.every((e) => e.headers.connection === 'keep-alive'))
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(Object.values(httpAgent.freeSockets).flat().length, 1, 'one idle keep-alive socket to the proxy')
  await proxy.close()
  await proxy.close()
  t.pass('closed')
  await s3.stop()
  await s3.stop()
})
