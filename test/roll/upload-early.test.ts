/**
 * Early uploads (lib/roll/early-upload.ts): a file the rolling sink is still
 * writing, the first one included, is uploaded as it grows, and completed
 * when it is sealed. Against a real S3-protocol server
 * (fauxqs) behind the fault proxy, whose rules double as the events these
 * tests wait on (a part of a given file reaching the server):
 *
 * - a part leaves before its file is sealed, the first file's too, and the
 *   object is the file;
 * - a part that fails makes that try fail (lib-storage says so once the
 *   file is sealed); the sealed file is uploaded by the next;
 * - a file sealed under another name (its name was taken meanwhile) is
 *   uploaded under that name, and the early upload is aborted;
 * - a writer killed mid-file leaves no object; after recovery the file is
 *   uploaded and the upload the kill left open is aborted.
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { finished } from 'node:stream/promises'
import t, { type Test } from 'tap'
import { rollingSink, type FlushEvent, type OpenEvent, type RollingSink, type SealedEvent, type UploadErrorEvent, type UploadEvent } from '../../lib/index.js'
import { seen, startFaultProxy, type FaultProxy, type RequestInfo } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'
import { cliBinary, cliEnv, runCli } from '../fixtures-s3/cli-build.js'
import { archiveNames } from '../fixtures-roll/util.js'

const MiB = 1024 * 1024
const PREFIX = 'early'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-upload-early-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

let dirs = 0
const newDir = (label: string): string => path.join(tmp, `${label}-${dirs++}`)

interface Setup { s3: TestS3, proxy: FaultProxy, url: string, storeOptions: { endpoint: string, credentials: TestS3['credentials'], maxAttempts: number } }

async function setup (t: Test): Promise<Setup> {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, [])
  t.teardown(() => proxy.close())
  return { s3, proxy, url: `s3://${s3.bucket}/${PREFIX}`, storeOptions: { endpoint: proxy.endpoint, credentials: s3.credentials, maxAttempts: 3 } }
}

const isPart = (r: RequestInfo, name: string, part?: number): boolean =>
  r.op === 'UploadPart' && r.url.includes(`/${PREFIX}/${encodeURIComponent(name)}?`) && (part === undefined || new URL(r.url, 'http://x').searchParams.get('partNumber') === String(part))

const opsFor = (proxy: FaultProxy, name: string): string[] =>
  proxy.log.filter((e) => e.url.includes(`/${PREFIX}/${encodeURIComponent(name)}`)).map((e) => e.op)

/** About 1 KiB of incompressible text: sizes on disk are the bytes written. */
const record = (n: number): { metadata: Record<string, string>, payload: string } =>
  ({ metadata: { n: String(n) }, payload: randomBytes(768).toString('base64') })

interface Run {
  sink: RollingSink
  opened: OpenEvent[]
  /** Bytes flushed to each temporary file. */
  flushed: Map<string, number>
  sealed: SealedEvent[]
  /** Requests the proxy had seen when each file was sealed. */
  requestsAtSeal: Map<string, number>
  uploads: UploadEvent[]
  errors: UploadErrorEvent[]
  failed: Promise<Error>
  n: number
}

function start (dir: string, s: Setup, early?: boolean): Run {
  // 8 MiB files, 5 MiB parts, at most 2 MiB queued in the sink: once more than 5.5 MiB of a file are
  // flushed, its first part can leave, and the writing can stop there with the file still unsealed.
  const sink = rollingSink({
    dir,
    template: 'f-{seq}.shoebox',
    roll: { size: '8MiB' },
    flushInterval: 0,
    maxPending: '2MiB',
    upload: { to: s.url, partSize: 5 * MiB, attempts: 2, retryDelay: 10, early, storeOptions: s.storeOptions }
  })
  const run: Run = { sink, opened: [], flushed: new Map(), sealed: [], requestsAtSeal: new Map(), uploads: [], errors: [], failed: once(sink, 'error').then(([err]) => err as Error), n: 0 }
  sink.on('open', (e: OpenEvent) => run.opened.push(e))
  sink.on('flush', (e: FlushEvent) => run.flushed.set(e.path, (run.flushed.get(e.path) ?? 0) + e.bytes))
  sink.on('sealed', (e: SealedEvent) => {
    run.sealed.push(e)
    run.requestsAtSeal.set(path.basename(e.path), s.proxy.log.length)
  })
  sink.on('upload', (e: UploadEvent) => run.uploads.push(e))
  sink.on('uploadError', (e: UploadErrorEvent) => run.errors.push(e))
  return run
}

