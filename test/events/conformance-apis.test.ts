/**
 * Kronos's kronos/tests/common/test_apis.py (spec §9), over HTTP against
 * serveEvents(): put, get (order, bounds, start_id, limit, descending),
 * delete, namespaces, streams, infer_schema.
 */
import t from 'tap'
import { compareEventIds } from '../../lib/events/event-id.js'
import { del, get, json, post, put, start, streams, times } from './conformance-kit.js'

t.test('put: increasing, random, decreasing and equal times; multi-event, multi-stream', async (t) => {
  const { url } = await start(t)
  const orders: Record<string, number[]> = { inc: [1, 2, 3, 4, 5], rnd: [4, 1, 5, 3, 2], dec: [5, 4, 3, 2, 1], eq: [3, 3, 3, 3, 3] }
  for (const [stream, list] of Object.entries(orders)) {
    for (const time of list) {
      const answer = await put(t, url, { [stream]: [{ '@time': time, a: time }] })
      t.same(answer[stream], { shoebox: { num_inserted: 1 } })
    }
    const events = await get(t, url, stream, 0, 10)
    t.same(times(events), [...list].sort(), `${stream}: every event, ascending`)
  }
  const multi = await put(t, url, { m1: [{ '@time': 1 }, { '@time': 2 }, { '@time': 2 }], m2: [{ '@time': 7 }] })
  t.same(multi.m1, { shoebox: { num_inserted: 3 } })
  t.same(multi.m2, { shoebox: { num_inserted: 1 } })
  t.same(times(await get(t, url, 'm1', 0, 10)), [1, 2, 2])
  t.same(times(await get(t, url, 'm2', 0, 10)), [7])
})

t.test('put keeps the event text as sent, with only @id and @time added', async (t) => {
  const { url } = await start(t)
  const body = '{"events": {"s": [{"@time": 12345678901234567, "f": 2.0, "e": 1e3, "big": 123456789012345678901, "u": "h\\u00e9 ☃", "@id": "client"}]}}'
  const reply = await post(url, '/1.0/events/put', body)
  t.equal(reply.status, 200)
  const got = await post(url, '/1.0/events/get', '{"stream": "s", "end_time": 99999999999999999}')
  const line = got.text.slice(0, -2)
  t.match(line, /^\{"@time": 12345678901234567, "f": 2\.0, "e": 1e3, "big": 123456789012345678901, "u": "h\\u00e9 ☃", "@id": "[0-9a-f-]{36}"\}$/)
  t.notMatch(line, /client/, 'a client @id is overwritten')
  const id = /"@id": "([^"]+)"/.exec(line)?.[1] ?? ''
  t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/, 'v1 layout, byte 8 in 0x80-0x8f')
  const noTime = await post(url, '/1.0/events/put', '{"events": {"n": [{}]}}')
  t.equal(noTime.status, 200)
  const [event] = await get(t, url, 'n', 0, 99999999999999999n)
  t.equal(typeof event['@time'], 'bigint', 'a missing @time is now, as an exact integer')
})

t.test('put: partial success, Kronos error strings', async (t) => {
  const { url } = await start(t)
  const reply = await post(url, '/1.0/events/put', {
    events: { s1: [{ '@time': 10 }, { '@time': 10 }, {}, { '@time': 1.5 }, { '@time': true }, { '@time': '5' }], 'bad name': [{}], empty: [] }
  })
  t.equal(reply.status, 200)
  const body = json(reply)
  t.same(body.s1, { shoebox: { num_inserted: 3 } })
  t.equal(body['@success'], false)
  t.same(body['@errors'], ['InvalidEventTime(1.5,)', 'InvalidEventTime(True,)', "InvalidEventTime(u'5',)", "InvalidStreamName(u'bad name',)"])
  t.notOk('empty' in body, 'a stream with an empty list does not appear')
  t.match(body['@took'], /^\d+\.\d{6}ms$/)
  t.equal((await get(t, url, 's1', 0, 10)).length, 2, 'the valid events with a time in range were stored')
  const raw = await post(url, '/1.0/events/put', '{"events": {"s": [{"@time": 1.0}, {"@time": 1e3}]}}')
  t.same(json(raw)['@errors'], ['InvalidEventTime(1.0,)', 'InvalidEventTime(1000.0,)'])
  const range = await post(url, '/1.0/events/put', { events: { s: [{ '@time': 2 ** 62 }] } })
  t.equal(json(range)['@success'], false, 'a time beyond the 60-bit id field is refused per event')
  const allBad = await post(url, '/1.0/events/put', { events: { s: [{ '@time': 'x' }] } })
  t.same(json(allBad).s, { shoebox: { num_inserted: 0 } }, 'a stream with only invalid events still appears')
})

