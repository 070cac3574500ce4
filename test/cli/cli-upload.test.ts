/**
 * `shoebox upload` in process (the process-level runs are in
 * cli-store.test.ts): each file under its own name, verified, one line each;
 * --delete-local only after the upload; the error paths a user meets.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { AbortMultipartUploadCommand } from '@aws-sdk/client-s3'
import t, { type Test } from 'tap'
import { cli } from '../cli-run.js'
import { answeredAtArrival, startFaultProxy, type FaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-upload-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const s3 = await startS3()
t.teardown(() => s3.stop())
// The store reads credentials and the endpoint from the environment, as the binary would.
const saved = { ...process.env }
Object.assign(process.env, s3.env)
t.teardown(() => {
  for (const k of Object.keys(s3.env)) delete process.env[k]
  Object.assign(process.env, saved)
})

const small = path.join(tmp, 'small.bin')
const large = path.join(tmp, 'large.bin')
fs.writeFileSync(small, crypto.randomBytes(1000))
fs.writeFileSync(large, crypto.randomBytes(11 * 1024 * 1024))

t.test('uploads each file under its own name, prints one line per file and the statistics', async (t) => {
  const r = await cli(['upload', small, large, '--to', `s3://${s3.bucket}/up`, '--part-size', '5MiB', '--queue-size', '2'])
  t.equal(r.code, 0, r.stderr)
  const lines = r.stdout.toString().trim().split('\n')
  t.equal(lines.length, 2)
  t.match(lines[0], new RegExp(`^${small}\\ts3://${s3.bucket}/up/small\\.bin\\t1000 bytes\\t"[0-9a-f]{32}"$`))
  t.match(lines[1], /\t11534336 bytes\t"[0-9a-f]{32}-3"$/, 'a three-part upload')
  t.match(r.stderr, /^shoebox upload: uploaded 2 objects, 11\.5 MB at [\d.]+ [kMG]?B\/s\n$/)
  t.ok(s3.object('up/small.bin')?.equals(fs.readFileSync(small)))
  t.ok(s3.object('up/large.bin')?.equals(fs.readFileSync(large)))
  t.ok(fs.existsSync(small) && fs.existsSync(large), 'local files kept without --delete-local')
  t.equal(s3.openMultipartUploads(), 0)
})

t.test('--delete-local removes each file once its upload is verified', async (t) => {
  const file = path.join(tmp, 'gone.bin')
  fs.writeFileSync(file, 'bytes')
  const r = await cli(['upload', file, '--to', `s3://${s3.bucket}/up`, '--delete-local'])
  t.equal(r.code, 0, r.stderr)
  t.notOk(fs.existsSync(file))
  t.equal(s3.object('up/gone.bin')?.toString(), 'bytes')
})

t.test('mistakes are one line and a non-zero exit', async (t) => {
  const cases: Array<[string[], number, RegExp]> = [
    [['upload', small], 2, /^shoebox upload: needs --to URL/],
    [['upload', '--to', `s3://${s3.bucket}`], 2, /^shoebox upload: needs at least one FILE/],
    [['upload', small, '--to', `s3://${s3.bucket}`, '--queue-size', '0'], 2, /--queue-size: must be a positive integer/],
    // The value named as typed, as every other refused value is (it said "got 1048576").
    [['upload', small, '--to', `s3://${s3.bucket}`, '--part-size', '1MiB'], 2, /^shoebox upload: --part-size: must be at least 5MiB \(S3's minimum part\), got "1MiB" \(1048576 bytes\)$/m],
    // A part size S3 refuses is refused for a directory store too, which ignores it: the flag is what is checked.
    ...['0', '1MiB', '6GiB', 'lots'].flatMap((size): Array<[string[], number, RegExp]> => [`s3://${s3.bucket}`, path.join(tmp, 'part-size-store')].map((to) =>
      [['upload', small, '--to', to, '--part-size', size], 2, /^shoebox upload: --part-size: (must be at least 5MiB|must be at most \d+ bytes|expected a size)/])),
    [['upload', path.join(tmp, 'missing.bin'), '--to', `s3://${s3.bucket}`], 1, /cannot read .*missing\.bin: no such file or directory/],
    // An empty directory (one that holds files stands for them: cli-directory-args.test.ts).
    [['upload', fs.mkdtempSync(path.join(tmp, 'empty-')), '--to', `s3://${s3.bucket}`], 1, new RegExp(`cannot read .*: is a directory with no files directly in it; nothing was uploaded to s3://${s3.bucket}$`, 'm')],
    [['upload', '/dev/null', '--to', `s3://${s3.bucket}`], 1, new RegExp(`^shoebox upload: cannot read /dev/null: not a regular file; nothing was uploaded to s3://${s3.bucket}$`, 'm')],
    [['upload', small, '--to', 's3://no-such-bucket/x'], 1, /s3:\/\/no-such-bucket\/x: put small\.bin: the bucket does not exist/]
  ]
  for (const [args, code, message] of cases) {
    const r = await cli(args)
    t.equal(r.code, code, args.join(' '))
    t.match(r.stderr, message, args.join(' '))
    t.equal(r.stdout.length, 0, 'nothing on stdout')
    // One line (a usage mistake adds the '--help' hint).
    t.equal(r.stderr.trim().split('\n').length, code === 2 ? 2 : 1, 'one line')
  }
  t.notOk(fs.existsSync(path.join(tmp, 'part-size-store')), 'nothing uploaded to the directory store')
})

t.test('two files of one name are refused before anything is uploaded (the second would replace the first)', async (t) => {
  // With --delete-local, the first file's bytes were gone from disk and from the store.
  const a = path.join(tmp, 'a', 'same.gz')
  const b = path.join(tmp, 'b', 'same.gz')
  fs.mkdirSync(path.dirname(a))
  fs.mkdirSync(path.dirname(b))
  fs.writeFileSync(a, 'first')
  fs.writeFileSync(b, 'second')
  const r = await cli(['upload', a, b, '--to', `s3://${s3.bucket}/twice`, '--delete-local'])
  t.equal(r.code, 2, r.stderr)
  t.match(r.stderr, `shoebox upload: ${a} and ${b} would both be uploaded as "same.gz"`)
  t.equal(r.stdout.length, 0)
  t.equal(fs.readFileSync(a, 'utf8'), 'first', 'the first file is kept')
  t.equal(fs.readFileSync(b, 'utf8'), 'second', 'the second file is kept')
  t.equal(s3.object('twice/same.gz'), undefined, 'nothing uploaded')
  t.equal(s3.openMultipartUploads(), 0)
})

/** For the rest of test `t`, the CLI's requests go through a proxy that holds the first PutObject 300 ms. */
async function firstPutHeld (t: Test): Promise<FaultProxy> {
  const proxy = await startFaultProxy(s3.endpoint, [{ match: (r) => r.op === 'PutObject', fault: { kind: 'latency', ms: 300 }, times: 1 }])
  t.teardown(async () => { await proxy.close() })
  const endpoint = process.env.SHOEBOX_S3_ENDPOINT
  process.env.SHOEBOX_S3_ENDPOINT = proxy.endpoint
  t.teardown(() => { process.env.SHOEBOX_S3_ENDPOINT = endpoint })
  return proxy
}

