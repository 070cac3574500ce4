/**
 * Recovery reads a temporary file a window at a time, never whole
 * (roll/temp-scan.ts): fs.readFile refuses a file over 2 GiB, and a
 * `shoebox write` without a roll size leaves one when it is killed. Here
 * the window is made small (recoverFile's `scan` option) so that files of a
 * few KB cross window edges everywhere: a record, gzip member or zstd frame
 * split across windows and larger than one, damage at a window's edge, a
 * torn last record or member or frame, readable data found only windows
 * after the damage. Every window, the whole file in one among them, must
 * give the answer the case expects: the same judgement, whatever the window.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import t from 'tap'
import { encodeRecords, type RecordInput } from '../../lib/index.js'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { recoverFile, type RecoveredFile } from '../../lib/roll/recover.js'
import { prng, tempDir } from '../fixtures-roll/util.js'

const WINDOWS = [16, 17, 29, 64, 100, 257, 1000, 4096, 1 << 24]

type Codec = 'plain' | 'gzip' | 'zstd'
const EXT: Record<Codec, string> = { plain: '.shoebox', gzip: '.shoebox.gz', zstd: '.shoebox.zst' }

/** `records` as one block of a writer of `codec`: encoded records, one gzip member, or one zstd frame. */
async function unit (codec: Codec, records: RecordInput[]): Promise<Buffer> {
  const block = encodeRecords(records)
  if (codec === 'gzip') return zlib.gzipSync(block, { level: 1 })
  if (codec === 'zstd') return await zstdFrame(block, 1)
  return block
}

const random = prng(0x5eed)
const small = (n: number): RecordInput => ({ metadata: { n: String(n), 'clé': 'ünïcode 📦' }, payload: `small ${n}` })
/** A record of 3000 bytes that do not compress: in every codec, larger than most windows here. */
const big: RecordInput = { metadata: { n: 'big' }, payload: Buffer.from(Array.from({ length: 3000 }, () => Math.floor(random() * 256))) }

interface Units { first: Buffer, big: Buffer, last: Buffer }

/** Three records, the big one, two records: as three blocks of `codec`. */
async function units (codec: Codec): Promise<Units> {
  return { first: await unit(codec, [small(0), small(1), small(2)]), big: await unit(codec, [big]), last: await unit(codec, [small(3), small(4)]) }
}

interface Outcome { records: number, bytesDropped: number, damaged: boolean, tooLarge?: string, sealed: Buffer | null }

/** Leave `data` as a dead writer's temporary file, recover it reading `window` bytes at a time, and read back what was sealed. */
async function recoverWith (dir: string, codec: Codec, data: Buffer, window: number): Promise<Outcome> {
  const temp = path.join(dir, `.x${EXT[codec]}~host~1.part`)
  fs.writeFileSync(temp, data)
  const r: RecoveredFile = await recoverFile(dir, temp, `x${EXT[codec]}`, { window })
  const sealed = r.path === null ? null : fs.readFileSync(r.path)
  if (r.path !== null) fs.unlinkSync(r.path)
  const left = fs.readdirSync(dir)
  if (left.length !== 0) throw new Error(`left behind: ${left.join(' ')}`)
  const outcome: Outcome = { records: r.records, bytesDropped: r.bytesDropped, damaged: r.damaged, sealed }
  if (r.tooLarge !== undefined) outcome.tooLarge = r.tooLarge
  return outcome
}

/** `data` with the byte at `at` flipped. */
function flip (data: Buffer, at: number): Buffer {
  const out = Buffer.from(data)
  out[at] ^= 0xff
  return out
}

/** Bytes that hold no record, gzip member or zstd frame, and no start of one. */
const garbage = (n: number): Buffer => Buffer.alloc(n, 0x2a)

