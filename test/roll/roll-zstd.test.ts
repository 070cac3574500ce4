/**
 * The rolling sink writing zstd: `.shoebox.zst` files of one independent
 * frame per flush block, read back; levels; refused options; a torn last
 * frame cut back by recovery at every byte, a damaged frame kept whole and
 * reported; an install without zstd (SHOEBOX_ZSTD=0): the sink fails before
 * creating anything, and recovery leaves a zstd file for an install that can
 * read it.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { decode, encodeRecords, rollingSink, type RecordInput, type SealedEvent, type ShoeboxRecord, type FlushEvent } from '../../lib/index.js'
import { decompressStages } from '../../lib/compress/codecs.js'
import { walkFrames } from '../../lib/compress/zstd-frame.js'
import { ZSTD_DEFAULT_LEVEL, zstdFrame } from '../../lib/compress/zstd.js'
import { recoverDirectory, recoverFile, type SkippedTemp } from '../../lib/roll/recover.js'
import { feed } from '../../lib/stream/deliver-then-fail.js'
import { archiveNames, range, seqOf, tempDir, writeAll } from '../fixtures-roll/util.js'
import { mulberry32, withoutZstd } from '../helpers.js'

function rec (seq: number): RecordInput {
  return { metadata: { src: 'zstd', tag: `t-${seq}` }, payload: { seq, text: 'héllo 📦 '.repeat(1 + (seq % 5)) } }
}

/** Every record of a file of any codec, strictly. */
async function readFile (file: string): Promise<ShoeboxRecord[]> {
  const out: ShoeboxRecord[] = []
  const last = feed(fs.createReadStream(file), ...(await decompressStages({ file })), decode({ file }))
  for await (const r of last) out.push(r as ShoeboxRecord)
  return out
}

/** zstd's magic on each sealed file, and its frames (all complete). */
function framesOf (file: string): number {
  const data = fs.readFileSync(file)
  const walk = walkFrames(data)
  if (walk.problem !== null) throw new Error(`${file}: ${walk.problem} at ${walk.stop}`)
  return walk.frames.length
}

for (const compress of ['zstd', { codec: 'zstd', level: 3 }, { codec: 'zstd', level: 19 }, { codec: 'zstd', level: -3 }] as const) {
  t.test(`compress ${JSON.stringify(compress)}: .shoebox.zst files, one frame per flush block`, async (t) => {
    const dir = tempDir(t)
    const sink = rollingSink({ dir, compress, blockSize: 4096, roll: { records: 700 }, flushInterval: 0 })
    const sealed: SealedEvent[] = []
    const flushes = new Map<string, number>()
    sink.on('sealed', (e: SealedEvent) => sealed.push(e))
    sink.on('flush', (e: FlushEvent) => { flushes.set(e.path, (flushes.get(e.path) ?? 0) + 1) })
    await writeAll(sink, range(2000).map(rec))
    t.same(sink.compression, { codec: 'zstd', level: typeof compress === 'string' ? ZSTD_DEFAULT_LEVEL : compress.level })
    const names = archiveNames(dir)
    t.equal(names.length, 3)
    t.ok(names.every((n) => n.endsWith('.shoebox.zst')), names.join(' '))
    t.same([...flushes.values()], names.map((n) => framesOf(path.join(dir, n))), 'one frame per flush')
    const records = (await Promise.all(names.map(async (n) => await readFile(path.join(dir, n))))).flat()
    t.same(records.map(seqOf), range(2000))
  })
}

