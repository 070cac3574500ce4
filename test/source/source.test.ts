import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import t from 'tap'
import {
  archiveSource, CorruptArchiveError, encodeRecords, naturalCompare,
  type ArchiveSource, type ArchiveSourceOptions, type ListedFile, type Position, type ShoeboxRecord
} from '../../lib/index.js'
import { firstMismatch, readExpected, readManifest, vectorDir, vectorSkip, type PlainRecord } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-source-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

interface SourceEvent { type: string, info: Record<string, unknown> }

interface Collected {
  records: ShoeboxRecord[]
  events: SourceEvent[]
  error: unknown
}

/** Everything a source produces: records, its file events in order, and the error it ended with. */
async function collect (source: ArchiveSource): Promise<Collected> {
  const records: ShoeboxRecord[] = []
  const events: SourceEvent[] = []
  for (const type of ['file', 'fileEnd', 'skipped', 'corrupt']) {
    source.on(type, (info: Record<string, unknown>) => { events.push({ type, info }) })
  }
  let error: unknown
  try {
    for await (const record of source) records.push(record as ShoeboxRecord)
  } catch (err) {
    error = err
  }
  return { records, events, error }
}

function read (pattern: string, options?: ArchiveSourceOptions): Promise<Collected> {
  return collect(archiveSource(pattern, options))
}

/** Record i of the made-up data: ordered metadata and exact payload bytes (some binary). */
function record (i: number): PlainRecord {
  return {
    pairs: [['i', String(i)], ['kind', i % 2 === 0 ? 'even' : 'odd']],
    payload: i % 5 === 4 ? Buffer.from([0, 0xff, i & 0xff, 0x8b, 0x1f]) : Buffer.from(JSON.stringify({ i, text: 'x'.repeat(i) }))
  }
}

function range (from: number, to: number): PlainRecord[] {
  return Array.from({ length: to - from }, (_, k) => record(from + k))
}

function encode (records: PlainRecord[], format: 'v1' | 'v2' = 'v2'): Buffer {
  return encodeRecords(records.map((r) => ({ metadata: r.pairs, payload: r.payload })), { format })
}

interface Part { from: number, to: number, format: 'v1' | 'v2' }

/**
 * Write one archive file from parts (record ranges and formats). gzip: 'one'
 * compresses it as one member, 'members' each part as its own member.
 * Returns where each record is: its index and offset (decompressed).
 */
function writeArchive (dir: string, name: string, parts: Part[], gzip: false | 'one' | 'members' = false): Array<{ index: number, offset: number }> {
  const where: Array<{ index: number, offset: number }> = []
  let offset = 0
  const blocks = parts.map((p) => {
    for (let i = p.from; i < p.to; i++) {
      where.push({ index: i, offset })
      offset += encode([record(i)], p.format).length
    }
    return encode(range(p.from, p.to), p.format)
  })
  const bytes = gzip === 'members'
    ? Buffer.concat(blocks.map((b) => zlib.gzipSync(b)))
    : gzip === 'one' ? zlib.gzipSync(Buffer.concat(blocks)) : Buffer.concat(blocks)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, name), bytes)
  return where
}

function setMtime (file: string, secondsAgo: number): void {
  const when = Date.now() / 1000 - secondsAgo
  fs.utimesSync(file, when, when)
}

const types = (events: SourceEvent[]): string[] => events.map((e) => `${e.type} ${String(e.info.name ?? e.info.file)}`)

