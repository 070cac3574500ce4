/**
 * The memtable's columns against a plain list: events added in any order
 * (equal keys included, kept in the order added) come back sorted by select
 * and by the flush's batches, ranges (inclusive, start_id) filter exactly,
 * texts lying in one shared buffer or many come back byte for byte, and a
 * remove takes exactly the events a select gave it, not ones with the same
 * key added later. Also as the columns grow (from the first put's size), and
 * the size counts each stream as well as its events. A get's slice gives
 * what select gives, in both orders (its texts one per key), and keeps
 * giving it after later puts, growth and deletes.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Memtable, type MemtableSlice } from '../../lib/events/store/memtable.js'
import { distinct } from '../../lib/events/store/merge.js'
import { PutRows } from '../../lib/events/store/put-rows.js'
import { compareKeys, inRange, type EventRange, type StoredEvent } from '../../lib/events/store/stored-event.js'
import { mulberry32 } from '../helpers.js'

const keyed = (list: readonly StoredEvent[]): string[] => list.map((e) => `${e.time}:${e.id.toString('hex')}:${e.body.toString()}`)

/** A slice's events, all its blocks, in ascending order (none: no slice). */
async function sliced (slice: MemtableSlice | undefined, descending = false): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  if (slice !== undefined) for await (const block of slice.blocks(descending)) out.push(...block)
  return descending ? out.reverse() : out
}

async function slicedLines (slice: MemtableSlice | undefined, descending: boolean): Promise<string[]> {
  const out: string[] = []
  if (slice !== undefined) for await (const block of slice.lines(descending)) out.push(...block.map((b) => b.toString()))
  return out
}

async function distinctTexts (list: StoredEvent[], descending: boolean): Promise<string[]> {
  const order = descending ? (a: StoredEvent, b: StoredEvent) => compareKeys(b, a) : compareKeys
  const out: string[] = []
  async function * one (): AsyncGenerator<StoredEvent[]> { yield descending ? [...list].reverse() : list }
  for await (const batch of distinct(one(), order)) out.push(...batch.map((e) => e.body.toString()))
  return out
}

function events (n: number, seed: number): StoredEvent[] {
  const rand = mulberry32(seed)
  // Texts as views of one shared buffer, as a put's are; every fifth its own buffer.
  const shared = Buffer.from(Array.from({ length: n }, (_, i) => `{"i":${i},"ü":"${'x'.repeat(i % 9)}"}`).join(''))
  const out: StoredEvent[] = []
  let at = 0
  for (let i = 0; i < n; i++) {
    const text = `{"i":${i},"ü":"${'x'.repeat(i % 9)}"}`
    const size = Buffer.byteLength(text)
    const body = i % 5 === 0 ? Buffer.from(text) : shared.subarray(at, at + size)
    at += size
    const id = randomBytes(16)
    // A few times repeat, with ids that differ only in bytes 8..15, and below zero / above 2^53.
    const time = BigInt(Math.floor(rand() * 40) - 5) * 2n ** 54n
    out.push({ time, id, body })
  }
  return out
}

t.test('select and the flush batches give every event sorted, equal keys in the order added', async (t) => {
  const table = new Memtable()
  const list = events(1000, 3)
  const dup = { ...list[7], body: Buffer.from('{"again":1}') }
  for (let i = 0; i < list.length; i += 37) table.add('kronos', 's', PutRows.fromEvents(list.slice(i, i + 37)))
  table.add('kronos', 's', PutRows.fromEvents([dup]))
  const expect = [...list, dup].sort(compareKeys)
  const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }
  t.same(keyed(table.select('kronos', 's', everything)), keyed(expect))
  const flushed = [...table.streams()]
  t.same(flushed.map((s) => [s.ns, s.stream]), [['kronos', 's']])
  const batches = [...flushed[0].batches]
  t.ok(batches.length > 0 && batches.every((b) => b.length <= 1024))
  t.same(keyed(batches.flat()), keyed(expect))
  t.same(table.select('kronos', 'other', everything), [])
  t.equal(table.select('other', 's', everything).length, 0)
})

