/**
 * rollingSink({ upload }) against a real S3-protocol server (fauxqs, through
 * the fault proxy) and a local directory store: every sealed file becomes an
 * object with the same bytes under the key of its name, verified, then marked
 * done (or deleted); `finish` waits for the uploads; the directory is the
 * queue, so a new sink resumes what an earlier one left; a multipart upload a
 * killed writer left open is aborted; transient faults are retried and
 * permanent ones leave the file queued with no multipart upload open.
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { finished } from 'node:stream/promises'
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand } from '@aws-sdk/client-s3'
import t, { type Test } from 'tap'
import {
  naturalCompare, openStore, rollingSink, SealedUploader, ShoeboxError,
  type RollingSinkOptions, type RollingSink, type SealedEvent, type UploadErrorEvent, type UploadEvent, type StoreOptions
} from '../../lib/index.js'
import { seen, startFaultProxy, type FaultProxy, type FaultRule } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'
import { archiveNames, decodeFile } from '../fixtures-roll/util.js'
import { hostName } from '../../lib/roll/names.js'

const MiB = 1024 * 1024
const PREFIX = 'logs/app'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-upload-roll-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

let dirs = 0
function newDir (label: string): string {
  return path.join(tmp, `${label}-${dirs++}`)
}

interface Setup {
  s3: TestS3
  proxy: FaultProxy
  /** Store options pointing at the proxy in front of the server. */
  storeOptions: StoreOptions
  url: string
}

async function setup (t: Test, rules: FaultRule[] = []): Promise<Setup> {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, rules)
  t.teardown(() => proxy.close())
  return {
    s3,
    proxy,
    storeOptions: { endpoint: proxy.endpoint, credentials: s3.credentials, maxAttempts: 3 },
    url: `s3://${s3.bucket}/${PREFIX}`
  }
}

/** Record n: a small JSON payload, or (big) about 1 KiB of incompressible text. */
function record (n: number, big = false): { metadata: Record<string, string>, payload: string } {
  return { metadata: { n: String(n) }, payload: JSON.stringify({ n, pad: big ? randomBytes(768).toString('base64') : 'x'.repeat(n % 50) }) }
}

interface Run {
  sink: RollingSink
  uploads: UploadEvent[]
  errors: UploadErrorEvent[]
  sealed: SealedEvent[]
  /** Bytes of each sealed file, read when it was sealed (before any deleteLocal). */
  bytes: Map<string, Buffer>
  /** Everything the sink emitted, in order ('upload', 'finish', ...). */
  order: string[]
}

function start (options: RollingSinkOptions): Run {
  const sink = rollingSink(options)
  const run: Run = { sink, uploads: [], errors: [], sealed: [], bytes: new Map(), order: [] }
  sink.on('upload', (e: UploadEvent) => { run.uploads.push(e); run.order.push('upload') })
  sink.on('uploadError', (e: UploadErrorEvent) => { run.errors.push(e); run.order.push('uploadError') })
  sink.on('sealed', (e: SealedEvent) => {
    run.sealed.push(e)
    run.bytes.set(path.basename(e.path), fs.readFileSync(e.path))
  })
  sink.on('finish', () => { run.order.push('finish') })
  return run
}

/** Write records from..to-1 (respecting backpressure), end, and wait for the sink: resolves with its error, if any. */
async function writeRange (run: Run, from: number, to: number, big = false): Promise<Error | undefined> {
  const { sink } = run
  const failed = once(sink, 'error').then(([err]) => err as Error)
  for (let n = from; n < to; n++) {
    if (!sink.write(record(n, big))) {
      const next = await Promise.race([once(sink, 'drain').then(() => undefined), failed])
      if (next !== undefined) return next
    }
  }
  sink.end()
  return await finished(sink).then(() => undefined, (err: Error) => err)
}

function hidden (dir: string, suffix: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.startsWith('.') && n.endsWith(suffix)).sort()
}

function keysOf (s3: TestS3): string[] {
  return s3.keys().filter((k) => k.startsWith(PREFIX + '/')).map((k) => k.slice(PREFIX.length + 1)).sort(naturalCompare)
}

/** Records n in every archive of a directory, natural order. */
function numbersIn (dir: string): number[] {
  return archiveNames(dir).flatMap((name) => decodeFile(path.join(dir, name)).map((d) => Number(d.record.metadata.n)))
}

const fast = { attempts: 2, retryDelay: 10 }

