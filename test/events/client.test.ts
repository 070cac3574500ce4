/**
 * The Kronos client against a loopback Kronos fixture: get's range rules
 * and options, events parsed as the body streams in (CRLF, UTF-8 split
 * anywhere, big integers exact), resuming after a broken connection in both
 * orders without duplicates and without exceeding `limit` (the two pykronos
 * bugs of spec §8), retries (5xx, Retry-After) and refusals (4xx,
 * @success false) as ShoeboxErrors naming the URL without credentials, and
 * delete / streams / inferSchema / index.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { kronos, type KronosClient } from '../../lib/events/client.js'
import type { JsonValue } from '../../lib/events/event-text.js'
import { all } from './fixtures/get-all.js'
import { idAt } from './fixtures/event-ids.js'
import { startKronosFixture, type KronosFixture } from './fixtures/kronos-fixture.js'

const ids = (events: unknown[]): string[] => events.map((e) => (e as { '@id': string })['@id'])
const nums = (events: unknown[]): unknown[] => events.map((e) => (e as { n: unknown }).n)

async function setup (t: Test, flushEvents = 3): Promise<{ fx: KronosFixture, client: KronosClient }> {
  const fx = await startKronosFixture({ flushEvents })
  const client = kronos(fx.url, { baseDelay: 1, maxDelay: 5 })
  t.teardown(async () => {
    client.close()
    await fx.close()
  })
  return { fx, client }
}

t.test('get: inclusive bounds, order, limit, start_id, namespaces', async (t) => {
  const { fx, client } = await setup(t)
  // Times 1..5, two events at 3.
  fx.put('s', [1, 2, 3, 3, 4, 5].map((time, n) => JSON.stringify({ '@time': time, n })))
  fx.put('s', ['{"@time":3,"n":"other"}'], 'namespace1')
  t.same(nums((await all(client.get('s', 1, 3))).events).sort(), [0, 1, 2, 3], 'both bounds inclusive')
  const asc = (await all(client.get('s', 0, 10))).events
  t.same(ids(asc), fx.events('s').map((e) => e.id), 'ascending (time, id) order')
  t.same(ids((await all(client.get('s', 0, 10, { order: 'descending' }))).events), ids(asc).reverse())
  t.same(ids((await all(client.get('s', 0, 10, { limit: 2 }))).events), ids(asc).slice(0, 2))
  t.same((await all(client.get('s', 0, 10, { limit: 0 }))).events, [])
  t.same(ids((await all(client.get('s', 0, 10, { startId: ids(asc)[2] }))).events), ids(asc).slice(3), 'start_id exclusive')
  t.same((await all(client.get('s', 3, 3))).events.length, 2, 'start == end')
  t.same((await all(client.get('s', 4, 2))).events, [], 'start > end')
  t.same(nums((await all(client.get('s', 0, 10, { namespace: 'namespace1' }))).events), ['other'])
  const body = fx.requests.filter((r) => r.path === '/1.0/events/get').at(-1)?.body
  t.same(JSON.parse(body ?? ''), { stream: 's', start_time: 0, end_time: 10, order: 'ascending', namespace: 'namespace1' })
  const iso = (await all(client.get('s', '1970-01-01T00:00:00Z', new Date(0)))).events
  t.same(iso, [], 'ISO and Date bounds (time 0)')
})

t.test('get: big integers exact, text as received, unicode', async (t) => {
  const { fx, client } = await setup(t)
  const [stored] = fx.put('big', ['{"@time":17962947001234567,"v":2.0,"e":1e3,"big":123456789012345678901,"u":"é😀"}'])
  const [event] = (await all(client.get('big', 0n, 17962947001234567n))).events as Array<Record<string, unknown>>
  t.equal(event['@time'], 17962947001234567n)
  t.equal(event.big, 123456789012345678901n)
  t.equal(event.u, 'é😀')
  t.equal(event['@id'], stored.id)
  const text = (await all(client.get('big', 0n, 17962947001234567n, { format: 'text' }))).events
  t.same(text, [stored.text], 'the line as the server sent it (2.0, 1e3 kept)')
})

t.test('get: typed by its format, so TypeScript reads an event\'s members as the README does (event[\'@time\'], event.page)', async (t) => {
  // The events were typed JsonValue | string: `event['@time']` did not compile without a cast (tsc --noEmit checks this file).
  const { fx, client } = await setup(t)
  const [stored] = fx.put('pages', ['{"@time":7,"page":"/docs"}'])
  const pages: Array<[JsonValue, JsonValue]> = []
  for await (const event of client.get('pages', 0, 10)) pages.push([event['@time'], event.page])
  t.same(pages, [[7, '/docs']])
  const lines: string[] = []
  for await (const line of client.get('pages', 0, 10, { format: 'text' })) lines.push(line.trim())
  t.same(lines, [stored.text])
})

t.test('get: CRLF lines and UTF-8 split at every byte, from a server writing one byte at a time', async (t) => {
  const lines = [`{"@id":"${idAt(1)}","@time":1,"u":"é😀"}`, `{"@id":"${idAt(2)}","@time":2}`]
  const body = Buffer.from(lines.map((l) => `${l}\r\n`).join(''))
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      let i = 0
      const next = (): void => {
        if (i === body.length) return void res.end()
        res.write(body.subarray(i, ++i), next)
      }
      next()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = kronos(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  t.teardown(() => { client.close(); server.close() })
  const { events, error } = await all(client.get('s', 0, 10))
  t.equal(error, undefined)
  t.same(events.map((e) => (e as { u?: string }).u ?? null), ['é😀', null])
})

t.test('get ascending resumes after a broken connection with start_id: no duplicate, no loss', async (t) => {
  const { fx, client } = await setup(t)
  fx.put('s', Array.from({ length: 20 }, (_, n) => JSON.stringify({ '@time': 100 + Math.floor(n / 3), n })))
  const expected = fx.events('s').map((e) => e.id)
  fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 7, midLine: true })
  fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 5 })
  const stream = client.get('s', 0, 1000)
  const retries: number[] = []
  stream.on('retry', (e: { yielded: number }) => retries.push(e.yielded))
  const { events, error } = await all(stream)
  t.equal(error, undefined)
  t.same(ids(events), expected)
  t.same(retries, [7, 12])
  const bodies = fx.requests.filter((r) => r.path === '/1.0/events/get').map((r) => JSON.parse(r.body) as Record<string, unknown>)
  t.same(bodies.map((b) => b.start_id), [undefined, expected[6], expected[11]])
})

t.test('get descending resumes after a break inside a run of equal times: end_time = that time, seen ids dropped', async (t) => {
  const { fx, client } = await setup(t)
  const times = [1, 2, 3, 3, 3, 3, 3, 4, 5, 6]
  fx.put('s', times.map((time, n) => JSON.stringify({ '@time': time, n })))
  const expected = fx.events('s').map((e) => e.id).reverse()
  // Descending: 6, 5, 4, 3, 3 | cut | 3, 3, 3, 2, 1
  fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 5, midLine: true })
  const { events, error } = await all(client.get('s', 0, 10, { order: 'descending', limit: 9 }))
  t.equal(error, undefined)
  t.same(ids(events), expected.slice(0, 9), 'the first 9 in descending order, none twice')
  const bodies = fx.requests.filter((r) => r.path === '/1.0/events/get').map((r) => JSON.parse(r.body) as Record<string, unknown>)
  t.equal(bodies.length, 2)
  t.same(bodies[1], { stream: 's', start_time: 0, end_time: 3, order: 'descending', limit: 4 + 2 }, 'remaining 4 + the 2 already seen at time 3')
})

t.test('get: an event without a usable @id, last or earlier, makes a break final: no resume, the events before are kept', async (t) => {
  const id = (n: number): string => idAt(n, 0)
  const answers: Record<string, string[]> = {
    last: [`{"@time":1,"@id":"${id(1)}"}`, '{"@time":2,"n":2}'],
    earlier: [`{"@time":1,"@id":"${id(1)}"}`, '{"@time":2,"@id":"not-a-uuid"}', `{"@time":3,"@id":"${id(3)}"}`],
    // Two UUIDs in one @id, a line feed between (ids are checked a chunk at a time, joined by line feeds).
    'two in one': [`{"@time":1,"@id":"${id(1)}"}`, `{"@time":2,"@id":"${id(2)}\\n${id(2)}"}`, `{"@time":3,"@id":"${id(3)}"}`],
    // An id of the right length whose digits are not hex, before two good ones at one time.
    'not hex': [`{"@time":1,"@id":"${id(1).replace(/^./, 'g')}"}`, `{"@time":3,"@id":"${id(3)}"}`, `{"@time":3,"@id":"${id(3).replace(/0$/, '1')}"}`]
  }
  for (const [name, lines] of Object.entries(answers)) {
    let requests = 0
    const server = http.createServer((req, res) => {
      requests++
      let body = ''
      req.setEncoding('utf8').on('data', (s: string) => { body += s })
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' })
        // In the order asked (the client checks it).
        const answer = body.includes('"descending"') ? [...lines].reverse() : lines
        res.write(answer.join('\r\n') + '\r\n', () => res.destroy())
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const client = kronos(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { baseDelay: 1, maxDelay: 5 })
    for (const order of ['ascending', 'descending'] as const) {
      const before = requests
      const { events, error } = await all(client.get('s', 0, 10, { order }))
      t.equal(events.length, lines.length, `${name}, ${order}: every event before the break`)
      t.equal(error?.code, 'SHOEBOX_UNREACHABLE', `${name}, ${order}: the break is reported`)
      t.equal(requests - before, 1, `${name}, ${order}: not resumed`)
    }
    client.close()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})

t.test('get never yields more than limit over several breaks, in both orders', async (t) => {
  const { fx, client } = await setup(t, 1)
  fx.put('s', Array.from({ length: 30 }, (_, n) => JSON.stringify({ '@time': n % 4, n })))
  for (const order of ['ascending', 'descending'] as const) {
    const full = ids((await all(client.get('s', 0, 10, { order }))).events)
    fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 4 })
    fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 3, midLine: true })
    fx.fault('/1.0/events/get', { kind: 'status', status: 503 })
    fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 1 })
    const { events, error } = await all(client.get('s', 0, 10, { order, limit: 10 }))
    t.equal(error, undefined)
    t.same(ids(events), full.slice(0, 10), order)
  }
})

t.test('retries: 503 with Retry-After and 500 are retried; 400 and @success false are not', async (t) => {
  const { fx, client } = await setup(t)
  fx.put('s', ['{"@time":1}'])
  fx.fault('/1.0/events/get', { kind: 'status', status: 503, retryAfter: '0' })
  fx.fault('/1.0/events/get', { kind: 'status', status: 500 })
  t.equal((await all(client.get('s', 0, 10))).events.length, 1)
  const before = fx.requests.length
  fx.fault('/1.0/events/get', { kind: 'status', status: 400, body: '{"@errors":["InvalidStreamName(\'x\',)"],"@success":false}' })
  const { error } = await all(client.get('s', 0, 10))
  t.equal(error?.code, 'SHOEBOX_EVENTS_FAILED')
  t.equal(error?.status, 400)
  t.match(error?.message, `POST ${fx.url}/1.0/events/get: HTTP 400: InvalidStreamName('x',)`)
  t.equal(fx.requests.length, before + 1, 'a 400 is not retried')
  fx.fault('/1.0/events/delete', { kind: 'status', status: 200, body: '{"s":{"memory":{"num_deleted":-1,"@errors":["TypeError()"]}},"@success":false}' })
  await t.rejects(client.delete('s', 0, 10), { code: 'SHOEBOX_EVENTS_FAILED', errors: ['TypeError()'], message: /Encountered errors: TypeError\(\)/ })
})

t.test('retries are bounded; good events before the last failure are still delivered', async (t) => {
  const fx = await startKronosFixture()
  const client = kronos(fx.url.replace('http://', 'http://user:secret@'), { attempts: 3, baseDelay: 1 })
  t.teardown(async () => { client.close(); await fx.close() })
  fx.put('s', Array.from({ length: 6 }, (_, n) => JSON.stringify({ '@time': n, n })))
  fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 2 })
  fx.fault('/1.0/events/get', { kind: 'status', status: 500 })
  fx.fault('/1.0/events/get', { kind: 'status', status: 502 })
  fx.fault('/1.0/events/get', { kind: 'status', status: 504 })
  const { events, error } = await all(client.get('s', 0, 10))
  t.same(nums(events), [0, 1])
  t.equal(error?.code, 'SHOEBOX_EVENTS_FAILED')
  t.equal(error?.status, 504, 'three failures in a row without progress (the cut made progress)')
  t.notMatch(error?.message, /secret|user/, 'no credentials in the error')
  t.equal(client.url, fx.url, 'nor in the shown URL')
  t.equal(fx.requests[0].headers.authorization, `Basic ${Buffer.from('user:secret').toString('base64')}`, 'sent as Basic auth')
})

t.test('the retry budget is per stretch without progress: many breaks, each after some events, still finish', async (t) => {
  const { fx } = await setup(t)
  const client = kronos(fx.url, { attempts: 2, baseDelay: 1 })
  t.teardown(() => { client.close() })
  fx.put('s', Array.from({ length: 40 }, (_, n) => JSON.stringify({ '@time': n, n })))
  for (let i = 0; i < 12; i++) {
    fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 3, midLine: i % 2 === 0 })
    if (i % 3 === 0) fx.fault('/1.0/events/get', { kind: 'status', status: 503 })
  }
  const { events, error } = await all(client.get('s', 0, 100, { order: 'descending' }))
  t.equal(error, undefined)
  t.same(nums(events), Array.from({ length: 40 }, (_, n) => 39 - n))
})

t.test('a server that stalls mid-body is a broken connection: resumed after the idle timeout', async (t) => {
  const fx = await startKronosFixture({ flushEvents: 1 })
  const client = kronos(fx.url, { timeout: 300, baseDelay: 1 })
  t.teardown(async () => { client.close(); await fx.close() })
  fx.put('s', Array.from({ length: 6 }, (_, n) => JSON.stringify({ '@time': n, n })))
  fx.fault('/1.0/events/get', { kind: 'stall', afterEvents: 4 })
  const stream = client.get('s', 0, 10)
  const retries: Array<{ message: string }> = []
  stream.on('retry', (e: { error: Error }) => retries.push({ message: e.error.message }))
  const { events, error } = await all(stream)
  t.equal(error, undefined)
  t.same(nums(events), [0, 1, 2, 3, 4, 5])
  t.match(retries, [{ message: /the connection broke after 4 events: .*stalled for 300 ms/ }])
})

t.test('an unreachable server is SHOEBOX_UNREACHABLE naming the URL', async (t) => {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const client = kronos(url, { attempts: 2, baseDelay: 1 })
  await t.rejects(client.index(), { code: 'SHOEBOX_UNREACHABLE', message: new RegExp(`^GET ${url}/1.0/index: `) })
  const { error } = await all(client.get('s', 0, 1))
  t.equal(error?.code, 'SHOEBOX_UNREACHABLE')
})

t.test('delete, streams, inferSchema, index', async (t) => {
  const { fx, client } = await setup(t)
  fx.put('a', ['{"@time":1}', '{"@time":2}', '{"@time":3}'])
  fx.put('b.c', ['{"@time":1}'])
  fx.put('z', ['{"@time":1}'], 'namespace2')
  t.same(await client.streams(), ['a', 'b.c'])
  t.same(await client.streams({ namespace: 'namespace2' }), ['z'])
  const deleted = await client.delete('a', 1, 2)
  t.same(deleted.a, { memory: { num_deleted: 2 } })
  t.equal(fx.events('a').length, 1)
  const keep = fx.events('a')[0].id
  fx.put('a', ['{"@time":5}'])
  t.same((await client.delete('a', 0, 10, { startId: keep })).a, { memory: { num_deleted: 1 } })
  t.same(fx.events('a').map((e) => e.id), [keep], 'start_id: exactly that event is left')
  const schema = await client.inferSchema('a')
  t.same(schema.schema, { type: 'object' })
  t.same(JSON.parse(fx.requests.at(-1)?.body ?? ''), { stream: 'a', namespace: null }, 'namespace always sent, null for the default')
  const index = await client.index()
  t.equal(index.service, 'kronosd')
  await t.rejects(kronos(fx.url, { namespace: 'nope', baseDelay: 1 }).streams(), { code: 'SHOEBOX_EVENTS_FAILED', status: 400, message: /NamespaceMissing/ })
})

t.test('arguments are checked before any request', async (t) => {
  const client = kronos('http://127.0.0.1:9')
  t.throws(() => client.get('bad name', 0, 1), { code: 'SHOEBOX_INVALID_STREAM_NAME' })
  t.throws(() => client.get('s', 0, 1, { startId: 'nope' }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.throws(() => client.get('s', 0, 1, { order: 'up' as 'ascending' }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.throws(() => client.get('s', 1.5, 2), { code: 'SHOEBOX_INVALID_EVENT_TIME' })
  t.throws(() => client.get('s', 'soon', 2), { code: 'SHOEBOX_INVALID_EVENT_TIME' })
  t.throws(() => kronos('ftp://x'), { code: 'SHOEBOX_BAD_URL' })
  t.throws(() => kronos('not a url'), { code: 'SHOEBOX_BAD_URL' })
  // A '%' not starting an escape in the user name or password (a password written as it is): Basic auth
  // decodes them, and decodeURIComponent threw URIError 'URI malformed' (an internal error and stack in the CLI).
  for (const url of ['http://user:p%zzSECRET@127.0.0.1:1', 'http://us%er:pw@127.0.0.1:1', 'http://user:p%ffSECRET@127.0.0.1:1']) {
    t.throws(() => kronos(url), { code: 'SHOEBOX_BAD_URL', message: /^http:\/\/127\.0\.0\.1:1: the user name or password has a '%' that is no %XX escape of UTF-8 text \(write % as %25\)$/ }, url)
  }
  const escaped = kronos('http://user:p%25zz@127.0.0.1:1')
  escaped.close()
  t.throws(() => kronos('http://x', { attempts: 0 }), { code: 'SHOEBOX_INVALID_OPTION' })
})

t.test('an unknown option is refused naming it, not ignored ({ attempt: 3 } tried 10 times, { limt: 5 } got every event)', async (t) => {
  const unknown = (option: string, what: string): { code: string, option: string, message: RegExp } => ({ code: 'SHOEBOX_INVALID_OPTION', option, message: new RegExp(`option ${option}: is not an option of ${what.replace(/[()]/g, '\\$&')} \\(those are `) })
  t.throws(() => kronos('http://x', { attempt: 3 } as Record<string, unknown>), unknown('attempt', 'kronos()'))
  const client = kronos('http://127.0.0.1:9', { namespace: 'n', attempts: 1, baseDelay: 1, maxDelay: 2, timeout: '1s', maxSockets: 2 })
  t.throws(() => client.get('s', 0, 1, { limt: 5 } as Record<string, unknown>), unknown('limt', 'get()'))
  await t.rejects(client.delete('s', 0, 1, { startid: 'x' } as Record<string, unknown>), unknown('startid', 'delete()'))
  await t.rejects(client.streams({ namespac: 'n' } as Record<string, unknown>), unknown('namespac', 'streams()'))
  await t.rejects(client.inferSchema('s', { namespac: 'n' } as Record<string, unknown>), unknown('namespac', 'inferSchema()'))
  t.throws(() => client.get('s', 0, 1, null as unknown as object), { code: 'SHOEBOX_INVALID_OPTION', option: 'options' })
  client.close()
})

t.test('a reader that stops early ends the request', async (t) => {
  const { fx, client } = await setup(t, 1)
  fx.put('s', Array.from({ length: 200 }, (_, n) => JSON.stringify({ '@time': n, n })))
  const seen: unknown[] = []
  for await (const e of client.get('s', 0, 1000)) {
    seen.push(e)
    if (seen.length === 3) break
  }
  t.same(nums(seen), [0, 1, 2])
  t.same(nums((await all(client.get('s', 0, 1000, { limit: 2 }))).events), [0, 1], 'the pool still serves')
})
