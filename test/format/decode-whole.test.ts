/**
 * WholeDecoder (a whole file's bytes, one call, no stream) against decode()
 * (the stream) over the same bytes: the same records, positions, damage
 * events, errors and stats, whatever the damage, in both modes.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { decode, encodeRecords, type DecodeOptions, type DecodedCorruptInfo, type ShoeboxRecord } from '../../lib/index.js'
import { WholeDecoder } from '../../lib/format/decode.js'
import type { DecoderStats } from '../../lib/format/decoder.js'
import { haveVectors, vectorDir } from '../helpers.js'

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

const good = encodeRecords([
  { metadata: { host: 'web-1', 'ключ': 'значение' }, payload: '{"msg":"héllo wörld ☃ 😀"}' },
  { metadata: {}, payload: Buffer.alloc(0) },
  { metadata: { n: '3', emoji: '🦀' }, payload: Buffer.from([0, 1, 2, 255]) }
])
const first = encodeRecords([{ metadata: { host: 'web-1', 'ключ': 'значение' }, payload: '{"msg":"héllo wörld ☃ 😀"}' }]).length

const inputs: Array<[string, Buffer]> = [
  ['three records, unicode metadata and payloads', good],
  ['empty', Buffer.alloc(0)],
  ['truncated in the last record', good.subarray(0, good.length - 3)],
  ['truncated in the first record\'s header', good.subarray(0, 7)],
  ['a flipped byte in the second record', Buffer.concat([good.subarray(0, first + 20), Buffer.from([good[first + 20] ^ 0xff]), good.subarray(first + 21)])],
  ['junk between records', Buffer.concat([good.subarray(0, first), Buffer.from('junk junk'), good.subarray(first)])],
  ['junk after the last record', Buffer.concat([good, Buffer.from('trailing')])],
  ['not an archive (NDJSON)', Buffer.from('{"a":1}\n{"b":2}\n')]
]
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
  const bytes = inputs[4][1]
  const outcome = whole(bytes, { file: 'x.shoebox' })
  t.equal(outcome.records.length, 1, 'the first record, then the damage')
  t.match(outcome.error, { name: 'CorruptArchiveError', file: 'x.shoebox', offset: first, message: /^x\.shoebox: at byte \d+: / })
})
