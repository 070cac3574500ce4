/**
 * archiveSource reads zstd archives (issue 12) as it reads gzip ones: found
 * by their magic bytes, mixed with plain and gzip files in one read; with
 * positions a record names its frame, and `from` such a position opens the
 * file at that frame (a ranged read), giving exactly the records a full read
 * gives after it. Bytes read are counted by the file store, not timed.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, rollingSink, zstdDecompress, type Position, type ShoeboxRecord } from '../../lib/index.js'
import { zstdBlockEnds } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-source-zstd-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const records = (from: number, n: number): Array<{ metadata: Record<string, string>, payload: unknown }> =>
  Array.from({ length: n }, (_, i) => ({ metadata: { n: String(from + i) }, payload: { n: from + i, text: 'zstd ü '.repeat((from + i) % 50) } }))

async function read (pattern: string, options: Parameters<typeof archiveSource>[1] = {}): Promise<{ records: ShoeboxRecord[], bytesRead: number }> {
  const source = archiveSource(pattern, options)
  const out: ShoeboxRecord[] = []
  for await (const record of source) out.push(record as ShoeboxRecord)
  return { records: out, bytesRead: source.stats().downloaded.bytes }
}

const numbers = (rs: ShoeboxRecord[]): number[] => rs.map((r) => Number(r.metadata.n))
const view = (rs: ShoeboxRecord[]): Array<{ n: string, position: Position | undefined, payload: string }> =>
  rs.map((r) => ({ n: r.metadata.n, position: r.position, payload: r.payload.toString() }))

t.test('plain, gzip and zstd files in one read, in order, every record intact', async (t) => {
  const dir = path.join(tmp, 'mixed')
  // One directory per codec keeps the writers' names apart; the glob spans them.
  await pipeline(Readable.from(records(0, 300)), rollingSink({ dir: path.join(dir, 'a'), flushInterval: 0 }))
  await pipeline(Readable.from(records(300, 300)), rollingSink({ dir: path.join(dir, 'b'), gzip: true, blockSize: 4096, flushInterval: 0 }))
  await pipeline(Readable.from(records(600, 300)), rollingSink({ dir: path.join(dir, 'c'), compress: 'zstd', blockSize: 4096, flushInterval: 0 }))
  t.ok(fs.readdirSync(path.join(dir, 'c')).some((n) => n.endsWith('.shoebox.zst')), 'a .shoebox.zst file')
  const { records: got } = await read(path.join(dir, '**/*.shoebox*'))
  t.same(numbers(got), Array.from({ length: 900 }, (_, i) => i))
  t.same(JSON.parse(got[899].payload.toString()), records(899, 1)[0].payload)
})

t.test('from a record in a zstd file: read from its frame on, the same records as a full read', async (t) => {
  const dir = path.join(tmp, 'frames')
  await pipeline(Readable.from(records(0, 2000)), rollingSink({ dir, compress: 'zstd', blockSize: 4096, roll: { records: 1000 }, flushInterval: 0 }))
  const pattern = path.join(dir, '*.zst')
  const full = await read(pattern, { positions: true })
  t.same(numbers(full.records), Array.from({ length: 2000 }, (_, i) => i))
  const files = [...new Set(full.records.map((r) => (r.position as Position).file))]
  t.equal(files.length, 2, 'two files')
  const sizes = new Map(files.map((f) => [f, fs.statSync(path.join(dir, f)).size]))
  const frames = new Set(full.records.map((r) => r.position?.member?.offset))
  t.ok(frames.size > 10, `positions name many frames (${frames.size})`)
  for (const i of [0, 437, 999, 1000, 1998, 1999]) {
    const from = full.records[i].position as Position
    const member = from.member
    if (member === undefined) throw new Error(`record ${i}: no frame in its position`)
    const rest = await read(pattern, { from })
    t.same(view(rest.records), view(full.records.slice(i + 1)), `after record ${i}: exactly the later records, with their positions`)
    const later = files.slice(files.indexOf(from.file) + 1).reduce((n, f) => n + (sizes.get(f) ?? 0), 0)
    t.equal(rest.bytesRead, (sizes.get(from.file) ?? 0) - member.offset + later, `after record ${i}: read from compressed byte ${member.offset} on`)
  }
})

