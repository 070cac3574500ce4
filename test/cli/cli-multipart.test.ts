/**
 * shoebox multipart: the multipart uploads left open under an s3:// URL.
 *
 * Its usage is checked before any request: one URL, an s3:// one (a
 * directory has no multipart uploads), --abort only with --older-than of at
 * least a day unless --force, --force only with --abort.
 *
 * Against the test S3 server (fauxqs, with the ListMultipartUploads that
 * bench/s3-server.js adds), uploads aged by setting when the server began
 * them: each open upload listed (key, id, time) with a count; --older-than
 * lists the old ones only; --abort --older-than 1d aborts them and keeps the
 * young ones, --force below a day; more than one page, aborted as listed;
 * the upload a `shoebox write --to s3://` killed with SIGKILL mid-file left
 * open is listed, kept by --older-than 1d, aborted with --force; then
 * nothing open says so and exits 1. The secret is never printed.
 *
 * Against the server started without it (answering ListMultipartUploads as
 * fauxqs does, with a listing of objects, as some S3 look-alikes do): the
 * command must say so in one line and exit 1, abort nothing, and never
 * print the secret.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3'
import t, { type Test } from 'tap'
import { cli } from '../cli-run.js'
import { seen, startFaultProxy } from '../fault-proxy.js'
import { cliBinary, cliEnv, runCli, type RunResult } from '../fixtures-s3/cli-build.js'
import { startS3, type TestS3 } from '../s3-server.js'

const MiB = 1024 * 1024
const HOUR = 60 * 60 * 1000
const DAY = 24 * HOUR
const SECRET = 'SeCrEt-multipart-Vb4Kp2'
const TOKEN = 'ToKeN-multipart-Hc8Rw5'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-multipart-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

/** `shoebox multipart ARGS` against `s3`, with a secret and a session token that must never be printed. */
function multipartRunner (t: Test, s3: TestS3): (args: string[]) => Promise<RunResult> {
  const bin = cliBinary()
  // fauxqs does not check signatures: any secret will do.
  const env = { ...s3.env, AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN }
  return async (args) => {
    const r = await runCli(bin, ['multipart', ...args], { env })
    const printed = r.stdout.toString() + r.stderr
    t.notOk(printed.includes(SECRET) || printed.includes(TOKEN), `multipart ${args.join(' ')}: the secret and token are never printed`)
    return r
  }
}

/** An upload begun on the server (a part sent, or none), as a killed writer leaves it; returns its id. */
async function begin (s3: TestS3, key: string, part?: Buffer): Promise<string> {
  const raw = s3.client()
  const { UploadId } = await raw.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }))
  if (part !== undefined) await raw.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 1, Body: part }))
  return UploadId ?? ''
}

/** The line `shoebox multipart` prints for an open upload on `s3`, by id. */
function lineOf (s3: TestS3, storePrefix: string, uploadId: string): string {
  const upload = s3.openUploads().find((u) => u.uploadId === uploadId)
  if (upload === undefined) throw new Error(`upload ${uploadId} is not open`)
  return `${upload.key.slice(storePrefix.length + 1)}\t${uploadId}\t${upload.initiated.toISOString()}`
}

function succeeded (t: Test, r: RunResult, stdout: string[], what: string): void {
  t.equal(r.stderr, '', `${what}: nothing on stderr`)
  t.equal(r.code, 0, `${what}: exit 0`)
  t.same(r.stdout.toString().split('\n'), [...stdout, ''], `${what}: what it printed`)
}

function usageError (t: Test, r: { code: number | null, stdout: Buffer, stderr: string }, line: RegExp, what: string): void {
  t.equal(r.code, 2, `${what}: exit 2`)
  t.match(r.stderr, new RegExp(`^shoebox multipart: ${line.source}[^\\n]*\\n\\(try 'shoebox multipart --help'\\)\\n$`), what)
  t.equal(r.stdout.length, 0, `${what}: nothing on stdout`)
}

