/**
 * encode()/encodeRecords() behaviour and the decoder's guards: batching,
 * input forms, validation, sizes, maxRecordSize, versions, v2 extension area
 * and checksums, stats, and backpressure.
 */
import t from 'tap'
import { once } from 'node:events'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  ArchiveEncoder, CorruptArchiveError, crc32, crc32c, decode, DEFAULT_MAX_RECORD_SIZE, encode, encodeRecords,
  payloadJson, payloadText, ShoeboxError, type EncodeOptions, type RecordInput, type ShoeboxRecord
} from '../../lib/index.js'
import { nativeRecords } from '../../lib/native.js'
import { chunked, decodeAll, decodeRecords, firstMismatch, type PlainRecord } from '../helpers.js'

/** Write records (or arrays of records) into encode() and collect the output chunks. */
async function encodeChunks (writes: Array<RecordInput | RecordInput[]>, options?: EncodeOptions): Promise<Buffer[]> {
  const stream = encode(options)
  const chunks: Buffer[] = []
  stream.on('data', (chunk: Buffer) => { chunks.push(chunk) })
  const ended = once(stream, 'end')
  for (const w of writes) stream.write(w)
  stream.end()
  await ended
  return chunks
}

function smallRecord (i: number): RecordInput {
  return { metadata: { event: 'compute.instance.create', seq: String(i) }, payload: { i, ok: true } }
}

function expectPlain (r: { pairs: Array<[string, string]>, payload: string | Buffer }): PlainRecord {
  return { pairs: r.pairs, payload: Buffer.isBuffer(r.payload) ? r.payload : Buffer.from(r.payload) }
}

/** The code of the ShoeboxError `fn` throws, or a description of what happened instead. */
function thrownCode (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    return err instanceof ShoeboxError ? err.code : `not a ShoeboxError: ${String(err)}`
  }
  return 'nothing thrown'
}

t.test('encode() emits batched chunks, not one per record', async (t) => {
  const n = 5000
  const records = Array.from({ length: n }, (_, i) => smallRecord(i))
  const chunks = await encodeChunks(records)
  t.ok(chunks.length >= 1, 'some output')
  t.ok(chunks.length <= 5, `default chunkSize: ${n} records come out in a handful of chunks (got ${chunks.length})`)
  const decoded = await decodeRecords(chunks)
  t.equal(decoded.length, n, 'all records decode')
  t.same(decoded.map((r) => r.metadata.seq), records.map((_, i) => String(i)), 'in order')

  const small = await encodeChunks(records, { chunkSize: 4096 })
  const total = small.reduce((s, c) => s + c.length, 0)
  t.ok(small.length > 10, `chunkSize 4096 splits ${total} bytes into several chunks (got ${small.length})`)
  // Each flush hands out the rest of the full slab and the start of the next, so chunks come in pairs averaging chunkSize / 2.
  t.ok(small.length <= 2 * Math.ceil(total / 4096) + 4, `at most two chunks per chunkSize of output (${small.length} for ${total} bytes)`)
  t.ok(n / small.length >= 10, `many records per chunk with chunkSize 4096 (${(n / small.length).toFixed(1)} per chunk)`)
  t.ok(small.every((c) => c.length <= 4096), 'no chunk exceeds chunkSize when every record fits in it')
  t.ok(Buffer.concat(small).equals(Buffer.concat(chunks)), 'the bytes do not depend on chunkSize')
  t.ok(Buffer.concat(chunks).equals(encodeRecords(records)), 'encode() and encodeRecords() give the same bytes')
})

t.test('encode() does not hold back a slow trickle of records', async (t) => {
  const stream = encode()
  const got = once(stream, 'data') as Promise<[Buffer]>
  stream.write({ metadata: { a: 'b' }, payload: 'first' })
  const timer = setTimeout(() => { stream.destroy(new Error('no output within 2 s of a write')) }, 2000)
  const [chunk] = await got
  clearTimeout(timer)
  const records = await decodeRecords(chunk)
  t.equal(records.length, 1, 'the record comes out before end()')
  t.equal(payloadText(records[0]), 'first', 'and it is the one written')
  stream.end()
  stream.resume()
  await once(stream, 'end')
})

t.test('encode() accepts arrays of records', async (t) => {
  const stream = encode()
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => { chunks.push(c) })
  stream.write([smallRecord(0), smallRecord(1), smallRecord(2)])
  stream.write(smallRecord(3))
  stream.write([])
  stream.write([smallRecord(4)])
  stream.end()
  await once(stream, 'end')
  t.equal(stream.records, 5, 'records counts every record in the arrays')
  const decoded = await decodeRecords(chunks)
  t.same(decoded.map((r) => payloadJson<{ i: number }>(r).i), [0, 1, 2, 3, 4], 'arrays are flattened in order')
})

