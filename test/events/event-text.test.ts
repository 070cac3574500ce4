/**
 * Event text: the one-object check, @time read lexically (every form of
 * spec §3.3/§14), @id/@time spliced in with every other byte kept, keys
 * found after unescaping, strict JSON validation (agreeing with JSON.parse
 * on thousands of mutated inputs), exact big integers on the way back, and
 * the lexical Integer/Number split infer_schema needs.
 */
import t from 'tap'
import {
  checkJsonText, InvalidEventTimeError, JsonNumber, parseEvent, parseJsonLexical, scanEvent, skipJsonValue, stampEventText,
  stringifyEvent
} from '../../lib/events/event-text.js'
import { eventIdTime, isEventId } from '../../lib/events/event-id.js'
import { MAX_KRONOS_TIME, MIN_KRONOS_TIME } from '../../lib/events/kronos-time.js'

function code (fn: () => unknown): string {
  try {
    return `accepted: ${String(fn())}`
  } catch (err) {
    return (err as { code?: string }).code ?? `no code: ${String(err)}`
  }
}

const fixedId = (): string => '00000000-0000-1000-8000-000000000001'

t.test('@id and @time are added at the front; every other byte stays as sent', async (t) => {
  const body = ' "a": 2.0, "b" :1e3,"big":123456789012345678901234567890, "dup":1, "dup":2, "u":"é\\u00e9😀\\ud83d\\ude00", "n":{"@time":1.5,"x":[ ]} '
  const got = stampEventText(`{${body}}`, { defaultTime: 42n, newId: fixedId })
  t.equal(got.text, `{"@time":42,"@id":"${fixedId()}",${body}}`)
  t.equal(got.time, 42n)
  t.equal(got.id, fixedId())
  t.equal(stampEventText('{}', { defaultTime: 7n, newId: fixedId }).text, `{"@time":7,"@id":"${fixedId()}"}`)
  t.equal(stampEventText(' \t{ }\r\n', { defaultTime: 7n, newId: fixedId }).text, `{"@time":7,"@id":"${fixedId()}" }`, 'outer whitespace (a CRLF line end) dropped')
})

t.test('an integer @time is kept as sent, exact above 2^53, and the id carries it', async (t) => {
  for (const raw of ['10', '0', '-0', '-5', '17962947001234567', MAX_KRONOS_TIME.toString(), MIN_KRONOS_TIME.toString()]) {
    const text = `{"x":1,"@time":${raw},"y":2}`
    const got = stampEventText(text)
    t.equal(got.time, BigInt(raw), raw)
    t.equal(got.text, `{"@id":"${got.id}","x":1,"@time":${raw},"y":2}`)
    t.ok(isEventId(got.id))
    t.equal(eventIdTime(got.id), BigInt(raw))
  }
})

t.test('@time null or absent gets the default (read lazily); the time option replaces it', async (t) => {
  let calls = 0
  const clock = (): bigint => { calls++; return 99n }
  t.equal(stampEventText('{"@time":5}', { defaultTime: clock }).time, 5n)
  t.equal(calls, 0, 'no clock read when the event has a time')
  const got = stampEventText('{"@time" : null,"a":1}', { defaultTime: clock, newId: fixedId })
  t.equal(got.text, `{"@id":"${fixedId()}","@time" : 99,"a":1}`)
  t.equal(calls, 1)
  const forced = stampEventText('{"@time":5,"a":1}', { time: 12345678901234567n, newId: fixedId })
  t.equal(forced.text, `{"@id":"${fixedId()}","@time":12345678901234567,"a":1}`)
  const now = stampEventText('{}').time
  t.ok(now > 17_000_000_000_000_000n, 'default is now')
})

t.test('every non-integer @time form is InvalidEventTime with the raw text', async (t) => {
  for (const raw of ['1.5', '1.0', '1e3', '1E3', '-1.0', '1e-7', 'true', 'false', '"5"', '"2026-12-03T10:00:00Z"', '[]', '{}', '[1]']) {
    try {
      stampEventText(`{"@time":${raw}}`)
      t.fail(`accepted ${raw}`)
    } catch (err) {
      t.ok(err instanceof InvalidEventTimeError, raw)
      t.equal((err as InvalidEventTimeError).code, 'SHOEBOX_INVALID_EVENT_TIME')
      t.equal((err as InvalidEventTimeError).rawValue, raw)
    }
  }
  for (const raw of [(MAX_KRONOS_TIME + 1n).toString(), (MIN_KRONOS_TIME - 1n).toString(), '1' + '0'.repeat(40)]) {
    t.equal(code(() => stampEventText(`{"@time":${raw}}`)), 'SHOEBOX_INVALID_EVENT_TIME', `out of range ${raw}`)
  }
  t.equal(code(() => stampEventText('{"x":{"@time":1.5}}')), 'accepted: [object Object]', 'a nested @time is just data')
})

