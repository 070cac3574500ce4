/**
 * Seeded property tests. Every test name carries its seed: to replay one,
 *   SHOEBOX_FUZZ_SEED=<seed> SHOEBOX_FUZZ_ITERATIONS=1 npx tap test/format/fuzz.test.ts
 * (each iteration i runs with seed = base + i).
 */
import t from 'tap'
import {
  CorruptArchiveError, crc32, crc32c, encode, encodeRecords, ShoeboxError,
  type ChecksumAlgorithm, type RecordInput
} from '../../lib/index.js'
import {
  decodeAll, firstMismatch, mulberry32, randomInt as int, randomPick as pick, recordEquals, type DecodeOutcome, type PlainRecord, type Rng
} from '../helpers.js'

const BASE_SEED = Number(process.env.SHOEBOX_FUZZ_SEED ?? 0x5eed)
const ITERATIONS = process.env.SHOEBOX_FUZZ_ITERATIONS === undefined ? undefined : Number(process.env.SHOEBOX_FUZZ_ITERATIONS)
const ROUND_TRIP_RUNS = ITERATIONS ?? 150
const DAMAGE_RUNS = ITERATIONS ?? 300
const V1_DAMAGE_RUNS = ITERATIONS ?? 100

function randomBytes (rng: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(rng() * 256)
  return b
}

/** Pools of whole code points (astral ones as surrogate pairs, never split). */
const POOLS: readonly string[][] = [
  [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:/'],
  [...'éüßñçøÅ€£¥'],
  [...'日本東京世界漢字'],
  [...'😀📦🎉🦄𝄞'],
  ['\u0000', '\t', '\n', '\u007f', '"', '\\'],
  ['e\u0301', 'a\u0308']
]

function randomString (rng: Rng, maxLength: number): string {
  const n = rng() < 0.15 ? 0 : int(rng, 0, maxLength)
  let s = ''
  const pool = rng() < 0.5 ? POOLS[0] : pick(rng, POOLS)
  for (let i = 0; i < n; i++) s += rng() < 0.8 ? pick(rng, pool) : pick(rng, pick(rng, POOLS))
  return s
}

function randomKey (rng: Rng): string {
  const r = rng()
  if (r < 0.05) return ''
  if (r < 0.08) return String(int(rng, 0, 99)) // integer-like: plain objects list these first
  if (r < 0.10) return pick(rng, ['__proto__', 'constructor', 'toString', 'hasOwnProperty'])
  return randomString(rng, 12)
}

function randomJson (rng: Rng, depth: number): unknown {
  const r = rng()
  if (depth <= 0 || r < 0.4) {
    return pick(rng, [null, true, false, int(rng, -1e6, 1e6), rng() * 1000, randomString(rng, 20)])
  }
  if (r < 0.7) return Array.from({ length: int(rng, 0, 6) }, () => randomJson(rng, depth - 1))
  const o: Record<string, unknown> = {}
  for (let i = int(rng, 0, 6); i > 0; i--) o[randomString(rng, 8)] = randomJson(rng, depth - 1)
  return o
}

interface Case {
  input: RecordInput
  expected: PlainRecord
}

/** A random record and what it must decode to. */
function randomRecord (rng: Rng, maxPayload: number): Case {
  const pairs: Array<[string, string]> = []
  const seen = new Set<string>()
  for (let i = rng() < 0.2 ? 0 : int(rng, 1, 6); i > 0; i--) {
    const key = randomKey(rng)
    if (seen.has(key)) continue // duplicate keys on disk would collapse
    seen.add(key)
    pairs.push([key, rng() < 0.15 ? '' : randomString(rng, 24)])
  }
  // Decoded metadata is a plain object: its entries come in object order.
  const metadataObject = Object.fromEntries(pairs) as Record<string, string>
  const expectedPairs = Object.entries(metadataObject)
  const metadata = rng() < 0.5 ? pairs : metadataObject

  let payload: unknown
  let bytes: Buffer
  const kind = int(rng, 0, 4)
  if (kind === 0) {
    bytes = randomBytes(rng, rng() < 0.1 ? 0 : int(rng, 0, maxPayload))
    payload = bytes
  } else if (kind === 1) {
    // A view into a bigger buffer at an odd offset.
    const n = int(rng, 0, maxPayload)
    const backing = randomBytes(rng, n + 17)
    const offset = int(rng, 0, 17)
    payload = new Uint8Array(backing.buffer, backing.byteOffset + offset, n)
    bytes = Buffer.from(backing.subarray(offset, offset + n))
  } else if (kind === 2) {
    let s = randomString(rng, Math.floor(maxPayload / 3))
    while (Buffer.byteLength(s) > maxPayload) s = s.slice(0, -1)
    if (s.length > 0 && /[\ud800-\udbff]$/.test(s)) s = s.slice(0, -1)
    payload = s
    bytes = Buffer.from(s, 'utf8')
  } else if (kind === 3) {
    payload = randomJson(rng, 3)
    // A string payload is written as UTF-8 text, anything else as JSON.
    bytes = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload), 'utf8')
  } else {
    payload = ''
    bytes = Buffer.alloc(0)
  }
  return { input: { metadata, payload }, expected: { pairs: expectedPairs, payload: bytes } }
}