t.test('payload forms: Buffer, string, JSON value, Uint8Array', async (t) => {
  const backing = Buffer.from('xxhello bytesyy')
  const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 11)
  const inputs: RecordInput[] = [
    { payload: Buffer.from([0, 1, 2, 255]) },
    { payload: 'héllo €' },
    { payload: { a: [1, 'two', null], b: { c: true } } },
    { payload: view },
    { payload: [1, 2, 3] },
    { payload: null },
    { payload: 42 },
    { payload: '' },
    { payload: Buffer.alloc(0) }
  ]
  const expected: PlainRecord[] = [
    Buffer.from([0, 1, 2, 255]), Buffer.from('héllo €'), Buffer.from('{"a":[1,"two",null],"b":{"c":true}}'),
    Buffer.from('hello bytes'), Buffer.from('[1,2,3]'), Buffer.from('null'), Buffer.from('42'), Buffer.alloc(0), Buffer.alloc(0)
  ].map((payload) => ({ pairs: [], payload }))
  for (const format of ['v1', 'v2'] as const) {
    const archive = encodeRecords(inputs, { format })
    t.equal(firstMismatch(await decodeRecords(archive), expected), undefined, `${format}: every payload form decodes to its bytes`)
    const viaStream = Buffer.concat(await encodeChunks(inputs, { format }))
    t.ok(viaStream.equals(archive), `${format}: encode() gives the same bytes`)
  }
  // v2 records the content type in the low nibble of the flags byte (offset 7).
  const flags = inputs.slice(0, 4).map((input) => encodeRecords([input], { format: 'v2' })[7] & 0x0f)
  t.same(flags, [0, 2, 1, 0], 'v2 content type: bytes, text, JSON, bytes')
  t.same(payloadJson((await decodeRecords(encodeRecords([inputs[2]])))[0]), inputs[2].payload, 'payloadJson parses a JSON payload')
})

t.test('payloads of bytes in any binary form are their bytes, not their JSON (an ArrayBuffer was written as {})', async (t) => {
  const backing = Buffer.from('xxhello bytesyy')
  const exact = new Uint8Array(backing).buffer // an ArrayBuffer of exactly those bytes, as fetch's arrayBuffer() gives
  const inputs: RecordInput[] = [
    { payload: exact },
    { payload: new DataView(backing.buffer, backing.byteOffset + 2, 11) },
    { payload: new Uint16Array([0x6968, 0x2121]) },
    { payload: new Float64Array([1.5]) },
    { payload: new SharedArrayBuffer(3) },
    { payload: new ArrayBuffer(0) }
  ]
  const expected: PlainRecord[] = [
    backing, Buffer.from('hello bytes'), Buffer.from(new Uint16Array([0x6968, 0x2121]).buffer), Buffer.from(new Float64Array([1.5]).buffer),
    Buffer.alloc(3), Buffer.alloc(0)
  ].map((payload) => ({ pairs: [], payload }))
  for (const format of ['v1', 'v2'] as const) {
    const archive = encodeRecords(inputs, { format })
    t.equal(firstMismatch(await decodeRecords(archive), expected), undefined, `${format}: each payload decodes to its bytes`)
    t.ok(Buffer.concat(await encodeChunks(inputs, { format })).equals(archive), `${format}: encode() gives the same bytes`)
  }
  t.same(inputs.map((input) => encodeRecords([input], { format: 'v2' })[7] & 0x0f), [0, 0, 0, 0, 0, 0], 'v2 content type: bytes')
})

t.test('metadata given as a Map is written as its entries, in order (it was written as no metadata at all)', async (t) => {
  const pairs: Array<[string, string]> = [['source', 'crm'], ['2', 'two'], ['1', 'one']]
  const metadata = new Map(pairs)
  for (const format of ['v1', 'v2'] as const) {
    const archive = encodeRecords([{ metadata, payload: 'x' }], { format })
    t.ok(archive.equals(encodeRecords([{ metadata: pairs, payload: 'x' }], { format })), `${format}: the bytes of its entries as [key, value] pairs, in insertion order`)
    t.same((await decodeRecords(archive))[0].metadata, { source: 'crm', 2: 'two', 1: 'one' }, `${format}: every entry reads back`)
    t.ok(Buffer.concat(await encodeChunks([{ metadata, payload: 'x' }], { format })).equals(archive), `${format}: encode() gives the same bytes`)
  }
  t.equal(firstMismatch(await decodeRecords(encodeRecords([{ metadata: new Map(), payload: 'x' }])), [{ pairs: [], payload: Buffer.from('x') }]), undefined, 'an empty Map: no metadata')
  t.equal(thrownCode(() => encodeRecords([{ metadata: new Map([['n', 1]]) as unknown as Map<string, string>, payload: 'x' }])), 'SHOEBOX_INVALID_RECORD', 'a Map with a non-string value is refused like any metadata')
})

