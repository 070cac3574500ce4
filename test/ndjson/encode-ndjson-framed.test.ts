/**
 * NDJSON's fast path: with the native part built, encodeNdjson() frames a
 * whole chunk of lines in one native call (ArchiveEncoder.frameLines). It
 * must write exactly the bytes of the line-by-line path, refuse the same
 * lines with the same errors after the same records, and hand out each
 * buffer with its record ends (encodedRecordEnds) as the walk finds them.
 * Where the native part is not built, only the line-by-line path runs and
 * these tests compare it with itself.
 */
import t, { type Test } from 'tap'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { EncodeNdjson, type EncodeNdjsonOptions } from '../../lib/ndjson/encode-ndjson.js'
import { encodedRecordEnds } from '../../lib/format/encoder.js'
import { recordEnds } from '../../lib/format/walk.js'
import { nativeRecords } from '../../lib/native.js'
import { chunked, mulberry32 } from '../helpers.js'

interface Outcome {
  bytes: Buffer
  /** Each output buffer's vouched ends equal the walk's (or the buffer has none). */
  endsAgree: boolean
  vouched: number
  lines: number
  records: number
  error?: { code?: string, message: string }
}

async function run (chunks: Buffer[], options: EncodeNdjsonOptions, native: boolean): Promise<Outcome> {
  const stage = new EncodeNdjson(options, native ? {} : { native: null })
  const out: Buffer[] = []
  let endsAgree = true
  let vouched = 0
  let error: Outcome['error']
  try {
    // A Writable, as the rolling sink is: piped chunks arrive one by one, as pushed (an async
    // iterator's read() would join what is buffered into a new buffer, without ends).
    await pipeline(Readable.from(chunks), stage, new Writable({
      write (b: Buffer, _encoding, callback) {
        out.push(b)
        const ends = encodedRecordEnds(b)
        if (ends !== undefined) {
          vouched++
          if (Array.from(ends).join() !== recordEnds(b).join()) endsAgree = false
        }
        callback()
      }
    }))
  } catch (err) {
    error = err as Outcome['error']
  }
  return { bytes: Buffer.concat(out), endsAgree, vouched, lines: stage.lines, records: stage.records, error }
}

async function same (t: Test, chunks: Buffer[], options: EncodeNdjsonOptions, what: string): Promise<void> {
  const slow = await run(chunks, options, false)
  const fast = await run(chunks, options, true)
  t.ok(fast.bytes.equals(slow.bytes), `${what}: the same bytes (${fast.bytes.length})`)
  t.same([fast.lines, fast.records], [slow.lines, slow.records], `${what}: the same line and record counts`)
  t.same(fast.error === undefined ? undefined : { code: fast.error.code, message: fast.error.message },
    slow.error === undefined ? undefined : { code: slow.error.code, message: slow.error.message }, `${what}: the same error`)
  t.ok(fast.endsAgree && slow.endsAgree, `${what}: handed-out record ends match the walk`)
}

// Blank and whitespace-only lines, CRLF, a lone CR inside a line, unicode, an empty line at the start, no final newline.
const lines = ['', '{"a":1}', '{"b":"é世📦"}', '', '   ', '\t\r', 'a\rb', '{"c":{"d":[1,2]}}', 'x'.repeat(3000), ' {"e":null} ', '{"f":0}']
const input = Buffer.from(lines.join('\n').replace('{"a":1}\n', '{"a":1}\r\n'))

t.test('the native line framer is there where the native part is built', async (t) => {
  const native = nativeRecords()
  if (native === null) {
    t.pass('not built here: only the line-by-line path runs')
    return
  }
  t.type(native.frameLines, 'function', 'a build of this source has frameLines')
})

for (const size of [1, 2, 3, 7, 13, 64, 321, input.length]) {
  t.test(`chunks of ${size} bytes: framed and line by line write the same bytes`, async (t) => {
    await same(t, chunked(input, size), {}, 'no metadata')
    await same(t, chunked(input, size), { metadata: { host: 'web-1', dc: 'eu' } }, 'metadata')
    await same(t, chunked(input, size), { checksum: 'crc32c' }, 'crc32c')
  })
}

t.test('every line length from 1 to 200, with metadata blocks of many lengths: the same bytes and checksums', async (t) => {
  // The native CRC32 goes on from the header's register over the block and the line in the input: by table
  // 8 bytes a step below 64 bytes of line, by folding from 64 with 0-15 bytes left over for the table.
  const text = Buffer.from(Array.from({ length: 200 }, (_, i) => String.fromCharCode(97 + i % 26).repeat(i + 1)).join('\n') + '\n')
  for (const value of ['', 'a', 'abcdefg', 'abcdefgh', 'v'.repeat(61), 'w'.repeat(300)]) {
    const metadata = value === '' ? undefined : { k: value }
    await same(t, [text], { metadata }, `metadata value of ${value.length} bytes`)
    await same(t, chunked(text, 97), { metadata, checksum: 'crc32c' }, `metadata value of ${value.length} bytes, crc32c`)
  }
})

