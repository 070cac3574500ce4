/**
 * One maxRecordSize for writers and readers: ArchiveEncoder (and so
 * encodeRecords, encode(), encodeNdjson() and rollingSink()) refuses a record
 * larger than it, naming the record's index, its size and the limit, writes
 * nothing of it and keeps the records before it.
 */
import t from 'tap'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  ArchiveDecoder, ArchiveEncoder, DEFAULT_MAX_RECORD_SIZE, encode, encodeNdjson, encodeRecords, payloadText, rollingSink,
  type EncodeNdjsonOptions, type FormatVersion, type RecordInput
} from '../../lib/index.js'
import { nativeRecords } from '../../lib/native.js'
import { tempDir } from '../fixtures-roll/util.js'
import { decodeRecords, thrown } from '../helpers.js'

const small: RecordInput[] = [{ metadata: { n: '0' }, payload: 'first' }, { metadata: [['n', '1']], payload: Buffer.from('second') }]

/** Records of about 1 KiB in each input form, ASCII and not. */
const bigOnes: Array<[string, RecordInput]> = [
  ['Buffer payload, object metadata', { metadata: { k: 'v' }, payload: Buffer.alloc(1000, 'b') }],
  ['text payload, not ASCII', { metadata: { clé: 'välue📦' }, payload: 'é📦'.repeat(150) }],
  ['pairs metadata, not ASCII', { metadata: [['ключ', 'значение'], ['a', 'b']], payload: Buffer.alloc(900, 'p') }],
  ['JSON payload', { payload: { list: Array.from({ length: 200 }, (_, i) => i) } }],
  ['long metadata, empty payload', { metadata: { m: 'x'.repeat(1000) }, payload: '' }]
]

for (const format of ['v1', 'v2'] as FormatVersion[]) {
  for (const native of nativeRecords() === null ? [null] : [null, nativeRecords()]) {
    t.test(`${format}${native === null ? '' : ', native'}: exactly maxRecordSize passes, one byte over is refused naming the record`, async (t) => {
      for (const [name, big] of bigOnes) {
        const size = encodeRecords([big], { format }).length
        const at = new ArchiveEncoder({ format, maxRecordSize: size }, { native })
        for (const r of small) at.write(r)
        at.write(big)
        const records = await decodeRecords(Buffer.concat(at.take()), { maxRecordSize: size })
        t.equal(records.length, 3, `${name}: a record of exactly ${size} bytes is written`)

        const over = new ArchiveEncoder({ format, maxRecordSize: size - 1 }, { native })
        for (const r of small) over.write(r)
        t.equal(thrown(() => { over.write(big) }),
          `SHOEBOX_INVALID_RECORD: record 2: ${size} bytes encoded, over maxRecordSize ${size - 1}; not written (the records before it are)`,
          `${name}: one byte over is refused, naming index, size and limit`)
        over.write({ payload: 'after' })
        const kept = await decodeRecords(Buffer.concat(over.take()))
        t.same(kept.map(payloadText), ['first', 'second', 'after'], `${name}: nothing of it written; the records around it intact`)
      }
    })
  }
}

t.test('encodeRecords refuses an oversize record; the index counts every record given', async (t) => {
  const records = [...small, { payload: Buffer.alloc(2000) }]
  t.match(thrown(() => encodeRecords(records, { maxRecordSize: 1024 })), /^SHOEBOX_INVALID_RECORD: record 2: 2032 bytes encoded, over maxRecordSize 1024/)
})

