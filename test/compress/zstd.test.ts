/**
 * zstd stages: one frame per written chunk, round trips at the level
 * boundaries, multi-frame input split at every chunk boundary, skippable
 * frames, plain input passed through, damage at its frame's compressed offset
 * (strict: after everything before it; lenient: skipped and reported), frames
 * made by the real `zstd` command when it is on PATH, and an install where
 * zstd cannot load.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { loadZstd, zstd, zstdFrame, ZSTD_MAGIC, ZSTD_MAX_FRAME_CONTENT } from '../../lib/compress/zstd.js'
import { zstdDecompress } from '../../lib/compress/zstd-decompress.js'
import { walkFrames } from '../../lib/compress/zstd-frame.js'
import { compressionOf, decompressStages, sniffCodec } from '../../lib/compress/codecs.js'
import { feed } from '../../lib/stream/deliver-then-fail.js'
import { chunkIter, decodeRecords, garbleZstdFrame, haveZstdCommand, seededText, unzstd, type UnzstdOutcome, zstdBlockEnds, zstdFirstBlock } from '../helpers.js'
import { archiveSource, decode, encodeRecords, type ShoeboxRecord } from '../../lib/index.js'
import { recordEnds } from '../../lib/format/walk.js'

const text = Buffer.from(Array.from({ length: 3000 }, (_, i) => `{"i":${i},"k":"é✓ ${'x'.repeat(i % 50)}"}\n`).join(''))
const blocks = [text.subarray(0, 20000), text.subarray(20000, 20001), text.subarray(20001, 90000), text.subarray(90000)]

async function collect (stream: NodeJS.ReadableStream): Promise<Buffer> {
  const out: Buffer[] = []
  for await (const chunk of stream) out.push(chunk as Buffer)
  return Buffer.concat(out)
}

async function compressBlocks (level: number): Promise<Buffer> {
  const parts = await Promise.all(blocks.map(async (b) => await zstdFrame(b, level)))
  return Buffer.concat(parts)
}


t.test('a zstd backend loads here', async (t) => {
  const backend = await loadZstd()
  t.ok(backend !== null, 'node:zlib or @mongodb-js/zstd')
})

for (const level of [-7, -1, 1, 3, 19, 22]) {
  t.test(`level ${level}: zstd() writes one frame per chunk and reads back`, async (t) => {
    const stage = zstd({ level })
    const compressed = collect(stage)
    for (const b of blocks) stage.write(b)
    stage.end()
    const data = await compressed
    const walk = walkFrames(data)
    t.equal(walk.problem, null)
    t.equal(walk.frames.length, blocks.length, 'one frame per written chunk')
    t.same(data.subarray(0, 4), ZSTD_MAGIC)
    const back = await unzstd(data, 65536)
    t.equal(back.error, undefined)
    t.ok(back.data.equals(text))
  })
}

t.test('levels out of range are refused with the option named', async (t) => {
  for (const level of [0, 23, 1.5, -131073]) {
    t.throws(() => zstd({ level }), { code: 'SHOEBOX_INVALID_OPTION' }, `level ${level}`)
  }
  t.throws(() => compressionOf({ codec: 'lz4' as 'zstd' }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.throws(() => compressionOf('zstd', true), { code: 'SHOEBOX_INVALID_OPTION' }, 'compress and gzip at once')
  t.same(compressionOf('zstd')?.level, 1)
  t.same(compressionOf({ codec: 'gzip', level: 1 })?.codec.name, 'gzip')
  t.equal(compressionOf('none'), undefined)
})

t.test('a mode other than strict or lenient is refused at once, as decode() and archiveSource() refuse it (not read as strict)', async (t) => {
  for (const mode of ['LENIENT', 'skip', '', null, true]) {
    const options = { mode: mode as 'lenient' }
    const refused = { code: 'SHOEBOX_INVALID_OPTION', option: 'mode' }
    t.throws(() => zstdDecompress(options), refused, `zstdDecompress ${JSON.stringify(mode)}`)
    // (decompressStages() loads its stages' modules first: it rejects.)
    await t.rejects(decompressStages(options), refused, `decompressStages ${JSON.stringify(mode)}`)
    t.throws(() => decode(options), refused, `decode ${JSON.stringify(mode)}`)
    t.throws(() => archiveSource('*.zst', options), refused, `archiveSource ${JSON.stringify(mode)}`)
  }
  for (const mode of [undefined, 'strict', 'lenient'] as const) t.doesNotThrow(() => zstdDecompress({ mode }), `${mode ?? 'no'} mode`)
})

t.test('higher levels compress smaller (the level reaches the compressor)', async (t) => {
  const fast = await zstdFrame(text, -7)
  const small = await zstdFrame(text, 19)
  t.ok(small.length < fast.length, `${small.length} < ${fast.length}`)
})

t.test('multi-frame input split at every chunk boundary', async (t) => {
  const data = await compressBlocks(1)
  for (const size of [1, 2, 3, 4, 5, 7, 13, 321, 4096]) {
    const back = await unzstd(data, size)
    t.equal(back.error, undefined, `chunks of ${size}`)
    t.ok(back.data.equals(text), `chunks of ${size}`)
  }
  const small = await zstdFrame(Buffer.from('{"a":1}\n{"b":"é"}\n'), 3)
  const two = Buffer.concat([small, small])
  for (let at = 1; at < two.length; at++) {
    const stage = zstdDecompress()
    const out = collect(stage)
    stage.write(two.subarray(0, at))
    stage.end(two.subarray(at))
    t.equal((await out).toString(), '{"a":1}\n{"b":"é"}\n'.repeat(2), `split at ${at}`)
  }
})

t.test('positions name their frame: one ranged read fetches the record', async (t) => {
  const inputs = Array.from({ length: 500 }, (_, i) => ({ metadata: { i: String(i), k: 'é✓' }, payload: { i, pad: 'x'.repeat((i * 37) % 300) } }))
  const archive = encodeRecords(inputs)
  // Frames cut at record boundaries, as the rolling sink cuts its flush blocks.
  const ends = recordEnds(archive)
  const cuts = [0, ends[99], ends[100], ends[349], archive.length]
  const data = Buffer.concat(await Promise.all(cuts.slice(1).map(async (end, k) => await zstdFrame(archive.subarray(cuts[k], end), 3))))
  const frames = walkFrames(data).frames
  for (const size of [1, 7, 4096]) {
    const stage = zstdDecompress()
    const decoder = decode({ positions: true, members: stage.members, file: 'f.zst' })
    const records: ShoeboxRecord[] = []
    await pipeline(Readable.from(chunkIter(data, size)), stage, decoder, async (source: AsyncIterable<ShoeboxRecord>) => { for await (const r of source) records.push(r) })
    t.equal(records.length, 500, `chunks of ${size}`)
    const wrong: string[] = []
    for (const [i, r] of records.entries()) {
      const member = r.position?.member
      const frame = frames.find((f) => f.start === member?.offset)
      if (member === undefined || frame === undefined) {
        wrong.push(`${i}: no frame`)
        continue
      }
      const back = await zstdDecompress().end(data.subarray(frame.start, frame.end)).toArray() as Buffer[]
      const got = await decodeRecords(Buffer.concat(back).subarray(member.skip))
      if (got[0]?.metadata.i !== String(i)) wrong.push(`${i}: fetched ${got[0]?.metadata.i}`)
    }
    t.same(wrong, [], `chunks of ${size}: every record fetched from its frame alone`)
  }
})

t.test('started at a saved frame: offsets count from it, and non-zstd there is damage', async (t) => {
  const data = await compressBlocks(3)
  const frames = walkFrames(data).frames
  const stage = zstdDecompress({ start: { compressed: frames[2].start, decompressed: 20001 }, file: 'f.zst' })
  const out = await unzstdWith(stage, data.subarray(frames[2].start))
  t.ok(out.data.equals(text.subarray(20001)))
  t.same(stage.members.at(20001), { offset: frames[2].start, skip: 0 })
  const wrong = await unzstdWith(zstdDecompress({ start: { compressed: 5, decompressed: 9 } }), text)
  t.equal(wrong.error?.code, 'SHOEBOX_BAD_COMPRESSION')
  t.equal(wrong.error?.offset, 5)
})

t.test('skippable frames and empty frames are passed over', async (t) => {
  const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from('hello')])
  const a = await zstdFrame(Buffer.from('one\n'), 3)
  const empty = await zstdFrame(Buffer.alloc(0), 3)
  const back = await unzstd(Buffer.concat([skippable, a, empty, skippable, a]), 3)
  t.equal(back.error, undefined)
  t.equal(back.data.toString(), 'one\none\n')
})

t.test('input that is not zstd passes through untouched (empty too)', async (t) => {
  for (const input of [Buffer.alloc(0), Buffer.from('ab'), text]) {
    const back = await unzstd(input, 7)
    t.ok(back.data.equals(input), `${input.length} bytes`)
  }
})

t.test('a torn last frame: strict fails at its offset after the frames before it', async (t) => {
  const data = await compressBlocks(3)
  const frames = walkFrames(data).frames
  const last = frames[frames.length - 1]
  const torn = data.subarray(0, data.length - 5)
  const strict = await unzstd(torn, 1000)
  t.equal(strict.error?.code, 'SHOEBOX_BAD_COMPRESSION')
  t.equal(strict.error?.offset, last.start)
  t.equal(strict.error?.cutShort, true, 'cut short, though reported at the frame\'s start (a follower reads it again)')
  t.match(strict.error?.message, /f\.zst/)
  t.ok(strict.data.equals(text.subarray(0, 90000)), 'every frame before it delivered')
  const lenient = await unzstd(torn, 1000, 'lenient')
  t.equal(lenient.error, undefined)
  t.ok(lenient.data.equals(text.subarray(0, 90000)))
  t.same(lenient.corrupt.map((c) => [c.offset, c.bytesSkipped]), [[last.start, torn.length - last.start]])
})

t.test('a frame torn inside its header, then a whole frame (`cat torn.zst whole.zst`): the next frame is read, not walked through as blocks', async (t) => {
  // The zstd command's frames of a file carry a 4-byte Frame_Content_Size here (bytes 5-8): cut inside it, the size is
  // read from the next frame's magic, ~4 GB, over any limit. Skipping the torn frame by its "blocks" lost the next one.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-zstd-torn-header-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const frameOf = (input: Buffer, name: string): Buffer => {
    fs.writeFileSync(path.join(dir, name), input)
    return execFileSync('zstd', ['-1', '-q', '-c', path.join(dir, name)])
  }
  const first = frameOf(text.subarray(0, 100000), 'first')
  const second = frameOf(text.subarray(100000), 'second')
  t.equal(first[4] >> 6, 2, 'a 4-byte content size')
  for (const cut of [6, 7, 8]) {
    const data = Buffer.concat([first.subarray(0, cut), second])
    for (const size of [1, 5, 4096]) {
      const lenient = await unzstd(data, size, 'lenient')
      t.equal(lenient.error, undefined, `cut at ${cut}, chunks of ${size}: no error`)
      t.ok(lenient.data.equals(text.subarray(100000)), `cut at ${cut}, chunks of ${size}: the second frame read whole`)
      t.same(lenient.corrupt.map((c) => [c.offset, c.bytesSkipped]), [[0, cut]], 'the torn header reported, and only it')
    }
    const strict = await unzstd(data, 4096)
    t.equal(strict.error?.code, 'SHOEBOX_BAD_COMPRESSION')
    t.equal(strict.error?.offset, 0)
    t.match(strict.error?.message, /cut short/, `cut at ${cut}: strict says the header is cut short, not that the frame is too large: ${strict.error?.message}`)
  }
})

t.test('a damaged frame: strict fails at it; lenient skips it and reads the rest', async (t) => {
  const data = Buffer.from(await compressBlocks(3))
  const frames = walkFrames(data).frames
  const third = frames[2]
  // Garble the middle of the third frame's compressed data (its block headers may or may not survive).
  for (let i = third.start + 40; i < third.start + 80; i++) data[i] ^= 0x5a
  const strict = await unzstd(data, 4096)
  t.equal(strict.error?.code, 'SHOEBOX_BAD_COMPRESSION')
  t.equal(strict.error?.offset, third.start)
  t.equal(strict.error?.cutShort, false, 'damage, not a file still being written')
  t.ok(strict.data.equals(text.subarray(0, 20001)))
  const lenient = await unzstd(data, 4096, 'lenient')
  t.equal(lenient.error, undefined)
  t.equal(lenient.corrupt[0]?.offset, third.start)
  t.ok(lenient.data.subarray(0, 20001).equals(text.subarray(0, 20001)))
  t.ok(lenient.data.subarray(lenient.data.length - (text.length - 90000)).equals(text.subarray(90000)), 'the frame after it read')
})

t.test('a damaged frame header: lenient resyncs at the next frame magic', async (t) => {
  const data = Buffer.from(await compressBlocks(3))
  const frames = walkFrames(data).frames
  data[frames[1].start + 4] |= 0x08 // the reserved bit of the frame header descriptor
  const strict = await unzstd(data, 5)
  t.equal(strict.error?.offset, frames[1].start)
  const lenient = await unzstd(data, 5, 'lenient')
  t.equal(lenient.error, undefined)
  t.equal(lenient.corrupt[0]?.offset, frames[1].start)
  t.equal(lenient.corrupt[0]?.bytesSkipped, frames[2].start - frames[1].start)
  t.ok(lenient.data.equals(Buffer.concat([text.subarray(0, 20000), text.subarray(20001)])))
})

t.test('a block header claiming too much: lenient goes on at the next frame, not past it', async (t) => {
  const data = Buffer.from(await compressBlocks(3))
  const frames = walkFrames(data).frames
  const fhd = data[4]
  const header = 5 + ((fhd & 0x20) !== 0 ? 0 : 1) + [0, 1, 2, 4][fhd & 3] + ((fhd >> 6) === 0 ? ((fhd & 0x20) !== 0 ? 1 : 0) : 1 << (fhd >> 6))
  // The first frame's first block: compressed, last, 128 KiB - 1 bytes (past the frames after it, which are shorter).
  const claim = ((128 * 1024 - 1) << 3) | (2 << 1) | 1
  data[header] = claim & 0xff
  data[header + 1] = (claim >> 8) & 0xff
  data[header + 2] = (claim >> 16) & 0xff
  t.ok(data.length < 128 * 1024, 'the claim reaches past the end')
  const strict = await unzstd(data, 1000)
  t.equal(strict.error?.offset, 0)
  t.equal(strict.data.length, 0)
  const lenient = await unzstd(data, 1000, 'lenient')
  t.equal(lenient.error, undefined)
  t.same(lenient.corrupt.map((c) => [c.offset, c.bytesSkipped]), [[0, frames[1].start]])
  t.ok(lenient.data.equals(text.subarray(20000)), 'every frame after it read')
})

t.test('decompressStages() read plain, gzip and zstd alike (and sniffCodec names them)', async (t) => {
  const zst = await compressBlocks(1)
  const gz = Buffer.concat(await Promise.all(blocks.map(async (b) => await compressionOf('gzip')!.codec.compressBlock(b, 6, 'x'))))
  for (const [name, input] of [['none', text], ['gzip', gz], ['zstd', zst]] as const) {
    t.equal(sniffCodec(input.subarray(0, 4)).name, name)
    const last = feed(Readable.from(chunkIter(input, 999)), ...(await decompressStages()))
    t.ok((await collect(last)).equals(text), name)
  }
})

const haveCommand = haveZstdCommand

t.test(`files the library writes, and (only when zstd is on PATH: ${haveCommand ? 'it is' : 'it is not'}) the zstd command's own`, async (t) => {
  const ours = await compressBlocks(19)
  // Our frames read by our reader (always), and by the command when present.
  t.ok((await unzstd(ours, 100)).data.equals(text))
  if (!haveCommand) return
  t.ok(execFileSync('zstd', ['-dc'], { input: ours, maxBuffer: 1 << 26 }).equals(text), 'zstd -dc reads our multi-frame file')
  for (const args of [['-1'], ['-19', '--no-check'], ['--fast=3', '--no-content-size'], ['-3', '-B4096']]) {
    const theirs = execFileSync('zstd', ['-c', ...args], { input: text, maxBuffer: 1 << 26 })
    const back = await unzstd(Buffer.concat([theirs, theirs]), 777)
    t.equal(back.error, undefined, args.join(' '))
    t.ok(back.data.equals(Buffer.concat([text, text])), `zstd ${args.join(' ')}`)
  }
})

t.test('an install where zstd cannot load: SHOEBOX_UNSUPPORTED naming the file', async (t) => {
  const data = await compressBlocks(3)
  const stage = zstdDecompress({ backend: '0', file: 'old.shoebox.zst' })
  const out = await unzstdWith(stage, data)
  t.equal(out.error?.code, 'SHOEBOX_UNSUPPORTED')
  t.match(out.error?.message, /old\.shoebox\.zst/)
  const compress = zstd({ backend: '0', file: 'new.shoebox.zst' })
  await t.rejects(collect(Readable.from([text]).pipe(compress)), { code: 'SHOEBOX_UNSUPPORTED' })
  // Plain input needs no codec.
  t.ok((await unzstdWith(zstdDecompress({ backend: '0' }), text)).data.equals(text))
})

async function unzstdWith (stage: ReturnType<typeof zstdDecompress>, input: Buffer): Promise<UnzstdOutcome> {
  const out: Buffer[] = []
  try {
    await pipeline(Readable.from([input]), stage, async (source: AsyncIterable<Buffer>) => { for await (const c of source) out.push(c) })
  } catch (err) {
    return { data: Buffer.concat(out), error: err as UnzstdOutcome['error'], corrupt: [] }
  }
  return { data: Buffer.concat(out), corrupt: [] }
}

/*
 * Salvage: a damaged or torn frame gives up the content of its leading whole
 * blocks that still decode (a frame's blocks only refer back), then the
 * damage is reported at the frame's start as before.
 */

