/**
 * Events with an equal (time, @id) key are one event (as Kronos's Cassandra
 * backend keys them): a batch put again (a shipper retrying a put whose
 * answer was lost) reads back once, whether the copies sit in the memtable,
 * the log replayed after a crash, runs, or a compacted run, and a limit
 * counts the events returned.
 */
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { mergeRuns } from '../../lib/events/store/compaction.js'
import { EventStore } from '../../lib/events/store/event-store.js'
import { mergeLimited } from '../../lib/events/store/merge.js'
import { compareKeys, type EventRange, type StoredEvent } from '../../lib/events/store/stored-event.js'
import { writeRun } from '../../lib/events/store/run-writer.js'
import { mulberry32 } from '../helpers.js'

const T0 = 17_000_000_000_000_000n

function event (time: bigint): StoredEvent {
  const id = randomBytes(16)
  id[8] = (id[8] | 0x80) & 0x8f
  return { time, id, body: Buffer.from(`{"@time": ${time}, "n": "ü${id.toString('hex')}"}`) }
}

function batchOf (n: number, seed: number): StoredEvent[] {
  const rand = mulberry32(seed)
  // Few distinct times: many events share a time and differ only by id.
  return Array.from({ length: n }, () => event(T0 + BigInt(Math.floor(rand() * 40))))
}

async function all (it: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  for await (const e of it) out.push(e)
  return out
}

const keys = (list: StoredEvent[]): string[] => list.map((e) => `${e.time}:${e.id.toString('hex')}`)
const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }

/** Every read the store answers, checked against the distinct events. */
async function checkOnce (t: Test, store: EventStore, events: StoredEvent[], what: string): Promise<void> {
  const sorted = [...events].sort(compareKeys)
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted), `${what}: each event once, ascending`)
  t.same(keys(await all(store.read('kronos', 's', everything, { descending: true }))), keys([...sorted].reverse()), `${what}: each event once, descending`)
  for (const limit of [1, 7, 100, sorted.length - 1]) {
    t.same(keys(await all(store.read('kronos', 's', everything, { limit }))), keys(sorted.slice(0, limit)), `${what}: limit ${limit} is exact`)
    t.same(keys(await all(store.read('kronos', 's', everything, { limit, descending: true }))), keys([...sorted].reverse().slice(0, limit)), `${what}: limit ${limit} descending`)
  }
  const after = sorted[50]
  t.same(keys(await all(store.read('kronos', 's', { from: 0n, to: everything.to, after }))), keys(sorted.filter((e) => compareKeys(e, after) > 0)), `${what}: start_id`)
}

t.test('the same batch put twice into the memtable', async (t) => {
  const store = await EventStore.open({ dir: t.testdir() })
  const events = batchOf(300, 1)
  await store.put('kronos', [{ stream: 's', events }])
  await store.put('kronos', [{ stream: 's', events }])
  await checkOnce(t, store, events, 'memtable')
  await store.close()
})

t.test('the same batch put again across a flush, a restart (log replay) and runs', async (t) => {
  const dir = t.testdir()
  let store = await EventStore.open({ dir, bucketMs: 1 })
  const events = batchOf(300, 2)
  await store.put('kronos', [{ stream: 's', events }])
  await store.flush()
  await store.put('kronos', [{ stream: 's', events: events.slice(100) }])
  await checkOnce(t, store, events, 'run + memtable')
  // A crash: the store is opened again without closing; the second put comes back from the log.
  store = await EventStore.open({ dir, bucketMs: 1 })
  await checkOnce(t, store, events, 'after a restart')
  await store.put('kronos', [{ stream: 's', events: events.slice(0, 200) }])
  await store.flush()
  await checkOnce(t, store, events, 'three runs')
  await store.close()
  store = await EventStore.open({ dir, bucketMs: 1 })
  await checkOnce(t, store, events, 'closed and opened')
  await store.close()
})

t.test('compaction writes one event per key', async (t) => {
  const dir = t.testdir()
  const store = await EventStore.open({ dir })
  const events = batchOf(200, 3)
  for (let i = 0; i < 8; i++) {
    await store.put('kronos', [{ stream: 's', events: i % 2 === 0 ? events : events.slice(i * 10) }])
    await store.flush()
  }
  t.ok(store.stats().compactions >= 1, 'the runs were merged')
  await checkOnce(t, store, events, 'compacted')
  await store.close()

  const runs = []
  for (let i = 0; i < 3; i++) runs.push(await writeRun(dir, `r${i}.shoebox`, 'kronos', 's', 0n, [...events].sort(compareKeys), { gzip: false, fsync: false }))
  const merged = await mergeRuns(dir, 'merged.shoebox', runs, { gzip: false, fsync: false })
  t.equal(merged.count, events.length, 'the merged run counts each event once')
})

t.test('mergeLimited: duplicates within and across sources, split at block boundaries', async (t) => {
  const events = [...batchOf(50, 4)].sort(compareKeys)
  async function * blocks (list: StoredEvent[], size: number): AsyncGenerator<StoredEvent[]> {
    for (let i = 0; i < list.length; i += size) yield list.slice(i, i + size)
  }
  const doubled = events.flatMap((e) => [e, e])
  for (const size of [1, 2, 3, 7, 100]) {
    const out: StoredEvent[] = []
    for await (const batch of mergeLimited([blocks(doubled, size), blocks(events, size + 1), blocks(events.slice(10), size)], compareKeys, false, 1000)) out.push(...batch)
    t.same(keys(out), keys(events), `blocks of ${size}`)
    const limited: StoredEvent[] = []
    for await (const batch of mergeLimited([blocks([...doubled].reverse(), size)], compareKeys, true, 20)) limited.push(...batch)
    t.same(keys(limited), keys([...events].reverse().slice(0, 20)), `one source, descending, limit 20, blocks of ${size}`)
  }
})
