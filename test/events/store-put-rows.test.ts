/**
 * A put's rows (store/put-rows.ts) into the memtable: the same events, in
 * the same order, as the event objects they stand for (PutRows.fromEvents), with times
 * below zero, above 2^53 and equal (ids differing in bytes 8..15 only),
 * texts in two buffers (a body and a stamped copy, at offsets inside their
 * ArrayBuffers). Also the log's record of rows decodes to those events.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Memtable } from '../../lib/events/store/memtable.js'
import { decodePutRecord, encodePutRecords } from '../../lib/events/store/put-records.js'
import { PutRows } from '../../lib/events/store/put-rows.js'
import type { StoredEvent } from '../../lib/events/store/stored-event.js'
import { readRecord } from '../../lib/format/codec.js'
import { mulberry32 } from '../helpers.js'

const keyed = (list: readonly StoredEvent[]): string[] => list.map((e) => `${e.time}:${e.id.toString('hex')}:${e.body.toString()}`)
const ALL = { from: -(2n ** 62n), to: 2n ** 62n }

/** n events as rows whose texts lie in two buffers (each a view at an offset), and as objects. */
function put (n: number, seed: number): { rows: PutRows, events: StoredEvent[] } {
  const rand = mulberry32(seed)
  const body = Buffer.concat([Buffer.from('pad'), Buffer.from(Array.from({ length: n }, (_, i) => `{"b":${i},"ü":1}`).join(''))]).subarray(3)
  const stamped = Buffer.concat([Buffer.from('xx'), Buffer.from(Array.from({ length: n }, (_, i) => `{"s":${i}}`).join(''))]).subarray(2)
  const rows = new PutRows(n)
  rows.memory.push(body, stamped, Buffer.from('unused'))
  const events: StoredEvent[] = []
  let atBody = 0
  let atStamped = 0
  for (let i = 0; i < n; i++) {
    const inBody = rand() < 0.5
    const text = inBody ? `{"b":${i},"ü":1}` : `{"s":${i}}`
    const size = Buffer.byteLength(text)
    const at = inBody ? atBody : atStamped
    if (inBody) atBody += Buffer.byteLength(`{"b":${i},"ü":1}`)
    else atStamped += size
    const time = BigInt(Math.floor(rand() * 20) - 5) * 2n ** 54n + BigInt(Math.floor(rand() * 3))
    const id = randomBytes(16)
    rows.times[i] = time
    id.copy(rows.ids, 16 * i)
    rows.where[3 * i] = inBody ? 0 : 1
    rows.where[3 * i + 1] = at
    rows.where[3 * i + 2] = size
    events.push({ time, id, body: (inBody ? body : stamped).subarray(at, at + size) })
  }
  rows.count = n
  return { rows, events }
}

t.test('rows made by a put give the memtable what rows made from the event objects give it', async (t) => {
  for (const seed of [1, 2, 3]) {
    const byRows = new Memtable()
    const byEvents = new Memtable()
    for (let p = 0; p < 5; p++) {
      const { rows, events } = put(50 + p * 13, seed * 10 + p)
      t.same(keyed(Array.from({ length: rows.count }, (_, i) => ({ time: rows.times[i], id: rows.ids.subarray(16 * i, 16 * i + 16), body: rows.body(i) }))), keyed(events), 'rows hold the events')
      byRows.add('kronos', 's', rows)
      byEvents.add('kronos', 's', PutRows.fromEvents(events))
    }
    t.same(keyed(byRows.select('kronos', 's', ALL)), keyed(byEvents.select('kronos', 's', ALL)), `seed ${seed}: same events, same order`)
    t.equal(byRows.bytes, byEvents.bytes, 'same size counted')
  }
})

t.test('rows out of time order (below zero, above 2^53) come back sorted', async (t) => {
  const rows = new PutRows(3)
  const body = Buffer.from('{"a":1}{"a":2}{"a":3}')
  rows.memory.push(body)
  for (const [i, time] of [5n, -(2n ** 55n), 2n ** 55n].entries()) {
    rows.times[i] = time
    rows.ids.fill(i, 16 * i, 16 * i + 16)
    rows.where.set([0, 7 * i, 7], 3 * i)
  }
  rows.count = 3
  const table = new Memtable()
  table.add('kronos', 's', rows)
  t.same(table.select('kronos', 's', ALL).map((e) => e.time), [-(2n ** 55n), 5n, 2n ** 55n])
  t.same(table.select('kronos', 's', ALL).map((e) => e.body.toString()), ['{"a":2}', '{"a":1}', '{"a":3}'])
})

t.test('the log record of rows decodes to the same events', async (t) => {
  const { rows, events } = put(200, 9)
  const buf = encodePutRecords('kronos', [{ stream: 's', rows }, { stream: 'empty', rows: new PutRows(0) }])
  const r = readRecord(buf, 0, buf.length, buf.length)
  if (r.kind !== 'record') throw new Error(r.kind)
  t.equal(r.size, buf.length, 'one record: the empty group has none')
  t.same(keyed(decodePutRecord(r.record.metadata, r.record.payload)), keyed(events))
})
