import { once } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { inspect } from 'node:util'
import { pipeline } from 'node:stream/promises'
import t, { type Test } from 'tap'
import { ship, type Shipper } from '../../lib/events/ship.js'
import { startCollector, type StoredEvent } from './fixtures/collector.js'

const fast = { baseDelay: 5, maxDelay: 50 }

function seqs (stored: StoredEvent[], stream?: string): number[] {
  return stored.filter((e) => stream === undefined || e.stream === stream).map((e) => e.event.seq as number)
}

/** Every number in 0..n-1 exactly once. */
function exactlyOnce (t: Test, got: number[], n: number, what: string): void {
  t.equal(new Set(got).size, got.length, `${what}: no event stored twice`)
  t.equal(got.length, n, `${what}: every event stored`)
}

async function writeAcked (shipper: Shipper, chunk: unknown): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    shipper.write(chunk, (err) => { if (err === null || err === undefined) resolve(); else reject(err) })
  })
}

t.test('a pipeline of events arrives once each, in order (maxInFlightPerStream 1), batched, in pykronos\'s body', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url + '/', { stream: 'clicks', batchEvents: 100, maxInFlightPerStream: 1 })
  const batches: number[] = []
  shipper.on('batch', (b: { events: number }) => batches.push(b.events))
  const events = Array.from({ length: 1000 }, (_, seq) => ({ seq, page: 'é/ü', big: 1 }))
  await pipeline(Readable.from(events), shipper)
  exactlyOnce(t, seqs(collector.stored), 1000, 'clicks')
  t.same(seqs(collector.stored), events.map((e) => e.seq), 'in the order written')
  t.same(batches, Array(10).fill(100), 'cut by count')
  t.equal(collector.requests, 10)
  t.match(collector.bodies[0], /^\{"events": \{"clicks": \[\{"seq":0,"page":"é\/ü","big":1, "@time": \d{17}, "@id": "[0-9a-f-]{36}", "@library": \{"name":"shoebox","version":"[^"]+"\}\}, /, 'the body pykronos sends, @id and @library added')
  t.notMatch(collector.bodies[0], /"namespace"/, 'no namespace key when none is set: the server default applies')
  const stats = shipper.stats()
  t.equal(stats.events.acked, 1000)
  t.equal(stats.uploaded.objects, 10)
  t.equal(stats.events.queued, 0)
})

t.test('by default one stream\'s batches overlap; answered out of order, callbacks and acks still come in the order written', async (t) => {
  // A server that holds the answer of the batch holding seq 0 until the next batch's answer is written.
  let sent = 0
  let open = 0
  let mostOpen = 0
  let answerFirst: (() => void) | undefined
  const answers: string[] = []
  const server = http.createServer((req, res) => {
    open++
    mostOpen = Math.max(mostOpen, open)
    const parts: Buffer[] = []
    req.on('data', (part: Buffer) => parts.push(part))
    req.on('end', () => {
      const events = (JSON.parse(Buffer.concat(parts).toString('utf8')) as { events: { s: Array<{ seq: number }> } }).events.s
      const answer = (): void => {
        open--
        answers.push(`${events[0].seq}-${events[events.length - 1].seq}`)
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ s: { x: { num_inserted: events.length } }, '@success': true }))
      }
      // Held only when the shipper sent the next batch already (else this would wait for ever).
      if (events[0].seq === 0 && sent === 2) {
        answerFirst = answer
        return
      }
      res.on('finish', () => { answerFirst?.() })
      answer()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const shipper = ship(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { stream: 's', batchEvents: 10 })
  const called: number[] = []
  const acks: number[] = []
  shipper.on('batch', () => { sent++ })
  shipper.on('ack', (a: { events: number }) => acks.push(a.events))
  for (let seq = 0; seq < 20; seq++) shipper.write({ seq }, (err) => { if (err === null || err === undefined) called.push(seq) })
  shipper.end()
  await once(shipper, 'finish')
  t.equal(mostOpen, 2, 'both batches of the stream were at the server at once')
  t.same(answers, ['10-19', '0-9'], 'the later batch was answered first')
  t.same(called, Array.from({ length: 20 }, (_, i) => i), 'callbacks in the order written')
  t.same(acks, [10, 10])
  t.equal(shipper.stats().events.acked, 20)
})

t.test('replayed (spilled) batches of a stream go one at a time, in order: the spill counts acknowledged events as a prefix', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-replay-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const options = { stream: 's', onOverflow: 'spill' as const, spill: dir, batchEvents: 10, queueEvents: 20, retry: fast, exitHooks: false }
  // A first shipper spills what its queue has no room for while the server is down.
  const first = ship(collector.url, options)
  first.on('error', () => {})
  let durable = 0
  first.on('spill', (e: { events: number }) => { durable += e.events })
  for (let seq = 0; seq < 100; seq++) first.write({ seq }, () => {})
  while (durable < 80) await once(first, 'spill')
  first.destroy()
  await once(first, 'close')
  // The next one replays it: every batch it sends is replayed, so none may overlap another.
  await collector.start()
  const second = ship(collector.url, options)
  let inFlight = 0
  let most = 0
  second.on('batch', () => { most = Math.max(most, ++inFlight) })
  second.on('ack', () => { inFlight-- })
  second.end()
  await once(second, 'finish')
  t.equal(second.stats().events.replayed, 80)
  t.equal(most, 1, 'one replayed batch in flight at a time')
  t.same(seqs(collector.stored), Array.from({ length: 80 }, (_, i) => i + 20), 'in the order spilled')
})

t.test('{ stream, event } items: several streams, namespaces, text kept as given, the caller\'s @library kept', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { namespace: 'namespace1', batchAge: 10 })
  await writeAcked(shipper, { stream: 'a', event: '{"n": 2.0, "huge": 12345678901234567890}' })
  await writeAcked(shipper, { stream: 'b', namespace: 'namespace2', event: { '@library': { name: 'mine', version: '1' } } })
  shipper.end()
  await once(shipper, 'finish')
  t.match(collector.bodies.join('\n'), /"n": 2\.0, "huge": 12345678901234567890, "@time": \d+, "@id": "[0-9a-f-]{36}", "@library"/, 'event text sent as written')
  t.same(collector.stored.map((e) => [e.namespace, e.stream]), [['namespace1', 'a'], ['namespace2', 'b']])
  t.same(collector.stored[1].event['@library'], { name: 'mine', version: '1' })
})

t.test('a 408 (the server timed the request out, as shoebox serve does for a body slower than its requestTimeout) is tried again, not a refusal', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.failNext(2, 408)
  const shipper = ship(collector.url, { stream: 's', retry: fast })
  await writeAcked(shipper, { seq: 1 })
  t.equal(collector.requests, 3, 'two 408s, then the put that succeeded')
  t.same(collector.stored.map((e) => e.event.seq), [1])
  shipper.destroy()
})

