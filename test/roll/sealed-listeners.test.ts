/**
 * The rolling sink awaits its 'sealed' and 'upload' listeners (the README's
 * callbacks: rename, move, delete, upload). `await pipeline(src, sink)`
 * resolved while the last file's listener was still at work, so the code
 * after it saw the file under its old name; a listener that rejected after
 * `finish` was an unhandled rejection that ended the process; and nothing
 * bounded how many listeners ran at once. Here: the pipeline resolves after
 * the work; a throw or a rejection (last file, middle file, while records
 * still come) fails the pipeline with SHOEBOX_LISTENER_FAILED naming the
 * file, its cause the listener's error, and every record the sink took is in
 * a sealed file that stays; once() is called once and awaited; at most
 * MAX_RUNNING files' listeners run at once; destroy() while they run closes
 * the sink; the uploader still ships each file once; 'upload' and 'recover'
 * listeners are awaited the same way.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { encodeRecords, rollingSink, type RecordInput, type RecoveredFile, type SealedEvent, type UploadEvent } from '../../lib/index.js'
import { MAX_RUNNING } from '../../lib/stream/awaited-listeners.js'
import { hostName, tempName } from '../../lib/roll/names.js'
import { deadPid } from '../fixtures-roll/util.js'
import { decodeRecords, withoutUnhandled } from '../helpers.js'
import { tempDir } from '../temp-dir.js'

const records = (n: number): RecordInput[] => Array.from({ length: n }, (_, i) => ({ payload: `r${i}` }))

/** Every file in `dir` (sealed names: no dotfiles), in name order. */
const sealedNames = (dir: string): string[] => fs.readdirSync(dir).filter((name) => !name.startsWith('.')).sort()

/** Temporary files left in `dir` (writers' files being written). */
const tempNames = (dir: string): string[] => fs.readdirSync(dir).filter((name) => name.startsWith('.') && name.endsWith('.part'))

/** The payloads of every sealed file in `dir`, in name (= write) order. */
async function sealedPayloads (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const name of sealedNames(dir)) {
    for (const record of await decodeRecords(fs.readFileSync(path.join(dir, name)))) out.push(record.payload.toString())
  }
  return out
}

t.test('the pipeline resolves only once a slow async listener has renamed each file', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, roll: { records: 2 } })
  sink.on('sealed', async ({ path: file }: SealedEvent) => {
    await sleep(50)
    await fs.promises.rename(file, file + '.done')
  })
  await pipeline(Readable.from(records(5)), sink)
  const names = sealedNames(dir)
  t.equal(names.length, 3, 'three files (a roll every 2 records)')
  t.ok(names.every((name) => name.endsWith('.shoebox.done')), 'each renamed when pipeline resolves, the last one too')
})

t.test("a rejection in the last file's listener fails the pipeline with it, naming the file; every record is sealed", async (t) => {
  const dir = tempDir(t)
  const failure = new Error('outbox is full')
  let calls = 0
  await withoutUnhandled(t, async () => {
    const sink = rollingSink({ dir, roll: { records: 2 } })
    sink.on('sealed', async ({ path: file }: SealedEvent) => {
      calls++
      await sleep(20)
      if (file.endsWith('000002.shoebox')) throw failure
    })
    const err = await pipeline(Readable.from(records(5)), sink).then(() => null, (e: unknown) => e as Error & { code?: string, cause?: unknown })
    t.equal(err?.code, 'SHOEBOX_LISTENER_FAILED')
    t.equal(err?.cause, failure, 'the listener\'s own error is its cause')
    const last = path.join(dir, sealedNames(dir)[2])
    t.equal(err?.message, `'sealed' listener failed for ${last} (the file is sealed and kept): outbox is full`)
  })
  t.equal(calls, 3)
  t.same(await sealedPayloads(dir), records(5).map((r) => r.payload), 'every record is in a sealed file, which stays')
  t.same(tempNames(dir), [])
})

t.test("a rejection in a middle file's listener fails the pipeline with it; every record is sealed", async (t) => {
  const dir = tempDir(t)
  const failure = new Error('cannot move')
  await withoutUnhandled(t, async () => {
    const sink = rollingSink({ dir, roll: { records: 2 } })
    sink.on('sealed', async ({ path: file }: SealedEvent) => {
      await sleep(file.endsWith('000001.shoebox') ? 30 : 5)
      if (file.endsWith('000001.shoebox')) throw failure
    })
    await t.rejects(pipeline(Readable.from(records(9)), sink), { code: 'SHOEBOX_LISTENER_FAILED', cause: failure, message: /000001\.shoebox \(the file is sealed and kept\): cannot move$/ })
  })
  t.equal(sealedNames(dir).length, 5)
  t.same(await sealedPayloads(dir), records(9).map((r) => r.payload), 'every record is in a sealed file, which stays')
})