t.test('every sealed file becomes an object with the same bytes, verified and marked; finish waits for the uploads', async (t) => {
  // Slow puts: the uploads are still running when end() is called.
  const { s3, proxy, storeOptions, url } = await setup(t, [{ match: (r) => r.op === 'PutObject', fault: { kind: 'latency', ms: 150 } }])
  const dir = newDir('s3')
  const run = start({ dir, gzip: true, roll: { records: 400 }, flushInterval: 0, upload: { to: url, concurrency: 2, storeOptions } })
  const err = await writeRange(run, 0, 2000)
  t.equal(err, undefined, 'the sink finished')
  const names = archiveNames(dir)
  t.equal(names.length, 5, 'five files sealed')
  t.ok(names.every((n) => n.endsWith('.gz')))
  t.same(run.sealed.map((e) => path.basename(e.path)).sort(naturalCompare), names)

  t.same(keysOf(s3), names, 'one object per sealed file, under the key of its name')
  for (const name of names) {
    const local = fs.readFileSync(path.join(dir, name))
    t.ok(s3.object(`${PREFIX}/${name}`)?.equals(local), `${name}: the object's bytes are the file's`)
  }

  t.equal(run.uploads.length, names.length, 'one upload event per file')
  t.same(run.uploads.map((e) => e.key).sort(naturalCompare), names)
  for (const e of run.uploads) {
    t.equal(e.path, path.join(dir, e.key), 'the event names the local path')
    t.equal(e.bytes, fs.statSync(e.path).size, 'bytes is the file size')
    t.match(e.etag, /^"[0-9a-f]{32}(-\d+)?"$/, 'an S3 etag')
    t.ok(Number.isFinite(e.ms) && e.ms >= 140, `ms is the time the upload took (${e.ms}; puts are delayed 150 ms)`)
    const marker = JSON.parse(fs.readFileSync(path.join(dir, `.${e.key}.uploaded`), 'utf8')) as Record<string, unknown>
    t.match(marker, { key: e.key, etag: e.etag, bytes: e.bytes }, 'the marker records the verified upload')
  }
  t.same(hidden(dir, '.uploaded'), names.map((n) => `.${n}.uploaded`).sort(), 'a marker per file')
  t.same(hidden(dir, '.uploading'), [], 'no multipart marker left')
  t.equal(s3.openMultipartUploads(), 0)
  t.equal(proxy.count('PutObject'), names.length, 'each file put once')
  t.equal(proxy.count('HeadObject'), 2 * names.length, 'each key looked up before its put (taken-key.ts), and each stored size checked')

  t.equal(run.order.at(-1), 'finish', 'finish comes last')
  t.equal(run.order.filter((e) => e === 'upload').length, names.length, 'every upload came before finish')

  const stats = run.sink.stats()
  t.ok(stats !== undefined)
  t.equal(stats?.uploaded.objects, names.length, 'stats count the objects')
  t.equal(stats?.uploaded.bytes, names.reduce((n, name) => n + fs.statSync(path.join(dir, name)).size, 0), 'stats count the bytes')
  t.equal(stats?.retries, 0)
  t.same(stats?.errors, {})
})

t.test('a multipart upload (a file above the part size) is byte-identical and verified', async (t) => {
  const { s3, proxy, storeOptions, url } = await setup(t)
  const dir = newDir('mpu')
  const run = start({ dir, roll: { size: '6MiB' }, flushInterval: 0, upload: { to: url, partSize: 5 * MiB, storeOptions } })
  t.equal(await writeRange(run, 0, 8000, true), undefined)
  const names = archiveNames(dir)
  t.equal(names.length, 2)
  t.ok(fs.statSync(path.join(dir, names[0])).size > 5 * MiB, 'the first file needs two parts')
  for (const name of names) t.ok(s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), `${name} identical`)
  t.equal(proxy.count('CreateMultipartUpload'), 1)
  t.equal(proxy.count('UploadPart'), 2)
  t.equal(proxy.count('CompleteMultipartUpload'), 1)
  t.match(run.uploads.find((e) => e.key === names[0])?.etag, /^"[0-9a-f]{32}-2"$/, 'a two-part etag')
  t.same(hidden(dir, '.uploading'), [], 'the in-flight marker is gone')
  t.equal(s3.openMultipartUploads(), 0)
})

