/**
 * The acceptance scenario of object storage: writer processes
 * (`shoebox write DIR --roll-size 8MiB --gzip --to s3://... --flush-interval 200ms`),
 * each fed 250,000 unique NDJSON lines, each with its own directory (as if on
 * its own host) and all shipping to one prefix of a real S3-protocol server
 * (fauxqs). One of them goes through the fault proxy, whose latency on parts
 * and puts keeps its uploads in flight for a while, and is SIGKILLed while
 * the upload of one of its sealed files is in flight (after an earlier file
 * was uploaded). Then, as an operator would: `shoebox recover DIR`, count the
 * records on disk (every record that passed a flush point), and restart the
 * writer on the same directory with the lines from there on.
 *
 * Afterwards `shoebox read 's3://.../run/**'` must return every line of every
 * writer exactly once, each writer's in order; no multipart upload may be
 * left open; every sealed file is one object with its bytes.
 *
 * With 8 MiB gzip files every upload is a single PutObject (the files end
 * just under 8 MiB, the default part size), so a second run uses 12 MiB files
 * and kills its writer while a multipart upload is open: the restarted writer
 * must abort it and ship the file again, once.
 *
 * The writers run the current sources, transpiled once (test/fixtures-s3/cli-build.ts).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { startFaultProxy, type FaultProxy } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'
import { cliBinary, cliEnv, runCli } from '../fixtures-s3/cli-build.js'
import { archiveNames, decodeFile, readDir } from '../fixtures-roll/util.js'

// Four writers of 250,000 records, a kill, a restart, and reading a million records back.
t.setTimeout(420_000)

const RECORDS = 250_000
const WRITERS = 4

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-s3-kill-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const bin = cliBinary()

type Child = ChildProcessByStdio<Writable, Readable, Readable>

interface Writer {
  child: Child
  stderr: () => string
  exited: Promise<[number | null, NodeJS.Signals | null]>
}

function startWriter (t: Test, s3: TestS3, dir: string, args: string[]): Writer {
  const child = spawn(process.execPath, [bin, 'write', dir, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: cliEnv(s3.env) })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let text = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => { text += chunk })
  child.stdout.resume()
  child.stdin.on('error', () => {}) // killed while being fed
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>
  return { child, stderr: () => text, exited }
}

/**
 * Line n of writer w: unique, about 190 bytes, with 96 pseudo-random bytes
 * (base64), so that gzip leaves about 120 bytes of it: 250,000 lines make
 * about 30 MB of gzip files, so 8 MiB files really roll (three or four per writer).
 */
const RANDOM_BYTES = 96

function line (w: number, n: number): string {
  let x = (Math.imul(w + 1, 0x9e3779b1) ^ Math.imul(n + 1, 0x85ebca6b)) >>> 0
  const bytes = Buffer.allocUnsafe(RANDOM_BYTES)
  for (let i = 0; i < RANDOM_BYTES; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes.writeUInt32LE(x >>> 0, i)
  }
  return `{"w":${w},"n":${n},"host":"writer-${w}","data":"${bytes.toString('base64')}"}\n`
}

/**
 * Feed lines from..to-1 to a writer in chunks of `chunk` lines, honouring
 * backpressure, pausing `pauseMs` between chunks; stops early if the child
 * dies, else ends its stdin. Resolves with the lines fed.
 */
/**
 * Write lines `from`..`to` - 1 of writer `w` to its stdin, `chunk` at a time, `pauseMs` apart, then end it; from
 * line `slowFrom` on, `slowPauseMs` apart. Stops early once the writer has exited. Returns the lines written.
 */
async function feed (writer: Writer, w: number, from: number, to: number,
  options: { chunk?: number, pauseMs?: number, slowFrom?: number, slowPauseMs?: number } = {}): Promise<number> {
  const { child } = writer
  const chunk = options.chunk ?? 2000
  let n = from
  let gone = false
  const exited = writer.exited.then(() => { gone = true })
  while (n < to) {
    if (gone || child.stdin.destroyed) return n
    let text = ''
    const end = Math.min(to, n + chunk)
    for (; n < end; n++) text += line(w, n)
    if (!child.stdin.write(text)) {
      const drained = new Promise<void>((resolve) => { child.stdin.once('drain', resolve) })
      await Promise.race([drained, exited])
    }
    const pause = options.slowFrom !== undefined && n >= options.slowFrom ? options.slowPauseMs : options.pauseMs
    if (pause !== undefined) await sleep(pause)
  }
  if (!child.stdin.destroyed) child.stdin.end()
  return n
}