t.test('the sink refuses a bad codec or level, and compress with gzip', async (t) => {
  const dir = path.join(tempDir(t), 'never')
  t.throws(() => rollingSink({ dir, compress: { codec: 'zstd', level: 99 } }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.throws(() => rollingSink({ dir, compress: 'brotli' as 'zstd' }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.throws(() => rollingSink({ dir, compress: 'zstd', gzip: true }), { code: 'SHOEBOX_INVALID_OPTION' })
  const plain = rollingSink({ dir: tempDir(t), compress: 'none' })
  t.equal(plain.compression, undefined)
  t.notOk(fs.existsSync(dir))
  // Closed before the teardown removes its directory: a sink left open made it again as it started, left behind.
  plain.destroy()
  await new Promise((resolve) => plain.once('close', resolve))
})

t.test('recovery: whole frames, then the next frame torn at every byte', async (t) => {
  const dir = tempDir(t)
  const frames = await Promise.all([range(3, 0), range(4, 3), range(2, 7)].map(async (seqs) => await zstdFrame(encodeRecords(seqs.map(rec)), 3)))
  const whole = Buffer.concat(frames.slice(0, 2))
  const next = frames[2]
  const wrong: string[] = []
  for (let cut = 1; cut < next.length; cut++) {
    const temp = path.join(dir, '.x.shoebox.zst~host~1.part')
    fs.writeFileSync(temp, Buffer.concat([whole, next.subarray(0, cut)]))
    const r = await recoverFile(dir, temp, 'x.shoebox.zst')
    const sealed = r.path === null ? null : fs.readFileSync(r.path)
    if (r.path !== null) fs.unlinkSync(r.path)
    if (r.records !== 7 || r.bytesDropped !== cut || r.damaged || sealed?.equals(whole) !== true) {
      wrong.push(`cut ${cut}: ${r.records} records, ${r.bytesDropped} dropped, damaged ${String(r.damaged)}`)
    }
  }
  t.same(wrong, [], 'every cut keeps exactly the two whole frames, byte for byte')
  t.same(fs.readdirSync(dir), [])
})

t.test('recovery: a damaged frame followed by a good one is kept whole and reported', async (t) => {
  const dir = tempDir(t)
  const frames = await Promise.all([range(3, 0), range(4, 3), range(2, 7)].map(async (seqs) => await zstdFrame(encodeRecords(seqs.map(rec)), 3)))
  const data = Buffer.concat(frames)
  const at = frames[0].length + 4
  data[at] |= 0x08 // the second frame's header: reserved bit
  const temp = path.join(dir, '.y.shoebox.zst~host~1.part')
  fs.writeFileSync(temp, data)
  const r = await recoverFile(dir, temp, 'y.shoebox.zst')
  t.equal(r.damaged, true)
  t.equal(r.bytesDropped, 0)
  t.equal(r.records, 5, 'the records of the readable frames')
  t.ok(fs.readFileSync(r.path as string).equals(data), 'nothing cut')
})

t.test('recovery: a complete frame whose records are followed by other bytes keeps its records (kept whole, damaged)', async (t) => {
  // Its content was judged "not whole records" and the good part ended before it: the file cut back to the
  // frames before it, or removed when it was the only one, though its records read (verify, read).
  const dir = tempDir(t)
  const good = await zstdFrame(encodeRecords(range(3, 0).map(rec)), 3)
  const mixed = await zstdFrame(Buffer.concat([encodeRecords(range(4, 3).map(rec)), Buffer.alloc(100)]), 3)
  for (const [name, data, records] of [['two.shoebox.zst', Buffer.concat([good, mixed]), 7], ['one.shoebox.zst', mixed, 4]] as const) {
    const temp = path.join(dir, `.${name}~host~1.part`)
    fs.writeFileSync(temp, data)
    const r = await recoverFile(dir, temp, name)
    t.same({ records: r.records, bytesDropped: r.bytesDropped, damaged: r.damaged }, { records, bytesDropped: 0, damaged: true }, name)
    t.ok(r.path !== null && fs.readFileSync(r.path).equals(data), `${name}: nothing cut`)
  }
})

t.test('an install without zstd (SHOEBOX_ZSTD=0)', async (t) => {
  withoutZstd(t)
  const dir = path.join(tempDir(t), 'events')
  const sink = rollingSink({ dir, compress: 'zstd' })
  const failed = new Promise<Error>((resolve) => sink.once('error', resolve))
  sink.end()
  const err = await failed as Error & { code?: string }
  t.equal(err.code, 'SHOEBOX_UNSUPPORTED')
  t.match(err.message, dir)
  t.notOk(fs.existsSync(dir), 'nothing created')

  // gzip still works.
  const gzDir = tempDir(t)
  await writeAll(rollingSink({ dir: gzDir, compress: 'gzip' }), range(10).map(rec))
  t.same((await readFile(path.join(gzDir, archiveNames(gzDir)[0]))).map(seqOf), range(10))

  // A dead writer's zstd file is left for an install that can read it.
  const left = tempDir(t)
  const temp = path.join(left, '.z.shoebox.zst~host~1.part')
  fs.writeFileSync(temp, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]))
  const skipped: SkippedTemp[] = []
  const recovered = await recoverDirectory(left, { force: true, onSkip: (s) => skipped.push(s) })
  t.same(recovered, [])
  t.equal(skipped.length, 1)
  t.match(skipped[0].reason, /zstd is not available/)
  t.ok(fs.existsSync(temp))
  // And reading one fails naming the file.
  const file = path.join(left, 'a.shoebox.zst')
  fs.writeFileSync(file, await zstdFrameWith(encodeRecords([rec(1)])))
  await t.rejects(readFile(file), { code: 'SHOEBOX_UNSUPPORTED', message: /a\.shoebox\.zst/ })
})

/** A frame made with the real backend (this test's env says none). */
async function zstdFrameWith (data: Buffer): Promise<Buffer> {
  return await zstdFrame(data, 3, 'test', 'auto')
}

t.test('encoded bytes written to a zstd sink', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, compress: 'zstd', blockSize: 2048, flushInterval: 0 })
  await writeAll(sink, [encodeRecords(range(300).map(rec))])
  const names = archiveNames(dir)
  t.equal(names.length, 1)
  t.ok(framesOf(path.join(dir, names[0])) > 1)
  t.same((await readFile(path.join(dir, names[0]))).map(seqOf), range(300))
})

