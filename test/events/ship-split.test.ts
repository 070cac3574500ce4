/**
 * A batch refused as too large (413: a server's --max-body, a proxy's body
 * limit) is split and sent again, down to an event alone, and later batches
 * are cut under what was refused (issue 10). A server's cap on the streams
 * a put names never refuses a shipper's puts: each names one stream.
 */
import t from 'tap'
import { ship, type Shipper } from '../../lib/events/ship.js'
import { ShoeboxError } from '../../lib/errors.js'
import { get, start } from './conformance-kit.js'
import { startCollector } from './fixtures/collector.js'

/** Write every event; resolves with each write callback's error (null when acknowledged), in order. */
async function shipAll (shipper: Shipper, events: unknown[]): Promise<Array<Error | null>> {
  const results = events.map(async (event) => await new Promise<Error | null>((resolve) => {
    shipper.write(event, (err) => { resolve(err ?? null) })
  }))
  shipper.end()
  return await Promise.all(results)
}

t.test('serve --max-body 2000: events that fit alone all arrive once, in order; one too large alone is rejected alone', async (t) => {
  const server = await start(t, { maxBody: 2000 })
  const shipper = ship(server.url, { maxInFlightPerStream: 1 })
  const rejected: Array<{ stream: string, event: string, error: ShoeboxError }> = []
  shipper.on('rejected', (r: { stream: string, event: string, error: ShoeboxError }) => rejected.push(r))
  const splits: Array<{ events: number, bytes: number, batchBytes: number, error: ShoeboxError }> = []
  shipper.on('split', (s: { events: number, bytes: number, batchBytes: number, error: ShoeboxError }) => splits.push(s))
  // ~620 bytes each with @id and @library (a multi-byte pad: bytes, not characters, count); 10 per stream.
  const events = []
  for (let seq = 0; seq < 20; seq++) {
    events.push({ stream: seq % 2 === 0 ? 'even' : 'odd', event: { seq, '@time': 1000 + seq, pad: 'é'.repeat(240) } })
    if (seq === 8) events.push({ stream: 'even', event: { seq: 'big', '@time': 1000 + seq, pad: 'x'.repeat(2500) } })
  }
  const results = await shipAll(shipper, events)
  const big = events.findIndex((e) => e.event.seq === 'big')
  t.same(results.filter((r, i) => i !== big), Array(20).fill(null), 'every write callback of an event that fits succeeds')
  t.equal((results[big] as ShoeboxError).code, 'SHOEBOX_EVENT_REJECTED')
  t.match(results[big]?.message, /HTTP 413/, "the server's refusal")
  t.equal(rejected.length, 1, 'only the event too large alone is rejected')
  t.match(rejected[0].event, /"seq":"big"/)
  for (const stream of ['even', 'odd']) {
    const stored = await get(t, server.url, stream, 0, 1e9)
    t.same(stored.map((e) => e.seq), events.filter((e) => e.stream === stream && e.event.seq !== 'big').map((e) => e.event.seq), `${stream}: each once, in order`)
  }
  t.ok(splits.length > 0, 'split events emitted')
  t.ok(splits.every((s) => s.events > 1 && s.batchBytes <= s.bytes / 2 && /HTTP 413/.test(s.error.message)), 'each: a batch of more than one event, the limit lowered to half its size at most, the 413')
  const stats = shipper.stats()
  t.equal(stats.events.acked, 20)
  t.equal(stats.events.rejected, 1)
  t.equal(stats.splits, splits.length)
  t.ok(stats.batchBytes < 2000, `the batch limit learnt: ${stats.batchBytes}`)
})

t.test('a proxy limit of 5000 bytes: after the first 413s, later batches are cut under it', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  collector.maxBody = 5000
  const shipper = ship(collector.url, { stream: 'clicks', batchEvents: 100 })
  let acks = 0
  const tooLargeAt: number[] = []
  shipper.on('ack', () => { acks++ })
  shipper.on('split', () => { tooLargeAt.push(acks) })
  // 3000 events of ~200 bytes: 30 batches of 100 (~20 kB) at the configured limits.
  const events = Array.from({ length: 3000 }, (_, seq) => ({ seq, page: '/a/' + 'p'.repeat(60) }))
  const results = await shipAll(shipper, events)
  t.same(results, Array(3000).fill(null), 'every write callback succeeds')
  t.same(collector.stored.map((e) => e.event.seq).sort((a, b) => (a as number) - (b as number)), events.map((e) => e.seq), 'each event stored once')
  const stats = shipper.stats()
  t.equal(stats.events.rejected, 0)
  t.equal(collector.tooLarge, stats.splits, 'each 413 split its batch')
  t.ok(stats.batchBytes < 5000, `batches now cut at ${stats.batchBytes} event bytes`)
  t.ok(collector.tooLarge < 30, `${collector.tooLarge} 413s for 30 batches as configured`)
  t.ok(acks > 2 * tooLargeAt[tooLargeAt.length - 1], `the 413s stop early: the last after ${tooLargeAt[tooLargeAt.length - 1]} of ${acks} acknowledged puts`)
})

t.test('serve maxPutStreams 1: a shipper of 12 streams is unaffected (each of its puts names one stream)', async (t) => {
  const server = await start(t, { maxPutStreams: 1 })
  const shipper = ship(server.url, { batchEvents: 12, batchAge: 1000 })
  let splits = 0
  shipper.on('split', () => { splits++ })
  const events = Array.from({ length: 12 }, (_, i) => ({ stream: `s${i}`, event: { '@time': 1000 + i, i } }))
  t.same(await shipAll(shipper, events), Array(12).fill(null), 'every write callback succeeds')
  t.equal(splits, 0, 'no put refused')
  for (const { stream, event } of events) t.same((await get(t, server.url, stream, 0, 1e9)).map((e) => e.i), [event.i], stream)
})