/** The n of every record in the sealed files of a local directory, read strictly, in natural name order. */
function localNumbers (dir: string): number[] {
  return readDir(dir).records.map((r) => (JSON.parse(r.payload.toString('utf8')) as { n: number }).n)
}

function isPrefix (ns: number[]): boolean {
  return ns.every((n, i) => n === i)
}

interface ReadBack {
  code: number | null
  stderr: string
  /** Per writer: how often each n came back. */
  counts: Uint8Array[]
  /** Per writer: records out of order (an n not above the one before). */
  disorder: number[]
  bad: number
  total: number
}

/** `shoebox read PATTERN` as a process, its output checked line by line (a million lines are not kept). */
async function readBack (s3: TestS3, pattern: string, writers: number): Promise<ReadBack> {
  const child = spawn(process.execPath, [bin, 'read', pattern], { stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv(s3.env) })
  const counts = Array.from({ length: writers }, () => new Uint8Array(RECORDS))
  const last = new Array<number>(writers).fill(-1)
  const disorder = new Array<number>(writers).fill(0)
  let bad = 0
  let total = 0
  let stderr = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => { stderr += chunk })
  const closed = once(child, 'close') as Promise<[number | null]>
  for await (const text of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
    total++
    const payload = (JSON.parse(text) as { payload: { w: number, n: number } }).payload
    const { w, n } = payload
    if (!(Number.isInteger(w) && w >= 0 && w < writers && Number.isInteger(n) && n >= 0 && n < RECORDS) || !text.includes(line(w, n).slice(0, -1))) {
      bad++
      continue
    }
    if (counts[w][n] < 255) counts[w][n]++
    if (n <= last[w]) disorder[w]++
    last[w] = n
  }
  const [code] = await closed
  return { code, stderr, counts, disorder, bad, total }
}

/** Ns that came back other than exactly once, up to `upTo` (exclusive), as a short description. */
function notOnce (counts: Uint8Array, upTo: number): string {
  const missing: number[] = []
  const doubled: number[] = []
  const extra: number[] = []
  for (let n = 0; n < counts.length; n++) {
    if (n < upTo && counts[n] === 0) missing.push(n)
    if (counts[n] > 1) doubled.push(n)
    if (n >= upTo && counts[n] > 0) extra.push(n)
  }
  const some = (xs: number[]): string => `${xs.length} (${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ', ...' : ''})`
  return [missing.length > 0 ? `missing ${some(missing)}` : '', doubled.length > 0 ? `more than once ${some(doubled)}` : '',
    extra.length > 0 ? `never written ${some(extra)}` : ''].filter((s) => s !== '').join('; ')
}

/** Every sealed file of these directories is one object under `prefix` with its bytes; no other object there. */
function checkObjects (t: Test, s3: TestS3, prefix: string, dirs: string[]): void {
  const keys = s3.keys().filter((k) => k.startsWith(prefix + '/'))
  const names = dirs.flatMap(archiveNames)
  t.equal(new Set(names).size, names.length, 'the writers\' file names never collide (host and pid in the template)')
  t.same(keys, names.map((n) => `${prefix}/${n}`).sort(), 'exactly one object per sealed file: none missing, none doubled')
  const differing = dirs.flatMap((dir) => archiveNames(dir).filter((n) => !(s3.object(`${prefix}/${n}`)?.equals(fs.readFileSync(path.join(dir, n))) ?? false)))
  t.same(differing, [], 'every object has its file\'s bytes')
  t.same(dirs.flatMap((dir) => fs.readdirSync(dir).filter((n) => n.endsWith('.uploading') || n.endsWith('.part'))), [], 'no in-flight marker or temporary file left')
  t.same(dirs.flatMap((dir) => archiveNames(dir).filter((n) => !fs.existsSync(path.join(dir, `.${n}.uploaded`)))), [], 'every file marked uploaded')
}

