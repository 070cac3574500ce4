/**
 * Ctrl-C (SIGINT) and SIGTERM of the commands that leave things behind when
 * killed outright: `pack` (its staging directory of archives not yet
 * uploaded), `upload` (a multipart upload left open on S3, which S3 bills
 * until a lifecycle rule clears it) and `unpack` (a temporary file beside
 * its target). Each is run as a process, held mid-run by an upload or a
 * download the fault proxy stalls, and stopped by the signal: it cleans up,
 * exits 128 + the signal's number (130 SIGINT, 143 SIGTERM) with one line
 * saying what was kept, and leaves nothing behind.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { startFaultProxy, type FaultProxy } from '../fault-proxy.js'
import { interruptCli, type InterruptedRun } from '../fixtures-s3/interrupted-cli.js'
import { startS3, type TestS3 } from '../s3-server.js'

const MiB = 1024 * 1024
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-interrupt-'))
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

/**
 * A request held long enough for the signal to arrive while it is under way.
 * (Not for ever: the uploader's close waits for a request it cannot cancel,
 * a HEAD after a put, which a store that never answers holds until the
 * SDK's request timeout.)
 */
const stall = { kind: 'latency', ms: 2000 } as const

t.test('SIGINT during pack: uploads aborted, staging directory removed, exit 130 saying what the store kept', async (t) => {
  const src = path.join(tmp, 'pack-src')
  fs.mkdirSync(src)
  for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(src, `f${i}`), crypto.randomBytes(MiB))
  const staging = path.join(tmp, 'pack-tmp')
  fs.mkdirSync(staging)
  proxy.log.length = 0
  proxy.rules = [{ match: (r) => r.op === 'PutObject' || r.op === 'UploadPart', fault: stall }]
  const uploading = (): boolean => proxy.log.some((r) => r.op === 'PutObject' || r.op === 'UploadPart')
  const r = await interrupt(['pack', src, '--to', `s3://${s3.bucket}/packed`, '--roll-size', '1MiB'], uploading, 'SIGINT', { TMPDIR: staging })
  t.ok(uploading(), 'an upload was under way')
  t.equal(r.code, 130, r.stderr)
  t.equal(r.signal, null, 'exited, not killed by the signal')
  const stored = s3.keys().filter((k) => k.startsWith('packed/')).length
  t.ok(stored < 4, 'not every archive was stored')
  const kept = stored === 0 ? 'nothing was uploaded to' : `${stored} archive${stored === 1 ? '' : 's'} uploaded to`
  t.match(r.stderr, new RegExp(`^shoebox pack: interrupted by SIGINT; ${kept} s3://${s3.bucket}/packed( before it stays? there)?\n$`), 'one line: the signal and what the store kept')
  // (Only pack's own directories: the TMPDIR is the whole process's.)
  t.same(fs.readdirSync(staging).filter((n) => n.startsWith('shoebox-pack-')), [], 'no staging directory left')
  t.equal(s3.openMultipartUploads(), 0, 'no multipart upload left open')
})

t.test('SIGTERM during upload: the multipart upload under way is aborted, the files before it are named', async (t) => {
  const first = path.join(tmp, 'first.bin')
  const second = path.join(tmp, 'second.bin')
  fs.writeFileSync(first, 'small')
  fs.writeFileSync(second, crypto.randomBytes(6 * MiB))
  proxy.log.length = 0
  proxy.rules = [{ match: (r) => r.op === 'UploadPart', fault: stall }]
  const uploadingPart = (): boolean => proxy.log.some((r) => r.op === 'UploadPart')
  const r = await interrupt(['upload', first, second, '--to', `s3://${s3.bucket}/up`, '--part-size', '5MiB'], uploadingPart, 'SIGTERM')
  t.ok(uploadingPart(), 'a part was under way')
  t.equal(r.code, 143, r.stderr)
  t.match(r.stdout, /^.*first\.bin\t.*\n$/, 'the file uploaded before is listed')
  t.match(r.stderr, `shoebox upload: interrupted by SIGTERM; 1 file uploaded to s3://${s3.bucket}/up before it (listed above)\n`)
  t.equal(s3.object('up/first.bin')?.toString(), 'small')
  t.equal(s3.object('up/second.bin'), undefined)
  t.equal(s3.openMultipartUploads(), 0, 'no multipart upload left open')
})

