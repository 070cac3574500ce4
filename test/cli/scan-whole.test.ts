/**
 * scanArchive() (ls, verify) of a file's bytes read whole against the same
 * bytes as a stream: the same stats, damage, compression failure and codec.
 * A plain file read whole is scanned in one WholeDecoder call; a compressed
 * one through its stage.
 */
import { Readable } from 'node:stream'
import t from 'tap'
import { scanArchive, type Scan } from '../../lib/cli/scan.js'
import { smallArchives, threeRecordsSecond } from '../helpers.js'

const inputs = smallArchives()
const flippedInSecond = (): Buffer => (inputs.find(([label]) => label === 'a flipped byte in the second record') as [string, Buffer])[1]

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
  const scan = await scanArchive(flippedInSecond(), 'dir/f.shoebox')
  t.equal(scan.stats.records, 2)
  t.match(scan.damage, [{ file: 'dir/f.shoebox', offset: threeRecordsSecond, reason: 'bad-header' }])
})
