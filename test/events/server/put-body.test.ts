/**
 * The put body walk's plain-text path: a body with no backslash and no
 * control character skips strings by indexOf and compares keys without
 * unescaping. It must find exactly what the character loop finds (the same
 * element spans and @time/@id spans) and refuse exactly what it refuses;
 * text with an escape or a raw control character anywhere takes the loop.
 */
import t from 'tap'
import { isPlainJsonText } from '../../../lib/events/event-text.js'
import { walkPutBody, type PutBody } from '../../../lib/events/server/put-body.js'

const EVENTS = [
  '{"@time":17645472000000000,"user_id":"u_1","path":"/a","@id":"adf58000-ce48-11f0-8b88-326831d1cbf2"}',
  '{}',
  '{"@time" : null , "x":[1,{"@time":2}],"@timex":"@time","@id":"", "k":"@id"}',
  '{"@":"","@t":1,"@idx":2,"@time":"17645472000000000","u":"ünïcödé ✓ 𝄞"}',
  '{"a":{"b":{"c":[true,false,null,-1.5e3]}},"@id":"not an id","@time":1}'
]

function summary (text: string): unknown {
  const body: PutBody = walkPutBody(text)
  return body.streams?.map((s) => {
    const spans = []
    const el = s.elements
    for (let k = 0; k < (el?.length ?? 0); k++) {
      if (el === undefined) break
      const m = el.isObject(k) ? { ...el.members(k, { bodyStart: 0, end: 0, empty: true, timeCount: 0, timeStart: 0, timeEnd: 0, idCount: 0, idStart: 0, idEnd: 0 }) } : undefined
      spans.push([el.start(k), el.end(k), m])
    }
    return [s.name, spans]
  })
}

t.test('plain text is recognised: no backslash, no control character', async (t) => {
  t.equal(isPlainJsonText('{"a":"b c"}'), true)
  t.equal(isPlainJsonText('{"a":"\\"b"}'), false)
  t.equal(isPlainJsonText('{"a":\n"b"}'), false)
  t.equal(isPlainJsonText('{"a":"b\u0001"}'), false)
  t.equal(isPlainJsonText('{"a":"\u007f ü"}'), true)
})

t.test('the plain path finds the same spans as the character loop', async (t) => {
  const compact = `{"namespace":"kronos","events":{"s1":[${EVENTS.join(',')}],"s2":[1,"x",${EVENTS[0]}],"s3":{}}}`
  t.equal(isPlainJsonText(compact), true)
  // A newline between events (outside strings) makes a body not plain: the loop walks it. The
  // same body with a space there instead (same offsets) takes the plain path: same spans.
  const looped = compact.replaceAll('},{', '},\n{')
  const plain = compact.replaceAll('},{', '}, {')
  t.equal(isPlainJsonText(looped), false)
  t.equal(isPlainJsonText(plain), true)
  t.same(summary(plain), summary(looped))
  t.equal((summary(compact) as unknown[]).length, 3)
})

t.test('every truncation of a plain body is refused as the loop refuses it', async (t) => {
  const body = `{"events":{"s":[${EVENTS.slice(0, 3).join(',')}]}}`
  let refused = 0
  for (let cut = 1; cut < body.length; cut++) {
    const text = body.slice(0, cut)
    t.equal(isPlainJsonText(text), true)
    t.throws(() => walkPutBody(text), { code: 'SHOEBOX_INVALID_JSON' }, `cut at ${cut}`)
    refused++
  }
  t.equal(refused, body.length - 1)
})

t.test('a raw control character or a bad escape in a string is still refused', async (t) => {
  t.throws(() => walkPutBody('{"events":{"s":[{"a":"x\u0001y"}]}}'), { code: 'SHOEBOX_INVALID_JSON' })
  t.throws(() => walkPutBody('{"events":{"s":[{"a":"x\\qy"}]}}'), { code: 'SHOEBOX_INVALID_JSON' })
  t.throws(() => walkPutBody('{"events":{"s":[{"a\u0009":1}]}}'), { code: 'SHOEBOX_INVALID_JSON' })
  const escapedKey = summary('{"events":{"s":[{"\\u0040time":5,"@id":"x"}]}}') as Array<[string, Array<[number, number, { timeCount: number, idCount: number }]>]>
  t.equal(escapedKey[0][1][0][2].timeCount, 1)
  t.equal(escapedKey[0][1][0][2].idCount, 1)
})
