/**
 * `shoebox events` and `shoebox serve` as a careless or hostile user meets
 * them: a URL with nobody behind it or with credentials in it, a range whose
 * end is before its start, option values node:util's parser refuses with a
 * message of several lines, `serve --retention 0`. Each failure is one line
 * on stderr (a usage mistake adds the "try --help" line), exit 2 for usage
 * and 1 for the server or the network.
 */
import { spawn } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { cli } from '../cli-run.js'
import { put, spawnServe } from '../events/conformance-kit.js'
import { idAt } from '../events/fixtures/event-ids.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'

/** A usage failure: the message on one line, then the hint. */
const usageLines = /^shoebox (\w+(?: \w+)?): [^\n]+\n\(try 'shoebox \1 --help'\)\n$/

t.test('an option value the parser refuses (--limit -1) is one line, not its three', async (t) => {
  const r = await cli(['events', 'get', 'http://127.0.0.1:1', 's', '--limit', '-1'])
  t.equal(r.code, 2)
  t.match(r.stderr, usageLines)
  t.match(r.stderr, /--limit/)
})

t.test('a --start-id that is no event id: a usage error naming the flag (it named kronos()\'s option startId), for get and delete', async (t) => {
  for (const args of [['get', 's'], ['delete', 's', '--to', '5']]) {
    const r = await cli(['events', ...args.slice(0, 1), 'http://127.0.0.1:1', ...args.slice(1), '--start-id', 'not-an-id'])
    t.equal(r.code, 2, args[0])
    t.match(r.stderr, usageLines)
    t.match(r.stderr, new RegExp(`^shoebox events ${args[0]}: --start-id: not a UUID: "not-an-id"\n`))
  }
})

t.test('a URL with nobody behind it (given up after --attempts 2): one line naming the URL without its credentials, exit 1', async (t) => {
  for (const args of [['get', 's'], ['streams'], ['schema', 's'], ['delete', 's', '--from', '0', '--to', '5']]) {
    const [sub, ...rest] = args
    const r = await cli(['events', sub, 'http://alice:s3cret@127.0.0.1:1/prefix', '--attempts', '2', ...rest])
    t.equal(r.code, 1, sub)
    t.match(r.stderr, new RegExp(`^shoebox events ${sub}: POST http://127\\.0\\.0\\.1:1/prefix/1\\.0/\\S+: connect ECONNREFUSED[^\\n]*\\n$`), sub)
    t.notMatch(r.stderr, /alice|s3cret/, `${sub}: credentials never echoed`)
  }
})

t.test('--attempts must be a positive integer', async (t) => {
  for (const bad of ['0', '-1', 'x', '1.5']) {
    const r = await cli(['events', 'streams', 'http://127.0.0.1:1', `--attempts=${bad}`])
    t.equal(r.code, 2, bad)
    t.match(r.stderr, /--attempts: must be a positive integer/, bad)
  }
})

t.test('--namespace \'\': a usage error naming the flag (kronos() refuses an empty namespace, as ship() does)', async (t) => {
  const r = await cli(['events', 'streams', 'http://127.0.0.1:1', '--namespace', ''])
  t.equal(r.code, 2)
  t.equal(r.stderr.split('\n')[0], 'shoebox events streams: --namespace: must be a non-empty name (an empty one is no namespace a server has)')
})

t.test('--to before --from: a usage error naming both, for get (either order) and delete; nothing is asked of the server', async (t) => {
  for (const args of [
    ['get', 's', '--from', '2021-01-01', '--to', '2020-01-01'],
    ['get', 's', '--from', '2021-01-01', '--to', '2020-01-01', '--order', 'descending'],
    ['delete', 's', '--from', '2021-01-01T00:00:00Z', '--to', '2020-12-31T23:59:59Z']
  ]) {
    // port 1: were the server asked, the failure would be ECONNREFUSED, exit 1
    const r = await cli(['events', args[0], 'http://127.0.0.1:1', ...args.slice(1)])
    t.equal(r.code, 2, args.join(' '))
    t.match(r.stderr, usageLines, args.join(' '))
    t.match(r.stderr, /--to .*is before --from/, args.join(' '))
  }
})

