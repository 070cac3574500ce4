/**
 * Durations past a timer's limit (2^31 - 1 ms, about 24.8 days): Node takes
 * a longer setTimeout()/setInterval() as 1 ms, so a roll age of 30d sealed a
 * file after every record and a 60-day answer deadline expired at once.
 */
import t from 'tap'
import fs from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { rollingSink } from '../lib/index.js'
import { answerDeadline } from '../lib/events/answer-deadline.js'
import { retry } from '../lib/transfer/retry.js'
import { MAX_TIMER_MS, timerMs } from '../lib/units.js'
import { cliProcess } from './cli-run.js'

const DAY = 86_400_000

/** Warnings Node emits while `run` runs (a TimeoutOverflowWarning among them, before the fix). */
async function warningsDuring (run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = []
  const note = (w: Error): void => { seen.push(w.name) }
  process.on('warning', note)
  try {
    await run()
    // Warnings are emitted on the next tick.
    await sleep(5)
  } finally {
    process.off('warning', note)
  }
  return seen
}

t.test('timerMs: at most the timer limit', async (t) => {
  t.equal(MAX_TIMER_MS, 2 ** 31 - 1)
  t.equal(timerMs(0), 0)
  t.equal(timerMs(1000), 1000)
  t.equal(timerMs(30 * DAY), MAX_TIMER_MS)
  t.equal(timerMs(Infinity), MAX_TIMER_MS)
})

t.test('a roll age of 30 days keeps one file open for records written apart, and a flush interval of 100 days does not flush every millisecond', async (t) => {
  const dir = t.testdir()
  const sealed: string[] = []
  const warnings = await warningsDuring(async () => {
    const sink = rollingSink({ dir, roll: { age: '30d' }, flushInterval: '100d' })
    sink.on('sealed', (e: { path: string }) => { sealed.push(e.path) })
    await sink.started()
    for (let i = 0; i < 3; i++) {
      sink.write({ metadata: {}, payload: { i } })
      await sleep(30)
    }
    sink.end()
    await new Promise((resolve, reject) => { sink.on('close', resolve).on('error', reject) })
  })
  t.equal(sealed.length, 1, 'one file, sealed at the end (a 1 ms timer sealed one per record)')
  t.same(warnings.filter((w) => w === 'TimeoutOverflowWarning'), [], 'no timer overflow')
  t.equal(fs.readdirSync(dir).filter((n) => n.endsWith('.shoebox')).length, 1)
})

t.test('shoebox write --roll-age 30d --flush-interval 100d: one file, and no warning on stderr', async (t) => {
  const dir = t.testdir()
  // Its own process: Node prints its warnings on the process's stderr.
  const r = await cliProcess(['write', dir, '--roll-age', '30d', '--flush-interval', '100d'], '{"a":1}\n{"a":2}\n')
  t.equal(r.code, 0, r.stderr)
  t.notMatch(r.stderr, /TimeoutOverflowWarning/)
  t.equal(fs.readdirSync(dir).filter((n) => n.endsWith('.shoebox')).length, 1)
})

t.test('an answer deadline past the limit does not expire at once', async (t) => {
  let expired = false
  const cancel = answerDeadline(30 * DAY, () => { expired = true })
  await sleep(30)
  cancel()
  t.equal(expired, false)
})

t.test('a retry pause past the limit is a long pause, not 1 ms', async (t) => {
  const controller = new AbortController()
  let tries = 0
  const running = retry(async () => { tries++; throw new Error('down') }, { attempts: 3, baseDelay: 60 * DAY, maxDelay: Infinity, signal: controller.signal })
  await sleep(30)
  t.equal(tries, 1, 'still pausing after the first failure')
  controller.abort()
  await t.rejects(running)
})