t.test('ranges: inclusive times, and strictly after a start key', async (t) => {
  const table = new Memtable()
  const list = events(300, 5)
  table.add('kronos', 's', PutRows.fromEvents(list))
  const sorted = [...list].sort(compareKeys)
  const ranges: EventRange[] = [
    { from: 0n, to: 2n ** 56n },
    { from: 2n ** 55n, to: 2n ** 55n },
    { from: 5n, to: 4n },
    { from: 0n, to: 2n ** 60n, after: sorted[100] },
    { from: 0n, to: sorted[200].time, after: { time: sorted[100].time, id: Buffer.alloc(16, 0xff) } }
  ]
  for (const range of ranges) {
    const want = keyed(sorted.filter((e) => inRange(e, range)))
    t.same(keyed(table.select('kronos', 's', range)), want)
    t.same(keyed(await sliced(table.slice('kronos', 's', range))), want, 'the slice, ascending')
    t.same(keyed(await sliced(table.slice('kronos', 's', range), true)), want, 'the slice, descending')
  }
  t.equal(table.slice('kronos', 's', { from: 5n, to: 4n }), undefined, 'an empty range has no slice')
  t.equal(table.slice('kronos', 'other', { from: 0n, to: 1n }), undefined)
})

t.test("a slice's texts: one per key, the first copy in the read's order, across block boundaries", async (t) => {
  const table = new Memtable()
  // 3000 events, each key twice (the second copy a different text), both orders of adding.
  const list = events(3000, 17)
  const copies = list.map((e) => ({ ...e, body: Buffer.from(`{"copy":${e.body.toString()}}`) }))
  table.add('kronos', 's', PutRows.fromEvents(list.slice(0, 1500)))
  table.add('kronos', 's', PutRows.fromEvents(copies))
  table.add('kronos', 's', PutRows.fromEvents(list.slice(1500)))
  const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }
  const selected = table.select('kronos', 's', everything)
  t.equal(selected.length, 6000)
  for (const descending of [false, true]) {
    const got = await slicedLines(table.slice('kronos', 's', everything), descending)
    t.equal(got.length, 3000, `one per key, descending ${descending}`)
    t.same(got, await distinctTexts(selected, descending), `as distinct() over select()'s events, descending ${descending}`)
  }
})

t.test('a slice is fixed when taken: later puts (growing the columns, unsorting them) and deletes do not show', async (t) => {
  const table = new Memtable()
  const list = events(400, 19)
  table.add('kronos', 's', PutRows.fromEvents(list.slice(0, 100)))
  const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }
  // One event already deleted before the slice: it stays out.
  table.remove('kronos', 's', new Set(table.select('kronos', 's', everything).slice(0, 1)))
  const before = keyed(table.select('kronos', 's', everything))
  const slice = table.slice('kronos', 's', everything)
  for (let i = 100; i < 400; i += 50) table.add('kronos', 's', PutRows.fromEvents(list.slice(i, i + 50)))
  table.remove('kronos', 's', new Set(table.select('kronos', 's', { from: 0n, to: 2n ** 56n })))
  t.not(keyed(table.select('kronos', 's', everything)), before, 'the table changed')
  t.same(keyed(await sliced(slice)), before, 'the slice did not')
  t.same(keyed(await sliced(slice, true)), before, 'in either order')
  // A slice taken after the delete leaves the deleted events out.
  const after = table.slice('kronos', 's', everything)
  const left = keyed(table.select('kronos', 's', everything))
  t.ok(left.length > 100 && left.length < 399)
  t.same(keyed(await sliced(after)), left)
  table.remove('kronos', 's', new Set(table.select('kronos', 's', everything)))
  t.equal(table.slice('kronos', 's', everything), undefined, 'nothing left, no slice')
  t.same(keyed(await sliced(after)), left, 'a slice taken before still reads its events')
})