t.test('put: bad bodies and namespaces', async (t) => {
  const { url } = await start(t)
  for (const body of ['', 'not json', '{"events": ']) {
    const reply = await post(url, '/1.0/events/put', body)
    t.equal(reply.status, 400, `${JSON.stringify(body)} is a 400`)
    t.same(json(reply)['@errors'], ['Request body must be valid JSON.'])
    t.equal(json(reply)['@success'], false)
  }
  const list = await post(url, '/1.0/events/put', '[1,2]')
  t.equal(list.status, 400)
  t.same(json(list)['@errors'], ["AttributeError(\"'list' object has no attribute 'get'\",)"])
  const ns = await post(url, '/1.0/events/put', { namespace: 'x', events: { s: [{}] } })
  t.equal(ns.status, 400)
  t.same(json(ns)['@errors'], ["NamespaceMissing('`x` namespace is not configured',)"])
  const nsEmpty = await post(url, '/1.0/events/put', { namespace: 'x', events: { s: [] } })
  t.equal(nsEmpty.status, 200, 'an unknown namespace is only an error when some stream had an event')
  const nsNull = await post(url, '/1.0/events/put', { namespace: null, events: { s: [{ '@time': 1 }] } })
  t.equal(nsNull.status, 200, 'namespace null is the default')
  t.equal((await get(t, url, 's', 0, 5)).length, 1)
  const number = await post(url, '/1.0/events/put', { events: { s: 5 } })
  t.equal(number.status, 400)
  t.same(json(number)['@errors'], ["TypeError(\"'int' object is not iterable\",)"])
  const obj = await post(url, '/1.0/events/put', { events: { s: { a: 1, b: 2 } } })
  t.equal(obj.status, 200)
  t.same(json(obj)['@errors'], ["AttributeError(\"'unicode' object has no attribute 'get'\",)", "AttributeError(\"'unicode' object has no attribute 'get'\",)"])
  t.same(json(obj).s, { shoebox: { num_inserted: 0 } })
  for (const body of ['{"events": {}} x', '{"events": {"s": [{}]}', '{"events": {"s": [{},]}}', '{"events" {}}', '{"events": {"s": [{"a": tru}]}}']) {
    t.same(json(await post(url, '/1.0/events/put', body))['@errors'], ['Request body must be valid JSON.'], `${body} is not JSON`)
  }
  const twice = await post(url, '/1.0/events/put', '{"events": {"a": [{}]}, "events": {"b": [{}], "b": [{}, {}]}}')
  t.same(json(twice), { b: { shoebox: { num_inserted: 2 } }, '@success': true, '@took': json(twice)['@took'] }, 'repeated keys: the last wins')
  const noEvents = await post(url, '/1.0/events/put', '{"namespace": "kronos"}')
  t.same(json(noEvents)['@errors'], ["KeyError('events',)"])
  const nullEvents = await post(url, '/1.0/events/put', '{"events": null}')
  t.same(json(nullEvents)['@errors'], ["AttributeError(\"'NoneType' object has no attribute 'iteritems'\",)"])
  const text = await post(url, '/1.0/events/put', '{"events": {"s": "ab", "t": [5, [1]]}}')
  t.equal((json(text)['@errors'] as string[]).length, 4, 'a string\'s characters and non-object elements are refused one by one')
})