t.test('a record that cannot be encoded is a typed error naming its index and why; the encoder goes on', async (t) => {
  const cycle: Record<string, unknown> = {}
  cycle.self = cycle
  for (const [bad, why] of [
    [{ payload: cycle }, 'payload is not JSON-serialisable (Converting circular structure to JSON)'],
    [{ payload: { n: 1n } }, 'payload is not JSON-serialisable (Do not know how to serialize a BigInt)'],
    [{ payload: () => 1 }, 'payload is not JSON-serialisable (function)'],
    [{ payload: undefined }, 'payload is undefined'],
    // A bare event written where a record goes: the keys say what it was.
    [{ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 }, 'a record must be an object with a payload ({ payload, metadata? }), got an object with keys "a", "b", "c", "d", "e", ...'],
    [{}, 'a record must be an object with a payload ({ payload, metadata? }), got an empty object'],
    [{ payload: 'p', metadata: { a: { b: '1' } } }, 'metadata value of "a" must be a string, got object'],
    [{ payload: 'p', metadata: { a: undefined } }, 'metadata value of "a" must be a string, got undefined'],
    [{ payload: 'p', metadata: [['k', 1]] }, 'metadata value of "k" must be a string, got number'],
    [{ payload: 'p', metadata: 'k=v' }, 'metadata must be an object, got string'],
    [7, 'a record must be an object with a payload, got number'],
    // Bytes or text written where records go (a file piped into encode()): not "an object with keys "0", "1"...".
    [Buffer.from('{"a":1}\n'), 'a record must be an object with a payload, got 8 bytes (a Buffer): NDJSON bytes go through encodeNdjson()'],
    [new Uint8Array(3), 'a record must be an object with a payload, got 3 bytes (a Uint8Array): NDJSON bytes go through encodeNdjson()'],
    ['{"a":1}', 'a record must be an object with a payload, got a string: a text payload goes as { payload: text }, NDJSON text through encodeNdjson()'],
    [null, 'a record must be an object with a payload, got null']
  ] as const) {
    const encoder = new ArchiveEncoder({})
    encoder.write({ payload: 'first' })
    t.equal(thrown(() => { encoder.write(bad as never) }), `SHOEBOX_INVALID_RECORD: record 1: ${why}; not written (the records before it are)`, why)
    encoder.write({ payload: 'after' })
    t.same((await decodeRecords(Buffer.concat(encoder.take()))).map(payloadText), ['first', 'after'], `${why}: the records around it intact`)
  }
})

t.test('encode() fails with the index counted across arrays and single writes', async (t) => {
  const stream = encode({ maxRecordSize: 1024 })
  stream.resume()
  const failed = once(stream, 'error').then(([err]) => err as Error, (err: unknown) => err as Error)
  stream.write(small)
  stream.write({ payload: 'x' })
  stream.write([{ payload: 'y' }, { payload: Buffer.alloc(1000) }])
  const err = await failed
  t.match(err, { code: 'SHOEBOX_INVALID_RECORD', message: /^record 4: 1032 bytes encoded, over maxRecordSize 1024/ })
})

t.test('encode() in a pipeline delivers the records before a refused one, then fails', async (t) => {
  const out: Buffer[] = []
  const stream = encode({ maxRecordSize: 1024 })
  const err = await pipeline(
    Readable.from([{ payload: 'a' }, [{ payload: 'b' }, { payload: 'c' }, { payload: Buffer.alloc(2000) }, { payload: 'never' }]], { objectMode: true }),
    stream,
    async (s: AsyncIterable<Buffer>) => { for await (const b of s) out.push(Buffer.from(b)) }
  ).then(() => undefined, (e: unknown) => e as Error)
  t.match(err, { code: 'SHOEBOX_INVALID_RECORD', message: /^record 3: 2032 bytes/ })
  t.same((await decodeRecords(Buffer.concat(out))).map(payloadText), ['a', 'b', 'c'], 'a, b and c written, nothing of the refused record')
  t.equal(stream.records, 3)
})

t.test('the writers\' default is the readers\': DEFAULT_MAX_RECORD_SIZE', async (t) => {
  t.equal(new ArchiveEncoder().maxRecordSize, DEFAULT_MAX_RECORD_SIZE)
  t.equal(new ArchiveDecoder({ record () {}, corrupt () {} }).maxRecordSize, DEFAULT_MAX_RECORD_SIZE)
  // A v2 record without metadata is 32 bytes plus its payload.
  const largest = encodeRecords([{ payload: Buffer.alloc(DEFAULT_MAX_RECORD_SIZE - 32) }])
  t.equal(largest.length, DEFAULT_MAX_RECORD_SIZE, 'the largest record is written')
  const back = await decodeRecords(largest)
  t.equal(back[0]?.payload.length, DEFAULT_MAX_RECORD_SIZE - 32, 'and read back with the default limit')
  t.match(thrown(() => encodeRecords([{ payload: Buffer.alloc(DEFAULT_MAX_RECORD_SIZE - 31) }])),
    /^SHOEBOX_INVALID_RECORD: record 0: 67108865 bytes encoded, over maxRecordSize 67108864/, 'one byte more is refused')
})

