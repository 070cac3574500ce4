/**
 * The server's one-scan stamping: each event of a put body, stamped at the
 * spans the body walk found, is byte for byte what the general stamper
 * (stampEventText, a second scan) makes of the same element with the same
 * time and id: absent, null and duplicate @time/@id, escaped keys, nested
 * @time, empty objects, whitespace, unicode (the non-ASCII path) and ASCII
 * bodies, bodies larger than the scratch buffer; bad @time refused per event.
 */
import t, { type Test } from 'tap'
import { formatEventId, newEventIdBytes } from '../../../lib/events/event-id.js'
import { InvalidEventTimeError, stampEventText } from '../../../lib/events/event-text.js'
import { walkPutBody, type ElementSpans } from '../../../lib/events/server/put-body.js'
import { PutRows } from '../../../lib/events/store/put-rows.js'
import { PutStamper } from '../../../lib/events/server/put-stamper.js'
import type { StoredEvent } from '../../../lib/events/store/stored-event.js'

const TRICKY = [
  '{"a":1,"@time":17000000000000000}',
  '{}',
  '{ \t}',
  '{"@time":null}',
  '{"@time" : null,"a":1}',
  '{"@id":"client","@time":5}',
  '{"@time":5, "@id" :0 }',
  '{"@id":1,"x":"@id"}',
  '{"@id":1,"@time":null}',
  '{"\\u0040time":10,"@id":"c","\\u0040id":null}',
  '{"@time":5,"@time":7}',
  '{"@time":5,"@time":null}',
  '{"\\u0040time":-0}',
  '{"n":{"@time":1.5,"@id":[]},"@time":123456789012345678}',
  '{"a":[1,{"@id":2}],"@id":"x","b":{}}',
  '{"@ti":1,"@idx":2,"time":3,"id":4}'
]

/** Row i of `rows` as an event (read when used: texts are placed by finish()). */
function rowEvent (rows: PutRows, i: number): StoredEvent {
  return {
    get time () { return rows.times[i] },
    get id () { return rows.ids.subarray(16 * i, 16 * i + 16) },
    get body () { return rows.body(i) }
  }
}

/** Stamp element k into the next row; the event it became (throws as the stamper does). */
function add (stamper: PutStamper, spans: ElementSpans, k: number, rows: PutRows): StoredEvent {
  stamper.add(spans, k, rows)
  return rowEvent(rows, rows.count - 1)
}

interface Stamped { element: string, event: StoredEvent | undefined, error: unknown }

function stampBody (elements: string[], pad = ''): Stamped[] {
  const bytes = Buffer.from(`{"events":{"s":[${elements.join(' ,\r\n')}]${pad}}}`)
  const body = walkPutBody(bytes)
  const spans = body.streams?.[0].elements
  if (spans === undefined) throw new Error('no list')
  const stamper = new PutStamper(bytes)
  const rows = new PutRows(spans.length)
  const out: Stamped[] = []
  for (let k = 0; k < spans.length; k++) {
    const element = bytes.toString('utf8', spans.start(k), spans.end(k))
    try {
      out.push({ element, event: add(stamper, spans, k, rows), error: undefined })
    } catch (error) {
      out.push({ element, event: undefined, error })
    }
  }
  stamper.finish()
  return out
}

function check (t: Test, results: Stamped[]): void {
  for (const { element, event, error } of results) {
    if (event === undefined) {
      t.fail(`${element}: ${String(error)}`)
      continue
    }
    const expected = stampEventText(element, { newId: () => formatEventId(event.id), defaultTime: event.time })
    t.equal(event.body.toString('utf8'), expected.text, element)
    t.equal(event.time, expected.time)
    t.ok(event.body.includes(`"${formatEventId(event.id)}"`), 'the id is in the text')
  }
}

t.test('ASCII and unicode bodies: every event as the general stamper makes it, all views of one buffer', async (t) => {
  const ascii = stampBody(TRICKY)
  check(t, ascii)
  const buffers = new Set(ascii.map((r) => r.event?.body.buffer))
  t.equal(buffers.size, 1, 'one allocation for the put\'s texts')
  const unicode = stampBody([...TRICKY, '{"é":"😀\\u00e9","@time":42}', '{"😀":1}'], ',"ü":[]')
  check(t, unicode)
  t.equal(unicode[unicode.length - 2].event?.body.toString(), `{"@id":"${formatEventId(unicode[unicode.length - 2].event?.id ?? Buffer.alloc(16))}","é":"😀\\u00e9","@time":42}`)
})