/** 128 KiB: zstd cuts a frame's content into blocks of this much (the last one less). */
const BLOCK = 128 * 1024

/** The content of a frame's first `k` blocks, when each block but the last holds 128 KiB of it. */
const firstBlocks = (content: Buffer, k: number): Buffer => content.subarray(0, Math.min(k * BLOCK, content.length))

const seeded = seededText(12)
const random = seeded.random
/** Pseudo-random text lines: zstd cannot shrink them much, so a frame holds several compressed blocks. */
const randomLines = (bytes: number): Buffer => seeded.lines(bytes, ' é')
/** Repetitive lines: five blocks in about 1.3 KB of frame, so a tear can be tried at every byte. */
const repetitive = Buffer.from(Array.from({ length: 40000 }, (_, i) => `line ${i % 97} ${'ab'.repeat(i % 7)}\n`).join(''))

t.test('a frame torn at every byte: its whole blocks before the tear are delivered, then the damage at its start', async (t) => {
  const before = Buffer.from('{"before":1}\n')
  const after = Buffer.from('{"after":2}\n')
  const a = await zstdFrame(before, 1)
  const frame = await zstdFrame(repetitive, 1)
  const b = await zstdFrame(after, 1)
  const ends = zstdBlockEnds(frame)
  t.equal(ends.length, 5, 'five blocks')
  const wrong: string[] = []
  for (let cut = 1; cut < frame.length; cut++) {
    const whole = ends.filter((end) => end <= cut).length
    const want = Buffer.concat([before, firstBlocks(repetitive, whole)])
    const strict = await unzstd(Buffer.concat([a, frame.subarray(0, cut)]), 4096)
    if (strict.error?.offset !== a.length || !strict.data.equals(want)) wrong.push(`strict, cut at ${cut}: ${strict.data.length} bytes, error at ${strict.error?.offset}`)
    const said = whole === 0 ? /none of its content could be read/ : new RegExp(`its first ${want.length - before.length} bytes? \\(${whole} of ${whole} whole blocks?\\) were read`)
    if (!said.test(strict.error?.message ?? '')) wrong.push(`strict, cut at ${cut}: ${strict.error?.message}`)
    const lenient = await unzstd(Buffer.concat([a, frame.subarray(0, cut), b]), 4096, 'lenient')
    if (lenient.error !== undefined || !lenient.data.equals(Buffer.concat([want, after])) || lenient.corrupt.length !== 1 || lenient.corrupt[0].offset !== a.length) {
      wrong.push(`lenient, cut at ${cut}: ${lenient.data.length} bytes, ${lenient.corrupt.length} corrupt, ${lenient.error?.message}`)
    }
  }
  t.same(wrong, [], `every cut from 1 to ${frame.length - 1}`)
})

