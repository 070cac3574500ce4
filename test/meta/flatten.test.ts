/**
 * flatten (spec §4.1 with the §11 fixes): nested keys, `-` -> `_`, falsy
 * values kept, lists as JSON, integers beyond 2^53 exact, unicode and
 * newlines kept.
 */
import t from 'tap'
import { flattenMetadata, jsonText, metaValue, NumberText } from '../../lib/meta/flatten.js'
import { expectCode } from '../helpers.js'

t.test('nested keys and dashes', async (t) => {
  t.same(flattenMetadata({
    'content-hash': 'abc',
    publisher: { name: 'Bundestag', 'sub-unit': { 'x-y': 1 } },
    empty: {}
  }), {
    content_hash: 'abc',
    'publisher:name': 'Bundestag',
    'publisher:sub_unit:x_y': '1'
  })
})

t.test('falsy values are values; only null is null', async (t) => {
  t.same(flattenMetadata({ zero: 0, no: false, yes: true, blank: '', list: [], fzero: 0.0, none: null, gone: undefined }), {
    zero: '0', no: 'false', yes: 'true', blank: '', list: '[]', fzero: '0', none: null
  })
})

t.test('exact numbers and strings', async (t) => {
  t.same(flattenMetadata({
    code: '0012',
    big: 12345678901234567890n,
    lit: new NumberText('12345678901234567890'),
    one: new NumberText('1.0'),
    exp: new NumberText('1e3'),
    float: 1.5,
    neg: -7,
    text: 'Grüße 👋\r\nline "two", ok'
  }), {
    code: '0012',
    big: '12345678901234567890',
    lit: '12345678901234567890',
    one: '1.0',
    exp: '1e3',
    float: '1.5',
    neg: '-7',
    text: 'Grüße 👋\r\nline "two", ok'
  })
})

t.test('lists and objects inside lists are JSON text, not Python reprs', async (t) => {
  t.same(flattenMetadata({ tags: ['a', 'b'], mixed: [1, null, true, { k: [new NumberText('9007199254740993')] }, 'x"y'] }), {
    tags: '["a","b"]',
    mixed: '[1,null,true,{"k":[9007199254740993]},"x\\"y"]'
  })
  t.equal(jsonText({ a: undefined, b: 2n }), '{"b":2}')
  t.equal(metaValue(new Date(Date.UTC(2024, 4, 9, 1, 2, 3))), '2024-05-09T01:02:03.000Z')
})

t.test('not an object, or a value JSON cannot hold', async (t) => {
  for (const bad of [null, [], 'x', 3]) {
    await expectCode(t, Promise.resolve().then(() => flattenMetadata(bad)), 'SHOEBOX_META_INVALID', `flatten ${JSON.stringify(bad)}`)
  }
  const err = await expectCode(t, Promise.resolve().then(() => flattenMetadata({ a: { b: Number.NaN } })), 'SHOEBOX_META_INVALID', 'NaN')
  t.match(err?.message, 'a:b')
  await expectCode(t, Promise.resolve().then(() => flattenMetadata({ f: () => 1 })), 'SHOEBOX_META_INVALID', 'a function')
})

t.test('objects of a class are taken as JSON has them (toJSON()); a Map or Set is refused, not written as {}', async (t) => {
  // An ETL job's documents: a driver's ObjectId and Decimal128, a URL, an invalid Date. Their fields were
  // walked (an ObjectId's bytes as {"0":101,...}), a URL written as {}, an invalid Date threw a RangeError.
  class ObjectId {
    readonly bytes: Buffer
    constructor (hex: string) { this.bytes = Buffer.from(hex, 'hex') }
    toJSON (): string { return this.bytes.toString('hex') }
  }
  class Decimal128 {
    constructor (readonly digits: string) {}
    toJSON (): object { return { $numberDecimal: this.digits } }
  }
  class Document {
    constructor (readonly fields: Record<string, unknown>) {}
    toJSON (): Record<string, unknown> { return this.fields }
  }
  const id = new ObjectId('65a1b2c3d4e5f60718293a4b')
  t.same(flattenMetadata({ _id: id, price: new Decimal128('1.10'), url: new URL('http://x/y'), at: new Date('x'), ids: [id] }), {
    _id: '65a1b2c3d4e5f60718293a4b', 'price:$numberDecimal': '1.10', url: 'http://x/y', at: null, ids: '["65a1b2c3d4e5f60718293a4b"]'
  })
  t.same(flattenMetadata(new Document({ content_hash: 'a', n: 1 })), { content_hash: 'a', n: '1' }, 'a document object as its toJSON()')
  t.equal(metaValue(new Date(Date.UTC(2024, 4, 9))), '2024-05-09T00:00:00.000Z', 'a Date is still its ISO text')
  t.equal(jsonText([new Date(Date.UTC(2024, 4, 9))]), '["2024-05-09T00:00:00.000Z"]')
  for (const [value, what] of [[new Map([['a', 1]]), 'Map'], [new Set([1]), 'Set']] as const) {
    t.throws(() => flattenMetadata({ k: value }), { code: 'SHOEBOX_META_INVALID', message: `k: a ${what} is not a metadata value (as JSON it would be {}, its entries lost): give an object or a list` })
    t.throws(() => flattenMetadata({ k: [value] }), { code: 'SHOEBOX_META_INVALID', message: new RegExp(`^k\\[0\\]: a ${what} is not`) })
  }
  // Bytes as a value: a record from an archive ingested whole, its payload a Buffer (written as "payload:type": "Buffer").
  t.throws(() => flattenMetadata({ metadata: { k: 'v' }, payload: Buffer.from('{}') }), {
    code: 'SHOEBOX_META_INVALID',
    message: 'payload: bytes are not a metadata value (JSON has none): give their text; archiveMetadataSource() reads archive records\' metadata'
  })
  t.throws(() => flattenMetadata({ k: [new Uint8Array(1)] }), { code: 'SHOEBOX_META_INVALID', message: /^k\[0\]: bytes are not a metadata value/ })
  // Bytes (an NDJSON line not parsed) are not metadata, though a Buffer's toJSON() is an object.
  t.throws(() => flattenMetadata(Buffer.from('{"a":1}')), { code: 'SHOEBOX_META_INVALID', message: 'metadata must be a JSON object, not 7 bytes: NDJSON goes through ndjsonSource()' })
  class Empty {}
  t.throws(() => flattenMetadata(new Empty()), { code: 'SHOEBOX_META_INVALID', message: 'metadata must be a JSON object, not an instance of Empty' })
})

t.test('the input is not changed', async (t) => {
  const input = { 'a-b': { c: [1] } }
  const copy = structuredClone(input)
  flattenMetadata(input)
  t.same(input, copy)
})
