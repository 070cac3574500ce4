/**
 * A flood of connections (issue 10): beyond maxConnections a new connection
 * is closed at once, and the operator is told once per burst; a connection
 * that sends no request head within headersTimeout, or no whole request
 * within requestTimeout, is answered 408 and closed (a dripped put stores
 * nothing). The defaults follow the process's open-file limit and --max-body.
 */
import net from 'node:net'
import t from 'tap'
import { connectionCapWarning, defaultMaxConnections, defaultRequestTimeout, openFileLimit, openFileLimitIn } from '../../../lib/events/server/connection-limits.js'
import { serveEvents } from '../../../lib/events/server/serve-events.js'
import { get, put, start } from '../conformance-kit.js'

/** Node looks for expired requests every second (CONNECTIONS_CHECK_MS); on a loaded machine, a few more. */
const SLACK_MS = 4000

interface RawClient {
  socket: net.Socket
  /** What the server sent, as text. */
  received: () => string
  /** Resolves once the server closed the connection. */
  closed: Promise<void>
  /** Resolves once what the server sent matches `pattern`, or the connection closed. */
  until: (pattern: RegExp) => Promise<void>
}

/** A raw connection that reads whatever the server sends and notes when the server ends it. */
function rawClient (port: number): RawClient {
  // Torn down with the file, after the test's server (close() waits for open connections).
  const socket = net.connect(port, '127.0.0.1')
  let text = ''
  socket.setEncoding('latin1')
  socket.on('data', (s: string) => { text += s })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => { socket.on('close', () => { resolve() }) })
  t.teardown(() => { socket.destroy() })
  let ended = false
  void closed.then(() => { ended = true })
  // Gives up when the connection closes: what came is then for the test to check.
  const until = async (pattern: RegExp): Promise<void> => {
    while (!pattern.test(text) && !ended) await Promise.race([new Promise((resolve) => socket.once('data', resolve)), closed])
  }
  return { socket, received: () => text, closed, until }
}

async function connections (server: net.Server): Promise<number> {
  return await new Promise((resolve, reject) => { server.getConnections((err, n) => { if (err !== null) reject(err); else resolve(n) }) })
}

/** Whether the server closes the client's connection within `ms` (false, and no wait for ever, where nothing closes it). */
async function closesWithin (client: RawClient, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => { timer = setTimeout(() => { resolve(false) }, ms) })
  const closed = await Promise.race([client.closed.then(() => true), late])
  clearTimeout(timer)
  return closed
}

/** A raw client that asked for /1.0/index and got its answer: the server has taken the connection, which stays open (keep-alive). */
async function keptClient (port: number): Promise<RawClient> {
  const client = rawClient(port)
  client.socket.write('GET /1.0/index HTTP/1.1\r\nHost: x\r\n\r\n')
  await client.until(/"@took"/)
  return client
}

t.test('defaults: half the open-file limit, at most 1000; the request time from --max-body', async (t) => {
  const limits = 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            256                  4096                 files     \n'
  t.equal(openFileLimitIn(limits), 256, 'the soft limit, from /proc/self/limits')
  t.equal(openFileLimitIn('Max open files            unlimited            unlimited            files\n'), undefined)
  t.equal(openFileLimitIn(''), undefined)
  t.equal(typeof openFileLimit(), process.platform === 'linux' ? 'number' : 'undefined', "this process's")
  t.same([256, 1024, 1_048_576, 1].map((n) => defaultMaxConnections(n)), [128, 512, 1000, 1])
  t.equal(defaultMaxConnections(undefined), 1000, 'an unknown limit')
  t.equal(defaultRequestTimeout(16 * 2 ** 20, 20_000), 276_000, '16MiB at 64 KiB/s, after the head')
  t.equal(defaultRequestTimeout(2 ** 20, 20_000), 50_000, 'at least 30 s for a body')
})

t.test('a cap above half the open-file limit is warned about, with the limit and what to do; one at or under it is not', async (t) => {
  t.equal(connectionCapWarning(128, 256), undefined, 'the default share')
  t.equal(connectionCapWarning(5000, undefined), undefined, 'an unknown limit: nothing to compare')
  t.equal(connectionCapWarning(1000, 1_048_576), undefined)
  t.equal(connectionCapWarning(129, 256),
    '--max-connections 129 is more than half of the 256 files this process may open (ulimit -n): a flood of connections could leave the store none, ' +
    'and its puts would fail (EMFILE) until connections end; raise ulimit -n to 258 or more, or leave --max-connections at its default (128)')
})

