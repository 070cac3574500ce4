/**
 * Every write callback of a shipper is called exactly once, whatever the
 * moment it is destroyed or ended: from inside a write's callback, from an
 * `ack` or `batch` listener, during a retry, during a spill replay. An
 * event the server acknowledged is never reported failed.
 */
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { decode } from '../../lib/format/decode.js'
import type { ShoeboxRecord } from '../../lib/record.js'
import { ship, type Shipper } from '../../lib/events/ship.js'
import type { ShipOptions } from '../../lib/events/ship-options.js'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { startCollector } from './fixtures/collector.js'
import { get, start } from './conformance-kit.js'
import { startFaultProxy } from '../fault-proxy.js'

const fast = { baseDelay: 5, maxDelay: 20 }

/** What each write's callback was told: one entry per call ('ok' or the error's message). */
class Told {
  readonly calls: string[][]
  constructor (n: number) {
    this.calls = Array.from({ length: n }, () => [])
  }

  callback (seq: number, then?: (err: Error | null | undefined) => void): (err?: Error | null) => void {
    return (err) => {
      this.calls[seq].push(err === null || err === undefined ? 'ok' : err.message)
      then?.(err)
    }
  }

  check (t: Test, storedSeqs: number[]): void {
    t.same(this.calls.filter((c) => c.length !== 1).length, 0, 'every callback called exactly once')
    const acked = new Set(this.calls.flatMap((c, seq) => c[0] === 'ok' ? [seq] : []))
    const stored = new Set(storedSeqs)
    t.same([...acked].filter((seq) => !stored.has(seq)), [], 'an event reported acknowledged was stored')
  }
}

/** Resolves once the shipper closed and the callbacks it scheduled have run. */
async function closed (shipper: Shipper): Promise<void> {
  // Not events.once(): it rejects on the 'error' a destroy(err) emits.
  if (!shipper.closed) await new Promise((resolve) => shipper.once('close', resolve))
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
}

async function setup (t: Test, options: ShipOptions = {}): Promise<{ shipper: Shipper, errors: Error[], stored: () => number[], collector: Awaited<ReturnType<typeof startCollector>> }> {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { stream: 's', batchEvents: 10, batchAge: 5, retry: fast, exitHooks: false, ...options })
  const errors: Error[] = []
  shipper.on('error', (err: Error) => errors.push(err))
  return { shipper, errors, stored: () => collector.stored.map((e) => e.event.seq as number), collector }
}

for (const how of ['destroy()', 'destroy(err)'] as const) {
  const stop = (shipper: Shipper): void => {
    if (how === 'destroy()') shipper.destroy()
    else shipper.destroy(new Error('stop'))
  }

  t.test(`${how} inside the first write callback of an acknowledged batch`, async (t) => {
    const { shipper, errors, stored } = await setup(t)
    const told = new Told(30)
    for (let seq = 0; seq < 30; seq++) shipper.write({ seq }, told.callback(seq, seq === 0 ? () => { stop(shipper) } : undefined))
    await closed(shipper)
    told.check(t, stored())
    t.same(told.calls.slice(0, 10), Array(10).fill(['ok']), 'the whole acknowledged batch is told it was acknowledged')
    t.ok(told.calls.slice(10).every((c) => c[0] !== 'ok' || stored().length > 10), 'later events failed unless sent')
    t.equal(errors.length, how === 'destroy()' ? 0 : 1, 'the error, once, only when one was given')
  })

  t.test(`${how} inside a middle write callback of an acknowledged batch`, async (t) => {
    const { shipper, stored } = await setup(t)
    const told = new Told(20)
    for (let seq = 0; seq < 20; seq++) shipper.write({ seq }, told.callback(seq, seq === 4 ? () => { stop(shipper) } : undefined))
    await closed(shipper)
    told.check(t, stored())
    t.same(told.calls.slice(0, 10), Array(10).fill(['ok']))
  })

  t.test(`${how} from an ack listener`, async (t) => {
    const { shipper, stored } = await setup(t)
    shipper.once('ack', () => { stop(shipper) })
    const told = new Told(30)
    for (let seq = 0; seq < 30; seq++) shipper.write({ seq }, told.callback(seq))
    await closed(shipper)
    told.check(t, stored())
    t.same(told.calls.slice(0, 10), Array(10).fill(['ok']), 'the acknowledged batch is acknowledged')
  })

  t.test(`${how} from a batch listener`, async (t) => {
    const { shipper, stored } = await setup(t)
    shipper.once('batch', () => { stop(shipper) })
    const told = new Told(30)
    for (let seq = 0; seq < 30; seq++) shipper.write({ seq }, told.callback(seq))
    await closed(shipper)
    told.check(t, stored())
    t.ok(told.calls.every((c) => c[0] !== 'ok'), 'nothing was acknowledged')
  })
}

