/**
 * The native checkRun (native/record_crc.c) against the JavaScript checks it
 * stands in for, on hostile bytes: for random and mutated archives (v2 records
 * of both checksums with and without an extension area, v1 records, forged
 * headers claiming sizes up to 4 GiB, junk), any `at` (a record's start or
 * not), `end` and `maxSize` (0, fractions, negative, NaN, Infinity), it must
 * return exactly where walking with the reader's checks (readRecord's
 * preamble, then checkV2) stops vouching, and depend on no byte outside
 * [at, end): the same answer on an exact copy of those bytes (a fresh
 * allocation, so that AddressSanitizer sees a read past either side, see
 * bench/RESULTS.md) and with every other byte of the buffer changed.
 *
 * Replay a failure with SHOEBOX_CHECKRUN_FUZZ_SEED (the seed is in the test's
 * name); SHOEBOX_CHECKRUN_FUZZ_CASES sets how many cases (default 3,000).
 */
import t from 'tap'
import { checkV2 } from '../../lib/format/v2.js'
import { MAGIC, PREAMBLE_SIZE } from '../../lib/format/constants.js'
import { crc32, crc32c } from '../../lib/checksum.js'
import { encodeRecords } from '../../lib/index.js'
import { nativeRecords } from '../../lib/native.js'
import { mulberry32, randomInt as int, randomPick as pick, type Rng } from '../helpers.js'

const checkRun = nativeRecords()?.checkRun
const SEED = Number(process.env.SHOEBOX_CHECKRUN_FUZZ_SEED ?? 0x5eed)
const CASES = Number(process.env.SHOEBOX_CHECKRUN_FUZZ_CASES ?? 3000)


function randomBytes (rng: Rng, n: number): Buffer {
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = int(rng, 0, 255)
  return out
}

/**
 * A v2 record laid out by hand: an extension area (which the encoder never
 * writes), a metadata block and payload of any bytes (neither check reads
 * them), either checksum; now and then an unknown algorithm or codec, a
 * version word with a high byte, or a record checksum off by one bit.
 */
function handRecord (rng: Rng): Buffer {
  const E = rng() < 0.4 ? int(rng, 0, rng() < 0.1 ? 65535 : 40) : 0
  const M = int(rng, 0, 60)
  const L = int(rng, 0, rng() < 0.1 ? 5000 : 200)
  const r = rng()
  const algorithm = r < 0.45 ? 1 : r < 0.9 ? 2 : pick(rng, [0, 3, 255])
  const flags = (rng() < 0.9 ? 0 : int(rng, 1, 15) << 4) | int(rng, 0, 15)
  const rec = Buffer.concat([Buffer.alloc(24), randomBytes(rng, E + M + L), Buffer.alloc(4)])
  rec.writeUInt32LE(MAGIC, 0)
  rec.writeUInt16LE(rng() < 0.97 ? 2 : 0x0102, 4)
  rec[6] = algorithm
  rec[7] = flags
  rec.writeUInt32LE(M, 8)
  rec.writeUInt32LE(L, 12)
  rec.writeUInt16LE(E, 16)
  rec.writeUInt16LE(rng() < 0.9 ? 0 : int(rng, 1, 65535), 18) // reserved: readers ignore it
  rec.writeUInt32LE(crc32(rec.subarray(0, 20)), 20)
  const body = rec.subarray(0, rec.length - 4)
  const sum = algorithm === 2 ? crc32c(body) : crc32(body) // an unknown algorithm's "checksum": any
  rec.writeUInt32LE((rng() < 0.95 ? sum : sum ^ (1 << int(rng, 0, 31))) >>> 0, rec.length - 4)
  return rec
}

/** A header whose CRC is right but whose lengths claim far more than follows (up to 4 GiB each). */
function forgedHeader (rng: Rng): Buffer {
  const h = Buffer.alloc(24 + int(rng, 0, 64))
  h.writeUInt32LE(MAGIC, 0)
  h.writeUInt16LE(2, 4)
  h[6] = int(rng, 1, 2)
  h.writeUInt32LE(pick(rng, [0xffffffff, 0x80000000, int(rng, 0, 0xffffffff), int(rng, 0, 100)]), 8)
  h.writeUInt32LE(pick(rng, [0xffffffff, 0xfffffffc, int(rng, 0, 0xffffffff), int(rng, 0, 100)]), 12)
  h.writeUInt16LE(int(rng, 0, 65535), 16)
  h.writeUInt32LE(crc32(h.subarray(0, 20)), 20)
  return h
}

