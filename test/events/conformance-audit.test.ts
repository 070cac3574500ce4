/**
 * The exact bytes a Kronos client sees, where conformance-http and
 * conformance-apis leave them open (spec §4, §5, §10's first list): the
 * envelope's serialisation and `@took` on every JSON answer, empty bodies,
 * start_id with limit and with start_time, `order` values, default bounds,
 * namespace null everywhere, OPTIONS on unknown and blocked paths,
 * infer_schema's sample of 100 and its [0, now] window.
 */
import t from 'tap'
import { del, get, json, post, put, request, start, streams, times } from './conformance-kit.js'

const TOOK = /^\d+\.\d{6}ms$/

t.test('every JSON answer is Python json.dumps style, with @took', async (t) => {
  const { url } = await start(t)
  const putReply = await post(url, '/1.0/events/put', { events: { s: [{ '@time': 1, x: 'é' }], empty: [] } })
  t.match(putReply.text, /^\{"s": \{"shoebox": \{"num_inserted": 1\}\}, "@success": true, "@took": "\d+\.\d{6}ms"\}$/, 'separators ", " and ": "; a stream with an empty list does not appear')
  const [event] = await get(t, url, 's', 0, 1)
  t.equal(event.x, 'é', 'the event text kept as sent')
  const answers = [
    await request(url, '/1.0/index', { method: 'GET' }),
    await post(url, '/1.0/events/delete', { stream: 's', start_time: 5, end_time: 6 }),
    await post(url, '/1.0/streams/infer_schema', { stream: 's' }),
    await request(url, '/1.0/index', { method: 'POST', body: '{}' }),
    await post(url, '/1.0/events/put', 'not json'),
    await post(url, '/1.0/events/delete', { stream: 's' })
  ]
  for (const reply of answers) {
    t.equal(reply.headers.get('content-type'), 'application/json')
    t.match(json(reply)['@took'], TOOK, reply.text)
    t.notMatch(reply.text, /[^\x20-\x7e]/, 'ASCII only (non-ASCII escaped as \\uXXXX)')
  }
  t.same(json(answers[1]), { s: { shoebox: { num_deleted: 0 } }, '@success': true, '@took': json(answers[1])['@took'] }, 'delete\'s shape')
  t.same(json(answers[4]), { '@errors': ['Request body must be valid JSON.'], '@success': false, '@took': json(answers[4])['@took'] })
  const blocked = await start(t, { mode: 'collector' })
  const forbidden = await post(blocked.url, '/1.0/events/get', { stream: 's', end_time: 1 })
  t.match(json(forbidden)['@took'], TOOK, '403 too')
})

t.test('empty results are an empty 200 body, application/json', async (t) => {
  const { url } = await start(t)
  for (const [path, body] of [['/1.0/events/get', { stream: 's', end_time: 10 }], ['/1.0/streams', {}]] as const) {
    const reply = await post(url, path, body)
    t.equal(reply.status, 200, path)
    t.equal(reply.text, '', `${path}: empty body`)
    t.equal(reply.headers.get('content-type'), 'application/json')
  }
})