t.test('the rolled vectors read back as one stream in write order', { skip: vectorSkip }, async (t) => {
  const rolled = readManifest().vectors.find((v) => v.kind === 'rolled-directory' && v.dir === 'rolled')
  if (rolled?.write_order === undefined) throw new Error('manifest has no rolled directory')
  const order = rolled.write_order
  t.equal(order.length, 7)
  const perFile = order.map((f) => readExpected(`expected/${f.file}.jsonl`))
  const expected = perFile.flat()
  t.equal(expected.length, 10000)

  const pattern = path.join(vectorDir, 'rolled', '*.shoebox')
  const { records, events, error } = await read(pattern, { positions: true })
  t.equal(error, undefined, 'no error')
  t.equal(records.length, rolled.total_records, '10,000 records')
  t.equal(firstMismatch(records, expected), undefined, 'records equal the expected ones, in write order')

  const fileEvents = order.flatMap((f) => {
    const name = path.basename(f.file)
    const full = path.join(vectorDir, f.file)
    return [
      { type: 'file', info: { path: full, name } },
      { type: 'fileEnd', info: { path: full, name, records: f.records } }
    ]
  })
  t.same(events, fileEvents, "'file' and 'fileEnd' for each file, in write order, with its record count")

  const positions = records.map((r) => r.position)
  const expectedPositions = order.flatMap((f, k) => perFile[k].map((e) => ({ file: path.basename(f.file), offset: e.offset })))
  t.same(positions, expectedPositions, 'positions are file names and the offsets the reference decoder found')

  // Resume in the middle of the third file.
  const i = order[0].records + order[1].records + 700
  const rest = await read(pattern, { from: positions[i] })
  t.equal(rest.error, undefined)
  t.equal(rest.records.length, 10000 - i - 1)
  t.equal(firstMismatch(rest.records, expected.slice(i + 1)), undefined, 'resumed exactly after the saved record')
})

t.test('gzip and plain files, v1 and v2 records, as one stream in natural name order', async (t) => {
  const dir = path.join(tmp, 'mixed')
  writeArchive(dir, 'f1.shoebox', [{ from: 0, to: 3, format: 'v2' }])
  writeArchive(dir, 'f2.shoebox.gz', [{ from: 3, to: 6, format: 'v1' }], 'one')
  writeArchive(dir, 'f9.shoebox', [{ from: 6, to: 8, format: 'v1' }, { from: 8, to: 10, format: 'v2' }])
  writeArchive(dir, 'f10.shoebox.gz', [{ from: 10, to: 13, format: 'v2' }, { from: 13, to: 16, format: 'v1' }], 'members')
  writeArchive(dir, 'f11.shoebox', [{ from: 16, to: 18, format: 'v2' }])
  // A writer's temporary file, full of valid records: never read.
  writeArchive(dir, '.f12.shoebox~host~1.part', [{ from: 100, to: 103, format: 'v2' }])
  // mtimes against the name order: they must not matter for the default order.
  const names = ['f1.shoebox', 'f2.shoebox.gz', 'f9.shoebox', 'f10.shoebox.gz', 'f11.shoebox']
  names.forEach((name, k) => { setMtime(path.join(dir, name), 10 * ((k * 3) % 5) + 10) })
  const counts = [3, 3, 4, 6, 2]
  const pattern = path.join(dir, '*')

  const multi = fs.readFileSync(path.join(dir, 'f10.shoebox.gz'))
  t.ok(multi.indexOf(Buffer.from([0x1f, 0x8b, 0x08]), 10) > 0, 'f10 really holds two gzip members')

  t.test('default order: natural by name', async (t) => {
    const { records, events, error } = await read(pattern)
    t.equal(error, undefined)
    t.equal(firstMismatch(records, range(0, 18)), undefined, "all 18 records, in order ('f9' before 'f10')")
    t.same(events, names.flatMap((name, k) => [
      { type: 'file', info: { path: path.join(dir, name), name } },
      { type: 'fileEnd', info: { path: path.join(dir, name), name, records: counts[k] } }
    ]))
    t.notOk(records.some((r) => 'position' in r), 'no positions unless asked')
  })

  t.test("order 'mtime'", async (t) => {
    const ago = [30, 50, 10, 40, 20] // f2 oldest, then f10, f1, f11, f9
    names.forEach((name, k) => { setMtime(path.join(dir, name), ago[k]) })
    const { records, events, error } = await read(pattern, { order: 'mtime' })
    t.equal(error, undefined)
    t.same(types(events).filter((e) => e.startsWith('file ')),
      ['file f2.shoebox.gz', 'file f10.shoebox.gz', 'file f1.shoebox', 'file f11.shoebox', 'file f9.shoebox'])
    t.equal(firstMismatch(records, [...range(3, 6), ...range(10, 16), ...range(0, 3), ...range(16, 18), ...range(6, 10)]), undefined)
  })

  t.test('a custom comparator', async (t) => {
    const seen: ListedFile[] = []
    const reverse = (a: ListedFile, b: ListedFile): number => {
      seen.push(a, b)
      return naturalCompare(b.name, a.name)
    }
    const { records, events, error } = await read(pattern, { order: reverse })
    t.equal(error, undefined)
    t.same(types(events).filter((e) => e.startsWith('file ')),
      ['file f11.shoebox', 'file f10.shoebox.gz', 'file f9.shoebox', 'file f2.shoebox.gz', 'file f1.shoebox'])
    t.equal(firstMismatch(records, [...range(16, 18), ...range(10, 16), ...range(6, 10), ...range(3, 6), ...range(0, 3)]), undefined)
    const f1 = seen.find((f) => f.name === 'f1.shoebox')
    const st = fs.statSync(path.join(dir, 'f1.shoebox'))
    const big = fs.statSync(path.join(dir, 'f1.shoebox'), { bigint: true })
    const etag = `"${[big.ino, big.size, big.mtimeNs, big.ctimeNs].map((n) => n.toString(16)).join('-')}"`
    t.same(f1, { name: 'f1.shoebox', path: path.join(dir, 'f1.shoebox'), size: st.size, mtimeMs: st.mtimeMs, etag },
      'the comparator sees name, path, size, mtimeMs and the file store\'s version tag')
  })

  t.test('a pattern selecting some of the files', async (t) => {
    const { records } = await read(path.join(dir, '*.gz'))
    t.equal(firstMismatch(records, [...range(3, 6), ...range(10, 16)]), undefined)
  })
})

