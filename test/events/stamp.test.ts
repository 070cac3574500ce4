/**
 * stamp() and stampNdjson(): stream names checked, @time kept / defaulted /
 * taken from a field (every unit) or a function, @id fresh, the event text
 * otherwise as sent; NDJSON split at every byte boundary with CRLF, unicode
 * and blank lines; bad lines reported with their line number either as an
 * `invalid` event or as an error raised after every good event before it.
 */
import t from 'tap'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DEFAULT_MAX_LINE_LENGTH, MAX_LINE_LENGTH_CEILING, stamp, stampNdjson, type InvalidEventInfo, type StampedEventRecord } from '../../lib/events/stamp.js'
import { eventIdTime, isEventId } from '../../lib/events/event-id.js'
import { countSplitScans } from '../helpers.js'

const clock = (): bigint => 17_000_000_000_000_000n

async function collect (stream: AsyncIterable<unknown>): Promise<{ records: StampedEventRecord[], error?: { code?: string, message: string } }> {
  const records: StampedEventRecord[] = []
  try {
    for await (const r of stream) records.push(r as StampedEventRecord)
  } catch (err) {
    return { records, error: err as { code?: string, message: string } }
  }
  return { records }
}

function run (stream: NodeJS.ReadWriteStream, inputs: unknown[]): Promise<ReturnType<typeof collect> extends Promise<infer R> ? R : never> {
  const done = collect(stream as unknown as AsyncIterable<unknown>)
  for (const i of inputs) stream.write(i as string)
  stream.end()
  return done
}

t.test('objects, text and Buffers are stamped; everything but @id/@time stays as sent', async (t) => {
  const s = stamp({ stream: 'page.views', now: clock })
  const { records, error } = await run(s, [
    { a: 1, big: 12345678901234567890n },
    '{"f":2.0,"e":1e3,"u":"é😀"}',
    Buffer.from('{"@time":10,"@id":"client"}')
  ])
  t.equal(error, undefined)
  t.equal(records.length, 3)
  for (const r of records) {
    t.equal(r.stream, 'page.views')
    t.ok(isEventId(r.id))
    t.equal(eventIdTime(r.id), r.time)
  }
  t.equal(records[0].event, `{"@time":17000000000000000,"@id":"${records[0].id}","a":1,"big":12345678901234567890}`)
  t.equal(records[1].event, `{"@time":17000000000000000,"@id":"${records[1].id}","f":2.0,"e":1e3,"u":"é😀"}`)
  t.equal(records[2].event, `{"@time":10,"@id":"${records[2].id}"}`)
  t.same(records.map((r) => r.line), [1, 2, 3])
})

t.test('a stream or time field named like an Object.prototype member is an ordinary field', async (t) => {
  const s = stamp({ stream: 'fallback', streamField: 'constructor', timeField: 'toString', now: clock })
  const { records, error } = await run(s, ['{"toString":17000000000000001}', '{"constructor":"named","toString":17000000000000002}'])
  t.equal(error, undefined, 'an event without the field takes the default stream')
  t.same(records.map((r) => [r.stream, r.time]), [['fallback', 17_000_000_000_000_001n], ['named', 17_000_000_000_000_002n]])
  const noTime = await run(stamp({ stream: 's', timeField: 'valueOf' }), ['{"a":1}'])
  t.match(noTime.error, { code: 'SHOEBOX_INVALID_EVENT_TIME', message: /no time field "valueOf"/ })
})

