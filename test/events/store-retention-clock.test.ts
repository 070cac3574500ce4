/**
 * Retention drops by the wall clock; a clock far ahead (a bad NTP step, a VM
 * restored with a wrong RTC) must not drop events that are within the
 * retention: the pass is held and said, and runs again once the clock is
 * back, or when the operator says the clock is right (trustClock).
 * retention-clock.ts has the rule.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { ShoeboxError } from '../../lib/errors.js'
import { EventStore } from '../../lib/events/store/event-store.js'
import { RETENTION_CLOCK_FILE } from '../../lib/events/store/retention-clock.js'
import type { EventRange, StoredEvent } from '../../lib/events/store/stored-event.js'
import { serveEvents } from '../../lib/events/server/serve-events.js'
import { stepWallClockAhead } from '../wall-clock.js'

const DAY = 86_400_000
const YEARS_5 = 5 * 365 * DAY
const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }

function eventAt (ms: number, what: string): StoredEvent {
  const id = randomBytes(16)
  id[8] = (id[8] | 0x80) & 0x8f
  return { time: BigInt(ms) * 10_000n, id, body: Buffer.from(`{"what": "${what}"}`) }
}

async function whats (store: EventStore): Promise<string[]> {
  const out: string[] = []
  for await (const e of store.read('kronos', 's', everything)) out.push((JSON.parse(e.body.toString()) as { what: string }).what)
  return out
}

/** A store with retention 30d holding an event of 40 days ago and one of 5 days ago, in runs, closed (the older dropped). */
async function storeOfTwoDays (dir: string): Promise<void> {
  const store = await EventStore.open({ dir, bucketMs: DAY, retentionMs: 30 * DAY })
  await store.put('kronos', [{ stream: 's', events: [eventAt(Date.now() - 40 * DAY, 'old'), eventAt(Date.now() - 5 * DAY, 'fresh')] }])
  await store.flush()
  await store.close()
}

t.test('a clock five years ahead at start drops nothing, says so once (then hourly), and retention runs again once the clock is back', async (t) => {
  const dir = t.testdir()
  await storeOfTwoDays(dir)
  t.ok(fs.existsSync(path.join(dir, RETENTION_CLOCK_FILE)), 'the last pass is kept in the data directory')

  const restore = stepWallClockAhead(t, YEARS_5)
  const told: Error[] = []
  let store = await EventStore.open({ dir, bucketMs: DAY, retentionMs: 30 * DAY, onError: (err) => { told.push(err) } })
  t.same(await whats(store), ['fresh'], 'the event of 5 days ago is kept (the old day was dropped by the sane clock before)')
  t.equal(await store.dropExpired(), 0, 'an hourly pass on the same clock drops nothing either')
  await store.put('kronos', [{ stream: 's', events: [eventAt(Date.now(), 'stamped by the wrong clock')] }])
  await store.flush()
  t.equal(told.length, 1, 'said once, not at every pass')
  t.match(told[0], { code: 'SHOEBOX_CLOCK_AHEAD' })
  const line = told[0].message
  t.match(line, dir, 'names the data directory')
  t.match(line, new Date(Date.now()).toISOString().slice(0, 10), 'names the clock')
  t.match(line, /newest event \d{4}-\d\d-\d\dT/, 'names the newest event')
  t.match(line, /nothing dropped, 1 of 1 runs kept/, 'says what was kept')
  t.match(line, /--trust-clock/, 'says how to drop by this clock if it is right')
  t.same(await whats(store), ['fresh', 'stamped by the wrong clock'])
  // Said again hourly while it lasts: an hour on by the monotonic clock (which the held clock follows too).
  const monotonic = performance.now
  const hourOn = monotonic.call(performance) + 3_600_001
  performance.now = () => hourOn
  try {
    t.equal(await store.dropExpired(), 0, 'an hour on: still held')
  } finally {
    performance.now = monotonic
  }
  t.equal(told.length, 2, 'said again an hour on')
  await store.close()

  // A restart on the same wrong clock: the events it stamped do not make it plausible.
  store = await EventStore.open({ dir, bucketMs: DAY, retentionMs: 30 * DAY, onError: (err) => { told.push(err) } })
  t.same(await whats(store), ['fresh', 'stamped by the wrong clock'], 'still kept after a restart on the wrong clock')
  await store.close()

  restore()
  store = await EventStore.open({ dir, bucketMs: DAY, retentionMs: 30 * DAY, onError: (err) => { told.push(err) } })
  t.equal(told.length, 3, 'the clock put right is not held')
  t.equal(await store.dropExpired(Date.now() + 29 * DAY), 1, 'and retention drops again: the day of 5 days ago, 29 days on')
  t.same(await whats(store), ['stamped by the wrong clock'])
  await store.close()
})

