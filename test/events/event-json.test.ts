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
    '{"safe":1234567890123456,"edge":9007199254740992,"over":9007199254740993,"neg":-9007199254740993}',
    // @time first (the server's form): a big integer deep among strings, booleans and nulls, or in nested arrays
    '{"@time":17962947001234567,"s":"x","b":true,"n":null,"o":{"a":[null,"y",false,{"z":-12345678901234567890}]}}',
    '{"@time":17962947001234567,"l":[true,null,"s",[1,[9007199254740993]]],"k":{},"e":[]}',
    '{"@time":17962947001234567,"s":"12345678901234567890","l":[true,null,"s",[1,[9007199254740991]]],"k":{"n":null}}'
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

t.test('parseEvent without backslashes (the quote-counting fast path): strings, keys, spacing and bad text as the exact parser', async (t) => {
  const cases = [
    '{"s":"x:12345678901234567890,","n":1.2345678901234567891e19,"m":12345678901234567891}',
    '{"s":"12345678901234567890","@time":17962947001234567}',
    ' { "a" : 12345678901234567890 , "b" : [ -12345678901234567890 ] } ',
    '{"a":[12345678901234567890\t,\n12345678901234567891\r]}',
    '{"u":"é12345678901234567890é","t":17962947001234567}',
    '{"a":1234567890123456.5,"b":12345678901234567E2,"c":0.12345678901234567890}',
    '{"":"\\"","b":12345678901234567890}' // a backslash: the validating scan
  ]
  for (const text of cases) {
    const reference = stringifyEvent(parseJsonLexical(text)).replace(/-?\d+(?:\.\d+)?[eE.]\d+|-?\d+\.\d+/g, (m) => String(Number(m)))
    t.equal(stringifyEvent(parseEvent(text)), reference, text)
  }
  const bad = [
    '{12345678901234567890:1}', '{"a":12345678901234567890:1}', '{"a":true12345678901234567890}', '{"a":--12345678901234567890}',
    '{"a":012345678901234567890}', '{"a":1-12345678901234567890}', '{"a":12345678901234567890', '{"a":"12345678901234567890}',
    '{"a":12345678901234567890 1}', '[12345678901234567890,]', '{"a":12345678901234567890}x'
  ]
  for (const text of bad) t.equal(code(() => parseEvent(text)), 'SHOEBOX_INVALID_JSON', text)
})

