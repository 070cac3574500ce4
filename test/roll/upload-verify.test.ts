/**
 * Guarantee 5 of the README: an upload is either complete and verified, or
 * absent and still queued. These tests make the stored object disagree with
 * the file and check the consequence, not a request count: no `.uploaded`
 * marker, the local file kept (even with deleteLocal) and still pending,
 * uploadError with SHOEBOX_VERIFY_FAILED on every try; and once the store
 * tells the truth, the same file ships.
 *
 * The disagreement is real: a FileStore wrapped so that stat() reports a
 * size one byte off (every other call goes to the real store), and S3
 * through the fault proxy rewriting the HEAD's Content-Length.
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import t from 'tap'
import {
  encodeRecords, rollingSink, SealedUploader,
  type GetOptions, type ObjectInfo, type ObjectWriter, type OpenUpload, type PutOptions, type PutResult, type Store,
  type TransferSnapshot, type UploadErrorEvent, type UploadEvent, type WriterOptions
} from '../../lib/index.js'
import { FileStore } from '../../lib/store/file-store.js'
import { pendingUploads } from '../../lib/roll/uploader.js'
import { startFaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-upload-verify-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
let dirs = 0
const newDir = (label: string): string => path.join(tmp, `${label}-${dirs++}`)

/** A real store whose stat() says the objects in `misreport` are one byte longer than they are. */
class MisreportingStore implements Store {
  readonly inner: Store
  readonly misreport: Set<string>
  statCalls = 0
  constructor (inner: Store, misreport: Iterable<string>) {
    this.inner = inner
    this.misreport = new Set(misreport)
  }

