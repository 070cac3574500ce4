/**
 * The bytes on the wire where the other conformance tests read parsed
 * values: the HTTP chunks of a streamed get (spec §5.3: each ends between
 * events), @time at the edges of the id's range and the @id text each gets
 * (spec §3.1, §3.3, §14), stream names at the edges of §6.2, and the
 * integers Kronos's parser refused (a deliberate difference, EVENT-STORE.md).
 */
import net from 'node:net'
import t from 'tap'
import { get, json, post, put, start, streams } from './conformance-kit.js'

/** Kronos time of the UUID epoch (1582-10-15): the lowest time an id holds. */
const OFFSET = 0x01B21DD213814000n
/** One past the highest time an id's 60 bits hold. */
const TOO_LATE = (1n << 60n) - OFFSET

/** The raw answer to one HTTP/1.1 request, read to the connection's end: status line, headers, and the body's chunks as sent. */
async function rawExchange (port: number, path: string, body: string): Promise<{ head: string, chunks: Buffer[] }> {
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = []
    // As pykronos' requests sends it: no Content-Type, HTTP/1.1.
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    })
    socket.on('data', (b: Buffer) => parts.push(b))
    socket.on('end', () => { resolve(Buffer.concat(parts)) })
    socket.on('error', reject)
  })
  const headEnd = bytes.indexOf('\r\n\r\n')
  const head = bytes.subarray(0, headEnd).toString('latin1')
  const chunks: Buffer[] = []
  let at = headEnd + 4
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at)
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16)
    if (Number.isNaN(size)) throw new Error(`not a chunk size at byte ${at}: ${JSON.stringify(bytes.subarray(at, at + 20).toString('latin1'))}`)
    if (size === 0) break
    chunks.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size))
    if (bytes.subarray(lineEnd + 2 + size, lineEnd + 4 + size).toString('latin1') !== '\r\n') throw new Error('a chunk not followed by CRLF')
    at = lineEnd + 4 + size
  }
  return { head, chunks }
}

t.test('a long get is sent in HTTP chunks of at least 128 KiB (flush_size) that each end between events, with CRLF', async (t) => {
  const { url, port } = await start(t)
  const events = Array.from({ length: 4000 }, (_, i) => ({ '@time': i, pad: 'p'.repeat(100 + (i % 7)), u: 'ü' }))
  await put(t, url, { s: events })
  const { head, chunks } = await rawExchange(port, '/1.0/events/get', '{"stream": "s", "end_time": 100000}')
  t.match(head, /^HTTP\/1\.1 200 OK\r\n/)
  t.match(head, /\r\nContent-Type: application\/json\r\n/i)
  t.match(head, /\r\nTransfer-Encoding: chunked(\r\n|$)/i)
  t.notMatch(head, /Content-Length/i)
  t.ok(chunks.length >= 4, `several chunks (${chunks.length})`)
  let times: number[] = []
  for (const [i, chunk] of chunks.entries()) {
    if (i < chunks.length - 1) t.ok(chunk.length >= 131072, `chunk ${i}: ${chunk.length} bytes, at least flush_size`)
    t.equal(chunk[0], 0x7b, `chunk ${i} starts with an event`)
    t.equal(chunk.subarray(-2).toString(), '\r\n', `chunk ${i} ends with its last event's CRLF`)
    const lines = chunk.toString('utf8').split('\r\n')
    t.equal(lines.pop(), '')
    times = times.concat(lines.map((l) => (JSON.parse(l) as { '@time': number })['@time']))
  }
  t.same(times, events.map((e) => e['@time']), 'every event once, in order')
})

t.test('@time at the edges of the id\'s 60 bits: each kept with the id its time gives, exact, in order; one past either edge refused for that event alone', async (t) => {
  const { url } = await start(t)
  const kept = [-OFFSET, -1n, 0n, 10n, 17000000000000000n, TOO_LATE - 1n]
  const body = `{"events": {"s": [${kept.map((time) => `{"@time": ${time}}`).join(', ')}, {"@time": ${-OFFSET - 1n}}, {"@time": ${TOO_LATE}}, {"@time": 9223372036854775807}]}}`
  const reply = await post(url, '/1.0/events/put', body)
  t.equal(reply.status, 200)
  t.same(json(reply), {
    s: { shoebox: { num_inserted: kept.length } },
    '@success': false,
    '@errors': [`InvalidEventTime(${-OFFSET - 1n}L,)`, `InvalidEventTime(${TOO_LATE}L,)`, 'InvalidEventTime(9223372036854775807L,)'],
    '@took': json(reply)['@took']
  })
  const got = await post(url, '/1.0/events/get', `{"stream": "s", "start_time": ${-OFFSET}, "end_time": ${TOO_LATE - 1n}}`)
  const lines = got.text.split('\r\n')
  t.equal(lines.pop(), '')
  const prefixes = ['00000000-0000-1000', '13813fff-1dd2-11b2', '13814000-1dd2-11b2', '1381400a-1dd2-11b2', '04afc000-833b-11ee', 'ffffffff-ffff-1fff']
  t.equal(lines.length, kept.length)
  for (const [i, time] of kept.entries()) {
    // The id spliced in first, the text as sent after it: the time's digits exact (no float), the id carrying that time.
    t.match(lines[i], new RegExp(`^\\{"@id":"${prefixes[i]}-8[0-9a-f]{3}-[0-9a-f]{12}","@time": ${time}\\}$`), `@time ${time}`)
  }
  t.same(lines.length, new Set(lines).size)
  const edge = await get(t, url, 's', TOO_LATE - 1n, 99999999999999999999999n)
  t.same(edge.map((e) => e['@time']), [TOO_LATE - 1n], 'end_time far beyond every id: the last one')
  const before = await get(t, url, 's', -(10n ** 30n), -OFFSET)
  t.same(before.map((e) => e['@time']), [-OFFSET], 'start_time far before every id: the first one')
})

