/**
 * A pid comes back: after a reboot or a long uptime an unrelated process (a
 * shell, a sidecar, another container's init) gets the pid of a writer that
 * was killed. Every name or small file that says "a live writer owns this"
 * also records when that writer started (roll/names.ts, process-start.ts),
 * so such a file is recovered or removed; with the pid alone (as every
 * version before wrote) it was taken for a live writer's for good.
 *
 * The unrelated process is a `sleep`, its pid put where a killed writer's
 * was; the start left is one the sleep does not have (this test process's,
 * as a killed writer's would be). A live writer's files, and a running
 * pid's in a name without a start (older versions), are left alone.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Spill } from '../lib/events/ship-spill.js'
import { encodeRecords } from '../lib/index.js'
import { metaPaths } from '../lib/meta/config.js'
import { removeStaleTemporaries } from '../lib/meta/history-writer.js'
import { acquirePublishLock } from '../lib/meta/publish-lock.js'
import { pullMetadir } from '../lib/meta/sync.js'
import { pack } from '../lib/pack/pack.js'
import { unpack } from '../lib/pack/unpack.js'
import { processStart } from '../lib/process-start.js'
import { hostName, tempName } from '../lib/roll/names.js'
import { recoverDirectory, type SkippedTemp } from '../lib/roll/recover.js'
import { SealedUploader } from '../lib/roll/uploader.js'
import { FileStore } from '../lib/store/file-store.js'
import { startCli } from './fixtures-roll/cli-child.js'
import { cliBinary, runCli } from './fixtures-s3/cli-build.js'
import { tempDir } from './temp-dir.js'

const HEX12 = '0123456789ab'

/** processStart() as a name holds it: `<ticks>-<the boot id's first 8 hex digits>` (README, "Guarantees"). */
function inName (start: string | undefined): string {
  if (start === undefined) throw new Error('no /proc here: a start cannot be read')
  const [boot, ticks] = start.split(':')
  return `${ticks}-${boot.replace(/-/g, '').slice(0, 8)}`
}

/** A running process that is no writer of ours: a `sleep`, ended at the test's end. */
async function unrelatedProcess (t: Test): Promise<number> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' })
  t.teardown(() => { child.kill('SIGKILL') })
  const pid = child.pid as number
  // Exec'd (its name is sleep's): its start is the one it keeps.
  while (!fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes('(sleep)')) await sleep(5)
  return pid
}

/** What a killed writer's name holds once `pid` is an unrelated process's: that pid, and the writer's own start (this process's). */
function reusedWriter (pid: number): string {
  return `${pid}-${inName(processStart(process.pid))}`
}

/** The writer field of the live process `pid` itself: its pid and its start. */
function liveWriter (pid: number): string {
  return `${pid}-${inName(processStart(pid))}`
}

t.test('recovery: a killed writer\'s file whose pid another process now has is recovered; that process\'s own is not', async (t) => {
  const other = await unrelatedProcess(t)
  const dir = tempDir(t)
  const host = hostName()
  const bytes = encodeRecords([{ payload: 'kept' }])
  const reused = path.join(dir, tempName('reused.shoebox', host, reusedWriter(other)))
  const live = path.join(dir, tempName('live.shoebox', host, liveWriter(other)))
  // Written by a version before the start joined the name: the pid alone, and it is running: left, as before.
  const older = path.join(dir, tempName('older.shoebox', host, other))
  for (const file of [reused, live, older]) fs.writeFileSync(file, bytes)
  const skipped: SkippedTemp[] = []
  const recovered = await recoverDirectory(dir, { onSkip: (s) => { skipped.push(s) } })
  t.same(recovered.map((r) => r.path), [path.join(dir, 'reused.shoebox')], 'the reused pid\'s file is sealed')
  t.same(skipped.map((s) => [s.temp, s.reason]), [
    [live, `pid ${other} is still writing it`],
    [older, `pid ${other} is still writing it`]
  ], 'the running process\'s own (its start) and the pid-only name are left')
})