interface KillOutcome {
  /** Records on disk once the kill was recovered: everything that passed a flush point. */
  flushed: number
  /** Records in the files sealed before the kill. */
  sealedBefore: number
  filesBefore: number
  fed: number
  openAtKill: number
  /** An in-flight marker (a multipart upload's id) was in the directory at the kill. */
  markerAtKill: boolean
  /** A PutObject or UploadPart of the writer was in flight at the kill. */
  uploadingAtKill: boolean
}

/**
 * Run writer `w` through the proxy, feeding it paced; kill it once `ready()`
 * says so; recover its directory with `shoebox recover`; check what is on disk.
 */
async function killWriter (
  t: Test, s3: TestS3, proxy: FaultProxy, dir: string, w: number, args: string[], ready: (pid: number) => boolean, pace: { chunk: number, pauseMs: number }
): Promise<KillOutcome> {
  const writer = startWriter(t, s3, dir, args)
  const pid = writer.child.pid as number
  let killed = false
  let markerAtKill = false
  let uploadingAtKill = false
  let openAtKill = 0
  const watch = setInterval(() => {
    if (killed || !fs.existsSync(dir) || !ready(pid)) return
    killed = true
    markerAtKill = fs.readdirSync(dir).some((n) => n.endsWith('.uploading'))
    uploadingAtKill = uploadsInFlight(proxy, s3) > 0
    writer.child.kill('SIGKILL')
    openAtKill = s3.openMultipartUploads()
  }, 10)
  // The last fifth of the input goes slowly: on a loaded machine the uploads the kill waits for (each 1.5 s
  // late through the proxy) can fall behind the writing, and an input that ends first leaves nothing to kill.
  // (Unloaded, the kill comes at about two thirds of the input.)
  const fed = await feed(writer, w, 0, RECORDS, { ...pace, slowFrom: Math.floor(RECORDS * 0.8), slowPauseMs: 250 })
  const [code, signal] = await writer.exited
  clearInterval(watch)
  // Read once the writer is dead. The file `ready` saw being written may have been sealed in the moment between
  // that check and the kill (its temporary name linked, then unlinked): then there is nothing to recover.
  const filesBefore = archiveNames(dir)
  const partAtKill = fs.readdirSync(dir).some((n) => n.endsWith('.part'))
  t.equal(signal, 'SIGKILL', `writer ${w} was killed mid-way (it was fed ${fed} of ${RECORDS} lines)`)
  if (signal !== 'SIGKILL') t.comment(`exit ${code}: ${writer.stderr()}`)
  t.ok(fed < RECORDS, 'before it had all its input')
  const sealedBefore = filesBefore.reduce((n, name) => n + decodeFile(path.join(dir, name)).length, 0)

  const recovered = await runCli(bin, ['recover', dir])
  t.equal(recovered.code, 0, 'shoebox recover')
  if (partAtKill) t.match(recovered.stdout.toString('utf8'), /^recovered \S+ -> \S+: \d+ records kept/, 'the file being written is recovered')
  else t.comment('the file being written was sealed between the check and the kill: nothing to recover')
  const onDisk = localNumbers(dir)
  t.ok(isPrefix(onDisk), 'on disk: records 0..m-1, no gap, no duplicate')
  // A kill between a seal's link and its unlink of the temporary name leaves one file under both: recovery then
  // only drops the temporary name ("recovered TEMP -> a file sealed before"), and nothing of the next file was written.
  const resealed = filesBefore.some((name) => recovered.stdout.toString('utf8').includes(` -> ${path.join(dir, name)}: `))
  const nothingMore = resealed || !partAtKill
  t.ok(nothingMore ? onDisk.length === sealedBefore : onDisk.length > sealedBefore,
    `${nothingMore ? 'exactly' : 'more than'} the ${sealedBefore} records of the ${filesBefore.length} files sealed before the kill: ${onDisk.length}`,
    { sealedBefore: filesBefore, after: archiveNames(dir), recover: recovered.stdout.toString('utf8') })
  return { flushed: onDisk.length, sealedBefore, filesBefore: filesBefore.length, fed, openAtKill, markerAtKill, uploadingAtKill }
}

/**
 * The file being written holds at least one whole gzip member (records past a flush point): another member's
 * header follows the first. A temporary file with data is not enough: a member is written in pieces, and a kill
 * before its last piece leaves nothing readable (CI saw "0 records kept, 524288 bytes dropped").
 */
