/**
 * as-written.ts: jsonFieldSpan finds a field's value text as JSON.parse would
 * find the field, and compactJson takes whitespace out and nothing else, at
 * any depth.
 */
import t from 'tap'
import { compactJson, jsonFieldSpan } from '../../lib/json/as-written.js'

const field = (text: string, path: string): string | undefined => {
  const span = jsonFieldSpan(text, path.split('.'))
  return span === undefined ? undefined : text.slice(span.start, span.end)
}

t.test('a dotted path through objects, the last of repeated keys, nothing through non-objects', async (t) => {
  const text = ' { "a" : { "b" : [1, 2] , "c": 9007199254740993 }, "x": 1, "x" : "two", "e\\u0301": true } '
  t.equal(field(text, 'a'), '{ "b" : [1, 2] , "c": 9007199254740993 }')
  t.equal(field(text, 'a.b'), '[1, 2]')
  t.equal(field(text, 'a.c'), '9007199254740993')
  t.equal(field(text, 'x'), '"two"', 'the last one, as JSON.parse')
  t.equal(field(text, 'e\u0301'), 'true', 'keys compared decoded')
  t.equal(field(text, 'a.b.0'), undefined, 'arrays are not descended into')
  t.equal(field(text, 'a.c.d'), undefined)
  t.equal(field(text, 'nope'), undefined)
  t.equal(field(text, 'constructor'), undefined, 'own keys only')
  t.equal(field('{}', 'a'), undefined)
  t.equal(field('[{"a":1}]', 'a'), undefined)
})

t.test('members nested far past MAX_JSON_DEPTH are skipped or found without a stack overflow', async (t) => {
  const nested = '['.repeat(100000) + ']'.repeat(100000)
  const text = `{"d":${nested},"k":"v","o":{"d":${nested}}}`
  t.equal(field(text, 'k'), '"v"')
  t.equal(field(text, 'o.d'), nested)
})

t.test('whitespace between tokens goes, strings and numbers stay as written', async (t) => {
  t.equal(compactJson(' {\n\t"a b" : [ 1.50 , 9007199254740993 ,\r\n1e400 ] ,"a b":"x \\" y" }\n'), '{"a b":[1.50,9007199254740993,1e400],"a b":"x \\" y"}')
  t.equal(compactJson('"  \\u00e9 \\ud800 "'), '"  \\u00e9 \\ud800 "')
  t.equal(compactJson('xx[ 1, {} ]yy', 2, 11), '[1,{}]', 'a span of a larger text')
  const deep = '[ '.repeat(100000) + ' ]'.repeat(100000)
  t.equal(compactJson(deep), '['.repeat(100000) + ']'.repeat(100000), 'no stack to overflow')
})
