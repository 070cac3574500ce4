import t from 'tap'
import { decode, encodeNdjson, EncodeNdjson, type EncodeNdjsonOptions, type InvalidLine, type ShoeboxRecord } from '../../lib/index.js'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { chunked } from '../helpers.js'

interface Outcome {
  records: Array<{ metadata: Record<string, string>, payload: string }>
  invalid: InvalidLine[]
  error?: { code?: string, message: string }
}

async function run (chunks: Buffer[], options?: EncodeNdjsonOptions): Promise<Outcome> {
  const stage = encodeNdjson(options)
  const invalid: InvalidLine[] = []
  stage.on('invalid', (info: InvalidLine) => invalid.push(info))
  const bytes: Buffer[] = []
  let error: Outcome['error']
  try {
    await pipeline(Readable.from(chunks), stage, async (source: AsyncIterable<Buffer>) => {
      for await (const b of source) bytes.push(b)
    })
  } catch (err) {
    error = err as Outcome['error']
  }
  const records: Outcome['records'] = []
  await pipeline(Readable.from([Buffer.concat(bytes)]), decode(), async (source: AsyncIterable<ShoeboxRecord>) => {
    for await (const rec of source) records.push({ metadata: { ...rec.metadata }, payload: rec.payload.toString() })
  })
  return { records, invalid, error }
}

const lines = ['{"a":1}', '{"b":"é世📦"}', '', '   ', '{"c":{"d":[1,2]}}', 'x'.repeat(3000), '{"e":null}']
const input = Buffer.from(lines.join('\r\n'))
const expected = lines.filter((l) => l.trim() !== '')

for (const size of [1, 2, 3, 5, 7, 13, 64, 321, 4096, input.length]) {
  t.test(`lines split across chunks of ${size} bytes`, async (t) => {
    const { records } = await run(chunked(input, size))
    t.same(records.map((r) => r.payload), expected)
  })
}

t.test('every split point of a small input', async (t) => {
  const small = Buffer.from('{"i":1}\n{"i":22}\r\n\n{"i":333}')
  for (let at = 0; at <= small.length; at++) {
    const { records } = await run([small.subarray(0, at), small.subarray(at)])
    t.same(records.map((r) => r.payload), ['{"i":1}', '{"i":22}', '{"i":333}'], `split at ${at}`)
  }
})

t.test('empty input gives no records', async (t) => {
  t.same((await run([])).records, [])
  t.same((await run([Buffer.from('\n\n  \n')])).records, [])
})

t.test('metadata and fields lifted from JSON', async (t) => {
  const { records } = await run([Buffer.from('{"type":"a","n":5,"o":{"k":true}}\n{"type":1}\n{}\n')], {
    metadata: { src: 'test' },
    metadataFromFields: { type: 'type', n: 'n', flag: 'o.k', deep: 'o.k.z' }
  })
  t.same(records.map((r) => r.metadata), [
    { src: 'test', type: 'a', n: '5', flag: 'true' },
    { src: 'test', type: '1' },
    { src: 'test' }
  ])
})

t.test('metadataFromFields takes a field as written: big and huge numbers, repeated keys and key order unchanged', async (t) => {
  const line = '{"id": 9007199254740993, "big": 1e400, "price": 1.50, "o": {"b": 1, "2": [1, 2], "b": 3}, "s": "\\u00e9\\ud83d\\ude00"}\n'
  const { records, error } = await run([Buffer.from(line)], { metadataFromFields: { id: 'id', big: 'big', price: 'price', o: 'o', s: 's' } })
  t.equal(error, undefined)
  // JSON.parse + JSON.stringify gave "9007199254740992", "null", "1.5" and {"2":[1,2],"b":3}.
  t.same(records.map((r) => r.metadata), [{ id: '9007199254740993', big: '1e400', price: '1.50', o: '{"b":1,"2":[1,2],"b":3}', s: 'é😀' }])
  t.equal(records[0].payload, line.slice(0, -1), 'the payload as-is')
})