t.test('a byte garbled in block j of n: the blocks before it are delivered, exactly', async (t) => {
  const content = randomLines(5 * BLOCK + 5000)
  const frame = await zstdFrame(content, 1)
  const after = Buffer.from('{"after":2}\n')
  const b = await zstdFrame(after, 1)
  const ends = zstdBlockEnds(frame)
  t.equal(ends.length, 6, 'six compressed blocks')
  // Each block's header: the first follows the frame header (6 bytes as the package writes it: magic, descriptor, window).
  const starts = [6, ...ends.slice(0, -1)]
  for (const j of [0, 1, 3, 5]) {
    const damaged = Buffer.from(frame)
    // The block's first content byte (its literals section header).
    damaged[starts[j] + 3] ^= 0xff
    for (const size of [1000, 1 << 20]) {
      const strict = await unzstd(damaged, size)
      t.equal(strict.error?.offset, 0, `block ${j}, chunks of ${size}: the damage at the frame's start`)
      t.ok(strict.data.equals(firstBlocks(content, j)), `block ${j}, chunks of ${size}: the ${j} blocks before it (${strict.data.length} bytes)`)
      t.match(strict.error?.message, j === 0 ? /none of its content/ : new RegExp(`\\(${j} of 6 whole blocks\\) were read`))
      const lenient = await unzstd(Buffer.concat([damaged, b]), size, 'lenient')
      t.equal(lenient.error, undefined)
      t.ok(lenient.data.equals(Buffer.concat([firstBlocks(content, j), after])), `block ${j}, lenient: those, then the frame after it`)
      t.same(lenient.corrupt.map((c) => c.offset), [0])
    }
  }
  // A block header of the reserved type (3): the walk itself stops there; the blocks before it still decode.
  const bad = Buffer.from(frame)
  bad[starts[4]] |= 0x06
  const strict = await unzstd(Buffer.concat([bad, b]), 777)
  t.equal(strict.error?.offset, 0)
  t.match(strict.error?.message, /reserved type.*\(4 of 4 whole blocks\) were read/)
  t.ok(strict.data.equals(firstBlocks(content, 4)))
  const lenient = await unzstd(Buffer.concat([bad, b]), 777, 'lenient')
  t.ok(lenient.data.equals(Buffer.concat([firstBlocks(content, 4), after])))
})