t.test('deleteLocal: each file is removed once its object is verified, and only then', async (t) => {
  const { s3, proxy, storeOptions, url } = await setup(t)
  const dir = newDir('delete')
  const run = start({ dir, gzip: true, roll: { records: 300 }, flushInterval: 0, upload: { to: url, deleteLocal: true, storeOptions } })
  t.equal(await writeRange(run, 0, 900), undefined)
  t.same(archiveNames(dir), [], 'no local file left')
  t.same(hidden(dir, '.uploaded'), [], 'no markers either')
  const names = [...run.bytes.keys()].sort(naturalCompare)
  t.equal(names.length, 3)
  t.same(keysOf(s3), names)
  for (const name of names) t.ok(s3.object(`${PREFIX}/${name}`)?.equals(run.bytes.get(name) as Buffer), `${name}: the object has the file's bytes`)
  t.same(run.uploads.map((e) => e.key).sort(naturalCompare), names)

  // The stored object cannot be checked (HEAD fails): the file must stay, unmarked, queued.
  proxy.rules.push({ match: (r) => r.op === 'HeadObject', fault: { kind: 'status', status: 500, code: 'InternalError' } })
  const dir2 = newDir('delete-unverified')
  const run2 = start({ dir: dir2, gzip: true, roll: { records: 300 }, flushInterval: 0, upload: { to: url, deleteLocal: true, ...fast, storeOptions } })
  const err = await writeRange(run2, 0, 300)
  t.ok(err instanceof ShoeboxError, 'finish fails')
  t.match((err as ShoeboxError).code, /^SHOEBOX_/)
  const kept = archiveNames(dir2)
  t.equal(kept.length, 1, 'the unverified file is still there')
  t.ok(fs.readFileSync(path.join(dir2, kept[0])).equals(run2.bytes.get(kept[0]) as Buffer), 'unchanged')
  t.same(hidden(dir2, '.uploaded'), [], 'and not marked')
  t.equal(run2.uploads.length, 0)
  t.same(run2.errors.map((e) => [e.key, e.attempt, e.willRetry]), [[kept[0], 1, true], [kept[0], 2, false]])
})

t.test('a local directory store: same bytes under the same names; deleteLocal', async (t) => {
  const dir = newDir('local')
  const store = newDir('local-store')
  const run = start({ dir, roll: { records: 250 }, flushInterval: 0, upload: { to: store } })
  t.equal(await writeRange(run, 0, 1000), undefined)
  const names = archiveNames(dir)
  t.equal(names.length, 4)
  t.same(archiveNames(store), names, 'one object per file')
  for (const name of names) t.ok(fs.readFileSync(path.join(store, name)).equals(fs.readFileSync(path.join(dir, name))), `${name} identical`)
  t.same(hidden(dir, '.uploaded'), names.map((n) => `.${n}.uploaded`).sort())
  t.same(fs.readdirSync(store).filter((n) => n.startsWith('.')), [], 'no temporary files in the store')
  t.equal(run.uploads.length, 4)
  t.ok(run.uploads.every((e) => e.bytes === fs.statSync(e.path).size && typeof e.etag === 'string' && e.etag !== ''))
  t.equal(run.sink.stats()?.uploaded.objects, 4)

  const dir2 = newDir('local-delete')
  const store2 = `file://${newDir('local-store')}`
  const run2 = start({ dir: dir2, roll: { records: 250 }, flushInterval: 0, upload: { to: store2, deleteLocal: true } })
  t.equal(await writeRange(run2, 0, 500), undefined)
  t.same(archiveNames(dir2), [], 'local files deleted')
  const stored = archiveNames(new URL(store2).pathname)
  t.same(stored, [...run2.bytes.keys()].sort(naturalCompare))
  for (const name of stored) t.ok(fs.readFileSync(path.join(new URL(store2).pathname, name)).equals(run2.bytes.get(name) as Buffer))
})