/** Cut a buffer into random chunks: sometimes tiny, sometimes large, sometimes whole. */
function randomChunks (rng: Rng, buf: Buffer): Buffer[] {
  const mode = int(rng, 0, 3)
  if (mode === 0) return [buf]
  const max = mode === 1 ? 8 : mode === 2 ? 300 : 5000
  const out: Buffer[] = []
  for (let i = 0; i < buf.length;) {
    const n = int(rng, 1, max)
    out.push(buf.subarray(i, i + n))
    i += n
  }
  return out
}

/** The checksum applies to v2 only (the encoder refuses one with v1). */
function formatOptions (format: 'v1' | 'v2', checksum: ChecksumAlgorithm): { format: 'v1' | 'v2', checksum?: ChecksumAlgorithm } {
  return format === 'v1' ? { format } : { format, checksum }
}

async function encodeViaStream (inputs: RecordInput[], format: 'v1' | 'v2', checksum: ChecksumAlgorithm, chunkSize: number): Promise<Buffer> {
  const stream = encode({ ...formatOptions(format, checksum), chunkSize })
  const parts: Buffer[] = []
  stream.on('data', (b: Buffer) => { parts.push(Buffer.from(b)) })
  const done = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve)
    stream.on('error', reject)
  })
  for (const input of inputs) stream.write(input)
  stream.end()
  await done
  return Buffer.concat(parts)
}

t.test(`(a) random records round-trip through v1 and v2 across random chunkings (base seed ${BASE_SEED})`, async (t) => {
  for (let i = 0; i < ROUND_TRIP_RUNS; i++) {
    const seed = BASE_SEED + i
    const rng = mulberry32(seed)
    const cases = Array.from({ length: int(rng, 0, 12) }, () => randomRecord(rng, 5000))
    const inputs = cases.map((c) => c.input)
    const expected = cases.map((c) => c.expected)
    const checksum: ChecksumAlgorithm = rng() < 0.5 ? 'crc32' : 'crc32c'
    const viaStream = rng() < 0.25
    const chunkSize = int(rng, 64, 4096)
    t.test(`seed=${seed}: ${cases.length} records, v1 and v2/${checksum}${viaStream ? `, encode() chunkSize ${chunkSize}` : ''}`, async (t) => {
      for (const format of ['v1', 'v2'] as const) {
        const archive = viaStream
          ? await encodeViaStream(inputs, format, checksum, chunkSize)
          : encodeRecords(inputs, formatOptions(format, checksum))
        if (viaStream) {
          t.ok(archive.equals(encodeRecords(inputs, formatOptions(format, checksum))), `${format}: encode() and encodeRecords() agree`)
        }
        const chunks = randomChunks(rng, archive)
        const out = await decodeAll(chunks)
        t.equal(out.error, undefined, `${format}: decodes without error (${chunks.length} chunks)`)
        t.equal(firstMismatch(out.records, expected), undefined, `${format}: records round-trip (${chunks.length} chunks)`)
      }
    })
  }
})

/** Bit-at-a-time reference CRCs (reflected polynomials). */
function referenceCrc (poly: number, data: Uint8Array): number {
  let crc = 0xffffffff
  for (let i = 0; i < data.length; i++) {
    crc ^= data[i]
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ poly : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

t.test(`(a) crc32 and crc32c match a bitwise reference (base seed ${BASE_SEED})`, async (t) => {
  const check = Buffer.from('123456789')
  t.equal(crc32c(check), 0xe3069283, 'crc32c check value')
  t.equal(crc32(check), 0xcbf43926, 'crc32 check value')
  t.equal(crc32c(Buffer.alloc(0)), 0, 'crc32c of nothing')
  t.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa, 'crc32c of 32 zero bytes (RFC 3720)')
  t.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43, 'crc32c of 32 0xff bytes (RFC 3720)')
  const seed = BASE_SEED
  const rng = mulberry32(seed)
  const bad: string[] = []
  for (let i = 0; i < 400; i++) {
    const n = i < 80 ? i : int(rng, 0, 3000)
    const backing = randomBytes(rng, n + 9)
    const offset = int(rng, 0, 9)
    const data = new Uint8Array(backing.buffer, backing.byteOffset + offset, n) // unaligned views too
    const c = crc32c(data)
    const r = referenceCrc(0x82f63b78, data)
    if (c !== r) bad.push(`crc32c length ${n} offset ${offset}: ${c} != ${r}`)
    if (i % 4 === 0 && crc32(data) !== referenceCrc(0xedb88320, data)) bad.push(`crc32 length ${n} offset ${offset}`)
  }
  t.same(bad, [], `seed=${seed}: 400 random inputs (lengths 0..3000, unaligned) agree with the reference`)
})

