/**
 * The rolling sink fed encodeNdjson()'s output, as `shoebox write` feeds it:
 * the chunks come with their record ends (no walk), and a flush block made
 * of chunks handed out one after another from one slab is a view of that
 * slab, not a copy. The files must hold exactly the bytes of encoding every
 * line at once, cut into blocks and files at record boundaries.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { decode, encodeNdjson, rollingSink, type FlushEvent, type ShoeboxRecord } from '../../lib/index.js'
import { decompressStages } from '../../lib/compress/codecs.js'
import { feed } from '../../lib/stream/deliver-then-fail.js'
import { archiveNames, tempDir } from '../fixtures-roll/util.js'
import { chunked, mulberry32 } from '../helpers.js'

const random = mulberry32(12)
const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, text: 'é📦'.repeat(Math.floor(random() * 60)) }))
const input = Buffer.from(lines.join('\n') + '\n')

async function readAll (file: string): Promise<ShoeboxRecord[]> {
  const out: ShoeboxRecord[] = []
  for await (const r of feed(fs.createReadStream(file), ...(await decompressStages({ file })), decode({ file }))) out.push(r as ShoeboxRecord)
  return out
}

for (const compress of ['none', 'gzip', 'zstd'] as const) {
  for (const [chunk, slab] of [[4096, 64 * 1024], [1000, 8 * 1024], [input.length, undefined]] as const) {
    t.test(`${compress}: NDJSON in chunks of ${chunk}, slabs of ${slab ?? 'the default'}: every line once, in order`, async (t) => {
      const dir = tempDir(t)
      const sink = rollingSink({ dir, compress, blockSize: 3000, roll: { records: 1100 }, flushInterval: 0 })
      let flushes = 0
      sink.on('flush', (e: FlushEvent) => { flushes += e.records > 0 ? 1 : 0 })
      await pipeline(Readable.from(chunked(input, chunk)), encodeNdjson({ chunkSize: slab }), sink)
      const names = archiveNames(dir)
      t.equal(names.length, 3, '1100 records a file')
      const records = (await Promise.all(names.map(async (n) => await readAll(path.join(dir, n))))).flat()
      t.same(records.map((r) => r.payload.toString()), lines)
      t.ok(flushes > names.length * 5, `blocks of about 3000 bytes (${flushes})`)
      if (compress === 'none') {
        // The same bytes as one encoding of every line, whatever the chunks and slabs.
        const whole: Buffer[] = []
        await pipeline(Readable.from([input]), encodeNdjson(), async (source: AsyncIterable<Buffer>) => { for await (const b of source) whole.push(b) })
        t.ok(Buffer.concat(names.map((n) => fs.readFileSync(path.join(dir, n)))).equals(Buffer.concat(whole)), 'files = one encoding, cut')
      }
    })
  }
}
