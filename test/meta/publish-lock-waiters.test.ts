/**
 * The publisher's sweep of the lock temporaries that publishers killed while
 * they waited left in _mmmeta/ (removeStaleTemporaries, run holding the
 * lock): each is judged by the `<pid> <host> <token>` it holds. A pid comes
 * back (a container's command is pid 1 on every run), so one holding this
 * process's own pid is a dead run's unless a wait of this process wrote it.
 * The waiter killed as a child process is in ingest-processes.test.ts.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { metaPaths } from '../../lib/meta/config.js'
import { removeStaleTemporaries } from '../../lib/meta/history-writer.js'
import { acquirePublishLock, publishLockPath } from '../../lib/meta/publish-lock.js'
import { processStart } from '../../lib/process-start.js'
import { tempDir } from '../temp-dir.js'

/** Above Linux's pid_max (2^22): never a running process. */
const DEAD_PID = 4_194_305
const TOKEN = '0123456789abcdef'

function metadir (t: Test): string {
  const base = tempDir(t)
  fs.mkdirSync(metaPaths(base).db, { recursive: true })
  return base
}

const waiterTemps = (base: string): string[] => fs.readdirSync(metaPaths(base).metadir).filter((n) => n.startsWith('.publish.lock.') && n.endsWith('.tmp')).sort()

t.test('a lock temporary holding this process\'s pid that no wait of it wrote is a dead run\'s: removed', async (t) => {
  const base = metadir(t)
  const dir = metaPaths(base).metadir
  const host = os.hostname()
  const plant = (name: string, content: string): string => {
    fs.writeFileSync(path.join(dir, name), content)
    return name
  }
  // What a killed earlier run under this pid (pid 1 in a container, run again) left, named now and as the first versions did.
  plant(`.publish.lock.${process.pid}.${TOKEN}.tmp`, `${process.pid} ${host} ${TOKEN}\n`)
  plant(`.publish.lock.${TOKEN.replace('0', 'f')}.tmp`, `${process.pid} ${host} ${TOKEN}\n`)
  plant(`.publish.lock.${DEAD_PID}.${TOKEN}.tmp`, `${DEAD_PID} ${host} ${TOKEN}\n`)
  const kept = [
    // The test runner's: alive, so a live waiter's (in either naming).
    plant(`.publish.lock.${process.ppid}.${TOKEN}.tmp`, `${process.ppid} ${host} ${TOKEN}\n`),
    plant(`.publish.lock.${TOKEN.replace('0', 'e')}.tmp`, `${process.ppid} ${host} ${TOKEN}\n`),
    // Another host's: its pid says nothing here.
    plant(`.publish.lock.${TOKEN.replace('0', 'd')}.tmp`, `${DEAD_PID} x.${host} ${TOKEN}\n`),
    // No whole holder (killed between creating and writing it): nothing to judge it by.
    plant(`.publish.lock.${DEAD_PID}.${TOKEN.replace('0', 'c')}.tmp`, '')
  ].sort()
  t.equal(waiterTemps(base).length, 7)
  const lock = await acquirePublishLock(base)
  t.teardown(() => lock.release())
  await removeStaleTemporaries(base)
  t.same(waiterTemps(base), kept, 'the reused pid\'s and the dead pid\'s are removed; a live pid\'s, another host\'s and a torn one stay')
})

t.test('a wait of this process keeps its lock temporary while the holder sweeps', async (t) => {
  const base = metadir(t)
  const holder = await acquirePublishLock(base)
  let waiting = (): void => {}
  const told = new Promise<void>((resolve) => { waiting = resolve })
  // Another spelling of the same metadir: the temporary is still known for the wait's.
  const waiter = acquirePublishLock(path.relative(process.cwd(), base), { wait: 60000, onWait: () => { waiting() } })
  await told
  const mine = waiterTemps(base)
  t.equal(mine.length, 1, 'the waiter holds its temporary')
  t.match(mine[0], `.publish.lock.${process.pid}.`)
  await removeStaleTemporaries(base)
  t.same(waiterTemps(base), mine, 'the holder\'s sweep left it')
  await holder.release()
  const lock = await waiter
  t.same(waiterTemps(base), [], 'the waiter took the lock and removed its temporary')
  t.ok(fs.existsSync(lock.path))
  await lock.release()
})

t.test('the wait for the lock is counted on the monotonic clock: a wall clock stepped back while waiting does not make it longer', async (t) => {
  const base = metadir(t)
  const holder = await acquirePublishLock(base)
  t.teardown(async () => { await holder.release() })
  const wallNow = Date.now
  t.teardown(() => { Date.now = wallNow })
  // Stepped back an hour once the wait has begun (its deadline taken).
  const waiter = acquirePublishLock(base, { wait: 300, onWait: () => { Date.now = () => wallNow() - 3_600_000 } })
  let held: NodeJS.Timeout | undefined
  const outcome = await Promise.race([
    waiter.then(() => 'took the lock', (err: Error) => err.message),
    new Promise<string>((resolve) => { held = setTimeout(() => { resolve('still waiting') }, 15_000) })
  ])
  clearTimeout(held)
  // On Date.now(), the 300 ms wait lasted until the wall clock came back to its deadline: an hour.
  t.match(outcome, /another publisher \(pid \d+ on .*\) holds the metadir; waited 300 ms/, 'given up after its wait')
})

t.test('a publisher lock whose pid another process has now (it started after the holder) is broken; its own live holder\'s is waited for', async (t) => {
  // A publisher killed, its pid reused (a reboot, a kill long ago): every generate waited 60 s and failed, for good.
  const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  t.teardown(() => { sleeper.kill('SIGKILL') })
  const pid = sleeper.pid as number
  // Linux's /proc (the tests run there): elsewhere a process's start is unknown, and a live pid holds the lock.
  const start = processStart(pid) as string
  t.match(start, /^[0-9a-f-]+:\d+$/, 'the boot and the start of a process')
  const base = metadir(t)
  const lock = publishLockPath(base)
  fs.writeFileSync(lock, `${pid} ${os.hostname()} ${TOKEN} ${start.split(':')[0]}:1\n`)
  const taken = await acquirePublishLock(base, { wait: 0 })
  t.match(fs.readFileSync(lock, 'utf8'), new RegExp(`^${process.pid} `), 'broken and taken')
  await taken.release()
  fs.writeFileSync(lock, `${pid} ${os.hostname()} ${TOKEN} ${start}\n`)
  await t.rejects(acquirePublishLock(base, { wait: 0 }), { code: 'SHOEBOX_META_LOCKED', message: new RegExp(`another publisher \\(pid ${pid} on `) }, 'its own holder, live')
  fs.writeFileSync(lock, `${pid} ${os.hostname()} ${TOKEN}\n`)
  await t.rejects(acquirePublishLock(base, { wait: 0 }), { code: 'SHOEBOX_META_LOCKED' }, 'a lock without a start (an earlier version\'s): its live pid holds it, as before')
  t.equal(fs.readFileSync(lock, 'utf8'), `${pid} ${os.hostname()} ${TOKEN}\n`, 'and left alone')
})
