/**
 * get() checks what a server answers against what it asked (issue 10): each
 * event's @time within [start_time, end_time] (both inclusive), its @id after
 * start_id when one is given, and the @ids strictly ascending or descending
 * as asked (spec §3.2, §5.3). A buggy or hostile server, or a proxy replaying
 * a cached answer, otherwise fed the consumer events it did not ask for, and
 * the resume after a break (which goes on from the last @id) repeated or
 * skipped events without a word. A violation fails the get after the events
 * before it, typed, naming the URL, the answer's line, the stream and what
 * was wrong, and is never retried (the server would send it again).
 */
import t from 'tap'
import type http from 'node:http'
import { all } from './fixtures/get-all.js'
import { hostile } from './fixtures/hostile-server.js'
import { idAt } from './fixtures/event-ids.js'
import { GetAnswerOrder } from '../../lib/events/get-answer-order.js'

const line = (time: number, n = 1, extra = ''): string => `{"@id":"${idAt(time, n)}","@time":${time}${extra}}`
const times = (events: unknown[]): unknown[] => events.map((e) => {
  const event = typeof e === 'string' ? JSON.parse(e) as { '@time': unknown } : e as { '@time': unknown }
  return event['@time']
})

/** A server whose every get answer is `lines` (CRLF after each), then the end. */
function answering (lines: string[]): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(lines.map((l) => `${l}\r\n`).join(''))
  }
}

interface Case {
  name: string
  order: 'ascending' | 'descending'
  start?: number
  end?: number
  startId?: string
  lines: string[]
  /** Events yielded before the violation (the answer's line after them is the bad one). */
  good: number
  /** What the message says is wrong. */
  wrong: string
}

const cases: Case[] = [
  { name: '@time after end_time', order: 'ascending', lines: [line(1), line(2), line(11)], good: 2, wrong: '@time 11 is after end_time 10' },
  { name: '@time before start_time', order: 'ascending', start: 2, lines: [line(1)], good: 0, wrong: '@time 1 is before start_time 2' },
  { name: '@time after end_time, descending', order: 'descending', lines: [line(12), line(2)], good: 0, wrong: '@time 12 is after end_time 10' },
  { name: 'no @time', order: 'ascending', lines: [line(1), `{"@id":"${idAt(2)}"}`], good: 1, wrong: '@time is missing' },
  { name: 'out of order, ascending', order: 'ascending', lines: [line(1), line(3), line(2), line(4)], good: 2, wrong: `@id ${idAt(2)} is before the last one, ${idAt(3)} (order ascending)` },
  { name: 'out of order, descending', order: 'descending', lines: [line(5), line(3), line(4)], good: 2, wrong: `@id ${idAt(4)} is after the last one, ${idAt(3)} (order descending)` },
  { name: 'ascending answer to a descending get', order: 'descending', lines: [line(1), line(2)], good: 1, wrong: `@id ${idAt(2)} is after the last one, ${idAt(1)} (order descending)` },
  { name: 'a duplicate @id', order: 'ascending', lines: [line(1), line(2), line(2), line(3)], good: 2, wrong: `@id ${idAt(2)} is the same as the last one (order ascending)` },
  { name: 'a duplicate @id, descending', order: 'descending', lines: [line(2), line(2)], good: 1, wrong: `@id ${idAt(2)} is the same as the last one (order descending)` },
  { name: 'before start_id', order: 'ascending', startId: idAt(5), lines: [line(4), line(6)], good: 0, wrong: `@id ${idAt(4)} is not after start_id ${idAt(5)}` },
  { name: 'start_id itself', order: 'ascending', startId: idAt(5), lines: [line(5), line(6)], good: 0, wrong: `@id ${idAt(5)} is not after start_id ${idAt(5)}` },
  { name: 'before start_id, descending (a lower bound there too)', order: 'descending', startId: idAt(5), lines: [line(7), line(6), line(4)], good: 2, wrong: `@id ${idAt(4)} is not after start_id ${idAt(5)}` },
  { name: 'start_id itself, descending', order: 'descending', startId: idAt(5), lines: [line(7), line(5, 2), line(5)], good: 2, wrong: `@id ${idAt(5)} is not after start_id ${idAt(5)}` },
  { name: 'a duplicate @id in a tie', order: 'ascending', lines: [line(3, 2), line(3, 1), line(3, 1)], good: 2, wrong: `@id ${idAt(3, 1)} is the same as the last one (order ascending)` },
  { name: 'an @id of another time than its @time', order: 'ascending', lines: [line(1), `{"@id":"${idAt(2)}","@time":3}`, line(4)], good: 1, wrong: `@id ${idAt(2)} carries time 2, not its @time 3` },
  { name: 'an @id of another time, descending', order: 'descending', lines: [line(9), `{"@time":5,"@id":"${idAt(6)}"}`], good: 1, wrong: `@id ${idAt(6)} carries time 6, not its @time 5` }
]