t.test('--delete-local keeps a file that changed while it was uploaded (a live log appended to)', async (t) => {
  // The store held the bytes as first read, and the size check passed (taken at the first stat):
  // the file was deleted, and what was appended meanwhile was gone.
  const proxy = await firstPutHeld(t)
  const file = path.join(tmp, 'live.log')
  fs.writeFileSync(file, 'line 1\n')
  const run = cli(['upload', file, '--to', `s3://${s3.bucket}/live`, '--delete-local'])
  // The upload is under way (its bytes read, the put held by the proxy): the writer appends.
  while (proxy.count('PutObject') === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  fs.appendFileSync(file, 'line 2\n')
  const r = await run
  t.equal(r.code, 1, r.stderr)
  t.match(r.stderr, new RegExp(`^shoebox upload: ${file} changed while it was uploaded \\(size 7 -> 14[^)]*\\): s3://${s3.bucket}/live/live\\.log holds it as it was, and the file is kept \\(not deleted\\)\n$`))
  t.equal(fs.readFileSync(file, 'utf8'), 'line 1\nline 2\n', 'the file is kept, with what was appended')
  t.equal(s3.object('live/live.log')?.toString(), 'line 1\n')
})

t.test('a file that grows between its look and its read fails the size check, and the line says the file changed and what was kept', async (t) => {
  // --concurrency 1: the second file is looked at (stat) while the first one's put is held, and read after it.
  const proxy = await firstPutHeld(t)
  const dir = path.join(tmp, 'grows')
  fs.mkdirSync(dir)
  const first = path.join(dir, 'first.log')
  const second = path.join(dir, 'second.log')
  fs.writeFileSync(first, 'one\n')
  fs.writeFileSync(second, 'line 1\n')
  const run = cli(['upload', first, second, '--to', `s3://${s3.bucket}/grows`, '--concurrency', '1'])
  while (proxy.count('PutObject') === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  fs.appendFileSync(second, 'line 2\n')
  const r = await run
  t.equal(r.code, 1, r.stderr)
  t.match(r.stdout.toString(), new RegExp(`^${first}\\ts3://${s3.bucket}/grows/first\\.log\\t4 bytes\\t\\S+\\n$`), 'the first file is listed, the second not')
  t.match(r.stderr, `s3://${s3.bucket}/grows: upload second.log: stored 14 bytes of 7 (${second} changed while it was uploaded: size 7 -> 14); the object is left as stored, the file is kept; 1 file uploaded`)
  t.equal(s3.object('grows/second.log')?.toString(), 'line 1\nline 2\n', 'the object holds what was read')
  t.equal(fs.readFileSync(second, 'utf8'), 'line 1\nline 2\n', 'the file is kept')
})

t.test('--concurrency: small files overlap their requests; lines come in the order the files were given', async (t) => {
  const dir = path.join(tmp, 'many')
  fs.mkdirSync(dir)
  const files = Array.from({ length: 6 }, (_, i) => path.join(dir, `f${i}.bin`))
  files.forEach((f, i) => { fs.writeFileSync(f, `file ${i}\n`) })
  const proxy = await startFaultProxy(s3.endpoint, [])
  t.teardown(() => proxy.close())
  const overlap = answeredAtArrival(proxy, 'PutObject', 1500)
  // The last file is answered first: its line still comes last.
  proxy.rules.unshift({ match: (r) => r.op === 'PutObject' && r.url.includes('f5.bin'), fault: { kind: 'latency', ms: 10 } })
  const r = await cli(['upload', ...files, '--to', `s3://${s3.bucket}/many`, '--endpoint', proxy.endpoint, '--concurrency', '4'])
  t.equal(r.code, 0, r.stderr)
  t.same(r.stdout.toString().trim().split('\n').map((l) => l.split('\t')[0]), files, 'one line per file, in the order given')
  t.same(overlap.slice(0, 4), [0, 0, 0, 0], 'four uploads under way at once')
  for (const [i, f] of files.entries()) t.equal(s3.object(`many/f${i}.bin`)?.toString(), fs.readFileSync(f, 'utf8'))

  proxy.rules.shift()
  const seenBefore = overlap.length
  const answeredBefore = proxy.count('PutObject')
  const one = await cli(['upload', ...files.slice(0, 3), '--to', `s3://${s3.bucket}/one`, '--endpoint', proxy.endpoint, '--concurrency', '1'])
  t.equal(one.code, 0, one.stderr)
  t.same(overlap.slice(seenBefore).map((n) => n - answeredBefore), [0, 1, 2], '--concurrency 1: one after the other')
})

t.test('--concurrency: a file of more than one part is uploaded alone', async (t) => {
  const dir = path.join(tmp, 'mixed')
  fs.mkdirSync(dir)
  const before = path.join(dir, 'a.bin')
  const after = path.join(dir, 'c.bin')
  const big = path.join(dir, 'b.bin')
  fs.writeFileSync(before, 'a')
  fs.writeFileSync(after, 'c')
  fs.writeFileSync(big, crypto.randomBytes(6 * 1024 * 1024))
  const proxy = await startFaultProxy(s3.endpoint, [{ match: (r) => r.op === 'PutObject', fault: { kind: 'latency', ms: 300 } }])
  t.teardown(() => proxy.close())
  const r = await cli(['upload', before, big, after, '--to', `s3://${s3.bucket}/mixed`, '--endpoint', proxy.endpoint, '--part-size', '5MiB'])
  t.equal(r.code, 0, r.stderr)
  // In arrival order: a's PutObject is answered before b's upload begins, and c waits for b's completion.
  const ops = proxy.log.filter((e) => e.op !== 'HeadObject').map((e) => `${e.op} ${path.basename(e.url.split('?')[0])}`)
  t.same(ops, ['PutObject a.bin', 'CreateMultipartUpload b.bin', 'UploadPart b.bin', 'UploadPart b.bin', 'CompleteMultipartUpload b.bin', 'PutObject c.bin'])
  t.ok(s3.object('mixed/b.bin')?.equals(fs.readFileSync(big)))
})

t.test('a failed file: the files under way finish and are listed, no other is started, the line says what was uploaded', async (t) => {
  const dir = path.join(tmp, 'failing')
  fs.mkdirSync(dir)
  const files = Array.from({ length: 8 }, (_, i) => path.join(dir, `g${i}.bin`))
  files.forEach((f, i) => { fs.writeFileSync(f, `file ${i}\n`) })
  const proxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'PutObject' && r.url.includes('g1.bin'), fault: { kind: 'status', status: 403, code: 'AccessDenied' } },
    { match: (r) => r.op === 'PutObject', fault: { kind: 'latency', ms: 500 } }
  ])
  t.teardown(() => proxy.close())
  const r = await cli(['upload', ...files, '--to', `s3://${s3.bucket}/failing`, '--endpoint', proxy.endpoint, '--concurrency', '3'])
  t.equal(r.code, 1)
  const listed = r.stdout.toString().trim().split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0])
  t.same(listed, [files[0], files[2]], 'the two under way beside the failed one, in order')
  t.match(r.stderr, new RegExp(`put g1\\.bin: credentials refused.*; 2 files uploaded to s3://${s3.bucket}/failing \\(listed on stdout\\)`))
  t.equal(proxy.count('PutObject'), 3, 'no file started after the failure')
  t.equal(s3.object('failing/g0.bin')?.toString(), 'file 0\n')
  t.equal(s3.object('failing/g3.bin'), undefined)
})