t.test('metadataFromFields: a deeply nested field is its text, a lone surrogate an invalid line naming the field', async (t) => {
  const nested = '['.repeat(100000) + ']'.repeat(100000)
  const deep = `{"k":"x","d":${nested}}`
  const lines = ['{"k":"a"}', deep, '{"k":"\\ud800"}', '{"k":"b"}'].join('\n') + '\n'
  // The deep line crashed with a RangeError (stack overflow) from JSON.stringify; the surrogate was stored as U+FFFD.
  const skipped = await run([Buffer.from(lines)], { metadataFromFields: { k: 'k', d: 'd' }, onInvalid: 'skip', source: 'in.ndjson' })
  t.equal(skipped.error, undefined)
  t.same(skipped.records.map((r) => r.metadata), [{ k: 'a' }, { k: 'x', d: nested }, { k: 'b' }])
  t.same(skipped.invalid.map((i) => [i.line, i.message]), [
    [3, 'field k: its text has a lone surrogate (\\ud800 at character 0), which UTF-8 cannot hold (it would be written as U+FFFD)']
  ])
  const failed = await run([Buffer.from(lines)], { metadataFromFields: { k: 'k' }, source: 'in.ndjson' })
  t.equal(failed.error?.code, 'SHOEBOX_INVALID_JSON')
  t.equal(failed.error?.message, 'in.ndjson: line 3: invalid JSON: field k: its text has a lone surrogate (\\ud800 at character 0), which UTF-8 cannot hold (it would be written as U+FFFD)')
  t.same(failed.records.map((r) => r.metadata), [{ k: 'a' }, { k: 'x' }], 'the lines before it kept')
})

t.test('onInvalid: error fails naming the line, after the lines before it', async (t) => {
  const out = await run([Buffer.from('{"ok":1}\n{nope\n{"ok":2}\n')], { validate: true, source: 'in.ndjson' })
  t.equal(out.error?.code, 'SHOEBOX_INVALID_JSON')
  t.match(out.error?.message, /^in\.ndjson: line 2: invalid JSON/)
  t.same(out.records.map((r) => r.payload), ['{"ok":1}'])
})

t.test('onInvalid: skip and end', async (t) => {
  const data = [Buffer.from('{"ok":1}\nbad one\n{"ok":2}\nbad two\n{"ok":3}')]
  const skip = await run(data, { validate: true, onInvalid: 'skip' })
  t.same(skip.records.map((r) => r.payload), ['{"ok":1}', '{"ok":2}', '{"ok":3}'])
  t.same(skip.invalid.map((i) => i.line), [2, 4])
  const end = await run(data, { validate: true, onInvalid: 'end' })
  t.equal(end.error, undefined)
  t.same(end.records.map((r) => r.payload), ['{"ok":1}'])
  t.same(end.invalid.map((i) => i.line), [2])
})

t.test('onInvalid end: a line too long ends the output cleanly before it too, whole or split, framed or parsed', async (t) => {
  const data = Buffer.from('{"ok":1}\n{"ok":2}\n' + 'y'.repeat(100) + '\n{"ok":3}\n')
  for (const chunks of [[data], chunked(data, 7)]) {
    for (const validate of [false, true]) {
      // It failed the stream, so a sink downstream (shoebox write) was destroyed with the lines before it.
      const out = await run(chunks, { maxLineLength: 50, validate, onInvalid: 'end', source: 'in' })
      const how = `chunks ${chunks.length}, validate ${String(validate)}`
      t.equal(out.error, undefined, how)
      t.same(out.records.map((r) => r.payload), ['{"ok":1}', '{"ok":2}'], how)
      t.same(out.invalid, [{ source: 'in', line: 3, message: 'longer than maxLineLength 50', code: 'SHOEBOX_INVALID_RECORD' }], how)
    }
  }
  // With metadata the record is over maxRecordSize though the line is short enough: the same.
  const meta = await run([Buffer.from('{"k":"a"}\n{"k":"' + 'z'.repeat(900) + '"}\n')], { maxRecordSize: 1024, metadataFromFields: { k: 'k' }, onInvalid: 'end' })
  t.equal(meta.error, undefined)
  t.same(meta.records.map((r) => r.metadata), [{ k: 'a' }])
  t.same(meta.invalid.map((i) => [i.line, i.code]), [[2, 'SHOEBOX_INVALID_RECORD']])
  t.match(meta.invalid[0].message, /over maxRecordSize 1024/)
})

t.test('a line longer than maxLineLength fails, whole or split', async (t) => {
  const long = Buffer.from('{"a":1}\n' + 'y'.repeat(100) + '\n')
  for (const chunks of [[long], chunked(long, 10)]) {
    const out = await run(chunks, { maxLineLength: 50 })
    t.equal(out.error?.code, 'SHOEBOX_INVALID_RECORD')
    t.match(out.error?.message, /line 2: longer than maxLineLength 50/)
    t.same(out.records.map((r) => r.payload), ['{"a":1}'])
  }
})