t.test('against a real shoebox serve: --limit 0 and an empty range answer nothing, exit 0 (as Kronos: limit <= 0 is an empty answer); | head -1 is no error', async (t) => {
  const served = await spawnServe(['--data', t.testdir()])
  t.teardown(() => { served.child.kill('SIGTERM') })
  await put(t, served.url, { s: [{ '@time': 1 }, { '@time': 2 }] })
  let r = await cli(['events', 'get', served.url, 's', '--to', '10', '--limit', '0'])
  t.same([r.code, r.stdout.toString(), r.stderr], [0, '', ''])
  r = await cli(['events', 'get', served.url, 's', '--from', '3', '--to', '3'])
  t.same([r.code, r.stdout.toString(), r.stderr], [0, '', ''])
  r = await cli(['events', 'get', served.url, 's', '--from', '2', '--to', '2'])
  t.equal(r.stdout.toString().split('\n').length, 2, 'a one-tick range holds the event at that tick (inclusive)')
  // events get | head -1: the reader going away is not an error
  await put(t, served.url, { many: Array.from({ length: 5000 }, (_, i) => ({ '@time': i + 1, pad: 'x'.repeat(100) })) })
  const { code, stderr } = await new Promise<{ code: number | null, stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cliBinary(), 'events', 'get', served.url, 'many', '--to', '100000'])
    let err = ''
    child.stderr.on('data', (b: Buffer) => { err += b.toString() })
    child.stdout.once('data', () => { child.stdout.destroy() })
    child.on('close', (c) => { resolve({ code: c, stderr: err }) })
  })
  t.equal(code, 0, `| head -1: ${stderr}`)
  t.equal(stderr, '', '| head -1: nothing on stderr')
})

t.test('serve --retention 0 would drop every finished day: refused as a usage error', async (t) => {
  const r = await cli(['serve', '--data', t.testdir(), '--port', '0', '--retention', '0'])
  t.equal(r.code, 2)
  t.match(r.stderr, usageLines)
  t.match(r.stderr, /--retention/)
})

t.test('serve: a port in use, and a --host that is not this machine: one line saying which, exit 1', async (t) => {
  const taken = net.createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { taken.close() })
  const { port } = taken.address() as net.AddressInfo
  let r = await cli(['serve', '--data', t.testdir(), '--port', String(port)])
  t.equal(r.code, 1)
  t.equal(r.stderr, `shoebox serve: cannot listen on 127.0.0.1:${port}: the port is in use (--port 0 picks a free one)\n`)
  // 192.0.2.1 is TEST-NET-1: never an address of this machine, and no DNS lookup
  r = await cli(['serve', '--data', t.testdir(), '--port', '0', '--host', '192.0.2.1'])
  t.equal(r.code, 1)
  t.match(r.stderr, /^shoebox serve: cannot listen on 192\.0\.2\.1:0: --host 192\.0\.2\.1 is not an address of this machine \(EADDRNOTAVAIL\)\n$/)
})

t.test('events get from a server that dies mid-answer: every event received is written, and the error line says how many and the last @id', async (t) => {
  // Each @id carries its @time (spec §3), as the client checks.
  const ids = [1, 2, 3].map((time) => idAt(time))
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write(ids.map((id, n) => `{"@time":${n + 1},"@id":"${id}"}\r\n`).join(''), () => {
        // the answer is cut, and nobody answers the resumes: the server is gone
        server.close()
        res.socket?.destroy()
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  const r = await cli(['events', 'get', url, 's', '--to', '10', '--attempts', '2'])
  t.equal(r.code, 1)
  t.same(r.stdout.toString().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { '@id': string })['@id']), ids)
  t.match(r.stderr, new RegExp(`^shoebox events get: POST ${url}/1\\.0/events/get: [^\\n]*; 3 events written, the last @id ${ids[2]} \\(--start-id ${ids[2]} goes on after it\\)\\n$`))
})

t.test('events get from a server answering out of order: the events before it written, then one line naming the line, the stream and the ids, exit 1', async (t) => {
  // Times 1, 3, 2, 4, each @id carrying its @time: the third goes back in time. (Ids of one time may come in any order.)
  const times = [1, 3, 2, 4]
  const ids = times.map((time) => idAt(time))
  let requests = 0
  const server = http.createServer((req, res) => {
    requests++
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(ids.map((id, n) => `{"@time":${times[n]},"@id":"${id}"}\r\n`).join(''))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  const r = await cli(['events', 'get', url, 'web.click', '--to', '10'])
  t.equal(r.code, 1)
  t.same(r.stdout.toString().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { '@id': string })['@id']), ids.slice(0, 2))
  t.equal(r.stderr, `shoebox events get: POST ${url}/1.0/events/get: line 3 of the answer: stream web.click, event 3: @id ${ids[2]} is before the last one, ${ids[1]} (order ascending); 2 events before it yielded; 2 events written, the last @id ${ids[1]} (--start-id ${ids[1]} goes on after it)\n`)
  t.equal(requests, 1, 'not asked again')
})

t.test("a subcommand's usage mistake points at the subcommand's help, which has its options", async (t) => {
  const cases: Array<[string[], string]> = [
    [['events', 'get', 'http://127.0.0.1:1', 's', '--order', 'up'], 'events get'],
    [['events', 'delete', 'http://127.0.0.1:1', 's', '--to', '5'], 'events delete'],
    [['events', 'streams'], 'events streams'],
    [['events', 'nope'], 'events'],
    [['events'], 'events']
  ]
  for (const [args, help] of cases) {
    const r = await cli(args)
    t.equal(r.code, 2, args.join(' '))
    t.equal(r.stderr.split('\n')[1], `(try 'shoebox ${help} --help')`, args.join(' '))
  }
})