for (const codec of ['plain', 'gzip', 'zstd'] as const) {
  t.test(`${codec}: a whole file is sealed as it is, whatever the window`, async (t) => {
    const dir = tempDir(t)
    const u = await units(codec)
    const data = Buffer.concat([u.first, u.big, u.last])
    for (const window of WINDOWS) {
      t.same(await recoverWith(dir, codec, data, window), { records: 6, bytesDropped: 0, damaged: false, sealed: data }, `window ${window}`)
    }
  })

  t.test(`${codec}: a torn last block larger than the window is cut, at any point of it and any window`, async (t) => {
    const dir = tempDir(t)
    const u = await units(codec)
    const whole = Buffer.concat([u.first, u.last])
    const cuts = [1, 2, 3, 4, 5, 10, 17, 18, 19, 100, u.big.length >> 1, u.big.length - 8, u.big.length - 4, u.big.length - 1]
    for (const cut of cuts) {
      for (const window of WINDOWS) {
        t.same(await recoverWith(dir, codec, Buffer.concat([whole, u.big.subarray(0, cut)]), window),
          { records: 5, bytesDropped: cut, damaged: false, sealed: whole }, `cut after ${cut} bytes, window ${window}`)
      }
    }
  })

  t.test(`${codec}: damage with readable data after it, even windows later: sealed whole, never cut`, async (t) => {
    const dir = tempDir(t)
    const u = await units(codec)
    const start = u.first.length
    // In the big block: its first byte, its middle, its last; and a window's edge among them.
    const at = [start, start + 1, start + (u.big.length >> 1), start + u.big.length - 1]
    for (const gap of [0, 1, 700]) {
      const clean = Buffer.concat([u.first, u.big, garbage(gap), u.last])
      for (const damage of at) {
        const data = flip(clean, damage)
        for (const window of [...WINDOWS, damage, damage - 1, damage + 1]) {
          t.same(await recoverWith(dir, codec, data, window), { records: 5, bytesDropped: 0, damaged: true, sealed: data },
            `damage at ${damage}, ${gap} bytes of garbage, window ${window}`)
        }
      }
    }
  })

  t.test(`${codec}: damage with nothing readable after it is cut at the last whole block before it`, async (t) => {
    const dir = tempDir(t)
    const u = await units(codec)
    const start = u.first.length
    for (const gap of [0, 700]) {
      const clean = Buffer.concat([u.first, u.big, garbage(gap)])
      for (const damage of [start, start + (u.big.length >> 1), start + u.big.length - 1]) {
        const data = flip(clean, damage)
        for (const window of [...WINDOWS, damage, damage + 1]) {
          t.same(await recoverWith(dir, codec, data, window), { records: 3, bytesDropped: data.length - start, damaged: false, sealed: u.first },
            `damage at ${damage}, ${gap} bytes of garbage after, window ${window}`)
        }
      }
    }
  })
}

for (const codec of ['gzip', 'zstd'] as const) {
  t.test(`${codec}: a complete block whose content is not records is damage, judged before its end`, async (t) => {
    const dir = tempDir(t)
    const u = await units(codec)
    const text = Buffer.from('not a record, '.repeat(2000))
    const foreign = codec === 'gzip' ? zlib.gzipSync(text) : await zstdFrame(text, 1)
    const after = Buffer.concat([u.first, foreign, u.last])
    const last = Buffer.concat([u.first, foreign])
    for (const window of WINDOWS) {
      t.same(await recoverWith(dir, codec, after, window), { records: 5, bytesDropped: 0, damaged: true, sealed: after }, `records after it, window ${window}`)
      t.same(await recoverWith(dir, codec, last, window), { records: 3, bytesDropped: foreign.length, damaged: false, sealed: u.first }, `last, window ${window}`)
    }
  })
}

