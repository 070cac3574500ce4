/**
 * A get's texts (readLines: runs that overlap no other source read without
 * a merge, straight from their checked records) are exactly what the merge
 * of every source event by event gives (readBatches), at every block and run
 * boundary: ranges that start and end at, before and after each block's
 * first time, start_ids there, limits that end inside a block, both orders;
 * with runs in time order, duplicates in one run (across a block boundary
 * too) and across runs, the memtable overlapping a run, many events sharing
 * a time, gzip runs. A damaged record is refused, never sent; a record in
 * another metadata layout is read the slow way, the same.
 */
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { formatEventId, newEventIdBytes } from '../../lib/events/event-id.js'
import { EventStore } from '../../lib/events/store/event-store.js'
import { distinct } from '../../lib/events/store/merge.js'
import { Memtable, type MemtableSlice } from '../../lib/events/store/memtable.js'
import { PutRows } from '../../lib/events/store/put-rows.js'
import { disjointGroups, memtableSource } from '../../lib/events/store/read-lines.js'
import { localReader, readRunBlocks, type RunInfo } from '../../lib/events/store/run-file.js'
import { readRunLines } from '../../lib/events/store/run-lines.js'
import { writeRun } from '../../lib/events/store/run-writer.js'
import { compareKeys, type EventRange, type StoredEvent } from '../../lib/events/store/stored-event.js'
import { encodeRecords } from '../../lib/format/encoder.js'
import { mulberry32 } from '../helpers.js'

const T0 = 17_000_000_000_000_000n
const EVERYTHING: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }

/** Events `from`..`from + n - 1`, three to a time (blocks start and end inside a time), ~300-byte texts. */
function events (from: number, n: number, seed: number): StoredEvent[] {
  const rand = mulberry32(seed)
  const out: StoredEvent[] = []
  for (let i = from; i < from + n; i++) {
    const time = T0 + BigInt(Math.floor(i / 3)) * 10n
    out.push({ time, id: newEventIdBytes(time), body: Buffer.from(`{"@time":${time},"i":${i},"pad":"${'x'.repeat(200 + Math.floor(rand() * 100))}","u":"ü"}`) })
  }
  return out
}

async function texts (it: AsyncIterable<Buffer[]>): Promise<string[]> {
  const out: string[] = []
  for await (const batch of it) for (const line of batch) out.push(line.toString())
  return out
}

async function reference (store: EventStore, range: EventRange, descending: boolean, limit?: number): Promise<string[]> {
  const out: string[] = []
  for await (const batch of store.readBatches('kronos', 's', range, { descending, limit })) for (const e of batch) out.push(e.body.toString())
  return out
}

/** Ranges around every block boundary of the store's runs and the memtable's ends, with start_ids there. */
function boundaryRanges (runs: RunInfo[], keys: StoredEvent[]): EventRange[] {
  const ranges: EventRange[] = [EVERYTHING]
  const times = new Set<bigint>()
  for (const run of runs) {
    for (const [, first] of run.blocks) times.add(BigInt(first))
    times.add(BigInt(run.maxTime))
  }
  for (const time of times) {
    for (const d of [-10n, 0n, 10n]) {
      ranges.push({ from: time + d, to: EVERYTHING.to }, { from: EVERYTHING.from, to: time + d })
    }
  }
  // start_ids at each event of a block's first time (three events a time: before, at and after the boundary).
  for (const e of keys) if (times.has(e.time)) ranges.push({ from: 0n, to: EVERYTHING.to, after: e })
  // A few narrow ones inside a run (edge blocks at both ends, whole blocks between).
  for (const [i, e] of keys.entries()) if (i % 401 === 0) ranges.push({ from: e.time, to: e.time + 2000n }, { from: 0n, to: e.time + 2000n, after: e })
  return ranges
}

async function checkAgainstMerge (t: Test, store: EventStore, all: StoredEvent[], what: string): Promise<void> {
  const runs = (JSON.parse(fs.readFileSync(path.join(store.dir, 'index.json'), 'utf8')) as { runs: RunInfo[] }).runs
  let checked = 0
  for (const range of boundaryRanges(runs, all)) {
    for (const descending of [false, true]) {
      const want = await reference(store, range, descending)
      const got = await texts(store.readLines('kronos', 's', range, { descending }))
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        t.same(got, want, `${what}: ${range.from}..${range.to} after ${range.after === undefined ? '-' : `${range.after.time}/${formatEventId(range.after.id)}`}${descending ? ' descending' : ''}`)
        return
      }
      checked++
    }
  }
  // Limits ending at, just before and just after block boundaries, and inside blocks.
  const total = (await reference(store, EVERYTHING, false)).length
  for (const limit of [1, 2, 150, 199, 200, 201, 437, 1000, total - 1, total, total + 1]) {
    for (const descending of [false, true]) {
      const want = await reference(store, EVERYTHING, descending, limit)
      t.same(await texts(store.readLines('kronos', 's', EVERYTHING, { descending, limit })), want, `${what}: limit ${limit}${descending ? ' descending' : ''}`)
    }
  }
  t.pass(`${what}: ${checked} ranges as the merge gives them`)
}