t.test('trustClock: the operator says the clock is right, and the first pass drops by it', async (t) => {
  const dir = t.testdir()
  await storeOfTwoDays(dir)
  stepWallClockAhead(t, 60 * DAY)
  const told: Error[] = []
  let store = await EventStore.open({ dir, bucketMs: DAY, retentionMs: 30 * DAY, onError: (err) => { told.push(err) } })
  t.same(await whats(store), ['fresh'], 'held without trustClock (a server kept off longer than the retention looks so too)')
  await store.close()
  store = await EventStore.open({ dir, bucketMs: DAY, retentionMs: 30 * DAY, trustClock: true, onError: (err) => { told.push(err) } })
  t.same(await whats(store), [], 'dropped with it')
  t.equal(told.length, 1, 'the held pass only was told')
  await store.close()
})

t.test('within one run of the store: a step ahead is held, the clock put back runs, a step back drops less and is not held', async (t) => {
  const dir = t.testdir()
  const told: Error[] = []
  const store = await EventStore.open({ dir, bucketMs: DAY, retentionMs: 30 * DAY, onError: (err) => { told.push(err) } })
  t.teardown(async () => { await store.close() })
  await store.put('kronos', [{ stream: 's', events: [eventAt(Date.now() - 40 * DAY, 'old'), eventAt(Date.now() - DAY, 'fresh')] }])
  await store.flush()
  t.same(await whats(store), ['fresh'], 'the sane clock drops the old day')
  t.equal(await store.dropExpired(Date.now() + YEARS_5), 0, 'five years ahead: held')
  t.equal(told.length, 1)
  t.equal(await store.dropExpired(Date.now() - YEARS_5), 0, 'five years back: runs, drops nothing')
  t.equal(await store.dropExpired(Date.now() + 10 * DAY), 0, 'ten days on runs: the step back did not move the time kept back')
  t.equal(told.length, 1, 'nothing more was held')
  t.same(await whats(store), ['fresh'])
  t.equal(await store.dropExpired(Date.now() + 30 * DAY), 1, 'a month on, twenty days past the last pass, yesterday\'s day goes')
})

t.test('a store without a kept pass (older than it, or run without retention since) judges from its newest event', async (t) => {
  const dir = t.testdir()
  await storeOfTwoDays(dir)
  // Opened without retention: the kept pass would go stale, so it is removed.
  const plain = await EventStore.open({ dir, bucketMs: DAY })
  await plain.close()
  t.notOk(fs.existsSync(path.join(dir, RETENTION_CLOCK_FILE)))
  stepWallClockAhead(t, YEARS_5)
  const told: Error[] = []
  const store = await EventStore.open({ dir, bucketMs: DAY, retentionMs: 30 * DAY, onError: (err) => { told.push(err) } })
  t.teardown(async () => { await store.close() })
  t.same(await whats(store), ['fresh'])
  t.match(told, [{ code: 'SHOEBOX_CLOCK_AHEAD', message: /after the newest event/ }])
})

t.test('serveEvents: trustClock is a flag, and only with retention', async (t) => {
  const data = t.testdir()
  await t.rejects(serveEvents({ data, port: 0, trustClock: true }), { code: 'SHOEBOX_INVALID_OPTION', message: /trustClock.*retention/ })
  await t.rejects(serveEvents({ data, port: 0, retention: '30d', trustClock: 'yes' as unknown as boolean }), { code: 'SHOEBOX_INVALID_OPTION', message: /trustClock/ })
  t.ok(new ShoeboxError('SHOEBOX_CLOCK_AHEAD', 'x'))
})

t.test('the temporary file of a retention clock write a crash cut short is removed at open', async (t) => {
  const dir = t.testdir()
  await storeOfTwoDays(dir)
  const left = path.join(dir, `.${RETENTION_CLOCK_FILE}.0123456789ab.tmp`)
  fs.writeFileSync(left, '{"ms"')
  const store = await EventStore.open({ dir, bucketMs: DAY, retentionMs: 30 * DAY })
  t.teardown(async () => { await store.close() })
  t.notOk(fs.existsSync(left))
})