t.test('options are checked', async (t) => {
  const data = t.testdir()
  for (const [options, code] of [
    [{ maxConnections: 0 }, 'SHOEBOX_INVALID_OPTION'],
    [{ maxConnections: 1.5 }, 'SHOEBOX_INVALID_OPTION'],
    [{ headersTimeout: 0 }, 'SHOEBOX_INVALID_OPTION'],
    [{ headersTimeout: '10s', requestTimeout: '5s' }, 'SHOEBOX_INVALID_OPTION'],
    [{ requestTimeout: 'soon' }, 'SHOEBOX_INVALID_OPTION']
  ] as const) {
    await t.rejects(serveEvents({ data, port: 0, ...options }), { code }, JSON.stringify(options))
  }
})

t.test('beyond maxConnections a connection is closed at once, told once per burst; kept connections serve on, and a freed slot is taken again', async (t) => {
  const told: number[] = []
  const server = await start(t, { maxConnections: 3, onConnectionCap: (max) => { told.push(max) } })
  // Three keep-alive connections, idle after one answer each, fill the cap.
  const kept = [await keptClient(server.port), await keptClient(server.port), await keptClient(server.port)]
  const extra = [rawClient(server.port), rawClient(server.port), rawClient(server.port)]
  for (const c of extra) {
    // No bound of its own: a connection the cap let in would be answered 408 when its head timed out (20 s).
    await c.closed
    t.equal(c.received(), '', 'the connection beyond the cap is closed unanswered')
    c.socket.destroy()
  }
  t.same(told, [3], 'told once, with the cap, for the three closed')
  // A kept connection still works: a put over it is stored.
  const body = '{"events":{"s":[{"@time":1}]}}'
  kept[0].socket.write(`POST /1.0/events/put HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
  await kept[0].until(/num_inserted[^]*"@took"/)
  t.match(kept[0].received(), /HTTP\/1\.1 200 OK[^]*"num_inserted": 1/)
  kept[0].socket.destroy()
  // The slot it frees (once the server has seen the close) is taken by the next client.
  while (await connections(server.server) >= 3) await new Promise((resolve) => setTimeout(resolve, 10))
  const reply = await fetch(server.url + '/1.0/events/put', { method: 'POST', body: '{"events":{"s":[{"@time":2}]}}' })
  t.equal(reply.status, 200, 'a new connection is served once a slot is free')
  t.match(await reply.text(), /"num_inserted": 1/)
  for (const c of kept) c.socket.destroy()
  while (await connections(server.server) > 1) await new Promise((resolve) => setTimeout(resolve, 10))
  t.same((await get(t, server.url, 's', 0, 10)).map((e) => e['@time']), [1, 2])
  t.same(told, [3], 'still once: the burst is one line')
})

t.test('a connection that sends no request head within headersTimeout is answered 408 and closed', async (t) => {
  const server = await start(t, { headersTimeout: '300ms' })
  const idle = rawClient(server.port)
  const dripping = rawClient(server.port)
  // A head sent a line at a time, each well within any idle timeout, never finished.
  dripping.socket.write('POST /1.0/events/put HTTP/1.1\r\nHost: x\r\n')
  const drip = setInterval(() => { if (!dripping.socket.destroyed) dripping.socket.write('X-Drip: 1\r\n') }, 50)
  t.teardown(() => { clearInterval(drip) })
  for (const [name, c] of [['idle', idle], ['dripping', dripping]] as const) {
    t.ok(await closesWithin(c, 300 + SLACK_MS), `${name}: closed within the timeout`)
    t.match(c.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/, `${name}: an ordinary HTTP error`)
  }
  // The server serves on.
  await put(t, server.url, { s: [{ '@time': 1 }] })
})

t.test('a body dripped slower than requestTimeout allows is answered 408 and nothing of it is stored', async (t) => {
  const server = await start(t, { headersTimeout: '300ms', requestTimeout: '800ms' })
  const body = Buffer.from('{"events":{"s":[{"@time":1},{"@time":2}]}}')
  const client = rawClient(server.port)
  client.socket.write(`POST /1.0/events/put HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`)
  // A byte every 100 ms: 4.3 s for the whole body, each byte well within any idle timeout.
  let sentBytes = 0
  const drip = setInterval(() => { if (!client.socket.destroyed && sentBytes < body.length) client.socket.write(body.subarray(sentBytes, ++sentBytes)) }, 100)
  t.teardown(() => { clearInterval(drip) })
  t.ok(await closesWithin(client, 800 + SLACK_MS), 'closed within the request timeout')
  t.ok(sentBytes < body.length, 'before the body was whole')
  t.match(client.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.same(await get(t, server.url, 's', 0, 10), [], 'nothing stored')
  // A body sent at once is well within it.
  await put(t, server.url, { s: [{ '@time': 3 }] })
})
