import { once } from 'node:events'
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
