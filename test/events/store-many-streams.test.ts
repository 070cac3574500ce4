/**
 * A store with many streams (issue 10): a flush writes a run file per stream,
 * several at once under their final names, and names them all in one index
 * write; the compactions a flush makes due land in one more; a flush or a
 * compaction that fails part-way leaves no file of its own behind and the
 * index as it was; a `shoebox serve` SIGKILLed in the middle of a
 * many-stream flush opens again with every acknowledged event and no run
 * file the index does not name.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { EventStore } from '../../lib/events/store/event-store.js'
import { INDEX_FILE, runFileName, type RunIndex } from '../../lib/events/store/run-index.js'
import type { EventRange, StoredEvent } from '../../lib/events/store/stored-event.js'
import { post, spawnServe } from './conformance-kit.js'

const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }
const BASE = 17_000_000_000_000_000n

function event (time: bigint): StoredEvent {
  const id = randomBytes(16)
  id[8] = (id[8] | 0x80) & 0x8f
  return { time, id, body: Buffer.from(`{"@time": ${time}, "ü": "${time}"}`) }
}

/** One put naming `streams` streams, one event each, at times after `round`'s. */
async function putRound (store: EventStore, streams: number, round: number): Promise<Map<string, StoredEvent[]>> {
  const batches = Array.from({ length: streams }, (_, i) => ({ stream: `stream-${i}`, events: [event(BASE + BigInt(round * streams + i))] }))
  await store.put('kronos', batches)
  return new Map(batches.map((b) => [b.stream, b.events]))
}

async function readAll (store: EventStore, stream: string): Promise<string[]> {
  const out: string[] = []
  for await (const e of store.read('kronos', stream, everything)) out.push(e.body.toString())
  return out
}

function indexOf (dir: string): RunIndex {
  return JSON.parse(fs.readFileSync(path.join(dir, INDEX_FILE), 'utf8')) as RunIndex
}

/** The runs directory's entries the index does not name. */
function unlisted (dir: string, index?: RunIndex): string[] {
  const listed = new Set((index ?? indexOf(dir)).runs.map((r) => r.file))
  return fs.readdirSync(path.join(dir, 'runs')).filter((name) => !listed.has(name)).sort()
}

t.test('a flush of 300 streams writes 300 run files, no temporary names, named by one index write', async (t) => {
  const dir = t.testdir()
  const store = await EventStore.open({ dir, fsync: true })
  const put = await putRound(store, 300, 0)
  await store.flush()
  t.equal(store.stats().indexWrites, 1, 'one index write for the whole flush')
  const index = indexOf(dir)
  t.equal(index.runs.length, 300)
  t.same(unlisted(dir), [], 'every file in runs/ is a run the index names (no temporary file left)')
  t.same(new Set(index.runs.map((r) => r.stream)), new Set(put.keys()), 'one run per stream')
  for (const [stream, events] of [...put].filter((_, i) => i % 37 === 0)) {
    t.same(await readAll(store, stream), events.map((e) => e.body.toString()), stream)
  }
  await store.close()
})

t.test('a flush that fails part-way removes the run files it wrote; the events stay, and the next flush writes them', async (t) => {
  const dir = t.testdir()
  const store = await EventStore.open({ dir, fsync: false })
  const put = await putRound(store, 200, 0)
  // A directory where the 120th run file goes: its open fails after ~119 files are written.
  const obstacle = path.join(dir, 'runs', runFileName(120, false))
  fs.mkdirSync(obstacle)
  await t.rejects(store.flush(), { code: 'SHOEBOX_IO', message: /cannot create event run .*0000000120\.shoebox/ })
  t.same(fs.readdirSync(path.join(dir, 'runs')), [path.basename(obstacle)], 'no run file of the failed flush is left')
  t.notOk(fs.existsSync(path.join(dir, INDEX_FILE)), 'the index was not written')
  t.same(await readAll(store, 'stream-150'), put.get('stream-150')?.map((e) => e.body.toString()), 'its events are still read (from the memtable)')
  fs.rmdirSync(obstacle)
  await store.flush()
  t.equal(indexOf(dir).runs.length, 200)
  t.same(unlisted(dir), [])
  await store.close()
  const again = await EventStore.open({ dir, fsync: false })
  for (const [stream, events] of put) t.same(await readAll(again, stream), events.map((e) => e.body.toString()), stream)
  await again.close()
})

