/**
 * What protects an uploaded part's bytes now that the writer sends its own
 * parts (s3-writer.ts) and a part's payload is not hashed for the signature
 * where that adds nothing (s3-client.ts, unsignedPayload()):
 *
 * - which endpoints skip the payload's SHA-256 (https, loopback) and which
 *   keep it (plain http to another host);
 * - on loopback, every part and single put goes out as UNSIGNED-PAYLOAD with
 *   the CRC32 the SDK computed, and a part corrupted on the wire is still
 *   refused by the server's CRC32 check (the fault proxy does S3's check);
 * - bytes changed between the writer and the SDK make the CRC32 sent differ
 *   from the one summed as they were written: the rolling sink's upload
 *   fails naming the key, removes the object, and keeps the local file
 *   queued, unmarked.
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { finished, pipeline } from 'node:stream/promises'
import t from 'tap'
import { openStore, rollingSink, StoreError, type UploadErrorEvent } from '../../lib/index.js'
import { pendingUploads } from '../../lib/roll/uploader.js'
import { unsignedPayload } from '../../lib/store/s3-client.js'
import { startFaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'

const MiB = 1024 * 1024
const body = randomBytes(11 * MiB)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-part-integrity-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

t.test('the payload goes unhashed over https and on loopback only', async (t) => {
  const cases: Array<[string, string | undefined, boolean]> = [
    ['https:', 's3.amazonaws.com', true],
    ['https:', '10.0.0.5', true],
    ['http:', '127.0.0.1', true],
    ['http:', '127.200.3.4', true],
    ['http:', 'localhost', true],
    ['http:', 'LOCALHOST', true],
    ['http:', '[::1]', true],
    ['http:', '::1', true],
    ['http:', '10.0.0.5', false],
    ['http:', 'minio.internal', false],
    ['http:', '127.0.0.1.nip.io', false],
    ['http:', 'localhost.example.com', false],
    ['http:', '1127.0.0.1', false],
    ['http:', undefined, false],
    [undefined as unknown as string, '127.0.0.1', false]
  ]
  for (const [protocol, host, expected] of cases) t.equal(unsignedPayload(protocol, host), expected, `${protocol} ${host}`)
})

t.test('on loopback: parts and puts go UNSIGNED-PAYLOAD with their CRC32; a part corrupted on the wire is still refused', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint)
  t.teardown(() => proxy.close())
  const store = openStore(`s3://${s3.bucket}/u`, { endpoint: proxy.endpoint, credentials: s3.credentials, maxAttempts: 2 })
  t.teardown(() => store.close())
  const chunks = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => body.subarray(i * MiB, (i + 1) * MiB))

  await pipeline(Readable.from(chunks(11)), store.writer('multi.bin', { partSize: 5 * MiB }))
  await store.put('single.bin', body.subarray(0, 1000))
  t.ok(s3.object('u/multi.bin')?.equals(body), 'the multipart object is the bytes written')
  t.ok(s3.object('u/single.bin')?.equals(body.subarray(0, 1000)), 'the single put too')
  const puts = proxy.log.filter((e) => e.op === 'UploadPart' || e.op === 'PutObject')
  t.equal(puts.filter((e) => e.op === 'UploadPart').length, 3, 'three parts')
  for (const e of puts) {
    t.equal(e.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD', `${e.op}: the payload is not hashed for the signature`)
    t.match(e.headers['x-amz-checksum-crc32'], /^[A-Za-z0-9+/]{6}==$/, `${e.op}: it carries its CRC32`)
    t.match(e.headers.authorization, /SignedHeaders=[^,]*x-amz-checksum-crc32/, `${e.op}: the CRC32 header is signed`)
  }
  const create = proxy.log.find((e) => e.op === 'CreateMultipartUpload')
  t.equal(create?.headers['x-amz-checksum-algorithm'], 'CRC32', 'the upload is created for CRC32 parts')

  proxy.rules.push({ match: (r) => r.op === 'UploadPart', fault: { kind: 'corrupt-body', checkCrc32: true }, times: 1 })
  const err = await pipeline(Readable.from(chunks(11)), store.writer('corrupt.bin', { partSize: 5 * MiB })).then(() => undefined, (e: Error) => e)
  t.ok(err instanceof StoreError, 'the upload fails')
  t.match(err, { key: 'corrupt.bin', message: /BadDigest/ })
  const refused = proxy.log.filter((e) => e.corrupted === true)
  t.same(refused.map((e) => [e.op, e.status, e.headers['x-amz-content-sha256']]), [['UploadPart', 400, 'UNSIGNED-PAYLOAD']], 'refused by the CRC32 check')
  t.equal(s3.object('u/corrupt.bin'), undefined, 'no object')
  t.equal(s3.openMultipartUploads(), 0, 'no upload left open')
})

t.test('bytes changed after the writer: the sink\'s upload fails naming the key, the file stays queued', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  // A client that flips a byte of every part's body before the SDK checksums it.
  const client = s3.client({ maxAttempts: 1 })
  client.middlewareStack.add((next, context) => async (args) => {
    const input = args.input as { Body?: unknown }
    if (context.commandName === 'UploadPartCommand' && input.Body instanceof Uint8Array) {
      const copy = Buffer.from(input.Body)
      copy[copy.length >> 1] ^= 0xff
      input.Body = copy
    }
    return await next(args)
  }, { step: 'initialize', name: 'testChangeBody' })
  const store = openStore(`s3://${s3.bucket}/sink`, { client })
  t.teardown(() => store.close())
  const dir = path.join(tmp, 'sink')
  const sink = rollingSink({ dir, flushInterval: 0, upload: { to: store, partSize: '5MiB', attempts: 1, early: false } })
  const errors: UploadErrorEvent[] = []
  sink.on('uploadError', (e: UploadErrorEvent) => { errors.push(e) })
  // Incompressible payloads: a file of more than one 5 MiB part.
  for (let i = 0; i < 12; i++) sink.write({ metadata: { i: String(i) }, payload: body.subarray(i * MiB, (i + 1) * MiB) })
  sink.end()
  const err = await finished(sink).then(() => undefined, (e: Error) => e)
  const [name] = fs.readdirSync(dir).filter((n) => !n.startsWith('.'))
  t.ok(fs.statSync(path.join(dir, name)).size > 10 * MiB, 'a multipart file')

  t.ok(err !== undefined, 'the sink fails')
  t.equal(errors.length, 1)
  t.match(errors[0], { key: name, willRetry: false, error: { code: 'SHOEBOX_VERIFY_FAILED', key: name, message: /part 1: CRC32 \S+ was sent for bytes written with CRC32/ } })
  t.match(errors[0].error.message, name, 'the message names the key')
  t.equal(s3.object(`sink/${name}`), undefined, 'the object was removed')
  t.equal(s3.openMultipartUploads(), 0)
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.uploaded')), [], 'no marker')
  t.same(await pendingUploads(dir), [name], 'the file is kept, still queued')
})