t.test('destroy() from a rejected event\'s callback: each callback once', async (t) => {
  const { shipper, stored } = await setup(t, { namespace: 'missing' })
  const told = new Told(20)
  for (let seq = 0; seq < 20; seq++) shipper.write({ seq }, told.callback(seq, seq === 0 ? () => { shipper.destroy() } : undefined))
  await closed(shipper)
  told.check(t, stored())
  t.match(told.calls[0], [/NamespaceMissing/])
})

t.test('end() during a retry, then destroy() from the ack: each callback once', async (t) => {
  const { shipper, collector, stored } = await setup(t)
  collector.failNext(2, 503, '0')
  const told = new Told(25)
  for (let seq = 0; seq < 25; seq++) shipper.write({ seq }, told.callback(seq, seq === 12 ? () => { shipper.destroy() } : undefined))
  await once(shipper, 'retry')
  shipper.end()
  await closed(shipper)
  told.check(t, stored())
})

t.test('destroy() inside a replayed spilled event\'s callback: each callback once, acknowledged ones ok', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-settle-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const { shipper, collector, stored } = await setup(t, { onOverflow: 'spill', spill: dir, queueEvents: 10 })
  collector.failNext(3, 503, '0')
  const told = new Told(60)
  for (let seq = 0; seq < 60; seq++) shipper.write({ seq }, told.callback(seq, seq === 25 ? () => { shipper.destroy() } : undefined))
  await closed(shipper)
  told.check(t, stored())
  t.same(told.calls[25], ['ok'])
  // 0..9 fill the queue; 10.. are spilled, so the 16th replayed event is seq 25.
  const { spilled, replayed } = shipper.stats().events
  t.ok(spilled >= 16 && replayed >= 16, `the callback was a replayed event's (${spilled} spilled, ${replayed} replayed)`)
})

t.test('giving up with a spill: the events held in memory and writes not yet taken go to the spill, after everything spilled before', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-settle-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const { shipper, collector, errors } = await setup(t, { onOverflow: 'spill', spill: dir, queueEvents: 10, retry: { ...fast, attempts: 1 } })
  await collector.stop()
  const told = new Told(400)
  // Written at once: most wait in the Writable's buffer while the spill fsyncs, when the first try fails.
  for (let seq = 0; seq < 400; seq++) shipper.write({ seq }, told.callback(seq))
  await closed(shipper)
  t.match(errors, [{ code: 'SHOEBOX_UNREACHABLE' }])
  told.check(t, [])
  const spilledSeqs: number[] = []
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.shoebox') && !n.startsWith('.')).sort()) {
    for await (const record of decode({ file: name }).end(fs.readFileSync(path.join(dir, name))) as AsyncIterable<ShoeboxRecord>) {
      spilledSeqs.push((JSON.parse(record.payload.toString('utf8')) as { seq: number }).seq)
    }
  }
  const toldSpilled = told.calls.flatMap((c, seq) => /stays spilled/.test(c[0]) ? [seq] : [])
  t.same([...spilledSeqs].sort((a, b) => a - b), toldSpilled, 'what was told "stays spilled" is on disk, once')
  t.same(toldSpilled, Array.from({ length: 400 }, (_, i) => i), 'every event')
  // On disk: what was spilled while the queue was full, then the 10 the shipper held in memory, then the rest.
  const held = spilledSeqs.filter((seq) => seq < 10)
  const rest = spilledSeqs.filter((seq) => seq >= 10)
  t.same(held, Array.from({ length: 10 }, (_, i) => i), 'the events held in memory, in order')
  t.same(rest, Array.from({ length: 390 }, (_, i) => 10 + i), 'the others, in order')
  t.equal(shipper.stats().events.spilled, 400)
})

/**
 * A proxy that forwards each put to `target` and, once the server has answered (the events are
 * stored), cuts the client's connection without a byte of the answer.
 */