t.test('upload.to that is the sink\'s own directory is refused: each file would be uploaded onto itself, and with deleteLocal deleted', async (t) => {
  // shoebox write logs --to logs --delete-local sealed each file, "uploaded" it onto itself and deleted it: every
  // record gone, exit 0.
  const dir = newDir('self')
  for (const [to, deleteLocal] of [[dir, true], [`file://${dir}`, false], [path.join(dir, '.', ''), true]] as const) {
    t.throws(() => rollingSink({ dir, upload: { to, deleteLocal } }), { code: 'SHOEBOX_INVALID_OPTION', option: 'upload.to', reason: /^is the directory the sealed files are in \(.*\): each would be uploaded onto itself/ }, `${to} ${deleteLocal}`)
  }
  t.throws(() => new SealedUploader(dir, openStore(dir), { deleteLocal: true }), { code: 'SHOEBOX_INVALID_OPTION', option: 'upload.to' }, 'a SealedUploader too')
  // Another name of the same directory (a symbolic link to it; to a parent, with the directory not made yet):
  // compared by real paths, where path.resolve() let it through and deleteLocal deleted the only copy.
  const alias = newDir('self-alias')
  fs.rmSync(alias, { recursive: true, force: true })
  fs.symlinkSync(dir, alias)
  const parentAlias = newDir('self-parent-alias')
  fs.rmSync(parentAlias, { recursive: true, force: true })
  fs.symlinkSync(path.dirname(dir), parentAlias)
  for (const [sinkDir, to] of [[dir, alias], [alias, dir], [dir, path.join(parentAlias, path.basename(dir))]]) {
    t.throws(() => rollingSink({ dir: sinkDir, upload: { to, deleteLocal: true } }), { code: 'SHOEBOX_INVALID_OPTION', option: 'upload.to' }, `${sinkDir} to ${to}`)
    t.throws(() => new SealedUploader(sinkDir, openStore(to), { deleteLocal: true }), { code: 'SHOEBOX_INVALID_OPTION', option: 'upload.to' }, `SealedUploader ${sinkDir} to ${to}`)
  }
  t.same(fs.existsSync(dir) ? fs.readdirSync(dir) : [], [], 'nothing written there')
  const run = start({ dir, roll: { records: 250 }, flushInterval: 0, upload: { to: path.join(dir, 'sub'), deleteLocal: true } })
  t.equal(await writeRange(run, 0, 250), undefined, 'a directory inside it is another store')
  t.equal(archiveNames(path.join(dir, 'sub')).length, 1)
})

