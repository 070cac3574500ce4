/**
 * What archiveSource() reads ahead of a slow reader is bounded in bytes, not
 * only in records: it held up to 1024 records (its highWaterMark), so a
 * reader that stalls over archives of large records (pack()'s files, up to
 * 64 MiB each) had up to 1024 of them in memory (4 MiB records: 633 MB of
 * RSS measured). Now it stops reading once 16 MiB of payloads wait.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { archiveSource, encodeRecords, type ShoeboxRecord } from '../../lib/index.js'

t.test('a stalled reader over records of 1 MiB: at most 16 MiB of them wait, and every record still comes, in order', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-held-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const payload = (i: number): Buffer => Buffer.alloc(1 << 20, i)
  for (let f = 0; f < 4; f++) {
    fs.writeFileSync(path.join(dir, `${f}.shoebox`), encodeRecords(Array.from({ length: 25 }, (_, i) => ({ metadata: { n: String(f * 25 + i) }, payload: payload(f * 25 + i) }))))
  }
  const source = archiveSource(path.join(dir, '*.shoebox'))
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<ShoeboxRecord>
  const first = await iterator.next()
  t.equal(first.value?.metadata.n, '0')
  // The reader stalls: the source reads ahead until it stops for room (its buffer the same at three looks in a row).
  for (let same = 0, last = -1; same < 3;) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    same = source.readableLength === last ? same + 1 : 0
    last = source.readableLength
  }
  t.ok(source.readableLength <= 17, `at most 16 MiB (and the record that passed it) held ahead, got ${source.readableLength} records`)
  t.ok(source.readableLength >= 8, `it still reads ahead, got ${source.readableLength} records`)
  const seen = ['0']
  for (let r = await iterator.next(); r.done !== true; r = await iterator.next()) {
    seen.push(r.value.metadata.n)
    if (r.value.payload[0] !== Number(r.value.metadata.n) % 256) t.fail(`record ${r.value.metadata.n}: wrong payload`)
  }
  t.same(seen, Array.from({ length: 100 }, (_, i) => String(i)), 'all 100, in order')
})

t.test('many tiny files read whole, a reader that takes a record now and then: never more than the highWaterMark and one file waits', async (t) => {
  // Each record read let the next whole file in (read() resumed reading while under 16 MiB, the buffer full or
  // not): a slow reader over files of 40 small records saw the buffer grow by 39 a record read, unbounded in records.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-held-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const perFile = 40
  const files = 100
  for (let f = 0; f < files; f++) {
    fs.writeFileSync(path.join(dir, `${f}.shoebox`), encodeRecords(Array.from({ length: perFile }, (_, i) => ({ metadata: { n: String(f * perFile + i) }, payload: Buffer.from(`p${f * perFile + i}`) }))))
  }
  const source = archiveSource(path.join(dir, '*.shoebox'))
  const seen: string[] = []
  let most = 0
  source.on('readable', function look () { most = Math.max(most, source.readableLength) })
  // A paused reader: one record, then a pause long enough for the source to read all it may.
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, seen.length < 200 ? 5 : 0))
    most = Math.max(most, source.readableLength)
    const record = source.read() as ShoeboxRecord | null
    if (record === null) {
      if (source.readableEnded || seen.length === files * perFile) break
      await new Promise((resolve) => source.once('readable', resolve))
      continue
    }
    seen.push(record.metadata.n)
  }
  t.equal(seen.length, files * perFile, 'every record')
  t.same(seen, Array.from({ length: files * perFile }, (_, i) => String(i)), 'in order')
  t.ok(most <= 1024 + perFile, `at most the highWaterMark (1024) and one file's records waited, got ${most}`)
})
