/**
 * The CLI against a real S3-protocol server (fauxqs, and the fault proxy for
 * refusals and throttling), as real processes with the credentials in their
 * environment: `write --to`, `read`, `ls` and `upload` over s3:// URLs give
 * what the same commands give locally, with a statistics line on stderr; and
 * each kind of store failure is one line on stderr naming the store and the
 * operation, never the secret, with a non-zero exit.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import t, { type Test } from 'tap'
import { encodeRecords } from '../../lib/index.js'
import { archiveNames } from '../fixtures-roll/util.js'
import { cliBinary, cliEnv, runCli, type RunResult } from '../fixtures-s3/cli-build.js'
import { seen, startFaultProxy, type FaultProxy } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'
import { escapeRegExp } from '../helpers.js'

const MiB = 1024 * 1024
const SECRET = 'SeCrEt-shoebox-Qz7Wx9'
const TOKEN = 'ToKeN-shoebox-Lm3Np8'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-store-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
const bin = cliBinary()

let dirs = 0
function newDir (label: string): string {
  return path.join(tmp, `${label}-${dirs++}`)
}

const LINES = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ i, text: 'héllo 📦', pad: 'p'.repeat(i % 37) }))
const INPUT = LINES.join('\n') + '\n'

let s3: TestS3
let env: Record<string, string>
t.before(async () => {
  s3 = await startS3()
  // fauxqs does not check signatures: any secret will do, and this one must never be printed.
  env = { ...s3.env, AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN }
})
t.teardown(async () => { await s3.stop() })

async function shoebox (args: string[], stdin?: string | Buffer, extraEnv: Record<string, string> = {}): Promise<RunResult> {
  return runCli(bin, args, { stdin, env: { ...env, ...extraEnv } })
}

function ok (t: Test, r: RunResult, what: string): void {
  t.equal(r.code, 0, `${what}: exit 0`)
  if (r.code !== 0) t.comment(r.stderr)
}

function stderrLines (r: RunResult): string[] {
  return r.stderr.split('\n').filter((l) => l !== '')
}

function noSecret (t: Test, r: RunResult): void {
  const all = r.stdout.toString('utf8') + r.stderr
  t.notOk(all.includes(SECRET), 'the secret key is never printed')
  t.notOk(all.includes(TOKEN), 'the session token is never printed')
}

const STATS = (command: string, verb: string, n: number): RegExp =>
  new RegExp(`^shoebox ${command}: ${verb} ${n} objects?, (\\d+ B|\\d+\\.\\d [kMG]B) at (\\d+ B|\\d+\\.\\d [kMG]B)/s$`)

t.test('write --to s3://, then read and ls from the bucket give what the local directory gives', async (t) => {
  const dir = newDir('w')
  const url = `s3://${s3.bucket}/w`
  const w = await shoebox(['write', dir, '--roll-records', '300', '--gzip', '--to', url], INPUT)
  ok(t, w, 'write')
  t.equal(w.stdout.length, 0, 'nothing on stdout')
  noSecret(t, w)
  const names = archiveNames(dir)
  t.equal(names.length, 4)
  const lines = stderrLines(w)
  t.match(lines[0], STATS('write', 'uploaded', 4), 'a statistics line')
  t.match(lines[1], /^shoebox write: 1000 records, 4 files sealed/)
  t.equal(lines.length, 2, 'and nothing else (no SDK warning)')
  t.same(s3.keys().filter((k) => k.startsWith('w/')), names.map((n) => `w/${n}`).sort(), 'one object per file')
  for (const name of names) t.ok(s3.object(`w/${name}`)?.equals(fs.readFileSync(path.join(dir, name))), `${name} identical`)
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.uploaded')).length, 4, 'each marked uploaded')

  const remote = await shoebox(['read', `${url}/*.gz`])
  ok(t, remote, 'read s3://')
  const local = await shoebox(['read', path.join(dir, '*.gz')])
  ok(t, local, 'read local')
  t.equal(remote.stdout.toString('utf8'), local.stdout.toString('utf8'), 'the same NDJSON as reading the local directory')
  t.same(remote.stdout.toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.stringify((JSON.parse(l) as { payload: unknown }).payload)), LINES,
    'every line written, in order')
  t.match(stderrLines(remote), [STATS('read', 'downloaded', 4)], 'stderr: exactly the statistics line')
  t.equal(stderrLines(remote).length, 1)
  t.equal(local.stderr, '', 'a local read prints no transfer statistics')
  noSecret(t, remote)

  // --positions and --from over the bucket.
  const positioned = await shoebox(['read', `${url}/*.gz`, '--positions'])
  ok(t, positioned, 'read --positions')
  const records = positioned.stdout.toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { position: { file: string, offset: number } })
  t.equal(records.length, 1000)
  const at = records[450].position
  t.equal(at.file, `w/${names[1]}`, "the position names the object's key")
  const rest = await shoebox(['read', `${url}/*.gz`, '--from', `${at.file}:${at.offset}`])
  ok(t, rest, 'read --from')
  t.same(rest.stdout.toString('utf8').split('\n').filter((l) => l !== '').map((l) => JSON.stringify((JSON.parse(l) as { payload: unknown }).payload)), LINES.slice(451),
    'exactly the records after the position')

  const ls = await shoebox(['ls', `${url}/*.gz`])
  ok(t, ls, 'ls s3://')
  const lsLocal = await shoebox(['ls', path.join(dir, '*.gz')])
  const columns = (r: RunResult, strip = ''): string[][] => r.stdout.toString('utf8').split('\n').filter((l) => l !== '')
    .slice(0, -1).map((l) => l.split('\t').slice(0, 4).map((c, k) => k === 0 ? c.replace(strip, '') : c))
  t.same(columns(ls, 'w/'), columns(lsLocal), 'ls: the same names, record counts and sizes as locally')
  t.same(columns(ls).map((c) => c[0]), names.map((n) => `w/${n}`))
  t.match(ls.stdout.toString('utf8').split('\n').at(-2), /^4 files, 1000 records, \d+ bytes, /, 'a total line')
  noSecret(t, ls)
  t.match(stderrLines(ls), [STATS('ls', 'downloaded', 4)], 'stderr: exactly the statistics line')
  t.equal(stderrLines(ls).length, 1)
  t.equal(lsLocal.stderr, '')
})

t.test('write --to --delete-local: the files go to the bucket and leave the directory', async (t) => {
  const dir = newDir('wd')
  const url = `s3://${s3.bucket}/wd`
  const w = await shoebox(['write', dir, '--roll-records', '400', '--to', url, '--delete-local', '--upload-concurrency', '1'], INPUT)
  ok(t, w, 'write')
  t.same(archiveNames(dir), [], 'no local file left')
  const keys = s3.keys().filter((k) => k.startsWith('wd/'))
  t.equal(keys.length, 3)
  const back = await shoebox(['read', `${url}/*`])
  ok(t, back, 'read')
  t.equal(back.stdout.toString('utf8').split('\n').filter((l) => l !== '').length, 1000, 'every record in the bucket')
})

t.test('upload FILE... --to s3://: one line per file, verified objects; --delete-local; multipart', async (t) => {
  const dir = newDir('up')
  fs.mkdirSync(dir)
  const a = path.join(dir, 'a.shoebox')
  const b = path.join(dir, 'b.shoebox')
  fs.writeFileSync(a, encodeRecords([{ payload: 'one' }, { payload: 'two' }]))
  fs.writeFileSync(b, encodeRecords([{ payload: 'three' }]))
  const url = `s3://${s3.bucket}/up`
  const r = await shoebox(['upload', a, b, '--to', url])
  ok(t, r, 'upload')
  const out = r.stdout.toString('utf8').split('\n').filter((l) => l !== '').map((l) => l.split('\t'))
  t.equal(out.length, 2, 'one line per file')
  for (const [k, file] of [a, b].entries()) {
    const name = path.basename(file)
    t.same(out[k].slice(0, 3), [file, `${url}/${name}`, `${fs.statSync(file).size} bytes`])
    t.match(out[k][3], /^"[0-9a-f]{32}"$/)
    t.ok(s3.object(`up/${name}`)?.equals(fs.readFileSync(file)), `${name} identical`)
  }
  t.match(stderrLines(r), [STATS('upload', 'uploaded', 2)])
  t.equal(stderrLines(r).length, 1)
  noSecret(t, r)

  // Above the part size: a multipart upload, verified, none left open.
  const big = path.join(dir, 'big.bin')
  fs.writeFileSync(big, randomBytes(11 * MiB))
  const m = await shoebox(['upload', big, '--to', url, '--part-size', '5MiB', '--delete-local'])
  ok(t, m, 'multipart upload')
  t.match(m.stdout.toString('utf8'), new RegExp(`^${big.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\t${url}/big.bin\t${11 * MiB} bytes\t"[0-9a-f]{32}-3"\n$`))
  t.notOk(fs.existsSync(big), '--delete-local removed it')
  t.equal(s3.object('up/big.bin')?.length, 11 * MiB)
  t.equal(s3.openMultipartUploads(), 0)
})

interface Failure {
  what: string
  args: string[]
  /** What the one line must say, after 'shoebox <command>: '. */
  line: RegExp
  env?: Record<string, string>
}

