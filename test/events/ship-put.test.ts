/** The put request's pure parts: URL, body, and what an answer means per event. */
import t from 'tap'
import { Batch } from '../../lib/events/ship-batcher.js'
import { PutError, putBody, putUrl, readAnswer, safeUrl } from '../../lib/events/ship-put.js'

function batch (stream: string, texts: string[], namespace?: string): Batch {
  const b = new Batch(stream, namespace, stream, 0)
  for (const text of texts) b.append(text, undefined, undefined, undefined, undefined)
  return b
}

t.test('putUrl: /1.0/events/put under the base, a trailing slash dropped, query and fragment too', async (t) => {
  t.equal(putUrl('http://h:9191').href, 'http://h:9191/1.0/events/put')
  t.equal(putUrl('http://h:9191/').href, 'http://h:9191/1.0/events/put')
  t.equal(putUrl('https://h/kronos//?x=1#y').href, 'https://h/kronos/1.0/events/put')
  t.equal(safeUrl(putUrl('http://me:pw@h/')), 'http://h/1.0/events/put', 'no credentials in messages')
  // A URL that does not parse (a port past 65535, a lost ':') is refused without its user name and password.
  for (const bad of ['http://me:sEcReT@h:99999', 'http//me:sEcReT@h']) {
    t.throws(() => putUrl(bad), { code: 'SHOEBOX_BAD_URL', message: /^not a URL: "http:?\/\/\*\*\*@h(:99999)?"$/ }, bad)
    try { putUrl(bad) } catch (err) { t.notMatch(String((err as Error).stack), /sEcReT/, `${bad}: not in the stack either`) }
  }
})

t.test('putBody: json.dumps separators, event texts as they are, namespace only when set', async (t) => {
  t.equal(putBody(batch('s', ['{"a":2.0}', '{"b":12345678901234567890}'])).toString(), '{"events": {"s": [{"a":2.0}, {"b":12345678901234567890}]}}')
  t.equal(putBody(batch('s.x', ['{}'], 'ns')).toString(), '{"events": {"s.x": [{}]}, "namespace": "ns"}')
  t.same(JSON.parse(putBody(batch('s', ['{"é":"ü"}'], 'n')).toString()), { events: { s: [{ é: 'ü' }] }, namespace: 'n' })
})

t.test('readAnswer: per stream and backend, as Kronos answers (spec §5.2)', async (t) => {
  const b = batch('s', ['{}', '{}', '{}'])
  t.same(readAnswer({ s: { memory: { num_inserted: 3 } }, '@success': true }, b, 'http://h/1.0/events/put'), { inserted: 3, errors: [] })
  t.same(readAnswer({ s: { memory: { num_inserted: 3 } }, other: { memory: { num_inserted: 0 } }, '@success': false, '@errors': ["InvalidStreamName(u'x y',)"] }, b, 'http://h/1.0/events/put'),
    { inserted: 3, errors: [] }, 'errors of other streams are not this batch\'s')
  t.same(readAnswer({ s: { memory: { num_inserted: 2 } }, '@success': false, '@errors': ['InvalidEventTime(1.5,)'] }, b, 'http://h/1.0/events/put'),
    { inserted: 2, errors: ['InvalidEventTime(1.5,)'] })
  t.same(readAnswer({ s: { memory: { num_inserted: 3 }, cassandra: { num_inserted: -1, '@errors': ['Timeout()'] } }, '@success': false }, b, 'http://h/1.0/events/put'),
    { inserted: 0, errors: ['cassandra: Timeout()'] }, 'a failed backend: not stored everywhere')
  t.same(readAnswer({ '@success': false, '@errors': ["InvalidStreamName(u's',)"] }, b, 'http://h/1.0/events/put'), { inserted: 0, errors: ["InvalidStreamName(u's',)"] })
  t.same(readAnswer([1, 2], b, 'http://h/1.0/events/put'), { inserted: 0, errors: ['the answer does not list the stream'] })
  t.same(readAnswer({ s: {} }, b, 'http://h/1.0/events/put'), { inserted: 0, errors: ['the server stored 0 of 3 events'] })
})

t.test('readAnswer: a count the batch cannot have (more than sent, not an integer) is no acknowledgement: a PutError after a 200, not retried', async (t) => {
  const b = batch('s', ['{}', '{}', '{}'])
  for (const [count, shown] of [[4, '4'], [1e9, '1000000000'], [2.5, '2.5'], [3.5, '3.5']] as const) {
    const read = (): unknown => readAnswer({ s: { memory: { num_inserted: count } }, '@success': true }, b, 'http://h/1.0/events/put')
    t.throws(read, new PutError(`http://h/1.0/events/put: HTTP 200 whose answer does not fit the batch: memory num_inserted ${shown} for 3 events sent`, { status: 200, retryable: false }))
    t.throws(read, { status: 200, retryable: false, code: 'SHOEBOX_UNREACHABLE' })
  }
  t.throws(() => readAnswer({ s: { memory: { num_inserted: 3 }, other: { num_inserted: 7 } } }, b, 'http://h/1.0/events/put'), { message: /other num_inserted 7 for 3 events/ }, 'any backend')
  t.same(readAnswer({ s: { memory: { num_inserted: 3 } } }, b, 'http://h/1.0/events/put'), { inserted: 3, errors: [] }, 'the count sent is still all')
})