t.test('relative patterns resolve against cwd; the walk stays below the literal prefix', async (t) => {
  const base = path.join(tmp, 'cwd')
  writeArchive(base, 'outside.shoebox', [{ from: 0, to: 1, format: 'v2' }])
  writeArchive(path.join(base, 'sub'), 'a.shoebox', [{ from: 1, to: 3, format: 'v2' }])
  writeArchive(path.join(base, 'sub', 'deep'), 'b.shoebox', [{ from: 3, to: 5, format: 'v1' }])
  writeArchive(path.join(base, 'sub'), 'c.shoebox.gz', [{ from: 5, to: 6, format: 'v2' }], 'one')
  writeArchive(path.join(base, 'subway'), 'x.shoebox', [{ from: 6, to: 7, format: 'v2' }])
  writeArchive(path.join(base, 'other', 'sub'), 'y.shoebox', [{ from: 7, to: 8, format: 'v2' }])

  const source = archiveSource('sub/**/*.shoebox', { cwd: base, positions: true })
  t.same(source.glob, { root: path.join(base, 'sub').split(path.sep).join('/'), pattern: '**/*.shoebox' })
  const { records, events, error } = await collect(source)
  t.equal(error, undefined)
  t.equal(firstMismatch(records, range(1, 5)), undefined, 'only sub/a.shoebox and sub/deep/b.shoebox')
  t.same(types(events), ['file a.shoebox', 'fileEnd a.shoebox', 'file deep/b.shoebox', 'fileEnd deep/b.shoebox'])
  t.same(records.map((r) => r.position?.file), ['a.shoebox', 'a.shoebox', 'deep/b.shoebox', 'deep/b.shoebox'], 'positions name files relative to sub/')

  const other = await read('sub/*.shoebox', { cwd: path.join(base, 'other') })
  t.equal(firstMismatch(other.records, range(7, 8)), undefined, 'a different cwd, a different directory')
  const none = await read('sub/**/*.shoebox', { cwd: path.join(base, 'nowhere'), allowEmpty: true })
  t.same([none.records.length, none.error], [0, undefined])
})

