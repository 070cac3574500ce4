/**
 * One process a directory (dir-lock.ts): the event store's serve.pid and
 * the spill's .ship.pid. Two processes started together on a directory
 * whose lock a crashed process left: exactly one takes it. Read, check and
 * overwrite let both take it in 11 of 30 pairs on an idle machine; the race
 * is not forced, so on a loaded one the old code failed fewer rounds (1 to 2
 * of 15-20 at a load of 9), though it failed each run tried.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { lockDir, LOCK_FILE } from '../../lib/events/store/dir-lock.js'
import { processStart } from '../../lib/process-start.js'
import { tempDir } from '../temp-dir.js'
import { transpileTree } from '../transpile.js'

const child = transpileTree(new URL('./fixtures/lock-child.ts', import.meta.url).pathname, tempDir(t, 'shoebox-lock-child-'))

/** Two processes try to lock `dir` at `at`; each holds what it got until both have answered. */
async function tryLockTwice (dir: string, at: number): Promise<string[]> {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const procs = [0, 1].map(() => spawn(process.execPath, [child, dir, String(at)], { stdio: ['ignore', 'pipe', 'inherit'], env }))
  const outs = await Promise.all(procs.map(async (proc) => await new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s
      if (out.endsWith('\n')) resolve(out.trim())
    })
    proc.on('exit', () => { reject(new Error(`lock child exited: ${out}`)) })
  })))
  await Promise.all(procs.map(async (proc) => {
    const exited = once(proc, 'exit')
    proc.kill('SIGKILL')
    await exited
  }))
  return outs
}

/** A pid no process has: past the largest a Linux pid can be. */
const DEAD_PID = 4_194_305

t.test('two processes at once on a directory with a stale lock: one takes it, the other is refused naming it', async (t) => {
  const rounds = 15
  let both = 0
  for (let round = 0; round < rounds; round++) {
    const dir = tempDir(t, 'shoebox-lock-')
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${DEAD_PID}\n`)
    const at = Date.now() + 1000
    const outs = await tryLockTwice(dir, at)
    const got = outs.filter((o) => o === 'got').length
    if (got === 2) both++
    t.equal(got, 1, `round ${round}: one took it (${outs.join('; ')})`)
    t.ok(outs.some((o) => /^refused event store .* is in use by process \d+/.test(o)), 'the other was refused')
    t.same(fs.readdirSync(dir), [LOCK_FILE], 'nothing beside the lock (the winner exited holding it)')
  }
  t.equal(both, 0)
})

t.test('a stale lock (the process gone) is taken over, a live one refused; the release removes only its own lock', async (t) => {
  const dir = tempDir(t, 'shoebox-lock-')
  const file = path.join(dir, LOCK_FILE)
  fs.writeFileSync(file, `${DEAD_PID}\n`)
  const release = await lockDir(dir)
  t.equal(fs.readFileSync(file, 'utf8'), `${process.pid} ${processStart(process.pid)}\n`, 'its pid and when it started')
  t.same(fs.readdirSync(dir), [LOCK_FILE], 'nothing beside the lock')
  await release()
  t.same(fs.readdirSync(dir), [])
  fs.writeFileSync(file, `${process.ppid}\n`)
  await t.rejects(lockDir(dir), { code: 'SHOEBOX_IO', message: new RegExp(`is in use by process ${process.ppid}`) })
  t.equal(fs.readFileSync(file, 'utf8'), `${process.ppid}\n`, 'the live lock is untouched')
  t.same(fs.readdirSync(dir), [LOCK_FILE], 'nothing left beside it')
  await release()
  t.equal(fs.readFileSync(file, 'utf8'), `${process.ppid}\n`, 'a release after another took the lock leaves it')
})

t.test('a lock whose pid another process has now (it started after the holder) is taken over; one naming how that process started, refused', async (t) => {
  // serve killed, and its pid reused (a reboot, a kill long ago): serve.pid named a live process for good, and
  // every start was refused until someone removed the file.
  const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  t.teardown(() => { sleeper.kill('SIGKILL') })
  const pid = sleeper.pid as number
  // Linux's /proc (the tests run there): elsewhere a process's start is unknown, and a live pid holds the lock.
  const start = processStart(pid) as string
  t.match(start, /^[0-9a-f-]+:\d+$/, 'the boot and the start of a process')
  const dir = tempDir(t, 'shoebox-lock-')
  const file = path.join(dir, LOCK_FILE)
  fs.writeFileSync(file, `${pid} ${start.split(':')[0]}:1\n`)
  const release = await lockDir(dir)
  t.equal(fs.readFileSync(file, 'utf8'), `${process.pid} ${processStart(process.pid)}\n`, 'taken: the holder that recorded another start is gone')
  await release()
  fs.writeFileSync(file, `${pid} ${start}\n`)
  await t.rejects(lockDir(dir), { code: 'SHOEBOX_IO', message: new RegExp(`is in use by process ${pid}`) }, 'its own holder, live: refused')
  t.equal(fs.readFileSync(file, 'utf8'), `${pid} ${start}\n`, 'and left alone')
  fs.writeFileSync(file, `${pid}\n`)
  await t.rejects(lockDir(dir), { code: 'SHOEBOX_IO' }, 'a lock that says no start (an earlier version\'s): its live pid holds it, as before')
})