function randomPiece (rng: Rng): Buffer {
  const r = rng()
  if (r < 0.35) {
    const records = Array.from({ length: int(rng, 1, 8) }, (_, i) => ({
      metadata: rng() < 0.3 ? {} as Record<string, string> : { id: String(i), k: 'v'.repeat(int(rng, 0, 30)) },
      payload: randomBytes(rng, rng() < 0.1 ? int(rng, 1000, 70_000) : int(rng, 0, 300))
    }))
    const s = rng()
    return encodeRecords(records, s < 0.5 ? {} : s < 0.85 ? { checksum: 'crc32c' } : { format: 'v1' })
  }
  if (r < 0.8) return handRecord(rng)
  if (r < 0.9) return forgedHeader(rng)
  return randomBytes(rng, int(rng, 1, 40))
}

/** Bits flipped, bytes set, junk put in, a stretch repeated or the end cut off; or nothing. */
function mutate (rng: Rng, bytes: Buffer): Buffer {
  let out = Buffer.from(bytes)
  for (let n = rng() < 0.5 ? 0 : int(rng, 1, 3); n > 0 && out.length > 0; n--) {
    const r = rng()
    const at = int(rng, 0, out.length - 1)
    if (r < 0.4) out[at] ^= 1 << int(rng, 0, 7)
    else if (r < 0.6) out[at] = pick(rng, [0, 0xff, 2, 0x84, 0x69, int(rng, 0, 255)])
    else if (r < 0.75) out = Buffer.concat([out.subarray(0, at), randomBytes(rng, int(rng, 1, 30)), out.subarray(at)])
    else if (r < 0.9) out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + int(rng, 1, 100)), out.subarray(at)])
    else out = out.subarray(0, at)
  }
  return out
}

/** Where the reader's own checks stop vouching from `at`: readRecord's preamble (magic, version 2), then checkV2. */
function walk (buf: Buffer, at: number, end: number, maxSize: number): number {
  for (;;) {
    if (end - at < PREAMBLE_SIZE || buf.readUInt32LE(at) !== MAGIC || buf.readUInt16LE(at + 4) !== 2) return at
    const size = checkV2(buf, at, end, maxSize)
    if (typeof size !== 'number') return at
    at += size
  }
}

/** Record starts of `bytes` as the pieces laid them (before mutation they are exact; after, near). */
function starts (pieces: Buffer[]): number[] {
  const out = [0]
  for (const p of pieces) out.push(out[out.length - 1] + p.length)
  return out
}

t.test(`checkRun stops where the JavaScript checks stop, reading only [at, end) (seed ${SEED}, ${CASES} cases)`, async (t) => {
  if (checkRun === undefined) {
    t.equal(nativeRecords(), null, 'checkRun is missing only where the native part is')
    return
  }
  const run = checkRun
  const rng = mulberry32(SEED)
  let vouchedSome = 0
  let records = 0
  for (let i = 0; i < CASES; i++) {
    const pieces = Array.from({ length: int(rng, 1, 12) }, () => randomPiece(rng))
    const bytes = mutate(rng, Buffer.concat(pieces))
    const bounds = starts(pieces).filter((b) => b <= bytes.length)
    const at = rng() < 0.75 ? pick(rng, bounds) : int(rng, 0, bytes.length)
    const e = rng()
    const end = e < 0.5 ? bytes.length : e < 0.75 ? int(rng, at, bytes.length) : Math.min(bytes.length, Math.max(at, pick(rng, bounds) + int(rng, -3, 3)))
    const largest = Math.max(...pieces.map((p) => p.length))
    const maxSize = rng() < 0.5 ? 64 * 1024 * 1024 : pick(rng, [largest, largest - 1, int(rng, 0, largest), largest + 0.5, largest - 0.5, 0, -1, NaN, Infinity, 2 ** 40])
    const want = walk(bytes, at, end, maxSize)
    const where = `case ${i} (seed ${SEED}): ${bytes.length} bytes, at ${at}, end ${end}, maxSize ${maxSize}`
    const got = run(bytes, at, end, maxSize)
    if (got !== want) {
      t.equal(got, want, `${where}: where the reader's checks stop`)
      return
    }
    // The bytes of [at, end) alone, in a fresh allocation of exactly that size.
    const exact = new Uint8Array(end - at)
    exact.set(bytes.subarray(at, end))
    const alone = run(exact, 0, exact.length, maxSize)
    // Every other byte of a bigger buffer changed, the bytes at a view's offset into it (as a pooled Buffer's).
    const pad = int(rng, 0, 16)
    const backing = randomBytes(rng, pad + bytes.length + int(rng, 0, 16))
    bytes.copy(backing, pad + at, at, end)
    const view = backing.subarray(pad, pad + bytes.length)
    const elsewhere = run(view, at, end, maxSize)
    if (alone !== want - at || elsewhere !== want) {
      t.same([alone, elsewhere], [want - at, want], `${where}: the same without the bytes outside [at, end)`)
      return
    }
    if (want > at) vouchedSome++
    for (let p = at; p < want; p += checkV2(bytes, p, end, maxSize) as number) records++
  }
  t.pass(`${CASES} cases: each stopped where the reader's checks stop (${vouchedSome} vouched for some of ${records} records in all)`)
  t.ok(vouchedSome > CASES / 8 && vouchedSome < CASES * 7 / 8, 'cases both ways: records vouched for, and none')
})

