/**
 * transfer/retry.ts: tries counted, every pause within its jitter bounds
 * (with an injected sleep and random: nothing waits), abort ending a pause
 * at once, and failures that are not retryable thrown after one try.
 */
import t from 'tap'
import { backoffDelay, retry, type RetryEvent, type RetryOptions } from '../../lib/transfer/retry.js'
import { mulberry32 } from '../helpers.js'

/** An operation failing `failures` times (error i is `fail i`), then returning 'done'; `calls` counts tries. */
function flaky (failures: number): { op: (attempt: number) => Promise<string>, calls: number[] } {
  const calls: number[] = []
  return {
    calls,
    op: async (attempt) => {
      calls.push(attempt)
      if (calls.length <= failures) throw Object.assign(new Error(`fail ${calls.length}`), { code: 'EFLAKY' })
      return 'done'
    }
  }
}

/** Options with a sleep that only records its delays, and the retry events. */
function recording (options: RetryOptions = {}): { options: RetryOptions, slept: number[], events: RetryEvent[] } {
  const slept: number[] = []
  const events: RetryEvent[] = []
  return {
    slept,
    events,
    options: { sleep: async (ms) => { slept.push(ms) }, onRetry: (e) => { events.push(e) }, ...options }
  }
}

t.test('success at once: one try, no pause', async (t) => {
  const { op, calls } = flaky(0)
  const r = recording()
  t.equal(await retry(op, r.options), 'done')
  t.same(calls, [1])
  t.same(r.slept, [])
  t.same(r.events, [])
})

t.test('tries are counted: success on the last try, or the last error after all of them', async (t) => {
  for (const attempts of [1, 2, 3, 5]) {
    const ok = flaky(attempts - 1)
    const r = recording({ attempts })
    t.equal(await retry(ok.op, r.options), 'done', `${attempts} tries: the last succeeds`)
    t.same(ok.calls, Array.from({ length: attempts }, (_, i) => i + 1), 'each try gets its number')
    t.equal(r.slept.length, attempts - 1)

    const bad = flaky(attempts)
    const r2 = recording({ attempts })
    await t.rejects(retry(bad.op, r2.options), { message: `fail ${attempts}` }, `${attempts} tries: the last error is thrown`)
    t.equal(bad.calls.length, attempts)
    t.same(r2.events.map((e) => [e.attempt, (e.error as Error).message]),
      Array.from({ length: attempts - 1 }, (_, i) => [i + 1, `fail ${i + 1}`]), 'onRetry for every try but the last')
    t.same(r2.events.map((e) => e.delayMs), r2.slept, 'onRetry names the pause that follows')
  }
  const { op, calls } = flaky(10)
  await t.rejects(retry(op, { sleep: async () => {} }), { message: 'fail 3' }, 'default: 3 tries')
  t.equal(calls.length, 3)
})

t.test('pauses: doubling from baseDelay, capped at maxDelay, jittered within [ceiling/2, ceiling]', async (t) => {
  const ceilings = [100, 200, 400, 800, 1000, 1000, 1000]
  for (const [label, random] of [['lowest', () => 0], ['highest', () => 1 - Number.EPSILON]] as const) {
    const r = recording({ attempts: 8, baseDelay: 100, maxDelay: '1s', random })
    await t.rejects(retry(flaky(8).op, r.options))
    t.same(r.slept.map(Math.round), ceilings.map((c) => label === 'lowest' ? c / 2 : c), `${label} jitter`)
  }
  const random = mulberry32(7)
  const r = recording({ attempts: 8, baseDelay: '100ms', maxDelay: 1000, random })
  await t.rejects(retry(flaky(8).op, r.options))
  t.equal(r.slept.length, 7)
  r.slept.forEach((ms, i) => {
    t.ok(ms >= ceilings[i] / 2 && ms <= ceilings[i], `pause ${i + 1}: ${ms} in [${ceilings[i] / 2}, ${ceilings[i]}]`)
  })
  t.not(new Set(r.slept.slice(4)).size, 1, 'capped pauses are still spread out')
  t.equal(backoffDelay(1, 1000, 30_000, () => 0.5), 750)
  t.equal(backoffDelay(10, 1000, 30_000, () => 0), 15_000)
  t.equal(backoffDelay(40, 1000, Infinity, () => 0), 1000 * 2 ** 39 / 2, 'no cap with maxDelay Infinity')
})

t.test('a failure that is not retryable is thrown after one try', async (t) => {
  const { op, calls } = flaky(5)
  const seen: Array<[string, number]> = []
  const r = recording({
    attempts: 5,
    retryable: (err, attempt) => {
      seen.push([(err as Error).message, attempt])
      return (err as NodeJS.ErrnoException).code !== 'EFLAKY'
    }
  })
  await t.rejects(retry(op, r.options), { message: 'fail 1', code: 'EFLAKY' })
  t.same(calls, [1])
  t.same(seen, [['fail 1', 1]])
  t.same(r.slept, [])
  t.same(r.events, [])
})

t.test('abort: a pause ends at once, no further try starts', async (t) => {
  // The real sleep, an hour long: only the abort can end it (else the test times out).
  const controller = new AbortController()
  const { op, calls } = flaky(5)
  const running = retry(op, {
    attempts: 5,
    baseDelay: '1h',
    maxDelay: Infinity,
    signal: controller.signal,
    onRetry: () => { setImmediate(() => { controller.abort() }) }
  })
  await t.rejects(running, { name: 'AbortError' })
  t.same(calls, [1], 'no try after the abort')

  const before = new AbortController()
  before.abort(new Error('stopped first'))
  const never = flaky(0)
  await t.rejects(retry(never.op, { signal: before.signal }), { message: 'stopped first' }, 'aborted before: the reason, and no try')
  t.same(never.calls, [])

  const during = new AbortController()
  const r = recording({ attempts: 5, signal: during.signal })
  const seenSignals: Array<AbortSignal | undefined> = []
  await t.rejects(retry(async (_n, signal) => {
    seenSignals.push(signal)
    during.abort()
    throw new Error('failed while stopping')
  }, r.options), { message: 'failed while stopping' }, 'aborted during a try: that try\'s error, no retry')
  t.same(r.slept, [])
  t.equal(seenSignals[0], during.signal, 'the operation is given the signal')
})

t.test('bad options are refused before any try', async (t) => {
  for (const attempts of [0, -1, 1.5, Number.NaN]) {
    const { op, calls } = flaky(0)
    await t.rejects(retry(op, { attempts }), { code: 'SHOEBOX_INVALID_OPTION' }, `attempts ${attempts}`)
    t.same(calls, [])
  }
  await t.rejects(retry(flaky(0).op, { baseDelay: 'soon' }), { code: 'SHOEBOX_INVALID_OPTION' })
  await t.rejects(retry(flaky(0).op, { maxDelay: -5 }), { code: 'SHOEBOX_INVALID_OPTION' })
})