t.test('usage mistakes are refused before any request, exit 2', async (t) => {
  const cases: Array<[string[], RegExp, string]> = [
    [[], /needs exactly one s3:\/\/ URL/, 'no URL'],
    [['s3://test-bucket/a', 's3://test-bucket/b'], /needs exactly one s3:\/\/ URL/, 'two URLs'],
    [[tmp], /needs an s3:\/\/ URL, got .*: a directory has no multipart uploads/, 'a directory'],
    [[`file://${tmp}`], /needs an s3:\/\/ URL, got file:\/\/.*: a directory has no multipart uploads/, 'a file:// URL'],
    [['s3://test-bucket/p', '--abort'], /--abort needs --older-than AGE \(at least 1d\)/, '--abort alone'],
    [['s3://test-bucket/p', '--abort', '--older-than', '12h'], /--older-than 12h is under 1d: a running writer may own a younger upload; give --force/, 'too young to abort'],
    [['s3://test-bucket/p', '--force', '--older-than', '1h'], /--force goes with --abort/, '--force without --abort'],
    [['s3://test-bucket/p', '--older-than', 'soon'], /--older-than: expected a duration/, 'a bad age']
  ]
  for (const [args, line, what] of cases) {
    // No endpoint is set: a request would go to AWS and fail otherwise than with a usage line.
    usageError(t, await cli(['multipart', ...args]), line, what)
  }
})

t.test('the top-level help lists it', async (t) => {
  const r = await cli(['--help'])
  t.match(r.stdout.toString(), /^ {2}multipart +list the multipart uploads left open under an s3:\/\/ URL; abort old ones$/m)
})

t.test('lists the open uploads with a count; --older-than the old ones; --abort aborts them and keeps the young; --force below a day', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const shoebox = multipartRunner(t, s3)
  const a = await begin(s3, 'events/run/a.shoebox.gz', Buffer.alloc(5 * MiB, 1))
  const b = await begin(s3, 'events/run/b.shoebox.gz')
  const c = await begin(s3, 'events/run/c.shoebox.gz')
  const d = await begin(s3, 'events/run/d.shoebox.gz')
  const e = await begin(s3, 'other/e.shoebox.gz')
  const now = Date.now()
  s3.setUploadInitiated(a, new Date(now - 3 * DAY))
  s3.setUploadInitiated(b, new Date(now - 2 * DAY))
  s3.setUploadInitiated(c, new Date(now - 3 * HOUR))
  s3.setUploadInitiated(e, new Date(now - 5 * DAY))
  const url = 's3://test-bucket/events'
  // Each upload's line, while it is open.
  const lines = new Map([a, b, c, d].map((id) => [id, lineOf(s3, 'events', id)]))
  const line = (id: string): string => lines.get(id) ?? ''

  succeeded(t, await shoebox([url]), [line(a), line(b), line(c), line(d), `4 open multipart uploads under ${url}`], 'all, by key')
  succeeded(t, await shoebox([url, '--older-than', '1d']),
    [line(a), line(b), `2 open multipart uploads under ${url} begun over 1d ago; 2 younger ones not listed`], '--older-than 1d')
  t.equal(s3.openMultipartUploads(), 5, 'listing aborts nothing')

  succeeded(t, await shoebox([url, '--older-than', '1d', '--abort']),
    [`${line(a)}\taborted`, `${line(b)}\taborted`, `2 multipart uploads aborted under ${url} begun over 1d ago; 2 younger ones kept open`], '--older-than 1d --abort')
  t.same(s3.openUploads().map((u) => u.uploadId), [c, d, e], 'the old ones aborted; the young ones and those outside the URL kept')

  succeeded(t, await shoebox([url, '--older-than', '1h', '--abort', '--force']),
    [`${line(c)}\taborted`, `1 multipart upload aborted under ${url} begun over 1h ago; 1 younger one kept open`], '--older-than 1h --abort --force')
  t.same(s3.openUploads().map((u) => u.uploadId), [d, e], 'only the one begun over 1h ago aborted')

  succeeded(t, await shoebox([url, '--older-than', '1d', '--abort']),
    [`0 multipart uploads aborted under ${url} begun over 1d ago; 1 younger one kept open`], 'none old enough')
  t.same(s3.openUploads().map((u) => u.uploadId), [d, e], 'none aborted')
})