t.test('--concurrency must be a positive integer', async (t) => {
  const r = await cli(['upload', small, '--to', `s3://${s3.bucket}/up`, '--concurrency', '0'])
  t.equal(r.code, 2)
  t.match(r.stderr, /--concurrency: must be a positive integer, got "0"/)
})

t.test('a file that vanishes after it was listed, while another is uploaded: one line naming it and what was uploaded', async (t) => {
  const dir = path.join(tmp, 'vanishing')
  fs.mkdirSync(dir)
  const files = ['v0.bin', 'v1.bin', 'v2.bin'].map((name) => path.join(dir, name))
  files.forEach((f, i) => { fs.writeFileSync(f, `file ${i}\n`) })
  // v0's PutObject is held 500 ms; v1 is looked at meanwhile (waiting for the one slot), then removed.
  const proxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'PutObject' && r.url.includes('v0.bin'), fault: { kind: 'latency', ms: 500 } }
  ])
  t.teardown(() => proxy.close())
  const removed = new Promise<void>((resolve) => setTimeout(() => { fs.rmSync(files[1]); resolve() }, 250))
  const r = await cli(['upload', ...files, '--to', `s3://${s3.bucket}/vanishing`, '--endpoint', proxy.endpoint, '--concurrency', '1'])
  await removed
  t.equal(r.code, 1)
  t.same(r.stdout.toString().trim().split('\n').map((l) => l.split('\t')[0]), [files[0]], 'the file uploaded before it')
  t.equal(r.stderr, `shoebox upload: cannot read ${files[1]}: no such file or directory (ENOENT); 1 file uploaded to s3://${s3.bucket}/vanishing (listed on stdout)\n`)
  t.equal(s3.object('vanishing/v2.bin'), undefined, 'no file started after it')
})

