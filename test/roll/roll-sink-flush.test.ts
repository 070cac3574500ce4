/**
 * The `flush` event promises that the block's records are in the file (have
 * reached the OS) when it fires. Each listener here reads the temporary file
 * synchronously, inside the event, and decodes it: it must hold whole blocks
 * only, starting with exactly the records flushed into it so far, and at
 * least the bytes the events reported. (Blocks queued while a write is out go
 * together in the next write, and are flushed one by one once it is back, so
 * the file may already hold the next few.) A `flush` emitted before the block
 * is written fails this at once, not only sometimes (as the kill test would).
 */
import fs from 'node:fs'
import t from 'tap'
import { rollingSink, type FlushEvent, type RecordInput, type SealedEvent } from '../../lib/index.js'
import { decodeBytes, range, readDir, seqOf, tempDir, writeAll } from '../fixtures-roll/util.js'

function rec (seq: number): RecordInput {
  return { metadata: { k: 'v' }, payload: { seq, pad: 'x'.repeat(seq % 17) } }
}

for (const gzip of [false, true]) {
  for (const fsync of ['never', 'always'] as const) {
    t.test(`gzip ${String(gzip)}, fsync ${fsync}: at each flush event the file holds every record flushed into it`, async (t) => {
      const dir = tempDir(t)
      // Small blocks: many flushes per file, and files rolling between them.
      const sink = rollingSink({ dir, gzip, fsync, blockSize: 300, flushInterval: 0, roll: { records: 40 } })
      const perFile = new Map<string, { records: number, bytes: number, first: number }>()
      const wrong: string[] = []
      let flushes = 0
      let next = 0
      sink.on('flush', (e: FlushEvent) => {
        flushes++
        const file = perFile.get(e.path) ?? { records: 0, bytes: 0, first: next }
        file.records += e.records
        file.bytes += e.bytes
        perFile.set(e.path, file)
        next += e.records
        const data = fs.readFileSync(e.path)
        let seqs: number[]
        try {
          seqs = decodeBytes(data).map((d) => seqOf(d.record))
        } catch (err) {
          wrong.push(`flush ${flushes}: ${e.path} does not decode: ${(err as Error).message}`)
          return
        }
        if (data.length < file.bytes) wrong.push(`flush ${flushes}: ${data.length} bytes in the file, ${file.bytes} reported`)
        // The records flushed, then perhaps the next ones (written with them, flushed next): never fewer, never a gap.
        const expected = range(Math.max(seqs.length, file.records), file.first)
        if (seqs.length < file.records || JSON.stringify(seqs) !== JSON.stringify(expected)) wrong.push(`flush ${flushes}: the file holds ${seqs.length} records, ${file.records} were flushed into it`)
        if (e.totalRecords !== next || sink.flushedRecords !== next) wrong.push(`flush ${flushes}: totalRecords ${e.totalRecords}, flushedRecords ${sink.flushedRecords}, expected ${next}`)
      })
      const sealed: SealedEvent[] = []
      sink.on('sealed', (e: SealedEvent) => sealed.push(e))
      await writeAll(sink, range(400).map(rec))
      t.same(wrong, [], 'every flush event saw its records in the file')
      t.same(sealed.map((e) => e.bytes), [...perFile.values()].map((f) => f.bytes), 'each sealed file is the bytes its flushes reported')
      t.ok(flushes > 2 * sealed.length, `several flushes per file (${flushes} flushes, ${sealed.length} files)`)
      t.equal(sealed.length, 10)
      t.same(readDir(dir).records.map(seqOf), range(400))
    })
  }
}
