/**
 * A rolling sink destroyed before its start is over. Node calls _destroy
 * only once _construct (the start: codec and modules loaded, the directory
 * made, leftovers recovered) has finished, so the start must notice by
 * itself. What a caller may expect, and these tests hold the sink to:
 * - destroyed before the start: nothing is created (not the directory, not
 *   its parents), and a directory that exists is untouched, a dead writer's
 *   leftovers with it (they are recovered at the next start);
 * - destroyed once the directory is made: it stays, empty (removing it could
 *   pull it from under another writer that found it meanwhile), and nothing
 *   else is done;
 * - destroyed while leftovers are recovered: the file at hand is recovered
 *   whole (its `recover` event told), the others stay as they were.
 */
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { encodeRecords, rollingSink, type RecordInput, type RollingSink } from '../../lib/index.js'
import type { RecoveredFile } from '../../lib/roll/recover.js'
import { hostName, tempName } from '../../lib/roll/names.js'
import { archiveNames, deadPid, readDir, seqOf, tempDir, tempNames } from '../fixtures-roll/util.js'

function rec (seq: number): RecordInput {
  return { metadata: {}, payload: { seq } }
}

/** Resolves once the sink has closed; rejects with any error it emitted (a plain destroy() emits none). */
async function closed (sink: RollingSink): Promise<void> {
  const errors: Error[] = []
  sink.on('error', (err: Error) => errors.push(err))
  if (!sink.closed) await once(sink, 'close')
  if (errors.length > 0) throw errors[0]
}

/** `dir` with `count` temporary files of a dead writer of this host, records seq `from`.. of two each; their names, sorted. */
async function leftovers (dir: string, count: number): Promise<string[]> {
  const pid = await deadPid()
  const names: string[] = []
  for (let i = 0; i < count; i++) {
    const name = tempName(`left-${i}.shoebox`, hostName(), pid)
    fs.writeFileSync(path.join(dir, name), encodeRecords([rec(2 * i), rec(2 * i + 1)]))
    names.push(name)
  }
  return names.sort()
}

/** Every entry of `dir` with its bytes, to compare before and after. */
function snapshot (dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).sort().map((n) => [n, fs.readFileSync(path.join(dir, n)).toString('base64')]))
}

t.test('destroy() at once: no directory is made, nor its parents; no error', async (t) => {
  const base = tempDir(t)
  const dir = path.join(base, 'a', 'b')
  const sink = rollingSink({ dir })
  sink.write(rec(0))
  sink.destroy()
  await closed(sink)
  t.same(fs.readdirSync(base), [], 'nothing created')
  t.same(sink.kept(), { dir, started: false, sealedFiles: 0, sealedRecords: 0, unsealed: null })
})

t.test('destroy(err) at once: the error is the one given, nothing made', async (t) => {
  const dir = path.join(tempDir(t), 'out')
  const sink = rollingSink({ dir, compress: 'gzip' })
  const reason = new Error('gave up')
  sink.destroy(reason)
  await t.rejects(closed(sink), reason)
  t.notOk(fs.existsSync(dir))
})

t.test('a pipeline whose source fails at once makes no directory', async (t) => {
  const dir = path.join(tempDir(t), 'out')
  const failure = new Error('no input')
  const source = new Readable({ objectMode: true, read () { this.destroy(failure) } })
  const sink = rollingSink({ dir })
  await t.rejects(pipeline(source, sink), failure)
  // (once() would reject with the error the sink emits, which pipeline has handled.)
  if (!sink.closed) await new Promise((resolve) => sink.once('close', resolve))
  t.notOk(fs.existsSync(dir))
})

t.test('a pipeline whose source cannot open its file: at most the directory, empty', async (t) => {
  // The open's failure and the start's steps both wait for the thread pool: the destroy lands during the start
  // (or, rarely, after it); either way nothing but the empty directory may be left.
  const base = tempDir(t)
  const dir = path.join(base, 'out')
  const sink = rollingSink({ dir })
  await t.rejects(pipeline(fs.createReadStream(path.join(base, 'missing.ndjson')), sink), { code: 'ENOENT' })
  if (!sink.closed) await new Promise((resolve) => sink.once('close', resolve))
  t.same(fs.readdirSync(base).map((name) => [name, fs.readdirSync(path.join(base, name))]), fs.existsSync(dir) ? [['out', []]] : [])
})

t.test('destroy() at once in a directory with a dead writer\'s leftovers: they are left as they are, and the next start recovers them', async (t) => {
  const dir = tempDir(t)
  await leftovers(dir, 2)
  const before = snapshot(dir)
  const sink = rollingSink({ dir })
  const told: RecoveredFile[] = []
  sink.on('recover', (r: RecoveredFile) => told.push(r))
  sink.destroy()
  await closed(sink)
  t.same(snapshot(dir), before, 'every leftover untouched, nothing added')
  t.same([told, sink.recovered], [[], []], 'nothing recovered, nothing told')

  // What the README promises for `recover`: a sink that starts recovers them before it writes.
  const next = rollingSink({ dir, template: 'next-{seq}.shoebox', flushInterval: 0 })
  next.end(rec(100))
  await once(next, 'finish')
  t.equal(next.recovered.length, 2)
  t.same(tempNames(dir), [])
  t.same(readDir(dir).records.map(seqOf), [0, 1, 2, 3, 100])
})

t.test('destroy() once the directory is made: it stays, empty, and the start goes no further', async (t) => {
  // The directory appears when its mkdir is done; the start's next step (looking for leftovers) waits for the
  // thread pool, so a check in the next turn of the event loop lands between the two.
  for (let run = 0; run < 10; run++) {
    const dir = path.join(tempDir(t), 'new')
    const sink = rollingSink({ dir })
    sink.write(rec(0))
    while (!fs.existsSync(dir)) await new Promise((resolve) => setImmediate(resolve))
    sink.destroy()
    await closed(sink)
    t.same(fs.readdirSync(dir), [], `run ${run}: the directory it made, empty`)
    t.equal(sink.kept().started, false, `run ${run}: destroyed before the start was over`)
  }
})

t.test('destroy() while leftovers are recovered: the file at hand is recovered whole, the others stay as they were', async (t) => {
  const dir = tempDir(t)
  const names = await leftovers(dir, 3)
  const before = snapshot(dir)
  const sink = rollingSink({ dir, template: 'next-{seq}.shoebox' })
  const told: RecoveredFile[] = []
  sink.on('recover', (r: RecoveredFile) => {
    told.push(r)
    sink.destroy()
  })
  await closed(sink)
  t.same(told.map((r) => [path.basename(r.temp), r.records, r.bytesDropped, r.damaged]), [[names[0], 2, 0, false]], 'the first file, told once')
  t.same(sink.recovered, told)
  t.same(archiveNames(dir), ['left-0.shoebox'], 'sealed under its final name')
  t.same(readDir(dir).records.map(seqOf), [0, 1])
  const after = snapshot(dir)
  t.same(names.slice(1).map((n) => after[n]), names.slice(1).map((n) => before[n]), 'the other two, byte for byte, under their temporary names')
  t.same(tempNames(dir), names.slice(1))
  t.equal(sink.kept().started, false)

  // The next start recovers the rest.
  const next = rollingSink({ dir, template: 'next-{seq}.shoebox', flushInterval: 0 })
  next.end()
  await once(next, 'finish')
  t.equal(next.recovered.length, 2)
  t.same(readDir(dir).records.map(seqOf), [0, 1, 2, 3, 4, 5])
})