t.test('from a position whose frame offset starts no frame (the file changed since): damage there, naming zstd, not gzip', async (t) => {
  const dir = path.join(tmp, 'moved')
  await pipeline(Readable.from(records(0, 300)), rollingSink({ dir, compress: 'zstd', blockSize: 4096, flushInterval: 0 }))
  const pattern = path.join(dir, '*.zst')
  const full = await read(pattern, { positions: true })
  const from = full.records[200].position as Position
  const member = from.member
  if (member === undefined) throw new Error('record 200: no frame in its position')
  // One byte on from the frame's start: inside it, where no frame begins.
  const moved = { ...from, member: { ...member, offset: member.offset + 1 } }
  await t.rejects(read(pattern, { from: moved }), {
    code: 'SHOEBOX_BAD_COMPRESSION',
    offset: member.offset + 1,
    message: new RegExp(`${from.file}.*no zstd frame starts here`)
  })
})

/** 128 KiB: zstd cuts a frame's content into blocks of this much. */
const BLOCK = 128 * 1024

/** The frames of a zstd file, by the members its records name (each frame a flush block). */
const frameStarts = (rs: ShoeboxRecord[]): number[] => [...new Set(rs.map((r) => r.position?.member?.offset as number))]

/**
 * Records that end within the first `bytes` decompressed bytes of the frame
 * starting at compressed byte `frame`: each ends where the next begins (the
 * last, at `total`, the file's decompressed length).
 */
function recordsWithin (rs: ShoeboxRecord[], frame: number, bytes: number, total: number): number {
  const first = rs.findIndex((r) => r.position?.member?.offset === frame)
  const limit = (rs[first].position as Position).offset + bytes
  let n = first
  while (n < rs.length && (n + 1 < rs.length ? (rs[n + 1].position as Position).offset : total) <= limit) n++
  return n
}

t.test('a damaged last frame in a zstd file: the records of its blocks before the damage arrive, then the error naming the file', async (t) => {
  const dir = path.join(tmp, 'damaged')
  // Flush blocks of 1 MiB (the default): frames of several 128 KiB blocks; two files.
  await pipeline(Readable.from(records(0, 9000)), rollingSink({ dir, compress: 'zstd', roll: { records: 7000 }, flushInterval: 0 }))
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.zst')).sort()
  t.equal(names.length, 2, 'two files')
  const file = path.join(dir, names[0])
  const full = await read(path.join(dir, '*.zst'), { positions: true })
  const mine = full.records.filter((r) => r.position?.file === names[0])
  const frames = frameStarts(mine)
  t.equal(frames.length, 2, 'two frames in the first file')
  const last = frames[frames.length - 1]
  const bytes = fs.readFileSync(file)
  const total = Buffer.concat(await zstdDecompress().end(bytes).toArray() as Buffer[]).length
  const ends = zstdBlockEnds(bytes.subarray(last)).map((end) => last + end)
  t.ok(ends.length >= 4, `its last frame has ${ends.length} blocks`)
  bytes[ends[2] + 3] ^= 0xff // the fourth block's first content byte: three blocks still decode
  fs.writeFileSync(file, bytes)
  const want = recordsWithin(mine, last, 3 * BLOCK, total)
  t.ok(want > mine.findIndex((r) => r.position?.member?.offset === last), 'some records of the damaged frame are salvaged')
  t.ok(want < mine.length, 'and some are lost')

  const source = archiveSource(file)
  const got: ShoeboxRecord[] = []
  await t.rejects((async () => { for await (const r of source) got.push(r as ShoeboxRecord) })(), { code: 'SHOEBOX_BAD_COMPRESSION', offset: last, message: new RegExp(`${names[0]}.*\\(3 of ${ends.length} whole blocks\\) were read`) })
  t.same(numbers(got), Array.from({ length: want }, (_, i) => i), `exactly the ${want} records before the damage, in order`)

  const lenient = archiveSource(path.join(dir, '*.zst'), { mode: 'lenient' })
  const corrupt: Array<{ path: string, offset: number, reason: string }> = []
  lenient.on('corrupt', (info: { path: string, offset: number, reason: string }) => corrupt.push(info))
  const all: ShoeboxRecord[] = []
  for await (const r of lenient) all.push(r as ShoeboxRecord)
  t.same(numbers(all), [...Array.from({ length: want }, (_, i) => i), ...Array.from({ length: 2000 }, (_, i) => 7000 + i)], 'lenient: those, then every record of the next file')
  // The frame, skipped by the zstd stage; and the record its salvaged content is cut in, as decode() reports it (truncated).
  t.same(corrupt.filter((c) => c.reason === 'bad-compression').map((c) => [c.path, c.offset]), [[file, last]], 'one corrupt at the frame')
  t.same(corrupt.map((c) => c.reason).sort(), ['bad-compression', 'truncated'], 'and one for the record cut there')
})