for (const gzip of [false, true]) {
  t.test(`runs in time order and the memtable after them (gzip ${gzip})`, async (t) => {
    const store = await EventStore.open({ dir: t.testdir(), gzip, fsync: false })
    const all = [...events(0, 1500, 1), ...events(1500, 1200, 2), ...events(2700, 700, 3)]
    await store.put('kronos', [{ stream: 's', events: all.slice(0, 1500) }])
    await store.flush()
    await store.put('kronos', [{ stream: 's', events: all.slice(1500, 2700) }])
    await store.flush()
    await store.put('kronos', [{ stream: 's', events: all.slice(2700) }])
    t.equal(store.stats().runs, 2)
    t.same(await texts(store.readLines('kronos', 's', EVERYTHING)), all.map((e) => e.body.toString()), 'every event once, in order')
    await checkAgainstMerge(t, store, all, 'in time order')
    await store.close()
  })
}

t.test('duplicates in one run (across blocks), across runs, and the memtable overlapping a run', async (t) => {
  const store = await EventStore.open({ dir: t.testdir(), fsync: false })
  const a = events(0, 900, 4)
  const b = events(900, 900, 5)
  // A put retried: the run holds each of a's events twice, side by side (a copy pair straddles block boundaries).
  await store.put('kronos', [{ stream: 's', events: a }])
  await store.put('kronos', [{ stream: 's', events: a }])
  await store.flush()
  // b's run, and part of b again in the memtable: a's run is read alone (its copies left out there), b's merged.
  await store.put('kronos', [{ stream: 's', events: b }])
  await store.flush()
  await store.put('kronos', [{ stream: 's', events: b.slice(500, 700) }])
  const all = [...a, ...b]
  t.same(await texts(store.readLines('kronos', 's', EVERYTHING)), all.map((e) => e.body.toString()), 'every event once, in order')
  await checkAgainstMerge(t, store, all, 'copies in a run read alone')
  // The memtable's copies of b become a run overlapping b's; copies of a's last events overlap a's run.
  await store.flush()
  await store.put('kronos', [{ stream: 's', events: a.slice(800) }])
  await checkAgainstMerge(t, store, all, 'copies across runs and the memtable')
  await store.close()
})

t.test('a copy of a key with other id bytes 0..7 is the same event; other ids at one time are not', async (t) => {
  const dir = t.testdir()
  const base = events(0, 900, 6)
  // Same time, same id bytes 8..15, other bytes 0..7: compareKeys() says equal, so a get returns one.
  const twins = base.filter((_, i) => i % 50 === 0).map((e) => {
    const id = Buffer.from(e.id)
    id[0] ^= 0xff
    return { time: e.time, id, body: Buffer.from(e.body.toString().replace('"i"', '"twin"')) }
  })
  const list = [...base, ...twins].sort(compareKeys)
  const run = await writeRun(dir, 'r.shoebox', 'kronos', 's', 0n, list, { gzip: false, fsync: false })
  t.ok(run.blocks.length > 3, `${run.blocks.length} blocks`)
  for (const descending of [false, true]) {
    const merged = await texts(distinctTexts(readRunBlocks(run, EVERYTHING, descending, localReader(dir, run)), descending))
    const lines = await texts(readRunLines(run, EVERYTHING, descending, localReader(dir, run)))
    t.equal(lines.length, base.length, 'one event per key')
    t.same(lines, merged, `as distinct() keeps them${descending ? ', descending' : ''}`)
  }
})

