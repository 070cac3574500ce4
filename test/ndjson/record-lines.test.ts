/**
 * encodeNdjson({ records: true }): the lines RecordsToNdjson prints (`shoebox read`, `decode`) written back as the
 * records they were. With exactPayloads and rawMetadata, every record comes back byte for byte, and an archive
 * whose payloads are bytes (as `shoebox encode` and `write` make them) is made again byte for byte, whatever
 * the chunks the lines arrive in. Without them, what the default output loses is what this says it loses.
 */
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { decode, encodeNdjson, encodeRecords, RecordsToNdjson, type EncodeNdjsonOptions, type InvalidLine, type RecordInput, type ShoeboxRecord } from '../../lib/index.js'
import { chunked, splitAt } from '../helpers.js'

const deep = '['.repeat(1000) + ']'.repeat(1000)
const bytes = (s: string): Buffer => Buffer.from(s)

/** Records a line cannot carry as its plain form says them; each payload a Buffer, as decoders give them back. */
const records: RecordInput[] = [
  { metadata: { event: 'order.paid' }, payload: bytes('{"id":1,"amount":42}') },
  { metadata: { 'kéy': 'välüé', '日本': '東京', emoji: '😀📦' }, payload: bytes('{"msg":"héllo 世界 😀"}') },
  { metadata: {}, payload: bytes('') },
  { metadata: [], payload: Buffer.from([0, 1, 2, 0xff, 0xfe, 10, 13]) },
  // Odd keys: empty, "__proto__", "constructor", an array index after a word, quotes, a newline, a key held twice.
  { metadata: [['', ''], ['__proto__', 'p'], ['constructor', 'c'], ['zeta', 'z'], ['10', 'ten'], ['q"\\', 'line\nbreak'], ['k', '1'], ['k', '2']], payload: bytes('1') },
  // Metadata that is not UTF-8, as legacy shoebox wrote it.
  { metadata: [[Buffer.from([0xff]), bytes('x')], [bytes('ok'), Buffer.from([0xc3, 0x00])]], payload: bytes('{}') },
  // JSON the default output changes: spaces, tabs and line breaks between tokens, around the value.
  { metadata: { a: 'b' }, payload: bytes('{"a": 1,\t"b": [1, 2]}') },
  { metadata: { a: 'b' }, payload: bytes('{\n  "pretty": true\r\n}') },
  { metadata: { a: 'b' }, payload: bytes(' {"padded":1} ') },
  // JSON that parse and stringify would change.
  { metadata: { a: 'b' }, payload: bytes('{"big":9007199254740993,"huge":1e400,"k":1,"k":2,"s":"\\u00e9\\/"}') },
  { metadata: { a: 'b' }, payload: bytes('"just a string"') },
  { metadata: { a: 'b' }, payload: bytes(deep) },
  // Text that is no JSON, and text that starts with a byte order mark.
  { metadata: { a: 'b' }, payload: bytes('plain text, "quoted"') },
  { metadata: { a: 'b' }, payload: bytes('\ufeff{"bom":1}') }
]

async function collect (stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string))
  return Buffer.concat(parts)
}

/** The lines `shoebox read` prints for an archive (with --exact: exactPayloads and rawMetadata). */
async function linesOf (archive: Buffer, exact: boolean): Promise<Buffer> {
  const out = new RecordsToNdjson({ exactPayloads: exact })
  const done = collect(out)
  await pipeline(Readable.from([archive]), decode({ rawMetadata: exact }), out)
  return await done
}

interface Written { archive: Buffer, invalid: InvalidLine[], error?: Error & { code?: string } }

async function write (chunks: Buffer[], options: EncodeNdjsonOptions = {}): Promise<Written> {
  const stage = encodeNdjson({ records: true, ...options })
  const invalid: InvalidLine[] = []
  stage.on('invalid', (info: InvalidLine) => invalid.push(info))
  const parts: Buffer[] = []
  let error: Written['error']
  try {
    await pipeline(Readable.from(chunks), stage, async (source: AsyncIterable<Buffer>) => {
      for await (const b of source) parts.push(b)
    })
  } catch (err) {
    error = err as Written['error']
  }
  return { archive: Buffer.concat(parts), invalid, error }
}

