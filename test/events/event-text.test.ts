/**
 * Event text: the one-object check, @time read lexically (every form of
 * spec §3.3/§14), @id/@time spliced in with every other byte kept, keys
 * found after unescaping, bad JSON and non-objects refused.
 */
import t from 'tap'
import { InvalidEventTimeError, parseEvent, scanEvent, stampEventText } from '../../lib/events/event-text.js'
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
