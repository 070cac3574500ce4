/**
 * shoebox events get|delete|streams|schema against the loopback Kronos
 * fixture: NDJSON out with each event as the server sent it, --from/--to as
 * ISO or kronos ints, --limit / --order / --namespace / --start-id, a broken
 * connection resumed, and usage (exit 2) versus server (exit 1) failures as
 * one line on stderr.
 */
import t from 'tap'
import { cli, cliProcess } from '../cli-run.js'
import { startKronosFixture, type KronosFixture } from '../events/fixtures/kronos-fixture.js'

async function fixture (t: { teardown: (fn: () => Promise<void>) => void }): Promise<KronosFixture> {
  const fx = await startKronosFixture({ flushEvents: 2 })
  t.teardown(async () => { await fx.close() })
  return fx
}

const lines = (out: Buffer): string[] => out.toString('utf8').split('\n').filter((l) => l !== '')

t.test('events get: NDJSON as sent, ISO and kronos bounds, limit, order, start-id, namespace', async (t) => {
  const fx = await fixture(t)
  const base = 17_962_947_000_000_000n // 2026-12-03T10:45:00Z
  const stored = fx.put('s', [0n, 1n, 10_000_000n, 20_000_000n].map((d, n) => `{"@time":${base + d},"n":${n},"f":2.0}`))
  fx.put('s', ['{"@time":5,"n":"ns1"}'], 'namespace1')
  let r = await cli(['events', 'get', fx.url, 's', '--from', '2026-12-03T10:45:00Z', '--to', `${base + 10_000_000n}`])
  t.equal(r.code, 0, r.stderr)
  t.same(lines(r.stdout), stored.slice(0, 3).map((e) => e.text), 'each line as the server sent it (2.0 kept)')
  r = await cli(['events', 'get', fx.url, 's', '--from', '2026-12-03T11:45:01+01:00', '--order', 'descending', '--limit', '1'])
  t.same(lines(r.stdout), [stored[3].text], 'offset, descending, limit; --to defaults to now')
  r = await cli(['events', 'get', fx.url, 's', '--start-id', stored[1].id, '--to', 'now'])
  t.same(lines(r.stdout), stored.slice(2).map((e) => e.text))
  r = await cli(['events', 'get', fx.url, 's', '--namespace', 'namespace1'])
  t.match(r.stdout.toString(), /"n":"ns1"/)
  fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 2, midLine: true })
  r = await cli(['events', 'get', fx.url, 's'])
  t.same(lines(r.stdout), stored.map((e) => e.text), 'resumed after a cut, nothing twice')
})

t.test('events get: a stream the server does not list is an error; an empty range of one it lists is not', async (t) => {
  const fx = await fixture(t)
  fx.put('web.pageview', ['{"@time":10}'])
  let r = await cli(['events', 'get', fx.url, 'web.pagevew'])
  t.equal(r.code, 1)
  t.equal(r.stdout.length, 0)
  t.equal(r.stderr, `shoebox events get: ${fx.url}: no stream web.pagevew in the default namespace (shoebox events streams lists them); nothing written\n`)
  r = await cli(['events', 'get', fx.url, 'web.pagevew', '--namespace', 'namespace1'])
  t.equal(r.code, 1)
  t.match(r.stderr, /no stream web\.pagevew in namespace namespace1 /)
  r = await cli(['events', 'get', fx.url, 'web.pageview', '--from', '11', '--to', '20'])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout.length + r.stderr.length, 0, 'an empty range: nothing, and no complaint')
  r = await cli(['events', 'get', fx.url, 'web.pagevew', '--limit', '0'])
  t.equal(r.code, 0, '--limit 0 asks for nothing')
})

t.test('events delete and schema: a stream the server does not list is an error, as for get; nothing deleted from one it lists is not', async (t) => {
  const fx = await fixture(t)
  fx.put('web.pageview', ['{"@time":10,"a":1}'])
  let r = await cli(['events', 'delete', fx.url, 'web.pagevew', '--from', '0', '--to', '20'])
  t.equal(r.code, 1)
  t.equal(r.stdout.length, 0)
  t.equal(r.stderr, `shoebox events delete: ${fx.url}: no stream web.pagevew in the default namespace (shoebox events streams lists them); nothing deleted\n`)
  r = await cli(['events', 'schema', fx.url, 'web.pagevew', '--namespace', 'namespace1'])
  t.equal(r.code, 1)
  t.equal(r.stdout.length, 0)
  t.equal(r.stderr, `shoebox events schema: ${fx.url}: no stream web.pagevew in namespace namespace1 (shoebox events streams lists them); nothing written\n`)
  r = await cli(['events', 'delete', fx.url, 'web.pageview', '--from', '11', '--to', '20'])
  t.equal(r.code, 0, r.stderr)
  t.same(JSON.parse(r.stdout.toString())['web.pageview'], { memory: { num_deleted: 0 } }, 'an empty range of a listed stream: its answer')
  r = await cli(['events', 'schema', fx.url, 'web.pageview'])
  t.equal(r.code, 0, r.stderr)
  t.equal(fx.events('web.pageview').length, 1)
})

