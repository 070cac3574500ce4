/**
 * A rolling sink destroyed by its pipeline (the source fails, an AbortSignal
 * fires) keeps every record it took: it writes out what it holds, seals the
 * file, and only then completes its destroy, so when `pipeline` rejects every
 * record whose write callback was called is in a sealed file and no
 * temporary file is left (a failing source: Node's pipeline rejects before
 * the sink's destroy completes, and the records are there once it closes). With the default flushInterval (1 s) the records
 * taken since the last block was cut were dropped (100-500 in an ETL run),
 * and the file being written was left unsealed. A disk that fails during
 * that write-out ends it with a typed error naming the file and what is kept.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { decode, encode, rollingSink, ShoeboxError, type RecordInput, type RollingSink, type ShoeboxRecord } from '../../lib/index.js'
import { decompressStages } from '../../lib/compress/codecs.js'
import { feed } from '../../lib/stream/deliver-then-fail.js'
import { archiveNames, range, seqOf, tempDir, tempNames } from '../fixtures-roll/util.js'

function rec (seq: number): RecordInput {
  return { metadata: { k: 'v' }, payload: { seq, pad: 'x'.repeat(seq % 37) } }
}

/** Every record of the sealed files in `dir`, strictly, in name order (gzip or zstd by suffix). */
async function sealedRecords (dir: string): Promise<number[]> {
  const out: number[] = []
  for (const name of archiveNames(dir)) {
    const file = path.join(dir, name)
    const last = feed(fs.createReadStream(file), ...(await decompressStages({ file })), decode({ file }))
    for await (const r of last) out.push(seqOf(r as ShoeboxRecord))
  }
  return out
}

/** Resolves once the sink has closed (its 'error', if any, is the test's to listen for). */
async function closed (sink: RollingSink): Promise<void> {
  if (!sink.closed) await new Promise((resolve) => sink.once('close', resolve))
}

/** The seqs of the records whose write callback the sink called without an error (the records it took). */
function countTaken (sink: RollingSink): Set<number> {
  const taken = new Set<number>()
  const write = sink._write.bind(sink)
  sink._write = (chunk, encoding, callback) => {
    write(chunk, encoding, (err) => {
      if (err == null) taken.add((chunk as { payload: { seq: number } }).payload.seq)
      callback(err)
    })
  }
  return taken
}

/**
 * `n` records, then a failure, as a source that fails part way (an unreadable input, a broken connection). It
 * starts once the sink has: records written before are only buffered by Node's Writable, not taken.
 */
function failingAfter (sink: RollingSink, n: number, failure: Error): Readable {
  return Readable.from((async function * () {
    await sink.started()
    for (let i = 0; i < n; i++) yield rec(i)
    throw failure
  })())
}

for (const compress of ['gzip', 'zstd'] as const) {
  // blockSize 2 KiB: 1 record is inside the first block, 40 and 700 cross several flush boundaries (and a roll).
  for (const n of [1, 40, 700]) {
    t.test(`${compress}: the source fails after ${n} records: every record taken is sealed when the pipeline rejects`, async (t) => {
      const dir = tempDir(t)
      const sink = rollingSink({ dir, compress, blockSize: '2KiB', roll: { records: 500 } })
      const taken = countTaken(sink)
      const errors: Error[] = []
      sink.on('error', (err) => errors.push(err))
      const failure = new Error('source broke')
      await t.rejects(pipeline(failingAfter(sink, n, failure), sink), failure)
      // Node's pipeline() rejects at once when its source fails (it counts the source's error twice), without
      // waiting for the sink's destroy: the records are on disk once the sink has closed.
      await closed(sink)
      t.same(errors, [failure], 'the sink fails with the error it was destroyed with')
      t.ok(taken.size > 0, `the sink took ${taken.size} records`)
      const kept = await sealedRecords(dir)
      t.same(kept, range(kept.length), 'the sealed files hold records 0.. in order')
      t.ok(kept.length >= taken.size && [...taken].every((seq) => seq < kept.length), `each record taken is kept (${kept.length} sealed, ${taken.size} taken)`)
      t.same(tempNames(dir), [], 'no temporary file left')
      t.same(sink.kept().unsealed, null)
      t.equal(sink.kept().sealedRecords, kept.length)
    })
  }

  t.test(`${compress}: an AbortSignal mid-stream: every record taken is sealed when the pipeline rejects`, async (t) => {
    const dir = tempDir(t)
    const sink = rollingSink({ dir, compress, blockSize: '2KiB', fsync: 'always' })
    const taken = countTaken(sink)
    const abort = new AbortController()
    let flushes = 0
    // Mid-stream: some blocks written, and records taken since the last one.
    sink.on('flush', () => { if (++flushes === 3) setImmediate(() => { abort.abort() }) })
    const endless = Readable.from((async function * () {
      for (let i = 0; ; i++) {
        yield rec(i)
        if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
    })())
    // An abort is no source's error: pipeline() waits for the sink's destroy, so the records are on disk when it rejects.
    await t.rejects(pipeline(endless, sink, { signal: abort.signal }), { name: 'AbortError' })
    const kept = await sealedRecords(dir)
    t.ok(taken.size > 0)
    t.same(kept, range(kept.length), 'the sealed file holds records 0.. in order')
    t.ok(kept.length >= taken.size && [...taken].every((seq) => seq < kept.length), `each record taken is kept (${kept.length} sealed, ${taken.size} taken)`)
    t.same(tempNames(dir), [])
    t.equal(archiveNames(dir).length, 1, 'one file, sealed')
  })
}

t.test('encode() between: the encoded bytes the sink took are sealed when the pipeline rejects', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, compress: 'zstd' })
  const failure = new Error('source broke')
  let flushed = 0
  sink.on('flush', () => { flushed++ })
  sink.on('error', () => {})
  // Small chunks: encode() hands on its bytes as each fills (what it holds when destroyed is encode()'s, not the sink's).
  await t.rejects(pipeline(failingAfter(sink, 2000, failure), encode({ chunkSize: 4096 }), sink), failure)
  await closed(sink)
  const kept = await sealedRecords(dir)
  t.equal(flushed, 1, 'the default flushInterval cut no block before the failure: the destroy wrote the one block')
  t.ok(kept.length > 0)
  t.same(kept, range(kept.length))
  t.same(tempNames(dir), [])
})