t.test('the compactions a flush makes due (one per stream) land in one index write', async (t) => {
  const dir = t.testdir()
  const streams = 120
  let store = await EventStore.open({ dir, fsync: false })
  const put = new Map<string, StoredEvent[]>()
  for (let round = 0; round < 4; round++) {
    for (const [stream, events] of await putRound(store, streams, round)) put.set(stream, [...(put.get(stream) ?? []), ...events])
    const before = store.stats()
    await store.flush()
    const after = store.stats()
    if (round < 3) {
      t.equal(after.indexWrites - before.indexWrites, 1, `flush ${round + 1}: one index write, no compaction`)
      t.equal(after.runs, streams * (round + 1))
    } else {
      // Four runs of one tier in each stream's bucket: 120 merges, in one swap after the flush's own.
      t.equal(after.compactions - before.compactions, streams, 'a merge per stream')
      t.equal(after.indexWrites - before.indexWrites, 2, 'the flush\'s index write and one for all its merges')
      t.equal(after.runs, streams, 'one run per stream left')
    }
  }
  t.equal(indexOf(dir).runs.length, streams)
  t.same(unlisted(dir), [], 'the merged runs\' files were removed')
  for (const [stream, events] of [...put].filter((_, i) => i % 11 === 0)) t.same(await readAll(store, stream), events.map((e) => e.body.toString()), stream)
  await store.close()
  store = await EventStore.open({ dir, fsync: false })
  for (const [stream, events] of put) t.same(await readAll(store, stream), events.map((e) => e.body.toString()), `${stream} after a restart`)
  await store.close()
})

t.test('a compaction that fails part-way changes no run: the index is the flush\'s, no merged file is left', async (t) => {
  const dir = t.testdir()
  const streams = 40
  const store = await EventStore.open({ dir, fsync: false })
  const put = new Map<string, StoredEvent[]>()
  for (let round = 0; round < 4; round++) {
    for (const [stream, events] of await putRound(store, streams, round)) put.set(stream, [...(put.get(stream) ?? []), ...events])
    if (round < 3) await store.flush()
  }
  // The fourth flush takes 121-160; its merges 161 on: the 11th merge cannot create its file.
  const obstacle = path.join(dir, 'runs', runFileName(4 * streams + 11, false))
  fs.mkdirSync(obstacle)
  const before = store.stats()
  await t.rejects(store.flush(), { code: 'SHOEBOX_IO' })
  const index = indexOf(dir)
  t.equal(index.runs.length, 4 * streams, 'the flush\'s runs are in the index, no merge is')
  t.equal(store.stats().indexWrites - before.indexWrites, 1, 'only the flush\'s index write')
  t.same(unlisted(dir, index), [path.basename(obstacle)], 'no merged run file is left')
  for (const [stream, events] of [...put].filter((_, i) => i % 7 === 0)) t.same(await readAll(store, stream), events.map((e) => e.body.toString()), stream)
  fs.rmdirSync(obstacle)
  for (const [stream, events] of await putRound(store, streams, 4)) put.set(stream, [...(put.get(stream) ?? []), ...events])
  await store.flush()
  t.equal(indexOf(dir).runs.length, 2 * streams, 'the next flush merged four of each stream\'s five runs')
  t.same(unlisted(dir), [])
  for (const [stream, events] of put) t.same(await readAll(store, stream), events.map((e) => e.body.toString()), stream)
  await store.close()
})

t.test('a serve SIGKILLed in the middle of a many-stream flush opens with every acknowledged event and no stray run file', async (t) => {
  const data = t.testdir()
  const runsDir = path.join(data, 'runs')
  const server = await spawnServe(['--data', data, '--memtable-size', '64KiB'])
  const streams = 3000
  const events: Record<string, unknown[]> = {}
  for (let i = 0; i < streams; i++) events[`s${i}`] = [{ '@time': 1000 + i, i }]
  // One put past the memtable size: answered once in the log, then flushed in the background.
  const reply = await post(server.url, '/1.0/events/put', { events })
  t.equal(reply.status, 200, 'the put was acknowledged')
  let seen = 0
  while (seen === 0) {
    seen = fs.existsSync(runsDir) ? fs.readdirSync(runsDir).length : 0
    if (seen === 0) await new Promise((resolve) => setTimeout(resolve, 1))
  }
  server.child.kill('SIGKILL')
  await server.exited
  const index: RunIndex = fs.existsSync(path.join(data, INDEX_FILE)) ? indexOf(data) : { version: 1, walSeq: 0, runSeq: 1, runs: [], streams: {} }
  const stray = unlisted(data, index)
  t.ok(stray.length > 0 && index.runs.length < streams, `killed in the middle: ${stray.length} run files the index does not name, ${index.runs.length} it does`)

  const store = await EventStore.open({ dir: data })
  t.same(unlisted(data, index), [], 'the stray run files were removed at open')
  const missing: string[] = []
  for (let i = 0; i < streams; i++) {
    const got: string[] = []
    for await (const e of store.read('kronos', `s${i}`, everything)) got.push(e.body.toString())
    if (got.length !== 1 || !got[0].includes(`"i":${i}`)) missing.push(`s${i}: ${JSON.stringify(got)}`)
  }
  t.same(missing, [], `all ${streams} acknowledged events are read back`)
  await store.flush()
  t.equal(indexOf(data).runs.length, streams)
  t.same(unlisted(data), [])
  await store.close()
})
