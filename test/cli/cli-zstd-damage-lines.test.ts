/**
 * One damaged zstd frame is one damage line (issue 12): a flipped byte that
 * still decompresses gives garbage to the frame's end, and the records found
 * among it split the damage into many stretches; verify, read --lenient and
 * decode --lenient print one line per damaged frame (its compressed offset
 * and length, the bytes its stretches span, how many, bytes skipped), read
 * the same records and exit as before. A plain file's stretches keep a line
 * each, up to DAMAGE_LINES_PER_FILE, then one line counts the rest.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { cli } from '../cli-run.js'
import { damagedZstdArchive, type FrameSpanned } from '../helpers.js'
import { decode, encodeRecords, type DecodedCorruptInfo } from '../../lib/index.js'
import { decompressStages } from '../../lib/compress/codecs.js'
import { DAMAGE_LINES_PER_FILE } from '../../lib/cli/damage-lines.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-zstd-damage-lines-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

/** The stretches and records of a lenient decode, without frames: what the lines must add up to. */
async function stretches (bytes: Buffer): Promise<{ damage: DecodedCorruptInfo[], records: number, recordBytes: number }> {
  const decoder = decode({ mode: 'lenient' })
  const damage: DecodedCorruptInfo[] = []
  decoder.on('corrupt', (info: DecodedCorruptInfo) => damage.push(info))
  let records = 0
  const count = new Writable({ objectMode: true, write: (_r, _e, cb) => { records++; cb() } })
  await pipeline([Readable.from([bytes]), ...(await decompressStages({ mode: 'lenient' })), decoder, count])
  return { damage, records, recordBytes: decoder.stats.bytes }
}

/** The line text for frame `f`, from the stretches whose offsets fall in its content. */
function frameLine (frame: FrameSpanned, damage: DecodedCorruptInfo[]): { text: string, count: number } {
  const inside = damage.filter((d) => d.offset >= frame.contentStart && d.offset < frame.contentStart + frame.contentLength)
  const last = inside[inside.length - 1]
  const bytes = inside.reduce((sum, d) => sum + d.bytesSkipped, 0)
  return {
    text: `damaged zstd frame at compressed byte ${frame.start} (${frame.length} compressed bytes): ${inside.length} damaged stretches ` +
      `between byte ${inside[0].offset} and byte ${last.offset + last.bytesSkipped}, ${bytes} bytes skipped (first: ${inside[0].reason}: ${inside[0].detail})`,
    count: inside.length
  }
}

t.test('two flipped bytes in a zstd file: one line per damaged frame in verify, read --lenient, decode --lenient', async (t) => {
  const { bytes, frames, damaged } = await damagedZstdArchive()
  const file = path.join(tmp, 'a.shoebox.zst')
  fs.writeFileSync(file, bytes)
  const { damage, records, recordBytes } = await stretches(bytes)
  const expected = damaged.map((f) => frameLine(frames[f], damage))
  // The damage meant: each flipped frame decompressed, to many stretches, and they are all the damage there is.
  t.ok(expected.every((e) => e.count >= 3), `stretches per damaged frame: ${expected.map((e) => e.count).join(', ')}`)
  t.equal(expected.reduce((sum, e) => sum + e.count, 0), damage.length, 'every stretch is in a damaged frame')
  t.ok(records > 600 && records < 1200, `${records} of 1200 records readable`)

  const verify = await cli(['verify', file])
  const bytesSkipped = damage.reduce((sum, d) => sum + d.bytesSkipped, 0)
  t.equal(verify.stdout.toString(), [
    `${file}: DAMAGED: ${records} records (v1 0, v2 ${records}), ${recordBytes} bytes, zstd readable, ${damage.length} damaged stretches, ${bytesSkipped} bytes skipped`,
    ...expected.map((e) => `${file}:   ${e.text}`)
  ].join('\n') + '\n', 'the file\'s line, then one line per damaged frame')
  t.equal(verify.code, 1)

  const read = await cli(['read', '--lenient', '--payload-only', file])
  t.equal(read.stderr, expected.map((e) => `shoebox read: ${file}: ${e.text}\n`).join(''), 'read: one stderr line per damaged frame')
  t.equal(read.stdout.toString().split('\n').length - 1, records, 'every readable record')
  t.equal(read.code, 1)

  const decoded = await cli(['decode', '--lenient', '--payload-only', file])
  t.equal(decoded.stderr, expected.map((e) => `shoebox decode: ${file}: ${e.text}\n`).join(''), 'decode: the same lines')
  t.equal(decoded.stdout.toString(), read.stdout.toString(), 'the same records')
  t.equal(decoded.code, 1)

  const strict = await cli(['read', '--payload-only', file])
  t.equal(strict.stderr.split('\n').length, 2, 'strict: one error line, as before')
  t.equal(strict.code, 1)
})