t.test('--concurrency 16: no warning of a listener leak on stderr (each file under way listens to the interrupt signal)', async (t) => {
  const dir = path.join(tmp, 'sixteen')
  fs.mkdirSync(dir)
  const files = Array.from({ length: 24 }, (_, i) => path.join(dir, `s${i}.bin`))
  files.forEach((f, i) => { fs.writeFileSync(f, `file ${i}\n`) })
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { warnings.push(`${warning.name}: ${warning.message}`) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  // Each PutObject held 200 ms: 16 files under way at once.
  const proxy = await startFaultProxy(s3.endpoint, [{ match: (r) => r.op === 'PutObject', fault: { kind: 'latency', ms: 200 } }])
  t.teardown(() => proxy.close())
  const r = await cli(['upload', ...files, '--to', `s3://${s3.bucket}/sixteen`, '--endpoint', proxy.endpoint, '--concurrency', '16'])
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout.toString().trim().split('\n').length, 24)
  t.same(warnings, [], 'no MaxListenersExceededWarning')
})

t.test('a FILE already in the --to directory is a usage error, nothing uploaded or deleted: its object would be the file itself', async (t) => {
  const dir = path.join(tmp, 'onto-itself')
  fs.mkdirSync(dir)
  const file = path.join(dir, 'a.bin')
  fs.writeFileSync(file, 'only copy')
  for (const to of [dir, `file://${dir}`]) {
    const r = await cli(['upload', file, '--to', to, '--delete-local'])
    t.equal(r.code, 2, to)
    t.equal(r.stderr.split('\n')[0], `shoebox upload: ${file} is already in ${dir}, the --to directory: its object would be the file itself; upload it to another directory or a store`, to)
    t.equal(fs.readFileSync(file, 'utf8'), 'only copy', 'the file is left as it was')
  }
  // The same directory by another name (a symbolic link to it, or through one): compared by real paths, as
  // path.resolve() let the alias through and --delete-local deleted the only copy.
  const alias = path.join(tmp, 'onto-itself-alias')
  fs.symlinkSync(dir, alias)
  for (const [given, to] of [[file, alias], [path.join(alias, 'a.bin'), dir], [file, path.join(alias, '..', 'onto-itself-alias')]]) {
    const r = await cli(['upload', given, '--to', to, '--delete-local'])
    t.equal(r.code, 2, `${given} --to ${to}`)
    t.equal(r.stderr.split('\n')[0], `shoebox upload: ${given} is already in ${path.resolve(to)}, the --to directory: its object would be the file itself; upload it to another directory or a store`, to)
    t.equal(fs.readFileSync(file, 'utf8'), 'only copy', 'the file is left as it was')
  }
})

