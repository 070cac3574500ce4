/**
 * A write after end() is the caller's mistake, and it must cost only that
 * record: Node's Writable would destroy the sink, and with it every record
 * written before end() that was not yet in a sealed file (all of them, for a
 * sink that had not started). The sink refuses the late write (its callback
 * gets the error), seals everything written before end(), and only then
 * fails with that error: nothing it took is lost.
 */
import { once } from 'node:events'
import t from 'tap'
import { rollingSink, ShoeboxError, type RecordInput, type RollingSink } from '../../lib/index.js'
import { range, readDir, seqOf, tempDir, tempNames } from '../fixtures-roll/util.js'

function rec (seq: number): RecordInput {
  return { metadata: { k: 'v' }, payload: { seq } }
}

/** Write records 0..n-1, end(), then write one more (as an array when asked); what the late write and the sink report. */
async function lateWrite (sink: RollingSink, n: number, asArray = false): Promise<{ late: Error | null | undefined, failed: Error }> {
  const failed = once(sink, 'error') as Promise<[Error]>
  const closed = new Promise((resolve) => { sink.on('close', resolve) })
  for (const i of range(n)) sink.write(rec(i))
  sink.end()
  let late: Error | null | undefined
  const called = new Promise<void>((resolve) => {
    const returned = sink.write(asArray ? [rec(n), rec(n + 1)] : rec(n), (err) => { late = err; resolve() })
    if (returned) throw new Error('a late write returned true')
  })
  await called
  const [err] = await failed
  await closed
  return { late, failed: err }
}

for (const started of [true, false]) {
  t.test(`${started ? 'a started sink' : 'a sink not started yet'}: the late write is refused, every record before end() is sealed, then the sink fails`, async (t) => {
    const dir = tempDir(t)
    const sink = rollingSink({ dir, flushInterval: 0, roll: { records: 3 }, sha256: false })
    if (started) await sink.started()
    let finished = false
    sink.on('finish', () => { finished = true })
    const { late, failed } = await lateWrite(sink, 7)
    t.ok(late instanceof ShoeboxError, 'the late write is called back with an error')
    t.equal((late as ShoeboxError).code, 'SHOEBOX_USAGE')
    t.match((late as Error).message, dir, 'it names the directory')
    t.match((late as Error).message, /write after end\(\).*not taken.*sealed/)
    t.equal(failed, late, 'the sink fails with the same error')
    t.notOk(finished, 'no finish')
    const back = readDir(dir)
    t.same(back.records.map(seqOf), range(7), 'records 0-6 are all in sealed files, in order; the late one is not')
    t.same(back.files.map((f) => f.length), [3, 3, 1])
    t.same(tempNames(dir), [], 'no temporary file left')
    t.same(sink.kept(), { dir, started: true, sealedFiles: 3, sealedRecords: 7, unsealed: null })
  })
}

t.test('a late write of an array takes none of its records', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, flushInterval: 0 })
  const { late } = await lateWrite(sink, 2, true)
  t.equal((late as ShoeboxError).code, 'SHOEBOX_USAGE')
  t.same(readDir(dir).records.map(seqOf), [0, 1])
})

t.test('several late writes: each is refused, the sink fails once, with the first', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, flushInterval: 0 })
  const errors: Error[] = []
  sink.on('error', (err) => { errors.push(err) })
  const closed = new Promise((resolve) => { sink.on('close', resolve) })
  sink.write(rec(0))
  sink.end()
  const calls: Array<Error | null | undefined> = []
  for (const i of [1, 2, 3]) sink.write(rec(i), (err) => { calls.push(err) })
  await closed
  t.equal(calls.length, 3)
  t.ok(calls.every((err) => err instanceof ShoeboxError && err.code === 'SHOEBOX_USAGE'), 'each late write is called back with the refusal')
  t.equal(errors.length, 1, 'one error event')
  t.equal(errors[0], calls[0])
  t.same(readDir(dir).records.map(seqOf), [0])
})

t.test('a write after finish: refused as Node refuses it (the sink is done and closed); the sealed files stay', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, flushInterval: 0 })
  sink.write(rec(0))
  sink.end()
  await once(sink, 'finish')
  const err = await new Promise<NodeJS.ErrnoException | null | undefined>((resolve) => { sink.write(rec(1), resolve) })
  t.match(err?.code, /^ERR_STREAM_(WRITE_AFTER_END|DESTROYED)$/)
  t.same(readDir(dir).records.map(seqOf), [0])
})

t.test('end(record) after end(): the record is refused as a late write; the ones before are sealed', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, flushInterval: 0 })
  const failed = once(sink, 'error') as Promise<[ShoeboxError]>
  const closed = new Promise((resolve) => { sink.on('close', resolve) })
  sink.write(rec(0))
  sink.end(rec(1))
  sink.end(rec(2))
  const [err] = await failed
  await closed
  t.equal(err.code, 'SHOEBOX_USAGE')
  t.match(err.message, /write after end\(\)/)
  t.same(readDir(dir).records.map(seqOf), [0, 1], 'the record given to the first end() is sealed too')
})