t.test('get: an answer outside the range or order asked fails after the events before it, typed and named, not retried, in both formats', async (t) => {
  for (const c of cases) {
    const { client, url, requests } = await hostile(t, answering(c.lines))
    for (const format of ['object', 'text'] as const) {
      const before = requests()
      const stream = client.get('s', c.start ?? 0, c.end ?? 10, { order: c.order, startId: c.startId, format })
      const { events, error } = await all(stream)
      const name = `${c.name}, ${format}`
      t.same(times(events), times(c.lines.slice(0, c.good)), `${name}: the events before it`)
      t.equal(stream.yielded, c.good, name)
      t.equal(error?.code, 'SHOEBOX_INVALID_EVENT', name)
      t.equal(error?.message, `POST ${url}/1.0/events/get: line ${c.good + 1} of the answer: stream s, event ${c.good + 1}: ${c.wrong}; ${c.good === 1 ? '1 event' : `${c.good} events`} before it yielded`, name)
      t.equal(requests() - before, 1, `${name}: not asked again`)
    }
  }
})

t.test('get: an @time that is no integer (text, a fraction, null, an object) is refused, in both formats', async (t) => {
  for (const bad of ['"2"', '2.5', 'null', '{"t":2}']) {
    const { client, url } = await hostile(t, answering([line(1), `{"@id":"${idAt(2)}","@time":${bad}}`]))
    const object = await all(client.get('s', 0, 10))
    t.equal(object.events.length, 1, bad)
    t.equal(object.error?.code, 'SHOEBOX_INVALID_EVENT', bad)
    t.equal(object.error?.message, `POST ${url}/1.0/events/get: line 2 of the answer: stream s, event 2: @time ${bad} is not an integer; 1 event before it yielded`)
    const text = await all(client.get('s', 0, 10, { format: 'text' }))
    t.equal(text.events.length, 1, `${bad}, text`)
    // As a text event's @time always was: scanEvent reads it (null as none).
    t.equal(text.error?.code, bad === 'null' ? 'SHOEBOX_INVALID_EVENT' : 'SHOEBOX_INVALID_EVENT_TIME', `${bad}, text`)
  }
})