function writing (dir: string): boolean {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.part')).some((n) => {
    let bytes: Buffer
    try {
      bytes = fs.readFileSync(path.join(dir, n))
    } catch {
      return false // sealed (renamed) since the listing
    }
    return bytes.length > GZIP_HEADER_SIZE && bytes.indexOf(bytes.subarray(0, GZIP_HEADER_SIZE), 1) > 0
  })
}

/** Node's gzip header, 10 bytes, the same at the start of every member a writer writes. */
const GZIP_HEADER_SIZE = 10

/** Objects of the writer with this pid in the bucket (the default template puts the pid in every name). */
function uploadedCount (s3: TestS3, prefix: string, pid: number): number {
  return s3.keys().filter((k) => k.startsWith(prefix + '/') && k.includes(`-${pid}-`)).length
}

/**
 * Puts and parts the proxy has received and not yet answered, of objects not
 * yet stored (a put just answered by the server may still show as unanswered).
 */
function uploadsInFlight (proxy: FaultProxy, s3: TestS3): number {
  const stored = new Set(s3.keys())
  return proxy.log.filter((e) => (e.op === 'PutObject' || e.op === 'UploadPart') && e.status === undefined &&
    !stored.has(decodeURIComponent(new URL(e.url, 'http://x').pathname).slice(s3.bucket.length + 2))).length
}

/** Files of `dir` with an in-flight marker (a multipart upload's id) whose object is not stored yet. */
function multipartInFlight (s3: TestS3, prefix: string, dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.uploading')).map((n) => n.slice(1, -'.uploading'.length))
    .filter((name) => s3.object(`${prefix}/${name}`) === undefined)
}

t.test('4 writers, 250k records each, 8 MiB gzip files to S3; one SIGKILLed during an upload and restarted: every record exactly once', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  // The killed writer's uploads go through the proxy, slowly: a kill lands while one is in flight.
  const proxy: FaultProxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'UploadPart' || r.op === 'PutObject', fault: { kind: 'latency', ms: 1500 } }
  ])
  t.teardown(() => proxy.close())
  const prefix = 'run'
  const url = `s3://${s3.bucket}/${prefix}`
  const common = ['--roll-size', '8MiB', '--gzip', '--to', url, '--flush-interval', '200ms']
  const dirs = Array.from({ length: WRITERS }, (_, w) => path.join(tmp, `host-${w}`, 'spool'))
  const started = Date.now()

  // Writers 1..3: run to the end.
  const normal = Array.from({ length: WRITERS - 1 }, (_, k) => {
    const w = k + 1
    const writer = startWriter(t, s3, dirs[w], common)
    return (async () => {
      await feed(writer, w, 0, RECORDS)
      const [code] = await writer.exited
      return { w, code, stderr: writer.stderr() }
    })()
  })

  // Writer 0: killed once one of its files is in the bucket, the next one's upload is on its way, and a third file has records.
  const kill = await killWriter(t, s3, proxy, dirs[0], 0, [...common, '--endpoint', proxy.endpoint],
    (pid) => uploadedCount(s3, prefix, pid) >= 1 && uploadsInFlight(proxy, s3) > 0 && writing(dirs[0]), { chunk: 2000, pauseMs: 40 })
  t.ok(kill.filesBefore >= 2, `files had rolled before the kill (${kill.filesBefore} sealed)`)
  t.ok(kill.uploadingAtKill, 'the kill landed while an upload was in flight')
  t.comment(`writer 0: killed after ${kill.fed} lines fed; ${kill.filesBefore} files (${kill.sealedBefore} records) sealed before; ` +
    `${kill.flushed} records on disk after recovery; multipart uploads open at the kill: ${kill.openAtKill}`)

  // Restart writer 0 on the same directory with the lines from where its disk ends.
  proxy.rules.length = 0
  const again = startWriter(t, s3, dirs[0], [...common, '--endpoint', proxy.endpoint])
  await feed(again, 0, kill.flushed, RECORDS)
  const [againCode] = await again.exited
  t.equal(againCode, 0, 'the restarted writer finishes')
  if (againCode !== 0) t.comment(again.stderr())

  for (const result of await Promise.all(normal)) {
    t.equal(result.code, 0, `writer ${result.w} finishes`)
    if (result.code !== 0) t.comment(result.stderr)
    t.match(result.stderr, /shoebox write: uploaded \d+ objects/, `writer ${result.w} printed its transfer statistics`)
  }
  t.comment(`writing took ${((Date.now() - started) / 1000).toFixed(1)} s; files per writer: ${dirs.map((d) => archiveNames(d).length).join(', ')}`)
  t.ok(dirs.every((d) => archiveNames(d).length >= 3), 'every writer rolled several files')

  t.equal(s3.openMultipartUploads(), 0, 'no multipart upload left open')
  checkObjects(t, s3, prefix, dirs)

  const back = await readBack(s3, `s3://${s3.bucket}/${prefix}/**`, WRITERS)
  t.equal(back.code, 0, 'shoebox read s3://... succeeds')
  t.match(back.stderr, /^shoebox read: downloaded \d+ objects/, 'and prints its statistics')
  t.equal(back.bad, 0, 'every record is one that was written')
  t.equal(back.total, WRITERS * RECORDS, 'as many records as lines written')
  for (let w = 0; w < WRITERS; w++) {
    t.equal(notOnce(back.counts[w], RECORDS), '', `writer ${w}: every record exactly once`)
    t.equal(back.disorder[w], 0, `writer ${w}: in the order written`)
  }
})

