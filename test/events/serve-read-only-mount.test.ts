/**
 * `shoebox serve --mode readonly --data DIR` where DIR is on a real read-only
 * mount (a snapshot, an NFS export, a `:ro` volume): the server runs in a
 * mount namespace of its own where DIR is bound read-only onto itself
 * (onReadOnlyMounts()). It failed to start there ("cannot lock
 * DIR/serve.pid: read-only file system"), though a readonly server writes
 * nothing it needs.
 */
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { tempDir } from '../temp-dir.js'
import { checkReachableByOthers, treeContents as contents } from '../fixtures-roll/cli-child.js'
import { buildCli } from '../fixtures-s3/cli-build.js'
import { del, eventually, get, post, put, spawnServe, streams, times, type ServeProcess } from './conformance-kit.js'

t.test('a readonly server on a read-only mount serves the runs and the events only in the log, says so at start, writes nothing', async (t) => {
  const data = tempDir(t)
  const first = await spawnServe(['--data', data])
  await put(t, first.url, { s: [{ '@time': 1 }, { '@time': 2 }] })
  first.child.kill('SIGTERM')
  t.equal((await first.exited).code, 0, 'stopped: its events are runs')
  const second = await spawnServe(['--data', data])
  await put(t, second.url, { s: [{ '@time': 3 }], o: [{ '@time': 4 }] })
  second.child.kill('SIGKILL')
  await second.exited
  t.ok(fs.existsSync(path.join(data, 'serve.pid')), 'killed: its lock is left, and events 3 and 4 are only in the log')
  const before = contents(data)

  const served = await spawnServe(['--data', data, '--mode', 'readonly'], {}, { readOnly: [data] })
  t.ok(await eventually(() => served.stdout().split('\n').length > 2), 'a line after the URL')
  t.equal(served.stdout(), `shoebox serve: listening on ${served.url} (data ${data}, mode readonly)\n` +
    `shoebox serve: ${data} is on a read-only mount: serving its events as they were at start (no lock taken, nothing written; events written there since are seen after a restart)\n`)
  t.same(times(await get(t, served.url, 's', 0, 10)), [1, 2, 3], 'the runs, and the log replayed in memory')
  t.same(await streams(served.url), ['o', 's'])
  t.equal((await post(served.url, '/1.0/events/put', { events: { s: [{}] } })).status, 403, 'a readonly server still takes no puts')
  served.child.kill('SIGTERM')
  const end = await served.exited
  t.same([end.code, end.stderr], [0, 'shoebox serve: stopped\n'])
  t.same(contents(data), before, 'no lock, no log cut or flushed, no run written')
})

t.test('a read-only mount the server may not write either (permission bits): still seen as read-only, served without a lock', async (t) => {
  // Linux checks the bits before the mount's flag: access(W_OK) answered EACCES, never EROFS, so the server took
  // the directory for a writable one, tried to lock it, and did not start.
  const data = tempDir(t)
  const first = await spawnServe(['--data', data])
  await put(t, first.url, { s: [{ '@time': 1 }, { '@time': 2 }] })
  first.child.kill('SIGKILL')
  await first.exited
  fs.chmodSync(data, 0o555)
  t.teardown(() => { fs.chmodSync(data, 0o755) })
  const before = contents(data)

  const served = await spawnServe(['--data', data, '--mode', 'readonly'], {}, { readOnly: [data], bitsCount: true })
  t.ok(await eventually(() => served.stdout().split('\n').length > 2), 'a line after the URL')
  t.match(served.stdout().split('\n')[1], `shoebox serve: ${data} is on a read-only mount: serving its events as they were at start`)
  t.same(times(await get(t, served.url, 's', 0, 10)), [1, 2])
  served.child.kill('SIGTERM')
  const end = await served.exited
  t.same([end.code, end.stderr], [0, 'shoebox serve: stopped\n'])
  t.same(contents(data), before, 'nothing written')
})

