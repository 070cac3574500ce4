/**
 * The HTTP surface (spec §4, §9's test_serving_mode.py): routing, 404 text,
 * 405 with Allow, serving modes checked before methods, OPTIONS and CORS
 * with an allow-list, the index, body caps, and the streamed body's framing.
 */
import net from 'node:net'
import t from 'tap'
import { get, json, post, put, request, start, times } from './conformance-kit.js'

const POST_ENDPOINTS = ['/1.0/events/put', '/1.0/events/get', '/1.0/events/delete', '/1.0/streams', '/1.0/streams/infer_schema']

t.test('unknown paths are 404 text; trailing slashes and queries are ignored', async (t) => {
  const { url } = await start(t)
  for (const path of ['/', '/1.0', '/1.0/events', '/1.0/index/x', '/2.0/index']) {
    const reply = await request(url, path, { method: 'GET' })
    t.equal(reply.status, 404, path)
    t.equal(reply.text, "Four, oh, four :'(")
    t.equal(reply.headers.get('content-type'), 'text/plain')
  }
  t.equal((await request(url, '/1.0/index/', { method: 'GET' })).status, 200, 'trailing slash')
  t.equal((await request(url, '/1.0/index?x=1', { method: 'GET' })).status, 200, 'query string')
})

t.test('a path routes with its %XX escapes decoded, as Kronos routes on WSGI\'s PATH_INFO', async (t) => {
  const { url } = await start(t)
  for (const path of ['/1.0/%69ndex', '/1.0/%69%6E%64%65%78', '/1.0%2Findex', '/1.0/index%2F', '/1.0/index%2f?x=%20']) {
    t.equal((await request(url, path, { method: 'GET' })).status, 200, path)
  }
  t.equal((await request(url, '/1.0/streams/infer%5Fschema', { method: 'POST', body: '{"stream": "s"}' })).status, 200, 'a POST endpoint too')
  for (const path of ['/1.0/index%3Fx', '/1.0/%zzindex', '/1.0/%2569ndex']) {
    t.equal((await request(url, path, { method: 'GET' })).status, 404, `${path}: decoded once, after the query is split off`)
  }
})

t.test('a request line in absolute form (as sent through a proxy) routes by its path', async (t) => {
  const { port } = await start(t)
  // fetch() always sends origin form: a raw request line, as an HTTP proxy forwards it.
  const answer = async (target: string): Promise<string> => await new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => { socket.end(`GET ${target} HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n`) })
    let text = ''
    socket.on('data', (b: Buffer) => { text += b.toString() })
    socket.on('end', () => { resolve(text.split('\r\n')[0]) })
    socket.on('error', reject)
  })
  t.equal(await answer(`http://127.0.0.1:${port}/1.0/index`), 'HTTP/1.1 200 OK')
  t.equal(await answer('http://example/1.0/index/?x=1'), 'HTTP/1.1 200 OK', 'trailing slash and query too')
  t.equal(await answer('http://example/2.0/index'), 'HTTP/1.1 404 Not Found')
  t.equal(await answer('http://[bad/1.0/index'), 'HTTP/1.1 404 Not Found', 'an unparsable target is not found')
})

t.test('index', async (t) => {
  const { url } = await start(t)
  const reply = await request(url, '/1.0/index', { method: 'GET' })
  t.equal(reply.status, 200)
  t.equal(reply.headers.get('content-type'), 'application/json')
  const body = json(reply)
  t.equal(body.service, 'kronosd')
  t.equal(body.version, '0.6.2')
  t.match(body.id, /^0x[0-9a-f]+L$/, 'hex() of a Python 2 long, as Kronos\'s hex(uuid.getnode())')
  t.same(body.storage, { shoebox: { alive: true, backend: 'shoebox.events.EventStore' } })
  t.equal(body['@success'], true)
})