/** `frame` (multi-segment, as the package writes) made single-segment with its content size, as `zstd` writes small files. */
function singleSegment (frame: Buffer, size: number): Buffer {
  t.equal(frame[4], 0, 'a multi-segment frame with neither content size nor checksum')
  const fcs = size < 256 ? Buffer.from([size]) : Buffer.alloc(4)
  if (size >= 256) fcs.writeUInt32LE(size)
  return Buffer.concat([frame.subarray(0, 4), Buffer.from([0x20 | (size < 256 ? 0 : 2 << 6)]), fcs, frame.subarray(6)])
}

t.test('single-segment frames (the window is the content size): torn, the whole blocks before the tear', async (t) => {
  // The package's frames, whatever this Node's default backend: node:zlib's carry a checksum, which this rewriting keeps out.
  const frame = singleSegment(await zstdFrame(repetitive, 1, 'f', 'package'), repetitive.length)
  t.ok((await unzstd(frame, 4096)).data.equals(repetitive), 'the rewritten frame is sound')
  const ends = zstdBlockEnds(frame)
  for (const k of [1, 2, 4]) {
    const torn = await unzstd(frame.subarray(0, ends[k] - 1), 4096)
    t.ok(torn.data.equals(firstBlocks(repetitive, k)), `torn in block ${k + 1}: ${k} blocks`)
    t.equal(torn.error?.offset, 0)
  }
  // A small one: one block, torn: nothing to salvage, as before.
  const small = singleSegment(await zstdFrame(Buffer.from('{"a":1}\n'), 1, 'f', 'package'), 8)
  t.equal((await unzstd(small, 3)).data.toString(), '{"a":1}\n')
  const torn = await unzstd(small.subarray(0, small.length - 2), 3)
  t.equal(torn.data.length, 0)
  t.match(torn.error?.message, /cut short.*none of its content/)
})