t.test('upload ships .shoebox.zst files as written (a directory store)', async (t) => {
  const dir = tempDir(t)
  const to = tempDir(t)
  const sink = rollingSink({ dir, compress: { codec: 'zstd', level: 1 }, roll: { records: 100 }, upload: { to, deleteLocal: true } })
  await writeAll(sink, range(250).map(rec))
  const names = archiveNames(to)
  t.equal(names.length, 3)
  t.ok(names.every((n) => n.endsWith('.shoebox.zst')))
  t.same(archiveNames(dir), [], 'deleted locally once uploaded')
  const records = (await Promise.all(names.map(async (n) => await readFile(path.join(to, n))))).flat()
  t.same(records.map(seqOf), range(250))
})

t.test('a flush block larger than a frame holds (blockSize 300MiB): frames of 64 MiB, read back within the default maxFrameSize', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, compress: 'zstd', blockSize: '300MiB', flushInterval: 0 })
  // 270 records of 1 MiB: one block of 270 MiB, past the readers' default maxFrameSize (256 MiB).
  const payload = Buffer.alloc(1024 * 1024, 'shoebox ')
  const flushes: FlushEvent[] = []
  sink.on('flush', (e: FlushEvent) => flushes.push(e))
  await writeAll(sink, range(270).map((seq) => ({ metadata: { seq: String(seq) }, payload })))
  t.equal(flushes.length, 1, 'one flush block')
  const [name] = archiveNames(dir)
  const frames = walkFrames(fs.readFileSync(path.join(dir, name))).frames
  t.equal(frames.length, 5, 'five frames for the block')
  t.ok(frames.every((f) => f.bound <= 64 * 1024 * 1024), 'each of 64 MiB at most')
  const records = await readFile(path.join(dir, name))
  t.same(records.map((r) => r.metadata.seq), range(270).map(String), 'every record, read with the default maxFrameSize')
})

t.test('roll.size counts zstd files as gzip ones, by their size on disk: files of about the size asked (they were ~11% under it)', async (t) => {
  // Event NDJSON, whose deflate ratio (the planner's first estimate) is ~12% over zstd's: files were sealed by it
  // until the first frames came back, megabytes later.
  const random = mulberry32(6)
  const pick = (n: number): number => Math.floor(random() * n)
  const records = range(24000).map((i) => ({ metadata: { host: `web-${pick(20)}` }, payload: { '@time': 1700000000000 + i, path: `/p/${pick(500)}`, status: [200, 200, 404, 500][pick(4)], ms: pick(1000), id: random().toString(36) } }))
  const limit = 100 * 1024
  for (const [how, items] of [['records one by one', records], ['one chunk of encoded records', [encodeRecords(records)]]] as const) {
    for (const compress of ['zstd', 'gzip'] as const) {
      const dir = tempDir(t)
      await writeAll(rollingSink({ dir, compress, roll: { size: limit }, flushInterval: 0 }), items)
      const sizes = archiveNames(dir).map((name) => fs.statSync(path.join(dir, name)).size)
      t.ok(sizes.length >= 3, `${compress}, ${how}: ${sizes.length} files`)
      // The last file holds what was left.
      const off = sizes.slice(0, -1).filter((size) => size < 0.96 * limit || size > 1.04 * limit)
      t.same(off, [], `${compress}, ${how}: every file but the last within 4% of roll.size (${sizes.join(' ')})`)
    }
  }
})