t.test('wrong methods are 405 with Allow, in Kronos\'s shape', async (t) => {
  const { url } = await start(t)
  const postIndex = await request(url, '/1.0/index', { method: 'POST', body: '{}' })
  t.equal(postIndex.status, 405)
  t.equal(postIndex.headers.get('allow'), 'GET, OPTIONS')
  t.same(json(postIndex)['@errors'], ['POST method not allowed'])
  t.equal(json(postIndex)['@success'], false)
  for (const path of POST_ENDPOINTS) {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const reply = await request(url, path, { method })
      t.equal(reply.status, 405, `${method} ${path}`)
      t.equal(reply.headers.get('allow'), 'POST, OPTIONS')
      t.same(json(reply)['@errors'], [`${method} method not allowed`])
    }
    const head = await request(url, path, { method: 'HEAD' })
    t.equal(head.status, 405, `HEAD ${path}`)
  }
})

t.test('serving modes: allowed endpoints answer, others 403 before the method check', async (t) => {
  const allowed: Record<string, string[]> = {
    all: ['index', ...POST_ENDPOINTS],
    readonly: ['index', '/1.0/events/get', '/1.0/streams', '/1.0/streams/infer_schema'],
    collector: ['index', '/1.0/events/put']
  }
  for (const mode of ['all', 'readonly', 'collector'] as const) {
    const { url } = await start(t, { mode })
    const index = await request(url, '/1.0/index', { method: 'GET' })
    t.equal(index.status, 200, `${mode}: index`)
    for (const path of POST_ENDPOINTS) {
      const reply = await post(url, path, { stream: 's', end_time: 1, events: { s: [{ '@time': 1 }] } })
      if (allowed[mode].includes(path)) {
        t.ok(reply.status === 200 || reply.status === 400, `${mode}: ${path} answers (${reply.status})`)
      } else {
        t.equal(reply.status, 403, `${mode}: ${path} is blocked`)
        t.same(json(reply)['@errors'], ['kronosd is configured to block access to this endpoint.'])
        t.equal(json(reply)['@success'], false)
        const wrongMethod = await request(url, path, { method: 'GET' })
        t.equal(wrongMethod.status, 403, `${mode}: the mode is checked before the method`)
      }
    }
  }
})

t.test('OPTIONS and CORS: only listed origins get the headers', async (t) => {
  const { url } = await start(t, { corsOrigins: ['https://app.example'] })
  const ok = await request(url, '/1.0/events/get', { method: 'OPTIONS', headers: { Origin: 'https://app.example' } })
  t.equal(ok.status, 200)
  t.equal(ok.text, '')
  t.equal(ok.headers.get('content-type'), null, 'no Content-Type')
  t.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example')
  t.equal(ok.headers.get('access-control-allow-credentials'), 'true')
  t.equal(ok.headers.get('access-control-allow-headers'), 'Accept, Content-Type, Origin, X-Requested-With')
  t.equal(ok.headers.get('access-control-allow-methods'), 'POST, OPTIONS')
  const index = await request(url, '/1.0/index', { method: 'OPTIONS', headers: { Origin: 'https://app.example' } })
  t.equal(index.headers.get('access-control-allow-methods'), 'GET, OPTIONS')
  const other = await request(url, '/1.0/events/get', { method: 'OPTIONS', headers: { Origin: 'https://evil.example' } })
  t.equal(other.status, 200)
  t.equal(other.headers.get('access-control-allow-origin'), null, 'an unlisted origin gets nothing')
  const postOther = await post(url, '/1.0/streams', {})
  t.equal(postOther.headers.get('access-control-allow-origin'), null)
  const evil = await request(url, '/1.0/streams', { body: '{}', headers: { Origin: 'https://evil.example' } })
  t.equal(evil.headers.get('access-control-allow-origin'), null, 'no Origin is echoed on a POST either (Kronos echoed any)')
  const good = await request(url, '/1.0/streams', { body: '{}', headers: { Origin: 'https://app.example' } })
  t.equal(good.headers.get('access-control-allow-origin'), 'https://app.example')
})