t.test('RLE and raw blocks: torn in the third block, the first two delivered', async (t) => {
  const run = Buffer.alloc(300000, 0x61)
  const noise = Buffer.from(Array.from({ length: 300000 }, () => (random() >> 15) & 0xff))
  for (const [name, content, type] of [['RLE', run, 1], ['raw', noise, 0]] as const) {
    const frame = await zstdFrame(content, 1)
    const ends = zstdBlockEnds(frame)
    t.equal(ends.length, 3, `${name}: three blocks`)
    t.equal((frame.readUIntLE(ends[0], 3) >> 1) & 3, type, `${name}: the second block is ${name}`)
    const torn = await unzstd(frame.subarray(0, ends[2] - 1), 65536)
    t.ok(torn.data.equals(firstBlocks(content, 2)), `${name}: two blocks`)
    t.equal(torn.error?.offset, 0)
  }
})

t.test(`a damaged content checksum gives every block (frames of the zstd command, when on PATH: ${haveCommand ? 'it is' : 'it is not'})`, async (t) => {
  if (!haveCommand) return
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-zstd-salvage-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const content = randomLines(3 * BLOCK + 777)
  fs.writeFileSync(path.join(dir, 'c'), content)
  // From a file: the command writes the content size and a checksum, single-segment for a size within its window.
  const frame = execFileSync('zstd', ['-c', '-3', path.join(dir, 'c')])
  t.equal(frame[4] & 0x24, 0x24, 'single-segment, with a checksum')
  const damaged = Buffer.from(frame)
  damaged[damaged.length - 2] ^= 0x01
  const strict = await unzstd(damaged, 4096)
  t.equal(strict.error?.offset, 0)
  t.ok(strict.data.equals(content), 'every block')
  t.match(strict.error?.message, /\(4 of 4 whole blocks\) were read/)
  // Torn inside its checksum: every block too.
  t.ok((await unzstd(frame.subarray(0, frame.length - 3), 4096)).data.equals(content))
  // Small files: a content size of 1 and of 2 bytes (the window the salvage gives is the size, 256 added for 2 bytes).
  for (const [size, field] of [[200, 0], [5000, 1]] as const) {
    const small = randomLines(size)
    fs.writeFileSync(path.join(dir, 's'), small)
    const one = execFileSync('zstd', ['-c', '-3', path.join(dir, 's')])
    t.equal(one[4] & 0xe4, 0x24 | field << 6, `${small.length} bytes: single-segment, a ${field === 0 ? 1 : 2}-byte content size, a checksum`)
    one[one.length - 1] ^= 0x80
    const back = await unzstd(one, 100)
    t.ok(back.data.equals(small), `${small.length} bytes, its checksum damaged: every byte`)
    t.match(back.error?.message, /\(1 of 1 whole block\) were read/)
  }
  // From stdin (no content size): multi-segment, with a checksum; torn in its third block.
  const streamed = execFileSync('zstd', ['-c', '-3'], { input: content })
  t.equal(streamed[4] & 0x24, 0x04, 'multi-segment, with a checksum')
  const ends = zstdBlockEnds(streamed)
  t.ok((await unzstd(streamed.subarray(0, ends[2] - 10), 4096)).data.equals(firstBlocks(content, 2)))
})