t.test('a rejection while records still come: the sink takes no more, seals what it took, and fails with it', async (t) => {
  const dir = tempDir(t)
  const failure = new Error('cannot move')
  let given = 0
  await withoutUnhandled(t, async () => {
    const sink = rollingSink({ dir, roll: { records: 2 } })
    sink.on('sealed', async ({ path: file }: SealedEvent) => {
      if (file.endsWith('000000.shoebox')) { await sleep(20); throw failure }
    })
    // Records without end, a few at a time: the source never ends by itself.
    async function * endless (): AsyncGenerator<RecordInput> {
      for (;;) {
        yield { payload: `r${given++}` }
        if (given % 3 === 0) await sleep(2)
      }
    }
    await t.rejects(pipeline(endless, sink), { code: 'SHOEBOX_LISTENER_FAILED', cause: failure })
    if (!sink.closed) await new Promise((resolve) => { sink.once('close', resolve) })
  })
  const payloads = await sealedPayloads(dir)
  t.ok(payloads.length >= 2, `${payloads.length} records sealed`)
  t.same(payloads, Array.from({ length: payloads.length }, (_, i) => `r${i}`), 'the records it took, in order, none missing')
  t.same(tempNames(dir), [], 'nothing left unsealed: the file being written was sealed')
})

t.test('a sync listener that throws fails the sink with it, naming the file; the listeners after it are not called', async (t) => {
  const dir = tempDir(t)
  const failure = new Error('sync boom')
  const seen: string[] = []
  const sink = rollingSink({ dir, roll: { records: 2 } })
  sink.on('sealed', ({ path: file }: SealedEvent) => {
    seen.push(path.basename(file))
    if (file.endsWith('000000.shoebox')) throw failure
  })
  let after = 0
  sink.on('sealed', () => { after++ })
  await t.rejects(pipeline(Readable.from(records(3)), sink), { code: 'SHOEBOX_LISTENER_FAILED', cause: failure, message: /000000\.shoebox \(the file is sealed and kept\): sync boom$/ })
  t.equal(seen.length, 2, 'the file being written is sealed too, and its listeners told')
  t.equal(after, 1, 'the second listener is not called for the file whose first listener threw')
  t.same(await sealedPayloads(dir), ['r0', 'r1', 'r2'])
})

t.test('once(): called for the first file only, and awaited', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, roll: { records: 1 } })
  let calls = 0
  sink.once('sealed', async function (this: unknown, { path: file }: SealedEvent) {
    calls++
    t.equal(this, sink, 'called with the sink as `this`, as emit() does')
    await sleep(50)
    await fs.promises.rename(file, file + '.first')
  })
  await pipeline(Readable.from(records(1)), sink)
  t.equal(calls, 1)
  t.same(sealedNames(dir).map((name) => name.endsWith('.first')), [true], 'renamed when pipeline resolves')
  t.equal(sink.listenerCount('sealed'), 0, 'removed once called')

  const dir2 = tempDir(t)
  const sink2 = rollingSink({ dir: dir2, roll: { records: 1 } })
  let calls2 = 0
  sink2.once('sealed', () => { calls2++ })
  await pipeline(Readable.from(records(3)), sink2)
  t.equal(calls2, 1, 'once for three files')
})

t.test(`many files with slow listeners: at most ${MAX_RUNNING} files' listeners at work at once`, async (t) => {
  const dir = tempDir(t)
  // No fsync: seals come faster than the listeners finish.
  const sink = rollingSink({ dir, roll: { records: 1 }, fsync: 'never' })
  let running = 0
  let most = 0
  let done = 0
  sink.on('sealed', async () => {
    running++
    most = Math.max(most, running)
    await sleep(30)
    running--
    done++
  })
  await pipeline(Readable.from(records(30)), sink)
  t.equal(done, 30, 'every listener has finished when pipeline resolves')
  t.ok(most <= MAX_RUNNING, `bounded: at most ${most} at once`)
  t.equal(sealedNames(dir).length, 30)
})