t.test('a directory holding files that are no archives is refused before anything is uploaded or deleted', async (t) => {
  // `echo '{}' | shoebox write ~/notes --to s3://b/x --delete-local`: the queue took every file there for a sealed
  // one, uploaded the user's notes.txt and a.jpg, and deleted them.
  const dir = newDir('foreign')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'my notes\n')
  fs.writeFileSync(path.join(dir, 'a.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]))
  // What a writer may leave there: sealed archives (plain, gzip), and an empty file.
  fs.writeFileSync(path.join(dir, 'earlier.shoebox'), Buffer.from([0x84, 0x78, 0x86, 0x69, 2, 0]))
  fs.writeFileSync(path.join(dir, 'earlier.shoebox.gz'), Buffer.from([0x1f, 0x8b, 8, 0]))
  fs.writeFileSync(path.join(dir, 'empty.shoebox'), '')
  const store = newDir('foreign-store')
  const run = start({ dir, flushInterval: 0, upload: { to: store, deleteLocal: true } })
  const err = await writeRange(run, 0, 10)
  t.match(err, {
    code: 'SHOEBOX_IO',
    message: `${dir} holds files that are no archives (a.jpg, notes.txt): the uploader would ship every file there, ` +
      'and delete it with deleteLocal; write to a directory of its own (nothing was uploaded)'
  })
  t.same(fs.readdirSync(dir).sort(), ['a.jpg', 'earlier.shoebox', 'earlier.shoebox.gz', 'empty.shoebox', 'notes.txt'], 'every file kept, no record written')
  t.notOk(fs.existsSync(store) && fs.readdirSync(store).length > 0, 'nothing uploaded')
})

t.test('a permanent failure leaves every file queued and no multipart upload open; a new sink ships them all', async (t) => {
  const { s3, proxy, storeOptions, url } = await setup(t, [
    { match: (r) => r.op === 'PutObject' || r.op === 'UploadPart', fault: { kind: 'status', status: 500, code: 'InternalError' } }
  ])
  const dir = newDir('resume')
  const options = { dir, roll: { size: '6MiB' }, flushInterval: 0 }
  const first = start({ ...options, upload: { to: url, partSize: 5 * MiB, ...fast, storeOptions } })
  const err = await writeRange(first, 0, 7000, true)
  t.ok(err instanceof ShoeboxError, 'finish fails')
  t.match(err, { code: 'SHOEBOX_STORE_FAILED', message: new RegExp(`s3://${s3.bucket}/${PREFIX}: put `) }, 'naming the store and the operation')
  t.notMatch(err?.message ?? '', s3.credentials.secretAccessKey)
  const queued = archiveNames(dir)
  t.equal(queued.length, 2, 'both files sealed')
  t.ok(fs.statSync(path.join(dir, queued[0])).size > 5 * MiB, 'one of them a multipart upload')
  t.same(hidden(dir, '.uploaded'), [], 'none marked uploaded')
  // An in-flight marker may stay (the abort might have failed): the next start aborts it again, harmlessly.
  t.ok(hidden(dir, '.uploading').every((m) => queued.includes(m.slice(1, -'.uploading'.length))), 'in-flight markers only of queued files')
  t.equal(s3.openMultipartUploads(), 0, 'the multipart upload was aborted')
  t.ok(proxy.count('CreateMultipartUpload') >= 1 && proxy.count('AbortMultipartUpload') >= 1)
  t.same(keysOf(s3), [], 'nothing stored')
  t.same(first.uploads, [])
  t.same(first.errors.map((e) => e.willRetry).sort(), [false, false, true, true], 'two tries per file')
  t.ok(first.errors.every((e) => queued.includes(e.key) && e.path === path.join(dir, e.key) && e.error instanceof ShoeboxError))
  t.same(numbersIn(dir), Array.from({ length: 7000 }, (_, n) => n), 'every record is on disk')

  // The store works again: a new sink on the same directory ships the old files and its own.
  proxy.rules.length = 0
  const second = start({ ...options, upload: { to: url, partSize: 5 * MiB, storeOptions } })
  t.equal(await writeRange(second, 7000, 8000, true), undefined)
  const names = archiveNames(dir)
  t.equal(names.length, 3, 'one more file')
  t.same(second.uploads.map((e) => e.key).sort(naturalCompare), names, 'the queued files and the new one uploaded')
  t.same(keysOf(s3), names, 'one object per file')
  for (const name of names) t.ok(s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), `${name} identical`)
  t.same(hidden(dir, '.uploaded'), names.map((n) => `.${n}.uploaded`).sort())
  t.same(hidden(dir, '.uploading'), [])
  t.equal(s3.openMultipartUploads(), 0)

  // A marker lost (a crash between the upload and the marker): the next start uploads that file again, to the same key.
  fs.rmSync(path.join(dir, `.${names[1]}.uploaded`))
  const puts = proxy.count('PutObject') + proxy.count('CreateMultipartUpload')
  const third = start({ ...options, upload: { to: url, storeOptions } })
  t.equal(await writeRange(third, 0, 0), undefined)
  t.same(third.uploads.map((e) => e.key), [names[1]], 'only the unmarked file')
  t.equal(proxy.count('PutObject') + proxy.count('CreateMultipartUpload') - puts, 1, 'one upload')
  t.same(keysOf(s3), names, 'rewritten in place: no second object')
  t.ok(s3.object(`${PREFIX}/${names[1]}`)?.equals(fs.readFileSync(path.join(dir, names[1]))))
  t.same(hidden(dir, '.uploaded'), names.map((n) => `.${n}.uploaded`).sort())
})

/**
 * A directory as a writer killed mid-upload leaves it: a sealed file whose
 * multipart upload is open on the server, with its id in the file's marker.
 */
async function killedMidUpload (t: Test, s3: TestS3, label: string): Promise<{ dir: string, name: string, uploadId: string }> {
  const dir = newDir(label)
  fs.mkdirSync(dir, { recursive: true })
  const name = '20240101T000000000Z-host-1-0.shoebox'
  const first = start({ dir: newDir(`${label}-src`), flushInterval: 0 })
  t.equal(await writeRange(first, 0, 100), undefined)
  fs.copyFileSync(first.sealed[0].path, path.join(dir, name))
  const { UploadId } = await s3.client().send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: `${PREFIX}/${name}` }))
  t.ok(UploadId)
  fs.writeFileSync(path.join(dir, `.${name}.uploading`), JSON.stringify({ key: name, uploadId: UploadId }))
  return { dir, name, uploadId: UploadId as string }
}