/** Write records until `done()` says so (checked after each write), honouring backpressure. */
async function writeUntil (run: Run, done: () => boolean): Promise<void> {
  while (!done()) {
    if (!run.sink.write(record(run.n++))) {
      const failed = await Promise.race([once(run.sink, 'drain').then(() => undefined), run.failed])
      if (failed !== undefined) throw failed
    }
  }
}

/** Write until more than 5.5 MiB of the second file are flushed: its first part can go, and it is not sealed. */
async function writeIntoSecondFile (run: Run): Promise<void> {
  await writeUntil(run, () => run.opened.length >= 2 && (run.flushed.get(run.opened[1].path) ?? 0) > 5.5 * MiB)
}

async function end (run: Run): Promise<Error | undefined> {
  run.sink.end()
  return await finished(run.sink).then(() => undefined, (err: Error) => err)
}

t.test('a part of the file being written leaves before it is sealed; the object is the file', async (t) => {
  const s = await setup(t)
  const dir = newDir('early')
  const run = start(dir, s)
  // Every file is uploaded as it grows (the first one's first part loads the store).
  const partOfFile1 = seen(s.proxy, (r) => isPart(r, 'f-000001.shoebox', 1))
  await writeIntoSecondFile(run)
  await partOfFile1
  t.same(run.sealed.map((e) => path.basename(e.path)), ['f-000000.shoebox'], 'while f-000001 was not sealed yet')
  t.equal(await end(run), undefined, 'the sink finished')

  const names = archiveNames(dir)
  t.ok(names.length >= 2)
  for (const name of names) t.ok(s.s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), `${name}: the object is the file`)
  t.same(run.uploads.map((e) => e.key).sort(), names, 'every file uploaded, once')
  t.same(opsFor(s.proxy, 'f-000001.shoebox').filter((op) => op !== 'UploadPart'), ['CreateMultipartUpload', 'HeadObject', 'CompleteMultipartUpload', 'HeadObject'],
    'f-000001: one multipart upload, its key looked up before it is completed (taken-key.ts), completed and checked')
  t.match(run.uploads.find((e) => e.key === 'f-000001.shoebox')?.etag, /^"[0-9a-f]{32}-2"$/, 'two parts')
  t.same(run.errors, [])
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.uploading')), [], 'no multipart marker left')
  t.equal(s.s3.openMultipartUploads(), 0)
  // Whether its first part left before its seal depends on how soon the SDK loads; either way, one upload (its key
  // looked up before the upload is created, or, early, before it is completed: the order differs).
  t.same(opsFor(s.proxy, 'f-000000.shoebox').filter((op) => op !== 'UploadPart').sort(), ['CompleteMultipartUpload', 'CreateMultipartUpload', 'HeadObject', 'HeadObject'],
    'f-000000: one multipart upload, completed and checked')
})

t.test('the first file too: its first part leaves before it is sealed (that part loads the store)', async (t) => {
  const s = await setup(t)
  const dir = newDir('first')
  const run = start(dir, s)
  const partOfFile0 = seen(s.proxy, (r) => isPart(r, 'f-000000.shoebox', 1))
  // More than a part of f-000000 flushed, then no more writes until its part has reached the server.
  await writeUntil(run, () => run.opened.length >= 1 && (run.flushed.get(run.opened[0].path) ?? 0) > 5.5 * MiB)
  await partOfFile0
  t.same(run.sealed, [], 'no file was sealed yet')
  t.equal(await end(run), undefined, 'the sink finished')
  for (const name of archiveNames(dir)) t.ok(s.s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), `${name}: the object is the file`)
  t.same(opsFor(s.proxy, 'f-000000.shoebox').filter((op) => op !== 'UploadPart'), ['CreateMultipartUpload', 'HeadObject', 'CompleteMultipartUpload', 'HeadObject'],
    'f-000000: one multipart upload, completed and checked')
  t.same(run.errors, [])
})

