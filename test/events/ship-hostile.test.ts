/**
 * ship() against put answers that are broken or hostile (issue 10): a 200
 * whose body stalls or trickles, headers that never come, a count that
 * does not fit the batch, an answer gzipped unasked. Each server is a tiny
 * node:http one on 127.0.0.1 port 0. No event may be counted as
 * acknowledged unless the answer says so unambiguously, nothing is lost
 * silently (every callback is told), and messages name the URL without its
 * credentials.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import { ship, type Shipper } from '../../lib/events/ship.js'
import type { ShipOptions } from '../../lib/events/ship-options.js'

/** A server answering every put with `answer`; the shipper's URL carries credentials that must never show. */
async function hostile (t: Test, answer: (res: http.ServerResponse, n: number) => void,
  options: ShipOptions = {}): Promise<{ shipper: Shipper, url: string, requests: () => number }> {
  let requests = 0
  const server = http.createServer((req, res) => {
    const n = ++requests
    req.resume()
    req.on('end', () => { answer(res, n) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const shipper = ship(url.replace('http://', 'http://user:s3cret@'), {
    stream: 's', batchAge: 1, exitHooks: false, timeout: 300, retry: { attempts: 3, baseDelay: 1, maxDelay: 5 }, ...options
  })
  t.teardown(async () => {
    shipper.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { shipper, url, requests: () => requests }
}

/** Writes two events and ends; what each callback heard, the rejected events, the shipper's error. */
async function shipTwo (shipper: Shipper): Promise<{ told: Array<string | null>, rejected: Array<{ maybeStored: boolean, message: string }>, error: NodeJS.ErrnoException | undefined }> {
  const told: Array<string | null> = []
  const rejected: Array<{ maybeStored: boolean, message: string }> = []
  let error: NodeJS.ErrnoException | undefined
  shipper.on('rejected', (r: { maybeStored: boolean, error: Error }) => rejected.push({ maybeStored: r.maybeStored, message: r.error.message }))
  shipper.on('error', (err: NodeJS.ErrnoException) => { error = err })
  for (const a of [1, 2]) shipper.write({ a }, (err) => told.push(err == null ? null : (err as NodeJS.ErrnoException).code ?? 'no code'))
  shipper.end()
  // Not once(): it rejects on 'error', which this waits past.
  await new Promise((resolve) => shipper.on('close', resolve))
  return { told, rejected, error }
}

t.test('a 200 whose body stalls: not sent again (it may be stored), each event rejected as maybe stored', async (t) => {
  const { shipper, url, requests } = await hostile(t, (res) => {
    res.writeHead(200, { 'content-length': 100 })
    res.write('{"s":')
  })
  const { told, rejected, error } = await shipTwo(shipper)
  t.equal(error, undefined)
  t.equal(requests(), 1, 'sent once')
  t.same(told, ['SHOEBOX_EVENT_REJECTED', 'SHOEBOX_EVENT_REJECTED'])
  t.same(rejected.map((r) => r.maybeStored), [true, true])
  t.equal(rejected[0].message, `event rejected: ${url}/1.0/events/put: answer broken: the answer stalled for 300 ms (after a 200: the batch is most likely stored, and is not sent again)`)
  t.equal(shipper.stats().events.acked, 0)
})

t.test('headers that never come: retried within attempts, then the shipper fails naming the URL and what was not acknowledged', async (t) => {
  const { shipper, url, requests } = await hostile(t, () => {})
  const { told, error } = await shipTwo(shipper)
  t.equal(requests(), 3)
  t.equal(error?.code, 'SHOEBOX_UNREACHABLE')
  t.equal(error?.message, `${url}/1.0/events/put: request failed: no answer within 300 ms; gave up after 3 tries; 2 events not acknowledged`)
  t.same(told, ['SHOEBOX_UNREACHABLE', 'SHOEBOX_UNREACHABLE'])
})

t.test('a 200 counting more events than were sent: no event acknowledged, none sent again, each rejected as maybe stored', async (t) => {
  const { shipper, url, requests } = await hostile(t, (res) => {
    res.writeHead(200)
    res.end('{"s":{"memory":{"num_inserted":5}},"@success":true}')
  })
  const { told, rejected, error } = await shipTwo(shipper)
  t.equal(error, undefined)
  t.equal(requests(), 1, 'sent once')
  t.same(told, ['SHOEBOX_EVENT_REJECTED', 'SHOEBOX_EVENT_REJECTED'])
  t.same(rejected.map((r) => r.maybeStored), [true, true])
  t.equal(rejected[0].message, `event rejected: ${url}/1.0/events/put: HTTP 200 whose answer does not fit the batch: memory num_inserted 5 for 2 events sent (after a 200: the batch is most likely stored, and is not sent again)`)
  t.same(shipper.stats().events, { ...shipper.stats().events, acked: 0, rejected: 2 })
})

t.test('a 200 gzipped though not asked for: named as such (no binary in the message), each event rejected as maybe stored, not sent again', async (t) => {
  const { shipper, url, requests } = await hostile(t, (res) => {
    res.writeHead(200, { 'content-encoding': 'gzip' })
    res.end(gzipSync('{"s":{"memory":{"num_inserted":2}},"@success":true}'))
  })
  const { told, rejected, error } = await shipTwo(shipper)
  t.equal(error, undefined)
  t.equal(requests(), 1)
  t.same(told, ['SHOEBOX_EVENT_REJECTED', 'SHOEBOX_EVENT_REJECTED'])
  t.same(rejected.map((r) => r.maybeStored), [true, true])
  t.equal(rejected[0].message, `event rejected: ${url}/1.0/events/put: HTTP 200 with Content-Encoding gzip, which was not asked for (after a 200: the batch is most likely stored, and is not sent again)`)
})

t.test('a 200 whose body trickles (a byte within each idle timeout): given twice the timeout as a whole, then rejected as maybe stored, not sent again', async (t) => {
  const { shipper, url, requests } = await hostile(t, (res) => {
    res.writeHead(200, { 'content-length': 1000 })
    const drip = setInterval(() => { if (res.destroyed) clearInterval(drip); else res.write(' ') }, 50)
    res.on('close', () => { clearInterval(drip) })
  })
  const { told, rejected, error } = await shipTwo(shipper)
  t.equal(error, undefined)
  t.equal(requests(), 1, 'sent once')
  t.same(told, ['SHOEBOX_EVENT_REJECTED', 'SHOEBOX_EVENT_REJECTED'])
  t.same(rejected.map((r) => r.maybeStored), [true, true])
  t.equal(rejected[0].message, `event rejected: ${url}/1.0/events/put: answer broken: the answer's body took over 600 ms (after a 200: the batch is most likely stored, and is not sent again)`)
})