t.test('a request a web page of an unlisted origin sends is refused, 403, before it does anything (no cross-site put or delete)', async (t) => {
  const { url } = await start(t, { corsOrigins: ['https://app.example'] })
  await put(t, url, { s: [{ '@time': 1 }, { '@time': 2 }] })
  // What any page the user visits can send to a server on 127.0.0.1 without a preflight: a "simple" text/plain POST.
  const simple = { 'Content-Type': 'text/plain;charset=UTF-8' }
  const range = JSON.stringify({ stream: 's', start_time: 0, end_time: 10 })
  for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:1']) {
    const deleted = await request(url, '/1.0/events/delete', { body: range, headers: { ...simple, Origin: origin } })
    t.equal(deleted.status, 403, `${origin}: delete refused`)
    t.equal(json(deleted)['@success'], false)
    t.match(json(deleted)['@errors'], [/OriginNotAllowed.*not in the server's CORS origins/])
    const stored = await request(url, '/1.0/events/put', { body: JSON.stringify({ events: { s: [{ '@time': 3 }] } }), headers: { ...simple, Origin: origin } })
    t.equal(stored.status, 403, `${origin}: put refused`)
    t.equal((await request(url, '/1.0/index', { method: 'GET', headers: { Origin: origin } })).status, 403, `${origin}: index refused`)
  }
  t.same(times(await get(t, url, 's', 0, 10)), [1, 2], 'nothing deleted, nothing stored')
  const listed = await request(url, '/1.0/events/delete', { body: range, headers: { ...simple, Origin: 'https://app.example' } })
  t.equal(listed.status, 200, 'a listed origin is served')
  t.equal(json(listed)['@success'], true)
  t.same(await get(t, url, 's', 0, 10), [], 'and its delete is done')
})

t.test('Expect: 100-continue is answered 100 only for a request that will be read: one refused before its body gets its answer at once', async (t) => {
  const { port } = await start(t, { maxBody: 4096, corsOrigins: ['https://app.example'] })
  // What arrives before the client sends any body (curl waits for it before sending a body over 1 MB).
  const firstAnswer = async (head: string, body?: string): Promise<string> => await new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => { socket.write(head) })
    let text = ''
    socket.on('data', (b: Buffer) => {
      text += b.toString()
      if (!text.includes('\r\n\r\n')) return
      const status = text.split('\r\n')[0]
      if (status === 'HTTP/1.1 100 Continue' && body !== undefined) {
        text = ''
        socket.write(body)
        body = undefined
        return
      }
      resolve(status)
      socket.destroy()
    })
    socket.on('error', reject)
  })
  const head = (path: string, length: number, extra = ''): string => `POST ${path} HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: ${length}\r\n${extra}\r\n`
  t.equal(await firstAnswer(head('/1.0/events/put', 100_000)), 'HTTP/1.1 413 Payload Too Large', 'a body over the cap: 413, no 100')
  t.equal(await firstAnswer(head('/1.0/events/put', 10, 'Origin: https://evil.example\r\n')), 'HTTP/1.1 403 Forbidden', 'an unlisted origin: 403, no 100')
  t.equal(await firstAnswer(head('/1.0/nothing', 10)), 'HTTP/1.1 404 Not Found', 'no such endpoint: 404, no 100')
  const body = JSON.stringify({ events: { s: [{ '@time': 1 }] } })
  t.equal(await firstAnswer(head('/1.0/events/put', Buffer.byteLength(body)), body), 'HTTP/1.1 200 OK', 'a body it takes: 100, then the answer')
})

t.test('request bodies and events are capped', async (t) => {
  const { url } = await start(t, { maxBody: 4096, maxEventSize: 512 })
  const big = await post(url, '/1.0/events/put', { events: { s: [{ x: 'y'.repeat(5000) }] } })
  t.equal(big.status, 413)
  t.equal(json(big)['@success'], false)
  const chunked = await fetch(url + '/1.0/events/put', {
    method: 'POST',
    body: new ReadableStream({
      start (c) {
        for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode('x'.repeat(1000)))
        c.close()
      }
    }),
    duplex: 'half'
  } as RequestInit)
  t.equal(chunked.status, 413, 'a chunked body without a length is capped while read')
  await chunked.text()
  const reply = await post(url, '/1.0/events/put', { events: { s: [{ '@time': 1, x: 'y'.repeat(600) }, { '@time': 2 }] } })
  t.equal(reply.status, 200)
  t.same(json(reply).s, { shoebox: { num_inserted: 1 } }, 'an event over the cap is refused alone')
  t.match(json(reply)['@errors'], [/RequestTooLarge/])
})

