/**
 * Exactly-once puts (kept-event-ids.ts): with the keep-ids header the
 * server keeps an @id valid for the event's @time, so a put sent again
 * after a lost answer is stored once; any other @id, and every @id without
 * the header (Kronos's rule), is replaced.
 */
import t from 'tap'
import { formatEventId, newEventId, newEventIdBytes } from '../../lib/events/event-id.js'
import { KEEP_IDS_HEADER, keptEventId } from '../../lib/events/kept-event-ids.js'
import { prepareEvent, preparedText } from '../../lib/events/ship-event.js'
import type { EventStore } from '../../lib/events/store/event-store.js'
import { get, json, request, start } from './conformance-kit.js'

const TIME = 17_000_000_000_000_123n

t.test('keptEventId accepts only an id a server could have made for the time', async (t) => {
  const id = newEventId(TIME)
  t.same(keptEventId(`"${id}"`, TIME), Buffer.from(id.replace(/-/g, ''), 'hex'), 'valid: kept')
  t.ok(keptEventId(`"${id.toUpperCase()}"`, TIME) !== undefined, 'upper case: kept (written back in lower case)')
  t.equal(keptEventId(`"${id}"`, TIME + 1n), undefined, 'another time')
  t.equal(keptEventId(undefined, TIME), undefined, 'no @id')
  t.equal(keptEventId(id, TIME), undefined, 'not a JSON string')
  t.equal(keptEventId('"\\u0030' + id.slice(1) + '"', TIME), undefined, 'an escaped string is not taken apart')
  t.equal(keptEventId(`"${id.slice(0, 35)}x"`, TIME), undefined, 'not hex')
  const bytes = newEventIdBytes(TIME)
  bytes[8] = 0x40
  t.equal(keptEventId(`"${formatEventId(bytes)}"`, TIME), undefined, 'byte 8 outside 0x80..0x8F')
  const v4 = newEventIdBytes(TIME)
  v4[6] = (v4[6] & 0x0F) | 0x40
  t.equal(keptEventId(`"${formatEventId(v4)}"`, TIME), undefined, 'not version 1')
  t.equal(keptEventId('"ü' + id.slice(1) + '"', TIME), undefined, 'unicode')
})

t.test('the shipper gives each event its @id once, in place of a caller\'s', async (t) => {
  const defaults = { stream: 's', namespace: undefined, library: false as const }
  const a = prepareEvent({ n: 1, '@time': Number(TIME / 1000n) }, defaults)
  t.match(preparedText(a), /^\{"n":1,"@time":17000000000000,? ?"@id": "[0-9a-f-]{36}"\}$/, 'an @id added')
  const idOf = (text: string): string => `"${/"@id": "([0-9a-f-]{36})"/.exec(text)?.[1] ?? ''}"`
  t.ok(keptEventId(idOf(preparedText(a)), TIME / 1000n) !== undefined, 'the quick path\'s id is made for the event\'s own @time')
  for (const time of [TIME, -TIME / 2n, 0n, 7n]) {
    const stamped = preparedText(prepareEvent(`{"@time":${time},"n":1}`, defaults))
    t.ok(keptEventId(idOf(stamped), time) !== undefined, `an id for @time ${time}`)
  }
  const mine = prepareEvent('{"@id": "mine", "n": 2.0}', defaults)
  t.notMatch(preparedText(mine), /mine/, "a caller's @id is replaced")
  t.match(preparedText(mine), /"n": 2\.0/, 'the rest kept as written')
  const nullTime = prepareEvent('{"@time": null, "@id": 1, "a": [1], "@id": "x"}', defaults, () => TIME)
  const ids = [...nullTime.text.matchAll(/"@id": "([0-9a-f-]{36})"/g)].map((m) => m[1])
  t.equal(ids.length, 2, 'every @id member rewritten')
  t.equal(ids[0], ids[1], 'to one id')
  t.match(nullTime.text, new RegExp(`^\\{"@time": ${TIME}, "@id": "${ids[0]}", "a": \\[1\\], "@id": "${ids[0]}"\\}$`), 'a null @time stamped in place, nothing added')
  t.ok(keptEventId(`"${ids[0]}"`, TIME) !== undefined, 'an id a server keeps for that time')
  const twice = [prepareEvent({ n: 1 }, defaults), prepareEvent({ n: 1 }, defaults)]
  t.not(preparedText(twice[0]), preparedText(twice[1]), 'the same object written twice is two events')
})

t.test('with the header a put sent twice is stored once; without it ids are replaced', async (t) => {
  const server = await start(t)
  const ids = [newEventId(TIME), newEventId(TIME), newEventId(TIME + 5n)]
  // 17e15 is above 2^53: write the times exactly.
  const exact = `{"events": {"s": [${ids.map((id, i) => `{"@time": ${i < 2 ? TIME : TIME + 5n}, "@id": "${id.toUpperCase()}", "i": ${i}}`).join(', ')}]}}`
  for (let attempt = 0; attempt < 3; attempt++) {
    const reply = await request(server.url, '/1.0/events/put', { body: exact, headers: { [KEEP_IDS_HEADER]: '1' } })
    t.equal(reply.status, 200)
    t.equal(json(reply)['@success'], true)
  }
  await (server.store as EventStore).flush()
  await request(server.url, '/1.0/events/put', { body: exact, headers: { [KEEP_IDS_HEADER]: '1' } })
  const got = await get(t, server.url, 's', 0, (TIME + 10n).toString())
  t.same(got.map((e) => e['@id']).sort(), [...ids].sort(), 'each id once, across memtable and runs, in lower case')
  t.equal(got.length, 3)

  const plain = await request(server.url, '/1.0/events/put', { body: exact.replace(/"s"/, '"p"') })
  t.equal(plain.status, 200)
  const replaced = await get(t, server.url, 'p', 0, (TIME + 10n).toString())
  t.equal(replaced.length, 3)
  t.ok(replaced.every((e) => !ids.includes(e['@id'] as string)), 'without the header every @id is the server\'s')
})