t.test('metadata of varying size from record to record', async (t) => {
  // The encoder reuses one array for every record's flattened metadata and
  // leaves stale entries past the current record's pairs: none may leak.
  const inputs: RecordInput[] = [
    { metadata: { a: '1', b: '2', c: '3', d: '4' }, payload: 'four' },
    { metadata: { e: '5' }, payload: 'one' },
    { payload: 'none' },
    { metadata: [['k', 'v'], ['k2', 'v2']], payload: 'pairs' },
    { metadata: {}, payload: 'empty' },
    { metadata: { f: '6', g: '7', h: '8' }, payload: 'three' }
  ]
  const expected: PlainRecord[] = [
    { pairs: [['a', '1'], ['b', '2'], ['c', '3'], ['d', '4']], payload: Buffer.from('four') },
    { pairs: [['e', '5']], payload: Buffer.from('one') },
    { pairs: [], payload: Buffer.from('none') },
    { pairs: [['k', 'v'], ['k2', 'v2']], payload: Buffer.from('pairs') },
    { pairs: [], payload: Buffer.from('empty') },
    { pairs: [['f', '6'], ['g', '7'], ['h', '8']], payload: Buffer.from('three') }
  ]
  for (const format of ['v1', 'v2'] as const) {
    t.equal(firstMismatch(await decodeRecords(encodeRecords(inputs, { format })), expected), undefined, `${format}: each record has its own pairs only`)
  }
  // A record rejected half-way through its metadata leaves nothing behind for the next one.
  const encoder = new ArchiveEncoder()
  encoder.write(inputs[0])
  t.equal(thrownCode(() => { encoder.write({ metadata: { x: '1', y: 2 } as unknown as Record<string, string>, payload: 'bad' }) }), 'SHOEBOX_INVALID_RECORD', 'bad value rejected')
  encoder.write(inputs[1])
  t.equal(firstMismatch(await decodeRecords(Buffer.concat(encoder.take())), expected.slice(0, 2)), undefined, 'the records around the rejected one are intact')
})

t.test('metadata strings: short and long, ASCII and not', async (t) => {
  // Metadata of 32 characters or more is written with one native call when
  // it is all ASCII, and string by string otherwise; shorter metadata string
  // by string. Every path must give each string its own UTF-8 length.
  const long = 'abcdefghijklmnopqrstuvwxyz0123456789'
  const metadatas: Array<Record<string, string>> = [
    { a: 'b' },
    { key: long },
    { key: long + 'é' },
    { ['ké' + long]: 'v' },
    { a: long, b: '€😀', c: '\u{10ffff} astral', d: long },
    { [long]: '', '': long },
    { x: '€'.repeat(40) },
    { a: 'x'.repeat(64), b: 'y'.repeat(65), c: 'z'.repeat(10_000) }
  ]
  // Each as an object and as a list of pairs (the two go through different writers).
  const inputs: RecordInput[] = metadatas.flatMap((metadata, i) => [
    { metadata, payload: `p${i}` }, { metadata: Object.entries(metadata), payload: `p${i}` }
  ])
  const expected: PlainRecord[] = metadatas.flatMap((metadata, i) => {
    // (A lone surrogate, which UTF-8 cannot hold, is refused: test/format/encode-lossless.test.ts.)
    const record: PlainRecord = { pairs: Object.entries(metadata), payload: Buffer.from(`p${i}`) }
    return [record, record]
  })
  for (const format of ['v1', 'v2'] as const) {
    const archive = encodeRecords(inputs, { format })
    t.equal(firstMismatch(await decodeRecords(archive), expected), undefined, `${format}: every record's metadata round-trips`)
    t.ok(Buffer.concat(await encodeChunks(inputs, { format, chunkSize: 64 })).equals(archive), `${format}: the same bytes through encode() with small chunks`)
  }
})

