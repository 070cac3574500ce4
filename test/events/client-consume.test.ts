/**
 * The ways of consuming a get: `for await` (the stream's own iterator, which
 * takes events from a queue without a read() per event), 'data', pipe /
 * pipeline, 'readable' + read(), and mixes of them, each seeing every event
 * once and in order across a resumed connection; the failure after the good
 * events either way; and backpressure: a consumer that stops taking events
 * pauses the socket, so the server's answer stays unread.
 */
import t, { type Test } from 'tap'
import diagnostics from 'node:diagnostics_channel'
import http, { type ClientRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { once } from 'node:events'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { kronos, type KronosClient } from '../../lib/events/client.js'
import type { KronosGetStream } from '../../lib/events/client-get.js'
import { startKronosFixture, type KronosFixture } from './fixtures/kronos-fixture.js'

const COUNT = 3000

async function setup (t: Test): Promise<{ fx: KronosFixture, client: KronosClient, expected: number[] }> {
  const fx = await startKronosFixture({ flushEvents: 7 })
  const client = kronos(fx.url, { baseDelay: 1, maxDelay: 5 })
  t.teardown(async () => {
    client.close()
    await fx.close()
  })
  // Times beyond 2^53 (exact only as bigint), one event each: the order is n's.
  fx.put('s', Array.from({ length: COUNT }, (_, n) => `{"@time":${17962947001234567n + BigInt(n)},"n":${n}}`))
  return { fx, client, expected: Array.from({ length: COUNT }, (_, n) => n) }
}

const num = (e: unknown): number => (e as { n: number }).n

/** Resolves once the stream has data to read (or has ended). */
async function readable (stream: KronosGetStream): Promise<void> {
  if (stream.readableLength > 0 || stream.readableEnded) return
  await once(stream, 'readable')
}

const ways: Record<string, (stream: KronosGetStream) => Promise<number[]>> = {
  'for await': async (stream) => {
    const got: number[] = []
    for await (const e of stream) got.push(num(e))
    return got
  },
  "'data'": async (stream) => {
    const got: number[] = []
    stream.on('data', (e) => got.push(num(e)))
    await once(stream, 'end')
    return got
  },
  'pipeline into a slow writable': async (stream) => {
    const got: number[] = []
    await pipeline(stream, new Writable({
      objectMode: true,
      highWaterMark: 1,
      write (e, _encoding, callback) {
        got.push(num(e))
        setImmediate(callback)
      }
    }))
    return got
  },
  "'readable' + read()": async (stream) => {
    const got: number[] = []
    let ended = false
    stream.once('end', () => { ended = true })
    while (!ended) {
      for (let e = stream.read() as unknown; e !== null; e = stream.read()) got.push(num(e))
      if (!ended) await Promise.race([once(stream, 'readable'), once(stream, 'end')])
    }
    return got
  },
  'read() 10, then for await': async (stream) => {
    const got: number[] = []
    while (got.length < 10) {
      await readable(stream)
      const e = stream.read() as unknown
      if (e !== null) got.push(num(e))
    }
    for await (const e of stream) got.push(num(e))
    return got
  },
  "Node's iterator for 10 (kept open), then 'data'": async (stream) => {
    const got: number[] = []
    for await (const e of stream.iterator({ destroyOnReturn: false })) {
      got.push(num(e))
      if (got.length === 10) break
    }
    stream.on('data', (e) => got.push(num(e)))
    await once(stream, 'end')
    return got
  },
  'for await for 10 (next() by hand), then pipe': async (stream) => {
    const got: number[] = []
    const it = stream[Symbol.asyncIterator]()
    for (let k = 0; k < 10; k++) {
      const r = await it.next()
      got.push(num(r.value))
    }
    const sink = new Writable({
      objectMode: true,
      write (e, _encoding, callback) {
        got.push(num(e))
        callback()
      }
    })
    stream.pipe(sink)
    await once(sink, 'finish')
    return got
  },
  'toArray() (the stream operators iterate it)': async (stream) => {
    return ((await stream.toArray()) as unknown[]).map(num)
  },
  'next() called several times at once': async (stream) => {
    const got: number[] = []
    const it = stream[Symbol.asyncIterator]()
    for (;;) {
      const batch = await Promise.all([it.next(), it.next(), it.next(), it.next()])
      for (const r of batch) if (r.done !== true) got.push(num(r.value))
      if (batch.some((r) => r.done === true)) return got
    }
  }
}

t.test('every way of consuming a get sees every event once, in order, across a resumed connection', async (t) => {
  const { fx, client, expected } = await setup(t)
  for (const [way, consume] of Object.entries(ways)) {
    fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 1234, midLine: true })
    const stream = client.get('s', 0n, 17962947001234567n + 10000n)
    const got = await consume(stream)
    t.same(got, expected, way)
    t.equal(stream.yielded, COUNT, `${way}: yielded`)
  }
})

