/**
 * serveEvents()'s host and corsOrigins, checked where they enter: an empty
 * host bound every interface (Node reads '' as "any"), a string for
 * corsOrigins was read as a list of its characters, and an origin written as
 * a browser never sends it (a trailing '/', a path, capitals) matched no
 * request, without a word. Each is refused naming the option and the value.
 * maxPutStreams: a count, 10,000 by default, past which a put is refused
 * whole (413) before anything of it is stored.
 */
import t from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { serveEvents } from '../../../lib/events/server/serve-events.js'
import { cli } from '../../cli-run.js'
import { tempDir } from '../../temp-dir.js'
import { json, post, start, streams } from '../conformance-kit.js'

t.test('host: anything but a non-empty name or address is refused, before the store is opened or a port bound', async (t) => {
  const data = t.testdir()
  for (const [value, reason] of [
    ['', 'must be an interface\'s name or address (such as 127.0.0.1, :: or localhost), got ""'],
    [null, 'must be an interface\'s name or address (such as 127.0.0.1, :: or localhost), got null'],
    [8150, 'must be an interface\'s name or address (such as 127.0.0.1, :: or localhost), got 8150'],
    [' 127.0.0.1', 'must be an interface\'s name or address (such as 127.0.0.1, :: or localhost), got " 127.0.0.1"']
  ] as const) {
    await t.rejects(serveEvents({ data, port: 0, host: value as string }), { code: 'SHOEBOX_INVALID_OPTION', option: 'host', reason }, JSON.stringify(value))
  }
})

