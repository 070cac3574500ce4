/**
 * archiveSource() reads a small local file whole (FileStore.getWhole: one
 * read) and decodes a plain one in one call (WholeDecoder), with no stream.
 * The same files read as streams (a FileStore without getWhole, as an S3
 * store is) must give exactly the same: records, positions, events, errors
 * and transfer stats, in both modes, with positions or without.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { archiveSource, encodeRecords, type ArchiveSourceOptions, type RecordInput, type ShoeboxRecord } from '../../lib/index.js'
import { FileStore } from '../../lib/store/file-store.js'
import { threeRecords, threeRecordsSecond } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-whole-file-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const good = threeRecords
const first = threeRecordsSecond

/** Files by name: good ones, damaged ones, one that is no archive, a gzip one (read whole, then decompressed as a stream). */
const files: Record<string, Buffer> = {
  'a-good.shoebox': good,
  'b-empty.shoebox': Buffer.alloc(0),
  'c-truncated.shoebox': good.subarray(0, good.length - 3),
  'd-flipped.shoebox': Buffer.concat([good.subarray(0, first + 20), Buffer.from([good[first + 20] ^ 0xff]), good.subarray(first + 21)]),
  'e-junk-between.shoebox': Buffer.concat([good.subarray(0, first), Buffer.from('junk junk'), good.subarray(first)]),
  'f-not-archive.shoebox': Buffer.from('{"a":1}\n{"b":2}\n'),
  'g-gzip.shoebox.gz': gzipSync(good),
  'h-gzip-cut.shoebox.gz': gzipSync(good).subarray(0, 30)
}
const dir = path.join(tmp, 'files')
fs.mkdirSync(dir)
for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes)

interface Outcome {
  records: unknown[]
  events: unknown[]
  error: unknown
  downloaded: { bytes: number, objects: number }
}

/** Read `pattern` whole; with `streamed`, through a FileStore without getWhole (the streaming path). */
async function read (pattern: string, options: ArchiveSourceOptions, streamed: boolean): Promise<Outcome & { wholeReads: number }> {
  const getWhole = Object.getOwnPropertyDescriptor(FileStore.prototype, 'getWhole') as PropertyDescriptor
  let wholeReads = 0
  Object.defineProperty(FileStore.prototype, 'getWhole', {
    configurable: true,
    value: streamed ? undefined : async function (this: FileStore, ...args: Parameters<FileStore['getWhole']>) { wholeReads++; return await getWhole.value.apply(this, args) }
  })
  try {
    const source = archiveSource(pattern, options)
    const events: unknown[] = []
    for (const name of ['file', 'fileEnd', 'skipped', 'corrupt']) source.on(name, (e: Record<string, unknown>) => { events.push({ event: name, ...e }) })
    const records: unknown[] = []
    let error: unknown
    try {
      for await (const record of source as AsyncIterable<ShoeboxRecord>) records.push({ ...record, payload: record.payload.toString('base64') })
    } catch (err) {
      const e = err as Error & Record<string, unknown>
      error = { name: e.name, message: e.message, code: e.code, file: e.file, offset: e.offset, reason: e.reason }
    }
    const { bytes, objects } = source.stats().downloaded
    return { records, events, error, downloaded: { bytes, objects }, wholeReads }
  } finally {
    Object.defineProperty(FileStore.prototype, 'getWhole', getWhole)
  }
}

for (const name of Object.keys(files)) {
  t.test(`${name}: read whole and decoded in one call, as read as a stream`, async (t) => {
    for (const mode of ['strict', 'lenient'] as const) {
      for (const positions of [false, true]) {
        const pattern = path.join(dir, name)
        const { wholeReads, ...got } = await read(pattern, { mode, positions }, false)
        const { wholeReads: none, ...expected } = await read(pattern, { mode, positions }, true)
        t.equal(wholeReads, 1, `${mode}, positions ${String(positions)}: read whole`)
        t.equal(none, 0, 'the streaming path reads no file whole')
        t.same(got, expected, `${mode}, positions ${String(positions)}`)
      }
    }
  })
}

