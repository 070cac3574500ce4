/**
 * The shipper's one-pass check against the exact path (scanEvent and the
 * @library search): it may send a text to the exact path, but it must never
 * accept a text that path refuses, and what it reports must agree. Checked
 * over valid texts and every truncation and single-character mutation of them.
 */
import t from 'tap'
import { MAX_JSON_DEPTH } from '../../lib/json/json-scan.js'
import { eventIdTime, lowestEventId } from '../../lib/events/event-id.js'
import { scanEvent } from '../../lib/events/event-text.js'
import { HAS_ID, HAS_LIBRARY, HAS_TIME, NOT_QUICK, quickCheckEvent, quickSpans, quickTime } from '../../lib/events/ship-event-check.js'
import { prepareEvent, preparedText } from '../../lib/events/ship-event.js'
import { BatchBody, IdTail } from '../../lib/events/ship-body.js'
import { keptEventId } from '../../lib/events/kept-event-ids.js'

const SAMPLES = [
  '{"@time":17645472000000000,"user_id":"u_0a1b2c3d4e5f","path":"/pricing","viewport":{"w":1280,"h":810},"price":2.0,"trial":false,"ref":null}',
  '{"a":1}',
  '{}',
  '{"@time":-5,"x":[1,-0,0.5,1e3,1E+2,-2.5e-3,[],{},[{"k":"v"}]]}',
  '{"@time":0}',
  '{"big":12345678901234567890123,"@time":99999999999999999}',
  '{"s":"é日本語😀","esc":"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00"}',
  '{"nested":{"@time":"not top level","@library":{"name":"x"}}}',
  '{"@library":{"name":"mine","version":"1"},"@time":123}',
  '{"list":[{"@library":1}]}',
  '{ "a" : 1 , "b" :\t[ true , false , null ]\r\n}',
  '{"@time":null}',
  '{"@time":1.5}',
  '{"@time":100000000000000000000}',
  '{"@time":1,"@time":2}',
  '{"\\u0040time":5}',
  '{"k\\n":1,"@id":"x"}',
  ' {"a":1}',
  '{"@time":123456789012345678}',
  '{"a":1} ',
  `{"deep":${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}`,
  `{"deep":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`,
  '{"@time":17645472000000000,"@id":"b3c1a000-cb1e-11f0-8a2b-0123456789ab","n":1}',
  '{"@id" : "mine", "n":2.0, "o":{"@id":{"x":1}}}',
  '{"@id":1}',
  '{"@id":"a","@id":"b"}',
  '{"@id":"\\u0041","@time":-99999999999999999}'
]

/** The valid, not too large samples that the mutation test changes. */
const MUTATED = SAMPLES.filter((s, i) => i !== 20 && i !== 21)

const LIBRARY_KEY = /"@library"\s*:/

/** What the exact path says: null when it refuses the text. */
function exact (text: string): { start: number, end: number, time: bigint | null, times: number, ids: Array<{ valueStart: number, valueEnd: number }>, library: boolean } | null {
  try {
    const scan = scanEvent(text)
    return { start: scan.start, end: scan.end, time: scan.time, times: scan.timeMembers.length, ids: scan.idMembers, library: LIBRARY_KEY.test(text) }
  } catch {
    return null
  }
}

/** Why `quick` disagrees with the exact path on `text`, or null when it does not. */
function disagreement (text: string): string | null {
  const quick = quickCheckEvent(text)
  if (quick === NOT_QUICK) return null
  const e = exact(text)
  if (e === null) return 'accepted a text the exact path refuses'
  if (e.start !== 0 || e.end !== text.length) return 'accepted white space around the object'
  if (((quick & HAS_TIME) !== 0) !== (e.time !== null && e.times === 1)) return `@time: quick ${(quick & HAS_TIME) !== 0}, exact ${e.time} (${e.times} members)`
  if ((quick & HAS_TIME) === 0 && e.times !== 0) return 'no @time, but the exact path sees one'
  if ((quick & HAS_TIME) !== 0 && quickTime(text) !== e.time) return `@time: quick ${quickTime(text)}, exact ${e.time}`
  if (((quick & HAS_ID) !== 0) !== (e.ids.length > 0)) return `@id: quick ${(quick & HAS_ID) !== 0}, exact ${e.ids.length} members`
  if ((quick & HAS_ID) !== 0 && (e.ids.length !== 1 || e.ids[0].valueStart !== quickSpans.idStart || e.ids[0].valueEnd !== quickSpans.idEnd)) return '@id: another member or span than the exact path\'s'
  if (((quick & HAS_LIBRARY) !== 0) !== e.library) return `@library: quick ${(quick & HAS_LIBRARY) !== 0}, exact ${e.library}`
  return null
}

