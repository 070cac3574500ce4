/**
 * A lenient archiveSource skips a damaged zstd frame, not the rest of the
 * file (issue 12): the records of every good frame after it are read, one
 * `corrupt` names the frame's compressed offset and its length; positions
 * after it name their own frames. Strict still stops there. Following, a
 * torn last frame is read again when it grows, never skipped as damage.
 * The files are built frame by frame (encodeRecords, zstdFrame), as the
 * rolling sink writes them: each frame starts at a record.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, encodeRecords, rollingSink, type MemberSpan, type Position, type ShoeboxRecord, type SkippedEvent } from '../../lib/index.js'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { damagedZstdArchive, garbleZstdFrame as garble, withoutZstd, zstdBlockEnds } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-source-zstd-lenient-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const record = (n: number, size = n % 60): { metadata: Record<string, string>, payload: Buffer } =>
  ({ metadata: { n: String(n) }, payload: Buffer.from(`zstd ü 📦 ${n} ${'abc'.repeat(size)}`) })

/** A zstd archive of `counts[i]` records in frame i, numbered on from `from`; and each frame's compressed start and length. */
async function framed (counts: number[], size?: number, from = 0): Promise<{ bytes: Buffer, frames: Array<{ start: number, length: number, first: number, count: number }> }> {
  const parts: Buffer[] = []
  const frames = []
  let start = 0
  let first = from
  for (const count of counts) {
    const frame = await zstdFrame(encodeRecords(Array.from({ length: count }, (_, i) => record(first + i, size))), 1)
    parts.push(frame)
    frames.push({ start, length: frame.length, first, count })
    start += frame.length
    first += count
  }
  return { bytes: Buffer.concat(parts), frames }
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i)
const numbers = (rs: ShoeboxRecord[]): number[] => rs.map((r) => Number(r.metadata.n))

interface Corrupt { file: string, path: string, offset: number, bytesSkipped: number, reason: string, detail: string, frame?: MemberSpan }

async function read (pattern: string, options: Parameters<typeof archiveSource>[1] = {}): Promise<{ records: ShoeboxRecord[], corrupt: Corrupt[] }> {
  const source = archiveSource(pattern, options)
  const corrupt: Corrupt[] = []
  source.on('corrupt', (info: Corrupt) => corrupt.push(info))
  const records: ShoeboxRecord[] = []
  for await (const r of source) records.push(r as ShoeboxRecord)
  return { records, corrupt }
}

t.test('5 frames, the third garbled: lenient reads frames 1, 2, 4 and 5, one corrupt at the third; strict stops there', async (t) => {
  const dir = path.join(tmp, 'third')
  fs.mkdirSync(dir)
  const { bytes, frames } = await framed([40, 50, 60, 70, 80])
  garble(bytes, frames[2])
  const file = path.join(dir, 'a.shoebox.zst')
  fs.writeFileSync(file, bytes)

  const lenient = await read(file, { mode: 'lenient', positions: true })
  t.same(numbers(lenient.records), [...range(0, 90), ...range(150, 150)], 'every record of frames 1, 2, 4 and 5')
  t.same(lenient.corrupt.map((c) => ({ file: c.file, path: c.path, offset: c.offset, bytesSkipped: c.bytesSkipped, reason: c.reason })),
    [{ file: 'a.shoebox.zst', path: file, offset: frames[2].start, bytesSkipped: frames[2].length, reason: 'bad-compression' }], 'one corrupt: the third frame, all of it')
  t.match(lenient.corrupt[0].detail, `the frame at compressed byte ${frames[2].start} is damaged`)
  // A record after the skip names its own frame: fetched alone, or resumed from, it is itself.
  const after = lenient.records.filter((r) => Number(r.metadata.n) >= 150)
  t.same([...new Set(after.map((r) => r.position?.member?.offset))], [frames[3].start, frames[4].start], 'their positions name frames 4 and 5')
  const fetched = await read(file, { positions: [after[75].position as Position, after[0].position as Position] })
  t.same(numbers(fetched.records), [225, 150], 'fetched by position: the same records')
  const resumed = await read(file, { mode: 'lenient', from: after[5].position })
  t.same(numbers(resumed.records), range(156, 144), 'from a position after the skip: the records after it')
  t.same(resumed.corrupt, [], 'and no damage on the way')

  const got: ShoeboxRecord[] = []
  await t.rejects((async () => { for await (const r of archiveSource(file)) got.push(r as ShoeboxRecord) })(),
    { code: 'SHOEBOX_BAD_COMPRESSION', offset: frames[2].start, message: /a\.shoebox\.zst/ })
  t.same(numbers(got), range(0, 90), 'strict: the records of frames 1 and 2, then the error')
})