t.test('a bad @time is refused for that event only; the others are stamped', async (t) => {
  const results = stampBody(['{"@time":1.5}', '{"a":"é","@time":5}', '{"@time":"5"}', `{"@time":1${'0'.repeat(30)}}`, '{"@time":5,"@time":true}', '{"b":2}'])
  t.same(results.map((r) => r.error === undefined ? 'ok' : (r.error as InvalidEventTimeError).rawValue), ['1.5', 'ok', '"5"', `1${'0'.repeat(30)}`, 'true', 'ok'])
  t.ok(results.every((r) => r.error === undefined || r.error instanceof InvalidEventTimeError))
  check(t, results.filter((r) => r.error === undefined))
})

t.test('a put larger than the scratch buffer (several MiB, unicode) is stamped whole, twice in a row', async (t) => {
  for (let round = 0; round < 2; round++) {
    const elements: string[] = []
    for (let i = 0; i < 6000; i++) elements.push(`{"i":${i},"@time":${17_000_000_000_000_000 + i * 7},"pad":"${'ü'.repeat(300 + (i % 50))}"}`)
    const results = stampBody(elements)
    t.equal(results.length, 6000)
    t.ok(results.every((r) => r.event !== undefined && r.event.body.toString() === stampEventText(r.element, { newId: () => formatEventId(r.event?.id ?? Buffer.alloc(16)) }).text))
  }
})

t.test('with keep-ids, an event stamping leaves as sent is a view of the body; the others are stamped', async (t) => {
  const time = 17_645_472_000_000_000n
  const ids = [0, 1, 2, 3].map(() => formatEventId(newEventIdBytes(time)))
  const elements = [
    `{"@time":${time},"a":1, "@id": "${ids[0]}", "b":"${'x'.repeat(2000)}"}`,
    `{"@time":${time},"@id":"${ids[1].toUpperCase()}"}`,
    `{"@time":${time + 1n},"@id":"${ids[2]}"}`,
    `{"@time":null,"@id":"${ids[3]}"}`,
    `{"@id":"${ids[3]}","@time":${time}}`
  ]
  const text = Buffer.from(`{"events":{"s":[${elements.join(',')}]}}`)
  const spans = walkPutBody(text).streams?.[0].elements
  if (spans === undefined) throw new Error('no list')
  const stamper = new PutStamper(text, true)
  const rows = new PutRows(spans.length)
  const events: StoredEvent[] = []
  for (let k = 0; k < spans.length; k++) events.push(add(stamper, spans, k, rows))
  stamper.finish()
  t.equal(events[0].body.toString(), elements[0], 'as sent')
  t.equal(formatEventId(events[0].id), ids[0], 'the id kept')
  t.equal(events[0].body.byteLength, elements[0].length)
  t.equal(events[1].body.toString(), `{"@time":${time},"@id":"${ids[1]}"}`, 'an upper-case id kept, written in lower case')
  t.equal(formatEventId(events[1].id), ids[1])
  t.not(formatEventId(events[2].id), ids[2], 'an id for another time is replaced')
  t.equal(events[3].time > 0n && formatEventId(events[3].id) !== ids[3], true, 'a null @time: stamped now, a new id')
  t.equal(events[4].body.toString(), elements[4], 'as sent (@id first)')
  for (const [i, e] of events.entries()) {
    t.ok(e.body.includes(`"${formatEventId(e.id)}"`), `event ${i}: the id is in the text`)
    t.equal(e.body.toString(), stampEventText(text.toString('utf8', spans.start(i), spans.end(i)), { newId: () => formatEventId(e.id), defaultTime: e.time }).text, `event ${i}: as the general stamper makes it`)
  }
  t.equal(events[0].body.buffer, events[4].body.buffer, 'views of one buffer')
  t.not(events[0].body.buffer, events[1].body.buffer, 'stamped texts are in another')
})

