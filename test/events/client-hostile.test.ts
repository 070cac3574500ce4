/**
 * The Kronos client against servers that are broken or hostile (issue 10):
 * a get answer whose line never ends, lines that are not JSON, not objects
 * or not UTF-8, more events than `limit` or no end at all, an answer gzipped
 * unasked, an answer that stops mid-way, 429s with Retry-After of every
 * kind, and JSON calls answered with too much or with the wrong thing. Each
 * server is a tiny node:http one on 127.0.0.1 port 0 that answers one way;
 * the client must end with a typed error naming the URL (never its
 * credentials) and what was kept, with bounded memory, and never crash.
 */
import t from 'tap'
import type http from 'node:http'
import { gzipSync } from 'node:zlib'
import { all } from './fixtures/get-all.js'
import { hostile } from './fixtures/hostile-server.js'
import { idAt } from './fixtures/event-ids.js'

const ID1 = idAt(1)

t.test('get: a line that never ends is refused past 64 Mi characters, typed, the events before it kept, not retried', async (t) => {
  const { client, url, requests } = await hostile(t, (_req, res) => {
    res.writeHead(200)
    res.write(`{"@id":"${ID1}","@time":1}\r\n{"x":"`)
    // 1 MiB at a time, for as long as the client reads (hundreds of MB without it).
    const chunk = Buffer.alloc(1024 * 1024, 0x61)
    const pump = (): void => { while (!res.destroyed && res.write(chunk)); }
    res.on('drain', pump)
    pump()
  })
  for (const format of ['object', 'text'] as const) {
    const before = requests()
    const { events, error } = await all(client.get('s', 0, 10, { format }))
    t.equal(events.length, 1, `${format}: the event before the line is yielded`)
    t.equal(error?.code, 'SHOEBOX_EVENTS_FAILED', format)
    t.equal(error?.message, `POST ${url}/1.0/events/get: line 2 of the answer is longer than 67108864 characters (not an event this client takes); 1 event before it yielded`)
    t.notMatch(error?.message, /s3cret|user/)
    t.equal(requests() - before, 1, `${format}: not asked again (the server would send the same line)`)
  }
})

const event = (n: number): string => `{"@id":"${idAt(n)}","@time":${n}}`

t.test('get: a line that is JSON but no object is refused in both formats, as format text always did; the events before it kept', async (t) => {
  for (const bad of ['[1,2]', '5', '"text"', 'null', ' true']) {
    const { client, url, requests } = await hostile(t, (_req, res) => {
      res.writeHead(200)
      res.end(`${event(1)}\r\n${bad}\r\n${event(2)}\r\n`)
    })
    for (const format of ['object', 'text'] as const) {
      const before = requests()
      const { events, error } = await all(client.get('s', 0, 10, { format }))
      t.equal(events.length, 1, `${bad}, ${format}: the event before it`)
      t.equal(error?.code, 'SHOEBOX_INVALID_EVENT', `${bad}, ${format}`)
      t.equal(error?.message, `POST ${url}/1.0/events/get: line 2 of the answer: an event is a JSON object, got character ${JSON.stringify(bad.trim()[0])}`)
      t.equal(requests() - before, 1, 'not asked again')
    }
  }
})

t.test('get: a line that is not JSON is refused (SHOEBOX_INVALID_JSON, its line named), the events before it kept', async (t) => {
  const { client, url } = await hostile(t, (_req, res) => {
    res.writeHead(200)
    res.end(`${event(1)}\r\n${event(2)}\r\n<html>oops</html>\r\n`)
  })
  const { events, error } = await all(client.get('s', 0, 10))
  t.equal(events.length, 2)
  t.equal(error?.code, 'SHOEBOX_INVALID_JSON')
  t.match(error?.message, `POST ${url}/1.0/events/get: line 3 of the answer: `)
})

