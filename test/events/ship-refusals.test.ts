/**
 * ship() against a server that refuses where the puts go, as Kronos or a
 * proxy in front of it refuses (spec §4, §5.2): a namespace it is not
 * configured for (400 NamespaceMissing), 401, 403, 404, 405, a redirect.
 * Every other put there would be refused alike: the shipper sends nothing
 * more, lets the batches in flight get their answers (an acknowledged one is
 * acknowledged), and then fails at once, naming the URL, the namespace, the
 * stream and the server's words. A namespace mistyped was rejected event by
 * event: every batch of the input sent and refused, and nothing kept.
 * Counted in requests, never in time.
 */
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { kronos } from '../../lib/events/client.js'
import { ship } from '../../lib/events/ship.js'
import { startCollector } from './fixtures/collector.js'
import { start } from './conformance-kit.js'
import { all } from './fixtures/get-all.js'

const fast = { baseDelay: 1, maxDelay: 5 }

/** Writes `n` events ({ seq }), each with a callback; resolves with what each callback heard, and the shipper's error. */
async function shipAll (shipper: ReturnType<typeof ship>, items: (seq: number) => unknown, n: number): Promise<{ told: Array<Error | null>, failure: Error | undefined }> {
  const told: Array<Error | null> = []
  const heard: Array<Promise<void>> = []
  const failure = new Promise<Error | undefined>((resolve) => {
    shipper.once('error', resolve)
    shipper.once('finish', () => { resolve(undefined) })
  })
  for (let seq = 0; seq < n; seq++) {
    heard.push(new Promise((resolve) => { shipper.write(items(seq), (err) => { told[seq] = err ?? null; resolve() }) }))
  }
  shipper.end()
  await Promise.all(heard)
  return { told, failure: await failure }
}

t.test('a namespace the server lacks: one put, then the shipper fails in the server\'s words; no event sent again or told acknowledged', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url.replace('http://', 'http://user:s3cret@'), { stream: 'pageviews', namespace: 'nope', batchEvents: 10, maxInFlight: 1, retry: fast })
  const { told, failure } = await shipAll(shipper, (seq) => ({ seq }), 100)
  const message = `${collector.url}/1.0/events/put: namespace nope, stream pageviews: HTTP 400: NamespaceMissing('\`nope\` namespace is not configured',): ` +
    'the server refuses every put there, so nothing more was sent; the events not acknowledged are not stored'
  t.match(failure, { code: 'SHOEBOX_EVENTS_FAILED', message })
  t.equal(collector.requests, 1, 'one put: not the input\'s ten, each refused in turn')
  t.equal(told.length, 100)
  t.ok(told.every((e) => e === failure), 'every callback told the refusal')
  t.match(shipper.stats().events, { acked: 0, rejected: 0 })
})

t.test('batches in flight to a namespace the server has get their answers: every event acknowledged is stored, every other told the refusal', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { batchEvents: 5, maxInFlight: 8, retry: fast })
  // Even seqs to a namespace it has, odd ones to one it lacks; two streams each.
  const { told, failure } = await shipAll(shipper, (seq) => ({ stream: `s${seq % 4}`, namespace: seq % 2 === 0 ? 'namespace1' : 'nope', event: { seq } }), 400)
  t.match(failure, { code: 'SHOEBOX_EVENTS_FAILED', message: /namespace nope, stream s[13]: HTTP 400: NamespaceMissing/ })
  const acked = told.flatMap((e, seq) => e === null ? [seq] : [])
  t.same(collector.stored.map((e) => e.event.seq).sort((a, b) => (a as number) - (b as number)), acked, 'told acknowledged = stored')
  t.ok(acked.length > 0, `some acknowledged (${acked.length})`)
  t.ok(told.every((e) => e === null || e === failure), 'the others told the refusal')
  t.ok(collector.requests <= 8 + 1, `no batch sent after the refusal was heard but those already in flight (${collector.requests} puts)`)
})

