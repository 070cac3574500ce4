/**
 * Issue 9, defect: a strict read of a gzip file damaged in its last member,
 * consumed slowly, must deliver every record of the good members before the
 * damage error. gunzip() (zlib's createGunzip via Duplex.from) dropped the
 * output zlib had inflated but not yet handed on (up to 16 x 256 KiB) when it
 * failed later in the file: good records lost without a word.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, encodeRecords, type ShoeboxRecord } from '../../lib/index.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-gunzip-slow-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

/** Records that compress well, so a little gzip inflates to a lot of records. */
const member = (from: number, count: number): Buffer => zlib.gzipSync(encodeRecords(Array.from({ length: count }, (_, k) => ({
  metadata: { n: String(from + k) },
  payload: `record ${from + k} ${'abcdefgh'.repeat(100)}`
}))))

const GOOD = 40
const PER_MEMBER = 500
const members = Array.from({ length: GOOD }, (_, m) => member(m * PER_MEMBER, PER_MEMBER))
const last = member(GOOD * PER_MEMBER, PER_MEMBER)
// The last member's deflate data starts with an invalid block type (BTYPE 11): zlib fails at
// its first byte, so exactly the records of the good members come before the error.
last[10] = 0x07
const file = path.join(tmp, 'damaged.shoebox.gz')
fs.writeFileSync(file, Buffer.concat([...members, last]))
const before = GOOD * PER_MEMBER

/** A consumer slower than the reader: it takes one record per turn of the event loop. */
function slowSink (seen: number[]): Writable {
  return new Writable({
    objectMode: true,
    highWaterMark: 1,
    write (record: ShoeboxRecord, _encoding, callback) {
      seen.push(Number(record.metadata.n))
      setImmediate(callback)
    }
  })
}

for (const positions of [false, true]) {
  t.test(`strict, slow consumer, positions ${String(positions)}: every record before the damaged member, then the error`, async (t) => {
    const seen: number[] = []
    const error = await pipeline(archiveSource(file, { positions }), slowSink(seen)).then(() => null, (err: unknown) => err)
    t.match(error, { code: 'SHOEBOX_BAD_COMPRESSION' })
    t.same(seen, Array.from({ length: before }, (_, n) => n), `${seen.length} records: every one of the good members, in order`)
  })
}

t.test('strict, a consumer that stalls now and then: nothing lost while it waits', async (t) => {
  const seen: number[] = []
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 1,
    write (record: ShoeboxRecord, _encoding, callback) {
      seen.push(Number(record.metadata.n))
      // Every 2000th record waits until the source's buffer has filled behind it (or the source is done).
      if (seen.length % 2000 !== 0) {
        callback()
        return
      }
      const wait = (): void => {
        if (source.readableLength >= Math.min(1000, before - seen.length) || source.destroyed || source.readableEnded) callback()
        else setImmediate(wait)
      }
      setImmediate(wait)
    }
  })
  const source = archiveSource(file)
  const error = await pipeline(source, sink).then(() => null, (err: unknown) => err)
  t.match(error, { code: 'SHOEBOX_BAD_COMPRESSION' })
  t.same(seen, Array.from({ length: before }, (_, n) => n), `${seen.length} records: every one of the good members, in order`)
})
