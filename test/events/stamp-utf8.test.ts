/**
 * Bytes that are not UTF-8 are an invalid event, named by its line, never an
 * event with U+FFFD in place of the bytes: stampNdjson() (input split at
 * every boundary, bad lines among good multi-byte ones, a bad last line
 * without a newline) and stamp() given a Buffer.
 */
import t from 'tap'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { stamp, stampNdjson, type InvalidEventInfo, type StampedEventRecord } from '../../lib/events/stamp.js'

const input = Buffer.concat([
  Buffer.from('{"n":1,"t":"✓é"}\r\n'),
  Buffer.from('{"n":2,"t":"'), Buffer.from([0xc3]), Buffer.from('"}\n'), // a sequence cut short by the quote
  Buffer.from('\n'),
  Buffer.from('{"n":4,"t":"\uFFFD is a character too"}\n'), // a real U+FFFD, encoded: valid
  Buffer.from('{"n":5,"t":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}\n'), // a lone surrogate, as UTF-8 forbids
  Buffer.from('{"n":6}\n'),
  Buffer.from('{"n":7,"t":"'), Buffer.from([0xf0, 0x9f, 0x98])
])

async function run (chunks: Buffer[]): Promise<{ events: StampedEventRecord[], invalid: Array<{ line: number, code: string, message: string }> }> {
  const events: StampedEventRecord[] = []
  const invalid: Array<{ line: number, code: string, message: string }> = []
  const stamper = stampNdjson({ stream: 's', onInvalid: 'event' })
  stamper.on('invalid', (info: InvalidEventInfo) => invalid.push({ line: info.line, code: info.error.code, message: info.error.message }))
  await pipeline(Readable.from(chunks), stamper, new Writable({ objectMode: true, write (e: StampedEventRecord, _enc, cb) { events.push(e); cb() } }))
  return { events, invalid }
}

for (const size of [1, 2, 3, 4, 5, 7, 11, 13, 64, input.length]) {
  t.test(`stampNdjson: lines 2, 5 and 7 refused as not UTF-8, the rest intact (${size}-byte chunks)`, async (t) => {
    const chunks: Buffer[] = []
    for (let at = 0; at < input.length; at += size) chunks.push(input.subarray(at, at + size))
    const { events, invalid } = await run(chunks)
    t.same(invalid.map((i) => [i.line, i.code]), [[2, 'SHOEBOX_INVALID_EVENT'], [5, 'SHOEBOX_INVALID_EVENT'], [7, 'SHOEBOX_INVALID_EVENT']])
    t.match(invalid[0].message, /^line 2: not valid UTF-8/)
    t.same(events.map((e) => [e.line, (JSON.parse(e.event) as { t?: string }).t]), [[1, '✓é'], [4, '\uFFFD is a character too'], [6, undefined]])
  })
}

t.test('stampNdjson without onInvalid: fails at the first bad line, after the good one before it', async (t) => {
  const events: StampedEventRecord[] = []
  const failed = pipeline(Readable.from([input]), stampNdjson({ stream: 's' }),
    new Writable({ objectMode: true, write (e: StampedEventRecord, _enc, cb) { events.push(e); cb() } }))
  await t.rejects(failed, { code: 'SHOEBOX_INVALID_EVENT', message: /^line 2: not valid UTF-8/ })
  t.same(events.map((e) => e.line), [1])
})

t.test('stamp() given a Buffer that is not UTF-8: an invalid event; a string or a valid Buffer is stamped', async (t) => {
  const stamper = stamp({ stream: 's', onInvalid: 'event' })
  const invalid: number[] = []
  stamper.on('invalid', (info: InvalidEventInfo) => invalid.push(info.line))
  const out: StampedEventRecord[] = []
  stamper.on('data', (e: StampedEventRecord) => out.push(e))
  stamper.write(Buffer.from('{"a":"é"}'))
  stamper.write(Buffer.from([0x7b, 0x7d, 0xff]))
  stamper.end('{"b":1}')
  await new Promise((resolve) => stamper.on('end', resolve))
  t.same(invalid, [2])
  t.same(out.map((e) => e.line), [1, 3])
})