t.test('put: floats in errors are as Python 2 repr() and type() give them', async (t) => {
  const { url } = await start(t)
  // a Python client's float time (time.time() * 1e7 sent as 1.7651234567891234e+16), -0.0, tiny and huge floats
  const times = await post(url, '/1.0/events/put',
    '{"events": {"s": [{"@time": 1.7651234567891234e+16}, {"@time": 1e16}, {"@time": -0.0}, {"@time": 1e-7}, {"@time": 0.0001}, ' +
    '{"@time": 123456789.5}, {"@time": [5.0, -0, 1e22]}, {"@time": {"text": "abc"}}]}}')
  t.same(json(times)['@errors'], [
    'InvalidEventTime(1.7651234567891234e+16,)', 'InvalidEventTime(1e+16,)', 'InvalidEventTime(-0.0,)', 'InvalidEventTime(1e-07,)',
    'InvalidEventTime(0.0001,)', 'InvalidEventTime(123456789.5,)', 'InvalidEventTime([5.0, 0, 1e+22],)', "InvalidEventTime({u'text': u'abc'},)"
  ])
  const elements = await post(url, '/1.0/events/put', '{"events": {"s": [5.0, 1e3, 7]}}')
  t.same(json(elements)['@errors'], [
    "AttributeError(\"'float' object has no attribute 'get'\",)", "AttributeError(\"'float' object has no attribute 'get'\",)",
    "AttributeError(\"'int' object has no attribute 'get'\",)"
  ])
  const notList = await post(url, '/1.0/events/put', '{"events": {"s": 2.5}}')
  t.same(json(notList)['@errors'], ["TypeError(\"'float' object is not iterable\",)"])
  const events = await post(url, '/1.0/events/put', '{"events": 1.0}')
  t.same(json(events)['@errors'], ["AttributeError(\"'float' object has no attribute 'iteritems'\",)"])
  for (const path of ['/1.0/events/put', '/1.0/events/get']) {
    const body = await post(url, path, '1.0')
    t.same(json(body)['@errors'], ["AttributeError(\"'float' object has no attribute 'get'\",)"], `${path}: a float body`)
  }
})

t.test('integers in errors are Python ints or longs as ujson 1.33 makes them: a long (repr 5L) from 2^31 on, either sign', async (t) => {
  const { url } = await start(t)
  const times = await post(url, '/1.0/events/put', '{"events": {"s": [{"@time": [2147483647, 2147483648, -2147483647, -2147483648, 9007199254740993, -0]}]}}')
  t.same(json(times)['@errors'], ['InvalidEventTime([2147483647, 2147483648L, -2147483647, -2147483648L, 9007199254740993L, 0],)'])
  const elements = await post(url, '/1.0/events/put', '{"events": {"s": [2147483647, 2147483648, -2147483648, 17000000000000000]}}')
  t.same(json(elements)['@errors'], [
    "AttributeError(\"'int' object has no attribute 'get'\",)", "AttributeError(\"'long' object has no attribute 'get'\",)",
    "AttributeError(\"'long' object has no attribute 'get'\",)", "AttributeError(\"'long' object has no attribute 'get'\",)"
  ])
  t.same(json(await post(url, '/1.0/events/put', '{"events": {"s": 2147483648}}'))['@errors'], ["TypeError(\"'long' object is not iterable\",)"])
  t.same(json(await post(url, '/1.0/events/put', '{"events": {"s": 2147483647}}'))['@errors'], ["TypeError(\"'int' object is not iterable\",)"])
  t.same(json(await post(url, '/1.0/events/get', '5000000000'))['@errors'], ["AttributeError(\"'long' object has no attribute 'get'\",)"], 'a body that is a long')
  const stream = await post(url, '/1.0/events/get', '{"stream": 2147483648, "end_time": 1}')
  t.equal(stream.text, '{"@errors": ["InvalidStreamName(2147483648L,)"], "@success": false}', 'the answer\'s bytes')
  for (const [raw, shown] of [['1.0', '1.0'], ['1e3', '1000.0'], ['-0.0', '-0.0'], ['2147483647', '2147483647'], ['[1.0, 2147483648]', '[1.0, 2147483648L]']]) {
    t.same(json(await post(url, '/1.0/events/get', `{"stream": ${raw}, "end_time": 1}`))['@errors'], [`InvalidStreamName(${shown},)`], `stream ${raw}`)
    t.same(json(await post(url, '/1.0/events/delete', `{"stream": ${raw}, "end_time": 1}`))['@errors'], [`InvalidStreamName(${shown},)`], `delete, stream ${raw}`)
    t.same(json(await post(url, '/1.0/streams/infer_schema', `{"stream": ${raw}}`))['@errors'], [`InvalidStreamName(${shown},)`], `infer_schema, stream ${raw}`)
  }
  // NamespaceMissing formats the namespace with '%s': str(), no L on a long, but repr() of a list's items.
  for (const [raw, shown] of [['2147483648', '2147483648'], ['1.0', '1.0'], ['[2147483648]', '[2147483648L]'], ['true', 'True']]) {
    const error = `NamespaceMissing('\`${shown}\` namespace is not configured',)`
    t.same(json(await post(url, '/1.0/events/put', `{"namespace": ${raw}, "events": {"s": [{}]}}`))['@errors'], [error], `put, namespace ${raw}`)
    t.same(json(await post(url, '/1.0/events/get', `{"namespace": ${raw}, "stream": "s", "end_time": 1}`))['@errors'], [error], `get, namespace ${raw}`)
    t.same(json(await post(url, '/1.0/streams', `{"namespace": ${raw}}`))['@errors'], [error], `streams, namespace ${raw}`)
    t.same(json(await post(url, '/1.0/streams/infer_schema', `{"namespace": ${raw}, "stream": "s"}`))['@errors'], [error], `infer_schema, namespace ${raw}`)
  }
  t.same(json(await post(url, '/1.0/events/get', '{"stream": "s", "end_time": [2147483648]}'))['@errors'],
    ["TypeError(\"long() argument must be a string or a number, not 'list'\",)"])
})

