/**
 * The put body walk over the request's bytes (put-body.ts, json-bytes.ts)
 * against the string scanner it replaced: on many generated bodies (escapes,
 * unicode, white space, nesting, duplicate keys) it accepts exactly the
 * valid JSON and finds, per element, the same text, and for an object the
 * same @time/@id members as walkEventMembers() finds in the decoded text. Every
 * truncation, a raw control character and a bad escape are refused.
 */
import t from 'tap'
import { EventMembers, walkEventMembers, type MemberSpan } from '../../../lib/events/event-text.js'
import { walkPutBody, type PutBody } from '../../../lib/events/server/put-body.js'

const EVENTS = [
  '{"@time":17645472000000000,"user_id":"u_1","path":"/a","@id":"adf58000-ce48-11f0-8b88-326831d1cbf2"}',
  '{}',
  '{"@time" : null , "x":[1,{"@time":2}],"@timex":"@time","@id":"", "k":"@id"}',
  '{"@":"","@t":1,"@idx":2,"@time":"17645472000000000","u":"ünïcödé ✓ 𝄞"}',
  '{"a":{"b":{"c":[true,false,null,-1.5e3]}},"@id":"not an id","@time":1}',
  '{"\\u0040time":5,"@id":"x","q":"a\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9"}',
  '{"@time":1,"@time":2,"\\u0040id":"y","@id":"z"}',
  '{ "é" : "😀" ,\n\t"@id" : "ü" }'
]

const EMPTY_MEMBERS = { bodyStart: 0, end: 0, empty: true, timeCount: 0, timeStart: 0, timeEnd: 0, idCount: 0, idStart: 0, idEnd: 0 }

/** Per stream: name, and per element its text and (for an object) its @time/@id texts and counts. */
function summary (bytes: Buffer): unknown {
  const body: PutBody = walkPutBody(bytes)
  const text = (a: number, b: number): string => bytes.toString('utf8', a, b)
  return body.streams?.map((s) => {
    const el = s.elements
    const out = []
    for (let k = 0; k < (el?.length ?? 0); k++) {
      if (el === undefined) break
      const element = text(el.start(k), el.end(k))
      if (!el.isObject(k)) {
        out.push([element])
        continue
      }
      const m = el.members(k, { ...EMPTY_MEMBERS })
      out.push([element, m.timeCount, m.timeCount > 0 ? text(m.timeStart, m.timeEnd) : '', m.idCount, m.idCount > 0 ? text(m.idStart, m.idEnd) : '', m.empty])
    }
    return [s.name, out]
  })
}

/** What the string scanner finds in the same body (JSON.parse for the structure, scanEvent per element). */
function expected (body: string, elements: Record<string, string[]>): unknown {
  const streams = (JSON.parse(body) as { events: Record<string, unknown[]> }).events
  return Object.keys(streams).map((name) => [name, elements[name].map((element) => {
    if (!element.trimStart().startsWith('{')) return [element]
    const all = { time: [] as MemberSpan[], id: [] as MemberSpan[] }
    const m = new EventMembers()
    walkEventMembers(element, 0, 2, m, all)
    const last = (spans: MemberSpan[]): string => spans.length === 0 ? '' : element.slice(spans[spans.length - 1].valueStart, spans[spans.length - 1].valueEnd)
    return [element, all.time.length, last(all.time), all.id.length, last(all.id), m.empty]
  })])
}

/** A deterministic generator (no Math.random: failures must reproduce). */
function rng (seed: number): () => number {
  let x = seed
  return () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    return x / 0x80000000
  }
}

const PIECES = ['a', 'é', '😀', '\\n', '\\"', '\\\\', '\\u0040', '\\u00e9', 'ü', ' ', '@', 'time', 'id', '日本']
const WS = ['', ' ', '\n', '\t ', '\r\n']

function genString (r: () => number): string {
  let s = '"'
  for (let n = Math.floor(r() * 5); n > 0; n--) s += PIECES[Math.floor(r() * PIECES.length)]
  return s + '"'
}

function genValue (r: () => number, depth: number): string {
  const pick = Math.floor(r() * (depth > 2 ? 5 : 7))
  if (pick === 0) return genString(r)
  if (pick === 1) return String(Math.floor(r() * 1e6) - 5e5)
  if (pick === 2) return ['true', 'false', 'null', '-1.5e3', '0.25', '17645472000000000123'][Math.floor(r() * 6)]
  if (pick === 3) return '"@time"'
  if (pick === 4) return genString(r)
  if (pick === 5) return `[${Array.from({ length: Math.floor(r() * 3) }, () => genValue(r, depth + 1)).join(',')}]`
  return genObject(r, depth + 1)
}

function genObject (r: () => number, depth: number): string {
  const keys = ['"@time"', '"@id"', '"\\u0040time"', '"@\\u0069d"', '"x"', '"é"', '"@timex"', genString(r)]
  const members = Array.from({ length: Math.floor(r() * 5) }, () => {
    const ws = WS[Math.floor(r() * WS.length)]
    return `${ws}${keys[Math.floor(r() * keys.length)]}${ws}:${ws}${genValue(r, depth)}`
  })
  return `{${members.join(',')}}`
}

