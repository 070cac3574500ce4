/**
 * readBody(): the bytes as sent (one chunk or many), a body that is all of
 * its memory, joined from several chunks too (a small put's texts are views
 * of it: were it a view of the socket's read buffer, or of Node's shared
 * pool, it would keep all of that alive), the text decoded only
 * on request, the cap by Content-Length and while reading, and a client
 * that goes away mid-body.
 */
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { readBody, type BodyResult } from '../../../lib/events/server/request-body.js'

interface Arrival { result: Promise<BodyResult> }

async function serve (t: Test, max: number): Promise<{ port: number, arrived: () => Promise<Arrival>, next: () => Promise<BodyResult> }> {
  const results: Arrival[] = []
  const waiting: Array<(r: Arrival) => void> = []
  const server = http.createServer((req, res) => {
    const result = readBody(req, max)
    void result.then((r) => { res.statusCode = r.kind === 'body' ? 200 : 413; res.end() })
    const w = waiting.shift()
    if (w !== undefined) w({ result })
    else results.push({ result })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  /** Resolves once the server has the next request (its readBody's result, not awaited). */
  const arrived = async (): Promise<Arrival> => results.shift() ?? await new Promise<Arrival>((resolve) => waiting.push(resolve))
  const next = async (): Promise<BodyResult> => await (await arrived()).result
  return { port: (server.address() as AddressInfo).port, arrived, next }
}

t.test('bodies come back byte for byte, each in memory of its own size; text on request', async (t) => {
  const { port, next } = await serve(t, 1 << 20)
  for (const body of [Buffer.alloc(0), Buffer.from('{"events":{"s":[{"ü":1}]}}'), Buffer.alloc(300_000, 'x')]) {
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body })
    t.equal(res.status, 200)
    const r = await next()
    if (r.kind !== 'body') throw new Error(r.kind)
    t.ok(r.bytes.equals(body), `${body.length} bytes`)
    t.equal(r.bytes.buffer.byteLength, r.bytes.length, `${body.length} bytes: all of its memory`)
    t.equal(r.text, body.toString())
  }
  // Head and body in one write: the body must still be memory of its own, not a view of the read that held the head.
  const body = '{"events":{"s":[{"@time":1}]}}'
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.end(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
  const r = await next()
  if (r.kind !== 'body') throw new Error(r.kind)
  t.equal(r.text, body)
  t.equal(r.bytes.buffer.byteLength, body.length, 'not a view of the read buffer it lay in')
  // In two chunks: joined into memory of its own, not a slice of Node's shared pool (Buffer.concat's).
  const chunked = net.connect(port, '127.0.0.1')
  chunked.on('error', () => {})
  chunked.end(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\n{"ev\r\n${(body.length - 4).toString(16)}\r\n${body.slice(4)}\r\n0\r\n\r\n`)
  const joined = await next()
  if (joined.kind !== 'body') throw new Error(joined.kind)
  t.equal(joined.text, body)
  t.equal(joined.bytes.buffer.byteLength, body.length, 'two chunks joined: all of its memory')
})

t.test('too large by Content-Length or while read; a client gone mid-body is aborted', async (t) => {
  const { port, arrived, next } = await serve(t, 1000)
  const declared = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: Buffer.alloc(2000) })
  t.equal(declared.status, 413)
  t.equal((await next()).kind, 'too-large')
  const req = http.request({ port, method: 'POST', host: '127.0.0.1' })
  req.on('error', () => {})
  req.write(Buffer.alloc(100))
  const pending = await arrived()
  req.destroy()
  t.equal((await pending.result).kind, 'aborted')
})