t.test('all the files in one read: every file read whole, the same records, events and stats as streams', async (t) => {
  for (const positions of [false, true]) {
    const pattern = path.join(dir, '*')
    const { wholeReads, ...got } = await read(pattern, { mode: 'lenient', positions }, false)
    const { wholeReads: none, ...expected } = await read(pattern, { mode: 'lenient', positions }, true)
    t.equal(wholeReads, Object.keys(files).length)
    t.equal(none, 0)
    t.same(got, expected, `positions ${String(positions)}`)
    t.ok(got.records.length >= 9, 'records of several files')
  }
})

t.test('a strict read of a damaged file fails naming the file and the byte, after its good records', async (t) => {
  const { records, error } = await read(path.join(dir, 'd-flipped.shoebox'), {}, false)
  t.equal(records.length, 1)
  t.match(error, { code: 'SHOEBOX_BAD_HEADER', file: path.join(dir, 'd-flipped.shoebox'), offset: first })
})

t.test('under backpressure: a reader taking one record at a time gets every record of many files read whole, in order', async (t) => {
  const many = path.join(tmp, 'many')
  fs.mkdirSync(many)
  // 3,000 records in 30 files: more than the source's buffer (1,024 records) holds, so reading waits for room.
  for (let f = 0; f < 30; f++) {
    fs.writeFileSync(path.join(many, `f${String(f).padStart(2, '0')}.shoebox`), encodeRecords(Array.from({ length: 100 }, (_, i) => ({ metadata: {}, payload: String(f * 100 + i) }))))
  }
  const source = archiveSource(path.join(many, '*.shoebox'))
  const seen: string[] = []
  for await (const record of source as AsyncIterable<ShoeboxRecord>) {
    seen.push(record.payload.toString())
    if (seen.length % 500 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  t.same(seen, Array.from({ length: 3000 }, (_, i) => String(i)))
})

t.test('a file listed small and grown since is read as a stream, to its end, never held whole', async (t) => {
  const grow = path.join(tmp, 'grow')
  fs.mkdirSync(grow)
  const record = (n: number): RecordInput => ({ metadata: { n: String(n) }, payload: `record ${n}` })
  for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(grow, `f${String(i).padStart(2, '0')}.shoebox`), encodeRecords([record(i)]))
  // What getWhole gave for each file: its bytes (read whole), or a stream.
  const gave = new Map<string, string>()
  const getWhole = Object.getOwnPropertyDescriptor(FileStore.prototype, 'getWhole') as PropertyDescriptor
  Object.defineProperty(FileStore.prototype, 'getWhole', {
    configurable: true,
    value: async function (this: FileStore, key: string, options: { size: number }) {
      const got = await getWhole.value.call(this, key, options) as unknown
      gave.set(key, got instanceof Readable ? 'stream' : 'whole')
      return got
    }
  })
  t.teardown(() => { Object.defineProperty(FileStore.prototype, 'getWhole', getWhole) })
  const source = archiveSource(path.join(grow, '*.shoebox'))
  // Once the listing is done and the first file is under way (the next 4 are opened ahead), the last file grows
  // from its listed ~40 bytes to ~4 MB.
  // Encoded in one call (the same bytes as a call per record, which took over a minute: see encodeRecords()).
  const more = encodeRecords(Array.from({ length: 100_000 }, (_, k) => record(1000 + k)))
  source.once('file', () => { fs.appendFileSync(path.join(grow, 'f11.shoebox'), more) })
  const seen: string[] = []
  for await (const record of source as AsyncIterable<ShoeboxRecord>) seen.push(record.metadata.n as string)
  t.equal(seen.length, 12 + 100_000, 'every record, those appended since the listing too')
  t.same(seen.slice(0, 12), Array.from({ length: 12 }, (_, i) => String(i)))
  t.equal(seen[seen.length - 1], String(1000 + 99_999))
  t.equal(gave.get('f11.shoebox'), 'stream', 'the grown file: a stream')
  t.equal(gave.get('f10.shoebox'), 'whole', 'the others: read whole')
})
