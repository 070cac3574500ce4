/**
 * README, Guarantees: "lenient mode reports every skipped byte (`corrupt`
 * events, `stats.bytesSkipped`)". Over seeded damage (flipped bytes, a cut,
 * both) in any chunking, the records a lenient decoder hands out and the
 * stretches its `corrupt` events report tile the input exactly: every byte is
 * in one record or one reported stretch, none in two, none left out. And
 * decode()'s stats agree: `bytes + bytesSkipped` is the input's length,
 * `bytesSkipped` the sum of the events'. (fuzz.test.ts checks which records
 * come back; this checks that what does not is all accounted for.)
 */
import t from 'tap'
import { ArchiveDecoder, decode, encodeRecords, type ChecksumAlgorithm, type DecodeStream } from '../../lib/index.js'
import { mulberry32, randomInt as int, type Rng } from '../helpers.js'

const RUNS = 400

/** Where each byte went: [offset, length, what]. */
type Span = [number, number, string]

/** The first gap or overlap among `spans` over [0, length), or undefined when they tile it. */
function untiled (length: number, spans: Span[]): string | undefined {
  let at = 0
  for (const [offset, size, what] of [...spans].sort((a, b) => a[0] - b[0])) {
    if (offset !== at) return `${what} at byte ${offset}, where the one before ended at ${at}`
    at = offset + size
  }
  return at === length ? undefined : `the last span ends at byte ${at} of ${length}`
}

function damaged (rng: Rng): { input: Buffer, describe: string } {
  const records = Array.from({ length: int(rng, 5, 40) }, (_, i) => ({
    metadata: { key: 'v'.repeat(int(rng, 0, 20)), i: String(i) },
    payload: Buffer.alloc(int(rng, 0, 600), i)
  }))
  const v1 = rng() < 0.3
  const checksum: ChecksumAlgorithm = rng() < 0.5 ? 'crc32' : 'crc32c'
  const archive = Buffer.from(encodeRecords(records, v1 ? { format: 'v1' } : { format: 'v2', checksum }))
  const flips: number[] = []
  for (let n = int(rng, 0, 5); n > 0; n--) {
    const at = int(rng, 0, archive.length - 1)
    archive[at] ^= int(rng, 1, 255)
    flips.push(at)
  }
  const cut = rng() < 0.5 ? archive.length : int(rng, 0, archive.length)
  return { input: archive.subarray(0, cut), describe: `${v1 ? 'v1' : `v2/${checksum}`}, ${records.length} records, flips at [${flips.join(',')}], cut to ${cut}/${archive.length}` }
}

t.test(`lenient: the records handed out and the corrupt stretches tile the input, ${RUNS} seeded damaged archives`, async (t) => {
  const problems: string[] = []
  for (let seed = 1; seed <= RUNS; seed++) {
    const rng = mulberry32(seed)
    const { input, describe } = damaged(rng)
    const spans: Span[] = []
    let reported = 0
    const decoder = new ArchiveDecoder({
      record: (_record, _version, offset, size) => { spans.push([offset, size, 'a record']) },
      corrupt: (info) => {
        spans.push([info.offset, info.bytesSkipped, `a ${info.reason} stretch`])
        reported += info.bytesSkipped
      }
    }, { mode: 'lenient' })
    for (let at = 0; at < input.length;) {
      const n = int(rng, 1, 700)
      decoder.write(input.subarray(at, at + n))
      at += n
    }
    decoder.end()
    const gap = untiled(input.length, spans)
    if (gap !== undefined) problems.push(`seed ${seed} (${describe}): ${gap}`)

    const stream: DecodeStream = decode({ mode: 'lenient' })
    stream.on('corrupt', () => {})
    stream.end(input)
    for await (const record of stream) void record
    const { bytes, bytesSkipped } = stream.stats
    if (bytes + bytesSkipped !== input.length || bytesSkipped !== reported) {
      problems.push(`seed ${seed} (${describe}): stats say ${bytes} bytes of records and ${bytesSkipped} skipped of ${input.length}; the corrupt events ${reported}`)
    }
  }
  t.same(problems, [], 'every byte is in a record or a reported stretch, once')
})
