/**
 * Reading events back: integers beyond 2^53 exact (bigint) wherever they
 * are, agreeing with an exact reference parser; numbers kept as text for
 * infer_schema's Integer/Number split; stringifyEvent writing both back.
 */
import t from 'tap'
import { JsonNumber, parseEvent, parseJsonLexical, stringifyEvent } from '../../lib/events/event-json.js'

function code (fn: () => unknown): string {
  try {
    return `accepted: ${String(fn())}`
  } catch (err) {
    return (err as { code?: string }).code ?? `no code: ${String(err)}`
  }
}

t.test('parseEvent: integers beyond 2^53 exact as bigint, the rest as JSON.parse', async (t) => {
  const text = '{"@time":17962947001234567,"small":9007199254740991,"neg":-9007199254740993,"f":2.0,"e":1e3,"s":"12345678901234567","a":[18446744073709551616],"__proto__":{"x":1}}'
  const v = parseEvent(text) as Record<string, unknown>
  t.equal(v['@time'], 17962947001234567n)
  t.equal(v.small, 9007199254740991)
  t.equal(v.neg, -9007199254740993n)
  t.equal(v.f, 2)
  t.equal(v.e, 1000)
  t.equal(v.s, '12345678901234567')
  t.same(v.a, [18446744073709551616n])
  t.ok(Object.prototype.hasOwnProperty.call(v, '__proto__'), '__proto__ is an own key, as with JSON.parse')
  t.equal(Object.getPrototypeOf(v), Object.prototype)
  t.same(parseEvent('{"a":[1,{"b":"é"}]}'), { a: [1, { b: 'é' }] })
  t.equal(code(() => parseEvent('{"a":1,}')), 'SHOEBOX_INVALID_JSON')
  t.equal(code(() => parseEvent('{"a":12345678901234567,}')), 'SHOEBOX_INVALID_JSON')
  t.equal(stringifyEvent(v), '{"@time":17962947001234567,"small":9007199254740991,"neg":-9007199254740993,"f":2,"e":1000,"s":"12345678901234567","a":[18446744073709551616],"__proto__":{"x":1}}')
})


t.test('parseEvent: big integers anywhere (nested, duplicated, beside look-alikes) agree with an exact reference', async (t) => {
  const cases = [
    '{"a":[1,12345678901234567890,{"b":-98765432109876543210}],"c":{"d":[[18446744073709551616]]}}',
    '{"@time":17962947001234567,"@time":17962947001234569,"x":{"@time":17962947001234571}}',
    '{"__proto__":12345678901234567890,"s":"12345678901234567890","f":12345678901234567.5,"e":1.2345678901234567e3,"g":12345678901234567e2}',
    '{"nul":"\\u0000x","big":12345678901234567890}',
    '{"s":"a\\"12345678901234567890","n":9007199254740993}',
    '[12345678901234567890,"\\u00000",1]',
    '12345678901234567890',
    '{"safe":1234567890123456,"edge":9007199254740992,"over":9007199254740993,"neg":-9007199254740993}'
  ]
  for (const text of cases) {
    // The reference: the slow exact parser (every number through its own text).
    const reference = stringifyEvent(parseJsonLexical(text))
    const got = parseEvent(text)
    t.equal(stringifyEvent(got), reference.replace(/12345678901234567\.5|1\.2345678901234567e3|12345678901234567e2/g, (m) => String(Number(m))), text)
  }
  const v = parseEvent('{"__proto__":12345678901234567890}') as Record<string, unknown>
  t.equal(Object.getPrototypeOf(v), Object.prototype)
  t.ok(Object.prototype.hasOwnProperty.call(v, '__proto__'))
  t.equal(Object.getOwnPropertyDescriptor(v, '__proto__')?.value, 12345678901234567890n)
  const dup = parseEvent('{"@time":17962947001234567,"@time":17962947001234569}') as Record<string, unknown>
  t.equal(dup['@time'], 17962947001234569n, 'the last duplicate wins, as JSON.parse')
  t.same(parseEvent('{"a":"\\u0000"}'), { a: '\u0000' }, 'a real NUL string is not a marker')
})


t.test('parseJsonLexical: numbers keep their text; Integer vs Number by form', async (t) => {
  const v = parseJsonLexical('{"i":2,"f":2.0,"e":1e3,"z":-0,"big":123456789012345678901,"l":[1.10]}') as Record<string, JsonNumber | JsonNumber[]>
  const n = (x: unknown): JsonNumber => x as JsonNumber
  t.same([n(v.i).isInteger, n(v.f).isInteger, n(v.e).isInteger, n(v.z).isInteger, n(v.big).isInteger], [true, false, false, true, true])
  t.equal(n((v.l as JsonNumber[])[0]).text, '1.10')
  t.equal(stringifyEvent(v), '{"i":2,"f":2.0,"e":1e3,"z":-0,"big":123456789012345678901,"l":[1.10]}', 'written back as sent')
  t.equal(JSON.stringify(v), '{"i":2,"f":2,"e":1000,"z":0,"big":123456789012345680000,"l":[1.1]}', 'JSON.stringify still works')
  t.equal(stringifyEvent({ a: undefined, b: [undefined], c: new Date(0) }), '{"b":[null],"c":"1970-01-01T00:00:00.000Z"}')
})
