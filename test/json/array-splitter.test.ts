/**
 * The JSON array splitter: the elements of a top-level array found in its
 * bytes whatever the chunks, each handed on whole; damage to the array
 * returned with its byte offset after the elements before it; an element
 * beyond the size limit stepped over; nesting deeper than the kinds kept.
 */
import t from 'tap'
import { type ArrayDamage, JsonArraySplitter } from '../../lib/json/array-splitter.js'
import { MAX_JSON_DEPTH } from '../../lib/json/json-scan.js'

interface Split { elements: Array<{ index: number, offset: number, text: string, problem?: string }>, damage: ArrayDamage | null }

function split (bytes: Buffer, size: number, options: { maxElementBytes?: number } = {}): Split {
  const elements: Split['elements'] = []
  const splitter = new JsonArraySplitter((e) => {
    elements.push({ index: e.index, offset: e.offset, text: e.bytes.toString(), ...(e.problem === undefined ? {} : { problem: e.problem }) })
  }, options)
  let damage: ArrayDamage | null = null
  for (let i = 0; i < bytes.length && damage === null; i += size) damage = splitter.write(bytes.subarray(i, i + size))
  return { elements, damage: damage ?? splitter.end() }
}

const SIZES = [1, 2, 3, 7, 13, 64, 65536]

t.test('elements whole whatever the chunks: strings holding brackets, commas, quotes and backslashes', async (t) => {
  const parts = ['{"s": "],[}{\\"\\\\", "t": ["\\\\"]}', '7', '"a]\\"b"', '[1, [2, {"x": "}"}]]', 'true', '-1.5e3', '"😀\\ud83d\\ude00"', '{}']
  const text = '\ufeff [\n ' + parts.join(' ,\n\t') + ' \r\n]\n '
  const bytes = Buffer.from(text)
  const offsets = parts.map((p) => bytes.indexOf(Buffer.from(p)))
  for (const size of SIZES) {
    t.same(split(bytes, size), {
      elements: parts.map((p, index) => ({ index, offset: offsets[index], text: p })),
      damage: null
    }, `chunks of ${size}`)
  }
})

t.test('a tear at every byte: every element complete before it, then damage at the end', async (t) => {
  const parts = ['{"a": "x,]"}', '"s\\""', '12', '[{"b": [1]}]', '{"c": "😀"}']
  const bytes = Buffer.from('[' + parts.join(', ') + ']')
  // An element is complete once its last byte is in; a number once the byte after it is.
  const ends = parts.map((p) => bytes.indexOf(Buffer.from(p)) + Buffer.byteLength(p) + (p === '12' ? 1 : 0))
  for (let cut = 0; cut < bytes.length; cut++) {
    const expected = parts.filter((_p, i) => ends[i] <= cut)
    for (const size of [1, 7, 65536]) {
      const got = split(bytes.subarray(0, cut), size)
      t.same(got.elements.map((e) => e.text), expected, `cut at ${cut}, chunks of ${size}: the whole elements`)
      t.equal(got.damage?.offset, cut, `cut at ${cut}, chunks of ${size}: damage at the end`)
    }
  }
  t.same(split(bytes, 7).damage, null, 'the whole array: no damage')
  t.match(split(bytes.subarray(0, 3), 1).damage?.why, "the file ends inside element 1, begun at byte 1, inside a string begun at byte 2 (0 whole elements before it)")
  t.match(split(bytes.subarray(0, 14), 1).damage?.why, "the file ends before the array's closing ']' (1 whole element before it)")
})

