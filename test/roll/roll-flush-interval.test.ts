/**
 * flushInterval 0 (or '0') turns the flush timer off: records stay buffered
 * until end() (or a full block), so no `flush` event and no file appear
 * before it, while a sink with the default interval (1 s) given the same
 * records flushes them twice. A control with a short interval shows a
 * record is flushed on the timer, so the test can see a running timer.
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

for (const off of [0, '0', '0s']) {
  t.test(`flushInterval ${JSON.stringify(off)}: no flush before end(), whatever the pauses`, async (t) => {
    const dir = tempDir(t)
    const sink = rollingSink({ dir, flushInterval: off })
    // Beside it, a control sink with the default timer (1 s) is given the same records: once the control's timer
    // has flushed twice, a timer in the sink under test would have fired too. (A fixed wait instead passed a sink
    // whose timer was late under load.)
    const control = rollingSink({ dir: tempDir(t) })
    const flushes: FlushEvent[] = []
    const controlFlushes: FlushEvent[] = []
    sink.on('flush', (e: FlushEvent) => flushes.push(e))
    control.on('flush', (e: FlushEvent) => controlFlushes.push(e))
    for (const i of range(2)) {
      sink.write(rec(i))
      control.write(rec(i))
      // The sinks' timers are unref'd: these pauses keep the process up until they fire.
      while (controlFlushes.length <= i) await sleep(20)
    }
    t.same(flushes, [], 'no flush event before end()')
    t.same(fs.readdirSync(dir), [], 'no file created before end()')
    sink.end()
    control.end()
    await Promise.all([once(sink, 'finish'), once(control, 'finish')])
    t.same(flushes.map((e) => e.records), [2], 'one flush, at end()')
    t.same(readDir(dir).records.map(seqOf), range(2))
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