t.test('keys a path would refuse (an empty, a . or a .. segment: S3 holds them) are listed and aborted by their own names', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const shoebox = multipartRunner(t, s3)
  const keys = ['w/z//a.shoebox', 'w/z/./b.shoebox', 'w/z/../c.shoebox', 'w//d.shoebox']
  const ids: string[] = []
  for (const key of keys) ids.push(await begin(s3, key))
  t.same(s3.openUploads().map((u) => u.key).sort(), [...keys].sort(), 'the server holds each under its own key')
  for (const id of ids) s3.setUploadInitiated(id, new Date(Date.now() - 2 * DAY))
  const lines = ids.map((id) => lineOf(s3, 'w', id))
  const url = 's3://test-bucket/w'
  const r = await shoebox([url, '--older-than', '1d', '--abort'])
  t.equal(r.stderr, '', 'nothing on stderr (each used to be refused: "has an empty segment", "has a . segment")')
  t.equal(r.code, 0, 'exit 0')
  const out = r.stdout.toString().split('\n')
  t.same(out.slice(0, -2).sort(), lines.map((l) => `${l}\taborted`).sort(), 'each listed as aborted')
  t.equal(out.at(-2), `4 multipart uploads aborted under ${url} begun over 1d ago`)
  t.same(s3.openUploads(), [], 'none left open')
})

t.test('more than one page, aborted as listed: every old upload, once, one key across pages too', async (t) => {
  // Two uploads a page: the listing goes on from uploads aborted since.
  const s3 = await startS3({ maxUploads: 2 })
  t.teardown(() => s3.stop())
  const shoebox = multipartRunner(t, s3)
  const ids: string[] = []
  for (const key of ['p/a', 'p/b', 'p/b', 'p/b', 'p/c']) ids.push(await begin(s3, key))
  ids.forEach((id, i) => { s3.setUploadInitiated(id, new Date(Date.now() - 10 * DAY + i * HOUR)) })
  const url = 's3://test-bucket/p'
  const lines = ids.map((id) => lineOf(s3, 'p', id))

  succeeded(t, await shoebox([url]), [...lines, `5 open multipart uploads under ${url}`], 'listed over three pages')
  succeeded(t, await shoebox([url, '--older-than', '7d', '--abort']),
    [...lines.map((l) => `${l}\taborted`), `5 multipart uploads aborted under ${url} begun over 7d ago`], 'aborted over three pages')
  t.equal(s3.openMultipartUploads(), 0, 'none left open')
})

t.test('the upload a writer killed mid-file left open: listed, kept by --older-than 1d, aborted with --force; then none open, exit 1', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  // The writer goes through the proxy, which says when a part of its file reaches the server.
  const proxy = await startFaultProxy(s3.endpoint, [])
  t.teardown(() => proxy.close())
  const shoebox = multipartRunner(t, s3)
  const dir = path.join(tmp, 'killed')
  const url = 's3://test-bucket/killed'
  // 12 MiB files and the default 8 MiB parts: f-000000's first part leaves before its file is sealed.
  const args = ['write', dir, '--template', 'f-{seq}.shoebox', '--roll-size', '12MiB', '--flush-interval', '0', '--to', url, '--endpoint', proxy.endpoint]
  const partSent = seen(proxy, (r) => r.op === 'UploadPart' && r.url.includes('/killed/f-000000.shoebox?'))
  const child = spawn(process.execPath, [cliBinary(), ...args], { stdio: ['pipe', 'ignore', 'pipe'], env: cliEnv(s3.env) })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  child.stderr.resume()
  child.stdin.on('error', () => {}) // killed while being fed
  const exited = once(child, 'close')
  // About 10 MiB of records (~1 KiB each): more than a part, less than a file; stdin stays open, so the writer waits with them.
  for (let n = 0; n < 10_000; n++) {
    if (!child.stdin.write(JSON.stringify({ n, pad: randomBytes(768).toString('base64') }) + '\n')) await once(child.stdin, 'drain')
  }
  await partSent
  child.kill('SIGKILL')
  await exited
  const open = s3.openUploads()
  t.same(open.map((u) => u.key), ['killed/f-000000.shoebox'], 'the kill left its file\'s upload open')
  t.same(s3.keys(), [], 'and no object')
  const line = lineOf(s3, 'killed', open[0]?.uploadId ?? '')

  succeeded(t, await shoebox([url]), [line, `1 open multipart upload under ${url}`], 'listed')
  succeeded(t, await shoebox([url, '--older-than', '1d', '--abort']),
    [`0 multipart uploads aborted under ${url} begun over 1d ago; 1 younger one kept open`], '--older-than 1d --abort: a young upload is kept')
  t.equal(s3.openMultipartUploads(), 1, 'still open')
  succeeded(t, await shoebox([url, '--older-than', '0s', '--abort', '--force']),
    [`${line}\taborted`, `1 multipart upload aborted under ${url} begun over 0s ago`], '--older-than 0s --abort --force')
  t.equal(s3.openMultipartUploads(), 0, 'aborted')

  const none = await shoebox([url])
  t.equal(none.code, 1, 'none open: exit 1')
  t.equal(none.stderr, `shoebox multipart: no multipart upload is open under ${url}\n`, 'none open: one line saying so')
  t.equal(none.stdout.length, 0, 'none open: nothing on stdout')
})