t.test('a write\'s callback fires only after the server stored its event; an age cut sends a lone event', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.failNext(3, 503)
  const shipper = ship(collector.url, { stream: 's', retry: fast })
  const order: string[] = []
  await new Promise<void>((resolve) => {
    shipper.write({ seq: 7 }, (err) => {
      order.push(`callback ${String(err)} stored=${collector.stored.length}`)
      resolve()
    })
  })
  t.same(order, ['callback null stored=1'])
  t.equal(collector.requests, 4, 'three 503s, then the put that succeeded')
  t.equal(shipper.stats().retries, 3)
  shipper.destroy()
})

t.test('the wall clock stepped back (NTP, a resumed VM) holds no batch: batchAge is counted on a monotonic clock', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const wallNow = Date.now
  t.teardown(() => { Date.now = wallNow })
  const shipper = ship(collector.url, { stream: 's', batchAge: '200ms' })
  t.teardown(() => { shipper.destroy() })
  const stored = new Promise<string>((resolve) => {
    shipper.write({ seq: 1 }, (err) => { resolve(err === null || err === undefined ? 'stored' : String(err)) })
  })
  // Once the event's batch is open (the shipper starts before it takes writes), the clock is stepped back an hour.
  while (shipper.stats().events.queued === 0) await new Promise((resolve) => setImmediate(resolve))
  Date.now = () => wallNow() - 3_600_000
  let held: NodeJS.Timeout | undefined
  const outcome = await Promise.race([stored, new Promise<string>((resolve) => { held = setTimeout(() => { resolve('held') }, 15_000) })])
  clearTimeout(held)
  // The batch's age was counted on Date.now(): it was sent once the wall clock came back to its open time plus 200 ms, an hour later.
  t.equal(outcome, 'stored', 'the lone event is sent after batchAge, whatever the wall clock did')
  t.equal(collector.stored.length, 1)
})

