/**
 * `shoebox ship` fed what a careless user feeds it: nothing at all, blank
 * lines, a line that is not JSON, bytes that are not UTF-8 (split at every
 * chunk boundary), an event without its --time-field, a 10 MB line, a URL
 * that is not http. Every refused line is named once by its number, the good
 * lines are shipped, and the exit status says whether anything was refused.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable, Writable } from 'node:stream'
import t from 'tap'
import { main } from '../../lib/cli/main.js'
import { cli } from '../cli-run.js'
import { startCollector, type Collector } from '../events/fixtures/collector.js'
import { get, spawnServe } from '../events/conformance-kit.js'

async function collector (t: { teardown: (fn: () => Promise<void>) => void }): Promise<Collector> {
  const c = await startCollector()
  t.teardown(async () => { await c.stop() })
  return c
}

t.test('empty stdin ships nothing and exits 0, as `shoebox write` does, saying so', async (t) => {
  const c = await collector(t)
  for (const input of ['', '\n\n\r\n  \n']) {
    const r = await cli(['ship', c.url, '--stream', 's'], input)
    t.equal(r.code, 0, JSON.stringify(input))
    t.match(r.stderr, /^shoebox ship: shipped 0 events in 0 batches /, JSON.stringify(input))
  }
  t.equal(c.requests, 0, 'nothing sent')
})

t.test('blank lines are skipped, not events, yet count in the line numbers', async (t) => {
  const c = await collector(t)
  const r = await cli(['ship', c.url, '--stream', 's'], '{"n":1}\n\n{"n":2}\r\n\r\nnope\n')
  t.equal(r.code, 1)
  t.match(r.stderr, /^shoebox ship: line 5: /m, 'the bad line is numbered counting the blank ones')
  t.same(c.stored.map((e) => e.event.n), [1, 2])
})

t.test('a line that is not JSON is named once by its number ("line 2:", not "line 2: line 2:")', async (t) => {
  const c = await collector(t)
  const r = await cli(['ship', c.url, '--stream', 's'], '{"n":1}\nnot json\n{"n":3}\n')
  t.equal(r.code, 1)
  const lines = r.stderr.split('\n')
  t.match(lines[0], /^shoebox ship: line 2: invalid JSON/)
  t.notMatch(r.stderr, /line 2: line 2/)
  t.match(lines[1], /^shoebox ship: shipped 2 events .*; 1 invalid$/)
  t.same(c.stored.map((e) => e.event.n), [1, 3])
})

t.test('--time-field missing in some events: those lines named, the rest shipped with their time', async (t) => {
  const c = await collector(t)
  const input = ['{"at":"2024-01-02T03:04:05Z","n":1}', '{"n":2}', '{"at":null,"n":3}', '{"at":"2024-01-02T03:04:06Z","n":4}'].join('\n')
  const r = await cli(['ship', c.url, '--stream', 's', '--time-field', 'at'], input)
  t.equal(r.code, 1)
  t.match(r.stderr, /^shoebox ship: line 2: no time field "at"\nshoebox ship: line 3: no time field "at"\n/)
  t.same(c.stored.map((e) => [e.event.n, e.event['@time']]), [[1, 17041646450000000], [4, 17041646460000000]])
})

t.test('--time-field with values that are not times: each line names the field and why, the rest shipped', async (t) => {
  const c = await collector(t)
  const input = ['{"at":1.5,"n":1}', '{"at":"yesterday","n":2}', '{"at":{"x":1},"n":3}', '{"at":17041646450000000,"n":4}'].join('\n')
  const r = await cli(['ship', c.url, '--stream', 's', '--time-field', 'at'], input)
  t.equal(r.code, 1)
  const lines = r.stderr.split('\n')
  // A fraction of a tick is a time unit mistake more often than not: say which unit the number was read in.
  t.equal(lines[0], 'shoebox ship: line 1: time field "at": 1.5 is not a whole number of kronos ticks (100 ns since the epoch); for milliseconds or seconds, give the time unit (ms or s)')
  t.match(lines[1], /^shoebox ship: line 2: time field "at": not an ISO 8601 time .*'yesterday'$/)
  t.equal(lines[2], 'shoebox ship: line 3: time field "at": not a time: {"x":1}')
  t.same(c.stored.map((e) => [e.event.n, e.event['@time']]), [[4, 17041646450000000]])
})

t.test('--time-field with a kronos time written as a float (1.7e16): refused as not exact, not as "not a whole number"', async (t) => {
  const c = await collector(t)
  const r = await cli(['ship', c.url, '--stream', 's', '--time-field', 'at'], '{"at":1.7041646450000001e16}\n{"at":17041646450000001}\n')
  t.equal(r.code, 1)
  // It said '17041646450000000 is not a whole number of kronos ticks': a whole number, and not the one written.
  t.equal(r.stderr.split('\n')[0], 'shoebox ship: line 1: time field "at": 17041646450000000 is written as a float (with a fraction or an exponent) beyond 2^53, where a float is not exact to the tick; write the time as an integer')
  t.equal(c.stored.length, 1, 'the integer form shipped')
})

const invalidUtf8Input = Buffer.concat([
  Buffer.from('{"n":1,"t":"héllo ✓"}\n'),
  Buffer.from('{"n":2,"t":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}\n'),
  Buffer.from('{"n":3,"t":"wörld"}\n'),
  Buffer.from('{"n":4,"t":"cut '), Buffer.from([0xe2, 0x9c]), Buffer.from('"}')
])

for (const size of [1, 2, 3, 5, 7, 13, 321]) {
  t.test(`a line that is not UTF-8 is refused by its number, never shipped with U+FFFD in it (stdin in ${size}-byte chunks)`, async (t) => {
    const c = await collector(t)
    const chunks: Buffer[] = []
    for (let at = 0; at < invalidUtf8Input.length; at += size) chunks.push(invalidUtf8Input.subarray(at, at + size))
    let stderr = ''
    const code = await main(['ship', c.url, '--stream', 's'], {
      stdin: Readable.from(chunks),
      stdout: new Writable({ write (_c, _e, cb) { cb() } }),
      stderr: new Writable({ write (chunk: Buffer, _e, cb) { stderr += chunk.toString(); cb() } })
    })
    t.equal(code, 1, stderr)
    t.match(stderr, /^shoebox ship: line 2: not valid UTF-8\b.*\nshoebox ship: line 4: not valid UTF-8\b.*\nshoebox ship: shipped 2 events .*; 2 invalid\n$/)
    t.same(c.stored.map((e) => [e.event.n, e.event.t]), [[1, 'héllo ✓'], [3, 'wörld']])
  })
}

t.test('a 10 MB line against a real shoebox serve: refused by the server (over its 1 MiB event cap), the rest stored; exit 1', async (t) => {
  const served = await spawnServe(['--data', t.testdir()])
  t.teardown(() => { served.child.kill('SIGTERM') })
  const big = JSON.stringify({ n: 1, pad: 'x'.repeat(10 * 1024 * 1024) })
  const r = await cli(['ship', served.url, '--stream', 's', '--time-field', 'n'], `${big}\n{"n":2}\n`)
  t.equal(r.code, 1)
  t.match(r.stderr, /^shoebox ship: line 1: event rejected: .*RequestTooLarge.*\n.*shipped 1 event .*1 rejected by the server\n$/, 'the refused event named by its line')
  t.same((await get(t, served.url, 's', 0, 10)).map((e) => e.n), [2])
})

t.test('giving up on one line: every count agrees with its noun (1 try, 1 event, 1 line)', async (t) => {
  const r = await cli(['ship', 'http://127.0.0.1:1', '--stream', 's', '--attempts', '1'], '{"n":1}\n')
  t.equal(r.code, 1)
  t.match(r.stderr, /^shoebox ship: \S+: request failed: connect ECONNREFUSED [^;]+; gave up after 1 try; 1 event not acknowledged; 1 line read from stdin: 0 acknowledged, 1 unconfirmed \(not kept; the server may or may not have them\)\n$/)
})

t.test('a URL that is not http(s): a usage error, exit 2, as for shoebox events', async (t) => {
  for (const url of ['ftp://x', 'not a url']) {
    const r = await cli(['ship', url, '--stream', 's'], '{"n":1}\n')
    t.equal(r.code, 2, url)
    t.match(r.stderr, /^shoebox ship: [^\n]+\n\(try 'shoebox ship --help'\)\n$/, url)
  }
})

t.test('option mistakes are usage errors naming the flags typed, never the API\'s option names', async (t) => {
  for (const [args, line] of [
    [['--stream', 'bad name'], '--stream: invalid stream name "bad name": only A-Z a-z 0-9 _ . - are allowed'],
    [['--stream', 's', '--spill', ''], '--spill needs a directory'],
    [['--stream', 's', '--on-overflow', 'spill'], '--on-overflow spill needs --spill DIR'],
    [['--stream', 's', '--on-overflow', 'drop', '--spill', 'x'], '--spill goes with --on-overflow spill (its default), not drop'],
    // An empty namespace is one no server has: every batch was refused and retried for ever.
    [['--stream', 's', '--namespace', ''], '--namespace: must be a non-empty name (an empty one is no namespace a server has)']
  ] as const) {
    const r = await cli(['ship', 'http://127.0.0.1:9/', ...args], '{"n":1}\n')
    t.same([r.code, r.stderr.split('\n')[0]], [2, `shoebox ship: ${line}`], args.join(' '))
  }
})

t.test("a server's @errors are printed on one line, control characters escaped: a hostile server coloured the terminal and forged lines", async (t) => {
  const evil = '\u001b[31mRED\u001b[0m\nshoebox ship: shipped 1 event, all stored\r\u0007'
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => { res.writeHead(400, { 'content-type': 'application/json' }); res.end(JSON.stringify({ '@success': false, '@errors': [evil] })) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  const r = await cli(['ship', `http://127.0.0.1:${(server.address() as AddressInfo).port}`, '--stream', 's'], '{"n":1}\n')
  t.equal(r.code, 1)
  const lines = r.stderr.split('\n')
  t.equal(lines.length, 3, `two lines and the end: ${JSON.stringify(r.stderr)}`)
  t.match(lines[0], /^shoebox ship: line 1: event rejected: \S+: HTTP 400: \\x1b\[31mRED\\x1b\[0m\\nshoebox ship: shipped 1 event, all stored\\r\\x07$/)
  t.match(lines[1], /^shoebox ship: shipped 0 events .*1 rejected by the server$/)
  t.notOk([...r.stderr].some((c) => c !== '\n' && c.charCodeAt(0) < 0x20), 'no control character but the line ends')
})

t.test('--help says which --on-overflow is the default: block without --spill, spill with it (--help said block alone, and --spill DIR --on-overflow block is refused)', async (t) => {
  const help = (await cli(['ship', '--help'])).stdout.toString()
  const entry = /^ {2}--on-overflow [\s\S]*?(?=^ {2}-)/m.exec(help)?.[0].replace(/\s+/g, ' ') ?? ''
  t.match(entry, /holds stdin \(the default without --spill\)/)
  t.match(entry, /spills them to --spill \(the default with it\)/)
  const r = await cli(['ship', 'http://127.0.0.1:9/', '--stream', 's', '--spill', 'x', '--on-overflow', 'block'], '')
  t.same([r.code, r.stderr.split('\n')[0]], [2, 'shoebox ship: --spill goes with --on-overflow spill (its default), not block'])
})