t.test('a delete in the log: served when its runs were rewritten; refused naming the log when they were not (a stop between the two)', async (t) => {
  const data = tempDir(t)
  const first = await spawnServe(['--data', data])
  await put(t, first.url, { s: [{ '@time': 1 }, { '@time': 2 }, { '@time': 3 }] })
  first.child.kill('SIGTERM')
  t.equal((await first.exited).code, 0)
  const beforeDelete = tempDir(t)
  fs.cpSync(data, beforeDelete, { recursive: true })
  const second = await spawnServe(['--data', data])
  t.equal(await del(t, second.url, 's', 2, 2), 1)
  second.child.kill('SIGKILL')
  await second.exited

  const served = await spawnServe(['--data', data, '--mode', 'readonly'], {}, { readOnly: [data] })
  t.same(times(await get(t, served.url, 's', 0, 10)), [1, 3], 'the delete is in the log and in the runs')
  served.child.kill('SIGTERM')
  t.equal((await served.exited).code, 0)

  // The runs and index from before the delete, the log from after it: a server stopped between the delete's log
  // append and its index swap. Served as it is, event 2 would be answered.
  const torn = beforeDelete
  fs.rmSync(path.join(torn, 'wal'), { recursive: true })
  fs.cpSync(path.join(data, 'wal'), path.join(torn, 'wal'), { recursive: true })
  const logs = fs.readdirSync(path.join(torn, 'wal'))
  t.equal(logs.length, 1)
  const log = path.join(torn, 'wal', logs[0])
  const before = contents(torn)
  const refused = await spawnServe(['--data', torn, '--mode', 'readonly'], {}, { readOnly: [torn] }).then((p) => { p.child.kill('SIGKILL'); return 'started' }, (err: Error) => err.message)
  t.equal(refused, `shoebox serve exited (1) before listening: shoebox serve: event log ${log}: a delete of stream s (namespace kronos) not yet applied to the run files, ` +
    `and ${torn} is on a read-only mount (read-only file system, EROFS), where it cannot be: served as they are, the runs would still answer the deleted events. ` +
    `Start a server once where the directory can be written (it applies the delete), then serve it read-only; the server did not start, the events in ${torn} are kept as they were\n`)
  t.same(contents(torn), before)
  const writable = await spawnServe(['--data', torn, '--mode', 'readonly'])
  t.same(times(await get(t, writable.url, 's', 0, 10)), [1, 3], 'where it can be written, the replay applies the delete to the runs')
  writable.child.kill('SIGTERM')
  t.equal((await writable.exited).code, 0)
})

t.test('a server taking puts (mode all) on a read-only mount is still refused: it must write its log', async (t) => {
  const data = tempDir(t)
  const refused = await spawnServe(['--data', data], {}, { readOnly: [data] }).then((p) => { p.child.kill('SIGKILL'); return 'started' }, (err: Error) => err.message)
  t.match(refused, `exited (1) before listening: shoebox serve: cannot create directory ${path.join(data, 'runs')}: read-only file system (EROFS); the server did not start`)
  t.same(fs.readdirSync(data), [])
})

t.test('EventStore opened only to read takes no lock and refuses puts and deletes by name', async (t) => {
  const { EventStore } = await import('../../lib/events/store/event-store.js')
  const data = tempDir(t)
  const store = await EventStore.open({ dir: data, readOnly: true })
  t.teardown(async () => { await store.close() })
  t.same(fs.readdirSync(data), [], 'nothing made: no lock, no runs/, no wal/')
  const refused = (change: string): { code: string, message: string } => ({ code: 'SHOEBOX_USAGE', message: `event store ${data} is opened only to read (a read-only mount): it takes no ${change}` })
  await t.rejects(store.put('kronos', []), refused('puts'))
  await t.rejects(store.delete('kronos', 's', { from: 0n, to: 10n }), refused('deletes'))
})

/** A data directory whose log holds 1000 events of ~200 bytes, none in runs: more than a readonly server's memtable of 64 KiB. */
async function logOfMoreThanAMemtable (t: Test): Promise<string> {
  const data = tempDir(t)
  const first = await spawnServe(['--data', data, '--memtable-size', '64MiB'])
  const pad = 'x'.repeat(200)
  for (let n = 0; n < 10; n++) {
    await put(t, first.url, { s: Array.from({ length: 100 }, (_, i) => ({ '@time': n * 100 + i + 1, p: pad })) })
  }
  first.child.kill('SIGKILL')
  await first.exited
  return data
}