t.test('under 503/429 with Retry-After, hang-ups and a restart on the same port: every event once, in order (block, maxInFlightPerStream 1)', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const streams = ['s0', 's1', 's2']
  const n = 3000
  const shipper = ship(collector.url, { batchEvents: 50, queueEvents: 200, maxInFlight: 3, maxInFlightPerStream: 1, retry: fast })
  const retries: Array<{ delayMs: number }> = []
  shipper.on('retry', (r: { delayMs: number }) => retries.push(r))
  // One fault after each 500 acknowledged events.
  const faults = [
    () => { collector.failNext(4, 503, '0.2') },
    () => { collector.failNext(3, 429) },
    () => { collector.hangUpNext(4) },
    // A server killed and started again: requests in flight are cut.
    () => { void collector.stop().then(async () => { await collector.start() }) }
  ]
  let acked = 0
  shipper.on('ack', (a: { events: number }) => {
    acked += a.events
    while (faults.length > 0 && acked >= 500 * (5 - faults.length)) faults.shift()?.()
  })
  const items = Array.from({ length: n }, (_, seq) => ({ stream: streams[seq % 3], event: { seq } }))
  await pipeline(Readable.from(items), shipper)
  exactlyOnce(t, seqs(collector.stored), n, 'all streams')
  for (const stream of streams) {
    const got = seqs(collector.stored, stream)
    t.same(got, [...got].sort((a, b) => a - b), `${stream} arrived in the order written`)
  }
  t.ok(retries.some((r) => r.delayMs >= 200), 'Retry-After 0.2 s honoured')
  t.ok(shipper.stats().retries >= 11, `retried ${shipper.stats().retries} times`)
  t.equal(shipper.stats().events.acked, n, 'all acknowledged')
})

t.test('partial success: the stream\'s events are reported rejected, one by one, and not retried', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.reject = (e) => e.bad === true ? 'InvalidEventTime(1.5,)' : undefined
  const shipper = ship(collector.url, { stream: 's', batchEvents: 3 })
  const rejected: Array<{ event: string, maybeStored: boolean, error: Error }> = []
  shipper.on('rejected', (r: { event: string, maybeStored: boolean, error: Error }) => rejected.push(r))
  const outcomes: Array<string | null> = []
  for (const event of [{ seq: 0 }, { seq: 1, bad: true }, { seq: 2 }, { seq: 3 }]) {
    shipper.write(event, (err) => outcomes.push(err === null || err === undefined ? null : (err as NodeJS.ErrnoException).code ?? 'error'))
  }
  shipper.end()
  await once(shipper, 'finish')
  t.equal(collector.requests, 2, 'no batch sent twice')
  t.same(outcomes, ['SHOEBOX_EVENT_REJECTED', 'SHOEBOX_EVENT_REJECTED', 'SHOEBOX_EVENT_REJECTED', null])
  t.equal(rejected.length, 3)
  t.match(rejected[1].error.message, /InvalidEventTime\(1\.5,\).*stored 2 of the batch's 3/)
  t.ok(rejected.every((r) => r.maybeStored))
  t.equal(shipper.stats().events.rejected, 3)
})