t.test('destroy() while listeners run: the sink closes at once, and one that rejects later is no unhandled rejection', async (t) => {
  const dir = tempDir(t)
  await withoutUnhandled(t, async () => {
    const sink = rollingSink({ dir, roll: { records: 1 } })
    const blocked: Array<(err: Error) => void> = []
    sink.on('sealed', async () => {
      await new Promise((_resolve, reject) => { blocked.push(reject) })
    })
    const done = pipeline(Readable.from(records(20)), sink)
    done.catch(() => {})
    while (blocked.length < MAX_RUNNING) await sleep(5)
    // The chain now waits for room: nothing more is sealed until a listener is done.
    await sleep(50)
    t.equal(blocked.length, MAX_RUNNING, 'no more files sealed while the listeners are at work')
    const closed = new Promise((resolve) => { sink.once('close', resolve) })
    sink.destroy(new Error('stop'))
    await closed
    await t.rejects(done, /stop/)
    for (const reject of blocked) reject(new Error('too late'))
  })
  // The destroy wrote out the records the sink had taken (one a file) and sealed them; their listeners were not waited for.
  t.ok(sealedNames(dir).length > MAX_RUNNING, 'the records taken are sealed')
  t.same(fs.readdirSync(dir).filter((name) => name.endsWith('.part')), [], 'no temporary file left')
})

t.test("with upload: each file is shipped once, and the 'upload' listeners are awaited", async (t) => {
  const dir = tempDir(t)
  const to = tempDir(t)
  const sink = rollingSink({ dir, roll: { records: 2 }, flushInterval: 0, upload: { to, early: false } })
  const sealed: string[] = []
  const noted: string[] = []
  sink.on('sealed', async ({ path: file }: SealedEvent) => {
    await sleep(20)
    sealed.push(path.basename(file))
  })
  sink.on('upload', async ({ key }: UploadEvent) => {
    await sleep(30)
    noted.push(key)
  })
  let uploads = 0
  sink.on('upload', () => { uploads++ })
  await pipeline(Readable.from(records(5)), sink)
  t.equal(sealed.length, 3)
  t.equal(uploads, 3, 'one upload a file')
  t.same([...noted].sort(), [...sealed].sort(), "each 'upload' listener finished when pipeline resolves")
  t.same(sealedNames(to), [...sealed].sort(), 'the store has each file')
})

t.test("with upload: an 'upload' listener that rejects fails the sink, naming the file and its key", async (t) => {
  const dir = tempDir(t)
  const to = tempDir(t)
  const failure = new Error('cannot note the upload')
  await withoutUnhandled(t, async () => {
    const sink = rollingSink({ dir, flushInterval: 0, upload: { to, early: false } })
    sink.on('upload', async () => { await sleep(20); throw failure })
    const err = await pipeline(Readable.from(records(3)), sink).then(() => null, (e: unknown) => e as Error & { code?: string, cause?: unknown })
    const name = sealedNames(dir)[0]
    t.equal(err?.code, 'SHOEBOX_LISTENER_FAILED')
    t.equal(err?.cause, failure)
    t.equal(err?.message, `'upload' listener failed for ${path.join(dir, name)} (the file is uploaded as ${name}): cannot note the upload`)
  })
  t.equal(sealedNames(to).length, 1, 'the file is in the store')
})

t.test("'recover' listeners are awaited too (a recovered file is a sealed file); a rejection names the file", async (t) => {
  const leftover = async (dir: string): Promise<void> => {
    fs.writeFileSync(path.join(dir, tempName('a-000000.shoebox', hostName(), await deadPid())), encodeRecords([{ payload: 'left over' }]))
  }
  const dir = tempDir(t)
  await leftover(dir)
  const sink = rollingSink({ dir, template: 'b-{seq}.shoebox', flushInterval: 0 })
  sink.on('recover', async ({ path: file }: RecoveredFile) => {
    await sleep(50)
    await fs.promises.rename(file as string, file + '.moved')
  })
  await pipeline(Readable.from(records(1)), sink)
  t.same(sealedNames(dir), ['a-000000.shoebox.moved', 'b-000000.shoebox'], 'moved when pipeline resolves')

  const dir2 = tempDir(t)
  await leftover(dir2)
  const failure = new Error('cannot alert')
  await withoutUnhandled(t, async () => {
    const sink2 = rollingSink({ dir: dir2, template: 'b-{seq}.shoebox', flushInterval: 0 })
    sink2.on('recover', async () => { await sleep(20); throw failure })
    await t.rejects(pipeline(Readable.from(records(2)), sink2), {
      code: 'SHOEBOX_LISTENER_FAILED',
      cause: failure,
      message: `'recover' listener failed for ${path.join(dir2, 'a-000000.shoebox')} (the file is recovered, sealed and kept): cannot alert`
    })
  })
  t.same(await sealedPayloads(dir2), ['left over', 'r0', 'r1'], 'every record is in a sealed file')
})