t.test('parseEvent on text that starts with @time (as shoebox serve and ship() write events)', async (t) => {
  const id = '"@id":"0c1e4d00-ef50-11f1-8e2a-5c1d0a2b3c4d"'
  const cases: Array<[string, Record<string, unknown>]> = [
    [`{"@time":17962947001234567,${id},"a":1,"f":2.0}`, { '@time': 17962947001234567n, a: 1, f: 2 }],
    [`{"@time": 17962947001234567, ${id}, "s": "x\\"y"}`, { '@time': 17962947001234567n, s: 'x"y' }],
    [`{"@time":-17962947001234567,${id}}`, { '@time': -17962947001234567n }],
    [`{"@time":1234,${id}}`, { '@time': 1234 }],
    [`{"@time":17962947001234567,${id},"n":{"big":12345678901234567890},"l":[1e20]}`, { '@time': 17962947001234567n, n: { big: 12345678901234567890n }, l: [1e20] }],
    [`{"@time":17962947001234567,${id},"x":{"@time":17962947001234569}}`, { '@time': 17962947001234567n, x: { '@time': 17962947001234569n } }],
    [`{"@time":17962947001234567,${id},"@time":17962947001234569}`, { '@time': 17962947001234569n }],
    [`{"@time":17962947001234567,${id},"__proto__":{"p":9007199254740993}}`, { '@time': 17962947001234567n, ['__proto__']: { p: 9007199254740993n } }],
    // A later duplicate spelled with escapes is still the @time a parser keeps, even one rounding to the same double.
    [`{"@time":17962947001234567,${id},"\\u0040time":17962947001234569}`, { '@time': 17962947001234569n }],
    [`{"@time":17962947001234567,${id},"@ti\\u006De":17962947001234568}`, { '@time': 17962947001234568n }],
    [`{"@time":17962947001234567,${id},"s":"a \\u0040time, \\"@time\\" in a string"}`, { '@time': 17962947001234567n, s: 'a @time, "@time" in a string' }]
  ]
  for (const [text, expected] of cases) {
    const got = parseEvent(text) as Record<string, unknown>
    t.equal(Object.getPrototypeOf(got), Object.prototype, text)
    for (const [key, value] of Object.entries(expected)) t.same(Object.getOwnPropertyDescriptor(got, key)?.value, value, `${text}: ${key}`)
    t.equal(stringifyEvent(got), stringifyEvent(parseJsonLexical(text)).replace(/2\.0|1e20/g, (m) => String(Number(m))), `${text}: as the exact parser`)
  }
  // @time's own forms: only an integer literal becomes a bigint; whitespace JSON allows around it is fine.
  const times: Array<[string, unknown]> = [
    ['{"@time":1.5,"a":1}', 1.5],
    ['{"@time":2.0,"a":1}', 2],
    ['{"@time":1e20,"a":1}', 1e20],
    ['{"@time":17962947001234567.0,"a":1}', Number('17962947001234567.0')],
    ['{"@time":1.7962947001234567e16,"a":1}', Number('1.7962947001234567e16')],
    ['{"@time":\t17962947001234567 \r\n,"a":1}', 17962947001234567n],
    ['{"@time":-17962947001234567 ,"a":1}', -17962947001234567n],
    ['{"@time":"x,@time","a":1}', 'x,@time'],
    ['{"@time":{"b":1,"c":17962947001234567},"a":1}', { b: 1, c: 17962947001234567n }]
  ]
  for (const [text, time] of times) t.same((parseEvent(text) as Record<string, unknown>)['@time'], time, text)
  for (const bad of ['{"@time":0123,"a":1}', '{"@time":12345678901234567,}', '{"@time":12345678901234567,"a":1', '{"@time":12345678901234567,"a":01}']) {
    t.equal(code(() => parseEvent(bad)), 'SHOEBOX_INVALID_JSON', bad)
  }
})

t.test('parseEvent agrees with the exact parser on 2,000 seeded random events', async (t) => {
  let seed = 7
  const r = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]
  const atom = (): string => pick([
    () => String(BigInt(Math.floor(r() * 1e9)) * 10000000000n + BigInt(Math.floor(r() * 1e10))),
    () => `-${Math.floor(r() * 1e9)}${Math.floor(r() * 1e9)}`,
    () => `"${pick(['', 'a:', ',', '12345678901234567890', '"x', ' ]'].slice(0, 4))}${Math.floor(r() * 1e17)}"`,
    () => `${Math.floor(r() * 1e6)}.${Math.floor(r() * 1e12)}`,
    () => String(Math.floor(r() * 100)),
    () => pick(['true', 'false', 'null'])
  ])()
  const value = (depth: number): string => {
    if (depth > 2 || r() < 0.5) return atom()
    const n = Math.floor(r() * 4)
    const items = Array.from({ length: n }, () => value(depth + 1))
    return r() < 0.5 ? `[${items.join(pick([',', ' , ']))}]` : `{${items.map((v, i) => `"k${i}":${v}`).join(',')}}`
  }
  let mismatches = 0
  for (let i = 0; i < 2000; i++) {
    const text = `{"@time":${atom()},"v":${value(0)}}`
    const reference = stringifyEvent(parseJsonLexical(text)).replace(/-?\d+\.\d+/g, (m) => String(Number(m)))
    if (stringifyEvent(parseEvent(text)) !== reference) {
      mismatches++
      t.equal(stringifyEvent(parseEvent(text)), reference, text)
    }
  }
  t.equal(mismatches, 0)
})

t.test('stringifyEvent: a value that holds itself is SHOEBOX_INVALID_EVENT, not a stack overflow', async (t) => {
  const event: Record<string, unknown> = { '@time': 1n, n: 1 }
  event.self = { inner: [event] }
  t.throws(() => stringifyEvent(event), { code: 'SHOEBOX_INVALID_EVENT', message: 'invalid event: not JSON-serialisable (it holds itself, or nests too deeply)' })
  t.equal(stringifyEvent({ '@time': 1n, deep: { a: [{ b: 2n }] } }), '{"@time":1,"deep":{"a":[{"b":2}]}}', 'nesting without a cycle is fine')
})
