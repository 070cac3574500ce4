/**
 * scanArchive() (ls, verify) of a file's bytes read whole against the same
 * bytes as a stream: the same stats, damage, compression failure and codec.
 * A plain file read whole is scanned in one WholeDecoder call; a compressed
 * one through its stage.
 */
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { encodeRecords } from '../../lib/index.js'
import { scanArchive, type Scan } from '../../lib/cli/scan.js'

const good = encodeRecords([
  { metadata: { host: 'web-1', 'ключ': 'значение' }, payload: '{"msg":"héllo wörld ☃ 😀"}' },
  { metadata: {}, payload: Buffer.alloc(0) },
  { metadata: { n: '3', emoji: '🦀' }, payload: Buffer.from([0, 1, 2, 255]) }
])
const first = encodeRecords([{ metadata: { host: 'web-1', 'ключ': 'значение' }, payload: '{"msg":"héllo wörld ☃ 😀"}' }]).length

const inputs: Array<[string, Buffer]> = [
  ['three records', good],
  ['empty', Buffer.alloc(0)],
  ['three bytes', Buffer.from('abc')],
  ['truncated in the last record', good.subarray(0, good.length - 3)],
  ['a flipped byte in the second record', Buffer.concat([good.subarray(0, first + 20), Buffer.from([good[first + 20] ^ 0xff]), good.subarray(first + 21)])],
  ['junk between records', Buffer.concat([good.subarray(0, first), Buffer.from('junk junk'), good.subarray(first)])],
  ['not an archive', Buffer.from('{"a":1}\n{"b":2}\n')],
  ['gzip', gzipSync(good)],
  ['gzip cut short', gzipSync(good).subarray(0, 30)]
]

/** A scan as compared: the compression failure by what it says. */
const comparable = (scan: Scan): unknown => ({
  ...scan,
  stats: { ...scan.stats },
  compression: scan.compression === null ? null : { code: scan.compression.code, message: scan.compression.message, offset: scan.compression.offset }
})

for (const [label, bytes] of inputs) {
  t.test(`${label}: scanned whole as scanned as a stream`, async (t) => {
    const streamed = await scanArchive(Readable.from([bytes], { objectMode: false }), 'dir/f.shoebox')
    const whole = await scanArchive(bytes, 'dir/f.shoebox')
    t.same(comparable(whole), comparable(streamed))
  })
}

t.test('damage found whole names the file and the byte', async (t) => {
  const scan = await scanArchive(inputs[4][1], 'dir/f.shoebox')
  t.equal(scan.stats.records, 2)
  t.match(scan.damage, [{ file: 'dir/f.shoebox', offset: first, reason: 'bad-header' }])
})
