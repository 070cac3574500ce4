/**
 * A key named "__proto__" is an own data property, as JSON.parse makes it,
 * and never sets the prototype: setOwnKey() (lib/json/own-key.ts) and each
 * path that builds objects key by key through it: parseJsonText() (the
 * metadir's exact values, the events' lexical parse), the archive metadata
 * block (v1 and v2 records), and parseEvent()'s bigint restore.
 */
import t, { type Test } from 'tap'
import { parseEvent, parseJsonLexical } from '../../lib/events/event-json.js'
import { encodeRecords } from '../../lib/index.js'
import { setOwnKey } from '../../lib/json/own-key.js'
import { parseJsonText } from '../../lib/json/parse-json.js'
import { decodeRecords } from '../helpers.js'

/** `obj` has "__proto__" as an own, enumerable, writable data property holding `value`, and a plain prototype. */
function ownProto (t: Test, obj: unknown, value: unknown, what: string): void {
  t.equal(Object.getPrototypeOf(obj), Object.prototype, `${what}: the prototype is Object.prototype`)
  const d = Object.getOwnPropertyDescriptor(obj, '__proto__')
  t.ok(d !== undefined && 'value' in d && d.enumerable === true && d.writable === true, `${what}: an own enumerable data property`)
  t.same(d?.value, value, `${what}: holding the value`)
  t.ok(Object.keys(obj as object).includes('__proto__'), `${what}: listed by Object.keys`)
}

t.test('setOwnKey(): "__proto__" becomes a key (an object or a string value); other keys are plain assignments', async (t) => {
  const a: Record<string, unknown> = {}
  setOwnKey(a, '__proto__', { polluted: true })
  ownProto(t, a, { polluted: true }, 'object value')
  t.equal((a as { polluted?: boolean }).polluted, undefined, 'nothing inherited from the value')
  const b: Record<string, string> = {}
  setOwnKey(b, '__proto__', 'x')
  ownProto(t, b, 'x', 'string value')
  setOwnKey(b, 'constructor', 'y')
  t.same(Object.entries(b), [['__proto__', 'x'], ['constructor', 'y']], 'in order, beside any other name')
  t.equal(({} as { polluted?: boolean }).polluted, undefined, 'Object.prototype untouched')
})

t.test('parseJsonText() and parseJsonLexical(): as JSON.parse, at every depth', async (t) => {
  const text = '{"a":1,"__proto__":{"x":2},"n":{"__proto__":"s"}}'
  const parsed = parseJsonText(text, Number) as Record<string, Record<string, unknown>>
  ownProto(t, parsed, { x: 2 }, 'parseJsonText, top level')
  ownProto(t, parsed.n, 's', 'parseJsonText, nested, a string')
  t.equal(parsed.x, undefined, 'the value did not become the prototype')
  t.same(JSON.stringify(parsed), JSON.stringify(JSON.parse(text)), 'what JSON.parse gives')
  const lexical = parseJsonLexical('{"__proto__":{"x":2.0}}') as Record<string, unknown>
  t.equal(Object.getPrototypeOf(lexical), Object.prototype, 'parseJsonLexical: plain prototype')
  t.ok(Object.hasOwn(lexical, '__proto__'), 'parseJsonLexical: an own key')
})

t.test('the archive metadata block: "__proto__" decodes as an own key, v1 and v2', async (t) => {
  for (const format of ['v1', 'v2'] as const) {
    const archive = encodeRecords([{ metadata: [['__proto__', 'x'], ['b', '2']], payload: 'p' }], { format })
    const [record] = await decodeRecords(archive)
    ownProto(t, record.metadata, 'x', format)
    t.same(Object.entries(record.metadata), [['__proto__', 'x'], ['b', '2']], `${format}: both keys, in order`)
  }
})

t.test('parseEvent(): a bigint restored under "__proto__" stays a key, at the top and nested', async (t) => {
  const top = parseEvent('{"__proto__":12345678901234567890}')
  ownProto(t, top, 12345678901234567890n, 'top level')
  const nested = parseEvent('{"@time":17962947001234567,"o":{"__proto__":9007199254740993}}') as Record<string, unknown>
  ownProto(t, nested.o, 9007199254740993n, 'nested')
})