t.test('damage to the array: where, and the elements before it', async (t) => {
  const cases: Array<[string, string[], number, RegExp]> = [
    ['{"a": 1}', [], 0, /^not a JSON array at the top: it begins with '\{'$/],
    ['', [], 0, /^no JSON array: the file is empty$/],
    [' \n\t', [], 3, /^no JSON array: the file holds only white space$/],
    ['[{"a": 1} {"b": 2}]', ['{"a": 1}'], 10, /^expected ',' or ']' after element 1, got '\{'/],
    ['[{"a": 1}, , {"b": 2}]', ['{"a": 1}'], 11, /^expected an element after ',', got ','/],
    ['[{"a": 1},]', ['{"a": 1}'], 10, /^expected an element after ',', got ']'/],
    ['[, 1]', [], 1, /^expected an element or ']', got ','/],
    ['[{"a": 1}, {"b": [2}, {"c": 3}]', ['{"a": 1}'], 19, /^'\}' closes a '\[' in element 2, begun at byte 11/],
    ['[{"a": 1}] x', ['{"a": 1}'], 11, /^text after the array's closing ']': 'x' \(every element read: 1 element\)$/],
    ['[{"a": 1}]\xe9', ['{"a": 1}'], 10, /byte 0xC3/],
    ['[1 2]', ['1'], 3, /got '2'/]
  ]
  for (const [text, elements, offset, why] of cases) {
    for (const size of [1, 64]) {
      const got = split(Buffer.from(text), size)
      t.same(got.elements.map((e) => e.text), elements, `${JSON.stringify(text)}, chunks of ${size}: elements`)
      t.equal(got.damage?.offset, offset, `${JSON.stringify(text)}: offset`)
      t.match(got.damage?.why, why, `${JSON.stringify(text)}: why`)
    }
  }
  // After damage, no more.
  const splitter = new JsonArraySplitter(() => { t.fail('no element after damage') })
  t.ok(splitter.write(Buffer.from('x')))
  t.equal(splitter.write(Buffer.from('[{}]')), null)
  t.equal(splitter.end(), null)
})

t.test('elements that are not JSON inside are handed on whole, for the parser to refuse', async (t) => {
  const parts = ['{"a" 1}', '{"a": tru}', '{"a": "\\q"}', '{"a": "raw\nnewline"}', 'nul', '{"a": "caf\xe9"}', '-']
  const bytes = Buffer.from('[' + parts.join(',') + ', {"ok": 1}]', 'latin1')
  for (const size of SIZES) {
    const got = split(bytes, size)
    t.same(got.elements.map((e) => e.text), [...parts, '{"ok": 1}'].map((p) => Buffer.from(p, 'latin1').toString()), `chunks of ${size}`)
    t.equal(got.damage, null)
  }
})

t.test('an element larger than the limit is stepped over, its bytes not kept', async (t) => {
  const big = `{"a": "${'x'.repeat(100)}"}`
  const bytes = Buffer.from(`[{"a": 1}, ${big}, {"b": 2}]`)
  for (const size of [1, 7, 64, 65536]) {
    const got = split(bytes, size, { maxElementBytes: 50 })
    t.same(got.elements, [
      { index: 0, offset: 1, text: '{"a": 1}' },
      { index: 1, offset: 11, text: '', problem: 'larger than 50 bytes, the most one element may hold (stepped over, not read)' },
      { index: 2, offset: 11 + big.length + 2, text: '{"b": 2}' }
    ], `chunks of ${size}`)
  }
  t.equal(split(Buffer.from(`[${'x'.repeat(50)}]`), 7, { maxElementBytes: 50 }).elements[0].text.length, 50, 'one of the limit is kept')
})

t.test('nesting: a closer that does not match is found within the kinds kept; deeper, the count alone', async (t) => {
  const deep = (n: number, inner = ''): string => '['.repeat(n) + inner + ']'.repeat(n)
  const within = `[${'['.repeat(MAX_JSON_DEPTH - 1)}}`
  t.equal(split(Buffer.from(`[${within}]`), 64).damage?.offset, MAX_JSON_DEPTH + 1, 'a `}` at the deepest kind kept')
  for (const n of [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 100000]) {
    const element = `{"a": ${deep(n, '{"b": [1]}')}}`
    const got = split(Buffer.from(`[${element}, {"c": 1}]`), 65536)
    t.same(got.elements.map((e) => e.text.length), [element.length, 8], `${n} deep: the element and the one after`)
    t.equal(got.damage, null)
  }
})