t.test('get: a server sending more than limit, or without end: never more than limit yielded, the answer cut there', async (t) => {
  const closed: Array<Promise<unknown>> = []
  const { client } = await hostile(t, (_req, res, body) => {
    res.writeHead(200)
    closed.push(new Promise((resolve) => res.on('close', resolve)))
    // In the order asked (the client checks it): descending times count down.
    const descending = (JSON.parse(body) as { order: string }).order === 'descending'
    const line = (n: number): string => event(descending ? 10 - n : n)
    let n = 0
    const pump = (): void => { while (!res.destroyed && res.write(`${line(++n)}\r\n`)); }
    res.on('drain', pump)
    pump()
  })
  for (const order of ['ascending', 'descending'] as const) {
    const { events, error } = await all(client.get('s', 0, 10, { limit: 3, order }))
    t.equal(error, undefined)
    t.same(events.map((e) => (e as { '@time': number })['@time']), order === 'ascending' ? [1, 2, 3] : [9, 8, 7], order)
  }
  await Promise.all(closed)
  t.equal(closed.length, 2, 'each endless answer was cut (else this waits for ever)')
})

t.test('an answer gzipped though not asked for (no Accept-Encoding is sent): named as such, not read as garbage, not retried', async (t) => {
  const { client, url, requests } = await hostile(t, (req, res) => {
    res.writeHead(200, { 'content-encoding': 'GZip' })
    res.end(gzipSync(req.url === '/1.0/index' ? '{"version":"1"}' : `${event(1)}\r\n`))
  })
  const { events, error } = await all(client.get('s', 0, 10))
  t.same(events, [])
  t.equal(error?.code, 'SHOEBOX_EVENTS_FAILED')
  t.equal(error?.message, `POST ${url}/1.0/events/get: HTTP 200 with Content-Encoding gzip, which was not asked for`)
  await t.rejects(client.index(), { code: 'SHOEBOX_EVENTS_FAILED', status: 200, message: `GET ${url}/1.0/index: HTTP 200 with Content-Encoding gzip, which was not asked for` })
  t.equal(requests(), 2, 'each asked once')
})

t.test('get: bytes that are not UTF-8 fail the get at their line (SHOEBOX_INVALID_EVENT), never yielded with U+FFFD in their place', async (t) => {
  const { client, url, requests } = await hostile(t, (_req, res) => {
    res.writeHead(200)
    res.end(Buffer.concat([Buffer.from(`${event(1)}\r\n{"@id":"${idAt(2)}","@time":2,"s":"`), Buffer.from([0xFF, 0xFE]), Buffer.from(`"}\r\n${event(3)}\r\n`)]))
  })
  for (const format of ['object', 'text'] as const) {
    const before = requests()
    const { events, error } = await all(client.get('s', 0, 10, { format }))
    t.equal(events.length, 1, `${format}: the event before it`)
    t.equal(error?.code, 'SHOEBOX_INVALID_EVENT')
    t.equal(error?.message, `POST ${url}/1.0/events/get: line 2 of the answer is not valid UTF-8; 1 event before it yielded`)
    t.equal(requests() - before, 1, 'not asked again')
  }
})

t.test('get: 429 with Retry-After: a date waited for, 10^9 seconds capped at a minute, negative or garbage ignored (the backoff alone)', async (t) => {
  const headers: string[] = []
  const { client } = await hostile(t, (_req, res) => {
    const value = headers.shift()
    if (value === undefined) {
      res.writeHead(200)
      res.end(`${event(1)}\r\n`)
      return
    }
    res.writeHead(429, { 'retry-after': value })
    res.end()
  })
  headers.push('-5', 'soon!', '0x10', '1e3')
  const stream = client.get('s', 0, 10)
  const delays: number[] = []
  stream.on('retry', (e: { delayMs: number }) => delays.push(e.delayMs))
  const { events, error } = await all(stream)
  t.equal(error, undefined)
  t.equal(events.length, 1)
  t.equal(delays.length, 4)
  t.ok(delays.every((d) => d <= 5), `the backoff alone (maxDelay 5 ms): ${delays.join(', ')}`)

  headers.push(new Date(Date.now() + 1500).toUTCString())
  const dated = client.get('s', 0, 10)
  const datedDelays: number[] = []
  dated.on('retry', (e: { delayMs: number }) => datedDelays.push(e.delayMs))
  t.equal((await all(dated)).events.length, 1)
  t.ok(datedDelays[0] > 0 && datedDelays[0] <= 1500, `waits until the date: ${datedDelays[0]} ms`)

  headers.push('1000000000')
  const far = client.get('s', 0, 10)
  const retry = new Promise<{ delayMs: number }>((resolve) => far.once('retry', resolve))
  const farAll = all(far)
  t.equal((await retry).delayMs, 60_000, 'a minute at most')
  far.destroy()
  t.same((await farAll).events, [])
})

