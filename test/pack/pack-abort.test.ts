/**
 * pack() and unpack() given an AbortSignal (what the CLI's SIGINT/SIGTERM
 * use, test/cli/cli-interrupt.test.ts): an abort mid-run stops them as a
 * failure does, cleaning up (pack's staging directory, unpack's temporary
 * files), and rejects with SHOEBOX_ABORTED saying what was kept. A pack
 * SIGKILLed can clean up nothing: the next one removes what it left.
 */
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { ShoeboxError } from '../../lib/index.js'
import { cliHungAt, expectCode } from '../helpers.js'
import { pack } from '../../lib/pack/pack.js'
import { unpack } from '../../lib/pack/unpack.js'
import { tempDir } from '../temp-dir.js'
import { seen, startFaultProxy, type RequestInfo } from '../fault-proxy.js'
import { hostName } from '../../lib/roll/names.js'
import { cliBinary, runCli } from '../fixtures-s3/cli-build.js'
import { startS3 } from '../s3-server.js'

/** A tree of `n` files of 1 KiB each, packed one archive per file (roll size 1 byte). */
function tree (root: string, n: number): string {
  const src = path.join(root, 'src')
  fs.mkdirSync(src)
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(src, `f${String(i).padStart(2, '0')}`), Buffer.alloc(1024, i))
  return src
}

/** A tree of `n` files packed into root/store, one archive each, and root/out, made when `make` (unpack's target). */
async function packedTree (t: Test, n: number, make: boolean): Promise<{ src: string, store: string, out: string }> {
  const root = tempDir(t)
  const src = tree(root, n)
  const store = path.join(root, 'store')
  await pack(src, { to: store, rollSize: 1 })
  const out = path.join(root, 'out')
  if (make) fs.mkdirSync(out)
  return { src, store, out }
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
async function packAbortedInStall (t: Test, stalls: (r: RequestInfo) => boolean, abortOn: (r: RequestInfo) => boolean): Promise<{ proxy: Awaited<ReturnType<typeof startFaultProxy>>, s3: Awaited<ReturnType<typeof startS3>>, err: Error | undefined }> {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, [])
  t.teardown(() => proxy.close())
  const arrived = seen(proxy, abortOn)
  proxy.rules.push({ match: stalls, fault: { kind: 'latency', ms: 10 * 60_000 } })
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
  const { proxy, s3, err } = await packAbortedInStall(t, (r) => r.op === 'PutObject', (r) => r.op === 'PutObject')
  t.equal(proxy.count('HeadObject'), 1, 'no stat of the stopped upload (only the look-up of its key before it)')
  t.same(s3.keys(), [], 'nothing stored')
  t.match(err?.message, /; nothing was uploaded to s3:\/\//, 'and the message says so')
})

