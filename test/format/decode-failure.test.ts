/**
 * Issue 9, C2: decode() and encodeNdjson() hand over everything produced
 * before a failure, then fail, to every kind of consumer, a late one too.
 */
import { Readable } from 'node:stream'
import t from 'tap'
import { CorruptArchiveError, decode, encodeNdjson, encodeRecords, type ShoeboxError } from '../../lib/index.js'
import { consumers } from '../fixtures-read/consumers.js'
import { damagedArchive } from '../fixtures-read/damaged.js'
import { chunked, decodeRecords } from '../helpers.js'

const payloads = (n: number): string[] => Array.from({ length: n }, (_, i) => `{"n":${i}}`)

t.test('decode() strict: every record before the damage, then the error', async (t) => {
  const cases: Array<[number, number, number[]]> = [[100, 2000, [1 << 20, 1000, 333, 7]], [5000, 150000, [1 << 20, 65536]], [50, 3, [1 << 20, 1]]]
  for (const [count, at, chunks] of cases) {
    const damaged = damagedArchive(payloads(count), at)
    for (const chunk of chunks) {
      for (const [kind, consume] of Object.entries(consumers)) {
        const stream = decode({ file: 'x.shoebox' })
        Readable.from(chunked(damaged.bytes, chunk)).pipe(stream)
        const { payloads: seen, error } = await consume(stream)
        const name = `${count} records, damage at ${at}, chunks of ${chunk}, ${kind}`
        t.equal(seen.length, damaged.index, `${name}: ${damaged.index} records`)
        t.same(seen, payloads(count).slice(0, damaged.index), `${name}: in order`)
        t.type(error, CorruptArchiveError, name)
        t.match(error, { code: damaged.code, offset: damaged.offset, file: 'x.shoebox' }, name)
      }
    }
  }
})

t.test('decode() strict: a truncated last record fails after every whole one', async (t) => {
  const whole = encodeRecords(payloads(300).map((payload) => ({ payload })))
  const cut = whole.subarray(0, whole.length - 5)
  for (const [kind, consume] of Object.entries(consumers)) {
    const stream = decode()
    stream.end(cut)
    const { payloads: seen, error } = await consume(stream)
    t.same(seen, payloads(299), kind)
    t.equal((error as ShoeboxError).code, 'SHOEBOX_TRUNCATED', kind)
  }
})

t.test('encodeNdjson(): the lines before an invalid one are encoded and delivered, then the error', async (t) => {
  const lines = payloads(3000)
  const input = Buffer.from([...lines, 'not json', '{"after":1}', ''].join('\n'))
  for (const late of [false, true]) {
    const stage = encodeNdjson({ validate: true, source: 'in.ndjson' })
    stage.end(input)
    if (late) {
      stage.on('error', () => {})
      stage.read(0)
      await new Promise((resolve) => setTimeout(resolve, 150))
    }
    const out: Buffer[] = []
    let error: unknown = null
    try {
      for await (const chunk of stage) out.push(chunk as Buffer)
    } catch (err) {
      error = err
    }
    const records = await decodeRecords(Buffer.concat(out))
    t.same(records.map((r) => r.payload.toString()), lines, `late consumer ${String(late)}: every line before the bad one`)
    t.match(error, { code: 'SHOEBOX_INVALID_JSON', message: /^in\.ndjson: line 3001: invalid JSON/ })
  }
})