t.test('metadata that changes while its record is encoded is rejected, not written past its room', async (t) => {
  // An object's metadata is measured, then written in a second pass: a getter
  // that answers differently the second time must not get a longer string
  // (or an extra key) into room reserved for the first answer.
  let calls = 0
  const growing = { get a (): string { return ++calls === 1 ? 'x' : 'x'.repeat(10_000) } }
  let added = false
  const adding: Record<string, string> = {}
  Object.defineProperty(adding, 'a', {
    enumerable: true,
    get (): string {
      if (!added) { added = true; adding.b = 'late' }
      return 'v'.repeat(40)
    }
  })
  // With the native part (strings left to the slab's seal) and without it (written as records come).
  for (const native of [nativeRecords(), null]) {
    for (const [what, metadata] of [['a longer value', growing], ['an added key', adding]] as const) {
      calls = 0
      added = false
      delete adding.b
      const encoder = new ArchiveEncoder({ chunkSize: 64 }, { native })
      t.equal(thrownCode(() => { encoder.write({ metadata: metadata as Record<string, string>, payload: 'p' }) }), 'SHOEBOX_INVALID_RECORD', `${what}: rejected`)
      encoder.write({ metadata: { ok: 'yes' }, payload: 'next' })
      const records = await decodeRecords(Buffer.concat(encoder.take()))
      t.same(records.map((r) => [r.metadata, payloadText(r)]), [[{ ok: 'yes' }, 'next']], `${what}: nothing of it is written; the next record is intact`)
    }
  }
})

t.test('invalid records are rejected with SHOEBOX_INVALID_RECORD', async (t) => {
  const bad: Array<[string, unknown]> = [
    ['number metadata value', { metadata: { a: 1 }, payload: 'x' }],
    ['null metadata value', { metadata: { a: null }, payload: 'x' }],
    ['undefined metadata value', { metadata: { a: undefined }, payload: 'x' }],
    ['object metadata value', { metadata: { a: { b: 'c' } }, payload: 'x' }],
    ['non-string key in pairs', { metadata: [[1, 'a']], payload: 'x' }],
    ['non-string value in pairs', { metadata: [['a', 2]], payload: 'x' }],
    ['malformed pair', { metadata: [['a']], payload: 'x' }],
    ['metadata a string', { metadata: 'a=b', payload: 'x' }],
    ['undefined payload', { metadata: {}, payload: undefined }],
    ['missing payload', { metadata: {} }],
    ['function payload', { payload: () => 1 }],
    ['null record', null],
    ['string record', 'record']
  ]
  for (const [name, record] of bad) {
    for (const format of ['v1', 'v2'] as const) {
      t.equal(thrownCode(() => encodeRecords([record as RecordInput], { format })), 'SHOEBOX_INVALID_RECORD', `encodeRecords ${format}, ${name}: SHOEBOX_INVALID_RECORD`)
    }
    if (record === null) continue // a null write ends an object stream in Node; not a record
    const stream = encode()
    stream.resume()
    const failed = once(stream, 'error').then(([err]) => err as unknown, (err: unknown) => err)
    stream.write(record as RecordInput)
    const err = await failed
    t.equal((err as ShoeboxError).code, 'SHOEBOX_INVALID_RECORD', `encode() stream, ${name}: error event with SHOEBOX_INVALID_RECORD`)
  }
  // A bad record does not leave half a record behind in the encoder.
  const encoder = new ArchiveEncoder({ format: 'v2' })
  encoder.write({ metadata: { ok: 'yes' }, payload: 'before' })
  t.equal(thrownCode(() => { encoder.write({ metadata: { ok: 1 } as unknown as Record<string, string>, payload: 'bad' }) }), 'SHOEBOX_INVALID_RECORD', 'ArchiveEncoder.write: SHOEBOX_INVALID_RECORD')
  encoder.write({ metadata: { ok: 'yes' }, payload: 'after' })
  const decoded = await decodeRecords(Buffer.concat(encoder.take()))
  t.same(decoded.map(payloadText), ['before', 'after'], 'records around a rejected one are intact')
})

t.test('bad options are rejected at construction with SHOEBOX_INVALID_OPTION', async (t) => {
  const badEncoder: Array<[string, unknown]> = [
    ["format 'v3'", { format: 'v3' }],
    ['chunkSize 0', { chunkSize: 0 }],
    ['chunkSize -1', { chunkSize: -1 }],
    ['chunkSize 1.5', { chunkSize: 1.5 }],
    ["checksum 'md5'", { checksum: 'md5' }]
  ]
  for (const [name, options] of badEncoder) {
    t.equal(thrownCode(() => encode(options as EncodeOptions)), 'SHOEBOX_INVALID_OPTION', `encode(${name}) throws SHOEBOX_INVALID_OPTION`)
    t.equal(thrownCode(() => new ArchiveEncoder(options as EncodeOptions)), 'SHOEBOX_INVALID_OPTION', `new ArchiveEncoder(${name}) throws SHOEBOX_INVALID_OPTION`)
    t.equal(thrownCode(() => encodeRecords([], options as EncodeOptions)), 'SHOEBOX_INVALID_OPTION', `encodeRecords(${name}) throws SHOEBOX_INVALID_OPTION`)
  }
  t.equal(thrownCode(() => decode({ mode: 'loose' as 'strict' })), 'SHOEBOX_INVALID_OPTION', "decode({mode: 'loose'}) throws SHOEBOX_INVALID_OPTION")
  t.equal(thrownCode(() => decode({ maxRecordSize: 10 })), 'SHOEBOX_INVALID_OPTION', 'decode({maxRecordSize: 10}) throws SHOEBOX_INVALID_OPTION')
  t.equal(thrownCode(() => decode({ maxRecordSize: Number.NaN })), 'SHOEBOX_INVALID_OPTION', 'decode({maxRecordSize: NaN}) throws SHOEBOX_INVALID_OPTION')
})