  get url (): string { return this.inner.url }
  async put (key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<PutResult> { return await this.inner.put(key, body, options) }
  writer (key: string, options?: WriterOptions): ObjectWriter { return this.inner.writer(key, options) }
  get (key: string, options?: GetOptions): Readable { return this.inner.get(key, options) }
  list (prefix?: string): AsyncIterable<ObjectInfo> { return this.inner.list(prefix) }
  async exists (key: string): Promise<boolean> { return await this.inner.exists(key) }
  async delete (key: string): Promise<void> { await this.inner.delete(key) }
  listUploads (prefix?: string): AsyncIterable<OpenUpload> { return this.inner.listUploads(prefix) }
  async abortUpload (key: string, uploadId: string): Promise<void> { await this.inner.abortUpload(key, uploadId) }
  stats (): TransferSnapshot { return this.inner.stats() }
  async close (): Promise<void> { await this.inner.close() }
  async stat (key: string): Promise<ObjectInfo> {
    this.statCalls++
    const info = await this.inner.stat(key)
    return this.misreport.has(key) ? { ...info, size: info.size + 1 } : info
  }
}

/** A directory of sealed archives a.shoebox and b.shoebox (50 records each); returns their sizes. */
function sealedDir (label: string): { dir: string, sizes: Record<string, number> } {
  const dir = newDir(label)
  fs.mkdirSync(dir, { recursive: true })
  const sizes: Record<string, number> = {}
  for (const name of ['a.shoebox', 'b.shoebox']) {
    const bytes = encodeRecords(Array.from({ length: 50 }, (_, i) => ({ metadata: { file: name, i: String(i) }, payload: `record ${i} of ${name} ✓` })))
    fs.writeFileSync(path.join(dir, name), bytes)
    sizes[name] = bytes.length
  }
  return { dir, sizes }
}

const markers = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.uploaded')).sort()

interface Shipped { failure: Error | undefined, uploads: UploadEvent[], errors: UploadErrorEvent[], stored: string[] }

async function ship (dir: string, store: Store, options: ConstructorParameters<typeof SealedUploader>[2]): Promise<Shipped> {
  const uploader = new SealedUploader(dir, store, options)
  const uploads: UploadEvent[] = []
  const errors: UploadErrorEvent[] = []
  uploader.on('upload', (e: UploadEvent) => { uploads.push(e) })
  uploader.on('uploadError', (e: UploadErrorEvent) => { errors.push(e) })
  await uploader.resume()
  const failure = await uploader.drain()
  await uploader.close()
  return { failure, uploads, errors, stored: [...uploader.stored].sort() }
}

t.test('a stored size unlike the file\'s: no marker, the file stays queued, SHOEBOX_VERIFY_FAILED on every try', async (t) => {
  const { dir, sizes } = sealedDir('size')
  const bucket = newDir('bucket')
  const store = new MisreportingStore(new FileStore(bucket), ['a.shoebox'])
  const run = await ship(dir, store, { attempts: 3, retryDelay: 0, concurrency: 1 })

  t.same(run.errors.map((e) => [e.key, e.attempt, e.willRetry, (e.error as { code?: string }).code]), [
    ['a.shoebox', 1, true, 'SHOEBOX_VERIFY_FAILED'],
    ['a.shoebox', 2, true, 'SHOEBOX_VERIFY_FAILED'],
    ['a.shoebox', 3, false, 'SHOEBOX_VERIFY_FAILED']
  ], 'each try fails the check')
  t.match(run.errors[0].error.message, `upload a.shoebox: stored ${sizes['a.shoebox'] + 1} bytes, sent ${sizes['a.shoebox']}, the file has ${sizes['a.shoebox']}`)
  t.match(run.failure, { code: 'SHOEBOX_VERIFY_FAILED' }, 'drain() reports the file left behind')
  t.same(run.uploads.map((e) => e.key), ['b.shoebox'], 'only the file that verified is reported uploaded')
  t.same(run.stored, ['a.shoebox', 'b.shoebox'], 'but stored names both: the store has what each put sent')
  t.same(markers(dir), ['.b.shoebox.uploaded'], 'no marker for the file that failed the check')
  t.same(await pendingUploads(dir), ['a.shoebox'], 'it is still queued')
  t.equal(fs.statSync(path.join(dir, 'a.shoebox')).size, sizes['a.shoebox'], 'and untouched')
  t.equal(store.statCalls, 8, 'each try of each file was checked (and its key looked up before its put: taken-key.ts)')

  // The store tells the truth now: the queued file ships at the next start.
  const again = await ship(dir, new FileStore(bucket), { attempts: 1 })
  t.equal(again.failure, undefined)
  t.same(again.uploads.map((e) => e.key), ['a.shoebox'], 'only the queued file is shipped again')
  t.same(markers(dir), ['.a.shoebox.uploaded', '.b.shoebox.uploaded'])
  t.match(JSON.parse(fs.readFileSync(path.join(dir, '.a.shoebox.uploaded'), 'utf8')), { key: 'a.shoebox', bytes: sizes['a.shoebox'] })
})

t.test('deleteLocal: a file whose stored size is wrong is never deleted', async (t) => {
  const { dir } = sealedDir('delete')
  const store = new MisreportingStore(new FileStore(newDir('bucket')), ['a.shoebox'])
  const run = await ship(dir, store, { attempts: 2, retryDelay: 0, deleteLocal: true })
  t.match(run.failure, { code: 'SHOEBOX_VERIFY_FAILED' })
  t.same(fs.readdirSync(dir).sort(), ['a.shoebox'], 'b was verified and deleted; a is kept, with no marker')
  t.same(await pendingUploads(dir), ['a.shoebox'])
})

t.test('S3: a HEAD that reports another size fails the rolling sink\'s upload; the file stays queued; the next sink ships it', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'HeadObject', fault: { kind: 'set-response-header', name: 'content-length', value: '7' } }
  ])
  t.teardown(() => proxy.close())
  const storeOptions = { endpoint: proxy.endpoint, credentials: s3.credentials, maxAttempts: 2 }
  const url = `s3://${s3.bucket}/verify`
  const dir = newDir('s3')

  const sink = rollingSink({ dir, flushInterval: 0, upload: { to: url, storeOptions, attempts: 2, retryDelay: 0 } })
  const uploads: UploadEvent[] = []
  const errors: UploadErrorEvent[] = []
  sink.on('upload', (e: UploadEvent) => { uploads.push(e) })
  sink.on('uploadError', (e: UploadErrorEvent) => { errors.push(e) })
  for (let i = 0; i < 200; i++) sink.write({ metadata: { i: String(i) }, payload: `record ${i}` })
  sink.end()
  const err = await finished(sink).then(() => undefined, (e: Error) => e)
  const [name] = fs.readdirSync(dir).filter((n) => !n.startsWith('.'))
  const size = fs.statSync(path.join(dir, name)).size

  t.match(err, { code: 'SHOEBOX_VERIFY_FAILED', message: `stored 7 bytes, sent ${size}, the file has ${size}` }, 'the sink fails with the check')
  t.same(errors.map((e) => [e.key, e.attempt, e.willRetry, (e.error as { code?: string }).code]), [
    [name, 1, true, 'SHOEBOX_VERIFY_FAILED'], [name, 2, false, 'SHOEBOX_VERIFY_FAILED']
  ])
  t.same(uploads, [], 'no upload event')
  t.same(markers(dir), [], 'no marker')
  t.same(await pendingUploads(dir), [name], 'the file is still queued')
  t.ok(proxy.log.some((e) => e.op === 'HeadObject' && e.fault === 'set-response-header'), 'the rewritten HEAD was the one checked')
  t.equal(s3.openMultipartUploads(), 0)

  proxy.rules.length = 0
  const next = rollingSink({ dir, flushInterval: 0, upload: { to: url, storeOptions, attempts: 1 } })
  const shipped: UploadEvent[] = []
  next.on('upload', (e: UploadEvent) => { shipped.push(e) })
  next.end()
  await finished(next)
  t.same(shipped.map((e) => e.key), [name], 'the next sink ships the queued file')
  t.same(markers(dir), [`.${name}.uploaded`])
  t.ok(s3.object(`verify/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), 'the object is the file')
})
