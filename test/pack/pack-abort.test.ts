/**
 * pack() and unpack() given an AbortSignal (what the CLI's SIGINT/SIGTERM
 * use, test/cli/cli-interrupt.test.ts): an abort mid-run stops them as a
 * failure does, cleaning up (pack's staging directory, unpack's temporary
 * files), and rejects with SHOEBOX_ABORTED saying what was kept.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { ShoeboxError } from '../../lib/index.js'
import { expectCode } from '../helpers.js'
import { pack } from '../../lib/pack/pack.js'
import { unpack } from '../../lib/pack/unpack.js'
import { tempDir } from '../temp-dir.js'
import { seen, startFaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'

/** A tree of `n` files of 1 KiB each, packed one archive per file (roll size 1 byte). */
function tree (root: string, n: number): string {
  const src = path.join(root, 'src')
  fs.mkdirSync(src)
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(src, `f${String(i).padStart(2, '0')}`), Buffer.alloc(1024, i))
  return src
}

t.test('pack: an abort after the first upload stops it, keeps what the store has, removes the staging directory', async (t) => {
  const root = tempDir(t)
  const src = tree(root, 20)
  const staging = path.join(root, 'tmp')
  fs.mkdirSync(staging)
  const to = path.join(root, 'store')
  const controller = new AbortController()
  const err = await expectCode(t, pack(src, {
    to,
    rollSize: 1,
    tmpDir: staging,
    concurrency: 1,
    signal: controller.signal,
    onUpload: () => { controller.abort() }
  }), 'SHOEBOX_ABORTED', 'aborted')
  const stored = fs.readdirSync(to).filter((n) => n.endsWith('.shoebox'))
  t.ok(stored.length >= 1 && stored.length < 20, `some archives stored, not all (${stored.length})`)
  t.match(err?.message, new RegExp(`^aborted; ${stored.length} archives? uploaded to ${to} before it stays? there$`))
  t.same(fs.readdirSync(staging), [], 'staging directory removed')
})

/**
 * pack() of two files to the test S3 server through a proxy that holds the
 * requests `stalled` names for ten minutes, aborted as the first `abortOn`
 * request arrives: it must reject SHOEBOX_ABORTED at once. The proxy and the
 * server, for what they saw.
 */
async function packAbortedInStall (t: Test, stalled: string[], abortOn: string): Promise<{ proxy: Awaited<ReturnType<typeof startFaultProxy>>, s3: Awaited<ReturnType<typeof startS3>>, err: Error | undefined }> {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, [])
  t.teardown(() => proxy.close())
  const arrived = seen(proxy, (r) => r.op === abortOn)
  proxy.rules.push({ match: (r) => stalled.includes(r.op), fault: { kind: 'latency', ms: 10 * 60_000 } })
  const root = tempDir(t)
  const src = tree(root, 2)
  const controller = new AbortController()
  void arrived.then(() => { controller.abort() })
  const err = await expectCode(t, pack(src, {
    to: `s3://${s3.bucket}/packed`,
    storeOptions: { endpoint: proxy.endpoint, credentials: s3.credentials, region: s3.region },
    tmpDir: root,
    signal: controller.signal
  }), 'SHOEBOX_ABORTED', 'aborted')
  return { proxy, s3, err }
}

t.test('pack to a server that stalls the put: an abort ends it at once, with no stat of the stopped upload', async (t) => {
  // The stopped writer settled as ended, and the uploader then asked the store for the object it had not
  // uploaded: a HEAD the stalling server held too, so a Ctrl-C left pack running until the server answered.
  const { proxy, s3, err } = await packAbortedInStall(t, ['PutObject', 'HeadObject'], 'PutObject')
  t.equal(proxy.count('HeadObject'), 0, 'no stat of the stopped upload')
  t.same(s3.keys(), [], 'nothing stored')
  t.match(err?.message, /; nothing was uploaded to s3:\/\//, 'and the message says so')
})

t.test('pack to a server that stalls the HEAD verifying an upload: an abort ends it at once', async (t) => {
  // The uploader's stop waited for that stat, as long as the server held it.
  const { proxy, s3, err } = await packAbortedInStall(t, ['HeadObject'], 'HeadObject')
  t.equal(proxy.count('HeadObject'), 1, 'the stat not tried again')
  // The put had completed: the store keeps that archive, though no upload event was sent for it.
  t.equal(s3.keys().length, 1, 'the archive whose put completed is in the store')
  t.match(err?.message, /; 1 archive uploaded to s3:\/\/[^ ]+ before it stays there$/, 'and the message counts it')
})

t.test('pack: an archive that fails its check is not counted among those uploaded before it', async (t) => {
  // The server answers the HEAD after the second archive's put with another size (a server that is no S3, a
  // proxy): the error named that archive and said "2 archives uploaded ... before it", the failed one counted.
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'HeadObject' && r.url.includes('-000001.'), fault: { kind: 'set-response-header', name: 'content-length', value: '7' } }
  ])
  t.teardown(() => proxy.close())
  const root = tempDir(t)
  const src = tree(root, 4)
  const err = await expectCode(t, pack(src, {
    to: `s3://${s3.bucket}/checked`,
    storeOptions: { endpoint: proxy.endpoint, credentials: s3.credentials, region: s3.region },
    rollSize: 1,
    concurrency: 1,
    tmpDir: root
  }), 'SHOEBOX_VERIFY_FAILED', 'the check fails the pack')
  t.match(err?.message, /upload src-[^ ]*-000001\.shoebox: stored 7 bytes/, 'naming the archive')
  t.match(err?.message, /; 1 archive uploaded to s3:\/\/test-bucket\/checked before it stays there$/, 'only the archive before it counted')
})

t.test('pack and unpack: an aborted signal stops them before anything is done', async (t) => {
  const root = tempDir(t)
  const src = tree(root, 2)
  const reason = new ShoeboxError('SHOEBOX_ABORTED', 'interrupted by SIGINT')
  const packErr = await expectCode(t, pack(src, { to: path.join(root, 'store'), signal: AbortSignal.abort(reason) }), 'SHOEBOX_ABORTED', 'pack')
  t.equal(packErr?.message, 'interrupted by SIGINT', "the signal's own reason")
  t.notOk(fs.existsSync(path.join(root, 'store')), 'no store made')
  const out = path.join(root, 'out')
  const unpackErr = await expectCode(t, unpack(path.join(src, '*'), { out, signal: AbortSignal.abort() }), 'SHOEBOX_ABORTED', 'unpack')
  t.equal(unpackErr?.message, 'aborted')
})

t.test('unpack: an abort mid-run restores no new file and leaves no temporary file', async (t) => {
  const root = tempDir(t)
  const src = tree(root, 20)
  const store = path.join(root, 'store')
  await pack(src, { to: store, rollSize: 1 })
  const out = path.join(root, 'out')
  const controller = new AbortController()
  const err = await expectCode(t, unpack(path.join(store, '*.shoebox'), {
    out,
    signal: controller.signal,
    onFile: () => { controller.abort() }
  }), 'SHOEBOX_ABORTED', 'unpack')
  const names = fs.readdirSync(out)
  t.ok(names.length >= 1 && names.length < 20, `some files restored, not all (${names.length})`)
  t.same(names.filter((n) => n.startsWith('.')), [], 'no temporary file')
  t.match(err?.message, new RegExp(`^aborted; ${names.length} files? restored before it stays? in `))
})
