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

t.test('the input is not changed', async (t) => {
  const input = { 'a-b': { c: [1] } }
  const copy = structuredClone(input)
  flattenMetadata(input)
  t.same(input, copy)
})