t.test('get: start_id with limit, start_id over start_time, order values, default bounds', async (t) => {
  const { url } = await start(t)
  await put(t, url, { s: [-5, 1, 2, 3, 4, 5, 6].map((time) => ({ '@time': time })) })
  const all = await get(t, url, 's', -10, 10)
  const ids = all.map((e) => e['@id'])
  t.same(times(all), [-5, 1, 2, 3, 4, 5, 6])
  t.same(times(await get(t, url, 's', 0, 10, { start_id: ids[2], limit: 2 })), [3, 4], 'start_id then limit: the 2 after it')
  t.same(times(await get(t, url, 's', 0, 10, { start_id: ids[2], limit: 2, order: 'descending' })), [6, 5], 'descending: the newest 2 after start_id')
  t.same(times(await get(t, url, 's', 5, 10, { start_id: ids[1] })), [2, 3, 4, 5, 6], 'a start_id replaces start_time')
  t.same(times(await get(t, url, 's', 0, 3, { start_id: ids[5] })), [], 'start_id after end_time: empty')
  t.same(times(await get(t, url, 's', 2, 3, { start_id: '' })), [2, 3], 'an empty start_id is no start_id')
  t.same(times(await get(t, url, 's', 0, 10, { limit: -1 })), [], 'a negative limit: empty')
  t.same(times(await get(t, url, 's', 0, 10, { order: 'DESCENDING', limit: 2 })), [1, 2], 'any order but "descending" is ascending')
  const noStart = await post(url, '/1.0/events/get', { stream: 's', end_time: 10 })
  t.same(noStart.text.split('\r\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { '@time': number })['@time']), [1, 2, 3, 4, 5, 6], 'start_time defaults to 0')
  t.match(noStart.text, /^\{"@id":"[0-9a-f-]{36}","@time":1\}\r\n/, 'the text as sent (compact here), @id spliced in, one per CRLF line')
})

t.test('a start_id Python reads as false ("", 0, 0.0, false, null, [], {}) is no start_id: start_time applies, for get and delete', async (t) => {
  const { url } = await start(t)
  await put(t, url, { s: [1, 2, 3, 4].map((time) => ({ '@time': time })) })
  for (const startId of ['""', '0', '0.0', 'false', 'null', '[]', '{}']) {
    const reply = await post(url, '/1.0/events/get', `{"stream": "s", "start_time": 2, "end_time": 3, "start_id": ${startId}}`)
    t.equal(reply.status, 200, `get, start_id ${startId}`)
    t.same(reply.text.split('\r\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { '@time': number })['@time']), [2, 3], `get, start_id ${startId}`)
  }
  for (const startId of ['[1]', '{"a": 1}', 'true', '5']) {
    const reply = await post(url, '/1.0/events/get', `{"stream": "s", "end_time": 3, "start_id": ${startId}}`)
    t.equal(reply.status, 400, `a true one that is no UUID: ${startId}`)
    t.same(json(reply)['@errors'], ["ValueError('badly formed hexadecimal UUID string',)"])
  }
  t.equal(await del(t, url, 's', 4, 4, { start_id: [] }), 1, 'delete: start_time applies')
  t.same(times(await get(t, url, 's', 0, 10)), [1, 2, 3])
})

t.test('start_id in any form Python\'s uuid.UUID reads (spec §3.1: any parseable UUID string), for get and delete', async (t) => {
  const { url } = await start(t)
  await put(t, url, { s: [1, 2, 3, 4].map((time) => ({ '@time': time })) })
  const ids = (await get(t, url, 's', 0, 10)).map((e) => e['@id'])
  const id = String(ids[1])
  const hex = id.replace(/-/g, '')
  for (const form of [id.toUpperCase(), hex, hex.toUpperCase(), `{${id}}`, `urn:uuid:${id}`, `{${hex}}`, `${hex.slice(0, 5)}-${hex.slice(5)}`]) {
    t.same(times(await get(t, url, 's', 0, 10, { start_id: form })), [3, 4], form)
  }
  for (const form of [hex.slice(1), `${hex}0`, `${hex.slice(1)}g`, `(${id})`, ` ${id}`]) {
    const reply = await post(url, '/1.0/events/get', { stream: 's', end_time: 10, start_id: form })
    t.equal(reply.status, 400, `refused: ${form}`)
    t.same(json(reply)['@errors'], ["ValueError('badly formed hexadecimal UUID string',)"])
  }
  t.equal(await del(t, url, 's', 0, 10, { start_id: `urn:uuid:${hex.toUpperCase()}` }), 2, 'delete takes them too')
  t.same(times(await get(t, url, 's', 0, 10)), [1, 2])
})

t.test('@time above 2^53 goes out exact; beyond the id\'s 60 bits it is refused', async (t) => {
  const { url } = await start(t)
  const big = 17000000000000000001n
  const reply = await post(url, '/1.0/events/put', `{"events": {"s": [{"@time": ${big}}, {"@time": 9007199254740993}]}}`)
  t.equal(json(reply)['@success'], false, 'beyond the 60-bit id field: refused')
  const raw = await post(url, '/1.0/events/get', '{"stream": "s", "end_time": 9007199254740993, "start_time": "9007199254740993"}')
  t.match(raw.text, /^\{"@id":"[0-9a-f-]{36}","@time": 9007199254740993\}\r\n$/, '2^53 + 1, exact, as the only event of its tick')
})

t.test('namespace null is the default on every endpoint', async (t) => {
  const { url } = await start(t)
  await put(t, url, { s: [{ '@time': 1 }, { '@time': 2 }] })
  t.same(await streams(url), ['s'])
  const listed = await post(url, '/1.0/streams', { namespace: null })
  t.equal(listed.status, 200)
  t.equal(listed.text, 's\r\n')
  const got = await post(url, '/1.0/events/get', { stream: 's', end_time: 5, namespace: null })
  t.equal(got.text.split('\r\n').length, 3)
  const schema = await post(url, '/1.0/streams/infer_schema', { stream: 's', namespace: null })
  t.equal(json(schema).namespace, 'kronos')
  t.equal(await del(t, url, 's', 1, 1, { namespace: null }), 1)
})

t.test('infer_schema reads its namespace as Kronos does, with Python\'s `or`: "" (or 0, false, [], {}) is the default', async (t) => {
  const { url } = await start(t)
  await put(t, url, { s: [{ '@time': 1, a: 1 }] })
  for (const namespace of ['', 0, false, [], {}]) {
    const schema = await post(url, '/1.0/streams/infer_schema', { stream: 's', namespace })
    t.equal(schema.status, 200, JSON.stringify(namespace))
    t.equal(json(schema).namespace, 'kronos', JSON.stringify(namespace))
    t.same(Object.keys((json(schema).schema as { properties: object }).properties).sort(), ['@id', '@time', 'a'], 'the default namespace\'s events')
  }
  // Elsewhere Kronos takes "" as a name and finds no such namespace (NamespaceMissing): refused, as there.
  const listed = await post(url, '/1.0/streams', { namespace: '' })
  t.equal(listed.status, 400)
  t.match(json(listed)['@errors'], [/NamespaceMissing/])
})

t.test('OPTIONS: unknown paths are 404, blocked endpoints 403', async (t) => {
  const { url } = await start(t, { mode: 'readonly' })
  const unknown = await request(url, '/1.0/nope', { method: 'OPTIONS' })
  t.equal(unknown.status, 404)
  t.equal(unknown.text, "Four, oh, four :'(")
  const blocked = await request(url, '/1.0/events/put', { method: 'OPTIONS' })
  t.equal(blocked.status, 403, 'the mode is checked first, OPTIONS too')
  const allowed = await request(url, '/1.0/events/get', { method: 'OPTIONS' })
  t.equal(allowed.status, 200)
  t.equal(allowed.text, '')
})

t.test('infer_schema samples the 100 newest events in [0, now]', async (t) => {
  const { url } = await start(t)
  const old = Array.from({ length: 50 }, (_, i) => ({ '@time': 1 + i, old: 'x' }))
  const recent = Array.from({ length: 100 }, (_, i) => ({ '@time': 1000 + i, n: i }))
  await put(t, url, { s: [...old, ...recent, { '@time': -1, negative: true }] })
  const schema = json(await post(url, '/1.0/streams/infer_schema', { stream: 's' })).schema as { properties: Record<string, unknown>, required: string[] }
  t.same(Object.keys(schema.properties).sort(), ['@id', '@time', 'n'], 'only the 100 newest; nothing before 0')
  t.same(schema.required, ['@id', '@time', 'n'])
  await put(t, url, { lib: [{ '@time': 1, '@library': { name: 'pykronos', version: '0.6.2' } }, { '@time': 2, '@library': { name: 'kronos.js', version: '1' } }] })
  const lib = json(await post(url, '/1.0/streams/infer_schema', { stream: 'lib' })).schema as { properties: Record<string, unknown> }
  t.same(lib.properties['@library'], { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' } }, required: ['name', 'version'] }, '@library from clients, as an object')
})

t.test('a body that is not a JSON object: 400 JSON on every POST endpoint, never 500', async (t) => {
  const { url } = await start(t)
  for (const path of ['/1.0/events/put', '/1.0/events/get', '/1.0/events/delete', '/1.0/streams', '/1.0/streams/infer_schema']) {
    for (const body of ['[1, 2]', '"s"', '3', 'null']) {
      const reply = await post(url, path, body)
      t.equal(reply.status, 400, `${path} ${body}`)
      t.equal(reply.headers.get('content-type'), 'application/json')
      t.equal((json(reply)['@errors'] as string[]).length, 1)
    }
  }
})
