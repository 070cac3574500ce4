import { once } from 'node:events'
import net from 'node:net'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { logRequests } from '../../lib/events/log-middleware.js'
import { ship } from '../../lib/events/ship.js'
import { startCollector } from './fixtures/collector.js'

async function serve (t: Test, listener: http.RequestListener): Promise<string> {
  const server = http.createServer(listener)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('a wrapped handler: one event per request; a throwing or rejecting handler is recorded and answered 500', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { batchAge: 5 })
  t.teardown(() => { shipper.destroy() })
  const base = await serve(t, logRequests(shipper, { stream: 'requests', stackTrace: true, fields: (req) => ({ agent: req.headers['user-agent'] }) }, async (req, res) => {
    if (req.url?.startsWith('/throw') === true) throw new TypeError('sync boom')
    if (req.url?.startsWith('/reject') === true) { await Promise.resolve(); throw new RangeError('async boom') }
    res.end('fine')
  }))
  const ok = await fetch(`${base}/a/b?x=1&y=2&y=3&constructor=c&__proto__=p&__proto__=q`, { headers: { 'user-agent': 'tester' } })
  t.equal(await ok.text(), 'fine')
  const thrown = await fetch(`${base}/throw`, { method: 'POST', body: 'ignored' })
  t.equal(thrown.status, 500)
  await thrown.text()
  const rejected = await fetch(`${base}/reject`)
  t.equal(rejected.status, 500)
  await rejected.text()
  await collector.waitFor(3)
  const events = collector.stored.map((e) => e.event)
  t.match(events[0], { method: 'GET', path: '/a/b', client_ip: /127\.0\.0\.1/, get_params: { x: '1', y: ['2', '3'] }, status: 200, duration: Number, agent: 'tester' })
  t.notOk('exception' in events[0])
  const params = events[0].get_params as Record<string, unknown>
  t.equal(params.constructor, 'c', 'a query parameter named constructor is a value')
  t.same(Object.hasOwn(params, '__proto__') ? params.__proto__ : '(missing)', ['p', 'q'], 'and __proto__ a key')
  t.match(events[1], { method: 'POST', path: '/throw', status: 500, exception: { message: 'sync boom', class: 'TypeError', stack_trace: Array } })
  t.match(events[2], { path: '/reject', status: 500, exception: { message: 'async boom', class: 'RangeError' } })
})

t.test('connect-style middleware: logs and calls next; a next() that throws is recorded and thrown on', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { batchAge: 5 })
  t.teardown(() => { shipper.destroy() })
  const middleware = logRequests(shipper, { stream: 'mw', namespace: 'namespace2' })
  let thrownOn = 0
  const base = await serve(t, (req, res) => {
    try {
      middleware(req, res, () => {
        if (req.url === '/bad') throw new Error('next failed')
        res.statusCode = 204
        res.end()
      })
    } catch {
      thrownOn++
      res.statusCode = 503
      res.end()
    }
  })
  t.equal((await fetch(`${base}/good`)).status, 204)
  t.equal((await fetch(`${base}/bad`)).status, 503)
  await collector.waitFor(2)
  t.equal(thrownOn, 1)
  t.match(collector.stored.map((e) => [e.namespace, e.event]), [
    ['namespace2', { path: '/good', status: 204 }],
    ['namespace2', { path: '/bad', status: 503, exception: { message: 'next failed', class: 'Error' } }]
  ])
})

/** One raw request (fetch() sends only origin-form targets); resolves with the status line. */
async function rawRequest (base: string, target: string, method = 'GET'): Promise<string> {
  const { port } = new URL(base)
  return await new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => { socket.end(`${method} ${target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`) })
    let text = ''
    socket.on('data', (b: Buffer) => { text += b.toString() })
    socket.on('end', () => { resolve(text.split('\r\n')[0]) })
    socket.on('error', reject)
  })
}

t.test('a request target no URL parser takes is logged as sent: it threw from the listener and ended the process of any server using logRequests', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { batchAge: 5 })
  t.teardown(() => { shipper.destroy() })
  const base = await serve(t, logRequests(shipper, { stream: 'requests' }, (req, res) => { res.end('fine') }))
  const middleware = logRequests(shipper, { stream: 'mw' })
  const mwBase = await serve(t, (req, res) => { middleware(req, res, () => { res.end('fine') }) })
  // Node's parser passes an absolute-form target as it is: 'http://[bad/x' (an unclosed IPv6 bracket) made new URL() throw.
  t.equal(await rawRequest(base, 'http://[bad/x?a=1'), 'HTTP/1.1 200 OK', 'a wrapped handler answers')
  t.equal(await rawRequest(mwBase, 'http://[bad/y'), 'HTTP/1.1 200 OK', 'middleware too')
  // An origin-form target starting '//' is a path, not a host to take the path from.
  t.equal(await rawRequest(base, '//evil.example/p?q=1'), 'HTTP/1.1 200 OK')
  t.equal(await rawRequest(base, 'http://h/abs?z=2'), 'HTTP/1.1 200 OK', 'an absolute-form target is logged by its path')
  t.equal(await rawRequest(base, '*', 'OPTIONS'), 'HTTP/1.1 200 OK')
  await collector.waitFor(5)
  // Two streams, shipped in batches of their own: compared in path order (code units).
  const logged = collector.stored.map((e) => [e.event.path, e.event.get_params, e.event.status]).sort((a, b) => String(a[0]) < String(b[0]) ? -1 : 1)
  t.same(logged, [
    ['*', {}, 200],
    ['//evil.example/p', { q: '1' }, 200],
    ['/abs', { z: '2' }, 200],
    ['http://[bad/x?a=1', {}, 200],
    ['http://[bad/y', {}, 200]
  ])
})
