/**
 * `shoebox serve` on a disk that fills (a preload makes the store's writes
 * fail with ENOSPC past a budget): puts are refused with 503 and never lost
 * once acknowledged; the operator is told on stderr once, not once a put; a
 * stop whose last flush fails says where the events are and exits 1; the
 * next start has every acknowledged event. A disk full for run files only
 * (the log still writes): the events held in memory stop at 2.5 memtables,
 * puts past that are refused with 503 naming why, and taken again once a
 * flush succeeds. A disk full for the run index only: the refusal names it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import { EventStore } from '../../lib/events/store/event-store.js'
import { tempDir } from '../fixtures-roll/util.js'
import { escapeRegExp } from '../helpers.js'
import { transpileTree } from '../transpile.js'
import { get, json, post, spawnServe, start, type Reply } from './conformance-kit.js'

const ENOSPC_TS = fileURLToPath(new URL('../fixtures-roll/enospc.ts', import.meta.url))
const preload = pathToFileURL(transpileTree(ENOSPC_TS, tempDir(t, 'shoebox-serve-full-'))).href

t.test('a full disk: puts refused with 503 and said once, acknowledged ones kept, the failed last flush said at stop (exit 1)', async (t) => {
  const data = path.join(t.testdir(), 'events')
  const full = await spawnServe(['--data', data], {
    SHOEBOX_TEST_ENOSPC_AFTER: String(64 * 1024),
    // The log and the run files: every file the store writes events to.
    SHOEBOX_TEST_ENOSPC_FILES: `${path.sep}(wal|runs)${path.sep}`
  }, { nodeArgs: ['--import', preload] })
  t.teardown(() => { full.child.kill('SIGKILL') })
  let said = ''
  full.child.stderr?.on('data', (b: Buffer) => { said += b.toString() })
  const pad = 'x'.repeat(1000)
  const statuses: number[] = []
  const refusals: string[] = []
  for (let i = 0; i < 120; i++) {
    const events = { s: Array.from({ length: 10 }, (_, j) => ({ '@time': i * 10 + j + 1, i, j, pad })) }
    const reply = await post(full.url, '/1.0/events/put', { events })
    statuses.push(reply.status)
    if (reply.status !== 200) {
      refusals.push(`${reply.headers.get('retry-after') ?? 'no Retry-After'} ${String(((json(reply).s as Record<string, Record<string, unknown>>).shoebox['@errors'] as string[])[0])}`)
    }
  }
  const acked = 10 * statuses.indexOf(503)
  t.same(statuses, [...Array(acked / 10).fill(200), ...Array(120 - acked / 10).fill(503)], 'puts are acknowledged until the disk is full, then answered 503')
  t.ok(acked > 0 && refusals.length > 10, `some puts acknowledged (${acked} events), then refused (${refusals.length})`)
  t.match(refusals[0], /^1 StorageError\('cannot append to event log .*wal.*: no space left on device \(ENOSPC\)',\)$/, 'the refusal names the log and the errno, with Retry-After')
  t.equal((await get(t, full.url, 's', 0, 100_000)).length, acked, 'a get while full serves every acknowledged event')

  t.match(said, /^shoebox serve: cannot append to event log \S+wal\S+: no space left on device \(ENOSPC\)\n$/, 'the operator is told while it runs, once')

  full.child.kill('SIGTERM')
  const stopped = await full.exited
  const lines = stopped.stderr.split('\n').filter((l) => l !== '')
  t.equal(lines.filter((l) => l.startsWith('shoebox serve: cannot append to event log')).length, 1, `the full log is said once, not once a put: ${stopped.stderr}`)
  t.match(lines.at(-1), new RegExp(`^shoebox serve: stopped; .*no space left on device \\(ENOSPC\\); the last flush failed: the acknowledged events not yet in run files stay in the write-ahead log ${escapeRegExp(path.join(data, 'wal'))}, replayed on the next start$`), 'the stop says the last flush failed, and where the events are')
  t.equal(stopped.code, 1, 'exit 1')

  const again = await spawnServe(['--data', data])
  t.teardown(() => { again.child.kill('SIGKILL') })
  const back = await get(t, again.url, 's', 0, 100_000)
  t.equal(back.length, acked, 'the next start has every acknowledged event')
  t.equal(new Set(back.map((e) => `${String(e.i)}.${String(e.j)}`)).size, acked, 'each once')
  again.child.kill('SIGTERM')
  const clean = await again.exited
  t.equal(clean.code, 0, `a clean stop exits 0: ${clean.stderr}`)
})

/** A put of ten events of ~1 KB each (`i` the put's number). */
async function putTen (url: string, i: number): Promise<Reply> {
  const pad = 'x'.repeat(1000)
  return await post(url, '/1.0/events/put', { events: { s: Array.from({ length: 10 }, (_, j) => ({ '@time': i * 10 + j + 1, i, j, pad })) } })
}

function refusal (reply: Reply): string {
  return `${reply.headers.get('retry-after') ?? 'no Retry-After'} ${String(((json(reply).s as Record<string, Record<string, unknown>>).shoebox['@errors'] as string[])[0])}`
}

