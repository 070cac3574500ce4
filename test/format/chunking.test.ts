/**
 * Chunk boundaries must not matter: an archive fed to the decoder in any
 * split decodes to exactly the records of the unchunked decode.
 */
import t from 'tap'
import { CorruptArchiveError, encodeRecords, type RecordInput } from '../../lib/index.js'
import {
  archiveEntries, chunkIter, decodeAll, decodeDirect, firstMismatch, plain, readManifest, readVector,
  splitAt, vectorSkip, type DecodeOutcome, type PlainRecord
} from '../helpers.js'

const CHUNK_SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 321, 4096]

/** Archives up to this size get every split point, and every chunk size through the decode() stream. */
const SMALL = 64 * 1024

/**
 * 1-byte chunks of large.shoebox (1.1 MB) through decode() may allocate and
 * copy at most this many times the archive's bytes: a decoder that joined
 * each new chunk to the bytes it holds would copy ~n^2/2 (6e11 here). The
 * guard counts bytes, not time: a timing would fail on a busy machine.
 */
const LARGE_ONE_BYTE_COPY_FACTOR = 4

/** The bytes Buffer.allocUnsafe/allocUnsafeSlow allocate and Buffer#copy copies while `run` runs. */
async function bytesMoved<T> (run: () => Promise<T>): Promise<{ result: T, allocated: number, copied: number }> {
  const { allocUnsafe, allocUnsafeSlow } = Buffer
  const copy = Buffer.prototype.copy
  let allocated = 0
  let copied = 0
  Buffer.allocUnsafe = (size: number) => { allocated += size; return allocUnsafe(size) }
  Buffer.allocUnsafeSlow = (size: number) => { allocated += size; return allocUnsafeSlow(size) }
  Buffer.prototype.copy = function (this: Buffer, ...args: Parameters<Buffer['copy']>): number {
    const n = copy.apply(this, args)
    copied += n
    return n
  }
  try {
    return { result: await run(), allocated, copied }
  } finally {
    Object.assign(Buffer, { allocUnsafe, allocUnsafeSlow })
    Buffer.prototype.copy = copy
  }
}

/** Same records and the same failure (or none) and corrupt events as the reference outcome? */
function sameOutcome (got: DecodeOutcome, want: { records: PlainRecord[], error: unknown, corrupt: DecodeOutcome['corrupt'] }): string | undefined {
  const mismatch = firstMismatch(got.records, want.records)
  if (mismatch !== undefined) return mismatch
  const code = (e: unknown): string => e instanceof CorruptArchiveError ? `${e.code}@${e.offset}` : String(e)
  if (code(got.error) !== code(want.error)) return `error ${code(got.error)}, expected ${code(want.error)}`
  const events = (c: DecodeOutcome['corrupt']): string => JSON.stringify(c.map((i) => [i.offset, i.reason, i.bytesSkipped]))
  if (events(got.corrupt) !== events(want.corrupt)) return `corrupt events ${events(got.corrupt)}, expected ${events(want.corrupt)}`
  return undefined
}

async function reference (archive: Buffer, mode: 'strict' | 'lenient' = 'strict'): Promise<{ records: PlainRecord[], error: unknown, corrupt: DecodeOutcome['corrupt'] }> {
  const whole = await decodeAll([archive], { mode })
  return { records: whole.records.map(plain), error: whole.error, corrupt: whole.corrupt }
}

/** Every STREAM_EVERY-th split point also goes through the decode() stream (the rest straight to the ArchiveDecoder). */
const STREAM_EVERY = 17

/**
 * Decode split in two at every position 0..length; returns the failing
 * split points, described. Each split goes to the ArchiveDecoder behind
 * decode() (where chunks are handled); every STREAM_EVERY-th also goes
 * through the decode() stream itself, whose per-run cost is much higher.
 */
async function badSplitPoints (archive: Buffer, want: Awaited<ReturnType<typeof reference>>, mode: 'strict' | 'lenient' = 'strict'): Promise<string[]> {
  const bad: string[] = []
  for (let at = 0; at <= archive.length && bad.length < 5; at++) {
    const direct = sameOutcome(decodeDirect(splitAt(archive, at), { mode }), want)
    if (direct !== undefined) bad.push(`split at ${at} (ArchiveDecoder): ${direct}`)
    if (at % STREAM_EVERY === 0 || at === archive.length) {
      const viaStream = sameOutcome(await decodeAll(splitAt(archive, at), { mode }), want)
      if (viaStream !== undefined) bad.push(`split at ${at} (decode()): ${viaStream}`)
    }
  }
  return bad
}