t.test('generated bodies: the same elements and @time/@id members as the string scanner finds', async (t) => {
  const r = rng(42)
  for (let n = 0; n < 300; n++) {
    const elements: Record<string, string[]> = {}
    const names = ['s', 'web.click', 'ü', 's']
    for (const name of names.slice(0, 1 + Math.floor(r() * 4))) {
      elements[name] = Array.from({ length: Math.floor(r() * 4) }, () => r() < 0.8 ? genObject(r, 2) : genValue(r, 2))
    }
    const body = `{"namespace":"kronos","events":{${Object.entries(elements).map(([name, list]) => `${JSON.stringify(name)}:[${list.join(',')}]`).join(',')}}}`
    // A repeated stream name: the last list wins, as a Python dict keeps it.
    t.same(summary(Buffer.from(body)), expected(body, elements), `body ${n}`)
  }
})

t.test('the fixed events, compact and spread over lines: the same as the string scanner', async (t) => {
  for (const sep of [',', ' ,\r\n ']) {
    const body = `{"events":{"s1":[${EVENTS.join(sep)}],"s2":[1,"x",${EVENTS[0]}],"s3":[]}}`
    t.same(summary(Buffer.from(body)), expected(body, { s1: EVENTS, s2: ['1', '"x"', EVENTS[0]], s3: [] }))
  }
})

t.test('every truncation of a body is refused, wherever it cuts (inside a character too)', async (t) => {
  const body = Buffer.from(`{"events":{"s":[${EVENTS.join(',')}]}}`)
  for (let cut = 1; cut < body.length; cut++) {
    t.throws(() => walkPutBody(body.subarray(0, cut)), { code: 'SHOEBOX_INVALID_JSON' }, `cut at ${cut}`)
  }
  t.ok(walkPutBody(body).streams !== undefined)
})

t.test('a raw control character, a bad escape or a bad value is refused', async (t) => {
  for (const bad of ['{"a":"x\u0001y"}', '{"a":"x\\qy"}', '{"a\u0009":1}', '{"a":"\\u00g0"}', '{"a":01}', '{"a":1.}', '{"a":tru}', '{"a":[1,]}', '{"a":1,}', '{"a" 1}']) {
    t.throws(() => walkPutBody(Buffer.from(`{"events":{"s":[${bad}]}}`)), { code: 'SHOEBOX_INVALID_JSON' }, bad)
  }
  t.throws(() => walkPutBody(Buffer.from('{"events":{"s":[]}} x')), { code: 'SHOEBOX_INVALID_JSON' })
  t.throws(() => walkPutBody(Buffer.from(`{"events":{"s":[${'['.repeat(1000)}${']'.repeat(1000)}]}}`)), { code: 'SHOEBOX_INVALID_JSON' }, 'nested deeper than the limit')
})

t.test('the lists of one body share a table the next walk does not touch: long lists, several streams, a refused walk between', async (t) => {
  // 5000 and 3000 elements: past the walk's reused table (4096 elements), which grows mid-list.
  const big = Array.from({ length: 5000 }, (_, i) => i % 7 === 3 ? String(i) : `{"@time":${i},"n":"${'x'.repeat(i % 11)}","@id":"i${i}"}`)
  const second = Array.from({ length: 3000 }, (_, i) => `{"k":{"deep":[${i}]},"@time":${i}}`)
  const body = `{"events":{"a":${JSON.stringify([])},"big":[${big.join(',')}],"not a list":{"x":1},"second":[${second.join(',')}]}}`
  // The object value has no elements: summary() gives it an empty list, and so does expected() here.
  const want = expected(body, { a: [], big, 'not a list': [], second })
  const first = walkPutBody(Buffer.from(body))
  const firstSummary = (): unknown => first.streams?.map((s) => [s.name, s.elements?.length, s.elements === undefined ? [] : Array.from({ length: s.elements.length }, (_, k) => [s.elements?.start(k), s.elements?.end(k), s.elements?.isObject(k)])])
  const before = firstSummary()
  t.same(first.streams?.map((s) => [s.name, s.elements?.length]), [['a', 0], ['big', 5000], ['not a list', undefined], ['second', 3000]])
  t.same(summary(Buffer.from(body)), want)
  // A walk that fails halfway through a long list, then a small one: the first body's spans are as they were.
  t.throws(() => walkPutBody(Buffer.from(`{"events":{"s":[${big.join(',')},]}}`)), { code: 'SHOEBOX_INVALID_JSON' })
  t.same(summary(Buffer.from(`{"events":{"s":[${EVENTS[0]}]}}`)), expected(`{"events":{"s":[${EVENTS[0]}]}}`, { s: [EVENTS[0]] }))
  t.same(firstSummary(), before)
  t.equal(first.streams?.[2].elements, undefined, 'an object value has no elements')
})