t.test('get: the range and order hold at their edges: both bounds inclusive, equal times in the server\'s order, big times exact', async (t) => {
  const big = 17962947001234567n
  const answers: Record<string, string[]> = {
    ascending: [line(2, 1), line(2, 2), line(5, 0xfff), line(10, 1), line(10, 2)],
    descending: [line(10, 2), line(10, 1), line(5, 0xfff), line(2, 2), line(2, 1)]
  }
  const { client } = await hostile(t, (_req, res, body) => {
    const asked = JSON.parse(body) as { order: string }
    res.writeHead(200)
    if (body.includes(`"end_time":${big}`)) res.end(`{"@id":"${idAt(big, 1)}","@time":${big}}\r\n{"@id":"${idAt(big, 2)}","@time":${big}}\r\n`)
    else res.end(answers[asked.order].map((l) => `${l}\r\n`).join(''))
  })
  for (const order of ['ascending', 'descending'] as const) {
    for (const format of ['object', 'text'] as const) {
      const { events, error } = await all(client.get('s', 2, 10, { order, format }))
      t.equal(error, undefined, `${order}, ${format}`)
      t.same(times(events), times(answers[order]), `${order}, ${format}`)
    }
  }
  // Within one time the ids come in the server's order (Cassandra's timeuuid order may not be memcmp's, spec §3.2),
  // start_id's time included: only the times are held to the order asked.
  const ties: Record<string, string[]> = {
    ascending: [line(5, 3), line(5, 9), line(5, 1), line(6, 2), line(6, 1)],
    descending: [line(6, 1), line(6, 2), line(5, 9), line(5, 1), line(5, 3)]
  }
  const tied = await hostile(t, (_req, res, body) => {
    res.writeHead(200)
    res.end(ties[(JSON.parse(body) as { order: string }).order].map((l) => `${l}\r\n`).join(''))
  })
  for (const order of ['ascending', 'descending'] as const) {
    for (const format of ['object', 'text'] as const) {
      const tie = await all(tied.client.get('s', 2, 10, { order, format, startId: idAt(5, 2) }))
      t.equal(tie.error, undefined, `ties in the server's order, ${order}, ${format}`)
      t.equal(tie.events.length, 5)
    }
  }
  // Upper-case hex is the same id (compared by digit value, not by character).
  const { events, error } = await all(client.get('s', big, big, { startId: idAt(big, 0).toUpperCase() }))
  t.equal(error, undefined)
  t.same(times(events), [big, big])
})

t.test('get: a resume whose answer breaks the order fails there, after every event before it, once each', async (t) => {
  // Ascending: 1, 2, 3, then the connection breaks; the resumed answer (after 3) goes 5, then 4.
  // Descending: 5, 4, 3, break; the resumed answer (end_time 3) re-sends 3 (dropped), then 2, then 6.
  const answers = {
    ascending: [[line(1), line(2), line(3)], [line(5), line(4)]],
    descending: [[line(5), line(4), line(3)], [line(3), line(2), line(6)]]
  }
  const bodies: Array<Record<string, unknown>> = []
  let asked = 0
  const { client, url, requests } = await hostile(t, (_req, res, body) => {
    const request = JSON.parse(body) as { order: 'ascending' | 'descending' }
    bodies.push(request)
    const [first, second] = answers[request.order]
    res.writeHead(200)
    if (asked++ % 2 === 0) res.write(first.map((l) => `${l}\r\n`).join(''), () => res.destroy())
    else res.end(second.map((l) => `${l}\r\n`).join(''))
  })
  const expected = {
    ascending: { times: [1, 2, 3, 5], wrong: `line 2 of the answer: stream s, event 5: @id ${idAt(4)} is before the last one, ${idAt(5)} (order ascending); 4 events` },
    descending: { times: [5, 4, 3, 2], wrong: `line 3 of the answer: stream s, event 5: @time 6 is after end_time 3; 4 events` }
  }
  for (const order of ['ascending', 'descending'] as const) {
    const before = requests()
    const { events, error } = await all(client.get('s', 0, 10, { order }))
    t.same(times(events), expected[order].times, order)
    t.equal(error?.code, 'SHOEBOX_INVALID_EVENT', order)
    t.equal(error?.message, `POST ${url}/1.0/events/get: ${expected[order].wrong} before it yielded`, order)
    t.equal(requests() - before, 2, `${order}: resumed once, the bad answer not asked again`)
  }
  t.same(bodies.map((b) => [b.start_id, b.end_time]), [[undefined, 10], [idAt(3), 10], [undefined, 10], [undefined, 3]])
})

t.test('get: an answer in the wrong order, then a break: no event repeated, none skipped (main resumed from the wrong place)', async (t) => {
  // The server has 1..5 and answers a descending get in ascending order, breaking after 3 events
  // each time. Resuming from the last @id (end_time 3) read 1, 2 again and never reached 4, 5.
  const stored = [1, 2, 3, 4, 5]
  const { client, requests } = await hostile(t, (_req, res, body) => {
    const asked = JSON.parse(body) as { end_time: number }
    res.writeHead(200)
    res.write(stored.filter((time) => time <= asked.end_time).slice(0, 3).map((time) => `${line(time)}\r\n`).join(''), () => res.destroy())
  })
  const { events, error } = await all(client.get('s', 0, 10, { order: 'descending' }))
  t.same(times(events), [1], 'the first event only: the second is out of order')
  t.equal(error?.code, 'SHOEBOX_INVALID_EVENT')
  t.equal(requests(), 1, 'not resumed')
})