t.test('remove takes exactly what select gave; a later event with the same key stays', async (t) => {
  const table = new Memtable()
  const list = events(200, 9)
  table.add('kronos', 's', PutRows.fromEvents(list))
  const range: EventRange = { from: 0n, to: 2n ** 56n }
  const victims = new Set(table.select('kronos', 's', range))
  t.ok(victims.size > 10)
  const before = table.bytes
  const late = { ...[...victims][0], body: Buffer.from('{"late":1}') }
  table.add('kronos', 's', PutRows.fromEvents([late]))
  table.remove('kronos', 's', victims)
  table.remove('kronos', 's', victims)
  const left = [...list.filter((e) => !inRange(e, range)), late].sort(compareKeys)
  t.same(keyed(table.select('kronos', 's', { from: -(2n ** 62n), to: 2n ** 62n })), keyed(left))
  t.ok(table.bytes < before, 'their bytes no longer counted')
  // Objects not from this table's select remove nothing.
  table.remove('kronos', 's', new Set(left.slice(0, 3)))
  t.equal(table.select('kronos', 's', { from: -(2n ** 62n), to: 2n ** 62n }).length, left.length)
  const all = new Set(table.select('kronos', 's', { from: -(2n ** 62n), to: 2n ** 62n }))
  table.remove('kronos', 's', all)
  t.equal(table.empty, true, 'a stream with nothing left is gone')
  t.equal(table.bytes, 0)
})

t.test('every stream counts in the size: a put naming many streams fills the memtable, as its memory does', async (t) => {
  const table = new Memtable()
  const list = events(5000, 11)
  for (const [i, e] of list.entries()) table.add('kronos', `s${i}`, PutRows.fromEvents([e]))
  // ~1 KB a stream (its columns and map entry), not just each event's 64 bytes and text.
  t.ok(table.bytes >= 5000 * 1024, `${table.bytes} bytes counted for 5000 one-event streams`)
  const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }
  for (let i = 0; i < list.length; i++) table.remove('kronos', `s${i}`, new Set(table.select('kronos', `s${i}`, everything)))
  t.equal(table.empty, true)
  t.equal(table.bytes, 0, 'and no longer once they are gone')
})

t.test('a stream grown one event at a time (its columns sized by its first put, then doubled)', async (t) => {
  const table = new Memtable()
  const list = events(300, 13)
  for (const e of list) table.add('kronos', 's', PutRows.fromEvents([e]))
  t.same(keyed(table.select('kronos', 's', { from: -(2n ** 62n), to: 2n ** 62n })), keyed([...list].sort(compareKeys)))
})

t.test("streams of one event share their columns' buffers (each had three of its own), and still sort apart", async (t) => {
  const table = new Memtable()
  const list = events(3000, 17)
  // Every stream's columns after the first lie at an offset in a shared buffer: two events out of order in each.
  for (let i = 0; i < list.length; i += 2) table.add('kronos', `s${i}`, PutRows.fromEvents([list[i + 1], list[i]]))
  const buffers = new Set<ArrayBufferLike>()
  for (const { stream, batches } of table.streams()) {
    const got = [...batches].flat()
    const i = Number(stream.slice(1))
    t.same(keyed(got), keyed([list[i], list[i + 1]].sort(compareKeys)), stream)
    for (const e of got) buffers.add(e.id.buffer)
  }
  // 1,500 streams of 80 bytes of columns each: two 64 KiB slabs (1,500 buffers before).
  t.ok(buffers.size <= 2, `${buffers.size} buffers hold the ids of 1,500 streams`)
  const rows = Array.from({ length: 1000 }, () => new PutRows(1))
  t.ok(new Set(rows.map((r) => r.ids.buffer)).size <= 2, "a put's rows of 1,000 one-event streams share their buffers too")
})
