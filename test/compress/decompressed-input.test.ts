/**
 * decompressedInput(): plain input is handed on as the very stream given (no
 * stage), gzip and zstd as their text; damage ends the text cleanly after
 * every byte before it, calls onDamage before that end, and is kept as
 * `failure`, naming the input.
 */
import { Readable } from 'node:stream'
import zlib from 'node:zlib'
import t from 'tap'
import { decompressedInput } from '../../lib/compress/decompressed-input.js'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { CorruptArchiveError } from '../../lib/errors.js'
import { chunked } from '../helpers.js'

async function read (stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const TEXT = Buffer.from(Array.from({ length: 3000 }, (_, i) => `{"i":${i}}\n`).join(''))

// First in this file: no test before it has loaded gzip's stage (member-gunzip.ts), which then loads (on the thread
// pool: several turns of the event loop) while the input fails. Left to wait on that load with its first bytes in it,
// the input was destroyed with them, and its error found no listener (the test process failed).
t.test('gzip input read on while its stage loads: a read error meanwhile comes after the first bytes, which are kept', async (t) => {
  const members = [zlib.gzipSync(TEXT.subarray(0, 5000)), zlib.gzipSync(TEXT.subarray(5000))]
  let sent = false
  const input = new Readable({
    read () {
      if (sent) return
      sent = true
      this.push(members[0])
      // The next turn of the event loop: once the first bytes are peeked at, before a module load could end.
      setImmediate(() => { this.destroy(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })) })
    }
  })
  const text = await decompressedInput(input, 'in.ndjson.gz')
  t.ok((await read(text.stream)).equals(TEXT.subarray(0, 5000)), 'the first member whole')
  t.match(text.failure, { code: 'SHOEBOX_IO', message: 'cannot read in.ndjson.gz: input/output error (EIO)' })
})

t.test('plain input is the stream given, untouched', async (t) => {
  const input = Readable.from(chunked(TEXT, 100))
  const text = await decompressedInput(input, 'stdin')
  t.equal(text.stream, input, 'no stage')
  t.equal(text.codec, 'none')
  t.ok((await read(text.stream)).equals(TEXT))
  t.equal(text.failure, null)
})

t.test('gzip (two members) and zstd (two frames) come out as their text, in chunks of any size', async (t) => {
  const half = 12_345
  for (const [codec, bytes] of [
    ['gzip', Buffer.concat([zlib.gzipSync(TEXT.subarray(0, half)), zlib.gzipSync(TEXT.subarray(half))])],
    ['zstd', Buffer.concat([await zstdFrame(TEXT.subarray(0, half), 3), await zstdFrame(TEXT.subarray(half), 3)])]
  ] as const) {
    for (const size of [1, 2, 5, 4096]) {
      const text = await decompressedInput(Readable.from(chunked(bytes, size)), 'stdin')
      t.equal(text.codec, codec)
      t.ok((await read(text.stream)).equals(TEXT), `${codec} in ${size}-byte chunks`)
      t.equal(text.failure, null)
    }
  }
})

t.test('damage: the text ends cleanly after what came before it; onDamage comes before the end; failure names the input', async (t) => {
  const gz = zlib.gzipSync(TEXT)
  const torn = gz.subarray(0, gz.length - 20)
  const events: string[] = []
  const text = await decompressedInput(Readable.from(chunked(torn, 1000)), 'in.ndjson.gz', { onDamage: () => { events.push('damage') } })
  text.stream.on('end', () => { events.push('end') })
  const got = await read(text.stream)
  t.ok(got.length > 0 && TEXT.subarray(0, got.length).equals(got), `the text before the tear (${got.length} of ${TEXT.length} bytes)`)
  t.same(events, ['damage', 'end'])
  t.ok(text.failure instanceof CorruptArchiveError)
  t.match(text.failure, { code: 'SHOEBOX_BAD_COMPRESSION', file: 'in.ndjson.gz', message: /^in\.ndjson\.gz: at byte \d+: bad-compression: gzip data is cut short/ })
})

t.test('a read error after the first bytes ends the text the same way: SHOEBOX_IO naming the input', async (t) => {
  const members = [zlib.gzipSync(TEXT.subarray(0, 5000)), zlib.gzipSync(TEXT.subarray(5000))]
  let sent = false
  const input = new Readable({
    read () {
      if (!sent) {
        sent = true
        this.push(members[0])
        return
      }
      this.destroy(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }))
    }
  })
  const text = await decompressedInput(input, 'in.ndjson.gz')
  t.ok((await read(text.stream)).equals(TEXT.subarray(0, 5000)), 'the first member whole')
  t.match(text.failure, { code: 'SHOEBOX_IO', message: 'cannot read in.ndjson.gz: input/output error (EIO)' })
})
