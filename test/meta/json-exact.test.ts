/**
 * parseJsonExact's fast path (JSON.parse, kept when numbersAreCanonical
 * says no number changed) against the exact parser: the sharp edges of the
 * literal scan (digits, dots and quotes inside strings, escaped quotes and
 * backslash runs, -0, 15/16-digit integers, exponents, pretty-printed text)
 * and 3,000 seeded random texts, each parsed both ways.
 */
import t from 'tap'
import { parseJsonText } from '../../lib/json/parse-json.js'
import { NumberText } from '../../lib/meta/flatten.js'
import { numbersAreCanonical, parseJsonExact } from '../../lib/meta/json-exact.js'
import { mulberry32 } from '../helpers.js'

function exact (text: string): unknown {
  return parseJsonText(text, (literal: string) => {
    const n = Number(literal)
    return String(n) === literal ? n : new NumberText(literal)
  })
}

/** A value as comparable text: a NumberText is tagged, so 1.0 kept and 1.0 lost differ. */
function shape (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => v instanceof NumberText ? { NumberText: v.text } : v)
}

t.test('numbersAreCanonical: sharp edges', async (t) => {
  const yes = [
    '{}', '[]', '{"a":1}', '{"a":-5,"b":0}', '{"a":123456789012345}', '{"a":-123456789012345}', '{"a":0.5,"b":1e+21,"c":1.5e-7}',
    '{"a":"1.0","b":"-0","c":"1e3"}', '{"a":"x\\"1.0"}', '{"a":"\\\\","b":7}', '{"a":"\\\\\\"1.0"}', '{\n  "a": 7,\n  "b": [1, 2]\n}',
    '{"a":true,"b":false,"c":null,"e":3}', '{"1.0":2}', '{"a":9007199254740991}'
  ]
  const no = [
    '{"a":1.0}', '{"a":-0}', '{"a":1e3}', '{"a":1E3}', '{"a":1234567890123456789}', '{"a":"\\\\",  "b":1.50}', '{"a":"\\"","b":-0.0}',
    '{"a":[true,2.0]}', '{"a":0.10}', '{"a":9007199254740993}', '{"a":"\\\\\\\\","b":1e5}'
  ]
  for (const text of yes) t.ok(numbersAreCanonical(text), text)
  for (const text of no) t.notOk(numbersAreCanonical(text), text)
  for (const text of [...yes, ...no]) t.equal(shape(parseJsonExact(text)), shape(exact(text)), `parsed as the exact parser: ${text}`)
})

t.test('3,000 random texts: parseJsonExact gives what the exact parser gives', async (t) => {
  const random = mulberry32(0x5eed)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]
  const numbers = ['0', '-0', '7', '-12', '1.0', '2.50', '0.1', '1e3', '1E-7', '-0.0', '123456789012345', '1234567890123456',
    '12345678901234567890', '9007199254740993', '1.5e+300', '100', '3.14159']
  const strings = ['""', '"1.0"', '"x\\"y"', '"\\\\"', '"\\\\\\""', '"a\\\\\\\\"', '"ü\\u00fc"', '"-0"', '"1e3,2.0]"', '"\\n\\t"', '"\\"1.0\\""', '"true"']
  const space = (): string => pick(['', '', '', ' ', '\n  ', '\t'])
  const value = (depth: number): string => {
    const r = random()
    if (depth < 3 && r < 0.15) return '[' + Array.from({ length: Math.floor(random() * 4) }, () => space() + value(depth + 1) + space()).join(',') + ']'
    if (depth < 3 && r < 0.3) return object(depth + 1)
    if (r < 0.6) return pick(numbers)
    if (r < 0.9) return pick(strings)
    return pick(['true', 'false', 'null'])
  }
  const object = (depth: number): string => '{' + Array.from({ length: Math.floor(random() * 5) }, () =>
    space() + pick([...strings, '"k"', '"1.0"', '"__proto__"']) + space() + ':' + space() + value(depth) + space()).join(',') + '}'
  let fast = 0
  for (let i = 0; i < 3000; i++) {
    const text = object(0)
    const got = shape(parseJsonExact(text))
    const want = shape(exact(text))
    if (got !== want) t.fail(`differs: ${text}: ${got} != ${want}`)
    if (numbersAreCanonical(text)) fast++
  }
  t.pass('all 3,000 alike')
  t.ok(fast > 300 && fast < 2700, `both paths taken (${fast} fast)`)
})