async function decoded (archive: Buffer): Promise<Array<{ pairs: Buffer[][], payload: Buffer }>> {
  const out: Array<{ pairs: Buffer[][], payload: Buffer }> = []
  await pipeline(Readable.from([archive]), decode({ rawMetadata: true }), async (source: AsyncIterable<ShoeboxRecord>) => {
    for await (const r of source) out.push({ pairs: (r.rawMetadata ?? []).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]), payload: Buffer.from(r.payload) })
  })
  return out
}

for (const format of ['v1', 'v2'] as const) {
  t.test(`${format}: read's --exact lines written back make the archive again, byte for byte`, async (t) => {
    const archive = encodeRecords(records, { format })
    const lines = await linesOf(archive, true)
    t.equal(lines.toString().split('\n').length, records.length + 1, 'one line a record: no payload broke its line')
    const again = await write([lines], { format })
    t.equal(again.error, undefined)
    t.same(again.invalid, [])
    t.ok(again.archive.equals(archive), 'the same bytes')
    t.same(await decoded(again.archive), await decoded(archive), 'the same records, metadata pairs and payload bytes')
  })
}

t.test('lines split across every chunk boundary, and a byte at a time', async (t) => {
  const archive = encodeRecords(records.slice(0, 11))
  const lines = await linesOf(archive, true)
  for (let at = 1; at < lines.length; at++) {
    const again = await write(splitAt(lines, at))
    if (!again.archive.equals(archive)) {
      t.fail(`split at byte ${at}: ${again.error?.message ?? 'another archive'}`)
      return
    }
  }
  t.ok((await write(chunked(lines, 1))).archive.equals(archive), 'one byte a chunk')
  t.pass(`every split of ${lines.length} bytes gives the archive back`)
})

t.test('CRLF line ends, blank lines and a byte order mark at the start are taken as for any NDJSON', async (t) => {
  const archive = encodeRecords(records.slice(0, 3))
  const lines = (await linesOf(archive, true)).toString().split('\n').filter((l) => l !== '')
  const again = await write([Buffer.from('\ufeff' + lines.join('\r\n\r\n  \r\n'))])
  t.ok(again.archive.equals(archive))
})

t.test('read\'s default lines: exact but for a JSON payload\'s whitespace and what the metadata object cannot hold', async (t) => {
  const archive = encodeRecords([
    { metadata: { event: 'x', 'ключ': 'значение' }, payload: bytes('{"id":1,"big":9007199254740993}') },
    { metadata: { a: 'b' }, payload: bytes('{"a": 1}') },
    { metadata: [['zeta', 'z'], ['10', 'ten']], payload: bytes('no JSON') }
  ])
  const again = await decoded((await write([await linesOf(archive, false)])).archive)
  t.same(again.map((r) => r.payload.toString()), ['{"id":1,"big":9007199254740993}', '{"a":1}', 'no JSON'], 'the spaces between tokens are gone (read --exact keeps them)')
  t.same(again[2].pairs.map(([k]) => k.toString()), ['10', 'zeta'], 'an array-index key comes first, as in the object read printed')
  t.same(again[0].pairs.map((p) => p.map(String)), [['event', 'x'], ['ключ', 'значение']])
})

t.test('a "position" (read --positions) is where the record was, not part of it', async (t) => {
  const line = '{"metadata":{"k":"v"},"payload":{"a":1},"position":{"file":"a.shoebox","offset":0}}\n'
  const again = await decoded((await write([Buffer.from(line)])).archive)
  t.same(again, [{ pairs: [[bytes('k'), bytes('v')]], payload: bytes('{"a":1}') }])
})