t.test('get: intervals, inclusive bounds, start_id, limit, order', async (t) => {
  const { url } = await start(t)
  t.same(await get(t, url, 'nothing', 0, 10), [], 'an empty stream')
  await put(t, url, { s: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((time) => ({ '@time': time })) })
  t.same(times(await get(t, url, 's', 1, 3)), [1, 2, 3], 'start and end are inclusive')
  t.same(times(await get(t, url, 's', 4, 4)), [4], 'start == end')
  t.same(times(await get(t, url, 's', 5, 2)), [], 'start > end')
  t.same(times(await get(t, url, 's', 100, 200)), [], 'a future range')
  t.same(times(await get(t, url, 's', -10, -1)), [], 'a negative range')
  const all = await get(t, url, 's', 0, 10)
  const ids = all.map((e) => e['@id'] as string)
  t.same([...ids].sort(compareEventIds), ids, 'ascending id order')
  t.same(times(await get(t, url, 's', 0, 10, { start_id: ids[4] })), [6, 7, 8, 9, 10], 'start_id is exclusive')
  t.same(times(await get(t, url, 's', 0, 10, { limit: 2 })), [1, 2])
  t.same(times(await get(t, url, 's', 0, 10, { limit: 3 })), [1, 2, 3])
  t.same(times(await get(t, url, 's', 0, 10, { limit: 0 })), [], 'limit 0')
  t.same(times(await get(t, url, 's', 0, 10, { limit: '1' })), [1], 'limit as a string')
  t.same(times(await get(t, url, 's', '2', 3.9)), [2, 3], 'integer strings and truncated floats')
  t.same(times(await get(t, url, 's', '" +2 "', '"3L"')), [2, 3], 'long() takes whitespace, a sign and the L a Python 2 long\'s repr() ends in')
  t.same(times(await get(t, url, 's', '-1.9', 1.9)), [1], 'floats truncated toward zero, as long() does')
  t.same(times(await get(t, url, 's', 0, 10, { order: 'descending' })), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
  t.same(times(await get(t, url, 's', 0, 10, { order: 'descending', limit: 3 })), [10, 9, 8])
  t.same(times(await get(t, url, 's', 0, 10, { order: 'descending', start_id: ids[6] })), [10, 9, 8], 'start_id stays a lower bound descending')
})

t.test('get: equal times and start_id within a tick', async (t) => {
  const { url } = await start(t)
  await put(t, url, { s: Array.from({ length: 20 }, (_, i) => ({ '@time': 7, i })) })
  const all = await get(t, url, 's', 7, 7)
  t.equal(all.length, 20)
  const ids = all.map((e) => e['@id'] as string)
  t.same([...ids].sort(compareEventIds), ids, 'ties ordered by the id suffix')
  t.same((await get(t, url, 's', 0, 10, { start_id: ids[9] })).map((e) => e['@id']), ids.slice(10))
  t.same((await get(t, url, 's', 0, 10, { order: 'descending' })).map((e) => e['@id']), [...ids].reverse())
})

t.test('get: bad parameters are 400 JSON, never 500', async (t) => {
  const { url } = await start(t)
  const bad = await post(url, '/1.0/events/get', { stream: 'bad name', end_time: 1 })
  t.equal(bad.status, 400)
  t.same(json(bad), { '@errors': ["InvalidStreamName(u'bad name',)"], '@success': false }, 'no @took, as Kronos')
  const missing = await post(url, '/1.0/events/get', { end_time: 1 })
  t.same(json(missing)['@errors'], ['InvalidStreamName(None,)'])
  for (const [body, error] of [
    [{ stream: 's' }, "KeyError('end_time',)"],
    [{ stream: 's', end_time: '10.5' }, "ValueError(\"invalid literal for long() with base 10: '10.5'\",)"],
    [{ stream: 's', end_time: 1, limit: '2.5' }, "ValueError(\"invalid literal for int() with base 10: '2.5'\",)"],
    [{ stream: 's', end_time: 1, limit: '2L' }, "ValueError(\"invalid literal for int() with base 10: '2L'\",)"],
    [{ stream: 's', end_time: '1LL' }, "ValueError(\"invalid literal for long() with base 10: '1LL'\",)"],
    [{ stream: 's', end_time: null }, "TypeError(\"long() argument must be a string or a number, not 'NoneType'\",)"],
    [{ stream: 's', end_time: 1, namespace: 'nope' }, "NamespaceMissing('`nope` namespace is not configured',)"],
    [{ stream: 's', end_time: 1, start_id: 'not-a-uuid' }, "ValueError('badly formed hexadecimal UUID string',)"]
  ] as const) {
    const reply = await post(url, '/1.0/events/get', body)
    t.equal(reply.status, 400, JSON.stringify(body))
    t.same(json(reply)['@errors'], [error])
    t.equal(json(reply)['@success'], false)
  }
  const nsNull = await post(url, '/1.0/events/get', { stream: 's', end_time: 1, namespace: null })
  t.equal(nsNull.status, 200, 'namespace null is the default')
})

t.test('delete: missing stream, empty range, inclusive bounds, start_id, start > end', async (t) => {
  const { url } = await start(t)
  t.equal(await del(t, url, 'missing', 0, 10), 0, 'a missing stream')
  await put(t, url, { s: [1, 2, 3, 4].map((time) => ({ '@time': time })) })
  t.equal(await del(t, url, 's', 5, 10), 0, 'a range without events')
  t.equal(await del(t, url, 's', 1, 2), 2, 'delete(1, 2) removes the events at 1 and 2')
  t.same(times(await get(t, url, 's', 0, 10)), [3, 4])
  t.equal(await del(t, url, 's', 4, 1), 0, 'start > end deletes nothing and succeeds')
  const [first] = await get(t, url, 's', 0, 10)
  t.equal(await del(t, url, 's', 0, 10, { start_id: first['@id'] }), 1, 'start_id is exclusive')
  t.same((await get(t, url, 's', 0, 10)).map((e) => e['@id']), [first['@id']], 'exactly that event is left')
  t.equal(await del(t, url, 's', 0, 10), 1)
  t.same(await streams(url), ['s'], 'a stream whose events are all deleted stays listed, as in Kronos')
  const bad = await post(url, '/1.0/events/delete', { stream: 'bad name', end_time: 1 })
  t.equal(bad.status, 400)
  t.same(Object.keys(json(bad)).sort(), ['@errors', '@took'], 'no @success, as Kronos')
  const noEnd = await post(url, '/1.0/events/delete', { stream: 's' })
  t.equal(noEnd.status, 400)
  t.same(json(noEnd)['@errors'], ["KeyError('end_time',)"])
  t.equal(json(noEnd)['@success'], false)
})

t.test('namespaces are isolated, for streams and for get', async (t) => {
  const { url } = await start(t)
  await put(t, url, { a: [{ '@time': 1 }] }, 'namespace1')
  await put(t, url, { b: [{ '@time': 2 }, { '@time': 3 }] }, 'namespace2')
  t.same(await streams(url, 'namespace1'), ['a'])
  t.same(await streams(url, 'namespace2'), ['b'])
  t.same(await streams(url), [], 'the default namespace has neither')
  t.same(times(await get(t, url, 'a', 0, 10, { namespace: 'namespace1' })), [1])
  t.same(times(await get(t, url, 'a', 0, 10, { namespace: 'namespace2' })), [])
  t.same(times(await get(t, url, 'b', 0, 10, { namespace: 'namespace2' })), [2, 3])
  const unknown = await post(url, '/1.0/streams', { namespace: 'nope' })
  t.equal(unknown.status, 400, 'an unknown namespace is a 400, not a 500')
})

t.test('streams: every stream listed, one per CRLF line; reading does not create one', async (t) => {
  const { url } = await start(t)
  const names = Array.from({ length: 10 }, (_, i) => `stream_${i}.x-${Math.random().toString(36).slice(2, 8)}`)
  for (const name of names) await put(t, url, { [name]: [{ '@time': 1 }] })
  await get(t, url, 'ghost', 0, 10)
  t.same(await streams(url), [...names].sort())
  const empty = await post(url, '/1.0/streams', '')
  t.equal(empty.status, 400, 'an empty body is a 400')
})

t.test('infer_schema', async (t) => {
  const { url } = await start(t)
  await post(url, '/1.0/events/put', '{"events": {"s": [{"a": 1, "@time": 1}, {"a": 2.3, "@time": 2, "optional": false}]}}')
  const reply = await post(url, '/1.0/streams/infer_schema', { stream: 's' })
  t.equal(reply.status, 200)
  const body = json(reply)
  t.equal(body.stream, 's')
  t.equal(body.namespace, 'kronos')
  t.equal(body['@success'], true)
  const schema = body.schema as { type: string, $schema: string, required: string[], properties: Record<string, unknown> }
  t.equal(schema.type, 'object')
  t.equal(schema.$schema, 'http://json-schema.org/draft-04/schema')
  t.same(schema.required, ['@id', '@time', 'a'])
  t.same(schema.properties, { '@id': { type: 'string' }, '@time': { type: 'integer' }, a: { type: 'number' }, optional: { type: 'boolean' } })
  const empty = json(await post(url, '/1.0/streams/infer_schema', { stream: 'none', namespace: null }))
  t.same(empty.schema, { type: 'null', $schema: 'http://json-schema.org/draft-04/schema' })
  const missing = await post(url, '/1.0/streams/infer_schema', {})
  t.equal(missing.status, 400)
  t.same(json(missing)['@errors'], ["KeyError('stream',)"])
  const bad = await post(url, '/1.0/streams/infer_schema', { stream: 'é' })
  t.equal(bad.status, 400)
  t.same(json(bad)['@errors'], ["InvalidStreamName(u'\\xe9',)"])
  await post(url, '/1.0/events/put', '{"events": {"n": [{"@time": 1, "v": null, "l": [1, "x"]}, {"@time": 2, "v": "s", "l": [2]}]}}')
  const nulls = json(await post(url, '/1.0/streams/infer_schema', { stream: 'n' })).schema as { properties: Record<string, unknown> }
  t.same(nulls.properties.v, { type: 'string' }, 'null combines as neutral, in either order')
  t.same(nulls.properties.l, { type: 'array', items: { type: 'any' } }, 'arrays of mixed types')
  await post(url, '/1.0/events/put', `{"events": {"f": [{"@time": 1, "old": 1}, {"@time": ${BigInt(Date.now() + 86_400_000) * 10_000n}, "future": 1}]}}`)
  const future = json(await post(url, '/1.0/streams/infer_schema', { stream: 'f' })).schema as { properties: Record<string, unknown> }
  t.notOk('future' in future.properties, 'events dated in the future are not sampled')
})