t.test('keys are compared unescaped; a client @id is overwritten; duplicates all rewritten', async (t) => {
  const got = stampEventText('{"\\u0040time":10,"@id":"client","\\u0040id":null,"a":"@id"}', { newId: fixedId })
  t.equal(got.time, 10n)
  t.equal(got.text, `{"\\u0040time":10,"@id":"${fixedId()}","\\u0040id":"${fixedId()}","a":"@id"}`)
  const dup = stampEventText('{"@time":5,"@time":7}', { newId: fixedId })
  t.equal(dup.time, 7n, 'the last member wins, as JSON parsers keep it')
  t.equal(dup.text, `{"@id":"${fixedId()}","@time":7,"@time":7}`)
  t.equal(code(() => stampEventText('{"@time":5,"@time":1.5}')), 'SHOEBOX_INVALID_EVENT_TIME')
  const nulls = stampEventText('{"@time":5,"@time":null}', { defaultTime: 3n, newId: fixedId })
  t.equal(nulls.text, `{"@id":"${fixedId()}","@time":3,"@time":3}`)
  const parsed = parseEvent(got.text) as Record<string, unknown>
  t.equal(parsed['@id'], fixedId())
  t.equal(parsed['@time'], 10)
})

t.test('not one JSON object: SHOEBOX_INVALID_JSON or SHOEBOX_INVALID_EVENT', async (t) => {
  const invalid = ['', ' ', '{', '}', '{"a":}', '{"a":1,}', '{"a" 1}', "{'a':1}", '{a:1}', '{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":-}',
    '{"a":NaN}', '{"a":Infinity}', '{"a":"x\u0001"}', '{"a":"\\x"}', '{"a":"\\u12g4"}', '{"a":"x}', '{"a":1}{', '{"a":1} x',
    '{"a":[1,]}', '{"a":[1 2]}', '{"a":tru}', '{"a":nul}', '{"a":1}}', '{,}', '{"a":1 "b":2}', '{"a":[}', '{"a":1e}', '{"a":+1}']
  for (const text of invalid) t.equal(code(() => scanEvent(text)), 'SHOEBOX_INVALID_JSON', JSON.stringify(text))
  for (const text of ['[1]', '5', '"s"', 'null', 'true', ' [] ']) t.equal(code(() => scanEvent(text)), 'SHOEBOX_INVALID_EVENT', text)
  t.throws(() => scanEvent('{"a":1,}'), { message: /at character 7/ }, 'the position is named')
  const deep = '{"a":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}'
  t.equal(code(() => scanEvent(deep)), 'SHOEBOX_INVALID_JSON', 'deep nesting refused, no stack overflow')
  const ok = '{"a":' + '['.repeat(998) + ']'.repeat(998) + '}'
  t.equal(scanEvent(ok).end, ok.length, '1000 levels are fine')
})

t.test('the validator agrees with JSON.parse on mutated inputs', async (t) => {
  const sample = '{"a":[1,-2.5e+3,true,false,null,"x\\"y\\u00e9"],"b":{"c":{}},"d":[],"e":0.1,"f":"😀"}'
  const alphabet = '{}[]":,.-+eE0123456789 tfnul\\x\t\n'
  let state = 12345
  const rand = (n: number): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    return state % n
  }
  let disagreements = 0
  for (let round = 0; round < 5000; round++) {
    const chars = [...sample]
    const edits = 1 + rand(3)
    for (let k = 0; k < edits; k++) {
      const at = rand(chars.length)
      const kind = rand(3)
      if (kind === 0) chars.splice(at, 1)
      else if (kind === 1) chars.splice(at, 0, alphabet[rand(alphabet.length)])
      else chars[at] = alphabet[rand(alphabet.length)]
    }
    const text = chars.join('')
    let native = true
    try { JSON.parse(text) } catch { native = false }
    let ours = true
    try { checkJsonText(text) } catch { ours = false }
    if (native !== ours) {
      disagreements++
      t.fail(`disagree on ${JSON.stringify(text)}: JSON.parse ${native}, ours ${ours}`)
    }
  }
  t.equal(disagreements, 0)
})

t.test('skipJsonValue slices event texts out of a put body', async (t) => {
  const body = '{"events": {"s": [ {"a":1} ,{"b":[2,{"c":"]"}]}\n]}}'
  const arrayStart = body.indexOf('[')
  const texts: string[] = []
  let i = arrayStart + 1
  for (;;) {
    while (/\s/.test(body[i])) i++
    const end = skipJsonValue(body, i)
    texts.push(body.slice(i, end))
    i = end
    while (/\s/.test(body[i])) i++
    if (body[i++] === ']') break
  }
  t.same(texts, ['{"a":1}', '{"b":[2,{"c":"]"}]}'])
  t.equal(skipJsonValue(body, 0), body.length)
})

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

t.test('parseJsonLexical: numbers keep their text; Integer vs Number by form', async (t) => {
  const v = parseJsonLexical('{"i":2,"f":2.0,"e":1e3,"z":-0,"big":123456789012345678901,"l":[1.10]}') as Record<string, JsonNumber | JsonNumber[]>
  const n = (x: unknown): JsonNumber => x as JsonNumber
  t.same([n(v.i).isInteger, n(v.f).isInteger, n(v.e).isInteger, n(v.z).isInteger, n(v.big).isInteger], [true, false, false, true, true])
  t.equal(n((v.l as JsonNumber[])[0]).text, '1.10')
  t.equal(stringifyEvent(v), '{"i":2,"f":2.0,"e":1e3,"z":-0,"big":123456789012345678901,"l":[1.10]}', 'written back as sent')
  t.equal(JSON.stringify(v), '{"i":2,"f":2,"e":1000,"z":0,"big":123456789012345680000,"l":[1.1]}', 'JSON.stringify still works')
  t.equal(stringifyEvent({ a: undefined, b: [undefined], c: new Date(0) }), '{"b":[null],"c":"1970-01-01T00:00:00.000Z"}')
})
