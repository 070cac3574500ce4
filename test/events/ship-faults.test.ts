/**
 * Shipping under faults (issue 10's acceptance): ship() in this process
 * sends N events through a loopback proxy on one port to a real
 * `shoebox serve` child. At moments chosen by counting acknowledged puts
 * (never by sleeping) the proxy loses one answer the server gave (the
 * events are stored; the shipper must try again), SIGKILLs the server
 * after it answered and before the answer is passed on, twice (a restart
 * on the same data directory follows each), and answers 503 with
 * Retry-After for a while. With onOverflow 'block' and with 'spill', every
 * write callback succeeds and a get of the whole range returns exactly the
 * N events shipped, each once, in (time, id) order.
 *
 * N is 4,000 by default (8 puts: the lost answer, the two kills and the
 * 503s fall on puts 1-4, and 'spill' spills half); SHOEBOX_FAULT_EVENTS=1000000
 * runs the acceptance's 1M. The file's time is mostly fixed costs (six
 * server starts, two rounds of Retry-After: 1 per test), not N.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { kronos } from '../../lib/events/client.js'
import { compareEventIds } from '../../lib/events/event-id.js'
import { ship, type Shipper } from '../../lib/events/ship.js'
import { spawnServe, type ServeProcess } from './conformance-kit.js'
import { tempDir } from '../temp-dir.js'

const N = Number(process.env.SHOEBOX_FAULT_EVENTS ?? 4_000)
const STREAMS = 4
const BATCH = 500

/** What the proxy does to the next puts; each fault applies once. */
interface Faults {
  /** Pass the request on, then drop the connection instead of the server's answer. */
  loseAnswer: boolean
  /** SIGKILL the server once it answered, before the answer is passed on. */
  kill: boolean
  /** Answer this many more puts 503 with Retry-After: 1 (nothing reaches the server). */
  unavailable: number
}

/**
 * A reverse proxy on one stable port in front of a server that restarts on
 * a new port each time. While no server is up, a request's connection is
 * dropped (what a client of a killed server sees).
 */
class FaultProxy {
  readonly server: http.Server
  readonly #agent = new http.Agent({ keepAlive: true })
  target: string | undefined
  faults: Faults = { loseAnswer: false, kill: false, unavailable: 0 }
  acks = 0
  /** Called after each acknowledged put passed on, with the count so far. */
  onAck: (acks: number) => void = () => {}
  /** Called with the killed server's process when `kill` fired. */
  onKill: () => void = () => {}
  counts = { forwarded: 0, lost: 0, killed: 0, refused503: 0, dropped: 0 }

