import t from 'tap'
import { exceptionInfo, logFunction, logScope } from '../../lib/events/log-scope.js'
import { ship } from '../../lib/events/ship.js'
import { startCollector } from './fixtures/collector.js'

class Boom extends Error {
  override name = 'Boom'
}

t.test('logScope: one event with the properties, what the body added, duration in seconds; a failure swallowed and recorded', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { batchAge: 5 })
  t.teardown(() => { shipper.destroy() })
  const result = await logScope(shipper, 'scopes', async (event) => {
    event.rows = 3
    return 'ok'
  }, { job: 'nightly' })
  t.equal(result, 'ok')
  const swallowed = await logScope(shipper, 'scopes', () => { throw new Boom('boom') }, {}, { stackTrace: true })
  t.equal(swallowed, undefined, 'swallowed, as pykronos does')
  await t.rejects(logScope(shipper, 'scopes', () => { throw new TypeError('bad') }, {}, { rethrow: true }), TypeError)
  await shipper.flush()
  const events = collector.stored.map((e) => e.event)
  t.equal(events.length, 3)
  t.match(events[0], { job: 'nightly', rows: 3, duration: Number })
  t.notOk('exception' in events[0])
  t.ok((events[0].duration as number) >= 0 && (events[0].duration as number) < 60, 'seconds, not ms')
  t.match(events[1].exception, { message: 'boom', class: 'Boom', stack_trace: Array })
  t.match((events[1].exception as { stack_trace: string[] }).stack_trace[0], /log-scope\.test\.ts/)
  t.same(events[2].exception, { message: 'bad', class: 'TypeError' }, 'no stack trace unless asked')
})

t.test('logFunction: properties from the arguments; sync and async; failures thrown on unchanged', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { batchAge: 5, namespace: 'namespace1' })
  t.teardown(() => { shipper.destroy() })
  const add = logFunction(shipper, 'calls', (a: number, b: number) => a + b, { a: (a) => a, sum: (a, b) => a + b })
  t.equal(add(2, 3), 5)
  const fail = logFunction(shipper, 'calls', (): never => { throw new Boom('sync') })
  t.throws(() => fail(), Boom)
  const later = logFunction(shipper, 'calls', async (x: string) => await Promise.resolve(x.toUpperCase()), { x: (x) => x })
  t.equal(await later('hi'), 'HI')
  const rejecting = logFunction(shipper, 'calls', async () => { throw new Boom('async') }, {}, { namespace: 'namespace2' })
  await t.rejects(rejecting(), Boom)
  await shipper.flush()
  const byNs = collector.stored.map((e) => [e.namespace, e.event])
  t.match(byNs, [
    ['namespace1', { a: 2, sum: 5, duration: Number }],
    ['namespace1', { exception: { message: 'sync', class: 'Boom' } }],
    ['namespace1', { x: 'hi', duration: Number }],
    ['namespace2', { exception: { message: 'async', class: 'Boom' } }]
  ])
})

t.test('exceptionInfo of what is not an Error', async (t) => {
  t.same(exceptionInfo('nope'), { message: 'nope', class: 'string' })
  t.same(exceptionInfo(new RangeError('r')), { message: 'r', class: 'RangeError' })
})

t.test('a thrown value that String() cannot convert (no prototype, a throwing toString) is recorded and swallowed, not a TypeError out of logScope', async (t) => {
  t.same(exceptionInfo(Object.create(null)), { message: '[object Object]', class: 'object' })
  t.same(exceptionInfo({ toString () { throw new Error('no') } }), { message: '[object Object]', class: 'object' })
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url, { batchAge: 5 })
  t.teardown(() => { shipper.destroy() })
  t.equal(await logScope(shipper, 'scopes', () => { throw Object.create(null) }), undefined, 'swallowed')
  await shipper.flush()
  t.match(collector.stored.map((e) => e.event), [{ exception: { message: '[object Object]', class: 'object' } }])
})

t.test('put() after end() neither throws nor emits: its callback hears it', async (t) => {
  const collector = await startCollector()
  t.teardown(async () => { await collector.stop() })
  const shipper = ship(collector.url)
  shipper.on('error', () => t.fail('no error event'))
  shipper.end()
  const err = await new Promise((resolve) => { shipper.put({ stream: 's', event: {} }, resolve) })
  t.match(err, { code: 'SHOEBOX_EVENT_DROPPED' })
  await logScope(shipper, 's', () => 1)
})

t.test('logScope, logFunction and logRequests refuse a stream name the server would refuse, a body/fn/handler that is no function, and no shipper, when called', async (t) => {
  const { logRequests } = await import('../../lib/events/log-middleware.js')
  const shipper = ship('http://127.0.0.1:1', { stream: 's', exitHooks: false })
  t.teardown(() => { shipper.destroy() })
  const put: unknown[] = []
  shipper.put = ((item: unknown) => { put.push(item) }) as typeof shipper.put
  // A bad stream name made each event invalid, which put() tells no one: the helper looked as if it logged.
  await t.rejects(logScope(shipper, 'bad name', async () => 1), { code: 'SHOEBOX_INVALID_OPTION', option: 'stream', message: /invalid stream name "bad name"/ })
  await t.rejects(logScope(shipper, 'st', 5 as unknown as () => number), { code: 'SHOEBOX_INVALID_OPTION', option: 'body', message: 'option body: must be a function, got 5' })
  await t.rejects(logScope(null as unknown as typeof shipper, 'st', async () => 1), { code: 'SHOEBOX_INVALID_OPTION', option: 'shipper' })
  // logFunction's wrapper threw 'fn.apply is not a function' at each call; it is refused when it wraps.
  t.throws(() => logFunction(shipper, 'st', 5 as unknown as () => number), { code: 'SHOEBOX_INVALID_OPTION', option: 'fn', message: 'option fn: must be a function, got 5' })
  t.throws(() => logFunction(shipper, '', () => 1), { code: 'SHOEBOX_INVALID_OPTION', option: 'stream' })
  t.throws(() => logRequests(shipper, { stream: 'bad/name' }), { code: 'SHOEBOX_INVALID_OPTION', option: 'stream' })
  t.throws(() => logRequests(shipper, { stream: 'req' }, 5 as unknown as () => void), { code: 'SHOEBOX_INVALID_OPTION', option: 'handler' })
  t.same(put, [], 'nothing was put')
  t.equal(await logScope(shipper, 'st', async () => 7), 7)
  t.equal(logFunction(shipper, 'st', (a: number) => a + 1)(1), 2)
  t.equal(typeof logRequests(shipper, { stream: 'req' }), 'function')
  t.equal(put.length, 2, 'good calls put their events')
})