t.test('GetAnswerOrder.timeProblem: number and bigint times against bounds on either side of 2^53, exactly', async (t) => {
  const safe = BigInt(Number.MAX_SAFE_INTEGER)
  const order = new GetAnswerOrder('ascending')
  order.ask({ start: 5n, end: safe, startId: undefined })
  t.equal(order.timeProblem(5), undefined, 'start, inclusive')
  t.equal(order.timeProblem(Number.MAX_SAFE_INTEGER), undefined, 'end, inclusive')
  t.equal(order.timeProblem(4), '@time 4 is before start_time 5')
  t.equal(order.timeProblem(safe + 1n), `@time ${safe + 1n} is after end_time ${safe}`)
  order.ask({ start: safe + 1n, end: 2n ** 60n, startId: undefined })
  t.equal(order.timeProblem(Number.MAX_SAFE_INTEGER), `@time ${Number.MAX_SAFE_INTEGER} is before start_time ${safe + 1n}`, 'a number below a bigint start')
  t.equal(order.timeProblem(2n ** 60n), undefined)
  t.equal(order.timeProblem(2n ** 60n + 1n), `@time ${2n ** 60n + 1n} is after end_time ${2n ** 60n}`)
  order.ask({ start: -(2n ** 60n), end: -(2n ** 55n), startId: undefined })
  t.equal(order.timeProblem(-1), `@time -1 is after end_time ${-(2n ** 55n)}`, 'a number above a negative bigint end')
  t.equal(order.timeProblem(-(2n ** 56n)), undefined)
  order.ask({ start: undefined, end: 10n, startId: 'x' })
  t.equal(order.timeProblem(-(2n ** 60n)), undefined, 'no start_time with a start_id')
  t.equal(order.timeProblem(Number.MIN_SAFE_INTEGER), undefined)
})

t.test('get: an @id whose time is not its @time fails the get there, after the events before it, at Kronos times (above 2^53) too', async (t) => {
  // 2^54 + 4 and 2^54 + 5 are one number to Number(): the check must be exact.
  const base = 2n ** 54n
  const bigLine = (time: bigint, idTime = time): string => `{"@time":${time},"@id":"${idAt(idTime)}","n":1}`
  const lines = [bigLine(base + 1n), bigLine(base + 2n), bigLine(base + 5n, base + 4n), bigLine(base + 6n)]
  const { client, url, requests } = await hostile(t, answering(lines))
  for (const format of ['object', 'text'] as const) {
    const before = requests()
    const stream = client.get('s', base, base + 10n, { format })
    const { events, error } = await all(stream)
    t.same(times(events), [base + 1n, base + 2n].map((time) => format === 'object' ? time : Number(time)), `${format}: the events before it`)
    t.equal(error?.code, 'SHOEBOX_INVALID_EVENT', format)
    t.equal(error?.message, `POST ${url}/1.0/events/get: line 3 of the answer: stream s, event 3: @id ${idAt(base + 4n)} carries time ${base + 4n}, not its @time ${base + 5n}; 2 events before it yielded`, format)
    t.equal(requests() - before, 1, `${format}: not asked again`)
  }
  // Times before 1970 (negative) and the ids' hex digits in upper case are read alike.
  const fine = [-(2n ** 40n) - 7n, -1n, 0n].map((time) => bigLine(time).toUpperCase().replace('@TIME', '@time').replace('@ID', '@id').replace('"N"', '"n"'))
  const ok = await hostile(t, answering(fine))
  const { events, error } = await all(ok.client.get('s', -(2n ** 41n), 10, { format: 'object' }))
  t.equal(error, undefined, 'matching ids pass')
  t.equal(events.length, 3)
})