t.test('a long get is chunked, application/json, each line CRLF (its chunks end between events: conformance-wire.test.ts)', async (t) => {
  const { url } = await start(t)
  const events = Array.from({ length: 3000 }, (_, i) => ({ '@time': i, pad: 'p'.repeat(100), u: 'ü' }))
  await put(t, url, { s: events })
  const res = await fetch(url + '/1.0/events/get', { method: 'POST', body: '{"stream": "s", "end_time": 100000}' })
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), 'application/json')
  t.equal(res.headers.get('transfer-encoding'), 'chunked')
  t.equal(res.headers.get('content-length'), null)
  const text = await res.text()
  const lines = text.split('\r\n')
  t.equal(lines.pop(), '', 'the body ends in CRLF')
  t.equal(lines.length, 3000)
  t.same(lines.map((l) => (JSON.parse(l) as { '@time': number })['@time']), events.map((e) => e['@time']))
  t.same(await get(t, url, 's', 10, 9), [])
})

t.test('the other endpoints refuse a body that is not valid UTF-8 too, as ujson does', async (t) => {
  const { url } = await start(t)
  await put(t, url, { s: [{ '@time': 1 }] })
  // An ignored key holding a lone 0xFF byte: decoded, it was U+FFFD and the request answered.
  const bodies: Record<string, string> = {
    '/1.0/events/get': '{"stream": "s", "end_time": 5, "x": "',
    '/1.0/events/delete': '{"stream": "s", "end_time": 5, "x": "',
    '/1.0/streams': '{"x": "',
    '/1.0/streams/infer_schema': '{"stream": "s", "x": "'
  }
  for (const [path, start] of Object.entries(bodies)) {
    const res = await fetch(url + path, { method: 'POST', body: Buffer.concat([Buffer.from(start), Buffer.from([0xff]), Buffer.from('"}')]) })
    t.equal(res.status, 400, path)
    t.match(JSON.parse(await res.text()), { '@errors': ['Request body must be valid JSON.'], '@success': false }, path)
  }
  t.same((await get(t, url, 's', 0, 5)).map((e) => e['@time']), [1], 'the delete deleted nothing')
})

t.test('a put body that is not valid UTF-8 is refused whole, as ujson refuses it; valid unicode is kept', async (t) => {
  const { url } = await start(t)
  const good = Buffer.from('{"events":{"s":[{"@time":1,"u":"é😀"}]}}')
  for (const bad of [Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf])]) {
    const at = good.indexOf('é')
    const body = Buffer.concat([good.subarray(0, at), bad, good.subarray(at)])
    const res = await fetch(url + '/1.0/events/put', { method: 'POST', body })
    t.equal(res.status, 400, bad.toString('hex'))
    t.same((JSON.parse(await res.text()) as Record<string, unknown>)['@errors'], ['Request body must be valid JSON.'])
  }
  const res = await fetch(url + '/1.0/events/put', { method: 'POST', body: good })
  t.equal(res.status, 200)
  const [event] = await get(t, url, 's', 0, 10)
  t.equal(event.u, 'é😀')
  t.same(await get(t, url, 's', 0, 10).then((l) => l.length), 1, 'nothing of the refused puts stored')
})

t.test('a put body sent one byte at a time (UTF-8 split everywhere) is read whole', async (t) => {
  const { url } = await start(t)
  const body = Buffer.from(JSON.stringify({ events: { s: [{ '@time': 1, text: 'naïve ☃ 𝄞 日本' }] } }))
  const res = await fetch(url + '/1.0/events/put', {
    method: 'POST',
    body: new ReadableStream({
      start (c) {
        for (const byte of body) c.enqueue(new Uint8Array([byte]))
        c.close()
      }
    }),
    duplex: 'half'
  } as RequestInit)
  t.equal(res.status, 200)
  t.equal((JSON.parse(await res.text()) as Record<string, unknown>)['@success'], true)
  const [event] = await get(t, url, 's', 0, 10)
  t.equal(event.text, 'naïve ☃ 𝄞 日本')
})