t.test('texts stored as sent are views of the body\'s bytes, in an ASCII body and a non-ASCII one', async (t) => {
  const time = 17_645_472_000_000_000n
  const id = formatEventId(newEventIdBytes(time))
  for (const extra of ['"a":1', '"é":"ü"']) {
    const element = `{"@time":${time},${extra},"@id":"${id}"}`
    const text = `{"events":{"s":[${element},{"b":2}]}}`
    const bytes = Buffer.from(text)
    const spans = walkPutBody(bytes).streams?.[0].elements
    if (spans === undefined) throw new Error('no list')
    const stamper = new PutStamper(bytes, true)
    const rows = new PutRows(spans.length)
    const events = [add(stamper, spans, 0, rows), add(stamper, spans, 1, rows)]
    stamper.finish()
    t.equal(events[0].body.toString(), element, `${extra}: as sent`)
    t.equal(events[0].body.buffer, bytes.buffer, `${extra}: a view of the body's bytes`)
    t.match(events[1].body.toString(), /^\{"@time":\d+,"@id":"[0-9a-f-]{36}","b":2\}$/, `${extra}: the other event stamped`)
  }
})

t.test('views that are less than half of the body are copied out (the memtable holds what it counts)', async (t) => {
  const time = 17_645_472_000_000_000n
  const id = formatEventId(newEventIdBytes(time))
  const element = `{"@time":${time},"@id":"${id}"}`
  const big = `{"pad":"${'x'.repeat(4000)}"}`
  for (const [elements, view] of [[[element, big], false], [[element, element, '{"b":1}'], true]] as const) {
    const text = `{"events":{"s":[${elements.join(',')}]}}`
    const bytes = Buffer.from(text)
    const spans = walkPutBody(bytes).streams?.[0].elements
    if (spans === undefined) throw new Error('no list')
    const stamper = new PutStamper(bytes, true)
    const rows = new PutRows(spans.length)
    const events = elements.map((_, k) => add(stamper, spans, k, rows))
    stamper.finish()
    t.equal(events[0].body.toString(), element, 'as sent')
    t.equal(events[0].body.buffer === bytes.buffer, view, view ? 'most of the body: a view' : 'a small part of the body: copied')
    t.equal(events[1].body.toString(), elements[1] === big ? stampEventText(big, { newId: () => formatEventId(events[1].id) as string, defaultTime: events[1].time }).text : element)
  }
})

t.test('views copied out of a mostly refused body, over several streams, with refused and stamped events between them', async (t) => {
  const time = 17_645_472_000_000_000n
  const id = (): string => formatEventId(newEventIdBytes(time))
  const streams = ['s1', 's2', 's3'].map((name, n) => [name, [
    `{"@time":${time},"n":${n},"@id":"${id()}"}`,
    '{"@time":"not a time"}',
    `{"a":"é${n}"}`,
    `{"@time":${time},"m":"ü${n}","@id":"${id()}"}`,
    `{"refused":"${'x'.repeat(3000)}","@time":1.5}`
  ]] as const)
  const bytes = Buffer.from(`{"events":{${streams.map(([name, list]) => `"${name}":[${list.join(',')}]`).join(',')}}}`)
  const body = walkPutBody(bytes)
  const stamper = new PutStamper(bytes, true)
  const got: Array<[string, StoredEvent]> = []
  for (const [s, stream] of (body.streams ?? []).entries()) {
    const spans = stream.elements
    if (spans === undefined) throw new Error('no list')
    const rows = new PutRows(spans.length)
    for (let k = 0; k < spans.length; k++) {
      try {
        got.push([streams[s][1][k], add(stamper, spans, k, rows)])
      } catch (err) {
        t.ok(err instanceof InvalidEventTimeError, `${stream.name} ${k}: refused`)
      }
    }
  }
  stamper.finish()
  t.equal(got.length, 9)
  for (const [element, event] of got) {
    t.not(event.body.buffer, bytes.buffer, 'copied out')
    if (element.includes('"@id"')) t.equal(event.body.toString(), element, 'as sent')
    else t.equal(event.body.toString(), stampEventText(element, { newId: () => formatEventId(event.id), defaultTime: event.time }).text, 'stamped')
  }
})
