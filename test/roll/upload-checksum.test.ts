/**
 * "verify: 'checksum' (the default) with bytes corrupted between shoebox and
 * the server": the fault proxy flips one byte of a part's body on the wire,
 * after the SDK has summed it.
 *
 * Who can see that, honestly: the SDK sends each part's CRC32 in
 * x-amz-checksum-crc32 and S3 (and MinIO) refuse a part whose bytes do not
 * match it (400 BadDigest). The test server, fauxqs, does not: its
 * s3/actions/uploadPart.js and putObject.js store the body as received and
 * answer only an ETag (the MD5 of what arrived); the word "checksum" appears
 * nowhere in its code, so it neither checks the CRC32 nor echoes one back. So:
 *
 * - with the proxy doing S3's check (corrupt-body with checkCrc32), the
 *   server's refusal must surface as a failed upload, leaving no object and no
 *   open multipart upload; through the rolling sink, no marker and the file
 *   still queued;
 * - without it, the default mode cannot see the change (the CRC32 sent is that
 *   of the bytes written, and nothing comes back to compare): the test says
 *   so, which is why the detection above is the server's; `verify: 'etag'`
 *   does see it, on the client, from the MD5 ETag.
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { finished, pipeline } from 'node:stream/promises'
import t, { type Test } from 'tap'
import { openStore, rollingSink, StoreError, type StoreOptions, type UploadErrorEvent, type UploadEvent, type WriterOptions } from '../../lib/index.js'
import { pendingUploads } from '../../lib/roll/uploader.js'
import { startFaultProxy, type FaultProxy, type FaultRule } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'

const MiB = 1024 * 1024
const body = randomBytes(11 * MiB)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-upload-checksum-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

interface Setup { s3: TestS3, proxy: FaultProxy, storeOptions: StoreOptions }

async function setup (t: Test, rules: FaultRule[]): Promise<Setup> {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, rules)
  t.teardown(() => proxy.close())
  return { s3, proxy, storeOptions: { endpoint: proxy.endpoint, credentials: s3.credentials, maxAttempts: 3 } }
}

/** Upload `body` as `key` in 5 MiB parts (three parts), in 1 MiB writes; resolves with the failure, if any. */
async function upload (setup: Setup, key: string, options: WriterOptions = {}): Promise<Error | undefined> {
  const store = openStore(`s3://${setup.s3.bucket}/c`, setup.storeOptions)
  try {
    const chunks = Array.from({ length: 11 }, (_, i) => body.subarray(i * MiB, (i + 1) * MiB))
    return await pipeline(Readable.from(chunks), store.writer(key, { partSize: 5 * MiB, ...options })).then(() => undefined, (err: Error) => err)
  } finally {
    await store.close()
  }
}

const corruptPart: FaultRule = { match: (r) => r.op === 'UploadPart', fault: { kind: 'corrupt-body', checkCrc32: true }, times: 1 }

t.test('a part corrupted on the wire is refused by the server\'s CRC32 check: the upload fails, nothing is left', async (t) => {
  const s = await setup(t, [corruptPart])
  const err = await upload(s, 'refused.bin')
  const corrupted = s.proxy.log.filter((e) => e.corrupted === true)
  t.equal(corrupted.length, 1, 'one part was corrupted')
  t.equal(corrupted[0].op, 'UploadPart')
  t.match(corrupted[0].headers['x-amz-checksum-crc32'], /^[A-Za-z0-9+/]{6}==$/, 'the SDK sent the part\'s CRC32 in the header the server checks')
  t.equal(corrupted[0].status, 400, 'the server refused it')
  t.ok(err instanceof StoreError, 'the refusal surfaces as a failed upload')
  t.match(err, { code: 'SHOEBOX_STORE_FAILED', status: 400, operation: 'put', key: 'refused.bin', message: /BadDigest/ })
  t.equal(s.s3.object('c/refused.bin'), undefined, 'no object')
  t.equal(s.s3.openMultipartUploads(), 0, 'no multipart upload left open')
})

t.test('through the rolling sink: the refused file gets no marker, stays queued, and ships once the wire is clean', async (t) => {
  const s = await setup(t, [{ match: (r) => r.op === 'PutObject', fault: { kind: 'corrupt-body', checkCrc32: true } }])
  const dir = path.join(tmp, 'sink')
  const url = `s3://${s.s3.bucket}/sink`
  const sink = rollingSink({ dir, flushInterval: 0, upload: { to: url, storeOptions: s.storeOptions, attempts: 2, retryDelay: 0 } })
  const errors: UploadErrorEvent[] = []
  const uploads: UploadEvent[] = []
  sink.on('uploadError', (e: UploadErrorEvent) => { errors.push(e) })
  sink.on('upload', (e: UploadEvent) => { uploads.push(e) })
  for (let i = 0; i < 300; i++) sink.write({ metadata: { i: String(i) }, payload: `récord ${i}` })
  sink.end()
  const err = await finished(sink).then(() => undefined, (e: Error) => e)
  const [name] = fs.readdirSync(dir).filter((n) => !n.startsWith('.'))

  t.match(err, { code: 'SHOEBOX_STORE_FAILED', message: /BadDigest/ }, 'the sink fails with the server\'s refusal')
  t.same(errors.map((e) => [e.key, e.attempt, e.willRetry]), [[name, 1, true], [name, 2, false]])
  t.ok(s.proxy.log.filter((e) => e.op === 'PutObject').every((e) => e.corrupted === true && e.status === 400), 'every put was corrupted and refused')
  t.same(uploads, [])
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.uploaded')), [], 'no marker')
  t.same(await pendingUploads(dir), [name], 'still queued')
  t.equal(s.s3.object(`sink/${name}`), undefined, 'no object')
  t.equal(s.s3.openMultipartUploads(), 0)

  s.proxy.rules.length = 0
  const next = rollingSink({ dir, flushInterval: 0, upload: { to: url, storeOptions: s.storeOptions, attempts: 1 } })
  next.end()
  await finished(next)
  t.ok(s.s3.object(`sink/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), 'shipped intact once the wire is clean')
  t.same(await pendingUploads(dir), [])
})

t.test('a server that checks no CRC32 (fauxqs): the default mode cannot see wire damage; verify: \'etag\' can', async (t) => {
  const s = await setup(t, [{ match: (r) => r.op === 'UploadPart', fault: { kind: 'corrupt-body' }, times: 1 }])
  const unseen = await upload(s, 'unseen.bin')
  t.equal(unseen, undefined, 'verify: \'checksum\' passed: the CRC32 sent was right, and the server returned none to compare')
  const stored = s.s3.object('c/unseen.bin')
  t.equal(stored?.length, body.length)
  t.notOk(stored?.equals(body), 'the stored bytes are the corrupted ones: only a checking server (the test above) stops this')

  s.proxy.rules.push({ match: (r) => r.op === 'UploadPart', fault: { kind: 'corrupt-body' }, times: 1 })
  const err = await upload(s, 'etag.bin', { verify: 'etag' })
  t.match(err, { code: 'SHOEBOX_VERIFY_FAILED', message: /ETag .* does not match/ }, 'the MD5 ETag gives it away, on the client')
  t.equal(s.s3.object('c/etag.bin'), undefined, 'the bad object was removed')
  t.equal(s.s3.openMultipartUploads(), 0)
  t.equal(s.proxy.log.filter((e) => e.corrupted === true).length, 2)
})