/** Bytes each record occupies, from encoding them one by one. */
function recordRanges (inputs: RecordInput[], format: 'v1' | 'v2', checksum: ChecksumAlgorithm): Array<[number, number]> {
  const ranges: Array<[number, number]> = []
  let at = 0
  for (const input of inputs) {
    const n = encodeRecords([input], formatOptions(format, checksum)).length
    ranges.push([at, at + n])
    at += n
  }
  return ranges
}

interface Damaged {
  archive: Buffer
  flips: number[]
  cut: number
  describe: string
}

/** 1..5 flipped bytes, a truncation, or both. */
function damage (rng: Rng, archive: Buffer): Damaged {
  const kind = int(rng, 0, 2)
  const out = Buffer.from(archive)
  const flips: number[] = []
  let cut = archive.length
  if (kind !== 1) {
    for (let n = int(rng, 1, 5); n > 0; n--) {
      const at = int(rng, 0, archive.length - 1)
      out[at] ^= int(rng, 1, 255)
      flips.push(at)
    }
  }
  if (kind !== 0) cut = int(rng, 0, archive.length - 1)
  const parts: string[] = []
  if (flips.length > 0) parts.push(`flips at ${flips.join(',')}`)
  if (cut < archive.length) parts.push(`cut to ${cut}/${archive.length}`)
  return { archive: out.subarray(0, cut), flips, cut, describe: parts.join(', ') }
}

/** Indices of the originals the yielded records match, greedily in order; undefined entries are records matching none. */
function matchInOrder (records: DecodeOutcome['records'], originals: PlainRecord[]): Array<number | undefined> {
  const indices: Array<number | undefined> = []
  let next = 0
  for (const record of records) {
    let j = next
    while (j < originals.length && !recordEquals(record, originals[j])) j++
    if (j < originals.length) {
      indices.push(j)
      next = j + 1
    } else {
      indices.push(undefined)
    }
  }
  return indices
}

t.test(`(b) damaged v2 archives of ~50 records (base seed ${BASE_SEED})`, async (t) => {
  for (let i = 0; i < DAMAGE_RUNS; i++) {
    const seed = BASE_SEED + i
    const rng = mulberry32(seed)
    const cases = Array.from({ length: int(rng, 40, 60) }, () => randomRecord(rng, 1500))
    const inputs = cases.map((c) => c.input)
    const originals = cases.map((c) => c.expected)
    const checksum: ChecksumAlgorithm = rng() < 0.5 ? 'crc32' : 'crc32c'
    const archive = encodeRecords(inputs, { format: 'v2', checksum })
    const ranges = recordRanges(inputs, 'v2', checksum)
    const d = damage(rng, archive)
    // A record is lost when a flipped byte falls inside it or it does not end before the cut.
    const lost = ranges.map(([start, end]) => end > d.cut || d.flips.some((f) => f >= start && f < end))
    const intact = originals.filter((_, k) => !lost[k])
    const firstLost = lost.indexOf(true)
    const strictClean = firstLost < 0 || (lost.slice(firstLost).every(Boolean) && ranges[firstLost][0] === d.cut &&
      !d.flips.some((f) => f < d.cut))

    t.test(`seed=${seed}: ${cases.length} records, ${checksum}, ${d.describe}`, async (t) => {
      t.equal(ranges[ranges.length - 1][1], archive.length, 'record ranges tile the archive')
      const chunks = randomChunks(rng, d.archive)

      const strict = await decodeAll(chunks)
      const strictError = strict.error
      t.ok(strictError === undefined || strictError instanceof CorruptArchiveError,
        `strict: success or a CorruptArchiveError, got ${String(strictError)}`)
      if (strictError !== undefined) t.ok(strictError instanceof ShoeboxError, 'strict: the error is a ShoeboxError')
      const strictIdx = matchInOrder(strict.records, originals)
      t.notOk(strictIdx.includes(undefined), 'strict: every record yielded is an original record')
      t.ok(strictIdx.every((k, n) => n === 0 || (k as number) > (strictIdx[n - 1] as number)), 'strict: yielded indices strictly increase')
      // Stronger: strict yields exactly the records before the first damage, and fails there.
      const prefix = firstLost < 0 ? originals : originals.slice(0, firstLost)
      t.equal(firstMismatch(strict.records, prefix), undefined, 'strict: exactly the records before the damage')
      if (strictClean) {
        t.equal(strictError, undefined, 'strict: a cut at a record boundary is a clean end')
      } else {
        t.ok(strictError instanceof CorruptArchiveError, 'strict: damage is reported')
        if (strictError instanceof CorruptArchiveError) t.equal(strictError.offset, ranges[firstLost][0], 'strict: error offset is the damaged record')
      }

      const lenient = await decodeAll(chunks, { mode: 'lenient' })
      t.equal(lenient.error, undefined, 'lenient: never fails')
      const lenientIdx = matchInOrder(lenient.records, originals)
      t.notOk(lenientIdx.includes(undefined), 'lenient: every record yielded is an original record')
      t.equal(firstMismatch(lenient.records, intact), undefined,
        `lenient: yields every record the damage did not touch (${intact.length} of ${originals.length}), and only those`)
      t.equal(lenient.corrupt.length > 0, !strictClean, 'lenient: damage is reported as corrupt events')
    })
  }
})