/**
 * The seven rolled/ files come from one generator and are alike; 2..13-byte
 * chunks of all of them cost ~10 s more for no new coverage. By default the
 * first and last get every chunk size and the middle five 1, 321 and 4096;
 * SHOEBOX_FULL_CHUNKING=1 runs every size on every file.
 */
const FULL_MATRIX = process.env.SHOEBOX_FULL_CHUNKING === '1'
const REDUCED_SIZES = [1, 321, 4096]

t.test('valid vectors', { skip: vectorSkip }, async (t) => {
  const entries = archiveEntries()
  const rolled = entries.map((e) => e.file).filter((f) => f.startsWith('rolled/')).sort()
  const reduced = new Set(FULL_MATRIX ? [] : rolled.slice(1, -1))
  for (const entry of entries) {
    const archive = readVector(entry.file)
    const want = await reference(archive)
    t.equal(want.error, undefined, `${entry.file}: unchunked decode succeeds`)
    t.equal(want.records.length, entry.records, `${entry.file}: unchunked decode has ${String(entry.records)} records`)
    const small = archive.length <= SMALL

    if (small) {
      t.test(`${entry.file}: two chunks split at every byte 0..${archive.length}`, async (t) => {
        t.same(await badSplitPoints(archive, want), [], 'every split point decodes to the unchunked records')
      })
    }

    for (const size of reduced.has(entry.file) ? REDUCED_SIZES : CHUNK_SIZES) {
      // Small archives (and 1-byte chunks of large.shoebox) go through the
      // decode() stream; the megabyte ones at other sizes go straight to the
      // ArchiveDecoder behind it, which is where chunks are handled, to keep
      // the run time down.
      const viaStream = small || (size === 1 && entry.file === 'large.shoebox')
      t.test(`${entry.file}: ${size}-byte chunks${viaStream ? ' via decode()' : ' via ArchiveDecoder'}`, async (t) => {
        const guarded = size === 1 && entry.file === 'large.shoebox'
        const decoding = async (): Promise<DecodeOutcome> => viaStream ? await decodeAll(chunkIter(archive, size)) : decodeDirect(chunkIter(archive, size))
        const { result: got, allocated, copied } = guarded ? await bytesMoved(decoding) : { result: await decoding(), allocated: 0, copied: 0 }
        t.equal(sameOutcome(got, want), undefined, `${size}-byte chunks decode to the unchunked records`)
        if (guarded) {
          const bound = LARGE_ONE_BYTE_COPY_FACTOR * archive.length
          t.ok(allocated <= bound && copied <= bound,
            `1-byte chunks of a 1.1 MB archive are joined in linear work: ${allocated} bytes allocated, ${copied} copied (at most ${bound})`)
        }
      })
    }
  }
})

t.test('damaged vectors: the same outcome however they are chunked', { skip: vectorSkip }, async (t) => {
  for (const entry of readManifest().vectors.filter((v) => v.kind === 'damaged')) {
    const file = entry.file as string
    const archive = readVector(file)
    for (const mode of ['strict', 'lenient'] as const) {
      const want = await reference(archive, mode)
      t.ok(mode === 'strict' ? want.error instanceof CorruptArchiveError : want.corrupt.length === 1,
        `${file} (${mode}): the unchunked decode sees the damage`)
      t.test(`${file} (${mode}): two chunks split at every byte 0..${archive.length}`, async (t) => {
        t.same(await badSplitPoints(archive, want, mode), [], 'every split point gives the unchunked outcome')
      })
      for (const size of CHUNK_SIZES) {
        t.test(`${file} (${mode}): ${size}-byte chunks`, async (t) => {
          t.equal(sameOutcome(await decodeAll(chunkIter(archive, size), { mode }), want), undefined,
            `${size}-byte chunks give the unchunked outcome`)
        })
      }
    }
  }
})

/** Deterministic filler bytes (no magic marker inside by construction: all bytes < 0x60). */
function filler (n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = seed >>> 0
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    b[i] = (x >>> 16) % 0x60
  }
  return b
}

