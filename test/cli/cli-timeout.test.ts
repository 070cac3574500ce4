/**
 * --timeout (shoebox events ..., shoebox ship) against a server that takes
 * the connection and never answers: each try fails after T, the command
 * gives up after --attempts with one line naming the URL (never its
 * credentials) and what was kept, instead of hanging for ten minutes (events:
 * 10 tries of 60 s) or for ever (ship keeps trying by default).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { cli } from '../cli-run.js'

/** A server that reads each request and never answers; its URL as typed (with credentials) and as shown. */
async function silent (t: Test): Promise<{ typed: string, shown: string, requests: () => number }> {
  let requests = 0
  const server = http.createServer((req) => { requests++; req.resume() })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const shown = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { typed: shown.replace('http://', 'http://user:s3cret@'), shown, requests: () => requests }
}

t.test('events get|streams|delete|schema --timeout: each try fails after T, then one line naming the URL', async (t) => {
  const { typed, shown, requests } = await silent(t)
  const cases: Array<[string[], string]> = [
    [['get', typed, 's'], `POST ${shown}/1.0/events/get: no answer for 100 ms; no event written`],
    [['streams', typed], `POST ${shown}/1.0/streams: no answer for 100 ms`],
    [['delete', typed, 's', '--from', '0', '--to', '5'], `POST ${shown}/1.0/events/delete: no answer for 100 ms`],
    [['schema', typed, 's'], `POST ${shown}/1.0/streams/infer_schema: no answer for 100 ms`]
  ]
  for (const [args, message] of cases) {
    const before = requests()
    const r = await cli(['events', ...args, '--timeout', '100ms', '--attempts', '2'])
    t.equal(r.code, 1, args[0])
    t.equal(r.stderr, `shoebox events ${args[0]}: ${message}\n`, args[0])
    t.equal(r.stdout.length, 0)
    t.equal(requests() - before, 2, `${args[0]}: --attempts tries`)
  }
})

t.test('--timeout is checked: a duration with its unit, else a usage error (exit 2)', async (t) => {
  const { typed } = await silent(t)
  for (const args of [['events', 'get', typed, 's', '--timeout', '5'], ['events', 'streams', typed, '--timeout', 'soon'], ['ship', typed, '--stream', 's', '--timeout=-1s']]) {
    const r = await cli(args)
    t.equal(r.code, 2, args.join(' '))
    t.match(r.stderr, /^shoebox (events \w+|ship): --timeout: expected a duration such as 10m, 1h, 30s or 250ms, got "[^"]*".*\n\(try 'shoebox \1 --help'\)\n$/, args.join(' '))
  }
})

t.test('ship --timeout: a put with no answer is tried again after T; --attempts gives up, naming what was not stored', async (t) => {
  const { typed, shown, requests } = await silent(t)
  const r = await cli(['ship', typed, '--stream', 's', '--timeout', '100ms', '--attempts', '2'], '{"a":1}\n{"a":2}\n')
  t.equal(r.code, 1)
  t.equal(requests(), 2)
  t.match(r.stderr, `${shown}/1.0/events/put: request failed: no answer within 100 ms; gave up after 2 tries`)
  t.match(r.stderr, /2 lines read/)
  t.notMatch(r.stderr, /s3cret|user/)
})