t.test('the common shapes are quick, the rare ones go the exact way', async (t) => {
  t.equal(quickCheckEvent(SAMPLES[0]), HAS_TIME)
  t.equal(quickCheckEvent('{"a":1}'), 0)
  t.equal(quickCheckEvent('{}'), 0)
  t.equal(quickCheckEvent(SAMPLES[8]), HAS_TIME | HAS_LIBRARY)
  t.equal(quickCheckEvent(SAMPLES[9]), HAS_LIBRARY, 'a nested @library key counts, as the search does')
  t.equal(quickCheckEvent(SAMPLES[7]), HAS_LIBRARY, 'a nested @time is not the event\'s')
  for (const rare of ['{"@time":null}', '{"@time":1.5}', '{"@time":100000000000000000000}', '{"@time":1,"@time":2}', '{"\\u0040time":5}', '{"k\\n":1}', ' {"a":1}', '{"a":1} ', '{"@time":123456789012345678}']) {
    t.equal(quickCheckEvent(rare), NOT_QUICK, rare)
  }
  t.equal(quickCheckEvent(SAMPLES[22]), HAS_TIME | HAS_ID, 'a stamped event is quick')
  t.equal(quickTime(SAMPLES[22]), 17645472000000000n, 'its @time read in place')
  t.equal(SAMPLES[22].slice(quickSpans.idStart, quickSpans.idEnd), '"b3c1a000-cb1e-11f0-8a2b-0123456789ab"', 'its @id found')
  t.equal(quickCheckEvent(SAMPLES[23]), HAS_ID, 'a nested @id is not the event\'s')
  t.equal(quickCheckEvent('{"@id":1}'), NOT_QUICK, 'an @id that is not a string')
  t.equal(quickCheckEvent('{"@id":"a","@id":"b"}'), NOT_QUICK, 'two @ids')
  t.equal(quickCheckEvent('{"\\u0040id":"a"}'), NOT_QUICK, 'an escaped key could spell @id')
  t.not(quickCheckEvent(SAMPLES[20]), NOT_QUICK, `nesting of ${MAX_JSON_DEPTH} is valid`)
  t.equal(quickCheckEvent(SAMPLES[21]), NOT_QUICK, `nesting over ${MAX_JSON_DEPTH} is not`)
})

t.test('never accepts what the exact path refuses: every truncation and single-character change', async (t) => {
  const replacements = [' ', '"', '\\', ',', ':', '{', '}', '[', ']', '0', '1', '-', '+', 'e', '.', 'x', 'u', 'n', '\u0001', '\n', '@']
  let checked = 0
  const wrong: string[] = []
  const check = (text: string): void => {
    checked++
    const why = disagreement(text)
    if (why !== null && wrong.length < 5) wrong.push(`${JSON.stringify(text.length > 200 ? text.slice(0, 200) : text)}: ${why}`)
  }
  for (const sample of MUTATED) {
    check(sample)
    for (let i = 0; i < sample.length; i++) {
      check(sample.slice(0, i))
      check(sample.slice(0, i) + sample.slice(i + 1))
      for (const r of replacements) check(sample.slice(0, i) + r + sample.slice(i + 1))
      check(sample.slice(0, i) + '"' + sample.slice(i))
    }
  }
  t.same(wrong, [], `${checked} texts checked`)
  t.ok(checked > 20_000, 'every sample mutated')
})