t.test('plain: records each split at a window edge, and torn right at one', async (t) => {
  const dir = tempDir(t)
  const records = Array.from({ length: 10 }, (_, i) => small(i))
  const data = encodeRecords(records)
  const one = encodeRecords([small(0)]).length
  // A window of a record's length puts every edge at a record's start; one byte off, inside each.
  for (const window of [one - 1, one, one + 1, 2 * one]) {
    t.same(await recoverWith(dir, 'plain', data, window), { records: 10, bytesDropped: 0, damaged: false, sealed: data }, `whole, window ${window}`)
    // Torn where the window ends: the last window holds exactly the torn part, or one byte of it.
    for (const cut of [window, window + 1, window - 1].filter((n) => n > 0 && n < data.length)) {
      const kept = Math.floor(cut / one)
      t.same(await recoverWith(dir, 'plain', data.subarray(0, cut), window),
        { records: kept, bytesDropped: cut - kept * one, damaged: false, sealed: kept === 0 ? null : data.subarray(0, kept * one) }, `torn at ${cut}, window ${window}`)
    }
  }
})

t.test('zstd: a frame over maxFrameSize after good frames is kept, unread, with small windows too', async (t) => {
  const dir = tempDir(t)
  // 2050 RLE blocks of 128 KiB of zeros, no content size: 8 KB that could hold 256 MiB + 256 KiB.
  const blocks = Array.from({ length: 2050 }, (_, i) => {
    const block = Buffer.alloc(4)
    block.writeUIntLE(131072 << 3 | 1 << 1 | (i === 2049 ? 1 : 0), 0, 3)
    return block
  })
  const u = await units('zstd')
  const good = Buffer.concat([u.first, u.big])
  const data = Buffer.concat([good, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 10 << 3]), ...blocks])
  const outcomes = []
  for (const window of WINDOWS) {
    const outcome = await recoverWith(dir, 'zstd', data, window)
    t.match(outcome, { records: 4, bytesDropped: 0, damaged: false, sealed: data }, `window ${window}`)
    t.match(outcome.tooLarge, new RegExp(`^zstd data: the frame at compressed byte ${good.length} could hold at least 268566528 bytes`))
    outcomes.push(outcome.tooLarge)
  }
  t.equal(new Set(outcomes).size, 1, 'the same reason, whatever the window')
})

t.test('an empty file is removed, and a foreign one left alone, with a small window', async (t) => {
  const dir = tempDir(t)
  t.same(await recoverWith(dir, 'plain', Buffer.alloc(0), 16), { records: 0, bytesDropped: 0, damaged: false, sealed: null })
  const temp = path.join(dir, '.y.shoebox~host~1.part')
  fs.writeFileSync(temp, 'not an archive, '.repeat(100))
  await t.rejects(recoverFile(dir, temp, 'y.shoebox', { window: 16 }), { code: 'SHOEBOX_BAD_MAGIC' })
  t.equal(fs.readFileSync(temp, 'utf8'), 'not an archive, '.repeat(100), 'left as it is')
})

t.test('zstd: a skippable frame torn at the end is cut like any torn frame, at any point of it and any window', async (t) => {
  const dir = tempDir(t)
  const u = await units('zstd')
  const whole = Buffer.concat([u.first, u.last])
  const skippable = Buffer.alloc(8 + 5000, 0x2a)
  skippable.writeUInt32LE(0x184d2a53, 0)
  skippable.writeUInt32LE(5000, 4)
  t.same(await recoverWith(dir, 'zstd', Buffer.concat([whole, skippable]), 4096), { records: 5, bytesDropped: 0, damaged: false, sealed: Buffer.concat([whole, skippable]) }, 'whole, it is kept')
  for (const cut of [1, 7, 8, 9, 100, 4999, 5007]) {
    for (const window of WINDOWS) {
      t.same(await recoverWith(dir, 'zstd', Buffer.concat([whole, skippable.subarray(0, cut)]), window),
        { records: 5, bytesDropped: cut, damaged: false, sealed: whole }, `cut after ${cut} bytes, window ${window}`)
    }
  }
})