t.test('slabs fill mid-chunk: a new slab each time, records never split', async (t) => {
  const random = mulberry32(7)
  const many = Array.from({ length: 2000 }, (_, i) => `{"i":${i},"pad":"${'p'.repeat(Math.floor(random() * 400))}"}`).join('\n') + '\n'
  const bytes = Buffer.from(many)
  for (const chunkSize of [64, 1000, 4096]) {
    for (const size of [bytes.length, 65_536, 999]) {
      await same(t, chunked(bytes, size), { chunkSize }, `chunkSize ${chunkSize}, chunks of ${size}`)
    }
  }
  const fast = await run([bytes], { chunkSize: 4096 }, true)
  t.ok(fast.vouched > 1, 'many buffers handed out, each with its ends')
})

t.test('empty input, only blank lines, one line without a newline', async (t) => {
  await same(t, [], {}, 'no chunks')
  await same(t, [Buffer.from('\n\n \r\n\t\n')], {}, 'blank lines')
  await same(t, [Buffer.from('{"only":true}')], {}, 'no final newline')
})

t.test('a line over maxLineLength fails naming it, after the lines before it, on both paths', async (t) => {
  const text = Buffer.from('{"a":1}\n{"b":2}\n' + 'y'.repeat(100) + '\n{"c":3}\n')
  for (const size of [text.length, 5, 20]) {
    await same(t, chunked(text, size), { maxLineLength: 50 }, `maxLineLength, chunks of ${size}`)
  }
  const fast = await run([text], { maxLineLength: 50 }, true)
  t.equal(fast.error?.code, 'SHOEBOX_INVALID_RECORD')
  t.match(fast.error?.message, /line 3: longer than maxLineLength 50/)
})

t.test('a record over maxRecordSize (with metadata) fails naming its line, on both paths', async (t) => {
  const text = Buffer.from('{"a":1}\n' + 'z'.repeat(200) + '\n{"c":3}\n')
  const options: EncodeNdjsonOptions = { maxRecordSize: 200, maxLineLength: 1000, metadata: { k: 'v' } }
  await same(t, [text], options, 'maxRecordSize')
  const fast = await run([text], options, true)
  t.equal(fast.error?.code, 'SHOEBOX_INVALID_RECORD')
  t.match(fast.error?.message, /line 2: .*over maxRecordSize 200/)
})

t.test('metadata that is not ASCII, and parsing, take the line-by-line path with the same bytes', async (t) => {
  await same(t, chunked(input, 17), { metadata: { where: 'Zürich' } }, 'non-ASCII metadata')
  const json = Buffer.from('{"a":1}\n{"b":{"c":"d"}}\n')
  await same(t, chunked(json, 5), { validate: true }, 'validate')
  await same(t, chunked(json, 5), { metadataFromFields: { c: 'b.c' } }, 'fields')
})

// Only where it is built.
const frameLines = nativeRecords()?.frameLines
if (frameLines !== undefined) {
  t.test('the native framer refuses positions outside its buffers, writing nothing', async (t) => {
    const input = Buffer.from('{"a":1}\n')
    const slab = Buffer.alloc(64)
    const block = Buffer.alloc(4)
    const ends = new Uint32Array(4)
    const state = (values: number[]): Uint32Array => Uint32Array.from([...values, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 12))
    const bad: Array<[string, () => void]> = [
      ['input end past the input', () => { frameLines(input, slab, block, ends, state([0, 9, 0, 64, 100, 1000, 2, 1])) }],
      ['start after end', () => { frameLines(input, slab, block, ends, state([5, 4, 0, 64, 100, 1000, 2, 1])) }],
      ['slab end past the slab', () => { frameLines(input, slab, block, ends, state([0, 8, 0, 65, 100, 1000, 2, 1])) }],
      ['unknown checksum', () => { frameLines(input, slab, block, ends, state([0, 8, 0, 64, 100, 1000, 2, 3])) }],
      ['metadata block without its count', () => { frameLines(input, slab, Buffer.alloc(3), ends, state([0, 8, 0, 64, 100, 1000, 2, 1])) }],
      ['short state', () => { frameLines(input, slab, block, ends, new Uint32Array(11)) }]
    ]
    for (const [what, call] of bad) {
      t.throws(call, RangeError, what)
      t.ok(slab.every((b) => b === 0), `${what}: nothing written`)
    }
    t.throws(() => { frameLines(input, slab, block, new Uint8Array(4) as unknown as Uint32Array, state([0, 8, 0, 64, 100, 1000, 2, 1])) }, TypeError, 'ends of the wrong type')
  })

  t.test('the native framer stops where the slab is full, saying how much the next record needs', async (t) => {
    const input = Buffer.from('{"a":1}\n{"b":22}\n')
    const slab = Buffer.alloc(40)
    const ends = new Uint32Array(4)
    const state = Uint32Array.from([0, input.length, 0, slab.length, 100, 1000, 2, 1, 0, 0, 0, 0])
    frameLines(input, slab, Buffer.alloc(4), ends, state)
    t.same(Array.from(state.subarray(8)), [1, 1, 1, 24 + 4 + 8 + 4], 'one line framed, then slab full with the next size')
    t.same([state[0], state[2], ends[0]], [8, 39, 39], 'input and slab positions after the first record')
  })
}
