/**
 * Issue 9, A1: damage in one file of a source. Strict: every record before the
 * damage, in order, then the damage error naming the file and offset, for every
 * kind of consumer. Lenient: every record but the damaged one, the next files
 * too, and the damage reported. stop() always settles.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, CorruptArchiveError, encodeRecords, type ShoeboxRecord } from '../../lib/index.js'
import { consumers } from '../fixtures-read/consumers.js'
import { damagedArchive, type DamagedArchive } from '../fixtures-read/damaged.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-source-failure-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const payloads = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `{"${prefix}":${i}}`)

function dir (name: string, files: Record<string, Buffer>): string {
  const d = path.join(tmp, name)
  fs.mkdirSync(d)
  for (const [file, bytes] of Object.entries(files)) fs.writeFileSync(path.join(d, file), bytes)
  return d
}

const a: DamagedArchive = damagedArchive(payloads('a', 100), 2000)
const b = encodeRecords(payloads('b', 100).map((payload) => ({ payload })))
const K = dir('K', { 'a.shoebox': a.bytes, 'b.shoebox': b })

t.test('the issue repro: damage in the first of two files', async (t) => {
  t.ok(a.index > 0 && a.index < 99, `the damage is inside a record in the middle (record ${a.index})`)
  for (const [kind, consume] of Object.entries(consumers)) {
    t.test(`strict, ${kind}: every record before the damage, then the error naming file and offset`, async (t) => {
      const { payloads: seen, error } = await consume(archiveSource(path.join(K, '*')))
      t.same(seen, payloads('a', 100).slice(0, a.index))
      t.type(error, CorruptArchiveError)
      t.equal((error as CorruptArchiveError).file, path.join(K, 'a.shoebox'))
      t.equal((error as CorruptArchiveError).offset, a.offset, 'the offset of the damaged record')
    })
    t.test(`lenient, ${kind}: every record but the damaged one, and all of the next file`, async (t) => {
      const source = archiveSource(path.join(K, '*'), { mode: 'lenient' })
      const damage: Array<{ path: string, offset: number }> = []
      source.on('corrupt', (info: { path: string, offset: number }) => damage.push({ path: info.path, offset: info.offset }))
      const { payloads: seen, error } = await consume(source)
      t.equal(error, null)
      t.same(seen, [...payloads('a', 100).filter((_, i) => i !== a.index), ...payloads('b', 100)])
      t.same(damage, [{ path: path.join(K, 'a.shoebox'), offset: a.offset }])
    })
  }
})

t.test('a large file whose records wait in the source: none is lost before the error', async (t) => {
  const big = damagedArchive(payloads('x', 5000), 150000)
  const d = dir('big', { 'a.shoebox': big.bytes, 'b.shoebox': b })
  for (const [kind, consume] of Object.entries(consumers)) {
    const { payloads: seen, error } = await consume(archiveSource(path.join(d, '*')))
    t.equal(seen.length, big.index, `${kind}: ${big.index} records`)
    t.same(seen, payloads('x', 5000).slice(0, big.index), `${kind}: in order`)
    t.equal((error as CorruptArchiveError).code, big.code, kind)
  }
})

t.test('damage in the last file, at record 0, and in a gzip file', async (t) => {
  const last = dir('last', { 'a.shoebox': b, 'b.shoebox': a.bytes })
  const first = damagedArchive(payloads('z', 50), 3)
  const zero = dir('zero', { 'a.shoebox': first.bytes, 'b.shoebox': b })
  // gzip: the archive bytes damaged before compression, so the gzip layer is sound.
  const gz = dir('gz', { 'a.shoebox.gz': zlib.gzipSync(a.bytes), 'b.shoebox.gz': zlib.gzipSync(b) })
  const cases: Array<[string, string, string[], string, number]> = [
    ['last file', last, [...payloads('b', 100), ...payloads('a', 100).slice(0, a.index)], 'b.shoebox', a.offset],
    ['record 0', zero, [], 'a.shoebox', 0],
    ['gzip file', gz, payloads('a', 100).slice(0, a.index), 'a.shoebox.gz', a.offset]
  ]
  for (const [name, d, expected, file, offset] of cases) {
    for (const [kind, consume] of Object.entries(consumers)) {
      const { payloads: seen, error } = await consume(archiveSource(path.join(d, '*')))
      t.same(seen, expected, `${name}, ${kind}: the records before the damage`)
      t.match(error, { file: path.join(d, file), offset }, `${name}, ${kind}: the damage`)
    }
  }
  const lenient = archiveSource(path.join(zero, '*'), { mode: 'lenient' })
  const { payloads: seen } = await consumers['for await'](lenient)
  t.same(seen, [...payloads('z', 50).slice(1), ...payloads('b', 100)], 'lenient, record 0: the rest of the file and the next')
})

t.test('stop() settles wherever it is called, and nothing is pushed after it', async (t) => {
  const d = dir('stop', { 'a.shoebox': encodeRecords(payloads('s', 5000).map((payload) => ({ payload }))), 'b.shoebox': b })
  const points = [0, 1, 500, 1023, 1024, 1025, 4999, 5000, 5050, 5100]
  for (const at of points) {
    const source = archiveSource(path.join(d, '*'))
    const seen: string[] = []
    // What was pushed before the stop: seen, waiting in the sink, or in the source's buffer.
    let pushed = 0
    if (at === 0) source.stop()
    const sink: Writable = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write (record: ShoeboxRecord, _encoding, callback) {
        seen.push(record.payload.toString())
        if (seen.length === at) {
          source.stop()
          pushed = seen.length + sink.writableLength - 1 + source.readableLength
        }
        setImmediate(callback)
      }
    })
    await pipeline(source, sink)
    const all = [...payloads('s', 5000), ...payloads('b', 100)]
    t.same(seen, all.slice(0, seen.length), `stop at ${at}: a prefix, in order`)
    if (at > all.length) continue
    t.equal(seen.length, pushed, `stop at ${at}: every record pushed before the stop, none after`)
  }
})

t.test('stop() at the first damage, lenient, settles with a prefix of the records', async (t) => {
  const source = archiveSource(path.join(K, '*'), { mode: 'lenient' })
  source.on('corrupt', () => { source.stop() })
  const { payloads: seen, error } = await consumers['pipeline into a slow Writable'](source)
  t.equal(error, null)
  t.same(seen, payloads('a', 100).filter((_, i) => i !== a.index).slice(0, seen.length))
})

t.test('stop() while following settles, and so does one during a poll wait', async (t) => {
  const d = dir('follow', { 'a.shoebox': b })
  const source = archiveSource(path.join(d, '*'), { follow: true, pollInterval: '1h' })
  const seen: string[] = []
  source.on('data', (record: ShoeboxRecord) => {
    seen.push(record.payload.toString())
    if (seen.length === 100) setTimeout(() => { source.stop() }, 20)
  })
  await new Promise((resolve) => source.once('end', resolve))
  t.same(seen, payloads('b', 100))
})

t.test("a reader's own error with a code, thrown from its 'data' listener, comes out as it was thrown, not as 'cannot read FILE'", async (t) => {
  const records = payloads('r', 5).map((payload) => ({ payload }))
  // A plain file is read whole and decoded in one call; a gzip file is read through a stream.
  const d = dir('reader-throws', { 'a.shoebox': encodeRecords(records), 'b.shoebox.gz': zlib.gzipSync(encodeRecords(records)) })
  for (const file of ['a.shoebox', 'b.shoebox.gz']) {
    for (const code of ['ECONNREFUSED', 'ERR_DB_DOWN']) {
      const source = archiveSource(path.join(d, file))
      const mine = Object.assign(new Error('the database is down'), { code })
      let seen = 0
      source.on('data', () => { if (++seen === 3) throw mine })
      const failed = await new Promise<unknown>((resolve) => { source.on('error', resolve); source.on('end', () => { resolve('ended') }) })
      // It was a SHOEBOX_IO 'cannot read .../a.shoebox: the database is down', blaming the archive.
      t.equal(failed, mine, `${file}, ${code}: the reader's own error`)
    }
  }
})
