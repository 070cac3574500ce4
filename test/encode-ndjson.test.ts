import t from 'tap'
import { decode, encodeNdjson, type EncodeNdjsonOptions, type InvalidLine, type ShoeboxRecord } from '../lib/index.js'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { chunked } from './helpers.js'

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