t.test('a pipeline with refused events nobody listens for: the good ones are stored, then the pipeline fails naming the rest', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.reject = (e) => e.bad === true ? 'InvalidEventTime(1.5,)' : undefined
  const events = [{ seq: 0 }, { seq: 1, '@time': 'yesterday' }, { seq: 2 }, { seq: 3, bad: true }, { seq: 4 }]
  // pipeline() writes without callbacks: before, it resolved as if all five were stored.
  const failed = await pipeline(Readable.from(events), ship(collector.url, { stream: 's', batchEvents: 1 })).then(() => null, (err: Error) => err)
  t.match(failed, {
    code: 'SHOEBOX_INVALID_EVENT_TIME',
    message: /^http:\/\/127\.0\.0\.1:\d+\/1\.0\/events\/put: 2 events not stored \(1 invalid, 1 rejected by the server; the first: invalid @time "yesterday".*\); 3 acknowledged\. Listen to 'invalid' and 'rejected'/
  })
  t.same(seqs(collector.stored), [0, 2, 4], 'every good event stored before it failed')
  // Heard through the events (as the CLI does), or through write() callbacks: no error at the end.
  const heard = ship(collector.url, { stream: 's', batchEvents: 1 })
  const told: string[] = []
  heard.on('invalid', () => told.push('invalid'))
  heard.on('rejected', () => told.push('rejected'))
  await pipeline(Readable.from(events), heard)
  t.same(told.sort(), ['invalid', 'rejected'])
  const called = ship(collector.url, { stream: 's', batchEvents: 1 })
  const codes = await Promise.all(events.map(async (e) => await new Promise((resolve) => { called.write(e, (err) => { resolve((err as NodeJS.ErrnoException | null | undefined)?.code ?? null) }) })).concat([new Promise((resolve) => { called.end(resolve) })]))
  t.same(codes.slice(0, 5), [null, 'SHOEBOX_INVALID_EVENT_TIME', null, 'SHOEBOX_EVENT_REJECTED', null])
  // put() is fire and forget: it never fails the stream.
  const fired = ship(collector.url, { stream: 's', exitHooks: false })
  for (const e of events) fired.put(e)
  fired.end()
  await once(fired, 'finish')
  t.equal(fired.stats().events.invalid, 1)
})

t.test('rejected: each event comes back with the line it was written with (ShipItem.line), undefined without one', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.reject = (e) => e.bad === true ? 'InvalidEventTime(1.5,)' : undefined
  // One batch of three (a refused event fails its batch); ship-batcher.test.ts moves lines across batches.
  const shipper = ship(collector.url, { batchEvents: 3 })
  const rejected: Array<{ line: number | undefined, event: string }> = []
  shipper.on('rejected', (r: { line: number | undefined, event: string }) => rejected.push(r))
  const items = [
    { stream: 's', event: { seq: 0, bad: true }, line: 10 },
    { stream: 's', event: { seq: 1 }, line: 12 },
    { stream: 's', event: { seq: 2 } }
  ]
  for (const item of items) shipper.write(item, () => {})
  shipper.end()
  await once(shipper, 'finish')
  t.same(rejected.map((r) => [JSON.parse(r.event).seq, r.line]), [[0, 10], [1, 12], [2, undefined]])
  t.notOk(collector.stored.some((e) => 'line' in e.event), 'the line is not sent')
})

t.test('a namespace the server lacks: a 400, not retried, and the shipper fails: nothing more goes there (ship-refusals.test.ts)', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { stream: 's', namespace: 'nope' })
  const failed = once(shipper, 'error')
  const err = await new Promise<Error | null | undefined>((resolve) => { shipper.write({}, resolve) })
  t.equal((err as NodeJS.ErrnoException).code, 'SHOEBOX_EVENTS_FAILED')
  t.match(err?.message, /namespace nope, stream s: HTTP 400: NamespaceMissing/)
  t.equal((await failed)[0], err, 'the shipper\'s error')
  t.equal(collector.requests, 1)
})

t.test('invalid events are refused before sending, with an invalid event', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { batchAge: 1 })
  const invalid: unknown[] = []
  shipper.on('invalid', (i: { event: unknown }) => invalid.push(i.event))
  const codes: unknown[] = []
  const chunks = [
    { seq: 1 }, { stream: 's', event: 'not json' }, { stream: 's', event: '[1]' }, { stream: 's', event: 5 },
    { stream: 'bad name', event: {} }, { stream: 's', event: '{"@time": 1.5}' }, { stream: 's', event: { '@time': 2 ** 62 } },
    // Bytes that are not UTF-8 were shipped with U+FFFD in their place; stamp() refused them.
    { stream: 's', event: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]) },
    // A record read from an archive (replaying events): its payload was sent as {"type":"Buffer","data":[...]}.
    { stream: 's', event: { metadata: { type: 'click' }, payload: Buffer.from('{"page":"/a"}') } },
    { stream: 's', event: '{"ok":1, "@time": 16000000000000000}' }
  ]
  for (const chunk of chunks) {
    await new Promise<void>((resolve) => { shipper.write(chunk, (err) => { codes.push((err as NodeJS.ErrnoException | null)?.code ?? null); resolve() }) })
  }
  t.same(codes, [
    'SHOEBOX_INVALID_EVENT', 'SHOEBOX_INVALID_JSON', 'SHOEBOX_INVALID_EVENT', 'SHOEBOX_INVALID_EVENT',
    'SHOEBOX_INVALID_STREAM_NAME', 'SHOEBOX_INVALID_EVENT_TIME', 'SHOEBOX_INVALID_EVENT_TIME', 'SHOEBOX_INVALID_EVENT', 'SHOEBOX_INVALID_EVENT', null
  ])
  t.equal(invalid.length, 9)
  t.equal(collector.requests, 1, 'only the good event was sent')
  t.same(collector.stored.map((e) => e.event['@time']), [16000000000000000], 'its own @time kept')
  shipper.destroy()
})