t.test('a record larger than chunkSize', async (t) => {
  const big = Buffer.alloc(10_000, 0x41)
  const inputs: RecordInput[] = [{ payload: 'a' }, { metadata: { big: 'yes' }, payload: big }, { payload: 'b' }]
  for (const format of ['v1', 'v2'] as const) {
    const chunks = await encodeChunks(inputs, { format, chunkSize: 64 })
    t.ok(chunks.some((c) => c.length >= 10_000), `${format}: the big record comes out whole in one chunk`)
    const decoded = await decodeRecords(chunks)
    t.equal(firstMismatch(decoded, [
      expectPlain({ pairs: [], payload: 'a' }), expectPlain({ pairs: [['big', 'yes']], payload: big }), expectPlain({ pairs: [], payload: 'b' })
    ]), undefined, `${format}: decodes to the records written`)
    t.ok(Buffer.concat(chunks).equals(encodeRecords(inputs, { format })), `${format}: same bytes as with the default chunkSize`)
  }
})

t.test('empty input gives empty output', async (t) => {
  t.same(await encodeChunks([]), [], 'encode() with no records emits nothing')
  t.equal(encodeRecords([]).length, 0, 'encodeRecords([]) is empty')
  t.equal(encodeRecords([], { format: 'v1' }).length, 0, 'encodeRecords([], v1) is empty')
  const out = await decodeAll([])
  t.same(out.records, [], 'decode() of no bytes: no records')
  t.equal(out.error, undefined, 'decode() of no bytes: no error (an empty archive is valid)')
  const emptyChunk = await decodeAll([Buffer.alloc(0)])
  t.same([emptyChunk.records.length, emptyChunk.error], [0, undefined], 'decode() of one empty chunk: no records, no error')
})

t.test('encodeRecords() hands back memory the size of its bytes, not a view holding the encoder\'s 1 MiB slab', async (t) => {
  // Each kept result held its slab: 100,000 one-record results kept ~100 GiB, collected over and over.
  for (const format of ['v1', 'v2'] as const) {
    const one = encodeRecords([{ metadata: { n: '1' }, payload: 'one record' }], { format })
    t.ok(one.buffer.byteLength <= Buffer.poolSize, `${format}: ${one.length} bytes in ${one.buffer.byteLength} (at most Node's shared pool)`)
    t.same((await decodeRecords(one)).map((r) => r.payload.toString()), ['one record'], `${format}: the record`)
  }
  const inputs = Array.from({ length: 1000 }, (_, i) => ({ metadata: { n: String(i) }, payload: `record ${i}` }))
  const many = encodeRecords(inputs)
  t.equal(many.buffer.byteLength, many.length, `${many.length} bytes (past the pool, under a slab) in an ArrayBuffer of just them`)
  t.same((await decodeRecords(many)).map((r) => r.payload.toString()), inputs.map((r) => r.payload), 'every record')
})

t.test('v1 and v2 record sizes', async (t) => {
  const cases: Array<[string, RecordInput, number]> = [
    ['empty', { payload: '' }, 0],
    ['metadata {key:value,some:stuff}', { metadata: { key: 'value', some: 'stuff' }, payload: '' }, 4 + 16 + 17],
    ['payload 100 bytes', { payload: Buffer.alloc(100) }, 4],
    ['unicode', { metadata: { 'é': '€' }, payload: '日本' }, 4 + 8 + 2 + 3]
  ]
  for (const [name, input, metaBlock] of cases) {
    const payloadLength = encodeRecords([input], { format: 'v2' }).length - 24 - 4 - metaBlock
    const v1 = encodeRecords([input], { format: 'v1' }).length
    const v2 = encodeRecords([input], { format: 'v2' }).length
    t.equal(v1, 18 + metaBlock + 4 + payloadLength, `${name}: v1 = 18 + M + 4 + L = ${v1}`)
    t.equal(v2, 24 + metaBlock + payloadLength + 4, `${name}: v2 = 24 + M + L + 4 = ${v2}`)
    t.equal(v2 - v1, 6, `${name}: v2 is 6 bytes longer`)
  }
  t.equal(encodeRecords([{ payload: '' }], { format: 'v1' }).length, 26, 'empty v1 record is 26 bytes')
  t.equal(encodeRecords([{ payload: '' }], { format: 'v2' }).length, 32, 'empty v2 record is 32 bytes')
  t.equal(encodeRecords([{ payload: Buffer.alloc(100) }], { format: 'v2' }).length, 132, '100-byte payload: v2 record is 132 bytes')
  const many = Array.from({ length: 100 }, (_, i) => smallRecord(i))
  t.equal(encodeRecords(many, { format: 'v2' }).length - encodeRecords(many, { format: 'v1' }).length, 600, '100 records: v2 is 600 bytes longer')
})

