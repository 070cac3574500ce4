/**
 * The client and the shipper against a server that answers as Kronos may
 * (spec §4, §5), in ways a test against `shoebox serve` never shows: members
 * in another order and with json.dumps's spacing, extra members, another
 * backend name and two backends, HTTP chunks cut anywhere (between CR and
 * LF too), a body framed by the connection's close, a last line without
 * CRLF, LF alone, keep-alive connections closed by the server between
 * requests. The server is a raw TCP one on 127.0.0.1, so the bytes and
 * their framing are exactly what each test writes.
 */
import net from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t, { type Test } from 'tap'
import { kronos } from '../../lib/events/client.js'
import { ship } from '../../lib/events/ship.js'
import { all } from './fixtures/get-all.js'
import { idAt } from './fixtures/event-ids.js'

interface RawRequest {
  method: string
  path: string
  body: string
  /** The number of this request on its connection, from 1. */
  onConnection: number
}

/** What a handler does with a request: write bytes to the socket (and end or keep it). */
type RawHandler = (socket: net.Socket, req: RawRequest) => void | Promise<void>

/** A TCP server on 127.0.0.1 that reads HTTP/1.1 requests (Content-Length bodies) and gives each to `handler`. */
async function rawServer (t: Test, handler: RawHandler): Promise<{ url: string, requests: RawRequest[], connections: () => number }> {
  const requests: RawRequest[] = []
  const sockets = new Set<net.Socket>()
  let connections = 0
  const server = net.createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffered = Buffer.alloc(0)
    let onConnection = 0
    let busy = false
    const next = async (): Promise<void> => {
      if (busy) return
      const headEnd = buffered.indexOf('\r\n\r\n')
      if (headEnd < 0) return
      const head = buffered.subarray(0, headEnd).toString('latin1')
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
      if (buffered.length < headEnd + 4 + length) return
      const [method, path] = head.split(' ')
      const req = { method, path, body: buffered.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8'), onConnection: ++onConnection }
      buffered = buffered.subarray(headEnd + 4 + length)
      requests.push(req)
      busy = true
      await handler(socket, req)
      busy = false
      await next()
    }
    socket.on('data', (b: Buffer) => {
      buffered = Buffer.concat([buffered, b])
      void next()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { url, requests, connections: () => connections }
}

/** `body` as HTTP/1.1 chunks of the given sizes, cycling (each chunk's size line in hex, as gevent writes it), then the last chunk. */
function chunked (body: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = []
  for (let at = 0, k = 0; at < body.length; k++) {
    const piece = body.subarray(at, at + sizes[k % sizes.length])
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'))
    at += piece.length
  }
  parts.push(Buffer.from('0\r\n\r\n'))
  return Buffer.concat(parts)
}

/** Writes `bytes` a few at a time, each write its own TCP segment as far as Node can make it (no coalescing: setNoDelay, a tick between). */
async function trickle (socket: net.Socket, bytes: Buffer, step: number): Promise<void> {
  socket.setNoDelay(true)
  for (let at = 0; at < bytes.length; at += step) {
    if (socket.destroyed) return
    socket.write(bytes.subarray(at, at + step))
    await new Promise((resolve) => setImmediate(resolve))
  }
}

const HEAD_CHUNKED = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n'

// Events as Kronos's json.dumps writes them: ", " and ": ", members in a Python 2 dict's order (any), non-ASCII as \uXXXX.
const KRONOS_LINES = [
  `{"a": 1, "@time": 1, "@id": "${idAt(1)}", "@library": {"version": "0.6.2", "name": "pykronos"}}`,
  `{"@time": 2, "x": "caf\\u00e9 \\ud83d\\ude00", "@id": "${idAt(2)}", "big": 12345678901234567890}`,
  `{"@id": "${idAt(3)}", "nested": {"@time": 99, "@id": "no"}, "@time": 3, "f": 2.0}`
]

t.test('get: events with members in any order, json.dumps spacing and extra members, in HTTP chunks cut at every size (between CR and LF too)', async (t) => {
  const body = Buffer.from(KRONOS_LINES.map((l) => `${l}\r\n`).join(''))
  for (const sizes of [[1], [2], [3, 5, 7], [body.indexOf('\r\n') + 1], [body.length]]) {
    const { url, requests } = await rawServer(t, async (socket) => {
      await trickle(socket, Buffer.concat([Buffer.from(HEAD_CHUNKED), chunked(body, sizes)]), 5)
    })
    const client = kronos(url, { baseDelay: 1 })
    t.teardown(() => { client.close() })
    const objects = await all(client.get('s', 0, 10))
    t.equal(objects.error, undefined, `chunks of ${sizes.join(', ')}`)
    t.same(objects.events, [
      { a: 1, '@time': 1, '@id': idAt(1), '@library': { version: '0.6.2', name: 'pykronos' } },
      { '@time': 2, x: 'café 😀', '@id': idAt(2), big: 12345678901234567890n },
      { '@id': idAt(3), nested: { '@time': 99, '@id': 'no' }, '@time': 3, f: 2 }
    ], 'parsed, each member kept, big integers exact')
    const texts = await all(client.get('s', 0, 10, { format: 'text' }))
    t.same(texts.events, KRONOS_LINES, 'format text: each line as the server sent it')
    t.equal(requests.length, 2, 'each get asked once')
    // What the client sends is what pykronos sends: order always, start_time since no start_id, no limit unless given.
    t.same(JSON.parse(requests[0].body), { stream: 's', start_time: 0, end_time: 10, order: 'ascending' })
  }
})

t.test('get: a body framed by the connection\'s close (no length, not chunked), its last line without CRLF, or lines ending in LF alone: every event, asked once', async (t) => {
  const variants: Record<string, string> = {
    'CRLF, last line without it': KRONOS_LINES.join('\r\n'),
    'LF alone (as kronos.js splits)': KRONOS_LINES.join('\n') + '\n',
    'blank lines between': '\r\n' + KRONOS_LINES.join('\r\n\r\n') + '\r\n\r\n'
  }
  for (const [name, text] of Object.entries(variants)) {
    for (const framing of ['close', 'chunked'] as const) {
      const { url, requests } = await rawServer(t, async (socket) => {
        const bytes = framing === 'close'
          ? Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${text}`)
          : Buffer.concat([Buffer.from(HEAD_CHUNKED), chunked(Buffer.from(text), [4])])
        await trickle(socket, bytes, 7)
        if (framing === 'close') socket.end()
      })
      const client = kronos(url, { baseDelay: 1 })
      t.teardown(() => { client.close() })
      const { events, error } = await all(client.get('s', 0, 10, { format: 'text' }))
      t.equal(error, undefined, `${name}, ${framing}`)
      t.same(events, KRONOS_LINES, `${name}, ${framing}: every event once`)
      t.equal(requests.length, 1, `${name}, ${framing}: not asked again`)
    }
  }
})

t.test('a server that closes each keep-alive connection after its answer, or drops a kept one when the next request comes: every call still answered', async (t) => {
  const answer = (req: RawRequest): string => {
    if (req.path === '/1.0/events/get') return `${KRONOS_LINES[0]}\r\n`
    if (req.path === '/1.0/streams') return 'b\r\na\r\n'
    if (req.path === '/1.0/index') return '{"@took": "0.1ms", "version": "0.6.2", "storage": {"memory": {"backend": "kronos.storage.memory.InMemoryStorage", "alive": true}}, "@success": true, "id": "0x2fc00000001L", "service": "kronosd", "extra": [1]}'
    return '{"s": {"memory": {"num_deleted": 2}}, "@took": "1.0ms", "@success": true}'
  }
  for (const behaviour of ['Connection: close after each answer', 'keep-alive, the next request on it dropped unanswered']) {
    const { url, requests, connections } = await rawServer(t, (socket, req) => {
      if (behaviour.startsWith('keep-alive') && req.onConnection > 1) {
        socket.destroy() // the server's idle timeout ran out just as the client reused the connection
        return
      }
      const text = answer(req)
      const close = behaviour.startsWith('Connection: close')
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${close ? 'Connection: close\r\n' : ''}\r\n${text}`)
      if (close) socket.end()
    })
    const client = kronos(url, { baseDelay: 1, maxSockets: 1 })
    t.teardown(() => { client.close() })
    for (let round = 0; round < 2; round++) {
      t.same((await all(client.get('s', 0, 10, { format: 'text' }))).events, [KRONOS_LINES[0]], `${behaviour}: get`)
      t.same(await client.streams(), ['b', 'a'], `${behaviour}: streams, in the server's order`)
      const index = await client.index()
      t.equal(index.service, 'kronosd')
      t.equal(index.id, '0x2fc00000001L', 'the node id as Python formats it, L and all')
      t.same(await client.delete('s', 0, 10), { s: { memory: { num_deleted: 2 } }, '@took': '1.0ms', '@success': true }, `${behaviour}: delete, another backend's name`)
    }
    t.ok(connections() >= 8, `${behaviour}: a connection per answer (${connections()})`)
    t.ok(requests.length >= 8, `${behaviour}: ${requests.length} requests`)
  }
})

t.test('delete and infer_schema: an answer with soft errors beside @success true is returned; @success false fails naming every @errors, nested ones too', async (t) => {
  let text = ''
  const { url } = await rawServer(t, (socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(Buffer.from(text), [3]).toString('latin1')}`)
  })
  const client = kronos(url, { baseDelay: 1 })
  t.teardown(() => { client.close() })
  text = '{"@success": true, "s": {"@errors": ["shard 3 timed out"], "cassandra": {"num_deleted": 4}}, "@took": "2.1ms"}'
  t.same(await client.delete('s', 0, 10), { '@success': true, s: { '@errors': ['shard 3 timed out'], cassandra: { num_deleted: 4 } }, '@took': '2.1ms' })
  text = '{"s": {"memory": {"num_deleted": -1, "@errors": ["TypeError(\\"\'int\' object is not iterable\\",)"]}}, "@success": false, "@took": "0.2ms"}'
  await t.rejects(client.delete('s', 5, 1), {
    code: 'SHOEBOX_EVENTS_FAILED',
    errors: ['TypeError("\'int\' object is not iterable",)'],
    message: `POST ${url}/1.0/events/delete: Encountered errors: TypeError("'int' object is not iterable",)`
  })
  text = '{"namespace": "kronos", "@took": "1ms", "schema": {"$schema": "http://json-schema.org/draft-04/schema", "type": "null"}, "stream": "s", "@success": true}'
  t.same((await client.inferSchema('s')).schema, { $schema: 'http://json-schema.org/draft-04/schema', type: 'null' })
})

t.test('ship: a put answered in Kronos\'s shape but another order, another backend\'s name, two backends, extra members, chunked anywhere: every event acknowledged once', async (t) => {
  const answers = [
    (n: number) => `{"@took": "3.0ms", "@success": true, "s": {"memory": {"num_inserted": ${n}}}}`,
    (n: number) => `{"s": {"cassandra": {"num_inserted": ${n}}, "elasticsearch": {"num_inserted": ${n}}}, "@success": true, "@took": "1ms", "x": {"num_inserted": 99}}`
  ]
  for (const [k, answer] of answers.entries()) {
    const { url, requests } = await rawServer(t, async (socket, req) => {
      const sent = (JSON.parse(req.body) as { events: { s: unknown[] } }).events.s.length
      await trickle(socket, Buffer.concat([Buffer.from(HEAD_CHUNKED), chunked(Buffer.from(answer(sent)), [1, 2, 3])]), 4)
    })
    const shipper = ship(url, { stream: 's', batchEvents: 10 })
    await pipeline(Readable.from(Array.from({ length: 25 }, (_, seq) => ({ seq }))), shipper)
    const stats = shipper.stats()
    t.equal(stats.events.acked, 25, `answer ${k}: every event acknowledged`)
    t.equal(stats.events.rejected, 0, `answer ${k}: none rejected`)
    t.equal(requests.length, 3, `answer ${k}: each batch sent once`)
  }
  // Kept alive, then dropped as the next put arrives on it (no answer, no byte): sent again on a new connection.
  const { url, requests, connections } = await rawServer(t, (socket, req) => {
    if (req.onConnection > 1) {
      socket.destroy()
      return
    }
    const sent = (JSON.parse(req.body) as { events: { s: unknown[] } }).events.s.length
    const text = answers[0](sent)
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${text.length}\r\n\r\n${text}`)
  })
  const shipper = ship(url, { stream: 's', batchEvents: 10, maxInFlight: 1 })
  await pipeline(Readable.from(Array.from({ length: 25 }, (_, seq) => ({ seq }))), shipper)
  t.equal(shipper.stats().events.acked, 25, 'a dropped keep-alive connection: every event acknowledged')
  t.equal(requests.length, 5, 'the second and third batches were each sent on a kept connection first (dropped)')
  t.equal(connections(), 3, 'each batch answered on a connection of its own')
  t.equal(requests.filter((r) => r.onConnection === 1).length, 3, 'each batch stored once')
})
