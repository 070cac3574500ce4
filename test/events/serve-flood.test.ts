/**
 * `shoebox serve` under a flood of idle connections, with the common small
 * descriptor limit (issue 10). Without a cap the flood took every
 * descriptor, and the event log could not open its next file (EMFILE):
 * every put after that was refused (503) until a restart, flood over or
 * not (now only the flush fails, store-event-store.test.ts; its files
 * still ran out). With the default cap (half the limit) the store keeps its share:
 * puts over a connection the server already holds are stored while the
 * flood lasts, the operator is told once, and when the flood ends new
 * clients are served and every acknowledged event is there.
 */
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import t from 'tap'
import { eventually, get, spawnServe, stderrOf } from './conformance-kit.js'

const FD_LIMIT = 256
const FLOOD = 300
const PUTS = 30
const PER_PUT = 200
const PAD = 'x'.repeat(200)

/** A put of PER_PUT events (~45 KB) whose times say which put it was; at --memtable-size 64KiB, every other one or so starts a flush. */
function putBody (n: number): string {
  return JSON.stringify({ events: { s: Array.from({ length: PER_PUT }, (_, k) => ({ '@time': n * 1000 + k, pad: PAD })) } })
}

interface Answer {
  status: number | string
  retryAfter?: string
  text: string
}

/** A put over `agent` (false: a connection of its own); a broken connection is its error code as the status. */
async function postPut (port: number, body: string, agent: http.Agent | false): Promise<Answer> {
  return await new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/1.0/events/put', method: 'POST', agent }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (s: string) => { text += s })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], text }) })
      res.on('error', (err: NodeJS.ErrnoException) => { resolve({ status: err.code ?? 'error', text }) })
    })
    req.on('error', (err: NodeJS.ErrnoException) => { resolve({ status: err.code ?? 'error', text: '' }) })
    req.end(body)
  })
}

t.test(`ulimit -n ${FD_LIMIT}, ${FLOOD} idle connections: puts are stored or refused, never lost; the server serves on after`, async (t) => {
  const data = t.testdir()
  const serve = await spawnServe(['--data', data, '--memtable-size', '64KiB'], {}, { fdLimit: FD_LIMIT })
  const said = stderrOf(serve)
  t.teardown(() => { serve.child.kill('SIGKILL') })
  const port = Number(new URL(serve.url).port)
  // A client the server holds a connection for before the flood (keep-alive, one socket).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => { agent.destroy() })
  const acknowledged: number[] = []
  const refusedBadly: Answer[] = []
  const note = (n: number, a: Answer): void => {
    if (a.status === 200 && /"@success": true/.test(a.text)) acknowledged.push(n)
    // Refused is fine when it says so as a put's refusal should: 503 and when to try again.
    else if (a.status !== 503 || a.retryAfter === undefined) refusedBadly.push(a)
  }
  note(0, await postPut(port, putBody(0), agent))

  const flood: net.Socket[] = []
  t.teardown(() => { for (const s of flood) s.destroy() })
  for (let i = 0; i < FLOOD; i++) flood.push(net.connect(port, '127.0.0.1').on('error', () => {}))
  // Puts at once, back to back: the kept connection never idles long enough (5 s) to be closed.
  const during: Answer[] = []
  for (let n = 1; n <= PUTS; n++) {
    const a = await postPut(port, putBody(n), agent)
    during.push(a)
    note(n, a)
  }
  t.same(during.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.text.slice(0, 300)}`), [], 'every put during the flood stored (the store kept its descriptors)')
  t.ok(await eventually(() => /--max-connections/.test(said()), 10_000), 'the operator is told')
  const fds = fs.readdirSync(`/proc/${serve.child.pid as number}/fd`).length
  t.ok(fds < FD_LIMIT, `the server holds ${fds} descriptors, under its limit of ${FD_LIMIT}`)

  for (const s of flood) s.destroy()
  // A new client is served once the server has seen the flood go (a connection it still counts is closed unanswered).
  let after: Answer | undefined
  t.ok(await eventually(async () => {
    after = await postPut(port, putBody(PUTS + 1), false)
    return typeof after.status === 'number'
  }, 10_000), 'a new connection is answered after the flood')
  note(PUTS + 1, after as Answer)
  t.equal(after?.status, 200, `after the flood, puts are stored again: ${after?.text.slice(0, 300) ?? ''}`)
  t.same(refusedBadly.map((a) => `${a.status} ${a.text.slice(0, 300)}`), [], 'nothing refused other than by 503 with Retry-After')

  const events = await get(t, serve.url, 's', 0, (PUTS + 2) * 1000)
  const stored = new Set(events.map((e) => Math.floor((e['@time'] as number) / 1000)))
  t.same(acknowledged.filter((n) => !stored.has(n)), [], 'every acknowledged put is read back')
  t.equal(events.length, acknowledged.length * PER_PUT, 'whole, once')
  t.equal(serve.child.exitCode, null, 'alive')
  serve.child.kill('SIGTERM')
  const end = await serve.exited
  t.equal(end.code, 0, 'stops cleanly')
  t.equal(end.stderr.match(/--max-connections/g)?.length, 1, `told once for the whole flood: ${end.stderr}`)
  t.match(end.stderr, `shoebox serve: ${FD_LIMIT / 2} connections open, the most --max-connections allows: new ones are closed until some end\n`, 'the cap, by default half the descriptor limit, and the flag')
  t.notMatch(end.stderr, /too many open files|EMFILE/, 'the store never ran out of descriptors')
})

t.test(`ulimit -n ${FD_LIMIT}: --max-connections above half of it is taken, and said at start; at half, nothing is said`, async (t) => {
  for (const [max, warned] of [[FD_LIMIT, true], [FD_LIMIT / 2, false]] as const) {
    const serve = await spawnServe(['--data', t.testdir(), '--max-connections', String(max)], {}, { fdLimit: FD_LIMIT })
    serve.child.kill('SIGTERM')
    const end = await serve.exited
    t.equal(end.code, 0, `--max-connections ${max}: started and stopped`)
    if (warned) t.match(end.stderr, `shoebox serve: --max-connections ${max} is more than half of the ${FD_LIMIT} files this process may open (ulimit -n)`)
    else t.notMatch(end.stderr, /--max-connections/, `--max-connections ${max}: nothing said`)
  }
})
