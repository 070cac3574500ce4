/**
 * What encode() writes is what it was given, or it refuses the record:
 * never a silent change. A Map or Set payload was written as {} (JSON's view
 * of it), a NaN payload as null, and a lone surrogate in metadata or a text payload as
 * U+FFFD, where encodeNdjson() refused a lone surrogate in its fields.
 */
import t from 'tap'
import { once } from 'node:events'
import { ArchiveEncoder, encode, encodeNdjson, payloadJson, payloadText, ShoeboxError, type RecordInput } from '../../lib/index.js'
import { nativeRecords } from '../../lib/native.js'
import { decodeRecords } from '../helpers.js'

/** The error `encoder.write(record)` throws (or a note that it threw none). */
function refusal (encoder: ArchiveEncoder, record: unknown): { code: string, message: string } {
  try {
    encoder.write(record as RecordInput)
  } catch (err) {
    return err instanceof ShoeboxError ? { code: err.code, message: err.message } : { code: 'not a ShoeboxError', message: String(err) }
  }
  return { code: 'nothing thrown', message: '' }
}

class Point {
  constructor (readonly x: number, readonly y: number) {}
}

const LOST = [
  ['a Map payload', { payload: new Map([['a', '1']]) }, /^record 1: payload is a Map, which JSON writes as \{\} \(its entries lost\): give Object\.fromEntries\(map\) or \[\.\.\.map\]; not written/],
  ['a Set payload', { payload: new Set([1, 2]) }, /^record 1: payload is a Set, which JSON writes as \{\} \(its values lost\): give \[\.\.\.set\]; not written/],
  ['a Map inside a JSON payload', { payload: { a: [1, { m: new Map() }] } }, /^record 1: payload\.a\[1\]\.m is a Map, which JSON writes as \{\}/],
  ['NaN', { payload: NaN }, /^record 1: payload is NaN, which JSON writes as null; not written/],
  ['a RegExp inside', { payload: { r: /x+/g } }, /^record 1: payload\.r is a RegExp, which JSON writes as \{\} \(nothing of it kept\); not written/],
  ['an Error inside', { payload: { e: new Error('boom') } }, /^record 1: payload\.e is an Error, which JSON writes as \{\} \(its message lost\): give \{ message: err\.message \}; not written/],
  ['a WeakMap inside', { payload: [{ w: new WeakMap() }] }, /^record 1: payload\[0\]\.w is a WeakMap, which JSON writes as \{\}/],
  ['a RegExp payload', { payload: /x/ }, /^record 1: payload is a RegExp, which JSON writes as \{\}/],
  ['Infinity', { payload: -Infinity }, /^record 1: payload is -Infinity, which JSON writes as null; not written/],
  ['a BigInt (JSON.stringify throws its own TypeError)', { payload: { n: 1n } }, /^record 1: payload is not JSON-serialisable \(Do not know how to serialize a BigInt\); not written/],
  ['a function payload', { payload: () => 1 }, /^record 1: payload is not JSON-serialisable \(function\); not written/],
  ['an undefined payload', { payload: undefined }, /^record 1: payload is undefined; not written/],
  ['a lone surrogate in a text payload', { payload: 'ab\udfffc' }, /^record 1: payload has a lone surrogate \(\\udfff at character 2\), which UTF-8 cannot hold \(it would be written as U\+FFFD\); not written/],
  ['a lone surrogate in a metadata value', { metadata: { k: 'v\ud800' }, payload: 'x' }, /^record 1: metadata value of "k" has a lone surrogate \(\\ud800 at character 1\)/],
  ['a lone surrogate in a metadata key', { metadata: { ['k\udc00']: 'v' }, payload: 'x' }, /^record 1: metadata key "k\\udc00" has a lone surrogate \(\\udc00 at character 1\)/],
  ['a lone surrogate in long metadata (written joined)', { metadata: { a: 'x'.repeat(40), b: 'y\ud800y' }, payload: 'x' }, /^record 1: metadata value of "b" has a lone surrogate \(\\ud800 at character 1\)/],
  ['a lone surrogate in metadata pairs', { metadata: [['a', 'b'], ['k', '\ud800']], payload: 'x' }, /^record 1: metadata value of "k" has a lone surrogate \(\\ud800 at character 0\)/],
  ['a lone surrogate in a metadata Map', { metadata: new Map([['k', '\ud800']]), payload: 'x' }, /^record 1: metadata value of "k" has a lone surrogate/],
  // Joined, the key's first half and the value's second half look like a pair; each string alone is not UTF-8 text.
  ['halves of a pair in a key and its value', { metadata: { ['k\ud83d']: '\ude00v' }, payload: 'x' }, /^record 1: metadata key "k\\ud83d" has a lone surrogate \(\\ud83d at character 1\)/]
] as const