t.test('a damaged record in a block wholly in the range is refused, not sent', async (t) => {
  const dir = t.testdir()
  const run = await writeRun(dir, 'r.shoebox', 'kronos', 's', 0n, events(0, 1500, 7), { gzip: false, fsync: false })
  const file = path.join(dir, run.file)
  const bytes = fs.readFileSync(file)
  // A byte of an event text in the middle of the third block.
  const at = bytes.indexOf('"pad"', run.blocks[2][0] + 5000)
  bytes[at + 10] ^= 0x01
  fs.writeFileSync(file, bytes)
  const sent: string[] = []
  await t.rejects(async () => {
    for await (const batch of readRunLines(run, EVERYTHING, false, localReader(dir, run))) for (const line of batch) sent.push(line.toString())
  }, { code: 'SHOEBOX_BAD_RECORD', message: /event run .*r\.shoebox: at byte \d+: record checksum does not match/ })
  t.ok(sent.length > 0 && sent.length < 1500, `the blocks before it were sent (${sent.length} events)`)
  t.notOk(sent.some((line) => line.includes('y') || !line.startsWith('{"@time":')), 'no damaged text among them (the flipped byte makes an x a y)')
  t.ok(await readBlocksFails(run, dir), 'the event-by-event path refuses it too')
})

t.test('records in another metadata layout read the same, the slow way', async (t) => {
  const dir = t.testdir()
  const list = events(0, 300, 8)
  // Extra metadata, keys in another order: not the run writer's layout, still a readable event record.
  const encode = (part: StoredEvent[]): Buffer => encodeRecords(part.map((e, i) => ({
    metadata: i % 2 === 0 ? [['id', formatEventId(e.id)], ['t', e.time.toString()]] : [['t', e.time.toString()], ['id', formatEventId(e.id)], ['x', 'y']],
    payload: e.body
  })))
  // Two blocks; the second starts with a copy of the first's last event (one key across the boundary).
  const first = encode(list.slice(0, 150))
  const second = encode(list.slice(149))
  fs.writeFileSync(path.join(dir, 'odd.shoebox'), Buffer.concat([first, second]))
  const run: RunInfo = {
    file: 'odd.shoebox', ns: 'kronos', stream: 's', bucket: '0', minTime: list[0].time.toString(), maxTime: list[list.length - 1].time.toString(),
    firstId: formatEventId(list[0].id), lastId: formatEventId(list[list.length - 1].id), count: 301, bytes: first.length + second.length,
    blocks: [[0, list[0].time.toString()], [first.length, list[149].time.toString()]]
  }
  for (const range of [EVERYTHING, { from: list[10].time, to: list[280].time }]) {
    for (const descending of [false, true]) {
      const want = list.filter((e) => e.time >= range.from && e.time <= range.to).map((e) => e.body.toString())
      const got = await texts(readRunLines(run, range, descending, localReader(dir, run)))
      t.same(got, descending ? want.reverse() : want, `${range === EVERYTHING ? 'whole' : 'part'}, descending ${descending}`)
    }
  }
})

t.test('sources are grouped so that no key of a group reaches the next group', async (t) => {
  const list = (times: number[]): MemtableSlice => {
    const table = new Memtable()
    table.add('kronos', 's', PutRows.fromEvents(times.map((n) => ({ time: T0 + BigInt(n), id: Buffer.alloc(16, n), body: Buffer.from(String(n)) }))))
    return table.slice('kronos', 's', EVERYTHING) as MemtableSlice
  }
  const shape = (groups: ReturnType<typeof disjointGroups>): string[][] => groups.map((g) => g.map((s) => `${s.low.time - T0}-${s.high.time - T0}`))
  t.same(shape(disjointGroups([list([20, 30]), list([0, 10]), list([40, 50])].map((l) => memtableSource(l, false)))), [['0-10'], ['20-30'], ['40-50']])
  t.same(shape(disjointGroups([list([0, 10]), list([10, 20]), list([30, 40])].map((l) => memtableSource(l, false)))), [['0-10', '10-20'], ['30-40']], 'an equal key at the ends overlaps')
  t.same(shape(disjointGroups([list([0, 100]), list([10, 20]), list([50, 60]), list([101, 102])].map((l) => memtableSource(l, false)))), [['0-100', '10-20', '50-60'], ['101-102']], 'inside a wide source')
})

async function * distinctTexts (blocks: AsyncIterable<StoredEvent[]>, descending: boolean): AsyncGenerator<Buffer[]> {
  for await (const batch of distinct(blocks, descending ? (a, b) => compareKeys(b, a) : compareKeys)) yield batch.map((e) => e.body)
}

async function readBlocksFails (run: RunInfo, dir: string): Promise<boolean> {
  try {
    for await (const batch of readRunBlocks(run, EVERYTHING, false, localReader(dir, run))) void batch
    return false
  } catch (err) {
    return (err as { code?: string }).code === 'SHOEBOX_BAD_RECORD'
  }
}