t.test("leaving for await early ends the request; the iterator says done from then on, as Node's does", async (t) => {
  const { client } = await setup(t)
  const stream = client.get('s', 0n, 17962947001234567n + 10000n)
  const it = stream[Symbol.asyncIterator]()
  t.equal(num((await it.next()).value), 0)
  t.same(await it.return?.(), { done: true, value: undefined })
  await once(stream, 'close')
  t.ok(stream.destroyed)
  t.same(await it.next(), { done: true, value: undefined })
  // An outside destroy without an error, mid-way, is a premature close.
  const other = client.get('s', 0n, 17962947001234567n + 10000n)
  const it2 = other[Symbol.asyncIterator]()
  await it2.next()
  other.destroy()
  await t.rejects(it2.next(), { code: 'ERR_STREAM_PREMATURE_CLOSE' })
})

t.test('the good events, then the failure: by for await and by data events', async (t) => {
  for (const way of ['for await', "'data'"]) {
    const { fx } = await setup(t)
    const client = kronos(fx.url, { attempts: 2, baseDelay: 1 })
    t.teardown(() => { client.close() })
    fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 2000 })
    fx.fault('/1.0/events/get', { kind: 'status', status: 500 })
    fx.fault('/1.0/events/get', { kind: 'status', status: 502 })
    const stream = client.get('s', 0n, 17962947001234567n + 10000n)
    const got: number[] = []
    let error: { code?: string, status?: number } | undefined
    if (way === 'for await') {
      try {
        for await (const e of stream) got.push(num(e))
      } catch (err) {
        error = err as typeof error
      }
    } else {
      stream.on('data', (e) => got.push(num(e)))
      error = (await once(stream, 'error'))[0] as typeof error
    }
    t.same(got, Array.from({ length: 2000 }, (_, n) => n), `${way}: every event before the failure`)
    t.equal(error?.code, 'SHOEBOX_EVENTS_FAILED', way)
    t.equal(error?.status, 502, way)
  }
})

/** A server answering one get with `count` events of ~200 bytes, written with backpressure; it notes when a write is refused. */
async function bigServer (t: Test, count: number): Promise<{ url: string, written: () => number, blocked: Promise<void>, finished: () => boolean }> {
  let written = 0
  let finished = false
  let onBlocked: () => void = () => {}
  const blocked = new Promise<void>((resolve) => { onBlocked = resolve })
  const pad = 'x'.repeat(160)
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.once('finish', () => { finished = true })
      const pump = (): void => {
        while (written < count) {
          const ok = res.write(`{"@time":${written},"n":${written},"pad":"${pad}"}\r\n`)
          written++
          if (!ok) {
            onBlocked()
            res.once('drain', pump)
            return
          }
        }
        res.end()
      }
      pump()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, written: () => written, blocked, finished: () => finished }
}

/** The response of the next request this process starts (diagnostics_channel: no access to the client's insides needed). */
function nextResponse (t: Test): Promise<IncomingMessage> {
  return new Promise((resolve) => {
    const onStart = (message: unknown): void => {
      diagnostics.unsubscribe('http.client.request.start', onStart)
      ;(message as { request: ClientRequest }).request.once('response', resolve)
    }
    diagnostics.subscribe('http.client.request.start', onStart)
    t.teardown(() => { diagnostics.unsubscribe('http.client.request.start', onStart) })
  })
}

t.test('a consumer that stops taking events pauses the socket: the answer stays unread until it goes on', async (t) => {
  // 100,000 events (~20 MB): far more than the socket buffers and the client's 1024 events ahead hold.
  const COUNT = 100_000
  for (const way of ['for await', "'data' + pause()"]) {
    const server = await bigServer(t, COUNT)
    const client = kronos(server.url)
    t.teardown(() => { client.close() })
    const responded = nextResponse(t)
    const stream = client.get('s', 0, 1e15)
    const it = stream[Symbol.asyncIterator]()
    let taken = 0
    if (way === 'for await') {
      t.equal(num((await it.next()).value), 0)
      taken = 1
    } else {
      stream.on('data', () => { if (++taken === 1) stream.pause() })
    }
    const res = await responded
    // Both positive events: the client paused the response, and the server's writes back up.
    if (!res.isPaused()) await once(res, 'pause')
    await server.blocked
    t.ok(res.isPaused(), `${way}: the response is paused`)
    t.notOk(server.finished(), `${way}: the server could not hand over its whole answer`)
    // 1024 ahead, and what the last socket read held (up to 64 KiB: ~330 events).
    t.ok(stream.yielded - taken <= 1024 + 400, `${way}: at most ~1024 events parsed ahead (${stream.yielded - taken})`)
    t.comment(`${way}: ${stream.yielded - taken} events parsed ahead, the server stuck at ${server.written()}`)
    t.ok(server.written() < COUNT, `${way}: the server is stuck at ${server.written()} of ${COUNT} events`)
    // Going on: every event arrives, in order.
    let next = taken
    let inOrder = true
    if (way === 'for await') {
      for (let r = await it.next(); r.done !== true; r = await it.next()) inOrder &&= num(r.value) === next++
    } else {
      stream.removeAllListeners('data')
      stream.on('data', (e) => { inOrder &&= num(e) === next++ })
      stream.resume()
      await once(stream, 'end')
    }
    t.equal(next, COUNT, `${way}: all events after resuming`)
    t.ok(inOrder, `${way}: in order`)
    t.ok(server.finished(), `${way}: the answer was read to its end`)
  }
})