t.test('a multipart upload left open by a killed writer is aborted at the next start', async (t) => {
  const { s3, proxy, storeOptions, url } = await setup(t)
  const { dir, uploadId } = await killedMidUpload(t, s3, 'stale')
  // And a marker whose upload is already gone (completed or aborted before the kill).
  fs.writeFileSync(path.join(dir, `.gone.shoebox.uploading`), JSON.stringify({ key: 'gone.shoebox', uploadId: 'no-such-upload' }))
  t.equal(s3.openMultipartUploads(), 1)

  const run = start({ dir, flushInterval: 0, upload: { to: url, storeOptions } })
  t.equal(await writeRange(run, 100, 200), undefined)
  t.equal(s3.openMultipartUploads(), 0, 'the stale upload was aborted')
  t.ok(proxy.log.some((e) => e.op === 'AbortMultipartUpload' && e.url.includes(encodeURIComponent(uploadId))), 'by its id')
  t.same(hidden(dir, '.uploading'), [], 'the markers are gone')
  const names = archiveNames(dir)
  t.equal(names.length, 2)
  t.same(keysOf(s3), names, 'the file is uploaded afresh, and the new one')
  for (const n of names) t.ok(s3.object(`${PREFIX}/${n}`)?.equals(fs.readFileSync(path.join(dir, n))))
})

t.test('a stale multipart upload that cannot be aborted now: the sink still writes, keeps the marker, and fails at the end', async (t) => {
  const { s3, storeOptions, url } = await setup(t, [
    { match: (r) => r.op === 'AbortMultipartUpload', fault: { kind: 'status', status: 503, code: 'ServiceUnavailable' } }
  ])
  const dir = newDir('stale-down')
  fs.mkdirSync(dir, { recursive: true })
  const { UploadId } = await s3.client().send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: `${PREFIX}/old.shoebox` }))
  const marker = path.join(dir, '.old.shoebox.uploading')
  fs.writeFileSync(marker, JSON.stringify({ key: 'old.shoebox', uploadId: UploadId }))
  const run = start({ dir, flushInterval: 0, upload: { to: url, ...fast, storeOptions } })
  const err = await writeRange(run, 0, 100)
  t.match(err, { code: 'SHOEBOX_THROTTLED', message: /abort upload old\.shoebox/ }, 'finish fails, naming the abort')
  t.same(numbersIn(dir), Array.from({ length: 100 }, (_, n) => n), 'every record was written locally')
  t.same(keysOf(s3), archiveNames(dir), 'and the new file uploaded')
  t.ok(fs.existsSync(marker), 'the marker stays for the next start')
  t.equal(s3.openMultipartUploads(), 1)
  t.match(run.errors, [{ key: 'old.shoebox', willRetry: false }])

  const { storeOptions: direct } = { storeOptions: { endpoint: s3.endpoint, credentials: s3.credentials, maxAttempts: 3 } }
  const again = start({ dir, flushInterval: 0, upload: { to: url, storeOptions: direct } })
  t.equal(await writeRange(again, 0, 0), undefined)
  t.equal(s3.openMultipartUploads(), 0, 'aborted once the store answers')
  t.notOk(fs.existsSync(marker))
})

t.test('a file whose killed upload cannot be aborted at first: aborted on a retry, then uploaded; nothing left open', async (t) => {
  // Three 503s use up the SDK's tries for the first abort; the uploader's second try gets through.
  const { s3, storeOptions, url } = await setup(t, [
    { match: (r) => r.op === 'AbortMultipartUpload', fault: { kind: 'status', status: 503, code: 'ServiceUnavailable' }, times: 3 }
  ])
  const { dir, name } = await killedMidUpload(t, s3, 'stale-retry')
  const run = start({ dir, flushInterval: 0, upload: { to: url, ...fast, storeOptions } })
  t.equal(await writeRange(run, 100, 200), undefined, 'finish succeeds')
  t.match(run.errors, [{ key: name, willRetry: true }], 'one failed try, retried')
  t.equal(s3.openMultipartUploads(), 0, 'the killed upload was aborted, not orphaned')
  t.same(hidden(dir, '.uploading'), [])
  t.same(keysOf(s3), archiveNames(dir))
  t.ok(s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), 'byte-identical')
})

t.test('a torn in-flight marker (killed while writing it) does not stop the next start', async (t) => {
  const { s3, storeOptions, url } = await setup(t)
  const dir = newDir('torn')
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, '.x.shoebox.uploading'), '')
  fs.writeFileSync(path.join(dir, '.y.shoebox.uploading'), '{"key":"y.sho')
  const run = start({ dir, flushInterval: 0, upload: { to: url, storeOptions } })
  t.equal(await writeRange(run, 0, 10), undefined, 'the sink starts and finishes')
  t.same(hidden(dir, '.uploading'), [], 'the torn markers are removed')
  t.same(keysOf(s3), archiveNames(dir))
})