/** A v2 header with a valid header CRC and the given lengths, and no body: what a forger (or bad luck) leaves. */
function forgedHeader (M: number, L: number): Buffer {
  const h = Buffer.alloc(24)
  h.writeUInt32LE(0x69867884, 0)
  h.writeUInt16LE(2, 4)
  h[6] = 1
  h.writeUInt32LE(M, 8)
  h.writeUInt32LE(L, 12)
  h.writeUInt32LE(crc32(h.subarray(0, 20)), 20)
  return h
}

t.test(`(b) a forged header that claims past maxRecordSize or the end of input hides nothing (base seed ${BASE_SEED})`, async (t) => {
  const runs = Math.max(1, Math.floor(DAMAGE_RUNS / 3))
  const problems: string[] = []
  for (let i = 0; i < runs; i++) {
    const seed = BASE_SEED + i
    const rng = mulberry32(seed)
    const cases = Array.from({ length: int(rng, 5, 40) }, () => randomRecord(rng, 1500))
    const inputs = cases.map((c) => c.input)
    const ranges = recordRanges(inputs, 'v2', 'crc32')
    const archive = encodeRecords(inputs)
    const at = ranges[int(rng, 0, ranges.length - 1)][0]
    // Over the 1 MiB limit used here, or under it but longer than the rest of the input.
    const length = rng() < 0.5 ? int(rng, (1 << 20) + 1, 0xffffffe0) : int(rng, archive.length, (1 << 20) - 64)
    const forged = Buffer.concat([archive.subarray(0, at), forgedHeader(int(rng, 0, 3) * 4, length), archive.subarray(at)])
    const out = await decodeAll(randomChunks(rng, forged), { mode: 'lenient', maxRecordSize: 1 << 20 })
    const bad = firstMismatch(out.records, cases.map((c) => c.expected))
    const stretches = out.corrupt.map((d) => `${d.offset}+${d.bytesSkipped}`).join(',')
    if (out.error !== undefined || bad !== undefined || stretches !== `${at}+24`) {
      problems.push(`seed=${seed} length ${length} at ${at}: ${String(out.error ?? bad ?? stretches)}`)
    }
  }
  t.same(problems, [], `${runs} archives with a forged header: every record recovered, one 24-byte stretch reported`)
})

t.test(`(b) damaged v1 archives never crash the decoder (base seed ${BASE_SEED})`, async (t) => {
  // v1 has no checksum, so damage may yield garbled records; it must still never throw anything but a CorruptArchiveError.
  const problems: string[] = []
  for (let i = 0; i < V1_DAMAGE_RUNS; i++) {
    const seed = BASE_SEED + i
    const rng = mulberry32(seed)
    const cases = Array.from({ length: int(rng, 10, 30) }, () => randomRecord(rng, 800))
    const archive = encodeRecords(cases.map((c) => c.input), { format: 'v1' })
    const d = damage(rng, archive)
    const chunks = randomChunks(rng, d.archive)
    const strict = await decodeAll(chunks)
    if (strict.error !== undefined && !(strict.error instanceof CorruptArchiveError)) {
      problems.push(`seed=${seed} strict (${d.describe}): ${String(strict.error)}`)
    }
    const lenient = await decodeAll(chunks, { mode: 'lenient', maxRecordSize: 1 << 20 })
    if (lenient.error !== undefined) problems.push(`seed=${seed} lenient (${d.describe}): ${String(lenient.error)}`)
  }
  t.same(problems, [], `${V1_DAMAGE_RUNS} damaged v1 archives: strict gives only CorruptArchiveError, lenient never fails`)
})