t.test('maxRecordSize is checked at construction', async (t) => {
  for (const bad of [0, 25, 1.5, -1, '25B', 'lots', Number.NaN, null]) {
    const options = { maxRecordSize: bad as number }
    t.match(thrown(() => new ArchiveEncoder(options)), /^SHOEBOX_INVALID_OPTION: option maxRecordSize/, `ArchiveEncoder ${String(bad)}`)
    t.match(thrown(() => encode(options)), /^SHOEBOX_INVALID_OPTION/, `encode() ${String(bad)}`)
    t.match(thrown(() => encodeNdjson(options)), /^SHOEBOX_INVALID_OPTION/, `encodeNdjson() ${String(bad)}`)
  }
})

async function ndjson (input: string, options: EncodeNdjsonOptions): Promise<{ payloads: string[], error?: { code?: string, message: string } }> {
  const stage = encodeNdjson(options)
  const out: Buffer[] = []
  let error
  try {
    await pipeline(Readable.from([Buffer.from(input)]), stage, async (s: AsyncIterable<Buffer>) => {
      for await (const b of s) out.push(Buffer.from(b))
    })
  } catch (err) {
    error = err as { code?: string, message: string }
  }
  const records = await decodeRecords(Buffer.concat(out), { maxRecordSize: options.maxRecordSize })
  return { payloads: records.map(payloadText), error }
}

t.test('encodeNdjson: the default maxLineLength makes records within maxRecordSize', async (t) => {
  // Without metadata a v2 record is the line plus 32 bytes: 992 bytes is the longest line.
  const ok = await ndjson(`"a"\n${'l'.repeat(992)}\n`, { maxRecordSize: 1024, source: 'in' })
  t.equal(ok.error, undefined)
  t.same(ok.payloads.map((p) => p.length), [3, 992])
  const over = await ndjson(`"a"\n${'l'.repeat(993)}\n`, { maxRecordSize: 1024, source: 'in' })
  t.match(over.error, { code: 'SHOEBOX_INVALID_RECORD', message: /^in: line 2: longer than 992 bytes, the longest line a record of maxRecordSize 1024 holds \(raise maxRecordSize\)$/ })
  t.same(over.payloads, ['"a"'])
})

t.test('encodeNdjson: metadata that takes a line over maxRecordSize fails naming the line and record', async (t) => {
  // {src: 'x'} adds 12 bytes (two lengths and two characters): a 980-byte line makes 1024 bytes.
  const at = await ndjson(`"a"\n${'l'.repeat(980)}\n`, { maxRecordSize: 1024, metadata: { src: 'x' } })
  t.equal(at.error, undefined)
  const over = await ndjson(`"a"\n\n${'l'.repeat(981)}\n"c"\n`, { maxRecordSize: 1024, metadata: { src: 'x' }, source: 'in' })
  t.match(over.error, {
    code: 'SHOEBOX_INVALID_RECORD',
    message: /^in: line 3: record 1: 1025 bytes encoded, over maxRecordSize 1024/
  })
  t.same(over.payloads, ['"a"'], 'the lines before it are written')
})

t.test('rollingSink refuses an oversize record with its index', async (t) => {
  const dir = tempDir(t)
  const sink = rollingSink({ dir, maxRecordSize: 1024, flushInterval: 0 })
  const failed = once(sink, 'error').then(([err]) => err as Error, (err: unknown) => err as Error)
  sink.write({ payload: 'fine' })
  sink.write({ payload: Buffer.alloc(2000) })
  const err = await failed
  t.match(err, { code: 'SHOEBOX_INVALID_RECORD', message: /record 1: 2032 bytes encoded, over maxRecordSize 1024/ })
})