t.test('401, 403, 404, 405 and a redirect refuse where puts go: one put; 408, 429 and 5xx are tried again', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  for (const status of [301, 401, 403, 404, 405]) {
    collector.refuseAll(status)
    const before = collector.requests
    const shipper = ship(collector.url, { stream: 's', batchEvents: 2, maxInFlight: 1, retry: fast })
    const { told, failure } = await shipAll(shipper, (seq) => ({ seq }), 6)
    t.match(failure, { code: 'SHOEBOX_EVENTS_FAILED', message: `${collector.url}/1.0/events/put: the server's default namespace, stream s: HTTP ${status}: busy: the server refuses every put there` }, `${status}`)
    t.equal(collector.requests - before, 1, `${status}: one put`)
    t.ok(told.every((e) => e === failure), `${status}: every callback told`)
  }
  for (const status of [408, 429, 500, 502, 503]) {
    collector.refuseAll(status)
    const before = collector.requests
    const shipper = ship(collector.url, { stream: 's', maxInFlight: 1, retry: { ...fast, attempts: 3 } })
    const { failure } = await shipAll(shipper, (seq) => ({ seq }), 1)
    t.match(failure, { code: /SHOEBOX_(UNREACHABLE|THROTTLED)/, message: /gave up after 3 tries/ }, `${status}`)
    t.equal(collector.requests - before, 3, `${status}: tried 3 times`)
  }
  collector.refuseAll(400)
  const shipper = ship(collector.url, { stream: 's', maxInFlight: 1, retry: fast })
  const rejected: unknown[] = []
  shipper.on('rejected', (r) => rejected.push(r))
  const { told, failure } = await shipAll(shipper, (seq) => ({ seq }), 1)
  t.equal(failure, undefined, 'a 400 for the body only rejects its events: the shipper goes on')
  t.match(told[0], { code: 'SHOEBOX_EVENT_REJECTED' })
  t.equal(rejected.length, 1)
})

t.test('a redirect to another host is never followed: nothing, credentials least of all, reaches it; the error names where it pointed', async (t) => {
  const reached: http.IncomingHttpHeaders[] = []
  const elsewhere = http.createServer((req, res) => { reached.push(req.headers); res.end('{}') })
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve))
  const target = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`
  let asked = 0
  const redirecting = http.createServer((req, res) => {
    asked++
    req.resume()
    res.writeHead(307, { Location: `${target}${req.url ?? ''}?sig=secret` }).end()
  })
  await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`
  t.teardown(async () => {
    for (const server of [elsewhere, redirecting]) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
  const withCredentials = url.replace('http://', 'http://user:s3cret@')
  const shipper = ship(withCredentials, { stream: 's', maxInFlight: 1, retry: fast })
  const { failure } = await shipAll(shipper, (seq) => ({ seq }), 3)
  t.match(failure, { code: 'SHOEBOX_EVENTS_FAILED', message: `${url}/1.0/events/put: the server's default namespace, stream s: HTTP 307 (a redirect to ${target}/1.0/events/put, not followed): the server refuses every put there` })
  const client = kronos(withCredentials, { baseDelay: 1 })
  t.teardown(() => { client.close() })
  await t.rejects(client.index(), { message: `GET ${url}/1.0/index: HTTP 307 (a redirect to ${target}/1.0/index, not followed)` })
  t.equal(asked, 2, 'one put, one index: neither tried again')
  t.same(reached, [], 'the other host got nothing')
  t.notMatch(String(failure?.message), /s3cret|secret/)
})

t.test('against shoebox serve: a namespace it lacks, and a collector asked to read: the shipper and the client stop at the first answer', async (t) => {
  const server = await start(t)
  const shipper = ship(server.url, { stream: 'pageviews', namespace: 'typo', batchEvents: 10, maxInFlight: 1, retry: fast })
  const { told, failure } = await shipAll(shipper, (seq) => ({ seq }), 50)
  t.match(failure, { code: 'SHOEBOX_EVENTS_FAILED', message: `${server.url}/1.0/events/put: namespace typo, stream pageviews: HTTP 400: NamespaceMissing('\`typo\` namespace is not configured',): the server refuses every put there` })
  t.ok(told.every((e) => e === failure))
  const client = kronos(server.url, { attempts: 10, baseDelay: 1 })
  t.teardown(() => { client.close() })
  t.match((await all(client.get('pageviews', 0, 10, { namespace: 'typo' }))).error, { status: 400, message: `POST ${server.url}/1.0/events/get: HTTP 400: NamespaceMissing('\`typo\` namespace is not configured',)` })
  const collector = await start(t, { mode: 'collector' })
  const reader = kronos(collector.url, { attempts: 10, baseDelay: 1 })
  t.teardown(() => { reader.close() })
  await t.rejects(reader.streams(), { status: 403, message: /^POST http:\S+\/1\.0\/streams: HTTP 403: / })
})

t.test('put() (fire and forget, as the logging helpers ship) never fails the stream: a refusal there rejects its events, and later puts are still sent', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { stream: 's', namespace: 'nope', batchAge: 1, exitHooks: false, retry: fast })
  t.teardown(() => { shipper.destroy() })
  const first = await new Promise<Error | null | undefined>((resolve) => { shipper.put({ seq: 1 }, resolve) })
  t.match(first, { code: 'SHOEBOX_EVENT_REJECTED', message: /HTTP 400: NamespaceMissing/ })
  const second = await new Promise<Error | null | undefined>((resolve) => { shipper.put({ seq: 2 }, resolve) })
  t.match(second, { code: 'SHOEBOX_EVENT_REJECTED' })
  t.equal(shipper.destroyed, false)
  t.equal(collector.requests, 2)
})