t.test('positions, and resuming after any record', async (t) => {
  const dir = path.join(tmp, 'resume')
  const layout: Array<{ name: string, where: Array<{ index: number, offset: number }> }> = [
    { name: 'r1.shoebox', where: writeArchive(dir, 'r1.shoebox', [{ from: 0, to: 5, format: 'v2' }]) },
    { name: 'r2.shoebox.gz', where: writeArchive(dir, 'r2.shoebox.gz', [{ from: 5, to: 8, format: 'v2' }, { from: 8, to: 11, format: 'v1' }], 'members') },
    { name: 'r3.shoebox', where: writeArchive(dir, 'r3.shoebox', [{ from: 11, to: 13, format: 'v1' }, { from: 13, to: 15, format: 'v2' }]) },
    { name: 'r4.shoebox.gz', where: writeArchive(dir, 'r4.shoebox.gz', [{ from: 15, to: 18, format: 'v2' }], 'one') }
  ]
  const pattern = path.join(dir, '*.shoebox*')
  const all = await read(pattern, { positions: true })
  t.equal(all.error, undefined)
  t.equal(firstMismatch(all.records, range(0, 18)), undefined)
  const positions = all.records.map((r) => r.position as Position)
  // (.gz positions also name their gzip member: see source-members.test.ts.)
  t.same(positions.map(({ file, offset }) => ({ file, offset })), layout.flatMap((f) => f.where.map((w) => ({ file: f.name, offset: w.offset }))),
    'every record has {file, offset}: the byte offset in the file (decompressed for .gz)')

  // Every index: first (0), last (17), the middle of a .gz file (6, 9: second member), the middle of
  // a plain file (2, 12), the last record of each file (4, 10, 14), and all the others.
  for (let i = 0; i < positions.length; i++) {
    const rest = await read(pattern, { from: positions[i] })
    t.equal(rest.error, undefined)
    t.equal(firstMismatch(rest.records, range(i + 1, 18)), undefined, `from record ${i} (${positions[i].file}:${positions[i].offset}): records ${i + 1}..17`)
    t.same(rest.records.map((r) => r.position), positions.slice(i + 1), 'with their positions (from implies positions)')
  }

  t.test('resuming under mtime order', async (t) => {
    const ago: Record<string, number> = { 'r3.shoebox': 40, 'r1.shoebox': 30, 'r4.shoebox.gz': 20, 'r2.shoebox.gz': 10 }
    for (const [name, s] of Object.entries(ago)) setMtime(path.join(dir, name), s)
    const byTime = await read(pattern, { order: 'mtime', positions: true })
    const expected = [...range(11, 15), ...range(0, 5), ...range(15, 18), ...range(5, 11)]
    t.equal(firstMismatch(byTime.records, expected), undefined)
    for (let i = 0; i < byTime.records.length; i++) {
      const from = byTime.records[i].position as Position
      const rest = await read(pattern, { order: 'mtime', from })
      t.equal(firstMismatch(rest.records, expected.slice(i + 1)), undefined, `mtime order, from record ${i} (${from.file}:${from.offset})`)
    }
  })

  t.test('a bad from is refused', async (t) => {
    t.throws(() => archiveSource(pattern, { from: { file: 'r1.shoebox' } as unknown as Position }), { code: 'SHOEBOX_INVALID_OPTION' })
    t.throws(() => archiveSource(pattern, { from: { file: 'r1.shoebox', offset: 1.5 } }), { code: 'SHOEBOX_INVALID_OPTION' })
    t.throws(() => archiveSource(''), { code: 'SHOEBOX_INVALID_OPTION' })
  })

  t.test('an order other than name, mtime or a function is refused, not read as name order', async (t) => {
    for (const order of ['time', 'random', '']) {
      t.throws(() => archiveSource(pattern, { order: order as 'name' }), { code: 'SHOEBOX_INVALID_OPTION', message: `option order: must be 'name', 'mtime' or a function, got ${JSON.stringify(order)}` }, order)
    }
  })

  t.test('a cwd that is not a path is refused naming the option, not with Node\'s TypeError from path.resolve', async (t) => {
    for (const [cwd, shown] of [[5, '5'], [null, 'null'], [new URL('file:///tmp/'), '"file:///tmp/"']] as const) {
      t.throws(() => archiveSource('*.shoebox', { cwd: cwd as unknown as string }), { code: 'SHOEBOX_INVALID_OPTION', option: 'cwd', message: `option cwd: must be a directory path (a string), got ${shown}` }, shown)
    }
  })
})