t.test('drop: a full queue drops and counts; the queued events still arrive', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const shipper = ship(collector.url, { stream: 's', batchEvents: 10, queueEvents: 20, onOverflow: 'drop', retry: fast })
  const dropped: number[] = []
  shipper.on('drop', (d: { dropped: number }) => dropped.push(d.dropped))
  const outcomes: Array<string | null> = []
  for (let seq = 0; seq < 100; seq++) shipper.write({ seq }, (err) => outcomes.push((err as NodeJS.ErrnoException | null)?.code ?? null))
  await new Promise<void>((resolve) => { if (dropped.length === 80) resolve(); else shipper.on('drop', () => { if (dropped.length === 80) resolve() }) })
  t.equal(shipper.stats().events.dropped, 80)
  t.same(dropped, Array.from({ length: 80 }, (_, i) => i + 1))
  await collector.start()
  shipper.end()
  await once(shipper, 'finish')
  t.same(seqs(collector.stored).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i), 'the first 20 queued, then stored')
  t.equal(outcomes.filter((o) => o === 'SHOEBOX_EVENT_DROPPED').length, 80)
  t.equal(outcomes.filter((o) => o === null).length, 20)
})

t.test('block: a full queue holds the writer until there is room', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const shipper = ship(collector.url, { stream: 's', batchEvents: 5, queueEvents: 10, retry: fast })
  let accepted = 0
  const source = Readable.from((function * () { for (let seq = 0; seq < 200; seq++) { accepted = seq; yield { seq } } })())
  const done = pipeline(source, shipper)
  await new Promise((resolve) => shipper.once('retry', resolve))
  t.ok(accepted < 200, 'the source is held back while the server is down')
  await collector.start()
  await done
  exactlyOnce(t, seqs(collector.stored), 200, 's')
})

t.test('put(): returns at once; a failing flush loses nothing and later flushes go on (pykronos §8)', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.failNext(5, 500)
  const shipper = ship(collector.url, { stream: 's', retry: fast })
  const hooks = process.listenerCount('beforeExit')
  for (let seq = 0; seq < 10; seq++) t.equal(shipper.put({ seq }), undefined)
  await shipper.flush()
  t.same(seqs(collector.stored), Array.from({ length: 10 }, (_, i) => i))
  collector.hangUpNext(2)
  for (let seq = 10; seq < 20; seq++) shipper.put({ seq })
  await shipper.flush()
  exactlyOnce(t, seqs(collector.stored), 20, 's')
  t.equal(process.listenerCount('beforeExit'), hooks + 1, 'a flush before exit is installed')
  shipper.end()
  await once(shipper, 'finish')
  t.equal(process.listenerCount('beforeExit'), hooks, 'and removed at the end')
})

t.test('put() takes the event as it is at the call: a caller that fills the same object or Buffer again ships each event once', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  // Put before the shipper has started: the stream's buffer holds the puts until it has.
  const shipper = ship(collector.url, { stream: 's', exitHooks: false })
  const event = { seq: 0 }
  for (let seq = 0; seq < 3; seq++) {
    event.seq = seq
    shipper.put(event)
  }
  const line = Buffer.alloc(16, ' ')
  for (let seq = 3; seq < 6; seq++) {
    line.fill(' ').write(`{"seq":${seq}}`)
    shipper.put(line)
  }
  const item = { stream: 's', event: { seq: 0 } }
  for (let seq = 6; seq < 9; seq++) {
    item.event.seq = seq
    shipper.put(item)
  }
  // A record read from an archive is refused when put too (its text was taken before the check).
  const refused = new Promise<unknown>((resolve) => { shipper.put({ metadata: {}, payload: Buffer.from('{"seq":9}') }, resolve) })
  await shipper.flush()
  t.same(seqs(collector.stored), [0, 1, 2, 3, 4, 5, 6, 7, 8], 'each event as it was put, in order')
  t.match(await refused, { code: 'SHOEBOX_INVALID_EVENT', message: /an archive record \(\{ metadata, payload \}\), not an event/ })
  shipper.end()
  await once(shipper, 'finish')
})