t.test('time from a field in every unit, from a function; stream from a field', async (t) => {
  const s = stamp({ stream: 'fallback', streamField: 'kind', timeField: 'ts', now: clock })
  const { records, error } = await run(s, [
    '{"ts":17000000000000001,"kind":"clicks"}',
    '{"ts":"2023-11-14T22:13:20.0000001Z"}',
    '{"ts":"17000000000000002"}',
    { ts: new Date(1_700_000_000_000) },
    { ts: 17_000_000_000_000_003n, kind: 'x-y' }
  ])
  t.equal(error, undefined)
  t.same(records.map((r) => [r.stream, r.time]), [
    ['clicks', 17_000_000_000_000_001n], ['fallback', 17_000_000_000_000_001n], ['fallback', 17_000_000_000_000_002n],
    ['fallback', 17_000_000_000_000_000n], ['x-y', 17_000_000_000_000_003n]
  ])
  t.equal(records[0].event, `{"@time":17000000000000001,"@id":"${records[0].id}","ts":17000000000000001,"kind":"clicks"}`, 'the field stays')
  const ms = await run(stamp({ stream: 's', timeField: 't', timeUnit: 'ms' }), ['{"t":1700000000000.5}', '{"t":"1700000000001"}'])
  t.same(ms.records.map((r) => r.time), [17_000_000_000_005_000n, 17_000_000_000_010_000n])
  const secs = await run(stamp({ stream: 's', timeField: 't', timeUnit: 's' }), ['{"t":1700000000.1234567}', '{"t":1700000001}'])
  t.same(secs.records.map((r) => r.time), [17_000_000_001_234_567n, 17_000_000_010_000_000n])
  // Decimal text in the unit, as integer text is (str(time.time()) in a Python log): it was read as ISO 8601 and refused.
  const texts = await run(stamp({ stream: 's', timeField: 't', timeUnit: 's' }), ['{"t":"1700000000.1234567"}', '{"t":" -1.5 "}', '{"t":"1700000000.0000001"}'])
  t.equal(texts.error, undefined)
  t.same(texts.records.map((r) => r.time), [17_000_000_001_234_567n, -15_000_000n, 17_000_000_000_000_001n], 'seconds as decimal text, exact to the tick')
  const msTexts = await run(stamp({ stream: 's', timeField: 't', timeUnit: 'ms' }), ['{"t":"1700000000000.5"}', '{"t":"1700000000000.0001"}'])
  t.equal(msTexts.error, undefined)
  t.same(msTexts.records.map((r) => r.time), [17_000_000_000_005_000n, 17_000_000_000_000_001n], 'milliseconds as decimal text')
  const fn = await run(stamp({ stream: 's', time: (e) => `2023-11-14T22:13:${String(e.sec)}Z` }), ['{"sec":"20","@time":5}'])
  t.equal(fn.records[0].time, 17_000_000_000_000_000n, 'the function wins over @time')
  t.equal(fn.records[0].event, `{"@id":"${fn.records[0].id}","sec":"20","@time":17000000000000000}`)
})

t.test('bad events in error mode: the good ones before are delivered, then the error names the event', async (t) => {
  const { records, error } = await run(stamp({ stream: 's', now: clock }), ['{"a":1}', '{"a":2}', '{"@time":1.5}', '{"a":3}'])
  t.same(records.map((r) => r.line), [1, 2])
  t.equal(error?.code, 'SHOEBOX_INVALID_EVENT_TIME')
  t.match(error?.message, /^event 3: invalid @time 1\.5/)
})

t.test('every kind of bad event in event mode: reported with its number, the rest stamped', async (t) => {
  const s = stamp({ streamField: 'stream', onInvalid: 'event', timeField: 'ts', now: clock })
  const invalid: InvalidEventInfo[] = []
  s.on('invalid', (info: InvalidEventInfo) => invalid.push(info))
  const { records, error } = await run(s, [
    '{"stream":"ok","ts":1}', 'not json', '[1]', '{"stream":"bad name","ts":1}', '{"ts":1}', '{"stream":"ok"}',
    '{"stream":"ok","ts":"yesterday"}', '{"stream":"ok","ts":1.5}', '{"stream":5,"ts":1}', '{"stream":"ok","ts":true}',
    '{"stream":"ok","ts":2}'
  ])
  t.equal(error, undefined)
  t.same(records.map((r) => [r.line, r.time]), [[1, 1n], [11, 2n]])
  t.same(invalid.map((i) => [i.line, i.error.code]), [
    [2, 'SHOEBOX_INVALID_JSON'], [3, 'SHOEBOX_INVALID_EVENT'], [4, 'SHOEBOX_INVALID_STREAM_NAME'], [5, 'SHOEBOX_INVALID_STREAM_NAME'],
    [6, 'SHOEBOX_INVALID_EVENT_TIME'], [7, 'SHOEBOX_INVALID_EVENT_TIME'], [8, 'SHOEBOX_INVALID_EVENT_TIME'],
    [9, 'SHOEBOX_INVALID_STREAM_NAME'], [10, 'SHOEBOX_INVALID_EVENT_TIME']
  ])
  t.equal(invalid[0].text, 'not json')
  t.match(invalid[0].error.message, /^event 2: invalid JSON/)
})

