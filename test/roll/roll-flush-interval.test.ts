/**
 * flushInterval 0 (or '0') turns the flush timer off: records given in a
 * trickle over several periods of the default interval (1 s) stay buffered
 * until end() (or a full block), so no `flush` event and no file appear
 * before it. A control with a short interval shows the same trickle does
 * flush on the timer, so the test can see a running timer.
 */
import fs from 'node:fs'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { rollingSink, type FlushEvent, type RecordInput } from '../../lib/index.js'
import { range, readDir, seqOf, tempDir } from '../fixtures-roll/util.js'

function rec (seq: number): RecordInput {
  return { payload: { seq } }
}

/** Longer than two default flush periods: a timer that still ran at 1 s (or at 0 ms) fires in it. */
const TRICKLE = [0, 700, 700, 700]

for (const off of [0, '0', '0s']) {
  t.test(`flushInterval ${JSON.stringify(off)}: no flush before end(), whatever the pauses`, async (t) => {
    const dir = tempDir(t)
    const sink = rollingSink({ dir, flushInterval: off })
    const flushes: FlushEvent[] = []
    sink.on('flush', (e: FlushEvent) => flushes.push(e))
    for (const [i, pause] of TRICKLE.entries()) {
      await sleep(pause)
      sink.write(rec(i))
    }
    await sleep(700)
    t.same(flushes, [], 'no flush event before end()')
    t.same(fs.readdirSync(dir), [], 'no file created before end()')
    sink.end()
    await once(sink, 'finish')
    t.same(flushes.map((e) => e.records), [TRICKLE.length], 'one flush, at end()')
    t.same(readDir(dir).records.map(seqOf), range(TRICKLE.length))
  })
}

t.test('control: with a short flushInterval a record is flushed by the timer before end()', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, flushInterval: '50ms' })
  const flushes: FlushEvent[] = []
  sink.on('flush', (e: FlushEvent) => flushes.push(e))
  sink.write(rec(0))
  // The sink's timer is unref'd: these pauses keep the process up until it fires.
  while (flushes.length === 0) await sleep(20)
  t.same(flushes.map((e) => e.records), [1], 'flushed by the timer, the sink still open')
  sink.end()
  await once(sink, 'finish')
  t.same(readDir(dir).records.map(seqOf), [0])
})