t.test('follow picks up files that appear later, until destroyed', async (t) => {
  const dir = path.join(tmp, 'follow')
  writeArchive(dir, 'g1.shoebox', [{ from: 0, to: 3, format: 'v2' }])
  writeArchive(dir, 'g2.shoebox.gz', [{ from: 3, to: 5, format: 'v1' }], 'one')
  const source = archiveSource(path.join(dir, '*'), { follow: true, pollInterval: '10ms' })
  const fileEvents: string[] = []
  source.on('file', (e: { name: string }) => { fileEvents.push(e.name) })
  const records: ShoeboxRecord[] = []
  const closed = once(source, 'close')
  await new Promise<void>((resolve, reject) => {
    source.on('error', reject)
    source.on('end', () => { reject(new Error('a following source ended on its own')) })
    source.on('data', (r: ShoeboxRecord) => {
      records.push(r)
      if (records.length === 5) {
        // Let the source poll a few times and find nothing new, then seal a new file
        // the way writers do: a dotfile, visible across several polls and not read
        // while it is one, then renamed into place.
        setTimeout(() => {
          writeArchive(dir, '.g3.shoebox~host~1.part', [{ from: 5, to: 9, format: 'v2' }])
          setTimeout(() => {
            t.same(fileEvents, ['g1.shoebox', 'g2.shoebox.gz'], 'the temporary file is not read')
            fs.renameSync(path.join(dir, '.g3.shoebox~host~1.part'), path.join(dir, 'g3.shoebox'))
          }, 80)
        }, 60)
      }
      if (records.length === 9) resolve()
    })
  })
  t.equal(firstMismatch(records, range(0, 9)), undefined, 'the first files, then the new one')
  t.same(fileEvents, ['g1.shoebox', 'g2.shoebox.gz', 'g3.shoebox'], 'each file read once')
  source.destroy()
  await closed
  t.ok(source.destroyed)
  // Nothing more comes, and no error: a later file is not read after destroy.
  writeArchive(dir, 'g4.shoebox', [{ from: 9, to: 10, format: 'v2' }])
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(records.length, 9)
  t.same(fileEvents, ['g1.shoebox', 'g2.shoebox.gz', 'g3.shoebox'])
})

t.test('destroying a source in the middle of a file stops it', async (t) => {
  const dir = path.join(tmp, 'destroy')
  writeArchive(dir, 'big.shoebox', [{ from: 0, to: 5000, format: 'v2' }])
  writeArchive(dir, 'next.shoebox', [{ from: 5000, to: 5001, format: 'v2' }])
  const source = archiveSource(path.join(dir, '*'))
  const names: string[] = []
  source.on('file', (e: { name: string }) => { names.push(e.name) })
  let n = 0
  for await (const record of source) {
    if (record !== undefined && ++n === 10) break // destroys the source
  }
  t.ok(source.destroyed)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(names, ['big.shoebox'], 'the next file is never opened')
})

t.test('a file that is not an archive', async (t) => {
  const dir = path.join(tmp, 'junk')
  writeArchive(dir, 'a.shoebox', [{ from: 0, to: 3, format: 'v2' }])
  fs.writeFileSync(path.join(dir, 'b.shoebox'), 'these are just some words, not an archive at all\n'.repeat(40))
  writeArchive(dir, 'c.shoebox.gz', [{ from: 3, to: 6, format: 'v1' }], 'one')
  const pattern = path.join(dir, '*')
  const bad = path.join(dir, 'b.shoebox')

  t.test('strict: a CorruptArchiveError naming the file', async (t) => {
    const { records, events, error } = await read(pattern)
    t.equal(firstMismatch(records, range(0, 3)), undefined, 'the records before it')
    t.ok(error instanceof CorruptArchiveError, 'CorruptArchiveError')
    const err = error as CorruptArchiveError
    t.equal(err.code, 'SHOEBOX_BAD_MAGIC')
    t.ok(err.file?.endsWith('b.shoebox'), `err.file names the file (${String(err.file)})`)
    t.equal(err.file, bad)
    t.match(err.message, bad)
    t.equal(err.offset, 0)
    t.same(types(events), ['file a.shoebox', 'fileEnd a.shoebox', 'file b.shoebox'], 'the stream stops there')
  })

  t.test("lenient: a 'skipped' event, the other files' records still come", async (t) => {
    const { records, events, error } = await read(pattern, { mode: 'lenient' })
    t.equal(error, undefined)
    t.equal(firstMismatch(records, range(0, 6)), undefined)
    t.same(types(events), ['file a.shoebox', 'fileEnd a.shoebox', 'file b.shoebox', 'skipped b.shoebox', 'file c.shoebox.gz', 'fileEnd c.shoebox.gz'])
    t.same(events.find((e) => e.type === 'skipped')?.info, { path: bad, name: 'b.shoebox', reason: 'not an archive' })
    t.notOk(events.some((e) => e.type === 'corrupt'), "no 'corrupt' for a file that is not an archive at all")
  })
})

