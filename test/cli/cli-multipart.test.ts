/**
 * shoebox multipart: the multipart uploads left open under an s3:// URL.
 *
 * Its usage is checked before any request: one URL, an s3:// one (a
 * directory has no multipart uploads), --abort only with --older-than of at
 * least a day unless --force, --force only with --abort.
 *
 * Against the test S3 server (fauxqs 1.9), which does not implement
 * ListMultipartUploads (it answers it as a listing of objects): the command
 * must say so in one line and exit 1, abort nothing (uploads a killed writer
 * left open stay open), and never print the secret. Listing, aborting and
 * paging over a server that implements ListMultipartUploads have no test
 * server here.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3'
import t, { type Test } from 'tap'
import { cli } from '../cli-run.js'
import { buildCli, runCli, type RunResult } from '../fixtures-s3/cli-build.js'
import { startS3, type TestS3 } from '../s3-server.js'

const MiB = 1024 * 1024
const SECRET = 'SeCrEt-multipart-Vb4Kp2'
const TOKEN = 'ToKeN-multipart-Hc8Rw5'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-multipart-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

function usageError (t: Test, r: { code: number | null, stdout: Buffer, stderr: string }, line: RegExp, what: string): void {
  t.equal(r.code, 2, `${what}: exit 2`)
  t.match(r.stderr, new RegExp(`^shoebox multipart: ${line.source}[^\\n]*\\n\\(try 'shoebox multipart --help'\\)\\n$`), what)
  t.equal(r.stdout.length, 0, `${what}: nothing on stdout`)
}

t.test('usage mistakes are refused before any request, exit 2', async (t) => {
  const cases: Array<[string[], RegExp, string]> = [
    [[], /multipart needs exactly one s3:\/\/ URL/, 'no URL'],
    [['s3://test-bucket/a', 's3://test-bucket/b'], /multipart needs exactly one s3:\/\/ URL/, 'two URLs'],
    [[tmp], /multipart needs an s3:\/\/ URL, got .*: a directory has no multipart uploads/, 'a directory'],
    [[`file://${tmp}`], /multipart needs an s3:\/\/ URL, got file:\/\/.*: a directory has no multipart uploads/, 'a file:// URL'],
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

t.test('against a server without ListMultipartUploads', async (t) => {
  const bin = buildCli(path.join(tmp, 'build'))
  const s3: TestS3 = await startS3()
  t.teardown(() => s3.stop())
  // fauxqs does not check signatures: any secret will do, and this one must never be printed.
  const env = { ...s3.env, AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN }
  const shoebox = async (args: string[]): Promise<RunResult> => await runCli(bin, ['multipart', ...args], { env })

  // What writers killed mid-upload leave: uploads begun, parts sent, never completed.
  const raw = s3.client()
  for (const key of ['events/run/a.shoebox.gz', 'events/run/b.shoebox.gz', 'other/c.shoebox.gz']) {
    const { UploadId } = await raw.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }))
    await raw.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(5 * MiB, 1) }))
  }
  t.equal(s3.openMultipartUploads(), 3)

  const unsupported = /^shoebox multipart: s3:\/\/test-bucket\/events: list uploads: the server does not list multipart uploads \([^\n]*\)\n$/
  for (const args of [[], ['--older-than', '7d'], ['--older-than', '7d', '--abort'], ['--older-than', '0s', '--abort', '--force']]) {
    const what = ['multipart', ...args].join(' ')
    const r = await shoebox(['s3://test-bucket/events', ...args])
    t.equal(r.code, 1, `${what}: exit 1`)
    t.match(r.stderr, unsupported, `${what}: one line saying so, and nothing else`)
    t.equal(r.stdout.length, 0, `${what}: nothing listed, nothing said aborted`)
    t.notOk((r.stdout.toString() + r.stderr).includes(SECRET), `${what}: the secret is never printed`)
    t.notOk((r.stdout.toString() + r.stderr).includes(TOKEN), `${what}: the session token is never printed`)
    t.equal(s3.openMultipartUploads(), 3, `${what}: every upload is still open`)
  }

  const missing = await shoebox(['s3://no-such-bucket/events', '--older-than', '7d', '--abort'])
  t.equal(missing.code, 1, 'a missing bucket: exit 1')
  t.match(missing.stderr, /^shoebox multipart: s3:\/\/no-such-bucket\/events: list uploads: the bucket does not exist[^\n]*\n$/, 'a missing bucket: one line naming it')
  t.notOk(missing.stderr.includes(SECRET), 'a missing bucket: the secret is never printed')
})