t.test('SIGINT during unpack: no new file is started, no temporary file is left, exit 130 naming what was restored', async (t) => {
  // Two archives, one file each, made by pack straight to the store.
  const src = path.join(tmp, 'unpack-src')
  fs.mkdirSync(src)
  fs.writeFileSync(path.join(src, 'a'), crypto.randomBytes(MiB))
  fs.writeFileSync(path.join(src, 'b'), crypto.randomBytes(MiB))
  proxy.rules = []
  const packed = await interrupt(['pack', src, '--to', `s3://${s3.bucket}/two`, '--roll-size', '1MiB'], () => false, 'SIGTERM')
  t.equal(packed.code, 0, packed.stderr)
  t.equal(s3.keys().filter((k) => k.startsWith('two/')).length, 2, 'two archives')
  const out = path.join(tmp, 'unpack-out')
  proxy.log.length = 0
  // The second archive's download stalls: the first archive's file is restored by then.
  let gets = 0
  proxy.rules = [{ match: (r) => r.op === 'GetObject' && ++gets === 2, fault: stall }]
  const restored = (): boolean => fs.existsSync(path.join(out, 'a')) && gets >= 2
  const r = await interrupt(['unpack', `s3://${s3.bucket}/two/*`, '--out', out], restored, 'SIGINT')
  t.equal(r.code, 130, r.stderr)
  t.equal(r.stderr, `shoebox unpack: interrupted by SIGINT; 1 file restored before it stays in ${fs.realpathSync(out)}\n`)
  t.same(fs.readdirSync(out), ['a'], 'the restored file, and no temporary file')
  t.ok(fs.readFileSync(path.join(out, 'a')).equals(fs.readFileSync(path.join(src, 'a'))))
})

t.test('SIGINT while the server stalls a GET or the HEAD that verifies an upload: read, unpack and upload exit 130 at once', async (t) => {
  // The store's close destroyed the client, and the SDK tried the request again on a new socket (a GET), or the
  // command waited for the HEAD: each printed its line (or none) and lived on until the server answered.
  const forever = { kind: 'latency', ms: 10 * 60_000 } as const
  const archive = path.join(tmp, 'stall.shoebox')
  fs.writeFileSync(archive, Buffer.from('not read: the GET stalls'))
  await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'stall/a.shoebox', Body: fs.readFileSync(archive) }))
  for (const [args, op, line] of [
    [['read', `s3://${s3.bucket}/stall/*`], 'GetObject', /shoebox read: interrupted by SIGINT; 0 records written/],
    [['unpack', `s3://${s3.bucket}/stall/*`, '--out', path.join(tmp, 'stall-out')], 'GetObject', /^shoebox unpack: interrupted by SIGINT; nothing restored into .*stall-out \(made for this unpack, removed again\)\n$/],
    [['upload', archive, '--to', `s3://${s3.bucket}/stall-up`], 'HeadObject', new RegExp(`^shoebox upload: interrupted by SIGINT; nothing was uploaded to s3://${s3.bucket}/stall-up; stored but not verified, the file kept: s3://${s3.bucket}/stall-up/stall.shoebox\n$`)]
  ] as Array<[string[], string, RegExp]>) {
    proxy.log.length = 0
    proxy.rules = [{ match: (r) => r.op === op, fault: forever }]
    const r = await interrupt(args, () => proxy.log.some((e) => e.op === op), 'SIGINT')
    t.equal(r.code, 130, `${args[0]}: exit 130`)
    t.match(r.stderr, line, args[0])
    t.equal(proxy.log.filter((e) => e.op === op).length, 1, `${args[0]}: the ${op} not tried again`)
  }
  proxy.rules = []
})