t.test('a damaged archive', async (t) => {
  const dir = path.join(tmp, 'damaged')
  writeArchive(dir, 'a.shoebox', [{ from: 0, to: 2, format: 'v2' }])
  const where = writeArchive(dir, 'b.shoebox', [{ from: 2, to: 6, format: 'v2' }])
  writeArchive(dir, 'c.shoebox', [{ from: 6, to: 8, format: 'v2' }])
  const file = path.join(dir, 'b.shoebox')
  const bytes = fs.readFileSync(file)
  const hit = where[2].offset // record 4
  bytes[hit + 30] ^= 0xff // inside its metadata: the checksum fails
  fs.writeFileSync(file, bytes)
  const pattern = path.join(dir, '*.shoebox')

  t.test("lenient: 'corrupt' with the path; every other record comes through", async (t) => {
    const { records, events, error } = await read(pattern, { mode: 'lenient' })
    t.equal(error, undefined)
    t.equal(firstMismatch(records, [...range(0, 4), ...range(5, 8)]), undefined)
    const corrupt = events.filter((e) => e.type === 'corrupt')
    t.equal(corrupt.length, 1)
    t.match(corrupt[0].info, { path: file, file: 'b.shoebox', offset: hit, reason: 'bad-checksum', bytesSkipped: where[3].offset - hit })
    t.same(types(events), ['file a.shoebox', 'fileEnd a.shoebox', 'file b.shoebox', 'corrupt b.shoebox', 'fileEnd b.shoebox', 'file c.shoebox', 'fileEnd c.shoebox'])
    t.equal(events[4].info.records, 3, 'fileEnd counts the records read')
  })

  t.test('strict: the error names the file and the offset', async (t) => {
    const { records, error } = await read(pattern)
    t.equal(firstMismatch(records, range(0, 4)), undefined)
    t.match(error, { name: 'CorruptArchiveError', code: 'SHOEBOX_BAD_CHECKSUM', file, offset: hit })
  })

  t.test('maxRecordSize is passed on', async (t) => {
    const { records, error } = await read(path.join(dir, 'a.shoebox'), { maxRecordSize: 30 })
    t.equal(records.length, 0)
    t.match(error, { code: 'SHOEBOX_RECORD_TOO_LARGE', file: path.join(dir, 'a.shoebox') })
  })
})

t.test('an empty glob is SHOEBOX_NOT_FOUND; with allowEmpty it yields nothing and ends', async (t) => {
  const dir = path.join(tmp, 'empty')
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'other.txt'), 'x')
  for (const pattern of [path.join(dir, '*.shoebox'), path.join(tmp, 'no-such-dir', '*.shoebox')]) {
    const failed = await collect(archiveSource(pattern))
    t.match(failed, { records: [], events: [], error: { code: 'SHOEBOX_NOT_FOUND', message: `no archive matches ${pattern}` } }, pattern)
    const source = archiveSource(pattern, { allowEmpty: true })
    const ended = once(source, 'end')
    const { records, events, error } = await collect(source)
    await ended
    t.same({ records, events, error }, { records: [], events: [], error: undefined }, pattern)
  }
})