t.test('shoebox write SIGKILLed, its pid taken by another process: shoebox recover seals its file', async (t) => {
  const other = await unrelatedProcess(t)
  const dir = tempDir(t)
  const writer = startCli(t, cliBinary(), ['write', dir, '--template', 'a-{seq}.shoebox', '--flush-interval', '10ms'])
  writer.child.stdin.write('{"n":1}\n{"n":2}\n')
  const temp = (): string | undefined => fs.readdirSync(dir).find((n) => n.endsWith('.part'))
  while (temp() === undefined || fs.statSync(path.join(dir, temp() as string)).size === 0) await sleep(10)
  writer.child.kill('SIGKILL')
  await writer.done
  const left = temp() as string
  t.match(left, `~${hostName()}~${writer.pid}`, 'named with its host and pid')
  // The pid comes back: the writer's name, with the sleep's pid where its own was.
  const moved = left.replace(`~${writer.pid}`, `~${other}`)
  fs.renameSync(path.join(dir, left), path.join(dir, moved))
  const r = await runCli(cliBinary(), ['recover', dir])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout.toString(), `recovered ${path.join(dir, moved)} -> ${path.join(dir, 'a-000000.shoebox')}: 2 records kept`)
  t.same(fs.readdirSync(dir), ['a-000000.shoebox'])
})

t.test('a live writer\'s temporary file is left alone by a concurrent shoebox recover', async (t) => {
  const dir = tempDir(t)
  const writer = startCli(t, cliBinary(), ['write', dir, '--template', 'a-{seq}.shoebox', '--flush-interval', '10ms'])
  writer.child.stdin.write('{"n":1}\n')
  const temp = (): string | undefined => fs.readdirSync(dir).find((n) => n.endsWith('.part'))
  while (temp() === undefined || fs.statSync(path.join(dir, temp() as string)).size === 0) await sleep(10)
  const live = path.join(dir, temp() as string)
  t.match(path.basename(live), `~${hostName()}~${liveWriter(writer.pid)}.part`, 'named with its pid and start')
  const r = await runCli(cliBinary(), ['recover', dir])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout.toString(), `skipped ${live}: pid ${writer.pid} is still writing it\nnothing to recover\n`)
  t.ok(fs.existsSync(live), 'its file stays')
  writer.child.stdin.end('{"n":2}\n')
  const done = await writer.done
  t.equal(done.code, 0, 'the writer ends well')
  const read = await runCli(cliBinary(), ['read', path.join(dir, '*'), '--payload-only'])
  t.equal(read.stdout.toString(), '{"n":1}\n{"n":2}\n', 'the writer sealed every record')
})

t.test('ship\'s spill: a killed run\'s spill file whose pid another process has is replayed', async (t) => {
  const other = await unrelatedProcess(t)
  const dir = tempDir(t)
  const name = 'spill-1-0-1-000000.shoebox'
  fs.writeFileSync(path.join(dir, tempName(name, hostName(), reusedWriter(other))), encodeRecords([{ payload: 'event' }]))
  const spill = new Spill({ dir })
  await spill.open()
  t.ok(spill.active, 'its events wait for replay')
  await spill.close()
  t.ok(fs.existsSync(path.join(dir, name)), 'sealed')
})

t.test('an upload marker of a killed uploader whose pid another process has is aborted, and the file uploaded', async (t) => {
  const other = await unrelatedProcess(t)
  const dir = tempDir(t)
  const to = tempDir(t)
  const name = 'a.shoebox'
  fs.writeFileSync(path.join(dir, name), encodeRecords([{ payload: 'a' }]))
  // A directory store's upload id is its temporary file's tag: the killed put's file, beside the key.
  const tag = `${hostName()}~${reusedWriter(other)}~${HEX12}`
  const storeTemp = path.join(to, `.${name}~${tag}.shoebox-tmp`)
  fs.writeFileSync(storeTemp, 'half')
  fs.writeFileSync(path.join(dir, `.${name}.uploading`), JSON.stringify({ key: name, uploadId: tag, host: hostName(), pid: other, start: processStart(process.pid) }))
  const store = new FileStore(to)
  t.teardown(() => store.close())
  const uploader = new SealedUploader(dir, store)
  await uploader.resume()
  t.equal(await uploader.drain(), undefined)
  t.same(fs.readFileSync(path.join(to, name)), fs.readFileSync(path.join(dir, name)), 'uploaded')
  t.notOk(fs.existsSync(storeTemp), 'the killed put\'s temporary file is removed (its upload aborted)')
  t.notOk(fs.existsSync(path.join(dir, `.${name}.uploading`)), 'its marker is gone')
})

t.test('a directory store\'s writer: a killed put\'s temporary file whose pid another process has is removed', async (t) => {
  const other = await unrelatedProcess(t)
  const root = tempDir(t)
  fs.mkdirSync(path.join(root, 'd'))
  const reused = `.k~${hostName()}~${reusedWriter(other)}~${HEX12}.shoebox-tmp`
  const live = `.k~${hostName()}~${liveWriter(other)}~${HEX12}.shoebox-tmp`
  const older = `.k~${hostName()}~${other}~${HEX12}.shoebox-tmp`
  for (const n of [reused, live, older]) fs.writeFileSync(path.join(root, 'd', n), 'half')
  const store = new FileStore(root)
  t.teardown(() => store.close())
  await store.put('d/new', 'bytes')
  t.same(fs.readdirSync(path.join(root, 'd')).filter((n) => n.endsWith('.shoebox-tmp')).sort(), [live, older].sort())
})