t.test('a log of more than a memtable: the rest is written as runs in a scratch directory under TMPDIR, served, and removed at stop', async (t) => {
  const data = await logOfMoreThanAMemtable(t)
  const before = contents(data)
  const scratch = tempDir(t)
  const served = await spawnServe(['--data', data, '--mode', 'readonly', '--memtable-size', '64KiB'], { TMPDIR: scratch }, { readOnly: [data] })
  t.match(fs.readdirSync(scratch), [/^shoebox-read-only-/], 'the events past 64 KiB are in scratch runs')
  const got = times(await get(t, served.url, 's', 0, 2000))
  t.equal(got.length, 1000)
  t.same(got.slice(0, 3), [1, 2, 3])
  t.same(got.slice(-2), [999, 1000])
  served.child.kill('SIGTERM')
  t.equal((await served.exited).code, 0)
  t.same(fs.readdirSync(scratch), [], 'removed at stop')
  t.same(contents(data), before, 'nothing written in the data directory')
})

t.test('a scratch directory a killed readonly server left is removed at the next readonly start; a live server\'s is not', async (t) => {
  const data = await logOfMoreThanAMemtable(t)
  const scratch = tempDir(t)
  const readonly = async (): Promise<ServeProcess> =>
    await spawnServe(['--data', data, '--mode', 'readonly', '--memtable-size', '64KiB'], { TMPDIR: scratch }, { readOnly: [data] })
  const killed = await readonly()
  const left = fs.readdirSync(scratch)
  t.equal(left.length, 1)
  t.match(left[0], new RegExp(`^shoebox-read-only-[^~]+~${killed.child.pid ?? 0}(-\\d+-[0-9a-f]{8})?~[0-9a-f]{6}$`), 'named with its host and writer (pid and start)')
  killed.child.kill('SIGKILL')
  await killed.exited
  t.same(fs.readdirSync(scratch), left, 'nothing removed it')

  const live = await readonly()
  const made = fs.readdirSync(scratch)
  t.equal(made.length, 1, 'the killed server\'s removed')
  t.not(made[0], left[0], 'the live server\'s own made')
  const another = await readonly()
  t.equal(fs.readdirSync(scratch).length, 2)
  t.ok(fs.readdirSync(scratch).includes(made[0]), 'a live server\'s stays')
  t.equal(times(await get(t, live.url, 's', 0, 2000)).length, 1000, 'and serves from it still')
  for (const served of [live, another]) {
    served.child.kill('SIGTERM')
    t.equal((await served.exited).code, 0)
  }
  t.same(fs.readdirSync(scratch), [], 'each removed its own at stop')
})

t.test('a run file it cannot read (permission bits): the server does not start, naming the file and its stream, instead of answering its gets 500', async (t) => {
  const data = tempDir(t)
  const first = await spawnServe(['--data', data])
  await put(t, first.url, { a: [{ '@time': 1 }], b: [{ '@time': 2 }] })
  first.child.kill('SIGTERM')
  t.equal((await first.exited).code, 0)
  const index = JSON.parse(fs.readFileSync(path.join(data, 'index.json'), 'utf8')) as { runs: Array<{ file: string, stream: string }> }
  const runs = fs.readdirSync(path.join(data, 'runs')).sort()
  t.equal(runs.length, 2)
  const locked = path.join(data, 'runs', runs[0])
  // Root reads whatever the bits say: the server runs as nobody then, owning the directory (so that its
  // read-only mount, not the bits, is what refuses writes) but not the locked file.
  const root = process.getuid?.() === 0
  let options: { uid?: number, bin?: string } = {}
  if (root) {
    const binDir = tempDir(t, 'shoebox-ro-bin-')
    fs.chmodSync(binDir, 0o755)
    const bin = buildCli(binDir)
    checkReachableByOthers(bin)
    for (const name of ['', ...fs.readdirSync(data, { recursive: true }) as string[]]) fs.chownSync(path.join(data, name), 65534, 65534)
    fs.chmodSync(data, 0o755)
    fs.chownSync(locked, 0, 0)
    options = { uid: 65534, bin }
  }
  fs.chmodSync(locked, 0o000)
  t.teardown(() => { fs.chmodSync(locked, 0o644) })
  const stream = index.runs.find((r) => r.file === runs[0])?.stream
  const refused = await spawnServe(['--data', data, '--mode', 'readonly'], {}, { readOnly: [data], ...options }).then((p) => { p.child.kill('SIGKILL'); return 'started' }, (err: Error) => err.message)
  t.equal(refused, `shoebox serve exited (1) before listening: shoebox serve: cannot read run file ${locked} (stream ${stream}, namespace kronos): permission denied (EACCES); ` +
    `the server did not start, the events in ${data} are kept as they were\n`)
})