t.test('records after a salvage: strict reports the zstd damage, lenient loses no record of the next frame', async (t) => {
  // Two frames of records, as the rolling sink writes them (cut at record boundaries); the first of several blocks.
  const inputs = Array.from({ length: 3000 }, (_, i) => ({ metadata: { i: String(i) }, payload: randomLines(200 + (i * 7) % 300) }))
  const archive = encodeRecords(inputs)
  const ends = recordEnds(archive)
  const cut = ends[2499]
  const first = await zstdFrame(archive.subarray(0, cut), 1)
  const second = await zstdFrame(archive.subarray(cut), 1)
  const blocks = zstdBlockEnds(first)
  t.ok(blocks.length >= 4, `the first frame has ${blocks.length} blocks`)
  const damaged = Buffer.from(first)
  damaged[blocks[2] + 3] ^= 0xff // the fourth block's first content byte: three blocks salvaged
  const salvaged = 3 * BLOCK
  const whole = ends.filter((end) => end <= salvaged).length
  t.ok(ends[whole] > salvaged && ends[whole - 1] < salvaged, 'the salvage ends inside a record')
  const names = (records: ShoeboxRecord[]): number[] => records.map((r) => Number(r.metadata.i))
  const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i)
  for (const size of [4096, 1 << 20]) {
    const strictRecords: ShoeboxRecord[] = []
    const stage = zstdDecompress({ file: 'f.zst' })
    const decoder = feed(Readable.from(chunkIter(Buffer.concat([damaged, second]), size)), stage, decode({ file: 'f.zst' }))
    const error = await (async () => { for await (const r of decoder) strictRecords.push(r as ShoeboxRecord) })().then(() => undefined, (err: Error & { code?: string, offset?: number }) => err)
    t.same(names(strictRecords), range(0, whole), `strict, chunks of ${size}: the records of the three blocks`)
    t.equal(error?.code, 'SHOEBOX_BAD_COMPRESSION', 'the zstd damage, not a record error')
    t.equal(error?.offset, 0)
    const lenientStage = zstdDecompress({ file: 'f.zst', mode: 'lenient' })
    const lenientDecoder = decode({ file: 'f.zst', mode: 'lenient' })
    const damage: unknown[] = []
    lenientStage.on('corrupt', (info) => damage.push(info))
    lenientDecoder.on('corrupt', (info) => damage.push(info))
    const records: ShoeboxRecord[] = []
    await pipeline(Readable.from(chunkIter(Buffer.concat([damaged, second]), size)), lenientStage, lenientDecoder, async (source: AsyncIterable<ShoeboxRecord>) => { for await (const r of source) records.push(r) })
    t.same(names(records), [...range(0, whole), ...range(2500, 3000)], `lenient, chunks of ${size}: those, then every record of the next frame`)
    t.equal(damage.length, 2, 'the frame, and the record cut short by it')
  }
})

