/**
 * The log's put records (put-records.ts): one record per put and stream
 * decodes back to exactly its events (times above 2^53 and negative, unicode
 * and empty texts, many events); a table that does not match its payload is
 * SHOEBOX_BAD_RECORD. And recovery: a log written in the older layout (one
 * record per event, made here by the encoder that wrote it, which runs still
 * use) replays whole, also when this version's put records follow it in the
 * same file, with a delete between them.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { readRecord } from '../../lib/format/codec.js'
import { encodeRecords } from '../../lib/format/encoder.js'
import { formatEventId } from '../../lib/events/event-id.js'
import { EventStore } from '../../lib/events/store/event-store.js'
import { encodeEventRecords } from '../../lib/events/store/event-records.js'
import { decodePutRecord, encodePutRecords, isPutRecord } from '../../lib/events/store/put-records.js'
import { compareKeys, type EventRange, type StoredEvent } from '../../lib/events/store/stored-event.js'

function event (time: bigint, text: string): StoredEvent {
  const id = randomBytes(16)
  id[8] = (id[8] | 0x80) & 0x8f
  return { time, id, body: Buffer.from(text) }
}

const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }
const keyed = (list: StoredEvent[]): string[] => list.map((e) => `${e.time}:${e.id.toString('hex')}:${e.body.toString()}`)

function records (buf: Buffer): Array<{ metadata: Record<string, string>, payload: Buffer }> {
  const out = []
  for (let at = 0; at < buf.length;) {
    const r = readRecord(buf, at, buf.length, buf.length)
    if (r.kind !== 'record') throw new Error(`record at ${at}: ${r.kind}`)
    out.push({ metadata: r.record.metadata, payload: r.record.payload })
    at += r.size
  }
  return out
}

async function all (store: EventStore, stream: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  for await (const e of store.read('kronos', stream, everything)) out.push(e)
  return out
}

t.test('a put record per stream decodes back to its events, byte for byte', async (t) => {
  const a = Array.from({ length: 1000 }, (_, i) => event(17_645_472_000_000_000n + BigInt(i) * 9_007_199_254_740_993n % 1000n, i % 7 === 0 ? '' : `{"i":${i},"s":"é😀${'x'.repeat(i % 50)}"}`))
  const b = [event(-5n, '{}'), event(2n ** 59n, '{"big":123456789012345678901}')]
  const buf = encodePutRecords('nämespace', [{ stream: 'web.click', events: a }, { stream: 'empty', events: [] }, { stream: 'ström', events: b }])
  const got = records(buf)
  t.same(got.map((r) => r.metadata), [{ ns: 'nämespace', s: 'web.click', n: '1000' }, { ns: 'nämespace', s: 'ström', n: '2' }], 'one record per stream with events')
  t.ok(got.every((r) => isPutRecord(r.metadata)))
  t.same(keyed(decodePutRecord(got[0].metadata, got[0].payload)), keyed(a))
  t.same(keyed(decodePutRecord(got[1].metadata, got[1].payload)), keyed(b))
  t.equal(encodePutRecords('kronos', [{ stream: 's', events: [] }]).length, 0, 'nothing to log: no bytes')
})

t.test('a stream past the record payload limit goes on in more records, an event never split', async (t) => {
  const a = Array.from({ length: 50 }, (_, i) => event(BigInt(i), `{"i":${i}}`))
  // Event 20 alone is larger than the limit: it gets a record of its own.
  a[20] = event(20n, `{"big":"${'x'.repeat(400)}"}`)
  const buf = encodePutRecords('kronos', [{ stream: 's', events: a }, { stream: 't', events: a.slice(0, 2) }], 200)
  const got = records(buf)
  t.ok(got.length > 3, `${got.length} records`)
  t.ok(got.every((r) => r.payload.length <= 200 || r.metadata.n === '1'), 'each within the limit, or one event')
  t.same(got.map((r) => r.metadata.s), [...got.slice(0, -1).map(() => 's'), 't'])
  t.same(keyed(got.filter((r) => r.metadata.s === 's').flatMap((r) => decodePutRecord(r.metadata, r.payload))), keyed(a), 'together, every event in order')
  t.same(keyed(decodePutRecord(got[got.length - 1].metadata, got[got.length - 1].payload)), keyed(a.slice(0, 2)))
})

t.test('texts that are views at odd offsets of shared memory, and a put past the 1 MiB scratch then a small one, decode byte for byte', async (t) => {
  const shared = Buffer.from('#' + Array.from({ length: 3000 }, (_, i) => `{"i":${i},"pad":"${'ü'.repeat(i % 200)}"}`).join(','))
  const views: StoredEvent[] = []
  for (let at = 1, i = 0; at < shared.length; i++) {
    const end = shared.indexOf(',', at) === -1 ? shared.length : shared.indexOf(',', at)
    views.push({ ...event(17_000_000_000_000_000n + BigInt(i), ''), body: shared.subarray(at, end) })
    at = end + 1
  }
  const huge = Array.from({ length: 5 }, (_, i) => event(BigInt(i), `{"big":"${'z'.repeat(400_000)}"}`))
  for (const list of [views, huge, views.slice(0, 3)]) {
    const [record] = records(encodePutRecords('kronos', [{ stream: 's', events: list }]))
    t.same(keyed(decodePutRecord(record.metadata, record.payload)), keyed(list), `${list.length} events`)
  }
})

t.test('puts share one encoder: a put\'s records stay as they were after later puts, and a refused record leaves nothing behind', async (t) => {
  const first = [event(1n, '{"a":1}'), event(2n, '{"b":"é"}')]
  const buf = encodePutRecords('kronos', [{ stream: 's', events: first }])
  const copy = Buffer.from(buf)
  // Enough later puts to fill the encoder's slab and go on into the next one.
  for (let i = 0; i < 40; i++) encodePutRecords('kronos', [{ stream: 't', events: [event(BigInt(i), `{"pad":"${'x'.repeat(40_000)}"}`)] }])
  t.ok(buf.equals(copy), 'the first put\'s bytes are untouched')
  // A stream whose record is over the 64 MiB record limit: the put is refused, and the stream before it must not leak into the next put.
  const huge = { time: 3n, id: Buffer.alloc(16, 0x80), body: Buffer.alloc(64 * 1024 * 1024, 0x20) }
  t.throws(() => encodePutRecords('kronos', [{ stream: 'before', events: first }, { stream: 'huge', events: [huge] }]), { code: 'SHOEBOX_INVALID_RECORD' })
  const next = records(encodePutRecords('kronos', [{ stream: 'after', events: first }]))
  t.same(next.map((r) => r.metadata.s), ['after'], 'only the next put\'s record')
  t.same(keyed(decodePutRecord(next[0].metadata, next[0].payload)), keyed(first))
})

t.test('a table that does not match its payload is SHOEBOX_BAD_RECORD', async (t) => {
  const [r] = records(encodePutRecords('kronos', [{ stream: 's', events: [event(1n, '{"a":1}'), event(2n, '{"b":2}')] }]))
  t.throws(() => decodePutRecord({ ...r.metadata, n: '3' }, r.payload), { code: 'SHOEBOX_BAD_RECORD' })
  t.throws(() => decodePutRecord({ ...r.metadata, n: '1' }, r.payload), { code: 'SHOEBOX_BAD_RECORD' }, 'bytes left over')
  t.throws(() => decodePutRecord({ ...r.metadata, n: 'x' }, r.payload), { code: 'SHOEBOX_BAD_RECORD' })
  t.throws(() => decodePutRecord(r.metadata, r.payload.subarray(0, r.payload.length - 1)), { code: 'SHOEBOX_BAD_RECORD' }, 'a text cut short')
})

t.test('a log in the older layout (one record per event) replays whole, with put records after it', async (t) => {
  const dir = t.testdir()
  const old = [event(3n, '{"old":1}'), event(1n, '{"old":2,"ü":"ß"}'), event(2n, '{"old":3}')]
  const oldOther = [event(7n, '{"other":1}')]
  // What a server before put records wrote: the per-event layout, with ns and s in front.
  const oldLog = encodeEventRecords([{ prefix: ['ns', 'kronos', 's', 's'], events: old }, { prefix: ['ns', 'kronos', 's', 'o'], events: oldOther }])
  t.same(records(oldLog).map((r) => Object.keys(r.metadata)), [['ns', 's', 't', 'id'], ['ns', 's', 't', 'id'], ['ns', 's', 't', 'id'], ['ns', 's', 't', 'id']])
  t.equal(records(oldLog)[0].metadata.id, formatEventId(old[0].id))
  // ...then a delete of time 2, in the same file.
  const del = encodeRecords([{ metadata: [['op', 'delete'], ['ns', 'kronos'], ['s', 's'], ['from', '2'], ['to', '2']], payload: '' }])
  fs.mkdirSync(path.join(dir, 'wal'), { recursive: true })
  const wal = path.join(dir, 'wal', '0000000000.shoebox')
  fs.writeFileSync(wal, Buffer.concat([oldLog, del]))

  let store = await EventStore.open({ dir })
  t.equal(store.stats().replay.records, 5)
  t.same(keyed(await all(store, 's')), keyed([old[1], old[0]]), 'old records replayed, the delete applied')
  t.same(keyed(await all(store, 'o')), keyed(oldOther))
  // This version continues the same file with put records; a crash (no close), and both layouts replay.
  const fresh = [event(2n, '{"new":1}'), event(9n, '{"new":2}')]
  await store.put('kronos', [{ stream: 's', events: fresh }])
  t.equal(fs.readdirSync(path.join(dir, 'wal')).length, 1, 'appended to the old file')
  store = await EventStore.open({ dir })
  t.same(keyed(await all(store, 's')), keyed([old[1], old[0], ...fresh].sort(compareKeys)))
  t.same(store.streams('kronos'), ['o', 's'])
  await store.close()
  store = await EventStore.open({ dir })
  t.same(keyed(await all(store, 's')), keyed([old[1], old[0], ...fresh].sort(compareKeys)), 'after the flush at close')
  await store.close()
})