t.test('events streams, schema and delete', async (t) => {
  const fx = await fixture(t)
  fx.put('a.b', ['{"@time":1}', '{"@time":2}', '{"@time":3}'])
  fx.put('c', ['{"@time":1}'])
  let r = await cli(['events', 'streams', fx.url])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout.toString(), '"a.b"\n"c"\n')
  r = await cli(['events', 'schema', fx.url, 'a.b'])
  t.equal(r.stdout.toString(), '{"type":"object"}\n')
  r = await cli(['events', 'delete', fx.url, 'a.b', '--from', '1', '--to', '2'])
  t.equal(r.code, 0, r.stderr)
  t.same(JSON.parse(r.stdout.toString())['a.b'], { memory: { num_deleted: 2 } })
  t.equal(fx.events('a.b').length, 1)
})

t.test('usage errors exit 2, server errors exit 1, each one line', async (t) => {
  const fx = await fixture(t)
  const usage: string[][] = [
    ['events'], ['events', 'nope'], ['events', 'get', fx.url], ['events', 'get', fx.url, 'bad name'],
    ['events', 'get', fx.url, 's', '--from', 'yesterday'], ['events', 'get', fx.url, 's', '--limit=-1'],
    ['events', 'get', fx.url, 's', '--order', 'up'], ['events', 'get', fx.url, 's', '--start-id', 'x'],
    // delete's request refuses it asynchronously, after the range checks: a usage error too.
    ['events', 'delete', fx.url, 's', '--start-id', 'x', '--to', '5'],
    ['events', 'get', 'ftp://x', 's'], ['events', 'delete', fx.url, 's', '--from', '0'], ['events', 'delete', fx.url, 's', '--to', '5'],
    ['events', 'streams'], ['events', 'schema', fx.url]
  ]
  for (const args of usage) {
    const r = await cli(args)
    t.equal(r.code, 2, args.join(' '))
    const name = ['get', 'delete', 'streams', 'schema'].includes(args[1]) ? `events ${args[1]}` : 'events'
    t.equal(r.stderr.split('\n').slice(1).join('\n'), `(try 'shoebox ${name} --help')\n`, args.join(' '))
    t.ok(r.stderr.startsWith(`shoebox ${name}: `), `${args.join(' ')}: the line names ${name} as the hint does`)
  }
  const r = await cli(['events', 'streams', fx.url, '--namespace', 'nope'])
  t.equal(r.code, 1)
  t.match(r.stderr, new RegExp(`^shoebox events streams: POST ${fx.url}/1.0/streams: HTTP 400: NamespaceMissing.*\n$`))
  const help = await cli(['events', '--help'])
  t.match(help.stdout.toString(), /get +a time range of a stream, as NDJSON/)
  const getHelp = await cli(['events', 'get', '--help'])
  t.match(getHelp.stdout.toString(), /^Usage: shoebox events get URL STREAM/)
})

t.test('events get: a failure after some events writes them all, then one error line (exit 1)', async (t) => {
  const fx = await fixture(t)
  const stored = fx.put('s', Array.from({ length: 5 }, (_, n) => `{"@time":${n},"n":${n}}`))
  fx.fault('/1.0/events/get', { kind: 'cut', afterEvents: 3 })
  fx.fault('/1.0/events/get', { kind: 'status', status: 403, body: '{"@errors":["the server is readonly"],"@success":false}' })
  const r = await cli(['events', 'get', fx.url, 's', '--to', '10'])
  t.equal(r.code, 1)
  t.same(lines(r.stdout), stored.slice(0, 3).map((e) => e.text))
  t.equal(r.stderr, `shoebox events get: POST ${fx.url}/1.0/events/get: HTTP 403: the server is readonly; 3 events written, the last @id ${stored[2].id} (--start-id ${stored[2].id} goes on after it)\n`)
})

t.test('the real binary streams events and exits (no keep-alive socket holds it)', async (t) => {
  const fx = await fixture(t)
  const stored = fx.put('s', ['{"@time":1,"u":"é"}', '{"@time":2}'])
  const r = await cliProcess(['events', 'get', fx.url, 's', '--to', '10'])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout.toString('utf8'), stored.map((e) => `${e.text}\n`).join(''))
})
