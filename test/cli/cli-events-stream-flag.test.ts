/**
 * `shoebox events get|delete|schema URL --stream NAME`: the stream may be
 * given as `shoebox ship` takes it (--stream) instead of as the STREAM
 * argument; it was refused as an unknown option. Both given and the same is
 * one stream; both given and different is a usage error naming both.
 */
import t from 'tap'
import { cli } from '../cli-run.js'
import { startKronosFixture } from '../events/fixtures/kronos-fixture.js'

const lines = (out: Buffer): string[] => out.toString('utf8').split('\n').filter((l) => l !== '')

t.test('--stream NAME is the STREAM argument, for get, schema and delete', async (t) => {
  const fx = await startKronosFixture({ flushEvents: 2 })
  t.teardown(async () => { await fx.close() })
  const stored = fx.put('web.click', ['{"@time":5,"n":1}', '{"@time":6,"n":2}'])
  fx.put('other', ['{"@time":5,"n":3}'])
  const byFlag = await cli(['events', 'get', fx.url, '--stream', 'web.click', '--to', '10'])
  t.equal(byFlag.code, 0, byFlag.stderr)
  t.same(lines(byFlag.stdout), stored.map((e) => e.text), 'get --stream')
  const both = await cli(['events', 'get', fx.url, 'web.click', '--stream=web.click', '--to', '10'])
  t.same([both.code, lines(both.stdout)], [0, stored.map((e) => e.text)], 'the same stream both ways is one stream')
  const schema = await cli(['events', 'schema', fx.url, '--stream', 'web.click'])
  t.equal(schema.code, 0, schema.stderr)
  const deleted = await cli(['events', 'delete', fx.url, '--stream', 'other', '--from', '0', '--to', '10'])
  t.equal(deleted.code, 0, deleted.stderr)
  const left = await cli(['events', 'get', fx.url, '--stream', 'other', '--to', '10'])
  t.same(lines(left.stdout), [], 'delete --stream deleted that stream')
})

t.test('--stream and a different STREAM, or neither, or a bad name: a usage error, nothing asked of the server', async (t) => {
  for (const [args, line] of [
    [['get', 'http://127.0.0.1:1', 'web.click', '--stream', 'web.view'], 'the stream is given twice, as "web.click" and as --stream "web.view": give it once'],
    [['schema', 'http://127.0.0.1:1', 'a', '--stream', 'b'], 'the stream is given twice, as "a" and as --stream "b": give it once'],
    [['get', 'http://127.0.0.1:1'], 'expected URL STREAM (or URL --stream STREAM)'],
    [['get', 'http://127.0.0.1:1', '--stream', 'a', 'b', 'c'], 'expected URL STREAM (or URL --stream STREAM)'],
    [['get', 'http://127.0.0.1:1', '--stream', '']],
    [['delete', 'http://127.0.0.1:1', '--stream', 'a b', '--from', '0', '--to', '5']]
  ] as const) {
    const r = await cli(['events', ...args, '--attempts', '1'])
    t.equal(r.code, 2, args.join(' '))
    const first = r.stderr.split('\n')[0]
    if (line !== undefined) t.equal(first, `shoebox events ${args[0]}: ${line}`, args.join(' '))
    else t.match(first, new RegExp(`^shoebox events ${args[0]}: `), args.join(' '))
    t.notMatch(r.stderr, /ECONNREFUSED/, `${args.join(' ')}: the server is not asked`)
  }
})

t.test('the help of get, delete and schema lists --stream', async (t) => {
  for (const sub of ['get', 'delete', 'schema']) {
    const r = await cli(['events', sub, '--help'])
    t.match(r.stdout.toString(), /\n {2}--stream NAME +the stream, as the STREAM argument/, sub)
  }
})