t.test('transient faults are retried: everything arrives, once, byte-identical', async (t) => {
  const { s3, proxy, storeOptions, url } = await setup(t, [
    // At most two faults on any one request: maxAttempts is 3.
    { match: (r) => r.op === 'PutObject', fault: { kind: 'status', status: 503, code: 'SlowDown' }, times: 1 },
    { match: (r) => r.op === 'PutObject', fault: { kind: 'drop-request', afterBytes: 1000 }, times: 1 },
    { match: (r) => r.op === 'UploadPart', fault: { kind: 'drop-request', afterBytes: MiB }, times: 1 },
    { match: (r) => r.op === 'UploadPart', fault: { kind: 'status', status: 503, code: 'SlowDown' }, times: 1 },
    { match: (r) => r.op === 'HeadObject', fault: { kind: 'status', status: 503, code: 'SlowDown' }, times: 1 }
  ])
  const dir = newDir('transient')
  const run = start({ dir, roll: { size: '6MiB' }, flushInterval: 0, upload: { to: url, partSize: 5 * MiB, storeOptions } })
  t.equal(await writeRange(run, 0, 8000, true), undefined)
  t.ok(proxy.rules.every((r) => r.times === 0), 'every fault happened')
  const names = archiveNames(dir)
  t.same(keysOf(s3), names)
  for (const name of names) t.ok(s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), `${name} identical`)
  t.equal(run.errors.length, 0, 'the SDK retried them all within one try')
  t.equal(run.uploads.length, names.length)
  t.equal(s3.openMultipartUploads(), 0)
  const stats = run.sink.stats()
  t.ok((stats?.retries ?? 0) >= 5, `retries counted (${stats?.retries})`)
  t.ok((stats?.errors.throttled ?? 0) >= 3, 'throttling counted')
  t.equal(stats?.uploaded.objects, names.length)
})

t.test('a try that fails is an uploadError with willRetry; the next try succeeds', async (t) => {
  // maxAttempts 3: three 500s use up the first try of the first file.
  const { s3, storeOptions, url } = await setup(t, [
    { match: (r) => r.op === 'PutObject', fault: { kind: 'status', status: 500, code: 'InternalError' }, times: 3 }
  ])
  const dir = newDir('retry')
  const run = start({ dir, flushInterval: 0, upload: { to: url, concurrency: 1, ...fast, storeOptions } })
  t.equal(await writeRange(run, 0, 100), undefined)
  const [name] = archiveNames(dir)
  t.equal(run.errors.length, 1)
  t.match(run.errors[0], { key: name, path: path.join(dir, name), attempt: 1, willRetry: true })
  t.match(run.errors[0].error, { code: 'SHOEBOX_STORE_FAILED', message: /put/ })
  t.same(run.uploads.map((e) => e.key), [name])
  t.ok(s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))))
  t.equal(run.sink.stats()?.retries, 2)
  t.equal(run.sink.stats()?.errors.server, 3, 'failed attempts counted by kind')
})

t.test("two uploaders draining one directory: one never aborts the other's multipart upload in flight", async (t) => {
  // The second uploader (another writer's sink starting, `shoebox upload`, a second SealedUploader) took the
  // `.NAME.uploading` marker of the first's live upload for one a killed process left, and aborted it: the
  // first's try failed (NoSuchUpload), its retry aborted the second's in turn, and either could end failed.
  const { s3, proxy, storeOptions, url } = await setup(t, [{ match: (r) => r.op === 'UploadPart', fault: { kind: 'latency', ms: 300 } }])
  const dir = newDir('two-uploaders')
  const src = start({ dir, roll: { size: '6MiB' }, flushInterval: 0 })
  t.equal(await writeRange(src, 0, 7000, true), undefined)
  const names = archiveNames(dir)
  const name = names[0]
  t.ok(fs.statSync(path.join(dir, name)).size > 5 * MiB, 'a two-part file')
  const store = await openStore(url, storeOptions)
  t.teardown(async () => { await store.close() })
  const first = new SealedUploader(dir, store, { partSize: 5 * MiB, ...fast })
  const second = new SealedUploader(dir, store, { partSize: 5 * MiB, ...fast })
  const errors: UploadErrorEvent[] = []
  for (const u of [first, second]) u.on('uploadError', (e: UploadErrorEvent) => { errors.push(e) })
  const firstUploads: UploadEvent[] = []
  first.on('upload', (e: UploadEvent) => { firstUploads.push(e) })
  const partSent = seen(proxy, (r) => r.op === 'UploadPart')
  await first.resume()
  await partSent
  t.same(hidden(dir, '.uploading'), [`.${name}.uploading`], "the first uploader's upload is in flight")
  await second.resume()
  t.same(await Promise.all([first.drain(), second.drain()]), [undefined, undefined], 'neither failed')
  t.same(errors.map((e) => e.error.message), [], 'no try failed')
  t.equal(proxy.count('AbortMultipartUpload'), 0, 'nothing was aborted')
  t.ok(firstUploads.some((e) => e.key === name), 'the first uploaded the file it had in flight')
  for (const n of names) t.ok(s3.object(`${PREFIX}/${n}`)?.equals(fs.readFileSync(path.join(dir, n))), `${n}: the object is the file`)
  t.same(hidden(dir, '.uploading'), [])
  t.same(hidden(dir, '.uploaded'), names.map((n) => `.${n}.uploaded`).sort())
  t.equal(s3.openMultipartUploads(), 0)
})