t.test('against a server without ListMultipartUploads (it answers with a listing of objects)', async (t) => {
  const s3: TestS3 = await startS3({ listUploads: false })
  t.teardown(() => s3.stop())
  const shoebox = multipartRunner(t, s3)

  // What writers killed mid-upload leave: uploads begun, parts sent, never completed.
  for (const key of ['events/run/a.shoebox.gz', 'events/run/b.shoebox.gz', 'other/c.shoebox.gz']) await begin(s3, key, Buffer.alloc(5 * MiB, 1))
  t.equal(s3.openMultipartUploads(), 3)

  const unsupported = /^shoebox multipart: s3:\/\/test-bucket\/events: list uploads: the server does not list multipart uploads \([^\n]*\)\n$/
  for (const args of [[], ['--older-than', '7d'], ['--older-than', '7d', '--abort'], ['--older-than', '0s', '--abort', '--force']]) {
    const what = ['multipart', ...args].join(' ')
    const r = await shoebox(['s3://test-bucket/events', ...args])
    t.equal(r.code, 1, `${what}: exit 1`)
    t.match(r.stderr, unsupported, `${what}: one line saying so, and nothing else`)
    t.equal(r.stdout.length, 0, `${what}: nothing listed, nothing said aborted`)
    t.equal(s3.openMultipartUploads(), 3, `${what}: every upload is still open`)
  }

  const missing = await shoebox(['s3://no-such-bucket/events', '--older-than', '7d', '--abort'])
  t.equal(missing.code, 1, 'a missing bucket: exit 1')
  t.match(missing.stderr, /^shoebox multipart: s3:\/\/no-such-bucket\/events: list uploads: the bucket does not exist[^\n]*\n$/, 'a missing bucket: one line naming it')
})

for (const [skew, what] of [[-3 * DAY, 'a server 3 days behind: a live upload, begun just now by its clock, is kept'], [2 * DAY, 'a server 2 days ahead: an upload begun 2 days ago by its clock is aborted']] as const) {
  t.test(`ages by the server's clock (the Date of its answer), not ours: ${what}`, async (t) => {
    // Initiated (the server's clock) was compared with Date.now() (ours): a server behind ours had a live writer's
    // upload aborted as old, one ahead left a dead writer's open for good.
    const s3 = await startS3()
    t.teardown(() => s3.stop())
    // The Date of the listing's answer: the server's clock, off by days (the test's seconds do not matter).
    const proxy = await startFaultProxy(s3.endpoint, [
      { match: (r) => r.op === 'ListMultipartUploads', fault: { kind: 'set-response-header', name: 'date', value: new Date(Date.now() + skew).toUTCString() } }
    ])
    t.teardown(() => proxy.close())
    const shoebox = multipartRunner(t, s3)
    const id = await begin(s3, 'events/run/a.shoebox.gz')
    // Begun just now by the server's clock when it is behind; 2 days ago by it when it is ahead (just now by ours).
    if (skew < 0) s3.setUploadInitiated(id, new Date(Date.now() + skew))
    const url = 's3://test-bucket/events'
    const line = lineOf(s3, 'events', id)
    const r = await shoebox([url, '--endpoint', proxy.endpoint, '--older-than', '1d', '--abort'])
    if (skew < 0) {
      succeeded(t, r, [`0 multipart uploads aborted under ${url} begun over 1d ago; 1 younger one kept open`], 'kept')
      t.same(s3.openUploads().map((u) => u.uploadId), [id], 'the live upload still open')
    } else {
      succeeded(t, r, [`${line}\taborted`, `1 multipart upload aborted under ${url} begun over 1d ago`], 'aborted')
      t.same(s3.openUploads(), [], 'the dead upload aborted')
    }
  })
}