t.test('a disk full for run files only: past 2.5 memtables held, puts are refused with 503 naming the flush\'s failure; acknowledged ones are kept', async (t) => {
  const data = path.join(t.testdir(), 'events')
  const full = await spawnServe(['--data', data, '--memtable-size', '64KiB'], {
    SHOEBOX_TEST_ENOSPC_AFTER: '0',
    SHOEBOX_TEST_ENOSPC_FILES: `${path.sep}runs${path.sep}`
  }, { nodeArgs: ['--import', preload] })
  t.teardown(() => { full.child.kill('SIGKILL') })
  const statuses: number[] = []
  const refusals: string[] = []
  // Up to 1.2 MB, nearly twenty memtables: before the bound every put was taken while the log could write, and held in
  // memory. Five refusals are enough: each put refused waits for the next flush attempt, at most one a second.
  for (let i = 0; i < 120 && refusals.length < 5; i++) {
    const reply = await putTen(full.url, i)
    statuses.push(reply.status)
    if (reply.status !== 200) refusals.push(refusal(reply))
  }
  if (!t.ok(statuses.includes(503), `puts are refused at last (${statuses.filter((s) => s === 200).length} of ${statuses.length} taken)`)) return
  const acked = 10 * statuses.indexOf(503)
  t.same(statuses, [...Array(acked / 10).fill(200), ...Array(5).fill(503)], 'puts are acknowledged until 2.5 memtables are held, then answered 503')
  // Each event is ~1 KB in the memtable: 2.5 memtables of 64 KiB hold ~160 of them, one put more at most.
  t.ok(acked >= 100 && acked <= 180, `${acked} events acknowledged: about 2.5 memtables' worth`)
  t.match(refusals[0], new RegExp(`^1 StorageError\\('event store ${escapeRegExp(data)} cannot write its memtables as runs \\(.*${escapeRegExp(path.join(data, 'runs'))}.*no space left on device \\(ENOSPC\\)\\).*this put is refused.*puts are taken again once a flush succeeds',\\)$`),
    'the refusal names the store, the failed flush, its directory and the errno, with Retry-After')
  t.equal((await get(t, full.url, 's', 0, 100_000)).length, acked, 'a get serves every acknowledged event')

  full.child.kill('SIGTERM')
  const stopped = await full.exited
  t.equal(stopped.code, 1, `the last flush failed: exit 1 (${stopped.stderr.split('\n').filter((l) => l !== '').at(-1) ?? ''})`)
  const again = await spawnServe(['--data', data])
  t.teardown(() => { again.child.kill('SIGKILL') })
  const back = await get(t, again.url, 's', 0, 100_000)
  t.equal(new Set(back.map((e) => `${String(e.i)}.${String(e.j)}`)).size, acked, 'the next start has every acknowledged event, once, and no refused one')
  t.equal(back.length, acked, 'each once')
  again.child.kill('SIGTERM')
  t.equal((await again.exited).code, 0, 'a clean stop exits 0')
})

t.test('once a flush succeeds again, puts are taken without a restart', async (t) => {
  const server = await start(t, { memtableSize: '64KiB' })
  t.ok(server.store instanceof EventStore, 'a local event store')
  const runs = path.join((server.store as EventStore).dir, 'runs')
  // The runs directory replaced by a file: every flush fails (ENOTDIR), as on a full disk; the log still writes.
  fs.rmSync(runs, { recursive: true })
  fs.writeFileSync(runs, 'not a directory')
  let i = 0
  let reply = await putTen(server.url, i)
  while (reply.status === 200 && i < 120) reply = await putTen(server.url, ++i)
  t.equal(reply.status, 503, `refused after ${i} puts`)
  t.match(refusal(reply), /^1 StorageError\('event store .* cannot write its memtables as runs .*ENOTDIR/, 'with Retry-After and the reason')
  t.equal((await putTen(server.url, i)).status, 503, 'and again while flushes fail')
  fs.rmSync(runs)
  fs.mkdirSync(runs)
  t.equal((await putTen(server.url, i)).status, 200, 'the put after room is made is taken: its flush succeeded first')
  t.equal((await get(t, server.url, 's', 0, 100_000)).length, 10 * (i + 1), 'every acknowledged event, once, and no refused one')
})

t.test('a disk full for the run index only: the refusal names index.json, not the run files; acknowledged events are kept', async (t) => {
  // The refusal said "(no space left on device (ENOSPC))", naming no file: the run files, which were written, seemed at fault.
  const data = path.join(t.testdir(), 'events')
  const full = await spawnServe(['--data', data, '--memtable-size', '64KiB'], {
    SHOEBOX_TEST_ENOSPC_AFTER: '0',
    SHOEBOX_TEST_ENOSPC_FILES: '/\\.index\\.json\\.[0-9a-f]+\\.tmp$'
  }, { nodeArgs: ['--import', preload] })
  t.teardown(() => { full.child.kill('SIGKILL') })
  const statuses: number[] = []
  const refusals: string[] = []
  for (let i = 0; i < 120 && refusals.length < 1; i++) {
    const reply = await putTen(full.url, i)
    statuses.push(reply.status)
    if (reply.status !== 200) refusals.push(refusal(reply))
  }
  if (!t.ok(refusals.length > 0, 'puts are refused at last')) return
  t.match(refusals[0], new RegExp(`cannot write the run index ${escapeRegExp(path.join(data, 'index.json'))}: no space left on device \\(ENOSPC\\)`))
  const acked = 10 * statuses.indexOf(503)
  full.child.kill('SIGTERM')
  await full.exited
  const again = await spawnServe(['--data', data])
  t.teardown(() => { again.child.kill('SIGKILL') })
  t.equal((await get(t, again.url, 's', 0, 100_000)).length, acked, 'the next start has every acknowledged event, once')
  again.child.kill('SIGTERM')
  t.equal((await again.exited).code, 0)
})
