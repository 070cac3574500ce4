/**
 * The log's and the runs' records, encoded straight from event bodies, are
 * byte for byte the records the store wrote before (encodeRecords with
 * metadata pairs), so files written by either are read by both: unicode
 * metadata and payloads, ids with and without their text, many groups, and
 * a group large enough to need more than one encoder slab's worth.
 */
import t from 'tap'
import { encodeRecords } from '../../lib/format/encoder.js'
import { readRecord } from '../../lib/format/codec.js'
import type { ShoeboxRecord } from '../../lib/record.js'
import { encodeEventRecords } from '../../lib/events/store/event-records.js'
import { formatEventId, newEventIdBytes } from '../../lib/events/event-id.js'
import type { StoredEvent } from '../../lib/events/store/stored-event.js'

function events (n: number, bodySize: (i: number) => number): StoredEvent[] {
  const out: StoredEvent[] = []
  for (let i = 0; i < n; i++) {
    const time = (i % 3 === 0 ? -1n : 1n) * (17_000_000_000_000_000n + BigInt(i))
    const id = newEventIdBytes(time)
    out.push({ time, id, idText: i % 2 === 0 ? formatEventId(id) : undefined, body: Buffer.from(JSON.stringify({ i, s: 'é😀x'.repeat(bodySize(i)) })) })
  }
  return out
}

function reference (ns: string | undefined, stream: string, list: StoredEvent[]): Buffer {
  return encodeRecords(list.map((e) => ({
    metadata: [...(ns === undefined ? [] : [['ns', ns], ['s', stream]]), ['t', e.time.toString()], ['id', e.idText ?? formatEventId(e.id)]] as Array<[string, string]>,
    payload: e.body
  })))
}

t.test('log records (ns, s, t, id) equal the pairs layout, over several groups', async (t) => {
  const a = events(500, (i) => i % 40)
  const b = events(3, () => 0)
  const got = encodeEventRecords([{ prefix: ['ns', 'kronos', 's', 'web.click'], events: a }, { prefix: ['ns', 'nämespace', 's', 'ström'], events: b }])
  t.ok(got.equals(Buffer.concat([reference('kronos', 'web.click', a), reference('nämespace', 'ström', b)])))
})

t.test('run records (t, id) equal the pairs layout; an empty list is no bytes; huge bodies fit', async (t) => {
  const list = events(50, (i) => i === 7 ? 300_000 : i)
  const got = encodeEventRecords([{ prefix: [], events: list }])
  t.ok(got.equals(reference(undefined, '', list)))
  t.equal(encodeEventRecords([]).length, 0)
  t.equal(encodeEventRecords([{ prefix: ['ns', 'x', 's', 'y'], events: [] }]).length, 0)
  const back = readAll(got)
  t.equal(back.length, 50)
  t.equal(back[7].metadata.t, list[7].time.toString())
  t.ok(back[7].payload.equals(list[7].body))
})

t.test('calls share one encoder: a block stays as it was after later calls, and a refused record leaves nothing behind', async (t) => {
  const list = events(20, (i) => i)
  const block = encodeEventRecords([{ prefix: [], events: list }])
  const copy = Buffer.from(block)
  for (let i = 0; i < 40; i++) encodeEventRecords([{ prefix: [], events: events(3, () => 10_000) }])
  t.ok(block.equals(copy), 'the first block is untouched by the calls after it')
  const huge: StoredEvent = { time: 1n, id: newEventIdBytes(1n), body: Buffer.alloc(64 * 1024 * 1024, 0x20) }
  t.throws(() => encodeEventRecords([{ prefix: [], events: [...list, huge] }]), { code: 'SHOEBOX_INVALID_RECORD' })
  const next = encodeEventRecords([{ prefix: [], events: list.slice(0, 2) }])
  t.ok(next.equals(reference(undefined, '', list.slice(0, 2))), 'only the next call\'s records')
})

function readAll (buf: Buffer): ShoeboxRecord[] {
  const out: ShoeboxRecord[] = []
  for (let at = 0; at < buf.length;) {
    const r = readRecord(buf, at, buf.length, 64 * 1024 * 1024)
    if (r.kind !== 'record') throw new Error(`not a record at ${at}`)
    out.push(r.record)
    at += r.size
  }
  return out
}