t.test('@time null is now, written where the null was; an unknown namespace refuses a put whose streams had any element, valid or not', async (t) => {
  const { url } = await start(t)
  const before = BigInt(Date.now()) * 10_000n
  t.equal((await post(url, '/1.0/events/put', '{"events": {"s": [{"a": 1, "@time": null, "b": 2}]}}')).status, 200)
  const got = await post(url, '/1.0/events/get', '{"stream": "s", "end_time": 99999999999999999}')
  const m = /^\{"@id":"[0-9a-f-]{36}","a": 1, "@time": (\d+), "b": 2\}\r\n$/.exec(got.text)
  t.ok(m, got.text)
  t.ok(BigInt(m?.[1] ?? 0) >= before && BigInt(m?.[1] ?? 0) <= BigInt(Date.now()) * 10_000n, 'the time of the put, in 100 ns ticks')
  const invalidOnly = await post(url, '/1.0/events/put', '{"namespace": "x", "events": {"s": [{"@time": 1.5}]}}')
  t.equal(invalidOnly.status, 400, 'an element was attempted: the namespace is looked up')
  t.same(json(invalidOnly)['@errors'], ["NamespaceMissing('`x` namespace is not configured',)"])
  const badName = await post(url, '/1.0/events/put', '{"namespace": "x", "events": {"bad name": [{}]}}')
  t.equal(badName.status, 200, 'no stream got as far as its elements: no lookup')
  t.same(json(badName)['@errors'], ["InvalidStreamName(u'bad name',)"])
})

t.test('integers beyond 64 bits are kept as sent (Kronos\'s ujson refused the whole put, 400): the event text is what is stored', async (t) => {
  const { url } = await start(t)
  const reply = await post(url, '/1.0/events/put', '{"events": {"s": [{"@time": 5, "n": 18446744073709551616, "m": -9223372036854775809}, {"@time": 123456789012345678901234567890}]}}')
  t.equal(reply.status, 200)
  t.same(json(reply)['@errors'], ['InvalidEventTime(123456789012345678901234567890L,)'], 'an @time beyond 64 bits: refused for that event alone')
  const got = await post(url, '/1.0/events/get', '{"stream": "s", "end_time": 10}')
  t.match(got.text, /^\{"@id":"[0-9a-f-]{36}","@time": 5, "n": 18446744073709551616, "m": -9223372036854775809\}\r\n$/)
})

t.test('stream names: [A-Za-z0-9_.-], 1 to 2048 characters, over HTTP; a trailing newline is refused (Kronos took "x\\n", which broke the streams listing\'s lines)', async (t) => {
  const { url } = await start(t)
  const longest = 'x'.repeat(2048)
  const names = ['.', '..', '-', '_', '0', 'A.b-C_9', longest]
  await put(t, url, Object.fromEntries(names.map((name) => [name, [{ '@time': 1 }]])))
  t.same(await streams(url), [...names].sort(), 'each listed, one per CRLF line')
  for (const name of names) t.equal((await get(t, url, name, 0, 5)).length, 1, `get ${name.slice(0, 10)}`)
  const refused: Array<[string, string]> = [
    [`${longest}x`, `u'${longest}x'`], ['x\n', "u'x\\n'"], ['x\r\n', "u'x\\r\\n'"], ['a b', "u'a b'"], ['é', "u'\\xe9'"], ['a/b', "u'a/b'"], ['', "u''"]
  ]
  for (const [name, shown] of refused) {
    const putReply = await post(url, '/1.0/events/put', { events: { [name]: [{ '@time': 1 }] } })
    t.same(json(putReply)['@errors'], [`InvalidStreamName(${shown},)`], `put ${JSON.stringify(name.slice(-10))}`)
    t.notOk(name in json(putReply), 'the stream is left out of the answer')
    const getReply = await post(url, '/1.0/events/get', { stream: name, end_time: 5 })
    t.equal(getReply.status, 400)
    t.equal(getReply.text, `{"@errors": [${JSON.stringify(`InvalidStreamName(${shown},)`)}], "@success": false}`, 'get: no @took, as Kronos')
    const delReply = await post(url, '/1.0/events/delete', { stream: name, end_time: 5 })
    t.equal(delReply.status, 400)
    t.match(delReply.text, new RegExp(`^\\{"@errors": \\[${JSON.stringify(`InvalidStreamName(${shown},)`).replace(/[\\[\](){}.*+?^$|]/g, '\\$&')}\\], "@took": "\\d+\\.\\d{6}ms"\\}$`), 'delete: no @success, as Kronos')
  }
  t.same(await streams(url), [...names].sort(), 'nothing else listed')
})
