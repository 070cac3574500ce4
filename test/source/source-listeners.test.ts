/**
 * archiveSource's own events (`file`, `fileEnd`, `skipped`, `corrupt`) have
 * their listeners awaited, as the rolling sink's are
 * (stream/awaited-listeners.ts). An async `fileEnd` or `file` listener (one
 * that notes a file as read in a database) was still at work on the last
 * file when the stream ended: `await pipeline(source, ...)` resolved first,
 * and a process that exits then lost the note; a rejection after the end was
 * an unhandled rejection. Here: the stream ends after them; a rejection fails
 * it with SHOEBOX_LISTENER_FAILED naming the file (the listener's error its
 * cause), after the records read before it; stop() waits for them too; at
 * most MAX_RUNNING files' listeners run at once (the next file waits).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { archiveSource, encodeRecords, type ShoeboxRecord } from '../../lib/index.js'
import { MAX_RUNNING } from '../../lib/stream/awaited-listeners.js'
import { withoutUnhandled } from '../helpers.js'

/** `files` archives named 1.shoebox, 2.shoebox... of `records` records each ('1:0', '1:1'...). */
function archives (t: Test, files: number, records = 2): { dir: string, names: string[], pattern: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-source-listeners-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const names = Array.from({ length: files }, (_, f) => `${f + 1}.shoebox`)
  for (const [f, name] of names.entries()) {
    fs.writeFileSync(path.join(dir, name), encodeRecords(Array.from({ length: records }, (_, i) => ({ payload: `${f + 1}:${i}` }))))
  }
  return { dir, names, pattern: path.join(dir, '*.shoebox') }
}

function collect (seen: string[]): Writable {
  return new Writable({
    objectMode: true,
    write (record: ShoeboxRecord, _encoding, callback) {
      seen.push(record.payload.toString())
      callback()
    }
  })
}

type Failure = Error & { code?: string, cause?: unknown }

t.test("the pipeline resolves only once a slow async 'fileEnd' listener has noted every file, the last one too", async (t) => {
  const { dir, names, pattern } = archives(t, 3)
  const noted: string[] = []
  const source = archiveSource(pattern)
  source.on('fileEnd', async (event: { name: string, records: number }) => {
    await sleep(50)
    fs.writeFileSync(path.join(dir, `.${event.name}.read`), String(event.records))
    noted.push(event.name)
  })
  const seen: string[] = []
  await pipeline(source, collect(seen))
  t.equal(seen.length, 6, 'every record')
  t.same(noted, names, 'each file noted when the pipeline resolves')
  t.same(names.map((name) => fs.readFileSync(path.join(dir, `.${name}.read`), 'utf8')), ['2', '2', '2'])
})

t.test("so does a slow async 'file' listener of the last file", async (t) => {
  const { names, pattern } = archives(t, 2)
  const noted: string[] = []
  const source = archiveSource(pattern)
  source.on('file', async (event: { name: string }) => {
    await sleep(50)
    noted.push(event.name)
  })
  await pipeline(source, collect([]))
  t.same(noted, names)
})

t.test("a 'fileEnd' listener of the last file that rejects fails the pipeline, naming the file, after every record", async (t) => {
  const { dir, pattern } = archives(t, 2)
  const failure = new Error('the database is locked')
  const seen: string[] = []
  await withoutUnhandled(t, async () => {
    const source = archiveSource(pattern)
    source.on('fileEnd', async (event: { name: string }) => {
      await sleep(30)
      if (event.name === '2.shoebox') throw failure
    })
    const err = await pipeline(source, collect(seen)).then(() => undefined, (e: unknown) => e as Failure)
    t.equal(err?.code, 'SHOEBOX_LISTENER_FAILED')
    t.equal(err?.cause, failure, 'the listener\'s own error is its cause')
    t.equal(err?.message, `'fileEnd' listener failed for ${path.join(dir, '2.shoebox')} (the records read before it are delivered): the database is locked`)
  })
  t.same(seen, ['1:0', '1:1', '2:0', '2:1'], 'every record came first')
})