t.test('checkRun\'s arguments: offsets, odd buffers', async (t) => {
  if (checkRun === undefined) {
    t.equal(nativeRecords(), null, 'checkRun is missing only where the native part is')
    return
  }
  const run = checkRun
  const first = encodeRecords([{ metadata: { a: 'b' }, payload: Buffer.from('x'.repeat(100)) }])
  const archive = Buffer.concat([first, encodeRecords([{ metadata: {}, payload: Buffer.alloc(0) }])])
  const all = archive.length
  for (const [at, end] of [[NaN, all], [0, NaN], [-1, all], [0, all + 1], [0, Infinity], [-Infinity, all], [1.5, all], [0, all - 0.5], [2 ** 53, 2 ** 53], [5, 4]]) {
    t.throws(() => run(archive, at, end, 1e9), RangeError, `at ${at}, end ${end}`)
  }
  t.equal(run(archive, -0, all, 1e9), all, 'at -0 is 0')
  t.throws(() => run(archive, '0' as unknown as number, all, 1e9), 'a string is no offset')
  t.throws(() => run(new Uint16Array(8) as unknown as Uint8Array, 0, 0, 1e9), TypeError, 'a Uint8Array only')
  // A SharedArrayBuffer's view, a Buffer off the shared pool at an offset, a length-tracking view of a resizable buffer.
  const shared = new Uint8Array(new SharedArrayBuffer(all))
  shared.set(archive)
  t.equal(run(shared, 0, all, 1e9), all, 'a SharedArrayBuffer view')
  const pooled = Buffer.from(archive)
  t.ok(pooled.byteOffset > 0 || pooled.length >= Buffer.poolSize / 2, 'a pooled Buffer')
  t.equal(run(pooled, 0, all, 1e9), all, 'a pooled Buffer, at its offset')
  // (lib.es2024's ArrayBuffer options: not in this TypeScript's lib)
  const resizable = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(all + 100, { maxByteLength: all + 200 })
  const tracking = new Uint8Array(resizable)
  tracking.set(archive)
  ;(resizable as unknown as { resize: (n: number) => void }).resize(all - 1)
  t.equal(tracking.length, all - 1, 'shrunk')
  t.equal(run(tracking, 0, all - 1, 1e9), first.length, 'a shrunk view: the last record is cut')
  t.throws(() => run(tracking, 0, all, 1e9), RangeError, 'not past its length now')
  // A detached buffer's view has no bytes.
  const detached = new Uint8Array(archive)
  structuredClone(detached.buffer, { transfer: [detached.buffer] })
  t.equal(detached.length, 0, 'detached')
  t.equal(run(detached, 0, 0, 1e9), 0, 'nothing to check')
  t.throws(() => run(detached, 0, all, 1e9), RangeError, 'no bytes to check')
})