t.test('a file whose name is not UTF-8 is refused by name (an object key is text), not reported missing', async (t) => {
  // `shoebox upload logs/*` on a Latin-1 name: Node gets it decoded, U+FFFD for the bad byte, and said
  // "no such file or directory" of a file the shell had just listed.
  const dir = path.join(tmp, 'latin1')
  fs.mkdirSync(dir)
  fs.writeFileSync(Buffer.concat([Buffer.from(dir + '/caf'), Buffer.from([0xe9]), Buffer.from('.log')]), 'bytes\n')
  fs.writeFileSync(path.join(dir, 'a.log'), 'first\n')
  const given = path.join(dir, 'caf\uFFFD.log')
  const r = await cli(['upload', path.join(dir, 'a.log'), given, '--to', `s3://${s3.bucket}/latin1`, '--concurrency', '1', '--delete-local'])
  t.equal(r.code, 1)
  t.equal(r.stderr, `shoebox upload: cannot upload ${given}: its name is not UTF-8, and an object key is text ` +
    `(it would be stored under another name); rename it; 1 file uploaded to s3://${s3.bucket}/latin1 (listed on stdout)\n`)
  t.same(s3.keys().filter((k) => k.startsWith('latin1/')), ['latin1/a.log'], 'nothing stored under the decoded name')
  t.same(fs.readdirSync(dir, { encoding: 'buffer' }).map((n) => n.toString('latin1')), ['caf\u00e9.log'], 'the file is kept')
})

t.test('a failed upload whose multipart upload cannot be aborted says it stays open', async (t) => {
  // A policy that refuses the parts often refuses their abort too: the line said only why the part failed, and
  // the help's "a failed upload leaves no multipart upload open" held no more.
  const proxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'UploadPart', fault: { kind: 'status', status: 403, code: 'AccessDenied' } },
    { match: (r) => r.op === 'AbortMultipartUpload', fault: { kind: 'status', status: 403, code: 'AccessDenied' } }
  ])
  t.teardown(() => proxy.close())
  const r = await cli(['upload', large, '--to', `s3://${s3.bucket}/unaborted`, '--endpoint', proxy.endpoint, '--part-size', '5MiB'])
  t.equal(r.code, 1)
  const open = s3.openUploads().filter((u) => u.key === 'unaborted/large.bin')
  t.equal(open.length, 1, 'the multipart upload is open')
  t.equal(r.stderr, `shoebox upload: s3://${s3.bucket}/unaborted: put large.bin: credentials refused or missing ` +
    '(check AWS_ACCESS_KEY_ID / AWS_PROFILE and the key\'s permissions) (AccessDenied, HTTP 403: injected 403 AccessDenied); ' +
    `its multipart upload ${open[0].uploadId} could not be aborted (AccessDenied, HTTP 403) and stays open ` +
    `(shoebox multipart s3://${s3.bucket}/unaborted lists it); ${large} is kept; nothing was uploaded to s3://${s3.bucket}/unaborted\n`)
  t.equal(r.stdout.length, 0)
  for (const u of open) await s3.client().send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: u.key, UploadId: u.uploadId }))
})

