/**
 * Publishers as real processes (issue 11): two at once on one metadir never
 * interleave (the second diffs against the first's result), a publisher
 * waits for a held lock, and a publisher killed while writing leaves no half
 * file in db/, only a stale lock and temporaries (the half diff, the scratch
 * db) the next run removes; one killed while it waits for the lock leaves
 * its lock's temporary, which the next run removes too.
 */
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { ROOT, transpileTree } from '../transpile.js'
import { metaPaths } from '../../lib/meta/config.js'
import { listHistoryFiles, loadHistory } from '../../lib/meta/history.js'
import { acquirePublishLock, publishLockPath } from '../../lib/meta/publish-lock.js'
import type { MetaIngestResult } from '../../lib/meta/ingest.js'

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-meta-proc-'))
t.teardown(() => { fs.rmSync(work, { recursive: true, force: true }) })
const publisher = transpileTree(path.join(ROOT, 'test/fixtures-meta/publisher.ts'), path.join(work, 'js'))

function metadir (t: Test): string {
  const dir = fs.mkdtempSync(path.join(work, 'm-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  return dir
}

function start (base: string, prefix: string, count: number, value: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [publisher, base, prefix, String(count), value], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
}

async function finish (child: ChildProcess): Promise<{ code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const [code, signal] = await once(child, 'close') as [number | null, NodeJS.Signals | null]
  return { code, signal, stdout, stderr }
}

function resultOf (stdout: string): MetaIngestResult {
  return JSON.parse(stdout.trim().split('\n').pop() as string) as MetaIngestResult
}

t.test('two publishers at once: both complete, one after the other', async (t) => {
  const base = metadir(t)
  // 300 each, 100 uids in common (p0000200..p0000299 and the second's first 100)
  const a = finish(start(base, 'p', 300, 'A'))
  const b = finish(start(base, 'p', 300, 'B'))
  const [ra, rb] = await Promise.all([a, b])
  t.equal(ra.code, 0, ra.stderr)
  t.equal(rb.code, 0, rb.stderr)
  const results = [resultOf(ra.stdout), resultOf(rb.stdout)]
  // whichever ran second saw the first's 300 rows: all its objects are updates (value differs)
  t.same(results.map((r) => r.added).sort(), [0, 300], 'the second publisher diffed against the first')
  t.same(results.map((r) => r.updated).sort(), [0, 300])
  const files = await listHistoryFiles(base)
  t.equal(files.length, 2)
  const history = await loadHistory(base, { unique: 'content_hash' })
  t.equal(history.size, 300)
  const second = results[0].added === 0 ? 'A' : 'B'
  t.equal(history.value('p0000123', 'value'), second, 'the later file wins')
})

t.test('a held lock is waited for', async (t) => {
  const base = metadir(t)
  fs.mkdirSync(metaPaths(base).db, { recursive: true })
  const lock = await acquirePublishLock(base)
  const child = start(base, 'w', 10, 'v')
  const done = finish(child)
  let sawWait = false
  await new Promise<void>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (!sawWait && d.toString().includes('waiting')) {
        sawWait = true
        resolve()
      }
    })
  })
  t.equal((await listHistoryFiles(base)).length, 0, 'nothing written while the lock is held')
  await lock.release()
  const r = await done
  t.equal(r.code, 0, r.stderr)
  t.equal(resultOf(r.stdout).added, 10)
})

t.test('a publisher killed while writing leaves no half file in db/', async (t) => {
  const base = metadir(t)
  fs.mkdirSync(metaPaths(base).db, { recursive: true })
  const child = start(base, 'k', 20000, 'v', { HANG_IN_WRITE: '1' })
  const done = finish(child)
  await new Promise<void>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('writing')) resolve() })
  })
  const temps = fs.readdirSync(metaPaths(base).metadir).filter((n) => n.endsWith('.tmp') && n.includes('.append.'))
  t.equal(temps.length, 1, 'a temporary, partly written')
  t.equal(fs.readdirSync(metaPaths(base).metadir).filter((n) => n.startsWith('.replay.') && n.endsWith('.tmp')).length, 1, 'and the scratch db of the replay')
  t.ok(fs.statSync(path.join(metaPaths(base).metadir, temps[0])).size > 0)
  child.kill('SIGKILL')
  const r = await done
  t.equal(r.signal, 'SIGKILL', 'killed mid-write')
  t.same(fs.readdirSync(metaPaths(base).db), [], 'no file in db/')
  t.ok(fs.existsSync(publishLockPath(base)), 'its lock is left behind')
  // the next publisher breaks the stale lock, removes the temporary, and writes whole
  const next = await finish(start(base, 'n', 5, 'v'))
  t.equal(next.code, 0, next.stderr)
  t.equal(resultOf(next.stdout).added, 5)
  t.same(fs.readdirSync(metaPaths(base).metadir).filter((n) => n.endsWith('.tmp') || n.includes('lock')), [], 'temporaries and the lock are gone')
  t.equal((await loadHistory(base, { unique: 'content_hash' })).size, 5)
})

t.test('a publisher killed while it waits for the lock: the next publisher removes the temporary of its lock', async (t) => {
  const base = metadir(t)
  fs.mkdirSync(metaPaths(base).db, { recursive: true })
  const lock = await acquirePublishLock(base)
  const child = start(base, 'w', 10, 'v')
  const done = finish(child)
  await new Promise<void>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('waiting')) resolve() })
  })
  const lockTemps = (): string[] => fs.readdirSync(metaPaths(base).metadir).filter((n) => n.startsWith('.publish.lock.') && n.endsWith('.tmp'))
  t.equal(lockTemps().length, 1, 'the waiting publisher holds its lock\'s temporary')
  child.kill('SIGKILL')
  t.equal((await done).signal, 'SIGKILL')
  t.equal(lockTemps().length, 1, 'the kill left it')
  await lock.release()
  // A live waiter's temporary is left alone while the next one publishes.
  const holder = await acquirePublishLock(base)
  const waiter = start(base, 'x', 3, 'v')
  const waited = finish(waiter)
  await new Promise<void>((resolve) => {
    waiter.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('waiting')) resolve() })
  })
  await holder.release()
  const next = await finish(start(base, 'n', 5, 'v'))
  t.equal(next.code, 0, next.stderr)
  const r = await waited
  t.equal(r.code, 0, r.stderr)
  t.same(lockTemps(), [], 'no temporary of a lock left')
  t.same(fs.readdirSync(metaPaths(base).metadir).filter((n) => n.includes('lock')), [])
  t.equal((await loadHistory(base, { unique: 'content_hash' })).size, 8)
})