t.test('early: false: a file is uploaded only once it is sealed', async (t) => {
  const s = await setup(t)
  const dir = newDir('late')
  const run = start(dir, s, false)
  await writeIntoSecondFile(run)
  t.equal(await end(run), undefined, 'the sink finished')
  for (const name of archiveNames(dir)) {
    t.ok(s.s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), `${name}: the object is the file`)
    const beforeSeal = s.proxy.log.slice(0, run.requestsAtSeal.get(name))
    t.notOk(beforeSeal.some((e) => e.url.includes(name)), `${name}: nothing sent before it was sealed`)
  }
  t.equal(s.s3.openMultipartUploads(), 0)
})

t.test('a part that fails fails the early try: the sealed file is uploaded by the next, nothing is left open', async (t) => {
  const s = await setup(t)
  // maxAttempts 3: every attempt of f-000001's first early part fails.
  s.proxy.rules.push({ match: (r) => isPart(r, 'f-000001.shoebox', 1), fault: { kind: 'status', status: 500, code: 'InternalError' }, times: 3 })
  const dir = newDir('part-fails')
  const run = start(dir, s)
  const failing = seen(s.proxy, (r) => isPart(r, 'f-000001.shoebox', 1))
  await writeIntoSecondFile(run)
  await failing
  t.same(run.sealed.map((e) => path.basename(e.path)), ['f-000000.shoebox'], 'the failing part was sent before its file was sealed')
  // lib-storage reports a failed part when its body ends: here, once the file is sealed.
  t.equal(await end(run), undefined, 'the sink finished')

  const names = archiveNames(dir)
  for (const name of names) t.ok(s.s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), `${name}: the object is the file`)
  t.match(run.errors, [{ key: 'f-000001.shoebox', attempt: 1, willRetry: true }], 'the early upload was the first try')
  t.same(run.uploads.map((e) => e.key).sort(), names)
  t.equal(opsFor(s.proxy, 'f-000001.shoebox').filter((op) => op === 'CreateMultipartUpload').length, 2, 'then a second multipart upload')
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.uploading')), [])
  t.equal(s.s3.openMultipartUploads(), 0)
})

t.test('a file sealed under another name (its name taken meanwhile): uploaded under that name, the early upload aborted', async (t) => {
  const s = await setup(t)
  const dir = newDir('renamed')
  const run = start(dir, s)
  const partOfFile1 = seen(s.proxy, (r) => isPart(r, 'f-000001.shoebox', 1))
  // Another writer takes the name f-000001 once this one has started writing it.
  run.sink.on('open', (e: OpenEvent) => { if (e.name === 'f-000001.shoebox') fs.writeFileSync(path.join(dir, e.name), 'someone else\'s\n') })
  await writeIntoSecondFile(run)
  await partOfFile1
  t.equal(await end(run), undefined, 'the sink finished')

  const sealed = run.sealed.map((e) => path.basename(e.path))
  t.equal(sealed[1], 'f-000001_1.shoebox', 'sealed under the next free name')
  for (const name of sealed) t.ok(s.s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), `${name}: the object is the file`)
  t.equal(s.s3.object(`${PREFIX}/f-000001.shoebox`), undefined, 'nothing stored under the name it lost')
  t.ok(opsFor(s.proxy, 'f-000001.shoebox').includes('AbortMultipartUpload'), 'its early upload was aborted')
  t.same(run.uploads.map((e) => e.key).sort(), [...sealed].sort())
  t.same(run.errors, [])
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.uploading')), [])
  t.equal(s.s3.openMultipartUploads(), 0)
})

