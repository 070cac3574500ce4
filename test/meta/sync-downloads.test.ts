/**
 * pullMetadir()'s sweep of the history downloads killed pulls left in db/
 * (`.NAME~<host>~<pid>~<hex>.tmp`): a pid comes back (a container's command
 * is pid 1 on every run), so one named with this process's own pid is a
 * dead run's unless a pull of this process is writing it. The pull killed
 * as a child process is in sync.test.ts.
 */
import fs from 'node:fs'
import path from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { pullMetadir } from '../../lib/meta/sync.js'
import { hostName, writerTag } from '../../lib/roll/names.js'
import { FileStore } from '../../lib/store/file-store.js'
import { tempDir } from '../temp-dir.js'
import type { GetOptions } from '../../lib/store/store.js'

const HISTORY = '2026-11-22T12:17:55.295840.append'
const APPEND = 'content_hash,title,__mmmeta_keys\r\na,x,\r\n'

function publisher (t: Test): string {
  return t.testdir({ _mmmeta: { 'config.yml': 'metadata:\n  unique: content_hash\n', db: { [HISTORY]: APPEND } } })
}

const temps = (db: string): string[] => fs.readdirSync(db).filter((n) => n.startsWith('.')).sort()

t.test('a download named with this process\'s pid that no pull of it writes is a dead run\'s: removed', async (t) => {
  const base = publisher(t)
  const consumer = tempDir(t)
  const db = path.join(consumer, '_mmmeta', 'db')
  fs.mkdirSync(db, { recursive: true })
  const host = hostName()
  // What a killed earlier run under this pid (pid 1 in a container, run again) left, named now and as earlier versions did.
  const reused = `.2026-01-01T00:00:00.000000.append~${host}~${process.pid}~0123456789ab.tmp`
  const reusedPidOnly = `.2026-01-02T00:00:00.000000.append.${process.pid}.0123456789ab.tmp`
  // The test runner's: alive, so a live pull's.
  const live = `.2026-01-03T00:00:00.000000.append~${host}~${process.ppid}~0123456789ab.tmp`
  const livePidOnly = `.2026-01-04T00:00:00.000000.append.${process.ppid}.0123456789ab.tmp`
  // A host whose name ends as this one's does: not this host.
  const otherHost = `.2026-01-05T00:00:00.000000.append~x.${host}~${process.pid}~0123456789ab.tmp`
  // The oldest name says no process.
  const older = '.2026-01-06T00:00:00.000000.append.0123456789ab.tmp'
  for (const name of [reused, reusedPidOnly, live, livePidOnly, otherHost, older]) fs.writeFileSync(path.join(db, name), 'half')

  const r = await pullMetadir(consumer, `file://${base}`)
  t.equal(r.copied.filter((f) => f.kind === 'history').length, 1)
  t.same(temps(db), [live, livePidOnly, otherHost, older].sort(), 'the reused pid\'s are removed; a live pid\'s, another host\'s and the oldest name stay')
  t.equal(fs.readFileSync(path.join(db, HISTORY), 'utf8'), APPEND)
})

/** A file store whose history downloads wait until `release()`. */
class HeldStore extends FileStore {
  held = true
  #waiting: Array<() => void> = []
  override get (key: string, options?: GetOptions): Readable {
    if (!this.held || !key.includes('/db/')) return super.get(key, options)
    const out = new PassThrough()
    this.#waiting.push(() => { super.get(key, options).pipe(out) })
    return out
  }

  release (): void {
    this.held = false
    for (const go of this.#waiting.splice(0)) go()
  }
}

t.test('a pull of this process keeps its download while another pull of it sweeps the same db/', async (t) => {
  const base = publisher(t)
  const consumer = tempDir(t)
  const db = path.join(consumer, '_mmmeta', 'db')
  const held = new HeldStore(base)
  t.teardown(() => held.close())
  const first = pullMetadir(consumer, held)
  let settled = false
  first.then(() => { settled = true }, () => { settled = true })
  while (!settled && (!fs.existsSync(db) || temps(db).length === 0)) await new Promise((resolve) => setTimeout(resolve, 5))
  t.notOk(settled, 'the first pull waits for its download')
  const downloading = temps(db)
  t.match(downloading[0], `~${hostName()}~${writerTag()}~`, 'the first pull is downloading, under this process\'s pid and start')
  // Another spelling of the same metadir: the download is still known for the first pull's.
  await pullMetadir(path.relative(process.cwd(), consumer), `file://${base}`)
  t.same(temps(db), downloading, 'the second pull\'s sweep left the first\'s download')
  held.release()
  const r = await first
  t.equal(r.copied.filter((f) => f.kind === 'history').length, 1, 'and the first pull finishes')
  t.same(temps(db), [])
  t.equal(fs.readFileSync(path.join(db, HISTORY), 'utf8'), APPEND)
})
