/**
 * destroy() in the middle of writing: the sink stops at once (blocks still
 * queued are not written), closes the file it had open, and leaves that file
 * under its temporary name, where recovery seals the records written to it.
 * Nothing is lost that `flush` reported, nothing appears that it did not:
 * sealed files plus the recovered file hold exactly records 0 .. flushed-1.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { recoverDirectory, rollingSink, type FlushEvent, type RecordInput, type RollingSink, type SealedEvent } from '../../lib/index.js'
import { archiveNames, range, readDir, seqOf, tempDir, tempNames } from '../fixtures-roll/util.js'

function rec (seq: number): RecordInput {
  return { metadata: { k: 'v' }, payload: { seq, pad: 'x'.repeat(seq % 23) } }
}

/** Paths this process has open (Linux: /proc/self/fd). */
function openPaths (): string[] {
  const out: string[] = []
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      out.push(fs.readlinkSync(path.join('/proc/self/fd', fd)))
    } catch {
      // closed between readdir and readlink (the fd of readdir itself)
    }
  }
  return out
}

async function closed (sink: RollingSink): Promise<void> {
  if (sink.closed) return
  await new Promise((resolve) => sink.on('close', resolve))
}

for (const gzip of [false, true]) {
  for (const withError of [false, true]) {
    t.test(`gzip ${String(gzip)}, destroy(${withError ? 'err' : ''}) after some blocks: a recoverable temporary file, nothing open`, async (t) => {
      const dir = tempDir(t)
      // blockSize 1: each record is its own block, so many blocks are queued when destroy() comes.
      const sink = rollingSink({ dir, gzip, blockSize: 1, flushInterval: 0, roll: { records: 25 } })
      const errors: Error[] = []
      sink.on('error', (err: Error) => errors.push(err))
      const sealed: SealedEvent[] = []
      sink.on('sealed', (e: SealedEvent) => sealed.push(e))
      let flushed = 0
      const reason = new Error('producer gave up')
      sink.on('flush', (e: FlushEvent) => {
        flushed = e.totalRecords
        // Mid-file: after two sealed files, part way into the third.
        if (flushed === 60) sink.destroy(withError ? reason : undefined)
      })
      for (const i of range(400)) sink.write(rec(i))
      await closed(sink)
      t.same(errors, withError ? [reason] : [], withError ? 'the error given' : 'a plain destroy() is not an error')
      t.ok(flushed >= 60 && flushed < 400, `stopped part way (${flushed} of 400 records flushed)`)
      t.equal(sink.flushedRecords, flushed)
      t.equal(sealed.length, 2, 'the two full files stay sealed')
      const temps = tempNames(dir)
      t.equal(temps.length, 1, 'the file being written is left under its temporary name')
      t.same(openPaths().filter((p) => p.startsWith(fs.realpathSync(dir))), [], 'no file in the directory left open')
      t.same(sink.kept(), { dir, started: true, sealedFiles: 2, sealedRecords: 50, unsealed: { path: path.join(dir, temps[0]), records: flushed - 50, inPart: 0 } })
      // This process is the temporary file's writer, and alive: recovery must be forced.
      const recovered = await recoverDirectory(dir, { force: true })
      t.same(recovered.map((r) => [r.records, r.bytesDropped, r.damaged]), [[flushed - 50, 0, false]], 'recovery seals every flushed record of it, nothing dropped')
      t.same(readDir(dir).records.map(seqOf), range(flushed), 'sealed and recovered files hold records 0 .. flushed-1')
      t.equal(archiveNames(dir).length, 3)
    })
  }
}

t.test('destroy() before any record leaves the directory empty and opens nothing', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, flushInterval: 0 })
  sink.destroy()
  await closed(sink)
  t.same(fs.readdirSync(dir), [])
  t.same(sink.kept().unsealed, null)
})

t.test('destroy() with records buffered but no block written yet: no file, the buffered records are dropped', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, flushInterval: 0 })
  for (const i of range(10)) sink.write(rec(i))
  await new Promise((resolve) => setImmediate(resolve))
  sink.destroy()
  await closed(sink)
  t.same(fs.readdirSync(dir), [], 'no block was cut, so no file was created')
  t.equal(sink.flushedRecords, 0)
})