t.test('retry.attempts: a server that never answers fails the shipper, naming it and what was not acknowledged', async (t) => {
  const collector = await startCollector()
  await collector.stop()
  const shipper = ship(`http://user:secret@127.0.0.1:${collector.port}`, { stream: 's', retry: { ...fast, attempts: 3 } })
  const results: Array<string | undefined> = []
  shipper.write({ seq: 1 }, (err) => results.push((err as NodeJS.ErrnoException | null)?.code))
  const [err] = await once(shipper, 'error') as [NodeJS.ErrnoException]
  t.equal(err.code, 'SHOEBOX_UNREACHABLE')
  t.match(err.message, /127\.0\.0\.1.*gave up after 3 tries; 1 event not acknowledged/)
  t.notMatch(err.message, /secret/, 'no credentials in errors')
  t.same(results, ['SHOEBOX_UNREACHABLE'], 'the write is told')
})

t.test("a URL's user name and password are sent as Basic auth and kept out of shipper.url (util.inspect(shipper) printed the password)", async (t) => {
  const heard: Array<string | undefined> = []
  const server = http.createServer((req, res) => {
    heard.push(req.headers.authorization)
    req.resume()
    req.on('end', () => { res.end('{"s": {"memory": {"num_inserted": 1}}, "@success": true}') })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  const port = (server.address() as AddressInfo).port
  const shipper = ship(`http://us%40er:s3cr%2Fet@127.0.0.1:${port}/kronos/`, { stream: 's', exitHooks: false })
  t.equal(shipper.url.href, `http://127.0.0.1:${port}/kronos/1.0/events/put`, 'shipper.url names the put endpoint, without credentials')
  t.notMatch(inspect(shipper, { depth: 4 }), /s3cr|us%40er/, 'nor does anything util.inspect() shows')
  shipper.end({ a: 1 })
  await once(shipper, 'finish')
  t.same(heard, [`Basic ${Buffer.from('us@er:s3cr/et').toString('base64')}`], 'the request carries them, decoded')
})

t.test('options are checked at once', async (t) => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ onOverflow: 'explode' }, 'SHOEBOX_INVALID_OPTION'],
    [{ onOverflow: 'spill' }, 'SHOEBOX_INVALID_OPTION'],
    [{ spill: '/tmp/x' }, 'SHOEBOX_INVALID_OPTION'],
    [{ batchEvents: 0 }, 'SHOEBOX_INVALID_OPTION'],
    [{ maxInFlight: 1.5 }, 'SHOEBOX_INVALID_OPTION'],
    [{ maxInFlightPerStream: 0 }, 'SHOEBOX_INVALID_OPTION'],
    [{ batchAge: 'soon' }, 'SHOEBOX_INVALID_OPTION'],
    [{ retry: { attempts: 0 } }, 'SHOEBOX_INVALID_OPTION']
  ]
  for (const [options, code] of bad) t.throws(() => ship('http://127.0.0.1:1', options), { code }, JSON.stringify(options))
  t.throws(() => ship('ftp://x'), { code: 'SHOEBOX_BAD_URL' })
  t.throws(() => ship('not a url'), { code: 'SHOEBOX_BAD_URL' })
  // Node's request decodes the user name and password for Basic auth: a '%' starting no escape failed every try with 'URI malformed'.
  t.throws(() => ship('http://user:p%zzSECRET@127.0.0.1:1'), { code: 'SHOEBOX_BAD_URL', message: /^http:\/\/127\.0\.0\.1:1\/: the user name or password has a '%' that is no %XX escape of UTF-8 text \(write % as %25\)$/ })
  const options = { stream: 's', retry: { attempts: 2 } }
  const copy = structuredClone(options)
  ship('http://127.0.0.1:1', options).destroy()
  t.same(options, copy, 'options not mutated')
})