t.test('a value that is neither an object nor JSON text (undefined, a number, a function) is refused saying what it is, as ship() does', async (t) => {
  const s = stamp({ stream: 's', onInvalid: 'event' })
  const invalid: InvalidEventInfo[] = []
  s.on('invalid', (info: InvalidEventInfo) => invalid.push(info))
  s.on('data', () => {})
  for (const value of [undefined, 5, true, () => 1]) s.write(value)
  s.write({ ok: 1 })
  s.end()
  await new Promise((resolve) => s.on('end', resolve))
  // undefined and a function were stringified as null: 'an event is a JSON object, got character "n"'.
  t.same(invalid.map((i) => i.error.message), ['undefined', 'number', 'boolean', 'function'].map((what, i) => `event ${i + 1}: an event is an object or its JSON text, got ${what}`))
  t.same(invalid.map((i) => i.error.code), Array(4).fill('SHOEBOX_INVALID_EVENT'))
})

t.test('options are checked at once', async (t) => {
  t.throws(() => stamp({ stream: 'bad name' }), { code: 'SHOEBOX_INVALID_OPTION', message: /option stream: invalid stream name/ })
  t.throws(() => stamp({ stream: 's', timeUnit: 'h' as 's' }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.throws(() => stamp({ stream: 's', onInvalid: 'skip' as 'event' }), { code: 'SHOEBOX_INVALID_OPTION' })
  // now: 5 failed every event as SHOEBOX_INVALID_EVENT 'Cannot mix BigInt and other types'; a field named by a number or an object was looked up as its text.
  t.throws(() => stamp({ stream: 's', now: 5 as unknown as () => bigint }), { code: 'SHOEBOX_INVALID_OPTION', message: 'option now: must be a function, got 5' })
  t.throws(() => stampNdjson({ streamField: 5 as unknown as string }), { code: 'SHOEBOX_INVALID_OPTION', message: 'option streamField: must be a string, got 5' })
  t.throws(() => stamp({ stream: 's', timeField: {} as unknown as string }), { code: 'SHOEBOX_INVALID_OPTION', message: 'option timeField: must be a string, got {}' })
  const opts = { stream: 's', onInvalid: 'event' as const }
  stamp(opts)
  t.same(opts, { stream: 's', onInvalid: 'event' }, 'options not mutated')
})

const NDJSON = '{"n":1,"u":"é😀"}\r\n\n{"n":2,"@time":17000000000000001}\n  \n{"n":3,"s":"a\\nb"}\r\n{"n":4}'

t.test('stampNdjson: every split point of CRLF/blank/unicode input gives the same records', async (t) => {
  const bytes = Buffer.from(NDJSON)
  const expected = ['{"n":1,"u":"é😀"}', '{"n":2,"@time":17000000000000001}', '{"n":3,"s":"a\\nb"}', '{"n":4}']
  for (let cut = 0; cut <= bytes.length; cut++) {
    const s = stampNdjson({ stream: 's', now: clock })
    const done = collect(s)
    s.write(bytes.subarray(0, cut))
    s.end(bytes.subarray(cut))
    const { records, error } = await done
    if (error !== undefined) t.fail(`cut ${cut}: ${error.message}`)
    const bodies = records.map((r) => r.event.replace(/^\{"(@time":\d+,")?@id":"[^"]+",/, '{'))
    if (JSON.stringify(bodies) !== JSON.stringify(expected)) t.fail(`cut ${cut}: ${JSON.stringify(bodies)}`)
    if (JSON.stringify(records.map((r) => r.line)) !== '[1,3,5,6]') t.fail(`cut ${cut}: lines ${JSON.stringify(records.map((r) => r.line))}`)
  }
  // Byte by byte too.
  const s = stampNdjson({ stream: 's', now: clock })
  const done = collect(s)
  for (const b of bytes) s.write(Buffer.from([b]))
  s.end()
  const { records } = await done
  t.same(records.map((r) => r.time), [17_000_000_000_000_000n, 17_000_000_000_000_001n, 17_000_000_000_000_000n, 17_000_000_000_000_000n])
})

t.test('stampNdjson: a byte order mark at the start is dropped, however cut; one later makes its line invalid', async (t) => {
  const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"n":1}\n{"n":2}\n')])
  for (let cut = 0; cut <= 5; cut++) {
    const s = stampNdjson({ stream: 's', now: clock })
    const done = collect(s)
    s.write(bytes.subarray(0, cut))
    s.end(bytes.subarray(cut))
    const { records, error } = await done
    t.equal(error, undefined, `cut at ${cut}`)
    t.same(records.map((r) => (JSON.parse(r.event) as { n: number }).n), [1, 2])
  }
  const later = stampNdjson({ stream: 's', now: clock })
  const done = collect(later)
  later.end(Buffer.from('{"n":1}\n\uFEFF{"n":2}\n'))
  const { records, error } = await done
  t.same(records.map((r) => r.line), [1])
  t.match(error, { code: 'SHOEBOX_INVALID_JSON', message: /^line 2: / })
})

t.test('stampNdjson error mode: all good lines reach a slow reader, then the error names the line', async (t) => {
  const lines = Array.from({ length: 500 }, (_, i) => JSON.stringify({ n: i }))
  lines.push('{"n":', '{"n":"after"}')
  const s = stampNdjson({ stream: 's' })
  Readable.from([Buffer.from(lines.join('\n'))]).pipe(s)
  const records: StampedEventRecord[] = []
  let error: { code?: string, message: string } | undefined
  try {
    for await (const r of s as unknown as AsyncIterable<StampedEventRecord>) {
      records.push(r)
      await new Promise((resolve) => setImmediate(resolve)) // a slow reader
    }
  } catch (err) {
    error = err as { code?: string, message: string }
  }
  t.equal(records.length, 500, 'every good line before the bad one')
  t.equal(records[499].line, 500)
  t.equal(error?.code, 'SHOEBOX_INVALID_JSON')
  t.match(error?.message, /^line 501: invalid JSON/)
})

t.test('stampNdjson event mode: invalid lines reported on the duplex, the rest flows through pipeline', async (t) => {
  const s = stampNdjson({ stream: 's', onInvalid: 'event' })
  const invalid: number[] = []
  s.on('invalid', (info: InvalidEventInfo) => invalid.push(info.line))
  const input = Array.from({ length: 3000 }, (_, i) => i % 1000 === 7 ? 'oops' : JSON.stringify({ n: i })).join('\n') + '\n'
  let count = 0
  await pipeline(Readable.from([input]), s, new Writable({
    objectMode: true,
    highWaterMark: 1,
    write (_r, _e, cb) { count++; setImmediate(cb) }
  }))
  t.same(invalid, [8, 1008, 2008])
  t.equal(count, 2997)
})

t.test('stampNdjson(): a long line arriving in many chunks is split once, not once a chunk', async (t) => {
  // split2 appends each chunk to the unfinished line's text and splits all of
  // it again: a line of n chunks cost n splits of up to its whole length (a
  // 16 MiB line 5 s, a 300 MB one over ten minutes). Counted here as the
  // characters String.prototype.split was given, not as time.
  const piece = Buffer.alloc(4096, 97)
  const pieces = 256
  const lineLength = 6 + pieces * piece.length + 2
  const { result, scanned } = await countSplitScans(async () => {
    const s = stampNdjson({ stream: 's', now: clock })
    return await run(s, [Buffer.from('{"a":"'), ...Array<Buffer>(pieces).fill(piece), '"}\n{"b":1}\n'])
  })
  t.equal(result.error, undefined)
  t.equal(result.records.length, 2)
  t.ok(result.records[0]?.event.endsWith(`"a":"${'a'.repeat(pieces * piece.length)}"}`), 'the long line is one event, whole')
  t.ok(result.records[1]?.event.endsWith('"b":1}'))
  t.ok(scanned < 3 * lineLength, `split scanned ${scanned} characters for a line of ${lineLength}`)
})

t.test('stampNdjson(): a line over maxLineLength is a bad line, named with the limit; its bytes are not held', async (t) => {
  // A line with no newline in sight was held whole (a 5 GB file without one, until the process died).
  for (const onInvalid of ['error', 'event'] as const) {
    const piece = Buffer.alloc(4096, 120)
    const { result, scanned } = await countSplitScans(async () => {
      const s = stampNdjson({ stream: 's', now: clock, maxLineLength: '64KiB', onInvalid })
      const invalid: InvalidEventInfo[] = []
      s.on('invalid', (info: InvalidEventInfo) => invalid.push(info))
      const done = collect(s as unknown as AsyncIterable<unknown>)
      Readable.from([Buffer.from('{"a":1}\n\n{"b":2}\r\n{"c":"'), ...Array<Buffer>(4096).fill(piece), Buffer.from('"}\n{"d":5}\n')]).pipe(s)
      return { ...await done, invalid }
    })
    const message = 'line 4: longer than maxLineLength 65536 bytes (raise maxLineLength)'
    if (onInvalid === 'error') {
      t.same(result.records.map((r) => r.line), [1, 3], 'error: the events before it')
      t.match(result.error, { code: 'SHOEBOX_INVALID_EVENT', message }, 'error: then it fails the stream, naming it')
    } else {
      t.equal(result.error, undefined)
      t.same(result.records.map((r) => r.line), [1, 3, 5], 'event: the events around it, numbered as sent')
      t.same(result.invalid.map((i) => [i.line, i.text, i.error.code, i.error.message]), [[4, '', 'SHOEBOX_INVALID_EVENT', message]])
    }
    // Its 16 MiB never reached split2 (held and passed on, they would have been split).
    t.ok(scanned < 64 * 1024, `${onInvalid}: split scanned ${scanned} characters`)
  }
})

t.test('stampNdjson(): maxLineLength is exact, inside a chunk and across chunks, a CR before the newline not counted', async (t) => {
  const line = (n: number): string => `{"p":"${'x'.repeat(n - 8)}"}`
  // Lines 3 and 5 are over (101 bytes, one with CRLF); 1, 2 and 6 are at the limit; 7, the last, has no newline.
  const text = `${line(100)}\r\n${line(100)}\n${line(101)}\n${line(10)}\n${line(101)}\r\n${line(100)}\r\n${line(101)}`
  for (const chunk of [1, 7, 100, 10_000]) {
    const pieces = Array.from({ length: Math.ceil(text.length / chunk) }, (_, i) => Buffer.from(text.slice(i * chunk, (i + 1) * chunk)))
    const failing = await run(stampNdjson({ stream: 's', now: clock, maxLineLength: 100 }), pieces)
    t.same(failing.records.map((r) => r.line), [1, 2], `chunks of ${chunk}: the events before it`)
    t.equal(failing.error?.message, 'line 3: longer than maxLineLength 100 bytes (raise maxLineLength)', `chunks of ${chunk}`)
    const s = stampNdjson({ stream: 's', now: clock, maxLineLength: 100, onInvalid: 'event' })
    const invalid: number[] = []
    s.on('invalid', (info: InvalidEventInfo) => invalid.push(info.line))
    const going = await run(s, pieces)
    t.same([going.records.map((r) => r.line), invalid], [[1, 2, 4, 6], [3, 5, 7]], `chunks of ${chunk}: the others stamped`)
    t.ok(going.records.every((r) => r.event.endsWith(`"p":"${'x'.repeat(r.line === 4 ? 2 : 92)}"}`)), `chunks of ${chunk}: whole`)
  }
  const last = await run(stampNdjson({ stream: 's', now: clock, maxLineLength: 100 }), [Buffer.from(line(100))])
  t.same([last.records.length, last.error], [1, undefined], 'a last line at the limit, without a newline, is taken')
  t.throws(() => stampNdjson({ stream: 's', maxLineLength: 0 }), { code: 'SHOEBOX_INVALID_OPTION' })
  // Longer, a line could be a string longer than V8 makes, and split2 would crash the process.
  t.throws(() => stampNdjson({ stream: 's', maxLineLength: '257MiB' }), { code: 'SHOEBOX_INVALID_OPTION', message: /maxLineLength.*at most 256MiB.*"257MiB"/ })
  t.doesNotThrow(() => stampNdjson({ stream: 's', maxLineLength: MAX_LINE_LENGTH_CEILING }))
})

// A line held whole to its end: at 600 MB split2 made a string longer than V8 allows and crashed the process
// (an uncaught 'Cannot create a string longer than 0x1fffffe8 characters', 1.2 GB held).
t.test('stampNdjson(): a line longer than the default maxLineLength is a bad line, named, the lines around it stamped', async (t) => {
  const invalid: InvalidEventInfo[] = []
  const stamped: StampedEventRecord[] = []
  const duplex = stampNdjson({ stream: 's', onInvalid: 'event' })
  duplex.on('invalid', (info: InvalidEventInfo) => invalid.push(info))
  const piece = Buffer.alloc(1024 * 1024, 'x')
  async function * input (): AsyncGenerator<Buffer> {
    yield Buffer.from('{"a":1}\n{"b":"')
    for (let sent = 0; sent <= DEFAULT_MAX_LINE_LENGTH; sent += piece.length) yield piece
    yield Buffer.from('"}\n{"c":3}\n')
  }
  await pipeline(Readable.from(input()), duplex, new Writable({
    objectMode: true,
    write (record: StampedEventRecord, _encoding, callback) {
      stamped.push(record)
      callback()
    }
  }))
  t.same(stamped.map((r) => r.line), [1, 3])
  t.same(invalid.map((i) => [i.line, i.error.code]), [[2, 'SHOEBOX_INVALID_EVENT']])
  t.equal(invalid[0].error.message, 'line 2: longer than maxLineLength 67108864 bytes (raise maxLineLength)')
})