t.test('pack to a server that stalls the HEAD verifying an upload: an abort ends it at once', async (t) => {
  // The uploader's stop waited for that stat, as long as the server held it.
  // The second HEAD: the first looks the key up before the put (the uploader never puts over another file's object).
  const second = (): (r: RequestInfo) => boolean => {
    let heads = 0
    return (r) => r.op === 'HeadObject' && ++heads === 2
  }
  const { proxy, s3, err } = await packAbortedInStall(t, second(), second())
  t.equal(proxy.count('HeadObject'), 2, 'the stat not tried again')
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
  const { store, out } = await packedTree(t, 20, false)
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

t.test('pack: a pack SIGKILLed mid-upload leaves its staging directory; the next pack removes it and the upload it left', async (t) => {
  const root = tempDir(t)
  const src = path.join(root, 'src')
  fs.mkdirSync(src)
  // 12 MiB: past the 8 MiB part its archive's early upload opens a temporary file in the store.
  fs.writeFileSync(path.join(src, 'a'), randomBytes(12 * 1024 * 1024))
  fs.writeFileSync(path.join(src, 'zz-hang'), 'x')
  const tmp = path.join(root, 'tmp')
  fs.mkdirSync(tmp)
  const to = path.join(root, 'store')
  // A live pack's staging directory (this process's pid) is left alone.
  const live = path.join(tmp, `shoebox-pack-${hostName()}~${process.pid}~abcdef`)
  fs.mkdirSync(live)
  // The child's open of zz-hang never returns: it is killed with the first archive uploading.
  const child = await cliHungAt(t, ['pack', src, '--to', to, '--roll-size', '64MiB'], { call: 'open', path: /zz-hang$/ }, { env: { TMPDIR: tmp } })
  const storeTemps = (): string[] => (fs.existsSync(to) ? fs.readdirSync(to) : []).filter((n) => n.endsWith('.shoebox-tmp'))
  const staged = (): string[] => fs.readdirSync(tmp).filter((n) => n.startsWith('shoebox-pack-') && path.join(tmp, n) !== live)
  while (storeTemps().length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
  await child.kill()
  t.equal(staged().length, 1, 'the kill left its staging directory')
  t.equal(storeTemps().length, 1, 'and its upload\'s temporary file in the store')

  const small = path.join(root, 'small')
  fs.mkdirSync(small)
  fs.writeFileSync(path.join(small, 'b'), 'b')
  const r = await runCli(cliBinary(), ['pack', small, '--to', to], { env: { TMPDIR: tmp } })
  t.equal(r.code, 0, r.stderr)
  t.same(staged(), [], 'the dead pack\'s staging directory is removed')
  t.same(storeTemps(), [], 'so is the temporary file of its upload')
  t.ok(fs.existsSync(live), 'a live pack\'s is left')
  t.equal(fs.readdirSync(to).length, 1, 'the store holds the new archive only')
})

t.test('shoebox pack: SIGINT with records in the sink seals and uploads no last archive', async (t) => {
  // The sink was destroyed as a pipeline's is: it wrote out what it held (a and b) and sealed it into staging as
  // one more archive, and its uploader raced the staging directory's removal to ship it.
  const root = tempDir(t)
  const src = path.join(root, 'src')
  fs.mkdirSync(src)
  fs.writeFileSync(path.join(src, 'a'), Buffer.alloc(2048, 'a'))
  fs.writeFileSync(path.join(src, 'b'), 'b')
  fs.writeFileSync(path.join(src, 'zz-hang'), 'x')
  const tmp = path.join(root, 'tmp')
  fs.mkdirSync(tmp)
  const to = path.join(root, 'store')
  // The walk's open of zz-hang waits for the SIGINT (a and b are in the sink by then, no block of them written:
  // the default 64MiB roll size); an archive file created in staging after it (a .part) hangs for good.
  const child = await cliHungAt(t, ['pack', src, '--to', to], { call: 'open', path: /\/zz-hang$|\/shoebox-pack-[^/]*\/\.[^/]*\.part$/, releaseOn: 'SIGINT' }, { env: { TMPDIR: tmp } })
  const r = await child.signal('SIGINT')
  t.notOk(r.hungAgain, 'no archive file was created after the SIGINT')
  t.equal(r.code, 130, r.stderr)
  t.equal(r.stderr, `shoebox pack: interrupted by SIGINT; nothing was uploaded to ${to}\n`)
  t.same(fs.existsSync(to) ? fs.readdirSync(to) : [], [], 'the store holds nothing')
  t.same(fs.readdirSync(tmp).filter((n) => n.startsWith('shoebox-pack-')), [], 'the staging directory is removed')
})

t.test('unpack: an unpack SIGKILLed mid-write leaves its temporary files; the next unpack into that directory removes them (not a live one\'s)', async (t) => {
  const { src, store, out } = await packedTree(t, 4, true)
  // A live unpack's temporary file (this process's pid), and one of another host's: both left alone.
  const live = `.shoebox-unpack-${hostName()}~${process.pid}~0123456789abcdef`
  const otherHost = `.shoebox-unpack-${hostName()}x~999999999~0123456789abcdef`
  fs.writeFileSync(path.join(out, live), 'writing')
  fs.writeFileSync(path.join(out, otherHost), 'writing')
  // The child's open of a temporary file creates it, then never returns: it is killed with its files half written.
  const args = ['unpack', path.join(store, '*.shoebox'), '--out', out]
  const child = await cliHungAt(t, args, { call: 'open', path: /\/\.shoebox-unpack-[^/]*$/, after: true })
  await child.kill()
  const temps = (): string[] => fs.readdirSync(out).filter((n) => n.startsWith('.shoebox-unpack-') && n !== live && n !== otherHost)
  t.ok(temps().length >= 1, `the kill left its temporary files (${temps().length})`)
  t.match(temps()[0], new RegExp(`^\\.shoebox-unpack-${hostName().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}~${child.pid}-\\d+-[0-9a-f]{8}~[0-9a-f]{16}$`), 'named with its host, pid and start')

  const r = await runCli(cliBinary(), args)
  t.equal(r.code, 0, r.stderr)
  t.same(temps(), [], 'the next unpack removed them')
  t.ok(fs.existsSync(path.join(out, live)), 'a live unpack\'s is left')
  t.ok(fs.existsSync(path.join(out, otherHost)), 'so is another host\'s')
  for (const name of fs.readdirSync(src)) t.same(fs.readFileSync(path.join(out, name)), fs.readFileSync(path.join(src, name)), `${name} restored`)
})

t.test('unpack: a temporary file named with this process\'s pid that none of its writes holds is a dead run\'s (a pid that came back)', async (t) => {
  const { store, out } = await packedTree(t, 2, true)
  const reused = `.shoebox-unpack-${hostName()}~${process.pid}~0123456789abcdef`
  const live = `.shoebox-unpack-${hostName()}~${process.ppid}~0123456789abcdef`
  fs.writeFileSync(path.join(out, reused), 'half')
  fs.writeFileSync(path.join(out, live), 'writing')
  // Named the older way (no host, no pid): whose it is cannot be told, so the sweep leaves it (README).
  const older = '.shoebox-unpack-0123456789abcdef'
  fs.writeFileSync(path.join(out, older), 'an older unpack\'s')
  const summary = await unpack(path.join(store, '*.shoebox'), { out })
  t.equal(summary.files, 2)
  t.same(fs.readdirSync(out).filter((n) => n.startsWith('.')).sort(), [live, older].sort(), 'removed; the live process\'s stays, and the one named the older way')
})

t.test('pack: an abort before the walk is fed (the staging directory being set up) is a rejection, not an uncaught error', async (t) => {
  // abort() destroyed the walk with the reason before anything listened to its errors: an 'error' event nobody
  // handled, which ended the whole process (an ETL job aborting its pack on a deadline). The signal aborts as
  // pack() registers its listener, the one moment that is sure to fall in that window.
  const root = tempDir(t)
  const src = tree(root, 3)
  const staging = path.join(root, 'tmp')
  fs.mkdirSync(staging)
  const controller = new AbortController()
  const signal = controller.signal
  signal.addEventListener = (...args: Parameters<AbortSignal['addEventListener']>) => {
    AbortSignal.prototype.addEventListener.apply(signal, args)
    controller.abort()
  }
  const to = path.join(root, 'store')
  const err = await expectCode(t, pack(src, { to, tmpDir: staging, signal }), 'SHOEBOX_ABORTED', 'aborted')
  t.match(err?.message, /^aborted; nothing was uploaded to /)
  t.same(fs.readdirSync(staging), [], 'staging directory removed')
})