t.test('bad options throw at once', async (t) => {
  t.throws(() => encodeNdjson({ onInvalid: 'maybe' as 'skip' }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.throws(() => encodeNdjson({ format: 'v9' as 'v1' }), { code: 'SHOEBOX_INVALID_OPTION' })
})

t.test('metadata, metadataFromFields and maxLineLength of the wrong type are refused naming them (a string metadata wrote keys "0", "1"... into every record)', async (t) => {
  const cases: Array<[string, EncodeNdjsonOptions, string]> = [
    ['metadata a string', { metadata: 'src=crm' as unknown as Record<string, string> }, 'metadata'],
    ['metadata null', { metadata: null as unknown as Record<string, string> }, 'metadata'],
    ['metadataFromFields a string', { metadataFromFields: 'type' as unknown as Record<string, string> }, 'metadataFromFields'],
    ['metadataFromFields an array', { metadataFromFields: ['type'] as unknown as Record<string, string> }, 'metadataFromFields'],
    ['a field path not a string', { metadataFromFields: { type: 1 as unknown as string } }, 'metadataFromFields.type'],
    ['a field path empty', { metadataFromFields: { type: '' } }, 'metadataFromFields.type'],
    ['maxLineLength -1', { maxLineLength: -1 }, 'maxLineLength'],
    ['maxLineLength NaN', { maxLineLength: NaN }, 'maxLineLength'],
    ['maxLineLength not a size', { maxLineLength: 'long' }, 'maxLineLength'],
    ['maxLineLength null', { maxLineLength: null as unknown as number }, 'maxLineLength']
  ]
  for (const [what, options, option] of cases) {
    t.throws(() => encodeNdjson(options), { code: 'SHOEBOX_INVALID_OPTION', option }, what)
  }
})

t.test('metadata given as a Map or as pairs is every record\'s metadata (a Map gave none)', async (t) => {
  const line = [Buffer.from('{"type":"a"}\n')]
  for (const metadata of [new Map([['src', 'crm'], ['env', 'prod']]), [['src', 'crm'], ['env', 'prod']]] as const) {
    const { records } = await run(line, { metadata: metadata as unknown as Record<string, string>, metadataFromFields: { type: 'type' } })
    t.same(records.map((r) => r.metadata), [{ src: 'crm', env: 'prod', type: 'a' }], metadata instanceof Map ? 'a Map' : 'pairs')
  }
})

/** The archive bytes encodeNdjson() makes of `chunks`, and the stage (for its counters). */
async function encodeBytes (chunks: Iterable<Buffer>, options?: EncodeNdjsonOptions): Promise<{ bytes: Buffer, stage: EncodeNdjson }> {
  const stage = encodeNdjson(options)
  const parts: Buffer[] = []
  await pipeline(Readable.from(chunks), stage, async (source: AsyncIterable<Buffer>) => {
    for await (const b of source) parts.push(Buffer.from(b))
  })
  return { bytes: Buffer.concat(parts), stage }
}

t.test('lines split at every pair of points encode byte for byte as one chunk', async (t) => {
  const small = Buffer.from('{"i":1}\r\n\n{"s":"é📦"}\n  \n{"i":333}')
  const { bytes: whole } = await encodeBytes([small])
  const differ: string[] = []
  for (let a = 0; a <= small.length; a++) {
    for (let b = a; b <= small.length; b++) {
      const { bytes } = await encodeBytes([small.subarray(0, a), small.subarray(a, b), small.subarray(b)])
      if (!bytes.equals(whole)) differ.push(`${a},${b}`)
    }
  }
  t.same(differ, [], 'no pair of split points changes the archive')
  const { bytes: bytewise } = await encodeBytes(chunked(small, 1))
  t.ok(bytewise.equals(whole), '1-byte chunks give the same archive')
})

t.test('a long line in small chunks is copied a bounded number of times (linear, not quadratic)', async (t) => {
  // 256 KiB in 64-byte chunks: joining the held tail with each chunk, as before, copies ~512 MiB.
  const long = Buffer.alloc(256 * 1024, 'z')
  const input = Buffer.concat([Buffer.from('{"a":1}\n'), long, Buffer.from('\n{"b":2}')])
  const { bytes: whole } = await encodeBytes([input])
  for (const size of [1, 64, 4097]) {
    const { bytes, stage } = await encodeBytes(chunked(input, size))
    t.ok(bytes.equals(whole), `chunks of ${size}: the same archive as one chunk`)
    // Each byte of a spanning line is copied once to hold it and once to join it.
    t.ok(stage.lineBytesCopied <= 2 * (long.length + 16), `chunks of ${size}: ${stage.lineBytesCopied} bytes copied for a ${long.length}-byte line`)
    t.equal(stage.bufferedLineBytes, 0, 'nothing held after the end')
  }
})

t.test('a line over maxLineLength fails before more than the limit plus one chunk is held', async (t) => {
  const limit = 100_000
  const chunkSize = 1000
  const stage = encodeNdjson({ maxLineLength: limit, source: 'big.ndjson' })
  let produced = 0
  let maxHeld = 0
  // A line of 100 MB without a newline: reading it all would take ~100 MB and many seconds.
  const source = Readable.from((function * () {
    yield Buffer.from('{"first":1}\n')
    for (let i = 0; i < 100_000; i++) {
      maxHeld = Math.max(maxHeld, stage.bufferedLineBytes)
      produced += chunkSize
      yield Buffer.alloc(chunkSize, 'q')
    }
  })())
  const out: Buffer[] = []
  const err = await pipeline(source, stage, async (s: AsyncIterable<Buffer>) => {
    for await (const b of s) out.push(Buffer.from(b))
  }).then(() => undefined, (e: unknown) => e as { code?: string, message: string })
  t.equal(err?.code, 'SHOEBOX_INVALID_RECORD')
  t.match(err?.message, /^big\.ndjson: line 2: longer than maxLineLength 100000/)
  t.ok(maxHeld <= limit + 1, `at most the limit held (${maxHeld})`)
  // Past the line held: the stage's write buffer (16 KiB on Node 20, 64 KiB from Node 22) and the chunks in flight.
  t.ok(produced <= limit + stage.writableHighWaterMark + 4 * chunkSize, `input read stopped soon after the limit (${produced} bytes)`)
  const records: string[] = []
  await pipeline(Readable.from([Buffer.concat(out)]), decode(), async (s: AsyncIterable<ShoeboxRecord>) => {
    for await (const rec of s) records.push(rec.payload.toString())
  })
  t.same(records, ['{"first":1}'], 'the line before it was written')
})

t.test('a line of exactly maxLineLength passes, LF or CRLF, whole or split; one byte more fails', async (t) => {
  const line = 'w'.repeat(50)
  for (const eol of ['\n', '\r\n']) {
    for (const size of [1, 7, 1000]) {
      const out = await run(chunked(Buffer.from(`${line}${eol}{"n":1}${eol}`), size), { maxLineLength: 50 })
      t.equal(out.error, undefined, `eol ${JSON.stringify(eol)}, chunks of ${size}: no error`)
      t.same(out.records.map((r) => r.payload), [line, '{"n":1}'])
      const over = await run(chunked(Buffer.from(`${line}w${eol}{"n":1}${eol}`), size), { maxLineLength: 50 })
      t.equal(over.error?.code, 'SHOEBOX_INVALID_RECORD', `eol ${JSON.stringify(eol)}, chunks of ${size}: 51 bytes fail`)
    }
  }
})

t.test('a byte order mark at the start is dropped, however the chunks cut it; one later is content', async (t) => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf])
  const input = Buffer.concat([bom, Buffer.from('{"i":1}\n{"i":2}')])
  for (let at = 0; at <= input.length; at++) {
    const { records } = await run([input.subarray(0, at), input.subarray(at)])
    t.same(records.map((r) => r.payload), ['{"i":1}', '{"i":2}'], `split at ${at}`)
  }
  for (let at = 0; at <= input.length; at++) {
    const { records, error } = await run([input.subarray(0, at), input.subarray(at)], { validate: true })
    t.equal(error, undefined, `validated, split at ${at}`)
    t.same(records.map((r) => r.payload), ['{"i":1}', '{"i":2}'])
  }
  t.same((await run([Buffer.from('{"i":1}\n\uFEFF{"i":2}\n')])).records.map((r) => r.payload), ['{"i":1}', '\uFEFF{"i":2}'])
  // An input that is only the start of a mark is a line like any other.
  const short = await run([bom.subarray(0, 1), bom.subarray(1, 2)])
  t.equal(short.records.length, 1)
  t.equal(short.records[0].payload, bom.subarray(0, 2).toString())
})

t.test('cut: an input cut short leaves its unfinished last line out, and says how long it was', async (t) => {
  const input = Buffer.from('{"a":1}\n{"b":"é世"}\n{"c":')
  for (const size of [1, 5, 64]) {
    const stage = encodeNdjson()
    const parts: Buffer[] = []
    stage.on('data', (b: Buffer) => parts.push(Buffer.from(b)))
    for (const chunk of chunked(input, size)) stage.write(chunk)
    stage.cut = true
    stage.end()
    await new Promise((resolve) => stage.once('end', resolve))
    const records: string[] = []
    await pipeline(Readable.from([Buffer.concat(parts)]), decode(), async (source: AsyncIterable<ShoeboxRecord>) => {
      for await (const rec of source) records.push(rec.payload.toString())
    })
    t.same(records, ['{"a":1}', '{"b":"é世"}'], `chunks of ${size}: the whole lines only`)
    t.equal(stage.records, 2)
    t.equal(stage.bufferedLineBytes, 5, 'the unfinished line\'s bytes')
  }
  // Not cut, the same last line is a line: the input ended there.
  const { records } = await run([input])
  t.same(records.map((r) => r.payload), ['{"a":1}', '{"b":"é世"}', '{"c":'])
})
