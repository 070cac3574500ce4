/**
 * Async callbacks of the metadir API: what one returns is awaited (or, from
 * a parse loop, settled before the operation returns), and one that rejects
 * fails the operation with its own error, keeping what the operation had
 * made durable before it. It was an unhandled rejection, which ends the
 * process, while the operation resolved as if nothing happened. A callback
 * that throws synchronously fails the operation as it did.
 */
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { listHistoryFiles, loadHistory, type HistoryProblem } from '../../lib/meta/history.js'
import { metadir } from '../../lib/meta/metadir.js'
import { acquirePublishLock, publishLockPath } from '../../lib/meta/publish-lock.js'
import { squashHistory } from '../../lib/meta/squash.js'
import { pullMetadir, pushMetadir } from '../../lib/meta/sync.js'
import { metaPaths } from '../../lib/meta/config.js'
import { withoutUnhandled } from '../helpers.js'
import { tempDir } from '../temp-dir.js'

const config = { unique: 'content_hash' }
// Rows 3 and 5 cannot apply (no unique value; a cell too many).
const HISTORY = 'content_hash,title\r\na,1\r\n,2\r\nb,Grüße\r\nc,3,extra\r\nd,4\r\n'
const APPEND = '2026-11-22T12:17:55.295840.append'

function base (t: Test): string {
  return t.testdir({ _mmmeta: { 'config.yml': 'metadata:\n  unique: content_hash\n', db: { [APPEND]: HISTORY } } })
}

function scratchDir (t: Test): string {
  return tempDir(t, 'shoebox-meta-callbacks-')
}

const later = async (): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, 5)) }

t.test('loadHistory: an async onProblem is awaited; one that rejects fails the replay with its error', async (t) => {
  const dir = base(t)
  await withoutUnhandled(t, async () => {
    const seen: number[] = []
    const history = await loadHistory(dir, config, { onProblem: async (p: HistoryProblem) => { await later(); seen.push(p.line) } })
    t.same(seen, [3, 5], 'every problem told, and settled before the replay returned')
    t.equal(history.size, 3)

    const boom = new Error('onProblem failed')
    const err = await loadHistory(dir, config, { onProblem: async () => { await later(); throw boom } }).catch((e: unknown) => e)
    t.equal(err, boom, "the callback's own error")
  })
})

t.test('loadHistory: a rejection of the problem in the last (end of file) batch still fails it; a sync throw fails it as before', async (t) => {
  // no CRLF after the last row: it is parsed only at the end of the input
  const dir = t.testdir({ _mmmeta: { db: { [APPEND]: 'content_hash,title\r\na,1\r\n,last' } } })
  await withoutUnhandled(t, async () => {
    const boom = new Error('late')
    t.equal(await loadHistory(dir, config, { onProblem: async () => { throw boom } }).catch((e: unknown) => e), boom)
    const sync = await loadHistory(dir, config, { onProblem: () => { throw new Error('sync throw') } }).catch((e: unknown) => e)
    t.match(sync, { message: /sync throw/ }, 'a synchronous throw still fails the replay')
  })
})

t.test('Metadir.update: onProblem or a progress report that rejects before the commit fails the update and changes nothing', async (t) => {
  const md = await metadir(base(t))
  t.teardown(() => { md.close() })
  await withoutUnhandled(t, async () => {
    const boom = new Error('onProblem failed')
    t.equal(await md.update({ onProblem: async () => { throw boom } }).catch((e: unknown) => e), boom)

    const stop = new Error('onProgress failed')
    const reports: number[] = []
    const failed = md.update({ progressEvery: 1, onProgress: async (n) => { reports.push(n); if (n === 1) throw stop } })
    t.equal(await failed.catch((e: unknown) => e), stop)
    t.ok(reports.length < 4, 'the merge stopped at a report after the rejection')
    t.equal((await md.update()).added, 3, 'both rolled back: every row is still to add')
  })
})

t.test('Metadir.update: the last report (after the commit) rejecting fails the update, whose rows stay', async (t) => {
  const md = await metadir(base(t))
  t.teardown(() => { md.close() })
  await withoutUnhandled(t, async () => {
    const late = new Error('last report failed')
    const reports: number[] = []
    const err = await md.update({ progressEvery: 1000, onProgress: async (n) => { reports.push(n); await later(); throw late } }).catch((e: unknown) => e)
    t.equal(err, late)
    t.same(reports, [3], 'only the end report')
    t.equal(md.files.count(), 3, 'committed before it')
    // async reports that resolve are awaited and change nothing
    const again = await md.update({ progressEvery: 1, onProgress: async () => { await later() } })
    t.equal(again.added, 0)
  })
})

t.test('squashHistory: onProblem that rejects fails the squash; nothing written, the lock released', async (t) => {
  const dir = base(t)
  await withoutUnhandled(t, async () => {
    const boom = new Error('onProblem failed')
    t.equal(await squashHistory(dir, { onProblem: async () => { throw boom } }).catch((e: unknown) => e), boom)
    t.same((await listHistoryFiles(dir)).map((f) => f.name), [APPEND], 'no snapshot')
    t.notOk(fs.existsSync(publishLockPath(dir)), 'lock released')
  })
})

t.test('push/pull: onFile that rejects fails the sync after the file it was told of; the files before it stay', async (t) => {
  const dir = base(t)
  const remote = scratchDir(t)
  const url = `file://${remote}`
  await withoutUnhandled(t, async () => {
    const boom = new Error('onFile failed')
    const told: string[] = []
    const err = await pushMetadir(dir, url, { onFile: async (f) => { told.push(f.key); await later(); throw boom } }).catch((e: unknown) => e)
    t.equal(err, boom)
    t.same(told, [`_mmmeta/db/${APPEND}`], 'nothing copied after the rejection')
    t.equal(fs.readFileSync(path.join(remote, '_mmmeta', 'db', APPEND), 'utf8'), HISTORY, 'the file it was told of is there')
    t.notOk(fs.existsSync(path.join(remote, '_mmmeta', 'config.yml')))

    await pushMetadir(dir, url)
    const consumer = scratchDir(t)
    const pulled: string[] = []
    const pullErr = await pullMetadir(consumer, url, { onFile: async (f) => { pulled.push(f.key); throw boom } }).catch((e: unknown) => e)
    t.equal(pullErr, boom)
    t.equal(pulled.length, 1)
    t.equal(fs.readFileSync(path.join(consumer, ...pulled[0].split('/')), 'utf8'), HISTORY, 'the pulled file stays')
  })
})

t.test('acquirePublishLock: onWait that rejects fails the call; the holder keeps the lock', async (t) => {
  const dir = base(t)
  const held = await acquirePublishLock(dir)
  t.teardown(() => held.release())
  await withoutUnhandled(t, async () => {
    const boom = new Error('onWait failed')
    t.equal(await acquirePublishLock(dir, { wait: 10_000, onWait: async () => { throw boom } }).catch((e: unknown) => e), boom)
    t.same(fs.readdirSync(metaPaths(dir).metadir).filter((n) => n.endsWith('.tmp')), [], 'no temporary left')
    t.ok(fs.existsSync(publishLockPath(dir)), 'still held')
  })
})