for (const native of [nativeRecords(), null]) {
  for (const format of ['v1', 'v2'] as const) {
    const how = `${format}, ${native === null ? 'without' : 'with'} the native part`
    t.test(`${how}: what JSON or UTF-8 would change is refused, naming the record and the field; the records around it are kept`, async (t) => {
      for (const [name, record, message] of LOST) {
        const encoder = new ArchiveEncoder({ format }, { native })
        encoder.write({ metadata: { n: 'é' }, payload: 'before' })
        const refused = refusal(encoder, record)
        t.equal(refused.code, 'SHOEBOX_INVALID_RECORD', name)
        t.match(refused.message, message, name)
        encoder.write({ metadata: { n: 'ü' }, payload: 'after' })
        const records = await decodeRecords(Buffer.concat(encoder.take()))
        t.same(records.map((r) => [r.metadata, payloadText(r)]), [[{ n: 'é' }, 'before'], [{ n: 'ü' }, 'after']], `${name}: the records around it intact`)
      }
    })
  }
}

t.test('what JSON and UTF-8 keep is still written: a Date as its ISO text, an empty object, {} in a string, pairs of surrogates', async (t) => {
  const encoder = new ArchiveEncoder()
  const date = new Date(Date.UTC(2026, 11, 6))
  const kept: RecordInput[] = [
    { payload: date },
    { payload: { a: {}, b: [{}], s: 'template {}' } },
    { payload: null },
    // Asked for: a toJSON that gives null is null.
    { payload: { toJSON: () => null } },
    { metadata: { ['k😀']: '😀v', long: '😀'.repeat(40) }, payload: '😀 text' },
    // JSON.stringify writes a lone surrogate in a JSON payload as its escape: nothing is lost.
    { payload: { s: 'a\ud800' } },
    // null, 'NaN' and '{}' in strings, an empty plain or prototype-less object, a class instance's own fields:
    // JSON keeps all of them. An undefined property is left out, as JSON does: read back, it is undefined still.
    { payload: { a: null, b: [null, {}], c: 'NaN null {}', d: Object.create(null) as object, e: undefined, p: new Point(1, 2) } },
    // NaN and Infinity inside a payload are null, as JSON writes them (only a payload that is one is refused: finding
    // them inside would mean a second pass over every payload that holds a null); boxed values are their values.
    { payload: { n: NaN, list: [null, 1, -Infinity], boxed: [Object(NaN), Object('s'), Object(true)], empty: {} } }
  ]
  for (const record of kept) encoder.write(record)
  const records = await decodeRecords(Buffer.concat(encoder.take()))
  t.same(payloadJson(records[0]), date.toISOString())
  t.same(payloadJson(records[1]), { a: {}, b: [{}], s: 'template {}' })
  t.equal(payloadJson(records[2]), null)
  t.equal(payloadJson(records[3]), null)
  t.same([records[4].metadata, payloadText(records[4])], [{ ['k😀']: '😀v', long: '😀'.repeat(40) }, '😀 text'])
  t.same(payloadJson(records[5]), { s: 'a\ud800' })
  t.same(payloadJson(records[6]), { a: null, b: [null, {}], c: 'NaN null {}', d: {}, p: { x: 1, y: 2 } })
  t.same(payloadJson(records[7]), { n: null, list: [null, 1, null], boxed: [null, 's', true], empty: {} })
})

t.test('encode() fails the stream with the same error, after the records before it', async (t) => {
  const stream = encode()
  const chunks: Buffer[] = []
  stream.on('data', (chunk: Buffer) => { chunks.push(chunk) })
  const failed = once(stream, 'error')
  stream.write({ payload: 'first' })
  stream.write({ payload: new Set(['a']) })
  const [err] = await failed as [ShoeboxError]
  t.equal(err.code, 'SHOEBOX_INVALID_RECORD')
  t.match(err.message, /^record 1: payload is a Set/)
  t.same((await decodeRecords(Buffer.concat(chunks))).map(payloadText), ['first'])
})

t.test('encodeNdjson(): a lone surrogate in its metadata option is refused at once, naming the key', async (t) => {
  for (const metadata of [{ k: 'v\ud800' }, [['k', 'v\ud800']], new Map([['k', 'v\ud800']])]) {
    let error: ShoeboxError | undefined
    try {
      encodeNdjson({ metadata: metadata as Record<string, string> })
    } catch (err) {
      error = err as ShoeboxError
    }
    t.equal(error?.code, 'SHOEBOX_INVALID_OPTION')
    t.match(error?.message, /metadata.*value of "k" has a lone surrogate \(\\ud800 at character 1\), which UTF-8 cannot hold/)
  }
})