t.test('two damaged frames (2 and 4): frames 1, 3 and 5 read, two corrupts in order', async (t) => {
  const dir = path.join(tmp, 'two')
  fs.mkdirSync(dir)
  const { bytes, frames } = await framed([30, 30, 30, 30, 30])
  garble(bytes, frames[1], 'header')
  garble(bytes, frames[3])
  const file = path.join(dir, 'b.shoebox.zst')
  fs.writeFileSync(file, bytes)
  const { records, corrupt } = await read(path.join(dir, '*.zst'), { mode: 'lenient' })
  t.same(numbers(records), [...range(0, 30), ...range(60, 30), ...range(120, 30)])
  t.same(corrupt.map((c) => [c.path, c.offset, c.bytesSkipped]), [[file, frames[1].start, frames[1].length], [file, frames[3].start, frames[3].length]])
})

t.test('damage in the last frame: the four before it, one corrupt to the end of the file, then the next file', async (t) => {
  const dir = path.join(tmp, 'last')
  fs.mkdirSync(dir)
  const { bytes, frames } = await framed([20, 20, 20, 20, 20])
  garble(bytes, frames[4])
  fs.writeFileSync(path.join(dir, 'a.shoebox.zst'), bytes)
  fs.writeFileSync(path.join(dir, 'b.shoebox'), encodeRecords([record(1000)]))
  const source = archiveSource(path.join(dir, '*'), { mode: 'lenient' })
  const corrupt: Corrupt[] = []
  source.on('corrupt', (info: Corrupt) => corrupt.push(info))
  const ends: Array<{ name: string, records: number }> = []
  source.on('fileEnd', (info: { name: string, records: number }) => ends.push({ name: info.name, records: info.records }))
  const records: ShoeboxRecord[] = []
  for await (const r of source) records.push(r as ShoeboxRecord)
  t.same(numbers(records), [...range(0, 80), 1000])
  t.same(corrupt.map((c) => [c.offset, c.bytesSkipped, c.detail.endsWith('skipped to the end')]), [[frames[4].start, frames[4].length, true]])
  t.equal(frames[4].start + frames[4].length, bytes.length, 'which is the rest of the file')
  // The damaged file was read to its end (its frames walked to the last), not abandoned at the damage.
  t.same(ends, [{ name: 'a.shoebox.zst', records: 80 }, { name: 'b.shoebox', records: 1 }])
})

t.test('a frame over maxFrameSize in the middle: lenient skips exactly it, unread, and reads the frames after it', async (t) => {
  const dir = path.join(tmp, 'too-big')
  fs.mkdirSync(dir)
  // Records of about 1.8 KB: frames 1 and 3 are one block (bounded at 128 KiB at most, by their headers),
  // frame 2 three (bounded at 384 KiB).
  const { bytes, frames } = await framed([20, 200, 20], 600)
  t.equal(zstdBlockEnds(bytes.subarray(frames[1].start)).length, 3)
  const file = path.join(dir, 'e.shoebox.zst')
  fs.writeFileSync(file, bytes)
  const { records, corrupt } = await read(file, { mode: 'lenient', maxFrameSize: 200 * 1024, positions: true })
  t.same(numbers(records), [...range(0, 20), ...range(220, 20)])
  t.same(corrupt.map((c) => [c.path, c.offset, c.bytesSkipped, c.reason]), [[file, frames[1].start, frames[1].length, 'bad-compression']])
  t.match(corrupt[0].detail, /over maxFrameSize 204800/)
  t.same([...new Set(records.slice(20).map((r) => r.position?.member?.offset))], [frames[2].start], 'frame 3\'s records name frame 3')
})