t.test('a writer killed mid-file: no object for that file; after recovery it is uploaded and the open upload aborted', async (t) => {
  const s = await setup(t)
  const bin = cliBinary()
  const dir = newDir('killed')
  // 12 MiB files and the default 8 MiB parts: f-000001's first part leaves before its file is sealed.
  const args = ['write', dir, '--template', 'f-{seq}.shoebox', '--roll-size', '12MiB', '--flush-interval', '0', '--to', s.url, '--endpoint', s.proxy.endpoint]
  const env = { AWS_ACCESS_KEY_ID: s.s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s.s3.credentials.secretAccessKey, AWS_REGION: s.s3.region }
  const partOfFile1 = seen(s.proxy, (r) => isPart(r, 'f-000001.shoebox', 1))
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'ignore', 'pipe'], env: cliEnv(env) })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  child.stderr.resume()
  child.stdin.on('error', () => {}) // killed while being fed
  const exited = once(child, 'close')
  // About 22 MiB of records (~1.1 KiB each): f-000000 is sealed at 12 MiB; f-000001 gets ~10 MiB, not sealed.
  // stdin stays open, so the writer waits with them.
  for (let n = 0; n < 21_500; n++) {
    if (!child.stdin.write(JSON.stringify({ n, pad: randomBytes(768).toString('base64') }) + '\n')) await once(child.stdin, 'drain')
  }
  await partOfFile1
  child.kill('SIGKILL')
  await exited

  t.ok(fs.readdirSync(dir).some((n) => n.startsWith('.f-000001.shoebox~')), 'f-000001 was left unsealed')
  t.ok(fs.existsSync(path.join(dir, '.f-000001.shoebox.uploading')), 'its multipart upload noted')
  t.equal(s.s3.object(`${PREFIX}/f-000001.shoebox`), undefined, 'no object for it')
  t.ok(s.s3.openMultipartUploads() >= 1, 'the upload the kill left is open')

  // The next run recovers the file, aborts the noted upload and ships the file.
  const again = await runCli(bin, args, { env })
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, /recovered .*f-000001\.shoebox/)
  const names = archiveNames(dir)
  t.ok(names.includes('f-000001.shoebox'))
  for (const name of names) t.ok(s.s3.object(`${PREFIX}/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), `${name}: the object is the file`)
  t.equal(s.s3.openMultipartUploads(), 0, 'nothing left open')
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.uploading')), [])
})

t.test('a writer killed mid-file with --to a directory: the next run removes the temporary file it left there', async (t) => {
  const bin = cliBinary()
  const dir = newDir('killed-dir')
  const out = newDir('killed-out')
  // One 12 MiB file: past the default 8 MiB part its early upload opens a temporary file in `out`.
  const args = ['write', dir, '--template', 'f-{seq}.shoebox', '--roll-size', '12MiB', '--flush-interval', '0', '--to', out]
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'ignore', 'pipe'], env: cliEnv() })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  child.stderr.resume()
  child.stdin.on('error', () => {}) // killed while being fed
  const exited = once(child, 'close')
  const temps = (): string[] => (fs.existsSync(out) ? fs.readdirSync(out) : []).filter((n) => n.endsWith('.shoebox-tmp'))
  // About 10 MiB of records; stdin stays open, so the file stays unsealed while its upload copies it.
  for (let n = 0; n < 9_500; n++) {
    if (!child.stdin.write(JSON.stringify({ n, pad: randomBytes(768).toString('base64') }) + '\n')) await once(child.stdin, 'drain')
  }
  while (temps().length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
  child.kill('SIGKILL')
  await exited
  t.equal(temps().length, 1, 'the kill left the upload\'s temporary file in the directory store')

  const again = await runCli(bin, args)
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, /recovered .*f-000000\.shoebox/)
  t.same(temps(), [], 'no temporary file left in the store')
  t.same(fs.readdirSync(out), ['f-000000.shoebox'])
  t.ok(fs.readFileSync(path.join(out, 'f-000000.shoebox')).equals(fs.readFileSync(path.join(dir, 'f-000000.shoebox'))), 'the object is the file')
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.uploading')), [])
})