function variedRecords (withBig: boolean): RecordInput[] {
  const records: RecordInput[] = [
    { metadata: {}, payload: Buffer.alloc(0) },
    { payload: '' },
    { metadata: { 'kéy': 'välüé', '€': 'euro', '日本': '東京', emoji: '😀📦', '': '' }, payload: 'héllo 世界' },
    { metadata: [['z', 'last-first'], ['a', ''], ['', 'empty key']], payload: { json: [1, 2, 3], nested: { ok: true } } },
    { metadata: { bin: 'payload' }, payload: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) },
    { metadata: { typed: 'uint8array' }, payload: new Uint8Array([0x84, 0x78, 0x86, 0x69, 2, 0]) }
  ]
  if (withBig) records.push({ metadata: { part: 'big', len: String(200 * 1024) }, payload: filler(200 * 1024, 7) })
  records.push({ metadata: { after: 'big' }, payload: 'tail' }, { metadata: {}, payload: '' })
  return records
}

/** What an input record decodes to. */
function expectedOf (input: RecordInput): PlainRecord {
  const m = input.metadata
  const pairs: Array<[string, string]> = m === undefined ? [] : Array.isArray(m) ? m.map(([k, v]) => [k, v]) : Object.entries(m)
  const p = input.payload
  const payload = Buffer.isBuffer(p)
    ? p
    : typeof p === 'string'
      ? Buffer.from(p, 'utf8')
      : p instanceof Uint8Array ? Buffer.from(p) : Buffer.from(JSON.stringify(p), 'utf8')
  return { pairs, payload }
}

t.test('v2 archive of varied records', async (t) => {
  const smallInputs = variedRecords(false)
  const bigInputs = variedRecords(true)
  const smallV2 = encodeRecords(smallInputs, { format: 'v2' })
  const bigV2 = encodeRecords(bigInputs, { format: 'v2', checksum: 'crc32c' })
  // v1 and both v2 checksums back to back.
  const mixed = Buffer.concat([
    encodeRecords(smallInputs, { format: 'v1' }), smallV2, encodeRecords(smallInputs, { format: 'v2', checksum: 'crc32c' })
  ])
  const cases: Array<{ name: string, archive: Buffer, expected: PlainRecord[], allSplits: boolean }> = [
    { name: 'small v2 (crc32)', archive: smallV2, expected: smallInputs.map(expectedOf), allSplits: true },
    { name: 'mixed v1 + v2 crc32 + v2 crc32c', archive: mixed, expected: [...smallInputs, ...smallInputs, ...smallInputs].map(expectedOf), allSplits: true },
    { name: 'v2 (crc32c) with a 200 KB payload', archive: bigV2, expected: bigInputs.map(expectedOf), allSplits: false }
  ]
  for (const c of cases) {
    const want = await reference(c.archive)
    t.equal(firstMismatch(want.records, c.expected), undefined, `${c.name}: unchunked decode gives the input records`)
    if (c.allSplits) {
      t.test(`${c.name}: two chunks split at every byte 0..${c.archive.length}`, async (t) => {
        t.same(await badSplitPoints(c.archive, want), [], 'every split point decodes to the unchunked records')
      })
    } else {
      // Every split point of 200 KB would be 200k decodes: split around every record boundary instead.
      t.test(`${c.name}: two chunks split within 30 bytes of every record boundary`, async (t) => {
        const bounds: number[] = [0]
        for (const input of bigInputs) bounds.push(bounds[bounds.length - 1] + encodeRecords([input], { format: 'v2' }).length)
        t.equal(bounds[bounds.length - 1], c.archive.length, 'record sizes add up to the archive')
        const bad: string[] = []
        const points = new Set<number>()
        for (const b of bounds) for (let d = -30; d <= 30; d++) if (b + d >= 0 && b + d <= c.archive.length) points.add(b + d)
        for (const at of points) {
          const mismatch = sameOutcome(await decodeAll(splitAt(c.archive, at)), want)
          if (mismatch !== undefined) bad.push(`split at ${at}: ${mismatch}`)
        }
        t.same(bad, [], `${points.size} split points decode to the unchunked records`)
      })
    }
    for (const size of CHUNK_SIZES) {
      t.test(`${c.name}: ${size}-byte chunks`, async (t) => {
        t.equal(sameOutcome(await decodeAll(chunkIter(c.archive, size)), want), undefined, `${size}-byte chunks decode to the unchunked records`)
      })
    }
  }
})