async function startAnswerEater (t: Test, target: string): Promise<string> {
  const server = http.createServer((req, res) => {
    const upstream = http.request(target + (req.url ?? '/'), { method: req.method, headers: req.headers }, (answer) => {
      answer.resume()
      answer.on('end', () => { res.socket?.destroy() })
    })
    req.pipe(upstream)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('giving up with a spill: batches sent but unanswered are spilled with their @ids, so the next run stores them once', async (t) => {
  // Not under t.testdir(): start() keeps that directory for the server's data until its close.
  const spillDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ship-settle-')), 'spill')
  t.teardown(() => { fs.rmSync(path.dirname(spillDir), { recursive: true, force: true }) })
  const server = await start(t)
  const first = ship(await startAnswerEater(t, server.url), { stream: 's', batchEvents: 5, batchAge: 5, retry: { ...fast, attempts: 2 }, onOverflow: 'spill', spill: spillDir, exitHooks: false })
  const errors: Error[] = []
  first.on('error', (err: Error) => errors.push(err))
  const told = new Told(20)
  for (let seq = 0; seq < 20; seq++) first.write({ seq }, told.callback(seq))
  first.end()
  await closed(first)
  t.match(errors, [{ code: 'SHOEBOX_UNREACHABLE' }])
  t.same(told.calls.filter((c) => c.length !== 1 || !/stays spilled/.test(c[0])), [], 'each event told once that it stays spilled')
  t.equal(first.stats().events.spilled, 20)
  const before = await get(t, server.url, 's', 0, '99999999999999999')
  t.ok(before.length > 0, `the server stored ${before.length} events whose answers were lost`)
  const sentIds = new Map(before.map((e) => [e.seq as number, e['@id'] as string]))

  const second = ship(server.url, { stream: 's', onOverflow: 'spill', spill: spillDir, exitHooks: false })
  second.end()
  await once(second, 'finish')
  t.equal(second.stats().events.replayed, 20)
  const after = await get(t, server.url, 's', 0, '99999999999999999')
  t.same(after.map((e) => e.seq as number).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i), 'every event stored exactly once')
  t.ok(after.every((e) => (sentIds.get(e.seq as number) ?? e['@id']) === e['@id']), 'the ids sent in the first run were kept')
})

t.test('a 200 whose answer breaks: not sent again, each event rejected as maybe stored', async (t) => {
  const server = await start(t)
  const proxy = await startFaultProxy(server.url, [{ match: (req) => req.method === 'POST', fault: { kind: 'drop-response', afterBytes: 0 } }])
  t.teardown(async () => { await proxy.close() })
  const shipper = ship(proxy.endpoint, { stream: 's', batchEvents: 5, batchAge: 5, retry: fast, exitHooks: false })
  const rejected: Array<{ maybeStored: boolean }> = []
  shipper.on('rejected', (r: { maybeStored: boolean }) => rejected.push(r))
  const told = new Told(5)
  for (let seq = 0; seq < 5; seq++) shipper.write({ seq }, told.callback(seq))
  shipper.end()
  await closed(shipper)
  t.equal(proxy.log.length, 1, 'sent once')
  t.same(told.calls.map((c) => /most likely stored/.test(c[0])), [true, true, true, true, true])
  t.same(rejected.map((r) => r.maybeStored), [true, true, true, true, true])
  t.equal((await get(t, server.url, 's', 0, '99999999999999999')).length, 5, 'the server has them')
})

t.test('a write after end() is refused alone: the events written before it are still sent, then the shipper fails with it', async (t) => {
  const { shipper, errors, stored } = await setup(t, { batchAge: 200 })
  const told = new Told(6)
  for (let seq = 0; seq < 5; seq++) shipper.write({ seq }, told.callback(seq))
  shipper.end()
  shipper.write({ seq: 5 }, told.callback(5))
  shipper.end({ seq: 6 })
  await closed(shipper)
  t.same(told.calls.slice(0, 5), Array(5).fill(['ok']), 'the five events written before end() are acknowledged')
  t.match(told.calls[5], [/write after end\(\).*not taken/], 'the late write is told it was not taken')
  t.same(stored().sort((a, b) => a - b), [0, 1, 2, 3, 4], 'stored: those five, not the late ones')
  t.equal(errors.length, 1, 'the shipper fails once')
  t.equal((errors[0] as { code?: string }).code, 'SHOEBOX_USAGE')
  t.match(errors[0].message, /write after end\(\)/)
})
