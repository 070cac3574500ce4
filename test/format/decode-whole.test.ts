/**
 * WholeDecoder (a whole file's bytes, one call, no stream) against decode()
 * (the stream) over the same bytes: the same records, positions, damage
 * events, errors and stats, whatever the damage, in both modes.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { decode, type DecodeOptions, type DecodedCorruptInfo, type ShoeboxRecord } from '../../lib/index.js'
import { WholeDecoder } from '../../lib/format/decode.js'
import type { DecoderStats } from '../../lib/format/decoder.js'
import { haveVectors, smallArchives, threeRecordsSecond, vectorDir } from '../helpers.js'

interface Outcome {
  records: ShoeboxRecord[]
  corrupt: DecodedCorruptInfo[]
  error: Record<string, unknown> | undefined
  stats: DecoderStats
}

/** What an error says, every field a reader may look at. */
function described (err: unknown): Record<string, unknown> | undefined {
  if (err === undefined) return undefined
  const e = err as Error & Record<string, unknown>
  return { name: e.name, message: e.message, code: e.code, reason: e.reason, offset: e.offset, file: e.file, detail: e.detail, cutShort: e.cutShort }
}

/** The bytes through decode(), in `chunk`-byte writes (one write when undefined). */
async function throughStream (bytes: Buffer, options: DecodeOptions, chunk?: number): Promise<Outcome> {
  const stream = decode(options)
  const records: ShoeboxRecord[] = []
  const corrupt: DecodedCorruptInfo[] = []
  stream.on('corrupt', (info: DecodedCorruptInfo) => { corrupt.push(info) })
  stream.on('data', (record: ShoeboxRecord) => { records.push(record) })
  const size = chunk ?? Math.max(1, bytes.length)
  for (let at = 0; at < bytes.length; at += size) stream.write(bytes.subarray(at, at + size))
  stream.end()
  const error = await new Promise<unknown>((resolve) => {
    stream.once('end', () => { resolve(undefined) })
    stream.once('error', resolve)
  })
  return { records, corrupt, error: described(error), stats: { ...stream.stats } }
}

function whole (bytes: Buffer, options: DecodeOptions): Outcome {
  const records: ShoeboxRecord[] = []
  const corrupt: DecodedCorruptInfo[] = []
  const decoder = new WholeDecoder(options, { record: (r) => { records.push(r) }, corrupt: (c) => { corrupt.push(c) } })
  let error: unknown
  try {
    decoder.decode(bytes)
  } catch (err) {
    error = err
  }
  return { records, corrupt, error: described(error), stats: { ...decoder.stats } }
}

/** Records as compared: metadata, payload bytes and position (none if not asked for). */
const comparable = (o: Outcome): unknown => ({
  ...o,
  records: o.records.map((r) => ({ metadata: r.metadata, payload: r.payload.toString('base64'), position: r.position }))
})

// The gzip ones too: bytes no decoder takes as an archive, refused alike.
const inputs = smallArchives()
const flippedInSecond = (): Buffer => (inputs.find(([label]) => label === 'a flipped byte in the second record') as [string, Buffer])[1]
if (haveVectors) {
  for (const name of ['small.shoebox', 'unicode_empty.shoebox', 'plain_dict_order.shoebox', 'damaged/small_flipped_magic.shoebox', 'damaged/small_truncated_in_payload.shoebox']) {
    inputs.push([`vector ${name}`, fs.readFileSync(path.join(vectorDir, name))])
  }
}

for (const [label, bytes] of inputs) {
  t.test(`${label}: WholeDecoder gives what decode() gives`, async (t) => {
    for (const mode of ['strict', 'lenient'] as const) {
      for (const positions of [false, true]) {
        for (const file of [undefined, 'dir/f.shoebox']) {
          const options: DecodeOptions = { mode, positions, file, baseOffset: 0 }
          const expected = comparable(await throughStream(bytes, options))
          t.same(comparable(whole(bytes, options)), expected, `${mode}, positions ${String(positions)}, file ${String(file)}`)
          // decode() itself gives the same whatever its chunks (test/format/chunking.test.ts): 7-byte writes here too.
          t.same(comparable(await throughStream(bytes, options, 7)), expected, `${mode}, positions ${String(positions)}: decode() in 7-byte writes`)
        }
      }
    }
  })
}

t.test('a strict failure names the file and the offset, after the records before it', async (t) => {
  const bytes = flippedInSecond()
  const outcome = whole(bytes, { file: 'x.shoebox' })
  t.equal(outcome.records.length, 1, 'the first record, then the damage')
  t.match(outcome.error, { name: 'CorruptArchiveError', file: 'x.shoebox', offset: threeRecordsSecond, message: /^x\.shoebox: at byte \d+: / })
})
