/**
 * The Kronos client against a server that says no, as a real Kronos (spec
 * §4, §5) or a proxy in front of one says it: a get or a streams listing
 * for a namespace it is not configured for is a bare 500 (gevent's text/plain
 * "Internal Server Error", the connection closed), where infer_schema says
 * 400 NamespaceMissing; 401, 403, 404 ("Four, oh, four :'("), 405, 413, a
 * 400 for a bad body, a redirect. A refusal fails at once, naming the URL
 * (never its credentials) and the server's words; what may pass on another
 * try is tried again. Counted in requests, never in time.
 */
import t from 'tap'
import type http from 'node:http'
import { hostile } from './fixtures/hostile-server.js'
import { all } from './fixtures/get-all.js'

const MISSING = "NamespaceMissing('`typo` namespace is not configured',)"

/** As gevent's pywsgi answers an exception that escaped the app before the first byte. */
function crashed (res: http.ServerResponse): void {
  const body = 'Internal Server Error'
  res.writeHead(500, { 'Content-Type': 'text/plain', Connection: 'close', 'Content-Length': body.length })
  res.end(body)
}

function json (res: http.ServerResponse, status: number, answer: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers })
  res.end(JSON.stringify(answer))
}

/** A Kronos with namespaces kronos and app: get and streams crash on any other, infer_schema says NamespaceMissing. */
function kronos04 (paths: string[], readCrashes = false): (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void {
  return (req, res, body) => {
    paths.push(req.url ?? '')
    const ns = (JSON.parse(body) as { namespace?: string | null }).namespace ?? 'kronos'
    const known = ns === 'kronos' || ns === 'app'
    if (req.url === '/1.0/streams/infer_schema') {
      if (known) json(res, 200, { stream: 'x', namespace: ns, schema: { type: 'null' }, '@success': true, '@took': '1ms' })
      else json(res, 400, { '@errors': [`NamespaceMissing('\`${ns}\` namespace is not configured',)`], '@success': false, '@took': '1ms' })
      return
    }
    if (!known || readCrashes) {
      crashed(res)
      return
    }
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(req.url === '/1.0/streams' ? 'pageviews\r\n' : '')
  }
}

t.test('get and streams on a namespace the server lacks: one bare 500, one infer_schema, then a refusal in the server\'s words; not retried ~20 s', async (t) => {
  const paths: string[] = []
  const { client, url } = await hostile(t, kronos04(paths), { attempts: 10 })
  const { events, error } = await all(client.get('pageviews', 0, 10, { namespace: 'typo' }))
  t.same(events, [])
  t.match(error, { code: 'SHOEBOX_EVENTS_FAILED', status: 500, errors: [MISSING] })
  t.equal(error?.message, `POST ${url}/1.0/events/get: namespace typo, stream pageviews: HTTP 500: Internal Server Error; ` +
    `the server says ${MISSING} (asked at /1.0/streams/infer_schema): not tried again; no event yielded`)
  t.notMatch(error?.message, /s3cret/, 'no credentials')
  t.same(paths, ['/1.0/events/get', '/1.0/streams/infer_schema'], 'one get, one check: not ten gets')

  paths.length = 0
  await t.rejects(client.streams({ namespace: 'typo' }), {
    code: 'SHOEBOX_EVENTS_FAILED',
    message: `POST ${url}/1.0/streams: namespace typo: HTTP 500: Internal Server Error; the server says ${MISSING} (asked at /1.0/streams/infer_schema): not tried again`
  })
  t.same(paths, ['/1.0/streams', '/1.0/streams/infer_schema'])

  paths.length = 0
  t.same(await client.streams({ namespace: 'app' }), ['pageviews'], 'a namespace it has: listed, nothing checked')
  t.same(await all(client.get('pageviews', 0, 10, { namespace: 'app' })), { events: [] })
  t.same(paths, ['/1.0/streams', '/1.0/events/get'])
})

t.test('a bare 500 on a namespace the server has (a read that crashed): checked once, then retried within attempts as before', async (t) => {
  const paths: string[] = []
  const { client, url } = await hostile(t, kronos04(paths, true), { attempts: 3 })
  t.match(await all(client.get('pageviews', 0, 10, { namespace: 'app' })), { events: [], error: { code: 'SHOEBOX_EVENTS_FAILED', status: 500, message: `POST ${url}/1.0/events/get: HTTP 500: Internal Server Error` } })
  t.same(paths, ['/1.0/events/get', '/1.0/streams/infer_schema', '/1.0/events/get', '/1.0/events/get'], 'three gets, one check')
  paths.length = 0
  await t.rejects(client.streams(), { status: 500, message: /HTTP 500/ })
  t.same(paths, ['/1.0/streams', '/1.0/streams/infer_schema', '/1.0/streams', '/1.0/streams'], 'the default namespace checked as null')
})

t.test('refusals fail at the first answer, the server\'s words in the line; 408, 429 and 5xx are tried again', async (t) => {
  let answer: (res: http.ServerResponse) => void = (res) => { res.end() }
  const { client, url, requests } = await hostile(t, (_req, res) => { answer(res) }, { attempts: 3 })
  const refusals: Array<[string, (res: http.ServerResponse) => void, string]> = [
    ['401 (a proxy\'s login)', (res) => { res.writeHead(401, { 'WWW-Authenticate': 'Basic' }); res.end('Unauthorized') }, 'HTTP 401: Unauthorized'],
    ['403 (a serving mode)', (res) => { json(res, 403, { '@errors': ['kronosd is configured to block access to this endpoint.'], '@success': false }) }, 'HTTP 403: kronosd is configured to block access to this endpoint.'],
    ['404 (a wrong base URL)', (res) => { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end("Four, oh, four :'(") }, "HTTP 404: Four, oh, four :'("],
    ['405', (res) => { json(res, 405, { '@errors': ['GET method not allowed'], '@success': false }, { Allow: 'POST, OPTIONS' }) }, 'HTTP 405: GET method not allowed'],
    ['413 (a proxy\'s body limit)', (res) => { res.writeHead(413, { 'Content-Type': 'text/html' }); res.end('<html>413 Request Entity Too Large</html>') }, 'HTTP 413: <html>413 Request Entity Too Large</html>'],
    ['400 malformed body', (res) => { json(res, 400, { '@errors': ['Request body must be valid JSON.'], '@success': false }) }, 'HTTP 400: Request body must be valid JSON.'],
    ['400 NamespaceMissing', (res) => { json(res, 400, { '@errors': [MISSING], '@success': false }) }, `HTTP 400: ${MISSING}`],
    ['301 to another host', (res) => { res.writeHead(301, { Location: 'http://who:pw@elsewhere.invalid/kronos/1.0/events/get?token=t0k3n' }); res.end() },
      'HTTP 301 (a redirect to http://elsewhere.invalid/kronos/1.0/events/get, not followed)']
  ]
  for (const [what, refuse, said] of refusals) {
    answer = refuse
    const before = requests()
    t.match((await all(client.get('s', 0, 10))).error, { code: 'SHOEBOX_EVENTS_FAILED', message: `POST ${url}/1.0/events/get: ${said}` }, what)
    await t.rejects(client.delete('s', 0, 10), { message: `POST ${url}/1.0/events/delete: ${said}` }, what)
    t.equal(requests() - before, 2, `${what}: one request each`)
  }
  for (const status of [408, 429, 500, 502, 503, 504]) {
    answer = (res) => { json(res, status, { '@errors': ['busy'], '@success': false }) }
    const before = requests()
    await t.rejects(client.delete('s', 0, 10), { status, message: `POST ${url}/1.0/events/delete: HTTP ${status}: busy` })
    t.equal(requests() - before, 3, `${status}: tried 3 times`)
  }
})