t.test('corsOrigins: a list of origins as browsers send them; anything else is refused, saying the origin meant', async (t) => {
  const data = t.testdir()
  for (const [value, option, reason] of [
    ['https://app.example.com', 'corsOrigins', 'must be a list of origins (such as [\'https://app.example.com\']), got "https://app.example.com"'],
    [null, 'corsOrigins', 'must be a list of origins (such as [\'https://app.example.com\']), got null'],
    [['https://app.example.com/'], 'corsOrigins', 'a browser sends the origin "https://app.example.com" (scheme, host and port, lower case, no path), got "https://app.example.com/"'],
    [['https://App.Example.com:443'], 'corsOrigins', 'a browser sends the origin "https://app.example.com" (scheme, host and port, lower case, no path), got "https://App.Example.com:443"'],
    [['app.example.com'], 'corsOrigins', 'must be an origin such as \'https://app.example.com\', got "app.example.com"'],
    [['*'], 'corsOrigins', 'must be an origin such as \'https://app.example.com\', got "*"'],
    [[7], 'corsOrigins', 'must be an origin such as \'https://app.example.com\', got 7']
  ] as const) {
    await t.rejects(serveEvents({ data, port: 0, corsOrigins: value as unknown as string[] }), { code: 'SHOEBOX_INVALID_OPTION', option, reason }, JSON.stringify(value))
  }
  const server = await serveEvents({ data, port: 0, corsOrigins: ['https://app.example.com', 'http://127.0.0.1:8080'] })
  t.teardown(async () => { await server.close() })
  const answer = await fetch(`${server.url}/1.0/index`, { headers: { origin: 'http://127.0.0.1:8080' } })
  await answer.arrayBuffer()
  t.equal(answer.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8080', 'a listed origin still gets its headers')
})

t.test('the CLI: --host "" and a --cors-origin with a path are usage errors naming the flag', async (t) => {
  for (const [args, line] of [
    [['--host', ''], '--host: must be an interface\'s name or address (such as 127.0.0.1, :: or localhost), got ""'],
    [['--cors-origin', 'https://app.example.com/x'], '--cors-origin: a browser sends the origin "https://app.example.com" (scheme, host and port, lower case, no path), got "https://app.example.com/x"']
  ] as const) {
    const r = await cli(['serve', '--data', t.testdir(), '--port', '0', ...args])
    t.same([r.code, r.stderr.split('\n')[0]], [2, `shoebox serve: ${line}`], args.join(' '))
  }
})

t.test('maxBody and maxEventSize 0 are refused (every request, or every event, would be refused as too large; 0 is no "no cap")', async (t) => {
  const data = tempDir(t)
  await t.rejects(serveEvents({ data, port: 0, maxBody: 0 }), { code: 'SHOEBOX_INVALID_OPTION', option: 'maxBody', reason: 'must be above 0 (every request would be refused as too large; there is no unlimited: at most 256MiB), got 0' })
  await t.rejects(serveEvents({ data, port: 0, maxEventSize: '0KB' }), { code: 'SHOEBOX_INVALID_OPTION', option: 'maxEventSize', reason: 'must be above 0 (every event would be refused as too large), got "0KB"' })
  const r = await cli(['serve', '--data', data, '--port', '0', '--max-body', '0'])
  t.same([r.code, r.stderr.split('\n')[0]], [2, 'shoebox serve: --max-body: must be above 0 (every request would be refused as too large; there is no unlimited: at most 256MiB), got "0"'])
})

t.test('the options of a shared store\'s servers, given to a server they do nothing for, are refused naming it (they were ignored without a word)', async (t) => {
  const data = tempDir(t)
  for (const [options, option, reason] of [
    [{ collectorId: 'x' }, 'collectorId', "is for mode 'collector' with a shared store (store); this server has none"],
    [{ sweepAfter: '1h' }, 'sweepAfter', "is for mode 'collector' with a shared store (store); this server has none"],
    [{ pollInterval: '5s' }, 'pollInterval', "is for mode 'readonly' with a shared store (store); this server has none"],
    [{ pollInterval: '5s', mode: 'collector', store: 's3://events/p' }, 'pollInterval', "is for mode 'readonly' with a shared store (store); this server is mode 'collector'"],
    // Only a collector publishes: a local server's runs are written when its memtable fills, whatever the interval.
    [{ flushInterval: '1s' }, 'flushInterval', "is for mode 'collector' with a shared store (store); this server has none"],
    [{ flushInterval: '1s', mode: 'readonly', store: 's3://events/p' }, 'flushInterval', "is for mode 'collector' with a shared store (store); this server is mode 'readonly'"]
  ] as const) {
    await t.rejects(serveEvents({ data, port: 0, ...options }), { code: 'SHOEBOX_INVALID_OPTION', option, reason }, JSON.stringify(options))
  }
  for (const [args, line] of [
    [['--collector-id', 'x'], "--collector-id: is for mode 'collector' with a shared store (store); this server has none"],
    [['--flush-interval', '1s'], "--flush-interval: is for mode 'collector' with a shared store (store); this server has none"],
    [['--endpoint', 'http://127.0.0.1:9000'], '--endpoint goes with --store URL (an S3-compatible endpoint for it)']
  ] as const) {
    const r = await cli(['serve', '--data', data, '--port', '0', ...args])
    t.same([r.code, r.stderr.split('\n')[0]], [2, `shoebox serve: ${line}`], args.join(' '))
  }
})

t.test('an option serveEvents() does not know is refused naming it (namespace for namespaces served only kronos, and every put to the namespace meant was refused)', async (t) => {
  const data = tempDir(t)
  for (const option of ['namespace', 'dir', 'maxbody']) {
    await t.rejects(serveEvents({ data, port: 0, [option]: 'app' } as unknown as Parameters<typeof serveEvents>[0]),
      { code: 'SHOEBOX_INVALID_OPTION', option, reason: /^is not an option of serveEvents\(\) \(those are data, port, host, mode, namespaces, / }, option)
  }
  const server = await serveEvents({ data, port: 0, namespaces: ['app'] })
  t.teardown(async () => { await server.close() })
  t.equal(server.url.startsWith('http://127.0.0.1:'), true, 'a server with known options starts')
})

t.test('a collector refused for its store\'s options (endpoint, sweepAfter) makes no data directory: every option is checked first', async (t) => {
  // The data directory, with its collector-id and collector-instance files, was made before the store was
  // opened (a bad endpoint) or sweepAfter read.
  const base = tempDir(t)
  const data = path.join(base, 'data')
  for (const [options, option] of [
    [{ storeOptions: { endpoint: 'ftp://x' } }, 'endpoint'],
    [{ sweepAfter: 'soon' }, 'sweepAfter']
  ] as const) {
    await t.rejects(serveEvents({ data, port: 0, mode: 'collector', store: 's3://events/p', ...options }), { code: 'SHOEBOX_INVALID_OPTION', option }, option)
    t.notOk(fs.existsSync(data), `${option}: no data directory`)
  }
  for (const args of [['--endpoint', 'ftp://x'], ['--sweep-after', 'soon']]) {
    const r = await cli(['serve', '--store', 's3://events/p', '--mode', 'collector', '--data', data, '--port', '0', ...args])
    t.same([r.code, r.stderr.split('\n')[0].slice(0, `shoebox serve: ${args[0]}:`.length)], [2, `shoebox serve: ${args[0]}:`], args.join(' '))
    t.notOk(fs.existsSync(data), `${args.join(' ')}: no --data directory`)
  }
})

t.test('maxPutStreams: a positive integer; by default a put naming 10,001 streams is refused whole, 413', async (t) => {
  const data = t.testdir()
  for (const value of [0, -1, 1.5, '5', null]) {
    await t.rejects(serveEvents({ data, port: 0, maxPutStreams: value as number }), { code: 'SHOEBOX_INVALID_OPTION', option: 'maxPutStreams' }, JSON.stringify(value))
  }
  const server = await start(t)
  const events: Record<string, unknown[]> = {}
  for (let i = 0; i <= 10_000; i++) events[`s${i}`] = [{ '@time': i }]
  const refused = await post(server.url, '/1.0/events/put', { events })
  t.equal(refused.status, 413)
  t.same(json(refused), { '@success': false, '@errors': ["RequestTooLarge('a put may name at most 10000 streams; this one names more',)"], '@took': json(refused)['@took'] })
  t.same(await streams(server.url), [], 'nothing of it stored')
})