/** One line on stderr, nothing on stdout, exit 1, no secret. */
async function checkFailure (t: Test, f: Failure): Promise<void> {
  const r = await shoebox(f.args, '', f.env)
  t.test(f.what, async (t) => {
    t.equal(r.code, 1, 'exit 1')
    t.equal(r.stdout.length, 0, 'nothing on stdout')
    const lines = stderrLines(r)
    t.equal(lines.length, 1, `exactly one line on stderr: ${JSON.stringify(r.stderr)}`)
    t.match(lines[0], new RegExp(`^shoebox ${f.args[0]}: ${f.line.source}`))
    noSecret(t, r)
  })
}

t.test('store failures: one line naming the store and the operation, never the secret, exit 1', async (t) => {
  const proxy: FaultProxy = await startFaultProxy(s3.endpoint, [])
  t.teardown(() => proxy.close())
  const denied = await startFaultProxy(s3.endpoint, [
    { match: () => true, fault: { kind: 'status', status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' } }
  ])
  t.teardown(() => denied.close())
  const throttled = await startFaultProxy(s3.endpoint, [
    { match: () => true, fault: { kind: 'status', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' } }
  ])
  t.teardown(() => throttled.close())
  const file = path.join(newDir('fail'), 'x.shoebox')
  fs.mkdirSync(path.dirname(file))
  fs.writeFileSync(file, encodeRecords([{ payload: 'x' }]))
  const b = s3.bucket
  const unreachable = 'http://127.0.0.1:1'
  const failures: Failure[] = [
    { what: 'read: missing bucket', args: ['read', 's3://no-such-bucket/logs/*.gz'], line: /s3:\/\/no-such-bucket: list logs\/: the bucket does not exist/ },
    { what: 'ls: missing bucket', args: ['ls', 's3://no-such-bucket/logs/*.gz'], line: /s3:\/\/no-such-bucket: list logs\/: the bucket does not exist/ },
    { what: 'upload: missing bucket', args: ['upload', file, '--to', 's3://no-such-bucket/logs'], line: /s3:\/\/no-such-bucket\/logs: put x\.shoebox: the bucket does not exist/ },
    { what: 'read: unreachable endpoint', args: ['read', `s3://${b}/logs/*.gz`, '--endpoint', unreachable], line: new RegExp(`s3://${b}: list logs/: endpoint unreachable`) },
    { what: 'ls: unreachable endpoint', args: ['ls', `s3://${b}/logs/*.gz`, '--endpoint', unreachable], line: new RegExp(`s3://${b}: list logs/: endpoint unreachable`) },
    { what: 'upload: unreachable endpoint', args: ['upload', file, '--to', `s3://${b}/logs`, '--endpoint', unreachable], line: new RegExp(`s3://${b}/logs: put x\\.shoebox: endpoint unreachable`) },
    { what: 'read: refused credentials', args: ['read', `s3://${b}/logs/*.gz`, '--endpoint', denied.endpoint], line: new RegExp(`s3://${b}: list logs/: credentials refused`) },
    { what: 'ls: refused credentials', args: ['ls', `s3://${b}/logs/*.gz`, '--endpoint', denied.endpoint], line: new RegExp(`s3://${b}: list logs/: credentials refused`) },
    { what: 'upload: refused credentials', args: ['upload', file, '--to', `s3://${b}/logs`, '--endpoint', denied.endpoint], line: new RegExp(`s3://${b}/logs: put x\\.shoebox: credentials refused`) },
    { what: 'read: throttling server', args: ['read', `s3://${b}/logs/*.gz`, '--endpoint', throttled.endpoint], line: new RegExp(`s3://${b}: list logs/: the server is throttling`) },
    { what: 'upload: throttling server', args: ['upload', file, '--to', `s3://${b}/logs`, '--endpoint', throttled.endpoint], line: new RegExp(`s3://${b}/logs: put x\\.shoebox: the server is throttling`) },
    // A read that fails mid-way (the object can no longer be fetched) is one line too.
    { what: 'read: an object refused after listing', args: ['read', `s3://${b}/w/*.gz`, '--endpoint', proxy.endpoint], line: new RegExp(`s3://${b}: get w/\\S+: credentials refused`) }
  ]
  proxy.rules.push({ match: (r) => r.op === 'GetObject', fault: { kind: 'status', status: 403, code: 'AccessDenied' } })
  await Promise.all(failures.map(async (f) => { await checkFailure(t, f) }))
  // The lines above are the servers' answers, not the client's guesses: the requests got there.
  t.ok(throttled.log.some((e) => e.op === 'PutObject'), 'the upload reached the throttling server')
  t.ok(denied.log.length > 0, 'the refused commands reached the refusing server')
})

t.test('write --to a failing store: every record stays on disk, the failure is reported, exit 1', async (t) => {
  t.test('unknown scheme: a usage error (exit 2, test/cli/cli-bad-url.test.ts), refused before anything is created', async (t) => {
    const dir = newDir('wgs')
    const r = await shoebox(['write', dir, '--to', 'gs://bucket/logs'], INPUT)
    t.equal(r.code, 2)
    t.same(stderrLines(r).length, 2)
    t.match(r.stderr, /^shoebox write: unknown store URL scheme 'gs:\/\/'[^\n]*\n\(try 'shoebox write --help'\)\n$/)
    t.notOk(fs.existsSync(dir), 'no directory created')
    noSecret(t, r)
  })
  for (const [what, args, line] of [
    ['missing bucket', ['--to', 's3://no-such-bucket/logs'], /s3:\/\/no-such-bucket\/logs: put \S+: the bucket does not exist/],
    // The first request is the look-up of the file's key (an object of another file there is not replaced).
    ['unreachable endpoint', ['--to', `s3://${s3.bucket}/logs`, '--endpoint', 'http://127.0.0.1:1'], new RegExp(`s3://${s3.bucket}/logs: stat \\S+: endpoint unreachable`)]
  ] as const) {
    t.test(what, async (t) => {
      const dir = newDir('wfail')
      const r = await shoebox(['write', dir, '--roll-records', '600', ...args], INPUT)
      t.equal(r.code, 1, 'exit 1')
      t.equal(r.stdout.length, 0)
      const lines = stderrLines(r)
      t.match(lines.at(-1), new RegExp(`^shoebox write: ${line.source}`), 'the last line is the failure, naming the store and the operation')
      t.ok(lines.every((l) => l.startsWith('shoebox write: ')), 'every line is the command\'s own (no SDK warning)')
      const tries = lines.filter((l) => l.includes('failed'))
      t.ok(tries.length > 0, 'the failed tries are reported')
      t.ok(tries.every((l) => line.test(l)), 'each try reported names the store and the operation')
      // Not a line per retry (39 lines for 13 files): at most one per file, and one for the whole store when it is the
      // store that fails (a missing bucket fails every file alike).
      const uploadLines = lines.filter((l) => l.startsWith('shoebox write: upload of'))
      t.notOk(lines.some((l) => l.includes('will retry')), 'no line per retry')
      t.ok(uploadLines.length <= (what === 'missing bucket' ? 1 : 2), `at most one line per file, one for a missing bucket: ${uploadLines.length}`)
      noSecret(t, r)
      t.equal(archiveNames(dir).length, 2, 'both files sealed, and still queued')
      t.equal(fs.readdirSync(dir).filter((n) => n.endsWith('.uploaded')).length, 0)
      const back = await shoebox(['read', path.join(dir, '*')])
      t.equal(back.stdout.toString('utf8').split('\n').filter((l) => l !== '').length, 1000, 'every record on disk')
    })
  }
})

t.test('write DIR --to DEST, DIR holding a file that is no archive: the refusal is the one line, exit 1', async (t) => {
  for (const to of [newDir('wforeign-dest'), `s3://${s3.bucket}/wforeign`]) {
    const dir = newDir('wforeign')
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'my notes\n')
    const r = await shoebox(['write', dir, '--to', to], INPUT)
    t.equal(r.code, 1, `${to}: exit 1`)
    // The old code said 'shoebox write: nothing transferred' before it.
    t.same(stderrLines(r), [`shoebox write: ${dir} holds files that are no archives (notes.txt): the uploader would ship every file there, ` +
      'and delete it with --delete-local; write to a directory of its own (nothing was uploaded)'], `${to}: the refusal alone`)
    t.same(fs.readdirSync(dir), ['notes.txt'], `${to}: nothing written beside it`)
  }
})

t.test('write --to: a first Ctrl-C while the uploads finish after stdin ended says what it waits for; the run goes on, exit 0', async (t) => {
  // The upload is held at the proxy until the signal has been sent and answered.
  const proxy = await startFaultProxy(s3.endpoint, [{ match: (r) => r.op === 'PutObject', fault: { kind: 'latency', ms: 3000 } }])
  t.teardown(async () => { await proxy.close() })
  const put = seen(proxy, (r) => r.op === 'PutObject')
  const dir = newDir('wsig')
  const url = `s3://${s3.bucket}/sig`
  const child = spawn(process.execPath, [bin, 'write', dir, '--to', url, '--endpoint', proxy.endpoint], { env: cliEnv(env), stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  child.stdin.end(INPUT)
  // The one file is sealed at the end of stdin, and only then uploaded: its PUT arriving means stdin has ended.
  await put
  child.kill('SIGINT')
  const [code] = await once(child, 'close') as [number | null]
  t.equal(code, 0, stderr)
  t.match(stderr, new RegExp(`^shoebox write: SIGINT: stdin has ended; waiting for the uploads to ${url} to finish \\(a second Ctrl-C stops at once: the files not uploaded stay queued in ${dir} for the next run\\)\\n`, 'm'))
  t.equal(proxy.count('PutObject'), 1, 'the upload went on')
})

t.test('write --to: a first Ctrl-C while stdin is still open says what the run now waits for (it said nothing while the store held it); the lines read are sealed and uploaded, exit 0', async (t) => {
  const proxy = await startFaultProxy(s3.endpoint, [{ match: (r) => r.op === 'PutObject', fault: { kind: 'latency', ms: 3000 } }])
  t.teardown(async () => { await proxy.close() })
  const put = seen(proxy, (r) => r.op === 'PutObject')
  const dir = newDir('wsig-open')
  const url = `s3://${s3.bucket}/sig-open`
  const child = spawn(process.execPath, [bin, 'write', dir, '--to', url, '--endpoint', proxy.endpoint, '--roll-records', '10'], { env: cliEnv(env), stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  // stdin stays open (a producer that never ends): 25 lines, two files sealed by --roll-records, their uploads held.
  child.stdin.write(LINES.slice(0, 25).join('\n') + '\n')
  await put
  child.kill('SIGINT')
  const [code] = await once(child, 'close') as [number | null]
  child.stdin.destroy()
  t.equal(code, 0, stderr)
  t.equal(stderr.split('\n')[0], `shoebox write: SIGINT: stopped reading stdin; sealing the lines read, then waiting for the uploads to ${url} to finish (a second Ctrl-C stops at once: the files not uploaded stay queued in ${dir} for the next run)`)
  t.match(stderr, /shoebox write: 25 records, 3 files sealed, .*; stopped by SIGINT: 25 records sealed, the rest of stdin was not read\n/)
  t.equal(s3.keys().filter((k) => k.startsWith('sig-open/')).length, 3, 'every file sealed was uploaded')
})

t.test('read --follow over S3: a listing that fails past the retries is one line on stderr, and the tail goes on', async (t) => {
  // One failed listing (a network blip during a long tail) ended the follow, exit 1.
  const proxy = await startFaultProxy(s3.endpoint, [])
  t.teardown(async () => { await proxy.close() })
  const client = s3.client()
  const put = async (key: string, from: number, to: number): Promise<void> => {
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: encodeRecords(Array.from({ length: to - from }, (_, k) => ({ metadata: {}, payload: { n: from + k } }))) }))
  }
  await put('tail/a-1.shoebox', 0, 3)
  const pattern = `s3://${s3.bucket}/tail/*.shoebox`
  const child = spawn(process.execPath, [bin, 'read', pattern, '--follow', '--payload-only', '--endpoint', proxy.endpoint], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = once(child, 'close') as Promise<[number | null]>
  const until = async (done: () => boolean): Promise<void> => {
    const deadline = Date.now() + 60_000
    while (!done() && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25))
  }
  await until(() => stdout.split('\n').length > 3)
  // Every try of the listings from now on fails, until the failure has been said.
  const failing = { match: (r: { op: string }) => r.op === 'ListObjectsV2', fault: { kind: 'status', status: 500, code: 'InternalError' } } as const
  proxy.rules.push(failing)
  await until(() => stderr.includes('listing failed'))
  proxy.rules.splice(proxy.rules.indexOf(failing), 1)
  await put('tail/a-2.shoebox', 3, 5)
  await until(() => stdout.split('\n').length > 5)
  child.kill('SIGINT')
  const [code] = await exited
  t.equal(code, 0, stderr)
  t.same(stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { n: number }).n), [0, 1, 2, 3, 4], 'the records before and after the failed listing')
  t.match(stderr, new RegExp(`^shoebox read: ${escapeRegExp(pattern)}: listing failed, trying again in 1 s \\(still following\\): s3://${s3.bucket}: list tail/: .*\\n`, 'm'))
  noSecret(t, { code, signal: null, stdout: Buffer.from(stdout), stderr })
})
