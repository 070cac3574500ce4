/**
 * A spill and a namespace the server refuses (ship.ts, ship-spill.ts). A
 * user who mistyped the namespace and shipped with a spill: at the refusal,
 * every event the shipper took and the server did not acknowledge is in the
 * spill (queued, in flight, refused), for that namespace. The next run, the
 * namespace fixed, replays them: the server refuses that namespace again,
 * and the shipper sets the earlier run's events for it aside in the spill's
 * `refused` directory (every one kept, none sent to another namespace),
 * says so, and ships the rest. Counted in events received per namespace.
 */
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { decode } from '../../lib/format/decode.js'
import type { ShoeboxRecord } from '../../lib/record.js'
import { ship } from '../../lib/events/ship.js'
import { startCollector, type Collector } from './fixtures/collector.js'
import { tempDir } from '../temp-dir.js'

const fast = { baseDelay: 1, maxDelay: 5 }

/** Writes `n` events ({ seq: from + i }) with callbacks, ends; what each callback heard and the shipper's error. */
async function shipAll (shipper: ReturnType<typeof ship>, from: number, n: number): Promise<{ told: Array<Error | null>, failure: Error | undefined }> {
  const told: Array<Error | null> = []
  const heard: Array<Promise<void>> = []
  const failure = new Promise<Error | undefined>((resolve) => {
    shipper.once('error', resolve)
    shipper.once('finish', () => { resolve(undefined) })
  })
  for (let i = 0; i < n; i++) {
    heard.push(new Promise((resolve) => { shipper.write({ seq: from + i }, (err) => { told[i] = err ?? null; resolve() }) }))
  }
  shipper.end()
  await Promise.all(heard)
  const error = await failure
  // Closed: the spill sealed and its directory released for the next run.
  if (!shipper.closed) await new Promise((resolve) => shipper.once('close', resolve))
  return { told, failure: error }
}

/** Every record of the spill files directly in `dir` (sidecars not applied: a refused put settles nothing). */
async function spilled (dir: string): Promise<ShoeboxRecord[]> {
  const records: ShoeboxRecord[] = []
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.shoebox')).sort()) {
    await pipeline(fs.createReadStream(path.join(dir, name)), decode(), async (source: AsyncIterable<ShoeboxRecord>) => {
      for await (const record of source) records.push(record)
    })
  }
  return records
}

function seqsOf (records: ShoeboxRecord[]): number[] {
  return records.map((r) => (JSON.parse(r.payload.toString('utf8')) as { seq: number }).seq).sort((a, b) => a - b)
}

function storedIn (collector: Collector, namespace: string): number[] {
  return collector.stored.filter((e) => e.namespace === namespace).map((e) => e.event.seq as number).sort((a, b) => a - b)
}

/** Put requests whose body names `namespace`. */
function putsTo (collector: Collector, namespace: string): number {
  return collector.bodies.filter((b) => (JSON.parse(b) as { namespace?: string }).namespace === namespace).length
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i)

t.test('a mistyped namespace, then fixed: the first run keeps every event in the spill; the second sets them aside and ships its own', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const dir = tempDir(t, 'shoebox-refused-spill-')

  // Run 1: 200 events to a namespace the server lacks; 20 fit the queue, the rest spill.
  const first = ship(collector.url, { stream: 's', namespace: 'typo', onOverflow: 'spill', spill: dir, queueEvents: 20, batchEvents: 10, maxInFlight: 2, retry: fast })
  const run1 = await shipAll(first, 0, 200)
  t.match(run1.failure, {
    code: 'SHOEBOX_EVENTS_FAILED',
    message: `${collector.url}/1.0/events/put: namespace typo, stream s: HTTP 400: NamespaceMissing('\`typo\` namespace is not configured',): ` +
      `the server refuses every put there, so nothing more was sent; the events not acknowledged are kept in the spill ${dir} for namespace typo ` +
      `(the next run with it sends them there; if the server still refuses namespace typo, it sets them aside in ${path.join(dir, 'refused')})`
  })
  t.ok(run1.told.every((e) => e !== null && /the event stays spilled in /.test(e.message)), 'every callback told its event stays spilled')
  t.same(collector.stored, [], 'nothing stored')
  const kept = await spilled(dir)
  t.same(seqsOf(kept), range(0, 200), 'every event of run 1 is in the spill: queued, in flight and refused ones too')
  t.ok(kept.every((r) => r.metadata.namespace === 'typo' && r.metadata.stream === 's'), 'for namespace typo, stream s')

  // Run 2: the namespace fixed; 50 new events.
  const second = ship(collector.url, { stream: 's', namespace: 'namespace1', onOverflow: 'spill', spill: dir, batchEvents: 10, maxInFlight: 2, retry: fast })
  const aside: Array<{ path: string, namespace: string | undefined, stream: string, events: number, error: Error }> = []
  second.on('aside', (a: typeof aside[number]) => { aside.push(a) })
  const putsBefore = putsTo(collector, 'typo')
  const run2 = await shipAll(second, 1000, 50)
  t.equal(run2.failure, undefined, 'run 2 finishes')
  t.ok(run2.told.every((e) => e === null), 'each new event acknowledged')
  t.same(storedIn(collector, 'namespace1'), range(1000, 1050), 'exactly the 50 new events, in namespace1')
  t.same(storedIn(collector, 'typo'), [])
  t.equal(collector.stored.length, 50, 'nothing in any other namespace')
  t.equal(putsTo(collector, 'typo') - putsBefore, 1, 'one put to typo: once refused, its other spilled batches are set aside unsent')
  t.equal(aside.reduce((n, a) => n + a.events, 0), 200, 'aside events count every event set aside')
  t.ok(aside.every((a) => a.namespace === 'typo' && a.stream === 's' && a.path === path.join(dir, 'refused') && /NamespaceMissing/.test(a.error.message)))
  t.match(second.stats().events, { acked: 50, setAside: 200 })
  t.same(await spilled(dir), [], 'the spill holds nothing more to replay')
  const setAside = await spilled(path.join(dir, 'refused'))
  t.same(seqsOf(setAside), range(0, 200), 'every event set aside, once')
  t.ok(setAside.every((r) => r.metadata.namespace === 'typo' && r.metadata.stream === 's'), 'with its namespace and stream')
  t.same(setAside.map((r) => r.payload.toString()).sort(), kept.map((r) => r.payload.toString()).sort(), 'byte for byte the texts spilled (their @id and @time)')

  // Run 3: nothing left to replay; the set-aside events stay where they are.
  const third = ship(collector.url, { stream: 's', namespace: 'namespace1', onOverflow: 'spill', spill: dir, retry: fast })
  const run3 = await shipAll(third, 2000, 1)
  t.equal(run3.failure, undefined)
  t.equal(collector.stored.length, 51)
  t.equal(putsTo(collector, 'typo'), putsBefore + 1, 'nothing sent to typo again')
})