t.test('a damaged frame of several blocks in the middle: its leading whole blocks salvaged, then the frames after it', async (t) => {
  const dir = path.join(tmp, 'salvage')
  fs.mkdirSync(dir)
  // Frame 2: 300 records of about 1.8 KB, compressible: several 128 KiB blocks.
  const big = await framed([10, 300, 10], 600)
  const { bytes, frames } = big
  const ends = zstdBlockEnds(bytes.subarray(frames[1].start)).map((end) => frames[1].start + end)
  t.ok(ends.length >= 4, `the middle frame has ${ends.length} blocks`)
  bytes[ends[1] + 3] ^= 0xff // the third block's first content byte: two blocks still decode
  const file = path.join(dir, 'c.shoebox.zst')
  fs.writeFileSync(file, bytes)
  // The records wholly within the frame's first two blocks (256 KiB of content).
  const sizes = range(10, 300).map((n) => encodeRecords([record(n, 600)]).length)
  let salvaged = 0
  for (let end = sizes[0]; end <= 2 * 128 * 1024; end += sizes[++salvaged]);
  t.ok(salvaged > 0 && salvaged < 300, `${salvaged} records salvaged`)
  const { records, corrupt } = await read(file, { mode: 'lenient', positions: true })
  t.same(numbers(records), [...range(0, 10 + salvaged), ...range(310, 10)], 'frame 1, the salvaged records of frame 2, frame 3')
  t.same(records.slice(10 + salvaged).map((r) => r.position?.member?.offset), Array(10).fill(frames[2].start), 'frame 3\'s records name frame 3')
  const skipped = corrupt.find((c) => c.reason === 'bad-compression')
  t.match(skipped, { path: file, offset: frames[1].start, bytesSkipped: frames[1].length }, 'the frame reported at its offset, all of it skipped')
  t.match(skipped?.detail, /\(2 of \d+ whole blocks\) were read/)
  // The record the salvaged content ends in is cut there (truncated), told apart from the frame's damage.
  t.same(corrupt.map((c) => c.reason).sort(), ['bad-compression', 'truncated'])
})

t.test('plain, gzip and damaged zstd files in one lenient read: every record but the damaged frame\'s, in order', async (t) => {
  const dir = path.join(tmp, 'mixed')
  await pipeline(Readable.from(range(0, 100).map((n) => record(n))), rollingSink({ dir: path.join(dir, 'a'), flushInterval: 0 }))
  await pipeline(Readable.from(range(100, 100).map((n) => record(n))), rollingSink({ dir: path.join(dir, 'b'), gzip: true, blockSize: 1024, flushInterval: 0 }))
  fs.mkdirSync(path.join(dir, 'c'))
  const shifted = await framed([25, 25, 25, 25, 25], undefined, 200)
  garble(shifted.bytes, shifted.frames[2])
  const zfile = path.join(dir, 'c', 'c.shoebox.zst')
  fs.writeFileSync(zfile, shifted.bytes)
  fs.mkdirSync(path.join(dir, 'd'))
  fs.writeFileSync(path.join(dir, 'd', 'd.shoebox'), encodeRecords(range(400, 10).map((n) => record(n))))
  const { records, corrupt } = await read(path.join(dir, '*/*'), { mode: 'lenient' })
  t.same(numbers(records), [...range(0, 250), ...range(275, 50), ...range(400, 10)])
  t.same(corrupt.map((c) => [c.path, c.offset, c.bytesSkipped]), [[zfile, shifted.frames[2].start, shifted.frames[2].length]])
})

t.test('a flipped byte that still decompresses: each stretch its garbage holds names its frame (offset, length, content start)', async (t) => {
  const dir = path.join(tmp, 'garbage')
  fs.mkdirSync(dir)
  const { bytes, frames, damaged } = await damagedZstdArchive()
  const file = path.join(dir, 'g.shoebox.zst')
  fs.writeFileSync(file, bytes)
  const frameOf = (offset: number): number => frames.findIndex((f) => offset >= f.contentStart && offset < f.contentStart + f.contentLength)
  for (const positions of [false, true]) {
    const { records, corrupt } = await read(file, { mode: 'lenient', positions })
    // The damage meant: many stretches, all in the two flipped frames.
    t.ok(corrupt.length > damaged.length, `${corrupt.length} stretches`)
    t.same([...new Set(corrupt.map((c) => frameOf(c.offset)))], damaged, 'in the flipped frames')
    t.same(corrupt.map((c) => c.frame), corrupt.map((c) => {
      const f = frames[frameOf(c.offset)]
      return { offset: f.start, length: f.length, start: f.contentStart }
    }), `positions ${String(positions)}: each names the frame it starts in`)
    if (positions) {
      // The frame lookups share the positions' map: records still name their own frames.
      t.same(records.map((r) => r.position?.member?.offset), records.map((r) => frames[frameOf(r.position?.offset ?? -1)].start), 'positions name their frames')
    }
  }
})

/** Put `bytes` at `file` whole: written beside it under a name the pattern does not match, then renamed. */
function place (file: string, bytes: Buffer, old: boolean): void {
  fs.writeFileSync(`${file}.tmp`, bytes)
  // An old mtime: the first state is stable at once; a new one: the change is seen.
  if (old) fs.utimesSync(`${file}.tmp`, new Date(Date.now() - 60000), new Date(Date.now() - 60000))
  fs.renameSync(`${file}.tmp`, file)
}