/** A v1 header whose lengths claim `payloadBlock` bytes of payload block. */
function v1Header (metadataBlock: number, payloadBlock: number): Buffer {
  const h = Buffer.alloc(18)
  h.writeUInt32LE(0x69867884, 0)
  h.writeUInt16LE(1, 4)
  h.writeInt32LE(metadataBlock, 6)
  h.writeInt32LE(payloadBlock, 10)
  h.writeInt32LE(0, 14)
  return h
}

t.test('maxRecordSize guards against a corrupt length', async (t) => {
  t.equal(DEFAULT_MAX_RECORD_SIZE, 64 * 1024 * 1024, 'default is 64 MiB')
  const before = encodeRecords([{ metadata: { n: '0' }, payload: 'before' }], { format: 'v1' })
  const liar = Buffer.concat([v1Header(4, 1024 * 1024 * 1024), Buffer.alloc(40, 0x20)]) // claims a 1 GiB payload
  const after = encodeRecords([
    { metadata: { n: '1' }, payload: 'after-1' }, { metadata: { n: '2' }, payload: 'after-2' }
  ], { format: 'v1' })
  const afterV2 = encodeRecords([{ metadata: { n: '3' }, payload: 'after-3' }], { format: 'v2' })
  const archive = Buffer.concat([before, liar, after, afterV2])

  const strict = await decodeAll(chunked(archive, 7))
  t.same(strict.records.map(payloadText), ['before'], 'strict: the record before the damage')
  t.ok(strict.error instanceof CorruptArchiveError, 'strict: CorruptArchiveError')
  t.equal((strict.error as CorruptArchiveError).code, 'SHOEBOX_RECORD_TOO_LARGE', 'strict: SHOEBOX_RECORD_TOO_LARGE')
  t.equal((strict.error as CorruptArchiveError).offset, before.length, 'strict: offset of the lying header')

  const lenient = await decodeAll(chunked(archive, 7), { mode: 'lenient' })
  t.equal(lenient.error, undefined, 'lenient: no error')
  t.same(lenient.records.map(payloadText), ['before', 'after-1', 'after-2', 'after-3'], 'lenient: the good records after it are recovered')
  t.equal(lenient.corrupt.length, 1, 'lenient: one corrupt event')
  t.match(lenient.corrupt[0], { offset: before.length, reason: 'record-too-large', bytesSkipped: liar.length }, 'lenient: the event covers the lying header and its junk')

  // A smaller explicit limit applies to honest records too.
  const honest = encodeRecords([{ payload: Buffer.alloc(1000) }])
  const limited = await decodeAll([honest], { maxRecordSize: 500 })
  t.equal((limited.error as ShoeboxError).code, 'SHOEBOX_RECORD_TOO_LARGE', 'maxRecordSize 500 rejects a 1032-byte record')
  t.equal((await decodeAll([honest], { maxRecordSize: 1032 })).records.length, 1, 'maxRecordSize equal to the record size accepts it')
})

t.test('unknown record version', async (t) => {
  const good = encodeRecords([{ payload: 'good' }], { format: 'v2' })
  const v3 = Buffer.from(good)
  v3.writeUInt16LE(3, 4)
  const archive = Buffer.concat([good, v3, good])
  const strict = await decodeAll([archive])
  t.equal(strict.records.length, 1, 'strict: the record before')
  t.equal((strict.error as CorruptArchiveError).code, 'SHOEBOX_UNKNOWN_VERSION', 'strict: SHOEBOX_UNKNOWN_VERSION')
  t.equal((strict.error as CorruptArchiveError).reason, 'unknown-version', 'strict: reason unknown-version')
  t.equal((strict.error as CorruptArchiveError).offset, good.length, 'strict: offset of the record')
  const lenient = await decodeAll([archive], { mode: 'lenient' })
  t.same(lenient.records.map(payloadText), ['good', 'good'], 'lenient: the records around it')
  t.match(lenient.corrupt, [{ offset: good.length, reason: 'unknown-version', bytesSkipped: v3.length }], 'lenient: one corrupt event over it')
})