t.test("a file whose upload a live uploader has in flight waits for it; given up there, it is uploaded here", async (t) => {
  // Two writers of one template both upload the planned name early; the one that loses the name gives its
  // upload up. The other's uploader waits while that upload is live (never aborting it), then uploads its file.
  const { s3, proxy, storeOptions, url } = await setup(t)
  const dir = newDir('live-marker')
  const src = start({ dir, flushInterval: 0 })
  t.equal(await writeRange(src, 0, 100), undefined)
  const [name] = archiveNames(dir)
  const { UploadId } = await s3.client().send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: `${PREFIX}/${name}` }))
  const marker = path.join(dir, `.${name}.uploading`)
  // A live process on this host (the test runner) has it in flight.
  fs.writeFileSync(marker, JSON.stringify({ key: name, uploadId: UploadId, host: hostName(), pid: process.ppid }))
  const store = await openStore(url, storeOptions)
  t.teardown(async () => { await store.close() })
  const uploader = new SealedUploader(dir, store, fast)
  const uploads: UploadEvent[] = []
  const errors: UploadErrorEvent[] = []
  uploader.on('upload', (e: UploadEvent) => { uploads.push(e) })
  uploader.on('uploadError', (e: UploadErrorEvent) => { errors.push(e) })
  await uploader.resume()
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(uploads, [], 'waiting while the other upload is live')
  t.equal(proxy.count('AbortMultipartUpload'), 0, 'the live upload is not aborted')
  t.same(keysOf(s3), [])
  // The other gives it up: its writer aborts its upload and removes the marker.
  await s3.client().send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: `${PREFIX}/${name}`, UploadId }))
  fs.rmSync(marker)
  t.equal(await uploader.drain(), undefined)
  t.same(uploads.map((e) => e.key), [name], 'then uploaded here')
  t.same(errors, [], 'no try failed')
  t.ok(s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))))
  t.same(hidden(dir, '.uploaded'), [`.${name}.uploaded`])
  t.equal(s3.openMultipartUploads(), 0)
})

t.test('upload.partSize is checked for a directory store as for S3 (at least 5MiB, at most 5GiB): it was taken unread', async (t) => {
  // --part-size is checked for every store (checkPartSize); the library option only by the S3 writer, so a
  // directory store took partSize: 1 (or 'lots') without a word.
  const dir = newDir('part-size')
  const to = newDir('part-size-to')
  for (const partSize of [1, '1MiB', 6 * 1024 * 1024 * 1024]) {
    t.throws(() => rollingSink({ dir, upload: { to, partSize } }), { code: 'SHOEBOX_INVALID_OPTION', option: 'upload.partSize' }, `rollingSink, ${partSize}`)
    t.throws(() => new SealedUploader(dir, openStore(to), { partSize }), { code: 'SHOEBOX_INVALID_OPTION', option: 'upload.partSize' }, `SealedUploader, ${partSize}`)
  }
  t.throws(() => rollingSink({ dir, upload: { to, partSize: 'lots' } }), { code: 'SHOEBOX_INVALID_OPTION', option: 'upload.partSize' })
  const sink = rollingSink({ dir, upload: { to, partSize: '5MiB' } })
  sink.end()
  await finished(sink)
})
