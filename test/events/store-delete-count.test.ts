/**
 * delete answers how many events it removed as Kronos counts them (spec
 * §5.4: what a get of the range would have returned), so an event stored
 * twice under one (time, @id) key counts once: two runs written before the
 * store kept one event per key, a run holding a key twice, a put retried
 * into the memtable, a run and the memtable holding the same event.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { EventStore } from '../../lib/events/store/event-store.js'
import { runFileName, saveIndex } from '../../lib/events/store/run-index.js'
import { writeRun } from '../../lib/events/store/run-writer.js'
import { bucketOf, compareKeys, type EventRange, type StoredEvent } from '../../lib/events/store/stored-event.js'

const T0 = 17_000_000_000_000_000n
const DAY = 86_400_000n * 10_000n
const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }

function event (time: bigint): StoredEvent {
  const id = randomBytes(16)
  id[8] = (id[8] | 0x80) & 0x8f
  return { time, id, body: Buffer.from(`{"@time": ${time}, "n": "ü${id.toString('hex')}"}`) }
}

async function keysOf (store: EventStore, range: EventRange): Promise<string[]> {
  const out: string[] = []
  for await (const e of store.read('kronos', 's', range)) out.push(`${e.time}:${e.id.toString('hex')}`)
  return out
}

/** A data directory whose index lists runs written by the store's own run writer, as an older version left it. */
async function oldData (t: Test, runs: StoredEvent[][]): Promise<string> {
  // A teardown registered before t.testdir(): tap then removes the directory after the store's close, whose flush writes there.
  t.teardown(() => {})
  const dir = t.testdir()
  fs.mkdirSync(path.join(dir, 'runs'))
  const infos = []
  for (const [i, events] of runs.entries()) {
    const sorted = [...events].sort(compareKeys)
    infos.push(await writeRun(path.join(dir, 'runs'), runFileName(i + 1, false), 'kronos', 's', bucketOf(sorted[0].time, DAY), sorted, { gzip: false, fsync: false }))
  }
  await saveIndex(dir, { version: 1, walSeq: 0, runSeq: runs.length + 1, runs: infos, streams: { kronos: ['s'] } }, false)
  return dir
}

t.test('two runs holding the same (time, @id): get returns it once, delete counts it once', async (t) => {
  const shared = Array.from({ length: 5 }, (_, i) => event(T0 + BigInt(i)))
  const onlyFirst = [event(T0 + 1n), event(T0 + 10n)]
  const onlySecond = [event(T0 + 2n)]
  const dir = await oldData(t, [[...shared, ...onlyFirst], [...shared, ...onlySecond]])
  const store = await EventStore.open({ dir })
  t.teardown(async () => { await store.close() })
  const range: EventRange = { from: T0, to: T0 + 4n }
  const before = await keysOf(store, range)
  t.equal(before.length, 5 + 1 + 1, 'get: each (time, @id) once')
  t.equal(new Set(before).size, before.length, 'get never returns the duplicate')
  t.equal(await store.delete('kronos', 's', range), before.length, 'delete counts what the get returned')
  t.same(await keysOf(store, range), [], 'all gone')
  t.equal((await keysOf(store, everything)).length, 1, 'the event outside the range stays')
})

t.test('a run holding one key twice, and the same events in the memtable: counted once each', async (t) => {
  const events = Array.from({ length: 20 }, (_, i) => event(T0 + BigInt(i % 4)))
  const dir = await oldData(t, [[...events, ...events.slice(0, 6)]])
  const store = await EventStore.open({ dir })
  t.teardown(async () => { await store.close() })
  // A retried put: the same events again, into the memtable, twice.
  await store.put('kronos', [{ stream: 's', events: events.slice(10) }])
  await store.put('kronos', [{ stream: 's', events: events.slice(10) }])
  const extra = event(T0 + 3n)
  await store.put('kronos', [{ stream: 's', events: [extra] }])
  const before = await keysOf(store, everything)
  t.equal(before.length, 21)
  t.equal(await store.delete('kronos', 's', { from: T0, to: T0 + 3n }), 21)
  t.same(await keysOf(store, everything), [])
})

t.test('start_id with duplicates on both sides of it: the count is what get returns after it', async (t) => {
  const events = Array.from({ length: 12 }, (_, i) => event(T0 + BigInt(i % 3))).sort(compareKeys)
  const dir = await oldData(t, [events, events.slice(3)])
  const store = await EventStore.open({ dir })
  t.teardown(async () => { await store.close() })
  await store.put('kronos', [{ stream: 's', events: events.slice(0, 8) }])
  const range: EventRange = { from: 0n, to: T0 + 2n, after: events[4] }
  const expected = (await keysOf(store, range)).length
  t.equal(expected, 7)
  t.equal(await store.delete('kronos', 's', range), expected)
  t.equal((await keysOf(store, everything)).length, 5, 'the events up to start_id stay, once each')
})