t.test('a writer SIGKILLed during a multipart upload (12 MiB files, above the 8 MiB part size): the restart aborts it and ships everything once', async (t) => {
  // With --roll-size 8MiB, gzip files end just under 8 MiB (the size policy estimates the block in flight), so
  // each is one PutObject: a kill during a multipart upload needs larger files.
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'UploadPart' || r.op === 'PutObject', fault: { kind: 'latency', ms: 1500 } }
  ])
  t.teardown(() => proxy.close())
  const prefix = 'big'
  const url = `s3://${s3.bucket}/${prefix}`
  const dir = path.join(tmp, 'big', 'spool')
  const args = ['--roll-size', '12MiB', '--gzip', '--to', url, '--flush-interval', '200ms', '--endpoint', proxy.endpoint]
  // Killed once a file is in the bucket, two are sealed, a multipart upload is open (its id noted in the directory:
  // a sealed file's, or the early upload of the file being written), and a third has records.
  const kill = await killWriter(t, s3, proxy, dir, 0, args,
    (pid) => uploadedCount(s3, prefix, pid) >= 1 && archiveNames(dir).length >= 2 && multipartInFlight(s3, prefix, dir).length > 0 && writing(dir), { chunk: 2000, pauseMs: 40 })
  t.ok(kill.filesBefore >= 2, `files had rolled before the kill (${kill.filesBefore})`)
  t.ok(kill.markerAtKill, 'the kill landed during a multipart upload, its id noted in the directory')
  t.equal(kill.openAtKill, 1, 'which the kill left open')
  t.ok(s3.openMultipartUploads() >= 1, 'and still open before the restart')
  t.comment(`killed after ${kill.fed} lines fed; ${kill.filesBefore} files (${kill.sealedBefore} records) sealed before; ${kill.flushed} records on disk after recovery`)

  proxy.rules.length = 0
  const again = startWriter(t, s3, dir, args)
  await feed(again, 0, kill.flushed, RECORDS)
  const [code] = await again.exited
  t.equal(code, 0, 'the restarted writer finishes')
  if (code !== 0) t.comment(again.stderr())
  t.equal(s3.openMultipartUploads(), 0, 'the multipart upload left by the kill was aborted')
  t.ok(proxy.count('AbortMultipartUpload') >= 1, 'by the restarted writer')
  checkObjects(t, s3, prefix, [dir])
  t.ok(archiveNames(dir).some((n) => (s3.object(`${prefix}/${n}`)?.length ?? 0) > 8 * 1024 * 1024), 'some objects are multipart (above 8 MiB)')

  const back = await readBack(s3, `s3://${s3.bucket}/${prefix}/*.gz`, 1)
  t.equal(back.code, 0)
  t.equal(back.bad, 0)
  t.equal(back.total, RECORDS)
  t.equal(notOnce(back.counts[0], RECORDS), '', 'every record exactly once')
  t.equal(back.disorder[0], 0, 'in order')
})