t.test("a 'file' listener that rejects while files are read stops the read: the records before it, then the error naming its file", async (t) => {
  const { dir, pattern } = archives(t, 3, 500)
  const failure = new Error('could not note the file')
  const seen: string[] = []
  await withoutUnhandled(t, async () => {
    const source = archiveSource(pattern)
    source.on('file', async (event: { name: string }) => {
      if (event.name === '2.shoebox') throw failure
    })
    await t.rejects(pipeline(source, collect(seen)), {
      code: 'SHOEBOX_LISTENER_FAILED',
      cause: failure,
      message: `'file' listener failed for ${path.join(dir, '2.shoebox')} (the records read before it are delivered): could not note the file`
    })
  })
  t.same(seen.slice(0, 500), Array.from({ length: 500 }, (_, i) => `1:${i}`), 'the first file whole')
  t.notOk(seen.some((payload) => payload.startsWith('3:')), 'nothing of the file after it')
})

t.test('a listener that throws fails the stream the same way', async (t) => {
  const { dir, pattern } = archives(t, 2)
  const failure = new Error('no such table: files')
  const source = archiveSource(pattern)
  source.on('file', (event: { name: string }) => { if (event.name === '2.shoebox') throw failure })
  await t.rejects(pipeline(source, collect([])), { code: 'SHOEBOX_LISTENER_FAILED', cause: failure, message: new RegExp(`for ${path.join(dir, '2.shoebox').replace(/[.\\]/g, '\\$&')} `) })
})

t.test("a lenient read's async 'skipped' listener is awaited too", async (t) => {
  const { dir, pattern } = archives(t, 1)
  fs.writeFileSync(path.join(dir, '2.shoebox'), 'not an archive at all, but long enough to be looked at\n')
  const noted: string[] = []
  const source = archiveSource(pattern, { mode: 'lenient' })
  source.on('skipped', async (event: { name: string, reason: string }) => {
    await sleep(50)
    noted.push(`${event.name}: ${event.reason}`)
  })
  await pipeline(source, collect([]))
  t.same(noted, ['2.shoebox: not an archive'])
})

t.test('stop() ends the stream once the listeners at work have settled', async (t) => {
  const { pattern } = archives(t, 2)
  const noted: string[] = []
  const source = archiveSource(pattern)
  source.on('file', async (event: { name: string }) => {
    await sleep(50)
    noted.push(event.name)
  })
  source.once('file', () => { source.stop() })
  await pipeline(source, collect([]))
  t.same(noted, ['1.shoebox'], 'the listener of the file being read when stop() came had finished')
})

t.test(`at most ${MAX_RUNNING} files' listeners run at once: the next file waits; all are awaited`, async (t) => {
  const { names, pattern } = archives(t, MAX_RUNNING + 4)
  let running = 0
  let most = 0
  const done: string[] = []
  const source = archiveSource(pattern)
  source.on('file', async (event: { name: string }) => {
    running++
    most = Math.max(most, running)
    await sleep(30)
    running--
    done.push(event.name)
  })
  const seen: string[] = []
  await pipeline(source, collect(seen))
  t.ok(most <= MAX_RUNNING, `at most ${MAX_RUNNING} at once (saw ${most})`)
  t.same(done.sort(), [...names].sort())
  t.equal(seen.length, names.length * 2, 'every record')
})

t.test("a read that fails (damage, strict) fails the stream only once the listeners of the files before it have settled", async (t) => {
  const { dir, pattern } = archives(t, 1)
  fs.writeFileSync(path.join(dir, '2.shoebox'), 'not an archive at all, but long enough to be looked at\n')
  const noted: string[] = []
  const source = archiveSource(pattern)
  source.on('fileEnd', async (event: { name: string }) => {
    await sleep(100)
    noted.push(event.name)
  })
  const seen: string[] = []
  const err = await pipeline(source, collect(seen)).then(() => undefined, (e: unknown) => e as Failure)
  t.equal(err?.code, 'SHOEBOX_BAD_MAGIC', 'the damage is the error')
  t.same(seen, ['1:0', '1:1'], 'the records before it first')
  t.same(noted, ['1.shoebox'], "the last good file's note is taken when the pipeline rejects (a process exiting then keeps it)")
})

t.test('a listener that rejects after the read failed leaves the read\'s error, and no unhandled rejection', async (t) => {
  const { dir, pattern } = archives(t, 1)
  fs.writeFileSync(path.join(dir, '2.shoebox'), 'not an archive at all, but long enough to be looked at\n')
  await withoutUnhandled(t, async () => {
    const source = archiveSource(pattern)
    source.on('fileEnd', async () => {
      await sleep(50)
      throw new Error('the database is locked')
    })
    await t.rejects(pipeline(source, collect([])), { code: 'SHOEBOX_BAD_MAGIC' })
    await sleep(100)
  })
})