/**
 * Follow `bytes` written to DIR/NAME leniently: torn inside `frames[3]` at first, completed once `completeAt`
 * records came; stopped after `stopAt`. The records' n and the corrupt events.
 */
async function followTorn (name: string, bytes: Buffer, frames: Array<{ start: number, length: number }>, completeAt: number, stopAt: number): Promise<{ file: string, error: unknown, seen: number[], corrupt: Corrupt[] }> {
  const dir = path.join(tmp, `follow-${name}`)
  fs.mkdirSync(dir)
  const file = path.join(dir, name)
  // Torn inside the fourth frame, as a reader sees it while it is written.
  place(file, bytes.subarray(0, frames[3].start + Math.floor(frames[3].length / 2)), true)
  const source = archiveSource(path.join(dir, '*.zst'), { follow: true, mode: 'lenient', pollInterval: 20 })
  const corrupt: Corrupt[] = []
  source.on('corrupt', (info: Corrupt) => corrupt.push(info))
  const seen: number[] = []
  const error = await new Promise<unknown>((resolve) => {
    source.on('data', (record: ShoeboxRecord) => {
      seen.push(Number(record.metadata.n))
      if (seen.length === completeAt) place(file, bytes, false)
      if (seen.length === stopAt) source.stop()
    })
    source.once('end', () => { resolve(null) })
    source.once('error', resolve)
  })
  return { file, error, seen, corrupt }
}

t.test('following leniently: a damaged frame skipped once, a torn last frame read again when completed, never skipped', async (t) => {
  const { bytes, frames } = await framed([30, 30, 30, 30, 30])
  garble(bytes, frames[1])
  // Frames 1 and 3 delivered: the file is completed.
  const { file, error, seen, corrupt } = await followTorn('f.shoebox.zst', bytes, frames, 60, 120)
  t.equal(error, null)
  t.same(seen, [...range(0, 30), ...range(60, 90)], 'every record of the good frames once, in order')
  t.same(corrupt.map((c) => [c.path, c.offset, c.bytesSkipped]), [[file, frames[1].start, frames[1].length]], 'the damaged frame only: the torn one was not damage')
})

t.test('following leniently: a damaged frame right before the torn last one is reported once, though read again', async (t) => {
  const { bytes, frames } = await framed([30, 30, 30, 30])
  garble(bytes, frames[2])
  // No record after the damaged third frame, so the file is read again from the second.
  const { file, error, seen, corrupt } = await followTorn('g.shoebox.zst', bytes, frames, 60, 90)
  t.equal(error, null)
  t.same(seen, [...range(0, 60), ...range(90, 30)], 'every record of the good frames once, in order')
  t.same(corrupt.map((c) => [c.path, c.offset, c.bytesSkipped]), [[file, frames[2].start, frames[2].length]], 'the damaged frame once')
})

t.test('without zstd (SHOEBOX_ZSTD=0): lenient reports the zstd file as skipped (SHOEBOX_UNSUPPORTED) and reads the files after it; strict fails there', async (t) => {
  const dir = path.join(tmp, 'nozstd')
  fs.mkdirSync(dir)
  const plain = (n: number): Buffer => encodeRecords(range(n, 10).map((i) => record(i)))
  fs.writeFileSync(path.join(dir, 'a.shoebox'), plain(0))
  fs.writeFileSync(path.join(dir, 'b.shoebox.zst'), (await framed([10], undefined, 10)).bytes)
  fs.writeFileSync(path.join(dir, 'c.shoebox'), plain(20))
  withoutZstd(t)
  const source = archiveSource(path.join(dir, '*'), { mode: 'lenient' })
  const skipped: SkippedEvent[] = []
  source.on('skipped', (info: SkippedEvent) => skipped.push(info))
  const records: ShoeboxRecord[] = []
  for await (const r of source) records.push(r as ShoeboxRecord)
  t.same(numbers(records), [...range(0, 10), ...range(20, 10)], 'the files before and after it')
  t.same(skipped.map(({ path, name, code }) => ({ path, name, code })), [{ path: path.join(dir, 'b.shoebox.zst'), name: 'b.shoebox.zst', code: 'SHOEBOX_UNSUPPORTED' }])
  t.match(skipped[0].reason, /^zstd is not available in this install/, 'why, without the path again')

  const strict = await read(path.join(dir, '*')).catch((err: Error & { code?: string }) => err)
  t.equal((strict as { code?: string }).code, 'SHOEBOX_UNSUPPORTED', 'strict fails at it, as before')
})
