/**
 * `shoebox serve`'s flags as a user gives them (issue 10, item 7), beyond
 * serve-cli.test.ts: --host binds where it says, --port the port given,
 * --retention drops whole expired days when the server starts again (but
 * not by a clock years ahead, unless --trust-clock says it is right), and
 * --max-connections closes connections beyond it (serve-flood.test.ts has
 * the default, under a small descriptor limit), and --max-put-streams
 * refuses a put naming more streams than it, whole.
 */
import net, { type AddressInfo } from 'node:net'
import t from 'tap'
import { escapeRegExp } from '../helpers.js'
import { eventually, get, json, post, put, spawnServe, stderrOf, streams } from './conformance-kit.js'

async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}

t.test('--host and --port: bound where they say', async (t) => {
  const port = await freePort()
  // Any 127/8 address is this machine on Linux: one that is not the default shows --host is used.
  const served = await spawnServe(['--data', t.testdir(), '--host', '127.0.0.2', '--port', String(port)])
  t.teardown(() => { served.child.kill('SIGKILL') })
  t.equal(served.url, `http://127.0.0.2:${port}`)
  await put(t, served.url, { s: [{ '@time': 5 }] })
  t.same((await get(t, served.url, 's', 0, 10)).map((e) => String(e['@time'])), ['5'])
  // Not on 127.0.0.1: the default interface is not bound as well.
  const refused = await new Promise<string>((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.on('connect', () => { socket.destroy(); resolve('connected') })
    socket.on('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? 'error') })
  })
  t.equal(refused, 'ECONNREFUSED')
  served.child.kill('SIGTERM')
  t.equal((await served.exited).code, 0)
})

t.test('--retention 30d: a restart drops the expired days, keeps the recent ones', async (t) => {
  const data = t.testdir()
  // Both below 2^54, as even integers: exact as JS numbers in this test's JSON.
  const old = Date.UTC(1998, 0, 1) * 10_000
  const recent = Math.floor(Date.now() / 1000) * 10_000_000
  const first = await spawnServe(['--data', data])
  await put(t, first.url, { s: [{ '@time': old, what: 'old' }, { '@time': recent, what: 'recent' }] })
  first.child.kill('SIGTERM')
  t.equal((await first.exited).code, 0)
  const kept = await spawnServe(['--data', data])
  t.same((await get(t, kept.url, 's', 0, recent + 1)).map((e) => e.what), ['old', 'recent'], 'without --retention both stay')
  kept.child.kill('SIGTERM')
  t.equal((await kept.exited).code, 0)
  const second = await spawnServe(['--data', data, '--retention', '30d'])
  t.teardown(() => { second.child.kill('SIGKILL') })
  t.same((await get(t, second.url, 's', 0, recent + 1)).map((e) => e.what), ['recent'], 'the 1998 day dropped')
  second.child.kill('SIGTERM')
  t.equal((await second.exited).code, 0)
})

t.test('--retention 30d on a clock five years ahead: nothing dropped, one line on stderr; --trust-clock drops by it', async (t) => {
  const data = t.testdir()
  const recent = Math.floor(Date.now() / 1000) * 10_000_000
  const sane = await spawnServe(['--data', data, '--retention', '30d'])
  t.teardown(() => { sane.child.kill('SIGKILL') })
  await put(t, sane.url, { s: [{ '@time': recent, what: 'recent' }] })
  sane.child.kill('SIGTERM')
  t.equal((await sane.exited).code, 0)
  // The container's clock five years ahead (a bad NTP step, a VM's wrong RTC): Date.now() in the server.
  const ahead = { nodeArgs: [`--import=data:text/javascript,const now = Date.now; Date.now = () => now() + ${5 * 365 * 86_400_000}`] }
  const wrong = await spawnServe(['--data', data, '--retention', '30d'], {}, ahead)
  t.teardown(() => { wrong.child.kill('SIGKILL') })
  t.same((await get(t, wrong.url, 's', 0, recent + 1)).map((e) => e.what), ['recent'], 'kept')
  wrong.child.kill('SIGTERM')
  const said = (await wrong.exited).stderr.split('\n').filter((l) => l.includes('retention held'))
  t.equal(said.length, 1, 'one line')
  t.match(said[0], new RegExp(`^shoebox serve: ${escapeRegExp(data)}: retention held: the clock says 20\\d\\d-.*newest event .*nothing dropped, 1 of 1 runs kept .*--trust-clock`))
  const trusted = await spawnServe(['--data', data, '--retention', '30d', '--trust-clock'], {}, ahead)
  t.teardown(() => { trusted.child.kill('SIGKILL') })
  t.same(await get(t, trusted.url, 's', 0, recent + 1), [], 'dropped once the operator says the clock is right')
  trusted.child.kill('SIGTERM')
  t.equal((await trusted.exited).code, 0)
})

t.test('--max-connections 2: a third connection is closed unanswered, and stderr says so once', async (t) => {
  const served = await spawnServe(['--data', t.testdir(), '--max-connections', '2'])
  const said = stderrOf(served)
  t.teardown(() => { served.child.kill('SIGKILL') })
  const port = Number(new URL(served.url).port)
  // Two clients that began a request head and went quiet (the server holds them for its 20 s headers timeout).
  const quiet = [0, 1].map(() => net.connect(port, '127.0.0.1', function (this: net.Socket) { this.write('POST /1.0/events/put HTTP/1.1\r\n') }).on('error', () => {}))
  t.teardown(() => { for (const s of quiet) s.destroy() })
  await Promise.all(quiet.map(async (s) => await new Promise((resolve) => s.once('connect', resolve))))
  for (let i = 0; i < 3; i++) {
    const third = await fetch(served.url + '/1.0/index').then((r) => r.status, (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message)
    t.not(third, 200, `connection ${i + 3} is not served: ${String(third)}`)
  }
  t.ok(await eventually(() => /--max-connections/.test(said()), 10_000))
  for (const s of quiet) s.destroy()
  t.ok(await eventually(async () => await fetch(served.url + '/1.0/index').then((r) => r.status === 200, () => false), 10_000), 'served again once they go')
  served.child.kill('SIGTERM')
  const end = await served.exited
  t.same(end.stderr.split('\n').filter((l) => l.includes('--max-connections')), ['shoebox serve: 2 connections open, the most --max-connections allows: new ones are closed until some end'], 'once, naming the cap and the flag')
})

t.test('--max-put-streams 3: a put naming 4 streams is refused whole (413, nothing stored), one naming 3 is taken', async (t) => {
  const served = await spawnServe(['--data', t.testdir(), '--max-put-streams', '3'])
  t.teardown(() => { served.child.kill('SIGKILL') })
  const four = { a: [{ '@time': 1 }], b: [{ '@time': 2 }], c: [{ '@time': 3 }], d: [{ '@time': 4 }] }
  const refused = await post(served.url, '/1.0/events/put', { events: four })
  t.equal(refused.status, 413)
  t.same(json(refused)['@errors'], ["RequestTooLarge('a put may name at most 3 streams; this one names more',)"])
  t.same(await streams(served.url), [], 'nothing of it stored')
  // A name given twice is one stream (its later value is the one stored, as a JSON object's key goes).
  const taken = await post(served.url, '/1.0/events/put', '{"events": {"a": [{"@time": 1}], "b": [{"@time": 2}], "a": [{"@time": 5}], "c": [{"@time": 3}]}}')
  t.equal(taken.status, 200, taken.text)
  t.same(await streams(served.url), ['a', 'b', 'c'])
  t.same((await get(t, served.url, 'a', 0, 10)).map((e) => String(e['@time'])), ['5'])
  served.child.kill('SIGTERM')
  t.equal((await served.exited).code, 0)
  for (const bad of ['0', '-1', '1e3', 'x']) {
    const run = await spawnServe(['--data', t.testdir(), '--max-put-streams', bad]).then(() => 'started', (err: Error) => err.message)
    t.match(run, /--max-put-streams/, `--max-put-streams ${bad} is a usage error`)
  }
})