  constructor () {
    this.server = http.createServer((req, res) => { this.#handle(req, res) })
  }

  async listen (): Promise<string> {
    await new Promise<void>((resolve) => { this.server.listen(0, '127.0.0.1', resolve) })
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async close (): Promise<void> {
    this.#agent.destroy()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => { this.server.close(() => { resolve() }) })
  }

  #handle (req: IncomingMessage, res: ServerResponse): void {
    const parts: Buffer[] = []
    req.on('data', (b: Buffer) => { parts.push(b) })
    req.on('end', () => {
      const isPut = req.url === '/1.0/events/put'
      if (isPut && this.faults.unavailable > 0) {
        this.faults.unavailable--
        this.counts.refused503++
        res.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'application/json' })
        res.end('{"@success": false, "@errors": ["unavailable"]}')
        return
      }
      const target = this.target
      if (target === undefined) {
        this.#drop(res)
        return
      }
      const body = Buffer.concat(parts)
      const up = http.request(target + (req.url ?? '/'), { method: req.method, agent: this.#agent, headers: { ...req.headers, host: new URL(target).host } }, (answer) => {
        const back: Buffer[] = []
        answer.on('data', (b: Buffer) => { back.push(b) })
        answer.on('error', () => { this.#drop(res) })
        answer.on('end', () => {
          this.counts.forwarded++
          if (isPut && answer.statusCode === 200) {
            if (this.faults.kill) {
              // Stored and answered: the answer dies with the server.
              this.faults.kill = false
              this.counts.killed++
              this.onKill()
              this.#drop(res)
              return
            }
            if (this.faults.loseAnswer) {
              this.faults.loseAnswer = false
              this.counts.lost++
              this.#drop(res)
              return
            }
          }
          const headers = { ...answer.headers }
          delete headers.connection
          delete headers['keep-alive']
          res.writeHead(answer.statusCode ?? 502, headers)
          res.end(Buffer.concat(back))
          if (isPut && answer.statusCode === 200) this.onAck(++this.acks)
        })
      })
      up.on('error', () => { this.#drop(res) })
      up.end(body)
    })
  }

  #drop (res: ServerResponse): void {
    this.counts.dropped++
    res.socket?.destroy()
  }
}

const SERVE_ARGS = ['--memtable-size', '2MiB']

async function shipThroughFaults (t: Test, onOverflow: 'block' | 'spill'): Promise<void> {
  const began = Date.now()
  const marks: string[] = []
  const mark = (what: string): void => { marks.push(`${what} ${Date.now() - began}ms`) }
  const data = tempDir(t, 'shoebox-faults-data-')
  const proxy = new FaultProxy()
  const url = await proxy.listen()
  let server: ServeProcess = await spawnServe(['--data', data, ...SERVE_ARGS])
  proxy.target = server.url
  mark('up')
  let restarts = 0
  let restarting: Promise<void> = Promise.resolve()
  proxy.onKill = () => {
    const dead = server
    proxy.target = undefined
    dead.child.kill('SIGKILL')
    restarting = (async () => {
      const end = await dead.exited
      t.equal(end.signal, 'SIGKILL', `server ${restarts} was killed`)
      mark('killed')
      server = await spawnServe(['--data', data, ...SERVE_ARGS])
      mark('restarted')
      restarts++
      proxy.target = server.url
    })()
  }
  t.teardown(async () => {
    await restarting.catch(() => {})
    server.child.kill('SIGKILL')
    await server.exited
    await proxy.close()
  })

  // The faults, at fractions of the puts the run needs (one event batch per put).
  const puts = Math.ceil(N / BATCH)
  const at = (fraction: number): number => Math.max(1, Math.floor(puts * fraction))
  const plan = new Map<number, () => void>([
    [at(0.1), () => { proxy.faults.loseAnswer = true }],
    [at(0.25), () => { proxy.faults.kill = true }],
    [at(0.4), () => { mark('503'); proxy.faults.unavailable = 2 * STREAMS }],
    [at(0.6), () => { proxy.faults.kill = true }]
  ])
  proxy.onAck = (acks) => { plan.get(acks)?.() }

  const shipper: Shipper = ship(url, {
    batchEvents: BATCH,
    maxInFlight: STREAMS,
    queueEvents: 4 * BATCH,
    onOverflow,
    ...(onOverflow === 'spill' ? { spill: tempDir(t, 'shoebox-faults-spill-') } : {}),
    retry: { baseDelay: 20, maxDelay: 500 },
    exitHooks: false
  })
  let retries = 0
  shipper.on('retry', () => { retries++ })
  let ok = 0
  const failures: string[] = []
  const done = (err?: Error | null): void => {
    if (err === null || err === undefined) ok++
    else if (failures.length < 5) failures.push(err.message)
  }
  for (let seq = 0; seq < N; seq++) {
    if (!shipper.write({ stream: `s${seq % STREAMS}`, event: { seq, pad: 'x'.repeat(200) } }, done)) {
      await new Promise<void>((resolve) => { shipper.once('drain', resolve) })
    }
  }
  await new Promise<void>((resolve, reject) => {
    shipper.once('error', reject)
    shipper.end(resolve)
  })
  await restarting
  mark('shipped')
  const stats = shipper.stats().events
  t.same(failures, [], 'no write failed')
  t.equal(ok, N, `every write callback succeeded (${N})`)
  t.equal(proxy.counts.killed, 2, 'the server was SIGKILLed twice after storing a put')
  t.equal(restarts, 2, 'and restarted twice')
  t.equal(proxy.counts.lost, 1, 'one answer was lost on the way')
  t.equal(proxy.counts.refused503, 2 * STREAMS, 'puts were answered 503 for a while')
  t.ok(retries >= 2 * STREAMS + 3, `the shipper retried (${retries} times)`)
  if (onOverflow === 'spill') t.ok(stats.spilled > 0 && stats.replayed === stats.spilled, `events spilled and replayed (${stats.spilled})`)

  // Read everything back through the final server, directly.
  const seen = new Uint8Array(N)
  let events = 0
  let repeated = 0
  let unordered = 0
  const client = kronos(server.url)
  for (let s = 0; s < STREAMS; s++) {
    let prev: string | undefined
    for await (const line of client.get(`s${s}`, 0n, new Date(Date.now() + 86_400_000), { format: 'text' })) {
      const text = line as string
      events++
      const seq = Number(/"seq":(\d+)/.exec(text)?.[1])
      if (seen[seq] === 1) repeated++
      seen[seq] = 1
      const id = /"@id": ?"([0-9a-f-]{36})"/.exec(text)?.[1] as string
      if (prev !== undefined && compareEventIds(prev, id) >= 0) unordered++
      prev = id
    }
  }
  t.equal(repeated, 0, 'no event is stored twice')
  t.equal(unordered, 0, 'each stream is in strictly increasing (time, id) order: ids are unique')
  t.equal(events, N, `exactly ${N} events stored`)
  t.equal(seen.reduce((a, b) => a + b, 0), N, 'every event shipped is there')
  mark('read')
  t.comment(marks.join(', '))
  t.comment(`${onOverflow}: ${N} events, ${puts} puts, ${retries} retries, ${stats.spilled} spilled, proxy ${JSON.stringify(proxy.counts)}`)
}

t.test("onOverflow 'block': every acknowledged event stored exactly once", async (t) => {
  await shipThroughFaults(t, 'block')
})

t.test("onOverflow 'spill': every acknowledged event stored exactly once", async (t) => {
  await shipThroughFaults(t, 'spill')
})