t.test('an unknown option is refused naming it, not ignored ({ batchsize: 10 } shipped batches of 500)', async (t) => {
  t.throws(() => ship('http://127.0.0.1:1', { stream: 's', batchsize: 10 } as Record<string, unknown>),
    { code: 'SHOEBOX_INVALID_OPTION', option: 'batchsize', message: /option batchsize: is not an option of ship\(\) \(those are .*batchEvents/ })
  t.throws(() => ship('http://127.0.0.1:1', { stream: 's', retry: { attempt: 3 } } as Record<string, unknown>),
    { code: 'SHOEBOX_INVALID_OPTION', option: 'retry.attempt', message: /is not an option of retry/ })
  t.throws(() => ship('http://127.0.0.1:1', { stream: 's', retry: 3 } as Record<string, unknown>),
    { code: 'SHOEBOX_INVALID_OPTION', option: 'retry', message: /must be an object of attempts, baseDelay, maxDelay, got 3/ })
  ship('http://127.0.0.1:1', { stream: 's', batchEvents: 10, retry: { attempts: 2, baseDelay: 1, maxDelay: 2 } }).destroy()
})

t.test("library is { name, version } or false: anything else is refused, not spread into every event ('x' was sent as {\"0\":\"x\"})", async (t) => {
  for (const [library, shown] of [['x', '"x"'], [true, 'true'], [null, 'null'], [{ name: 'app' }, '{"name":"app"}'], [{ name: 'app', version: 1 }, '{"name":"app","version":1}']] as const) {
    t.throws(() => ship('http://127.0.0.1:1', { stream: 's', library: library as unknown as false }),
      { code: 'SHOEBOX_INVALID_OPTION', option: 'library', message: `option library: must be { name, version } (two strings) or false, got ${shown}` }, shown)
  }
  const kept = { name: 'app', version: '1.2' }
  ship('http://127.0.0.1:1', { stream: 's', library: kept }).destroy()
  ship('http://127.0.0.1:1', { stream: 's', library: false }).destroy()
  t.same(kept, { name: 'app', version: '1.2' })
})

t.test('destroy(): a write held by block and every unacknowledged event are told, once', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const shipper = ship(collector.url, { stream: 's', batchEvents: 2, queueEvents: 2, retry: fast })
  shipper.on('error', () => {})
  const told: string[] = []
  for (let seq = 0; seq < 4; seq++) shipper.write({ seq }, (err) => told.push(err?.message ?? 'acknowledged'))
  await once(shipper, 'retry')
  const closed = new Promise((resolve) => shipper.on('close', resolve))
  shipper.destroy(new Error('stop'))
  await closed
  t.equal(told.length, 4, 'each callback once: the queued, the held and the buffered writes')
  t.same(told, ['stop', 'stop', 'stop', 'stop'], 'none acknowledged: each told why')
})

t.test('put() with block never blocks and never grows without bound: past a second queue\'s worth it drops', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  await collector.stop()
  const shipper = ship(collector.url, { stream: 's', batchEvents: 5, queueEvents: 10, maxInFlightPerStream: 1, retry: fast, exitHooks: false })
  const codes: Array<string | null> = []
  for (let seq = 0; seq < 40; seq++) shipper.put({ seq }, (err) => codes.push((err as NodeJS.ErrnoException | null)?.code ?? null))
  t.ok(shipper.writableLength <= 11, `the stream's buffer stays bounded (${shipper.writableLength})`)
  t.ok(shipper.stats().events.dropped >= 19, `dropped ${shipper.stats().events.dropped}`)
  await collector.start()
  await shipper.flush()
  t.equal(codes.filter((c) => c === null).length, collector.stored.length, 'every event not dropped is stored')
  t.equal(codes.length, 40, 'every put told its fate')
  t.same(seqs(collector.stored), [...seqs(collector.stored)].sort((a, b) => a - b), 'in order')
  shipper.destroy()
})

t.test('an event larger than batchBytes goes alone; a huge one arrives intact', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { stream: 's', batchBytes: 1000 })
  const big = 'ü'.repeat(2_000_000)
  const batches: number[] = []
  shipper.on('batch', (b: { events: number }) => batches.push(b.events))
  await pipeline(Readable.from([{ seq: 0 }, { seq: 1, big }, { seq: 2 }]), shipper)
  t.same(seqs(collector.stored).sort(), [0, 1, 2])
  t.equal(collector.stored.find((e) => e.event.seq === 1)?.event.big, big)
  t.same(batches, [1, 1, 1], 'cut before and after the big one')
})