t.test('bytes after a frame that start no frame: damage, and no word of a salvage (there was no frame)', async (t) => {
  const frame = await zstdFrame(Buffer.from('{"a":1}\n'), 1)
  const out = await unzstd(Buffer.concat([frame, Buffer.from('garbage after it')]), 5)
  t.equal(out.data.toString(), '{"a":1}\n')
  t.equal(out.error?.offset, frame.length)
  t.match(out.error?.message, /no zstd frame starts here \(its first bytes are 67 61 72 62\); the offset/)
})

t.test('a frame that needs a dictionary: SHOEBOX_UNSUPPORTED naming its id, not "damaged"; lenient reads the frames around it', async (t) => {
  const before = await zstdFrame(Buffer.from('{"before":1}\n'), 1)
  const after = await zstdFrame(Buffer.from('{"after":1}\n'), 1)
  // A frame as `zstd -D` writes one: the descriptor's Dictionary_ID_Flag 3, a 4-byte id after the window byte.
  const plainFrame = await zstdFrame(Buffer.from('{"needs":"a dictionary"}\n'), 1)
  const fhd = plainFrame[4]
  t.equal(fhd & 0x23, 0, 'a frame with a window byte and no dictionary id to start from')
  const id = Buffer.alloc(4)
  id.writeUInt32LE(1779911997)
  const withDictionary = Buffer.concat([plainFrame.subarray(0, 4), Buffer.from([fhd | 3, plainFrame[5]]), id, plainFrame.subarray(6)])
  const input = Buffer.concat([before, withDictionary, after])
  for (const size of [1, 7, input.length]) {
    const strict = await unzstd(input, size)
    t.equal(strict.data.toString(), '{"before":1}\n', `strict, chunks of ${size}: the frame before it`)
    t.match(strict.error, { code: 'SHOEBOX_UNSUPPORTED', offset: before.length, message: new RegExp(`f\\.zst.*the frame at compressed byte ${before.length} needs zstd dictionary 1779911997, which shoebox does not read`) }, `strict, chunks of ${size}`)
    t.notMatch(strict.error?.message, /damaged/, `strict, chunks of ${size}: not called damaged`)
    const lenient = await unzstd(input, size, 'lenient')
    t.equal(lenient.error, undefined)
    t.equal(lenient.data.toString(), '{"before":1}\n{"after":1}\n', `lenient, chunks of ${size}: the frames around it`)
    t.match(lenient.corrupt, [{ offset: before.length, bytesSkipped: withDictionary.length, detail: /needs zstd dictionary 1779911997/ }])
  }
})