t.test('streams, schema, index, delete: an answer over 64 MiB is cut there, one not JSON or not an object refused, each naming the URL', async (t) => {
  let answer = (res: http.ServerResponse): void => { res.end('{}') }
  const { client, url } = await hostile(t, (_req, res) => { answer(res) })
  answer = (res) => {
    res.writeHead(200)
    const chunk = Buffer.alloc(1024 * 1024, 0x61)
    const pump = (): void => { while (!res.destroyed && res.write(chunk)); }
    res.on('drain', pump)
    pump()
  }
  await t.rejects(client.streams(), { code: 'SHOEBOX_EVENTS_FAILED', message: `${url}/1.0/streams: answer larger than 67108864 bytes` })
  await t.rejects(client.index(), { code: 'SHOEBOX_EVENTS_FAILED', message: `${url}/1.0/index: answer larger than 67108864 bytes` })
  answer = (res) => { res.end('<html>') }
  await t.rejects(client.inferSchema('s'), { code: 'SHOEBOX_EVENTS_FAILED', status: 200, message: new RegExp(`^POST ${url}/1\\.0/streams/infer_schema: the answer is not JSON`) })
  answer = (res) => { res.end('[1,2]') }
  await t.rejects(client.delete('s', 0, 1), { code: 'SHOEBOX_EVENTS_FAILED', status: 200, message: `POST ${url}/1.0/events/delete: the answer is not a JSON object` })
})

t.test('streams: an answer with a line that is no stream name (a proxy\'s login page) is refused naming the line, not listed as a stream; not retried', async (t) => {
  let answer = (res: http.ServerResponse): void => { res.end('a\r\nb.c\r\n') }
  const { client, url, requests } = await hostile(t, (_req, res) => { answer(res) })
  t.same(await client.streams(), ['a', 'b.c'])
  answer = (res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html><body>Sign in</body></html>\n') }
  const before = requests()
  await t.rejects(client.streams(), { code: 'SHOEBOX_EVENTS_FAILED', status: 200, message: `POST ${url}/1.0/streams: line 1 of the answer is not a stream name: "<html><body>Sign in</body></html>"` })
  t.equal(requests() - before, 1, 'not retried')
  answer = (res) => { res.end('a\r\nbad name\r\n') }
  await t.rejects(client.streams(), { message: /line 2 of the answer is not a stream name: "bad name"$/ })
})

t.test('get: an answer that stops mid-way (the connection kept open) is given up after timeout and resumed after the last event', async (t) => {
  const asked: string[] = []
  const { client } = await hostile(t, (_req, res) => {
    res.writeHead(200)
    if (asked.push('') === 1) {
      res.write(`${event(1)}\r\n${event(2)}\r\n{"@id":`)
      return // nothing more, the connection open
    }
    res.end(`${event(3)}\r\n`)
  }, { timeout: 200 })
  const stream = client.get('s', 0, 10)
  const retries: Array<{ yielded: number, error: Error }> = []
  stream.on('retry', (e: { yielded: number, error: Error }) => retries.push(e))
  const { events, error } = await all(stream)
  t.equal(error, undefined)
  t.same(events.map((e) => (e as { '@time': number })['@time']), [1, 2, 3], 'each once, in order')
  t.equal(asked.length, 2)
  t.equal(retries.length, 1)
  t.equal(retries[0].yielded, 2)
  t.match(retries[0].error.message, /the connection broke after 2 events: .*the answer stalled for 200 ms/)
})

t.test('streams, index: an answer trickled a byte at a time (each within the idle timeout) is given twice the timeout, then retried', async (t) => {
  const { client, url, requests } = await hostile(t, (_req, res) => {
    res.writeHead(200)
    const drip = setInterval(() => { if (res.destroyed) clearInterval(drip); else res.write(' ') }, 50)
    res.on('close', () => { clearInterval(drip) })
  }, { timeout: 150, attempts: 2 })
  await t.rejects(client.streams(), { code: 'SHOEBOX_UNREACHABLE', message: `${url}/1.0/streams: the answer's body took over 300 ms` })
  t.equal(requests(), 2, 'tried again (a JSON call is idempotent)')
  await t.rejects(client.index(), { code: 'SHOEBOX_UNREACHABLE', message: `${url}/1.0/index: the answer's body took over 300 ms` })
})
