/**
 * discardSink(): a rolling sink's owner gives its work up (pack(), failed
 * or aborted): the destroy writes nothing out. The records it holds are
 * dropped, no `sealed` event comes after the call (not even for a seal the
 * chain had under way), nothing more is uploaded, and the sink emits the
 * error, then `close`. A plain destroy() still writes out and seals
 * (roll-sink-destroy-flush.test.ts).
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { rollingSink, type RecordInput, type RollingSink, type SealedEvent } from '../../lib/index.js'
import { discardSink } from '../../lib/roll/rolling-sink.js'
import { archiveNames, decodeFile, range, seqOf, tempDir, tempNames } from '../fixtures-roll/util.js'

function rec (seq: number): RecordInput {
  return { metadata: { k: 'v' }, payload: { seq } }
}

/** Write records `seqs` one at a time, each once the sink has called back the one before. */
async function writeAll (sink: RollingSink, seqs: number[]): Promise<void> {
  for (const seq of seqs) {
    await new Promise<void>((resolve, reject) => { sink.write(rec(seq), (err) => { if (err == null) resolve(); else reject(err) }) })
  }
}

/** Discard `sink` with `err`; resolves once it has closed, with the errors it emitted. */
async function discarded (sink: RollingSink, err: Error): Promise<Error[]> {
  const errors: Error[] = []
  sink.on('error', (e) => errors.push(e))
  const closed = new Promise((resolve) => sink.once('close', resolve))
  discardSink(sink, err)
  await closed
  return errors
}

function seqs (dir: string, names: string[]): number[] {
  return names.flatMap((name) => decodeFile(path.join(dir, name)).map((r) => seqOf(r.record)))
}

t.test('the records held are dropped; the files sealed before stay; error, then close', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, roll: { records: 10 } })
  const sealed: string[] = []
  sink.on('sealed', (event: SealedEvent) => { sealed.push(path.basename(event.path)) })
  const two = new Promise<void>((resolve) => { sink.on('sealed', () => { if (sealed.length === 2) resolve() }) })
  await writeAll(sink, range(25))
  await two
  const failure = new Error('pack failed')
  t.same(await discarded(sink, failure), [failure], 'the sink fails with the error it was discarded with')
  t.same(sealed.length, 2, 'no file sealed after the discard')
  t.same(archiveNames(dir), sealed, 'the directory holds those two')
  t.same(seqs(dir, sealed), range(20), 'records 0-19; 20-24 dropped')
  t.same(tempNames(dir), [], 'nothing of them was written')
})

t.test('a seal under way when the sink is discarded is not announced, and the file is not uploaded', async (t) => {
  const dir = tempDir(t)
  const store = tempDir(t)
  const sink = rollingSink({ dir, roll: { records: 10 }, upload: { to: store } })
  let discardedNow = false
  const sealedAfter: string[] = []
  sink.on('sealed', (event: SealedEvent) => { if (discardedNow) sealedAfter.push(event.path) })
  const uploaded: string[] = []
  sink.on('upload', (event) => { uploaded.push(event.key) })
  const first = new Promise<void>((resolve) => sink.once('upload', () => { resolve() }))
  await writeAll(sink, range(10))
  await first
  // Record 19 ends the second file: its block and seal are queued, the chain at work on them.
  await writeAll(sink, range(10, 10))
  discardedNow = true
  await discarded(sink, new Error('aborted'))
  t.same(sealedAfter, [], 'no sealed event after the discard')
  t.equal(uploaded.length, 1, 'the first file was uploaded')
  t.same(fs.readdirSync(store), uploaded, 'and nothing more is in the store')
})

t.test('a sink discarded before it started creates nothing; one destroyed already is left as it is', async (t) => {
  const root = tempDir(t)
  const dir = path.join(root, 'never')
  const sink = rollingSink({ dir })
  const gone = new Error('gone')
  t.same(await discarded(sink, gone), [gone])
  t.notOk(fs.existsSync(dir), 'no directory made')

  const other = path.join(root, 'plain')
  const plain = rollingSink({ dir: other })
  await plain.started()
  await writeAll(plain, range(3))
  const closed = new Promise((resolve) => plain.once('close', resolve))
  plain.destroy()
  discardSink(plain, new Error('late'))
  await closed
  t.same(seqs(other, archiveNames(other)), range(3), 'the plain destroy wrote its records out')
})