/** Insert an extension area of `ext` bytes into a single v2 record and fix both checksums. */
function withExtension (record: Buffer, ext: Buffer): Buffer {
  const out = Buffer.concat([record.subarray(0, 24), ext, record.subarray(24, record.length - 4), Buffer.alloc(4)])
  out.writeUInt16LE(ext.length, 16)
  out.writeUInt32LE(crc32(out.subarray(0, 20)), 20)
  const sum = out[6] === 1 ? crc32 : crc32c
  out.writeUInt32LE(sum(out.subarray(0, out.length - 4)), out.length - 4)
  return out
}

t.test('a v2 record with a non-empty extension area decodes', async (t) => {
  const input: RecordInput = { metadata: { k: 'v', 'é': 'ü' }, payload: 'with extension' }
  const expected = [expectPlain({ pairs: [['k', 'v'], ['é', 'ü']], payload: 'with extension' })]
  // TLV-ish content the reader does not know, including a fake record marker.
  const ext = Buffer.concat([Buffer.from([0x7f, 0x06]), Buffer.from([0x84, 0x78, 0x86, 0x69, 0x02, 0x00]), Buffer.from([0x01, 0x00])])
  for (const checksum of ['crc32', 'crc32c'] as const) {
    const plainRecord = encodeRecords([input], { format: 'v2', checksum })
    const extended = withExtension(plainRecord, ext)
    t.equal(extended.length, plainRecord.length + ext.length, `${checksum}: record grew by the extension`)
    t.equal(extended.readUInt16LE(16), ext.length, `${checksum}: E is set`)
    const archive = Buffer.concat([extended, plainRecord, extended])
    for (const mode of ['strict', 'lenient'] as const) {
      const out = await decodeAll(chunked(archive, 5), { mode })
      t.equal(out.error, undefined, `${checksum} ${mode}: no error`)
      t.same(out.corrupt, [], `${checksum} ${mode}: no corrupt events`)
      t.equal(firstMismatch(out.records, [...expected, ...expected, ...expected]), undefined, `${checksum} ${mode}: the extension is skipped`)
    }
  }
  // Without fixing the checksums, the same change is damage.
  const raw = encodeRecords([input], { format: 'v2' })
  const unfixed = Buffer.from(raw)
  unfixed.writeUInt16LE(2, 16)
  t.equal((await decodeAll([unfixed])).error instanceof CorruptArchiveError, true, 'setting E without the header CRC is damage')
})

t.test('a v2 record with a bad record checksum is never emitted', async (t) => {
  const inputs = ['one', 'two', 'three'].map((p) => ({ metadata: { p }, payload: p }))
  const records = inputs.map((input) => encodeRecords([input], { format: 'v2' }))
  for (const [where, offset] of [['payload', records[1].length - 6], ['metadata', 30], ['checksum trailer', records[1].length - 2]] as const) {
    const bad = Buffer.from(records[1])
    bad[offset] ^= 0x10
    const archive = Buffer.concat([records[0], bad, records[2]])
    const strict = await decodeAll([archive])
    t.same(strict.records.map(payloadText), ['one'], `${where}: strict emits only the record before`)
    t.equal((strict.error as CorruptArchiveError).code, 'SHOEBOX_BAD_CHECKSUM', `${where}: strict SHOEBOX_BAD_CHECKSUM`)
    t.equal((strict.error as CorruptArchiveError).offset, records[0].length, `${where}: strict offset of the bad record`)
    const lenient = await decodeAll(chunked(archive, 3), { mode: 'lenient' })
    t.same(lenient.records.map(payloadText), ['one', 'three'], `${where}: lenient skips the bad record`)
    t.match(lenient.corrupt, [{ offset: records[0].length, reason: 'bad-checksum', bytesSkipped: bad.length }], `${where}: lenient reports it, skipped whole`)
  }
  // A flipped header byte is caught by the header CRC.
  const badHeader = Buffer.from(records[1])
  badHeader[12] ^= 0x01
  const out = await decodeAll([Buffer.concat([records[0], badHeader, records[2]])])
  t.equal((out.error as CorruptArchiveError).code, 'SHOEBOX_BAD_HEADER', 'a flipped length is SHOEBOX_BAD_HEADER')
})