t.test('a plain destroy() keeps the records taken too, and a second destroy changes nothing', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, compress: 'gzip' })
  await sink.started()
  for (const i of range(10)) sink.write(rec(i))
  await new Promise((resolve) => setImmediate(resolve))
  const errors: Error[] = []
  sink.on('error', (err) => errors.push(err))
  sink.destroy()
  sink.destroy(new Error('again'))
  await closed(sink)
  t.same(errors, [], 'no error: the first destroy had none')
  t.same(await sealedRecords(dir), range(10))
  t.same(tempNames(dir), [])
})

t.test('the disk fills during the write-out: a typed error naming the file and what is kept, no hang', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, blockSize: '1KiB', roll: { records: 20 } })
  const taken = countTaken(sink)
  // A full disk from the destroy on: the first write after it is short, the next fails (as the tests' enospc.ts preload does).
  const probe = await fs.promises.open(dir, 'r')
  type Writev = (this: fs.promises.FileHandle, buffers: Buffer[], position?: number | null) => Promise<{ bytesWritten: number, buffers: Buffer[] }>
  const proto = Object.getPrototypeOf(probe) as { writev: Writev }
  await probe.close()
  const real = proto.writev
  t.teardown(() => { proto.writev = real })
  let full = false
  proto.writev = async function (this: fs.promises.FileHandle, buffers, position) {
    if (!full) return await real.call(this, buffers, position)
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
  }
  const failure = new Error('source broke')
  let sealed = 0
  const twoSealed = new Promise<void>((resolve) => { sink.on('sealed', () => { if (++sealed === 2) resolve() }) })
  const source = Readable.from((async function * () {
    await sink.started()
    for (let i = 0; i < 65; i++) yield rec(i)
    // Two files sealed (records 0-39) before the disk is full; the rest are held, or in the third file.
    await twoSealed
    full = true
    throw failure
  })())
  const errors: Error[] = []
  sink.on('error', (err) => errors.push(err))
  await t.rejects(pipeline(source, sink), failure, 'the pipeline rejects with the first failure, its source\'s')
  await closed(sink)
  t.equal(errors.length, 1)
  const err = errors[0] as ShoeboxError
  const kept = sink.kept()
  t.ok(kept.unsealed !== null, 'the file being written stays, for recovery')
  const temp = kept.unsealed?.path as string
  t.equal(err.code, 'SHOEBOX_IO')
  t.equal(err.message, `cannot write ${temp}: no space left on device (ENOSPC), writing out the records the rolling sink ${dir} had taken when destroy(source broke) came; ` +
    `${kept.sealedRecords} records kept in ${kept.sealedFiles} sealed files; ${kept.unsealed?.records ?? 0} records in ${temp}, left for recovery`)
  t.ok(kept.sealedRecords >= 40 && taken.size >= kept.sealedRecords, `the files sealed before stay (${kept.sealedRecords} records)`)
  t.same(tempNames(dir), [path.basename(temp)])
})

t.test('with upload: the file sealed by the destroy is shipped as any sealed file (now, or by the next start)', async (t) => {
  const dir = tempDir(t)
  const store = tempDir(t)
  const sink = rollingSink({ dir, compress: 'gzip', upload: { to: store } })
  const taken = countTaken(sink)
  sink.on('error', () => {})
  const failure = new Error('source broke')
  await t.rejects(pipeline(failingAfter(sink, 300, failure), sink), failure)
  await closed(sink)
  t.equal(taken.size, 300)
  t.same(await sealedRecords(dir), range(300), 'sealed here')
  // The destroy stopped the uploader: a file not shipped yet stays queued, and the next sink's start ships it.
  const next = rollingSink({ dir, compress: 'gzip', upload: { to: store } })
  await pipeline(Readable.from([]), next)
  t.same(archiveNames(store), archiveNames(dir), 'the store has it, under its name')
  t.same(await sealedRecords(store), range(300), 'with every record taken')
})