t.test('a file that needs more than 10,000 parts at --part-size is refused before any byte is sent', async (t) => {
  // S3 takes at most 10,000 parts: an 80 GB file at the default 8MiB failed at part 10,001, its 80 GB sent
  // for nothing. A sparse file: its size is what counts.
  const huge = path.join(tmp, 'huge.bin')
  const size = 8 * 1024 * 1024 * 10_000 + 1
  fs.closeSync(fs.openSync(huge, 'w'))
  fs.truncateSync(huge, size)
  t.teardown(() => { fs.rmSync(huge, { force: true }) })
  const r = await cli(['upload', huge, '--to', `s3://${s3.bucket}/huge`])
  t.equal(r.code, 2)
  t.equal(r.stderr, `shoebox upload: ${huge} is ${size} bytes: more than 10000 parts of --part-size 8MiB (S3 takes at most 10000); ` +
    'give --part-size 9MiB or more\n(try \'shoebox upload --help\')\n')
  t.same(s3.keys().filter((k) => k.startsWith('huge/')), [], 'nothing stored')
  t.equal(s3.openUploads().filter((u) => u.key.startsWith('huge/')).length, 0, 'no multipart upload begun')
})

t.test('a file store that cannot write: one line in words, the path once, what was kept; not Node\'s raw error', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'blocked-'))
  fs.writeFileSync(path.join(dir, 'blocker'), '')
  const to = pathToFileURL(path.join(dir, 'blocker', 'sub')).href
  const r = await cli(['upload', small, '--to', to])
  t.equal(r.code, 1)
  t.match(r.stderr, /^shoebox upload: file:\/\/.*\/blocker\/sub: put small\.bin: not a directory \(ENOTDIR\)/)
  t.notMatch(r.stderr, /Error:|mkdir '/, 'no raw Node error text, no second copy of the path')
  t.equal(r.stderr.split('\n').length, 2, 'one line')
})

t.test('many small files: each is read in a buffer of its size, not 1 MiB (V8 counts those, and collected every ~30 files)', async (t) => {
  const dir = path.join(tmp, 'small-many')
  fs.mkdirSync(dir)
  const files = Array.from({ length: 40 }, (_, i) => path.join(dir, `s${String(i).padStart(2, '0')}.bin`))
  files.forEach((f, i) => { fs.writeFileSync(f, `small file ${i}\n`) })
  // fs.ReadStream takes each read's buffer from Buffer.allocUnsafeSlow (the end-finding read's too): counted here.
  const allocUnsafeSlow = Buffer.allocUnsafeSlow
  let allocated = 0
  Buffer.allocUnsafeSlow = (size: number) => { allocated += size; return allocUnsafeSlow(size) }
  t.teardown(() => { Buffer.allocUnsafeSlow = allocUnsafeSlow })
  for (const to of [pathToFileURL(path.join(tmp, 'small-many-out')).href, `s3://${s3.bucket}/small-many`]) {
    allocated = 0
    const r = await cli(['upload', ...files, '--to', to])
    t.equal(r.code, 0, r.stderr)
    t.equal(r.stdout.toString().trim().split('\n').length, files.length, `${to}: one line per file`)
    // Now 32 KiB a file (two reads of 16 KiB), 96 KiB to S3 (the writer's first 64 KiB buffer); before, 2 MiB more.
    t.ok(allocated <= files.length * 128 * 1024, `${to}: ${allocated} bytes allocated for ${files.length} files of 15 bytes`)
  }
})

t.test('an endpoint that answers every request with HTTP 200 and a page that is no S3 answer: the line says the answer could not be read, not "stored 0 bytes"', async (t) => {
  // The PUT "succeeded" (the SDK reads nothing from its body) and the HEAD had no Content-Length, which was taken
  // as 0: "stored 0 bytes of 78; the object is left as stored", though nothing was stored.
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>a captive portal, not S3</html>') })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const file = path.join(tmp, 'garbage.bin')
  fs.writeFileSync(file, 'x'.repeat(78))
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const r = await cli(['upload', file, '--to', 's3://bkt/up', '--endpoint', endpoint, '--delete-local'])
  t.equal(r.code, 1, r.stderr)
  t.equal(r.stdout.toString(), '', 'no line claims the file uploaded')
  t.notMatch(r.stderr, /stored 0 bytes/)
  t.match(r.stderr, /^shoebox upload: s3:\/\/bkt\/up: stat garbage\.bin: the server's answer \(HTTP 200\) has no Content-Length, so it is no S3 answer \(is the endpoint an S3 server\?\); whether the object exists is unknown/)
  t.ok(fs.existsSync(file), 'the file is kept')
})
