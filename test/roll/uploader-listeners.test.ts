/**
 * A SealedUploader used on its own (README: "does the same for any directory
 * of sealed files") awaits its `upload` listeners as the rolling sink does
 * (awaited-listeners.ts): drain() resolved while an async listener (one that
 * records the upload in a database, moves the file) was still at work, and a
 * rejection was an unhandled rejection, which ends the process. Here: drain()
 * resolves after the work; a rejection or a throw is what drain() resolves
 * with (SHOEBOX_LISTENER_FAILED naming the file, the listener's error its
 * cause), and each file is still uploaded once; at most MAX_RUNNING files'
 * listeners run at once.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { encodeRecords, SealedUploader, type UploadEvent } from '../../lib/index.js'
import { MAX_RUNNING } from '../../lib/stream/awaited-listeners.js'
import { uploadedMarker } from '../../lib/roll/uploader.js'
import { FileStore } from '../../lib/store/file-store.js'
import { withoutUnhandled } from '../helpers.js'

/** A directory of `n` sealed archives (a.shoebox, b.shoebox...) and a file store to upload them to. */
function sealedFiles (t: Test, n: number): { dir: string, store: FileStore, names: string[] } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-uploader-listeners-'))
  t.teardown(() => { fs.rmSync(root, { recursive: true, force: true }) })
  const dir = path.join(root, 'sealed')
  fs.mkdirSync(dir)
  const names = Array.from({ length: n }, (_, i) => `${String.fromCharCode(97 + i)}.shoebox`)
  for (const name of names) fs.writeFileSync(path.join(dir, name), encodeRecords([{ payload: name }]))
  const store = new FileStore(path.join(root, 'bucket'))
  t.teardown(async () => { await store.close() })
  return { dir, store, names }
}

t.test('drain() resolves only once a slow async upload listener has done its work on every file', async (t) => {
  const { dir, store, names } = sealedFiles(t, 3)
  const recorded: string[] = []
  const uploader = new SealedUploader(dir, store)
  uploader.on('upload', async (event: UploadEvent) => {
    await sleep(50)
    recorded.push(event.key)
  })
  await uploader.resume()
  t.equal(await uploader.drain(), undefined, 'no failure')
  t.same(recorded.sort(), names, 'every listener had finished when drain() resolved, the last one too')
  await uploader.close()
})

t.test('a rejecting upload listener: drain() resolves with SHOEBOX_LISTENER_FAILED naming the file; each file is uploaded once', async (t) => {
  const { dir, store, names } = sealedFiles(t, 3)
  const failure = new Error('the database is down')
  const calls: string[] = []
  await withoutUnhandled(t, async () => {
    const uploader = new SealedUploader(dir, store, { concurrency: 1 })
    uploader.on('upload', async (event: UploadEvent) => {
      calls.push(event.key)
      await sleep(10)
      if (event.key === 'b.shoebox') throw failure
    })
    await uploader.resume()
    const err = await uploader.drain() as Error & { code?: string, cause?: unknown } | undefined
    t.equal(err?.code, 'SHOEBOX_LISTENER_FAILED')
    t.equal(err?.cause, failure, 'the listener\'s own error is its cause')
    t.equal(err?.message, `'upload' listener failed for ${path.join(dir, 'b.shoebox')} (the file is uploaded as b.shoebox): the database is down`)
    await uploader.close()
  })
  t.same(calls, names, 'one call per file: the failure stops no upload')
  for (const name of names) {
    t.ok(await store.exists(name), `${name} is uploaded`)
    t.ok(fs.existsSync(uploadedMarker(dir, name)), `${name} is marked uploaded`)
  }
})

t.test('a listener that throws is reported by drain(), and the file is not uploaded again for it', async (t) => {
  const { dir, store } = sealedFiles(t, 1)
  const failure = new Error('no such table: uploads')
  let calls = 0
  let uploadErrors = 0
  const uploader = new SealedUploader(dir, store, { retryDelay: 1 })
  uploader.on('upload', () => {
    calls++
    throw failure
  })
  uploader.on('uploadError', () => { uploadErrors++ })
  await uploader.resume()
  const err = await uploader.drain() as Error & { code?: string, cause?: unknown } | undefined
  t.match(err, { code: 'SHOEBOX_LISTENER_FAILED', cause: failure, message: /'upload' listener failed for .*a\.shoebox/ })
  t.equal(calls, 1, 'the listener is called once: its throw fails no try')
  t.equal(uploadErrors, 0, 'and is no upload error')
  await uploader.close()
})

t.test(`at most ${MAX_RUNNING} files' upload listeners run at once; every file is still uploaded and its listener awaited`, async (t) => {
  const { dir, store, names } = sealedFiles(t, MAX_RUNNING + 4)
  let running = 0
  let most = 0
  const done: string[] = []
  const uploader = new SealedUploader(dir, store, { concurrency: 4 })
  uploader.on('upload', async (event: UploadEvent) => {
    running++
    most = Math.max(most, running)
    await sleep(40)
    running--
    done.push(event.key)
  })
  await uploader.resume()
  t.equal(await uploader.drain(), undefined)
  t.ok(most <= MAX_RUNNING, `at most ${MAX_RUNNING} at once (saw ${most})`)
  t.same(done.sort(), names, 'each listener finished before drain() resolved')
  await uploader.close()
})

t.test('each drain() reports the listener failures since the one before: a later failure is not masked by the first, nor the first repeated', async (t) => {
  const { dir, store } = sealedFiles(t, 1)
  const uploader = new SealedUploader(dir, store)
  uploader.on('upload', async (event: UploadEvent) => {
    await sleep(10)
    if (event.key !== 'b.shoebox') throw new Error(`cannot note ${event.key}`)
  })
  await uploader.resume()
  t.match(await uploader.drain(), { code: 'SHOEBOX_LISTENER_FAILED', message: /a\.shoebox.*: cannot note a\.shoebox$/ })
  for (const name of ['b.shoebox', 'c.shoebox']) fs.writeFileSync(path.join(dir, name), encodeRecords([{ payload: name }]))
  uploader.enqueue(path.join(dir, 'b.shoebox'))
  t.equal(await uploader.drain(), undefined, "b's listener did its work: nothing failed since")
  uploader.enqueue(path.join(dir, 'c.shoebox'))
  t.match(await uploader.drain(), { code: 'SHOEBOX_LISTENER_FAILED', message: /c\.shoebox.*: cannot note c\.shoebox$/ }, "c's failure, not a's again")
  await uploader.close()
})

t.test("an 'upload' event's ms is counted on the monotonic clock: a wall clock stepped back during the upload is no negative time", async (t) => {
  const { dir, store, names } = sealedFiles(t, 2)
  const wallNow = Date.now
  t.teardown(() => { Date.now = wallNow })
  // A wall clock stepped back an hour at each reading: any two readings around an upload are an hour apart, backwards.
  let steps = 0
  Date.now = () => wallNow() - 3_600_000 * steps++
  const events: UploadEvent[] = []
  const uploader = new SealedUploader(dir, store)
  uploader.on('upload', (event: UploadEvent) => { events.push(event) })
  await uploader.resume()
  t.equal(await uploader.drain(), undefined)
  await uploader.close()
  Date.now = wallNow
  t.same(events.map((e) => e.key).sort(), names)
  // It was Date.now() at the end less Date.now() at the start: -3600000 and less.
  t.ok(events.every((e) => Number.isInteger(e.ms) && e.ms >= 0 && e.ms < 3_600_000), `each upload took what it took: ${events.map((e) => e.ms).join(', ')} ms`)
})