t.test('a frame skipped whole keeps its line; the garbage frames after it still give one each', async (t) => {
  const { bytes, frames, damaged } = await damagedZstdArchive(5)
  // Frame 4's magic broken: the walk is lost there, and skips to the end (one line, in compressed bytes).
  bytes[frames[4].start] ^= 0xff
  const file = path.join(tmp, 'b.shoebox.zst')
  fs.writeFileSync(file, bytes)
  const { damage } = await stretches(bytes)
  const expected = damaged.map((f) => frameLine(frames[f], damage))
  const read = await cli(['read', '--lenient', '--payload-only', file])
  const lines = read.stderr.split('\n').slice(0, -1)
  t.equal(lines.length, 3)
  t.same(lines.slice(0, 2), expected.map((e) => `shoebox read: ${file}: ${e.text}`), 'one line per garbage frame')
  t.match(lines.slice(2), [new RegExp(`^shoebox read: .*: skipped ${frames[4].length} damaged compressed bytes at compressed byte ${frames[4].start} \\(bad-compression: `)], 'then the frame skipped, in compressed bytes')
  t.equal(read.code, 1)
})

t.test(`a plain file with many damaged stretches: ${DAMAGE_LINES_PER_FILE} lines, then one counting the rest`, async (t) => {
  // 61 records; every other one (1, 3, ... 59) has a payload byte flipped: 30 stretches, each one record.
  const sizes = Array.from({ length: 61 }, (_, n) => encodeRecords([{ metadata: { n: String(n) }, payload: `plain ü ${n}` }]))
  const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((sum, b) => sum + b.length, 0))
  const bytes = Buffer.concat(sizes)
  for (let n = 1; n < 60; n += 2) bytes[starts[n] + sizes[n].length - 5] ^= 0xff
  const file = path.join(tmp, 'c.shoebox')
  fs.writeFileSync(file, bytes)
  const damagedAt = Array.from({ length: 30 }, (_, i) => starts[2 * i + 1])

  const verify = await cli(['verify', file])
  const lines = verify.stdout.toString().split('\n').slice(0, -1)
  t.match(lines[0], `${file}: DAMAGED: 31 records (v1 0, v2 31), `)
  t.match(lines[0], ', 30 damaged stretches, ')
  t.same(lines.slice(1, -1).map((l) => Number(/ at byte (\d+): /.exec(l)?.[1])), damagedAt.slice(0, DAMAGE_LINES_PER_FILE), 'the first stretches, one line each')
  t.equal(lines[lines.length - 1], `${file}:   ${30 - DAMAGE_LINES_PER_FILE} more damage lines not listed (${30 - DAMAGE_LINES_PER_FILE} damaged stretches; at most ${DAMAGE_LINES_PER_FILE} are listed per file)`)
  t.equal(verify.code, 1)

  const read = await cli(['read', '--lenient', '--payload-only', file])
  const errors = read.stderr.split('\n').slice(0, -1)
  t.equal(errors.length, DAMAGE_LINES_PER_FILE + 1)
  t.match(errors[0], `shoebox read: ${file}: skipped `)
  t.match(errors[0], ` damaged bytes at byte ${damagedAt[0]} (bad-checksum: `)
  t.equal(errors[DAMAGE_LINES_PER_FILE], `shoebox read: ${file}: ${30 - DAMAGE_LINES_PER_FILE} more damage lines not listed (${30 - DAMAGE_LINES_PER_FILE} damaged stretches; at most ${DAMAGE_LINES_PER_FILE} are listed per file)`)
  t.equal(read.stdout.toString(), Array.from({ length: 31 }, (_, i) => `plain ü ${2 * i}\n`).join(''), 'the good records')
  t.equal(read.code, 1)

  // The count starts again with each file.
  fs.copyFileSync(file, path.join(tmp, 'd.shoebox'))
  const two = await cli(['read', '--lenient', '--payload-only', path.join(tmp, '*.shoebox')])
  t.equal(two.stderr.split('\n').length - 1, 2 * (DAMAGE_LINES_PER_FILE + 1), 'each file its own lines and summary')
})