t.test('unpack: a killed unpack\'s temporary file whose pid another process has is removed', async (t) => {
  const other = await unrelatedProcess(t)
  const root = tempDir(t)
  const src = path.join(root, 'src')
  fs.mkdirSync(src)
  fs.writeFileSync(path.join(src, 'f'), 'contents')
  const store = path.join(root, 'store')
  await pack(src, { to: store })
  const out = path.join(root, 'out')
  fs.mkdirSync(out)
  const reused = `.shoebox-unpack-${hostName()}~${reusedWriter(other)}~${HEX12}abcd`
  const live = `.shoebox-unpack-${hostName()}~${liveWriter(other)}~${HEX12}abcd`
  const older = `.shoebox-unpack-${hostName()}~${other}~${HEX12}abcd`
  for (const n of [reused, live, older]) fs.writeFileSync(path.join(out, n), 'half')
  await unpack(path.join(store, '*.shoebox'), { out })
  t.same(fs.readdirSync(out).filter((n) => n.startsWith('.')).sort(), [live, older].sort())
  t.equal(fs.readFileSync(path.join(out, 'f'), 'utf8'), 'contents')
})

t.test('pack: a killed pack\'s staging directory whose pid another process has is removed', async (t) => {
  const other = await unrelatedProcess(t)
  const root = tempDir(t)
  const src = path.join(root, 'src')
  fs.mkdirSync(src)
  fs.writeFileSync(path.join(src, 'f'), 'contents')
  const tmp = path.join(root, 'tmp')
  fs.mkdirSync(tmp)
  const reused = `shoebox-pack-${hostName()}~${reusedWriter(other)}~Ab12Cd`
  const live = `shoebox-pack-${hostName()}~${liveWriter(other)}~Ab12Cd`
  const older = `shoebox-pack-${hostName()}~${other}~Ab12Cd`
  for (const n of [reused, live, older]) fs.mkdirSync(path.join(tmp, n))
  await pack(src, { to: path.join(root, 'store'), tmpDir: tmp })
  t.same(fs.readdirSync(tmp).sort(), [live, older].sort())
})

t.test('meta pull: a killed pull\'s download whose pid another process has is removed', async (t) => {
  const other = await unrelatedProcess(t)
  const base = t.testdir({ _mmmeta: { 'config.yml': 'metadata:\n  unique: content_hash\n', db: { '2026-11-22T12:17:55.295840.append': 'content_hash,title,__mmmeta_keys\r\na,x,\r\n' } } })
  const consumer = tempDir(t)
  const db = path.join(consumer, '_mmmeta', 'db')
  fs.mkdirSync(db, { recursive: true })
  const history = '.2026-01-01T00:00:00.000000.append'
  const reused = `${history}~${hostName()}~${reusedWriter(other)}~${HEX12}.tmp`
  const live = `${history}~${hostName()}~${liveWriter(other)}~${HEX12}.tmp`
  const older = `${history}~${hostName()}~${other}~${HEX12}.tmp`
  for (const n of [reused, live, older]) fs.writeFileSync(path.join(db, n), 'half')
  await pullMetadir(consumer, `file://${base}`)
  t.same(fs.readdirSync(db).filter((n) => n.startsWith('.')).sort(), [live, older].sort())
})

t.test('meta publisher: a killed waiter\'s lock temporary whose pid another process has is removed', async (t) => {
  const other = await unrelatedProcess(t)
  const base = tempDir(t)
  const dir = metaPaths(base).metadir
  fs.mkdirSync(metaPaths(base).db, { recursive: true })
  const host = os.hostname()
  const plant = (token: string, start: string | undefined): string => {
    const name = `.publish.lock.${other}.${token}.tmp`
    fs.writeFileSync(path.join(dir, name), `${other} ${host} ${token}${start === undefined ? '' : ` ${start}`}\n`)
    return name
  }
  plant('0123456789abcdef', processStart(process.pid))
  const kept = [plant('1123456789abcdef', processStart(other)), plant('2123456789abcdef', undefined)].sort()
  const lock = await acquirePublishLock(base)
  t.teardown(() => lock.release())
  await removeStaleTemporaries(base)
  t.same(fs.readdirSync(dir).filter((n) => n.startsWith('.publish.lock.') && n.endsWith('.tmp')).sort(), kept)
})