/** Put `bytes` at `file` whole: written beside it under a name the pattern does not match, then renamed. */
function place (file: string, bytes: Buffer, old: boolean): void {
  fs.writeFileSync(`${file}.tmp`, bytes)
  // An old mtime: the first state is stable at once; a new one: the change is seen.
  if (old) fs.utimesSync(`${file}.tmp`, new Date(Date.now() - 60000), new Date(Date.now() - 60000))
  fs.renameSync(`${file}.tmp`, file)
}

t.test('following a zstd file that grows frame by frame, torn inside a frame each time: every record once, in order', async (t) => {
  const made = path.join(tmp, 'follow-made')
  await pipeline(Readable.from(records(0, 9000)), rollingSink({ dir: made, compress: 'zstd', flushInterval: 0 }))
  const [name] = fs.readdirSync(made).filter((n) => n.endsWith('.zst'))
  const whole = fs.readFileSync(path.join(made, name))
  const full = await read(path.join(made, name), { positions: true })
  const total = Buffer.concat(await zstdDecompress().end(whole).toArray() as Buffer[]).length
  const frames = frameStarts(full.records)
  t.ok(frames.length >= 2, `${frames.length} frames`)
  // Torn in the first frame's fifth block, then in the second frame's third: what a reader sees while they are written.
  const first = zstdBlockEnds(whole.subarray(frames[0])).map((end) => frames[0] + end)
  const second = zstdBlockEnds(whole.subarray(frames[1])).map((end) => frames[1] + end)
  t.ok(first.length >= 6 && second.length >= 4, `blocks: ${first.length}, ${second.length}`)
  const states = [whole.subarray(0, first[3] + 100), whole.subarray(0, second[1] + 100), whole]
  const counts = [recordsWithin(full.records, frames[0], 4 * BLOCK, total), recordsWithin(full.records, frames[1], 2 * BLOCK, total), 9000]
  t.ok(counts[0] > 0 && counts[0] < counts[1] && counts[1] < 9000, `records in each state: ${counts.join(', ')}`)

  const dir = path.join(tmp, 'follow')
  fs.mkdirSync(dir)
  const file = path.join(dir, name)
  place(file, states[0], true)
  const source = archiveSource(path.join(dir, '*.zst'), { follow: true, pollInterval: 20 })
  const seen: number[] = []
  const error = await new Promise<unknown>((resolve) => {
    source.on('data', (record: ShoeboxRecord) => {
      seen.push(Number(record.metadata.n))
      // Each state delivered (exactly the records of its whole blocks): the file grows.
      if (seen.length === counts[0]) place(file, states[1], false)
      if (seen.length === counts[1]) place(file, states[2], false)
      if (seen.length === 9000) source.stop()
    })
    source.once('end', () => { resolve(null) })
    source.once('error', resolve)
  })
  t.equal(error, null)
  t.same(seen, Array.from({ length: 9000 }, (_, i) => i), 'every record once, in order')
})
