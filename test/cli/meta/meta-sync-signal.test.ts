/**
 * SIGINT and SIGTERM of `meta push` and `meta pull` while the store is slow.
 * A history file over the part size goes up as a multipart upload: killed
 * outright, push left it open on S3 (parts billed until someone aborts
 * them) and printed nothing. Stopped, it aborts the upload under way, keeps
 * the files copied before it (each whole), says so in one line, and exits
 * 128 + the signal's number, as `upload` does.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { startFaultProxy, type FaultProxy } from '../../fault-proxy.js'
import { interruptCli, type InterruptedRun } from '../../fixtures-s3/interrupted-cli.js'
import { startS3, type TestS3 } from '../../s3-server.js'

const MiB = 1024 * 1024
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-meta-sync-signal-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

let s3: TestS3
let proxy: FaultProxy
t.before(async () => {
  s3 = await startS3()
  proxy = await startFaultProxy(s3.endpoint, [])
})
t.teardown(async () => {
  await proxy.close()
  await s3.stop()
})

/** Run the CLI through the proxy; once `ready()` holds, send `signal`. */
async function interrupt (args: string[], ready: () => boolean, signal: NodeJS.Signals, env: Record<string, string> = {}): Promise<InterruptedRun> {
  return await interruptCli(args, ready, signal, { ...s3.env, SHOEBOX_S3_ENDPOINT: proxy.endpoint, ...env })
}

/** A metadir with a small history file and one over the 8 MiB part size (sync copies them oldest first). */
function metadir (name: string): string {
  const base = path.join(tmp, name)
  fs.mkdirSync(path.join(base, '_mmmeta', 'db'), { recursive: true })
  fs.writeFileSync(path.join(base, '_mmmeta', 'db', '20260101T000000.append'), 'small')
  fs.writeFileSync(path.join(base, '_mmmeta', 'db', '20260102T000000.append'), crypto.randomBytes(9 * MiB))
  return base
}

/** Long enough for the signal to come while a part is under way; not for ever. */
const stall = { kind: 'latency', ms: 2000 } as const

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} during meta push: the multipart upload under way is aborted, the file before it stays, one line, exit ${signal === 'SIGINT' ? 130 : 143}`, async (t) => {
    const base = metadir(`push-${signal}`)
    const prefix = `push-${signal}`
    proxy.log.length = 0
    proxy.rules = [{ match: (r) => r.op === 'UploadPart', fault: stall }]
    const uploadingPart = (): boolean => proxy.log.some((r) => r.op === 'UploadPart')
    const r = await interrupt(['meta', 'push', `s3://${s3.bucket}/${prefix}`, '--metadir', base], uploadingPart, signal)
    proxy.rules = []
    t.ok(uploadingPart(), 'a part was under way')
    t.equal(r.signal, null, 'exited, not killed by the signal')
    t.equal(r.code, signal === 'SIGINT' ? 130 : 143, r.stderr)
    t.equal(r.stdout, '_mmmeta/db/20260101T000000.append\t5 bytes\n', 'the file copied before is listed')
    t.equal(r.stderr, `shoebox meta push: interrupted by ${signal}; 1 file copied before it stays\n`)
    t.equal(s3.object(`${prefix}/_mmmeta/db/20260101T000000.append`)?.toString(), 'small')
    t.equal(s3.object(`${prefix}/_mmmeta/db/20260102T000000.append`), undefined, 'the file under way is not stored')
    t.equal(s3.openMultipartUploads(), 0, 'no multipart upload left open')
  })
}

t.test('SIGTERM during meta pull: the download under way leaves no file and no temporary file, the file before it stays, exit 143', async (t) => {
  const base = metadir('pull-source')
  proxy.rules = []
  const pushed = await interrupt(['meta', 'push', `s3://${s3.bucket}/pull`, '--metadir', base], () => false, 'SIGTERM')
  t.equal(pushed.code, 0, pushed.stderr)
  const consumer = path.join(tmp, 'pull-consumer')
  proxy.log.length = 0
  // The second history file's download stalls: the first is written by then.
  proxy.rules = [{ match: (r) => r.op === 'GetObject' && r.url.includes('20260102T000000.append'), fault: { kind: 'latency', ms: 10 * 60_000 } }]
  const downloading = (): boolean => proxy.log.some((r) => r.op === 'GetObject' && r.url.includes('20260102T000000.append'))
  const r = await interrupt(['meta', 'pull', `s3://${s3.bucket}/pull`, '--metadir', consumer], downloading, 'SIGTERM')
  proxy.rules = []
  t.equal(r.signal, null, 'exited, not killed by the signal')
  t.equal(r.code, 143, r.stderr)
  t.equal(r.stderr, 'shoebox meta pull: interrupted by SIGTERM; 1 file copied before it stays\n')
  t.same(fs.readdirSync(path.join(consumer, '_mmmeta', 'db')), ['20260101T000000.append'], 'the file before it, and no temporary file')
})

t.test('SIGINT while the store holds the listing: meta pull and push stop there, exit 130, nothing copied', async (t) => {
  const base = metadir('list-source')
  for (const [name, args] of [['pull', ['meta', 'pull', `s3://${s3.bucket}/pull`, '--metadir', path.join(tmp, 'list-consumer')]], ['push', ['meta', 'push', `s3://${s3.bucket}/list`, '--metadir', base]]] as const) {
    proxy.log.length = 0
    proxy.rules = [{ match: (r) => r.op === 'ListObjectsV2', fault: { kind: 'latency', ms: 10 * 60_000 } }]
    const r = await interrupt([...args], () => proxy.log.some((e) => e.op === 'ListObjectsV2'), 'SIGINT')
    proxy.rules = []
    t.equal(r.signal, null, `${name}: exited, not killed by the signal`)
    t.equal(r.code, 130, r.stderr)
    t.equal(r.stderr, `shoebox meta ${name}: interrupted by SIGINT; nothing copied\n`)
  }
  t.same(s3.keys().filter((k) => k.startsWith('list/')), [], 'nothing pushed')
})