t.test('the namespace still mistyped in the next run: it stops at its own refusal, keeping its events; the run after, fixed, sets both runs\' aside', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const dir = tempDir(t, 'shoebox-refused-spill-')
  const options = { stream: 's', onOverflow: 'spill' as const, spill: dir, queueEvents: 5, batchEvents: 5, maxInFlight: 1, retry: fast }
  t.match((await shipAll(ship(collector.url, { ...options, namespace: 'typo' }), 0, 30)).failure, { code: 'SHOEBOX_EVENTS_FAILED' })
  let setAside = 0
  const second = ship(collector.url, { ...options, namespace: 'typo' })
  second.on('aside', (a: { events: number }) => { setAside += a.events })
  const run2 = await shipAll(second, 100, 30)
  t.match(run2.failure, { code: 'SHOEBOX_EVENTS_FAILED', message: /namespace typo, stream s: HTTP 400: NamespaceMissing.*kept in the spill/ })
  t.ok(run2.told.every((e) => e !== null && /the event stays spilled in /.test(e.message)), 'run 2\'s events told they stay spilled')
  const third = ship(collector.url, { ...options, namespace: 'namespace1' })
  third.on('aside', (a: { events: number }) => { setAside += a.events })
  const run3 = await shipAll(third, 200, 10)
  t.equal(run3.failure, undefined, 'run 3 finishes')
  t.equal(setAside, 60, 'both runs\' events set aside, once each')
  t.same(seqsOf(await spilled(path.join(dir, 'refused'))), [...range(0, 30), ...range(100, 130)], 'in refused/, once each')
  t.same(fs.readdirSync(dir).filter((n) => n.endsWith('.shoebox')), [], 'nothing left to replay')
  t.same(storedIn(collector, 'namespace1'), range(200, 210), 'run 3\'s events stored, in its namespace')
  t.equal(collector.stored.length, 10, 'nothing stored elsewhere')
})

t.test('a refusal with events queued, in flight and in the Writable\'s buffer: with a spill, every event not acknowledged is on disk, callbacks told so', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const dir = tempDir(t, 'shoebox-refused-spill-')
  // Two namespaces: the good one's batches are acknowledged, the bad one's refused. A queue big enough that nothing spills before the refusal.
  const shipper = ship(collector.url, { stream: 's', onOverflow: 'spill', spill: dir, queueEvents: 10_000, batchEvents: 10, maxInFlight: 1, retry: fast })
  collector.stall(true)
  const told: Array<Error | null> = []
  const heard: Array<Promise<void>> = []
  const failure = new Promise<Error | undefined>((resolve) => {
    shipper.once('error', resolve)
    shipper.once('finish', () => { resolve(undefined) })
  })
  for (let seq = 0; seq < 300; seq++) {
    heard.push(new Promise((resolve) => {
      shipper.write({ stream: 's', namespace: seq < 10 ? 'namespace1' : 'typo', event: { seq } }, (err) => { told[seq] = err ?? null; resolve() })
    }))
  }
  shipper.end()
  // The first batch (namespace1) is on the wire and held; the rest wait in the queue.
  while (collector.requests < 1) await new Promise((resolve) => setImmediate(resolve))
  collector.stall(false)
  await Promise.all(heard)
  t.match(await failure, { code: 'SHOEBOX_EVENTS_FAILED', message: new RegExp(`namespace typo, stream s: .*kept in the spill ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} for namespace typo`) })
  if (!shipper.closed) await new Promise((resolve) => shipper.once('close', resolve))
  t.same(storedIn(collector, 'namespace1'), range(0, 10), 'the acknowledged batch stored')
  t.same(told.slice(0, 10), Array(10).fill(null))
  t.ok(told.slice(10).every((e) => e !== null && /the event stays spilled in /.test(e.message)), 'the others told they stay spilled')
  t.same(seqsOf(await spilled(dir)), range(10, 300), 'every event not acknowledged is in the spill')
  t.match(shipper.stats().events, { acked: 10, spilled: 290 })
})