t.test('prepareEvent: the quick path and the exact path give the same text, @id included', async (t) => {
  const now = (): bigint => 17645472000000000n
  // An id that depends only on the time: both paths must read the same @time to make the same one.
  const newId = (time: bigint): string => lowestEventId(time)
  const defaults = { stream: 's', namespace: undefined, library: { name: 'shoebox', version: '9.9.9' } }
  let quickOnes = 0
  for (const sample of SAMPLES) {
    if (quickCheckEvent(sample) === NOT_QUICK) continue
    quickOnes++
    // Leading white space sends the same event the exact way.
    const quick = prepareEvent(sample, defaults, now, newId)
    const slow = prepareEvent(` ${sample}`, defaults, now, newId)
    t.equal(preparedText(quick), preparedText(slow), sample.slice(0, 60))
    t.match(preparedText(quick), /"@id"\s*:\s*"[0-9a-f-]{36}"/, 'an @id sent')
    t.equal(slow.tail, undefined, 'the exact path builds the whole text')
    const asObject = prepareEvent({ stream: 's', event: JSON.parse(sample) as object }, defaults, now)
    t.equal(asObject.stream, 's')
    t.equal(preparedText(prepareEvent(sample, { ...defaults, library: false }, now, newId)), preparedText(prepareEvent(`${sample}\n`, { ...defaults, library: false }, now, newId)))
  }
  t.ok(quickOnes >= 15, `${quickOnes} samples compared`)
  const lib = '"@library": {"name":"shoebox","version":"9.9.9"}'
  const id = (time: bigint): string => `"@id": "${lowestEventId(time)}"`
  for (const [text, sent] of [
    ['{"a":1}', `{"a":1, "@time": 17645472000000000, ${id(17645472000000000n)}, ${lib}}`],
    ['{}', `{"@time": 17645472000000000, ${id(17645472000000000n)}, ${lib}}`],
    ['{"@time":5}', `{"@time":5, ${id(5n)}, ${lib}}`],
    ['{"@time":-17645472000000000,"@id":"mine"}', `{"@time":-17645472000000000,"@id":"${lowestEventId(-17645472000000000n)}", ${lib}}`],
    ['{"@time":5,"a":[1] \n}', `{"@time":5,"a":[1], ${id(5n)}, ${lib}}`],
    ['{"@time":5,"@library":"x"}', `{"@time":5,"@library":"x", ${id(5n)}}`],
    ['{"@time":5,"@id":"x","@library":"x"}', `{"@time":5,"@id":"${lowestEventId(5n)}","@library":"x"}`]
  ]) {
    const prepared = prepareEvent(text, defaults, now, newId)
    t.equal(preparedText(prepared), sent, text)
    t.equal(preparedText(prepared), preparedText(prepareEvent(` ${text}`, defaults, now, newId)), `${text}: as the exact path`)
  }
  t.equal(prepareEvent('{"@time":5,"@id":"x","@library":"x"}', defaults, now, newId).tail, undefined, 'nothing to add: the text with its @id replaced')
  t.throws(() => prepareEvent('{"a":1,}', defaults, now), { code: 'SHOEBOX_INVALID_JSON' })
  t.throws(() => prepareEvent('{"@time":1.5}', defaults, now), { code: 'SHOEBOX_INVALID_EVENT_TIME' })
  t.throws(() => prepareEvent({ stream: 'bad name', event: '{}' }, defaults, now), { code: 'SHOEBOX_INVALID_STREAM_NAME' })
  t.throws(() => prepareEvent({ stream: 'bad name', event: '{}' }, defaults, now), { code: 'SHOEBOX_INVALID_STREAM_NAME' }, 'a refused name is checked again')
})

t.test('prepareEvent with its own ids: the @id goes in as words (IdTail), valid for the event\'s @time, the rest as the exact path', async (t) => {
  const defaults = { stream: 's', namespace: undefined, library: { name: 'shoebox', version: '9.9.9' } }
  const ID = /"@id": ?"([0-9a-f-]{36})"/
  const masked = (text: string): string => text.replace(ID, '"@id": "ID"')
  let words = 0
  for (const sample of [...SAMPLES, '{"@time":99999999999999999}', '{"@time":4294967295,"x":"ü"}', '{"@time":-17645472000000000}']) {
    if (quickCheckEvent(sample) === NOT_QUICK) continue
    for (const library of [defaults.library, false as const]) {
      const quick = prepareEvent(sample, { ...defaults, library })
      const text = preparedText(quick)
      if (quick.tail instanceof IdTail) words++
      const id = ID.exec(text)?.[1] ?? '(none)'
      const sent = JSON.parse(text) as Record<string, unknown>
      const time = (quickCheckEvent(sample) & HAS_TIME) !== 0 ? quickTime(sample) : BigInt(text.match(/"@time": ?(-?\d+)/)?.[1] ?? 'x')
      t.equal(keptEventId(`"${sent['@id'] as string}"`, time)?.length, 16, `${sample.slice(0, 40)}: a v1 id for its own @time`)
      if (ID.test(text)) t.equal(eventIdTime(id), time)
      // The exact path (leading white space) with the same @time, compared with the ids masked.
      if ((quickCheckEvent(sample) & HAS_TIME) !== 0) t.equal(masked(text), masked(preparedText(prepareEvent(` ${sample}`, { ...defaults, library }))), sample.slice(0, 60))
      // In a body, the tail is written from its words: the same text.
      const body = new BatchBody('s', undefined)
      body.append(quick.text, quick.tail)
      t.equal(body.text(0), text, 'the body holds what preparedText() says')
    }
  }
  t.ok(words >= 20, `${words} events took the words path`)
  const now = prepareEvent('{"a":1}', { ...defaults, library: false })
  t.match(preparedText(now), /^\{"a":1, "@time": \d{13}0000, "@id": "[0-9a-f-]{36}"\}$/, 'no @time: now, from the clock\'s ms')
  const fixed = prepareEvent('{}', { ...defaults, library: false }, () => 17645472000000123n)
  t.match(preparedText(fixed), /^\{"@time": 17645472000000123, "@id": "[0-9a-f-]{36}"\}$/, 'a given clock')
  t.equal(eventIdTime(ID.exec(preparedText(fixed))?.[1] ?? ''), 17645472000000123n)
})