t.test('a bad block header in a later frame is named at its offset in the file, not in its frame', async (t) => {
  const frames = await Promise.all(['{"one":1}\n', '{"two":2}\n', '{"three":3}\n'].map(async (s) => await zstdFrame(Buffer.from(s), 1)))
  const input = Buffer.concat(frames)
  const second = frames[0].length
  // The second frame's first block header, given the reserved block type.
  garbleZstdFrame(input, { start: second }, 'header')
  const header = second + zstdFirstBlock(frames[1])
  for (const size of [1, input.length]) {
    const strict = await unzstd(input, size)
    t.equal(strict.data.toString(), '{"one":1}\n')
    t.match(strict.error, { offset: second, message: new RegExp(`block at compressed byte ${header} has the reserved type`) }, `chunks of ${size}`)
    const lenient = await unzstd(input, size, 'lenient')
    t.equal(lenient.data.toString(), '{"one":1}\n{"three":3}\n')
    t.match(lenient.corrupt, [{ offset: second, detail: new RegExp(`block at compressed byte ${header} has the reserved type`) }], `lenient, chunks of ${size}`)
  }
})

t.test('a chunk larger than a frame holds: several frames, read back whole within the default maxFrameSize', async (t) => {
  // Past four frames' worth, so that the frames of one chunk also outnumber those compressing at once.
  const big = Buffer.alloc(4 * ZSTD_MAX_FRAME_CONTENT + 5, 'shoebox ')
  big.write('the end', big.length - 7)
  const out: Buffer[] = []
  await pipeline(Readable.from([Buffer.from('first'), big, Buffer.from('last')]), zstd(), async (source: AsyncIterable<Buffer>) => { for await (const c of source) out.push(c) })
  const data = Buffer.concat(out)
  t.same(walkFrames(data).frames.map((f) => f.bound > 0), [true, true, true, true, true, true, true], 'a frame for each small chunk, five for the big one')
  const back = await unzstd(data, data.length)
  t.equal(back.error, undefined, 'read back with the default maxFrameSize')
  t.equal(back.data.length, big.length + 9)
  t.ok(back.data.equals(Buffer.concat([Buffer.from('first'), big, Buffer.from('last')])), 'the same bytes, in order')
})

t.test('a backend option that names no backend is refused by both stages, not taken as the package', async (t) => {
  for (const backend of ['libzst', 'ZLIB', '', 0, null]) {
    const given = backend as unknown as 'auto'
    t.throws(() => zstd({ backend: given }), { code: 'SHOEBOX_INVALID_OPTION', message: /option backend: must be one of 'auto', 'zlib', 'libzstd', 'package', '0', got / }, `zstd() ${String(backend)}`)
    t.throws(() => zstdDecompress({ backend: given }), { code: 'SHOEBOX_INVALID_OPTION', message: /option backend: / }, `zstdDecompress() ${String(backend)}`)
  }
  for (const backend of [undefined, 'auto', 'package'] as const) {
    const [frame] = await Readable.from([Buffer.from('hello')]).pipe(zstd({ backend })).toArray() as Buffer[]
    const [back] = await Readable.from([frame]).pipe(zstdDecompress({ backend })).toArray() as Buffer[]
    t.equal(back.toString(), 'hello', `backend ${String(backend)} round trip`)
  }
})