t.test('a record\'s metadata object keeps its order as the line gives it', async (t) => {
  const again = await decoded((await write([Buffer.from('{"payload":1,"metadata":{"b":"1","10":"2","a":"3"}}')])).archive)
  t.same(again[0].pairs.map(([k]) => k.toString()), ['b', '10', 'a'], 'JSON.parse would have put "10" first')
})

/** Lines that are no record line, what each is refused for, and the code. */
const bad: Array<[string, string, RegExp]> = [
  ['{"metadata":{}, "payload":1', 'SHOEBOX_INVALID_JSON', /^stdin: line 2: invalid JSON: invalid JSON at character \d+: expected ',' or '}'/],
  ['[1,2]', 'SHOEBOX_INVALID_RECORD', /^stdin: line 2: a record line is \{"metadata":\.\.\.,"payload":\.\.\.\} as shoebox read prints it, got a JSON array$/],
  ['{"metadata":{}}', 'SHOEBOX_INVALID_RECORD', /this one has no "payload"$/],
  ['{"metadata":{},"payload":1,"event":"x"}', 'SHOEBOX_INVALID_RECORD', /a record line has no field "event" \(only "metadata" and "payload"/],
  ['{"payload":1,"payload":2}', 'SHOEBOX_INVALID_RECORD', /field "payload" given twice$/],
  ['{"metadata":{"n":1},"payload":1}', 'SHOEBOX_INVALID_RECORD', /"metadata" value of "n" must be a string, got 1$/],
  ['{"metadata":{"k":"1","k":"2"},"payload":1}', 'SHOEBOX_INVALID_RECORD', /"metadata" has the key "k" twice/],
  ['{"metadata":[["k"]],"payload":1}', 'SHOEBOX_INVALID_RECORD', /"metadata" pair 0 must be \[key, value\], two strings, got \["k"\]$/],
  ['{"metadata":"k=v","payload":1}', 'SHOEBOX_INVALID_RECORD', /"metadata" must be an object of strings or \[key, value\] pairs, got a string$/],
  ['{"metadata":[["a","b"]],"metadataEncoding":"base64","payload":1}', 'SHOEBOX_INVALID_RECORD', /"metadata" pair 0's key is not base64: "a"$/],
  ['{"metadata":{"a":"b"},"metadataEncoding":"base64","payload":1}', 'SHOEBOX_INVALID_RECORD', /goes with metadata as \[key, value\] pairs/],
  ['{"metadata":{},"payload":"AB C","payloadEncoding":"base64"}', 'SHOEBOX_INVALID_RECORD', /"payload" is not base64: "AB C"$/],
  ['{"metadata":{},"payload":1,"payloadEncoding":"utf8"}', 'SHOEBOX_INVALID_RECORD', /with "payloadEncoding":"utf8", "payload" must be a string, got a JSON number$/],
  ['{"metadata":{},"payload":"x","payloadEncoding":"hex"}', 'SHOEBOX_INVALID_RECORD', /"payloadEncoding" must be "utf8" or "base64", got "hex"$/],
  ['{"metadata":{},"payload":"\\ud800","payloadEncoding":"utf8"}', 'SHOEBOX_INVALID_RECORD', /"payload" has a lone surrogate \(\\ud800 at character 0\)/],
  ['{"metadata":{"k":"\\udc00"},"payload":1}', 'SHOEBOX_INVALID_RECORD', /"metadata" value of "k" has a lone surrogate/]
]

const good = '{"metadata":{"k":"v"},"payload":{"ok":1}}'

for (const [line, code, message] of bad) {
  t.test(`refused: ${line}`, async (t) => {
    const failed = await write([Buffer.from(`${good}\n${line}\n${good}\n`)], { source: 'stdin' })
    t.equal(failed.error?.code, code)
    t.match(failed.error?.message, message)
    t.equal((await decoded(failed.archive)).length, 1, 'the line before it is written')
    const ended = await write([Buffer.from(`${good}\n${line}\n${good}\n`)], { source: 'stdin', onInvalid: 'end' })
    t.same(ended.invalid.map((i) => [i.line, i.code]), [[2, code]])
    t.equal((await decoded(ended.archive)).length, 1, "'end': the output ends cleanly before it")
    const skipped = await write([Buffer.from(`${good}\n${line}\n${good}\n`)], { source: 'stdin', onInvalid: 'skip' })
    t.equal((await decoded(skipped.archive)).length, 2, "'skip': the lines around it are written")
  })
}

t.test('a line that is not UTF-8 is invalid, not read with U+FFFD', async (t) => {
  const failed = await write([Buffer.concat([Buffer.from('{"metadata":{},"payload":"'), Buffer.from([0xff]), Buffer.from('","payloadEncoding":"utf8"}')])])
  t.equal(failed.error?.code, 'SHOEBOX_INVALID_JSON')
  t.match(failed.error?.message, /line 1: invalid JSON: not valid UTF-8$/)
})

t.test('records: true takes no metadata from options, and is a flag', async (t) => {
  t.throws(() => encodeNdjson({ records: true, metadata: { a: 'b' } }), { code: 'SHOEBOX_INVALID_OPTION', message: /metadata: does not go with records: true/ })
  t.throws(() => encodeNdjson({ records: true, metadataFromFields: { a: 'b' } }), { code: 'SHOEBOX_INVALID_OPTION', message: /metadataFromFields: does not go with records: true/ })
  t.throws(() => encodeNdjson({ records: 'yes' as unknown as boolean }), { code: 'SHOEBOX_INVALID_OPTION', message: /records/ })
  t.throws(() => new RecordsToNdjson({ exactPayloads: 1 as unknown as boolean }), { code: 'SHOEBOX_INVALID_OPTION', message: /exactPayloads/ })
})

t.test("'recordLines': said once when the input starts as read's output and records is not set", async (t) => {
  const seen = async (chunks: Buffer[], options: EncodeNdjsonOptions = {}): Promise<number> => {
    const stage = encodeNdjson(options)
    let n = 0
    stage.on('recordLines', () => { n++ })
    await pipeline(Readable.from(chunks), stage, new Writable({ write (_chunk, _encoding, callback) { callback() } }))
    return n
  }
  const lines = Buffer.from(`${good}\n${good}\n`)
  t.equal(await seen([lines]), 1)
  t.equal(await seen(chunked(lines, 1)), 1, 'its first bytes a chunk each')
  t.equal(await seen([Buffer.from('\ufeff'), lines]), 1, 'after a byte order mark')
  t.equal(await seen([lines], { records: true }), 0, 'not with records: true')
  t.equal(await seen([Buffer.from('{"metadata"\n{"event":"x","metadata":{}}\n')]), 0, 'not for other lines')
  t.equal(await seen([Buffer.from('{"met')]), 0, 'not for an input too short to tell')
})

t.test('the default line limit is the longest line a record of maxRecordSize is printed as, not the record\'s size', async (t) => {
  // Six bytes a byte ("\u0001") and 64 KiB for the fields around them: 6 * 1024 + 65536.
  const longest = 6 * 1024 + 65536
  const text = (n: number): Buffer => bytes(`{"metadata":{},"payload":"${'a'.repeat(n - 53)}","payloadEncoding":"utf8"}\n`)
  t.equal(text(longest).length, longest + 1, 'a line of the limit')
  const at = await write([text(longest)], { maxRecordSize: 1024 })
  t.match(at.error, { code: 'SHOEBOX_INVALID_RECORD', message: /^input: line 1: record 0: \d+ bytes encoded, over maxRecordSize 1024; not written/ }, 'a line of the limit is a record too large, said as such')
  const over = await write([text(longest + 1)], { maxRecordSize: 1024 })
  t.match(over.error, { code: 'SHOEBOX_INVALID_RECORD', message: `input: line 1: longer than ${longest} bytes, the longest line a record of maxRecordSize 1024 is printed as (raise maxRecordSize)` })
})
