/**
 * destroy() in the middle of writing: the sink writes out every record it
 * took (the blocks queued and what it still held), seals the file it was
 * writing, and closes it before the destroy completes. Nothing is lost that
 * it took, nothing appears that it was not given, and no file is left open
 * or under a temporary name. (It used to stop at once and leave the file for
 * recovery, dropping the records no flush had written.)
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { rollingSink, type FlushEvent, type RecordInput, type RollingSink, type SealedEvent } from '../../lib/index.js'
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
    t.test(`gzip ${String(gzip)}, destroy(${withError ? 'err' : ''}) after some blocks: every record taken sealed, nothing open`, async (t) => {
      const dir = tempDir(t)
      // blockSize 1: each record is its own block, so many blocks are queued when destroy() comes.
      const sink = rollingSink({ dir, gzip, blockSize: 1, flushInterval: 0, roll: { records: 25 } })
      const errors: Error[] = []
      sink.on('error', (err: Error) => errors.push(err))
      const sealed: SealedEvent[] = []
      sink.on('sealed', (e: SealedEvent) => sealed.push(e))
      let flushed = 0
      let destroyedAt = 0
      const reason = new Error('producer gave up')
      sink.on('flush', (e: FlushEvent) => {
        flushed = e.totalRecords
        // Mid-file: after two sealed files, part way into the third.
        if (flushed === 60) {
          destroyedAt = sealed.length
          sink.destroy(withError ? reason : undefined)
        }
      })
      for (const i of range(400)) sink.write(rec(i))
      await closed(sink)
      t.same(errors, withError ? [reason] : [], withError ? 'the error given' : 'a plain destroy() is not an error')
      t.equal(destroyedAt, 2, 'destroyed part way into the third file')
      const kept = sink.kept()
      t.ok(kept.sealedRecords >= 60, `the records taken are written out (${kept.sealedRecords} of 400)`)
      t.equal(sink.flushedRecords, kept.sealedRecords, 'every record written is in a sealed file')
      t.same(readDir(dir).records.map(seqOf), range(kept.sealedRecords), 'the sealed files hold records 0 .. taken-1')
      t.same(tempNames(dir), [], 'no temporary file left')
      t.equal(kept.unsealed, null)
      t.same(openPaths().filter((p) => p.startsWith(fs.realpathSync(dir))), [], 'no file in the directory left open')
      t.equal(archiveNames(dir).length, sealed.length)
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

t.test('destroy() with records taken but no block written yet: they are written and sealed before it completes', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, flushInterval: 0 })
  await sink.started()
  for (const i of range(10)) sink.write(rec(i))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(sink.flushedRecords, 0, 'no block was cut yet')
  sink.destroy()
  await closed(sink)
  t.same(readDir(dir).records.map(seqOf), range(10), 'one sealed file of the 10 records')
  t.same(tempNames(dir), [])
})
