/**
 * close() with clients that never finish: one that asks for a large get and
 * never reads it, one that sends half a body and stops. close() used to wait
 * for them for ever (a `shoebox serve` did not stop on SIGTERM); now their
 * connections are cut after `closeGrace`, and the store is flushed and
 * released as usual.
 */
import fs from 'node:fs'
import net from 'node:net'
import t from 'tap'
import { serveEvents } from '../../../lib/events/server/serve-events.js'
import { get, put } from '../conformance-kit.js'
import { tempDir } from '../../temp-dir.js'

/**
 * A raw client: sends `text`, then reads at most one chunk of the answer
 * (`answered` resolves) and no more. `drain()` reads the rest, and
 * resolves once the server has closed the connection.
 */
function stalledClient (port: number, text: string): { answered: Promise<void>, drain: () => Promise<void> } {
  const socket = net.connect(port, '127.0.0.1', () => { socket.write(text) })
  socket.on('error', () => {})
  const answered = new Promise<void>((resolve) => { socket.once('data', () => { socket.pause(); resolve() }) })
  const closed = new Promise<void>((resolve) => { socket.on('close', () => { resolve() }) })
  return { answered, drain: async () => { socket.resume(); await closed } }
}

async function connections (server: { getConnections: (cb: (err: Error | null, n: number) => void) => void }): Promise<number> {
  return await new Promise((resolve, reject) => { server.getConnections((err, n) => { if (err !== null) reject(err); else resolve(n) }) })
}

t.test('close() cuts a get nobody reads and a body that stops, then flushes the store', async (t) => {
  const data = t.testdir()
  const server = await serveEvents({ data, port: 0, fsync: false, closeGrace: '100ms' })
  // ~6 MB of answer: more than the socket buffers hold, so the get waits for a drain that never comes.
  const pad = 'x'.repeat(300)
  for (let batch = 0; batch < 4; batch++) {
    await put(t, server.url, { big: Array.from({ length: 5000 }, (_, i) => ({ '@time': batch * 5000 + i, pad })) })
  }
  const body = '{"stream":"big","end_time":100000}'
  const reader = stalledClient(server.port, `POST /1.0/events/get HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
  const sender = stalledClient(server.port, 'POST /1.0/events/put HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"events":')
  // Both requests reached the server (the get has started its answer) before it is closed.
  await reader.answered
  while (await connections(server.server) < 2) await new Promise((resolve) => setTimeout(resolve, 10))
  await server.close()
  await reader.drain()
  await sender.drain()
  t.pass('close() resolved and both connections were cut')

  const again = await serveEvents({ data, port: 0, fsync: false })
  t.teardown(async () => { await again.close() })
  const events = await get(t, again.url, 'big', 0, 100000)
  t.equal(events.length, 20000, 'every acknowledged event is there after the restart')
})

t.test('a second server on a data directory this process serves is refused until the first is closed (both took serve.pid: one log, two writers)', async (t) => {
  const data = tempDir(t)
  const first = await serveEvents({ data, port: 0 })
  let firstClosed = false
  t.teardown(async () => { if (!firstClosed) await first.close() })
  await put(t, first.url, { s: [{ '@time': 1 }] })
  await t.rejects(serveEvents({ data: `${data}/.`, port: 0 }), { code: 'SHOEBOX_IO', message: `event store ${data}/. is in use by this process (a server not closed yet: close() it first)` })
  // The same directory through a symlink: another name, the same log.
  const link = `${tempDir(t)}/link`
  fs.symlinkSync(data, link)
  await t.rejects(serveEvents({ data: link, port: 0 }), { code: 'SHOEBOX_IO', message: `event store ${link} is in use by this process (a server not closed yet: close() it first)` })
  await put(t, first.url, { s: [{ '@time': 2 }] })
  await first.close()
  firstClosed = true
  const second = await serveEvents({ data, port: 0 })
  t.teardown(async () => { await second.close() })
  t.same((await get(t, second.url, 's', 0, 10)).map((e) => e['@time']), [1, 2], 'every put kept')
})