t.test('decoder stats count v1 and v2 records in a mixed file', async (t) => {
  const v1 = encodeRecords([smallRecord(0), smallRecord(1), smallRecord(2)], { format: 'v1' })
  const v2 = encodeRecords([smallRecord(3), smallRecord(4)], { format: 'v2' })
  const v2c = encodeRecords([smallRecord(5)], { format: 'v2', checksum: 'crc32c' })
  const v1b = encodeRecords([smallRecord(6)], { format: 'v1' })
  const archive = Buffer.concat([v1, v2, v2c, v1b])
  const stream = decode()
  const records: ShoeboxRecord[] = []
  stream.on('data', (r: ShoeboxRecord) => { records.push(r) })
  stream.end(archive)
  await once(stream, 'end')
  t.same(records.map((r) => r.metadata.seq), ['0', '1', '2', '3', '4', '5', '6'], 'records in file order')
  t.same({ ...stream.stats }, { records: 7, v1: 4, v2: 3, bytes: archive.length, corrupt: 0, bytesSkipped: 0 }, 'stats')

  const damaged = Buffer.concat([v1, Buffer.from('junk!'), v2])
  const lenient = decode({ mode: 'lenient' })
  lenient.resume()
  lenient.end(damaged)
  await once(lenient, 'end')
  t.same({ ...lenient.stats }, { records: 5, v1: 3, v2: 2, bytes: v1.length + v2.length, corrupt: 1, bytesSkipped: 5 }, 'lenient stats count the damage')
})

t.test('metadata key "__proto__" round-trips as an own key', async (t) => {
  for (const format of ['v1', 'v2'] as const) {
    const archive = encodeRecords([{ metadata: [['a', '1'], ['__proto__', 'x'], ['b', '2']], payload: '' }], { format })
    const [record] = await decodeRecords(archive)
    t.same(Object.entries(record.metadata), [['a', '1'], ['__proto__', 'x'], ['b', '2']], `${format}: all three keys, in order`)
    t.equal(Object.getPrototypeOf(record.metadata), Object.prototype, `${format}: the prototype is untouched`)
    t.ok(Object.prototype.hasOwnProperty.call(record.metadata, '__proto__'), `${format}: __proto__ is an own property`)
  }
})

t.test('backpressure: a slow consumer still gets every record, in order', async (t) => {
  const n = 3000
  const filler = 'x'.repeat(1000)
  const archive = encodeRecords(Array.from({ length: n }, (_, i) => ({ metadata: { seq: String(i) }, payload: `${i}:${filler}` })))
  t.ok(archive.length > 3_000_000, `input is ${(archive.length / 1e6).toFixed(1)} MB`)
  const stream = decode()
  const seen: number[] = []
  let maxBuffered = 0
  const slow = new Writable({
    objectMode: true,
    highWaterMark: 1,
    write (record: ShoeboxRecord, _encoding, callback) {
      maxBuffered = Math.max(maxBuffered, stream.readableLength)
      seen.push(Number(record.metadata.seq))
      if (!payloadText(record).startsWith(`${record.metadata.seq}:`)) {
        callback(new Error(`record ${record.metadata.seq} has the wrong payload`))
        return
      }
      setImmediate(callback)
    }
  })
  await pipeline(Readable.from(chunked(archive, 64 * 1024)), stream, slow)
  t.equal(seen.length, n, `all ${n} records delivered`)
  t.ok(seen.every((s, i) => s === i), 'in order')
  t.ok(maxBuffered < 500, `decode() buffered at most ${maxBuffered} records: the input was paused, not read ahead`)

  // A strict failure still delivers the records before it to a slow reader, then the error.
  const damaged = Buffer.concat([archive.subarray(0, 1_000_000), Buffer.from('not a record')])
  const expectedBefore = (await decodeAll([archive.subarray(0, 1_000_000)], { mode: 'lenient' })).records.length
  const failing = decode({ file: 'slow.sbx' })
  Readable.from(chunked(damaged, 64 * 1024)).pipe(failing)
  const got: number[] = []
  let err: unknown
  try {
    for await (const record of failing) {
      got.push(Number((record as ShoeboxRecord).metadata.seq))
      await new Promise((resolve) => setImmediate(resolve))
    }
  } catch (e) {
    err = e
  }
  t.ok(err instanceof CorruptArchiveError, 'reading fails with a CorruptArchiveError')
  t.equal((err as CorruptArchiveError).code, 'SHOEBOX_TRUNCATED', 'SHOEBOX_TRUNCATED')
  t.equal((err as CorruptArchiveError).file, 'slow.sbx', 'naming the file')
  t.ok(expectedBefore > 0 && got.length === expectedBefore, `the ${expectedBefore} whole records before the damage reached the reader (got ${got.length})`)
  t.ok(got.every((s, i) => s === i), 'in order')
})
