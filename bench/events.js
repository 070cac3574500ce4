/**
 * Event benchmark (issue 10): ship() -> `shoebox serve` on loopback, fsync
 * on, against a bare Node HTTP server fed the same batches by the same
 * shipper; then reading everything back with kronos().get(); and the peak
 * RSS of the server process.
 *
 *   node bench/events.js [--json] [--events=N]
 *
 * - Events: N deterministic ~300-byte page-view / click / scroll / signup
 *   events (seeded PRNG), each with its own `@time` (one per ~10 ms from a
 *   fixed start), spread over four streams (web.pageview, web.click,
 *   web.scroll, web.signup), unevenly (55/30/12/3%), as real event mixes
 *   are. Every ship() option is its default (500 events or 1 MiB per batch,
 *   100 ms age, 8 batches in flight, of one stream too, block).
 * - shoebox: the real CLI as a child process, `shoebox serve --data DIR
 *   --port 0` (default store: WAL fsynced per group commit, memtable 16 MiB).
 *   A fresh, empty DIR and a fresh server for every run.
 * - bare peer: this file run as `--bare-server FILE` in a child process:
 *   node:http, each POST body appended to one file (O_APPEND) and
 *   fdatasync'ed before the answer; it JSON.parses the body only to answer
 *   Kronos's `{stream: {bare: {num_inserted: n}}}`, which the shipper needs
 *   to acknowledge the batch. Nothing else (no ids, no index, no recovery).
 * - Ingest: events/s from the first write to ship()'s 'finish' (every event
 *   acknowledged), the same pre-built event texts to both servers.
 * - get: after each shoebox ingest, kronos(url).get() of each stream over
 *   the whole time range (default format: parsed objects), one stream after
 *   the other; events/s over all N. The count must be N.
 * - Peak RSS: VmHWM of the server child from /proc/<pid>/status, read after
 *   the ingest (peak under puts) and after the get (peak under both).
 *
 * Runs alternate the two servers (order rotating), 1 warm-up + RUNS timed.
 * Env: BENCH_EVENTS_RUNS (default 3, min 1), BENCH_EVENTS (same as --events;
 * default 200000: the part takes ~1-2 min on a loaded 2-core machine;
 * `--events=1000000` for the issue's 1M-event get).
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI } from './cli.js'
import { DATA_DIR } from './data.js'
import { log, markdownTable, median, settle } from './util.js'

const HERE = fileURLToPath(import.meta.url)
const WORK = path.join(DATA_DIR, 'events')
const RUNS = Math.max(1, Number(process.env.BENCH_EVENTS_RUNS ?? 3))
const eventsArg = process.argv.find((a) => a.startsWith('--events='))
const EVENTS = Number(eventsArg?.slice('--events='.length) ?? process.env.BENCH_EVENTS ?? 200_000)
const STREAMS = ['web.pageview', 'web.click', 'web.scroll', 'web.signup']
/** 2026-12-01T00:00:00Z in Kronos ticks (100 ns). */
const START_TIME = 1764547200000n * 10000n
const STEP = 100000n // 10 ms

/** sfc32, seeded: the same N gives the same events. */
function prng (seed) {
  let a = seed; let b = 0x9e3779b9; let c = 0x243f6a88; let d = 0xb7e15162
  return () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    const t = (a + b | 0) + d | 0
    d = d + 1 | 0
    a = b ^ b >>> 9
    b = c + (c << 3) | 0
    c = (c << 21 | c >>> 11)
    c = c + t | 0
    return (t >>> 0) / 4294967296
  }
}

const PATHS = ['/', '/pricing', '/docs/getting-started', '/blog/2026/streams-in-node', '/products/shoebox', '/account/settings', '/search', '/checkout/cart']
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36']
const REFERRERS = ['https://www.google.com/', 'https://news.ycombinator.com/', '', 'https://github.com/']
const ELEMENTS = ['button#signup', 'a.nav-docs', 'button.add-to-cart', 'a.footer-privacy', 'input#search']

/** N events as { stream, event: JSON text }, about 300 bytes each. */
export function makeEvents (n) {
  const r = prng(0xe7e47)
  const pick = (xs) => xs[Math.floor(r() * xs.length)]
  const hex = (len) => { let s = ''; while (s.length < len) s += Math.floor(r() * 0x100000000).toString(16).padStart(8, '0'); return s.slice(0, len) }
  const out = new Array(n)
  let bytes = 0
  for (let i = 0; i < n; i++) {
    const x = r()
    const stream = x < 0.55 ? STREAMS[0] : x < 0.85 ? STREAMS[1] : x < 0.97 ? STREAMS[2] : STREAMS[3]
    const base = {
      '@time': START_TIME + BigInt(i) * STEP,
      user_id: `u_${hex(12)}`,
      session: hex(16),
      path: pick(PATHS),
      ua: pick(AGENTS),
      country: pick(['DE', 'US', 'FR', 'BR', 'IN', 'JP']),
      locale: pick(['de-DE', 'en-US', 'fr-FR', 'pt-BR', 'hi-IN', 'ja-JP'])
    }
    let extra
    if (stream === STREAMS[0]) extra = { referrer: pick(REFERRERS), load_ms: Math.floor(r() * 3000), viewport: { w: 1280 + Math.floor(r() * 4) * 160, h: 720 + Math.floor(r() * 4) * 90 } }
    else if (stream === STREAMS[1]) extra = { element: pick(ELEMENTS), x: Math.floor(r() * 1920), y: Math.floor(r() * 1080) }
    else if (stream === STREAMS[2]) extra = { depth: Math.round(r() * 100) / 100, max_depth: Math.round(r() * 100) / 100 }
    else extra = { plan: pick(['free', 'team', 'enterprise']), trial: r() < 0.5, price: 2.0 }
    // @time as exact decimal text (above 2^53); the rest through JSON.stringify.
    const { '@time': time, ...rest } = { ...base, ...extra }
    const text = `{"@time":${time},` + JSON.stringify(rest).slice(1)
    bytes += Buffer.byteLength(text)
    out[i] = { stream, event: text }
  }
  return { events: out, bytes, end: START_TIME + BigInt(n) * STEP }
}

/** The bare peer: append each POST body to `file`, fdatasync, answer Kronos's put shape. */
async function bareServer (file) {
  const fh = await fs.promises.open(file, 'a')
  const server = http.createServer((req, res) => {
    const parts = []
    req.on('data', (b) => parts.push(b))
    req.on('end', () => {
      const body = Buffer.concat(parts)
      fh.write(body).then(() => fh.datasync()).then(() => {
        const answer = { '@success': true }
        for (const [stream, events] of Object.entries(JSON.parse(body.toString('utf8')).events)) answer[stream] = { bare: { num_inserted: events.length } }
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(answer))
      }, (err) => { res.writeHead(500); res.end(String(err)) })
    })
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`)
  })
  process.once('SIGTERM', () => { server.close(); server.closeAllConnections(); fh.close().then(() => process.exit(0)) })
}

/** Start a server child; resolves to { child, url } once it printed its URL. */
function startServer (args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (s) => { err += s })
    child.stdout.setEncoding('utf8').on('data', (s) => {
      out += s
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m !== null) resolve({ child, url: m[1].replace(/\/$/, ''), stderr: () => err })
    })
    child.once('error', reject)
    child.once('exit', (code, signal) => reject(new Error(`${args.join(' ')} exited with ${code ?? signal} before listening: ${err.trim().slice(0, 2000)}`)))
  })
}

async function stopServer ({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** CPU seconds (user + sys) a process used so far, from /proc/<pid>/stat (clock ticks of 1/100 s). */
function cpuSeconds (pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** CPU seconds of this process (the shipper, the client) so far. */
function ownCpuSeconds () {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

function vmHwmMB (pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) * 1024 / 1e6
}

/** Ship `events` with ship()'s defaults (no exit hooks), written as fast as backpressure allows; resolves to its stats() once all are acknowledged. */
export async function shipAll (ship, url, events) {
  const shipper = ship(url, { exitHooks: false })
  const finished = new Promise((resolve, reject) => {
    shipper.once('finish', resolve)
    shipper.once('error', reject)
  })
  let failed = null
  const done = (err) => { if (err !== null && err !== undefined && failed === null) failed = err }
  let i = 0
  await new Promise((resolve) => {
    const pump = () => {
      while (i < events.length) {
        if (!shipper.write(events[i++], done)) { shipper.once('drain', pump); return }
      }
      resolve()
    }
    pump()
  })
  shipper.end()
  await finished
  if (failed !== null) throw failed
  const s = shipper.stats()
  return s
}

async function getAll (kronos, url, end) {
  const client = kronos(url)
  let n = 0
  for (const stream of STREAMS) {
    for await (const event of client.get(stream, START_TIME, end)) {
      if (event['@id'] === undefined) throw new Error('get: an event without @id')
      n++
    }
  }
  return n
}

export async function runEvents () {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} does not exist: run \`npm run build\` first`)
  const { ship, kronos } = await import('../dist/events/index.js')
  log(`events: building ${EVENTS} events`)
  const { events, bytes, end } = makeEvents(EVENTS)
  log(`events: ${EVENTS} events, ${bytes} bytes (${(bytes / EVENTS).toFixed(0)} B average), streams ${STREAMS.join(', ')}`)
  fs.rmSync(WORK, { recursive: true, force: true })
  fs.mkdirSync(WORK, { recursive: true })

  const seconds = { shoebox: [], bare: [], get: [] }
  // CPU seconds of the server child and of this process (the shipper) per ingest.
  const cpu = { shoebox: { server: [], shipper: [] }, bare: { server: [], shipper: [] } }
  const rss = { ingest: [], both: [], bare: [] }
  const candidates = {
    async shoebox (timed) {
      const dir = path.join(WORK, 'serve')
      fs.rmSync(dir, { recursive: true, force: true })
      const server = await startServer([CLI, 'serve', '--data', dir, '--port', '0'])
      try {
        await settle()
        const cpu0 = [cpuSeconds(server.child.pid), ownCpuSeconds()]
        let t0 = performance.now()
        await shipAll(ship, server.url, events)
        const ingest = (performance.now() - t0) / 1000
        const ingestCpu = [cpuSeconds(server.child.pid) - cpu0[0], ownCpuSeconds() - cpu0[1]]
        const ingestRss = vmHwmMB(server.child.pid)
        await settle()
        t0 = performance.now()
        const n = await getAll(kronos, server.url, end)
        const get = (performance.now() - t0) / 1000
        if (n !== EVENTS) throw new Error(`get: read ${n} events, shipped ${EVENTS}`)
        const bothRss = vmHwmMB(server.child.pid)
        if (timed) {
          seconds.shoebox.push(ingest); seconds.get.push(get); rss.ingest.push(ingestRss); rss.both.push(bothRss)
          cpu.shoebox.server.push(ingestCpu[0]); cpu.shoebox.shipper.push(ingestCpu[1])
        }
        return `shoebox ${ingest.toFixed(2)}s (get ${get.toFixed(2)}s, RSS ${ingestRss.toFixed(0)}/${bothRss.toFixed(0)} MB)`
      } finally {
        await stopServer(server)
      }
    },
    async bare (timed) {
      const file = path.join(WORK, 'bare.ndjson')
      fs.rmSync(file, { force: true })
      const server = await startServer([HERE, '--bare-server', file])
      try {
        await settle()
        const cpu0 = [cpuSeconds(server.child.pid), ownCpuSeconds()]
        const t0 = performance.now()
        await shipAll(ship, server.url, events)
        const ingest = (performance.now() - t0) / 1000
        if (timed) {
          seconds.bare.push(ingest); rss.bare.push(vmHwmMB(server.child.pid))
          cpu.bare.server.push(cpuSeconds(server.child.pid) - cpu0[0]); cpu.bare.shipper.push(ownCpuSeconds() - cpu0[1])
        }
        return `bare ${ingest.toFixed(2)}s`
      } finally {
        await stopServer(server)
        fs.rmSync(file, { force: true })
      }
    }
  }
  const names = Object.keys(candidates)
  for (let round = 0; round < 1 + RUNS; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length])
    const said = []
    for (const name of order) said.push(await candidates[name](round > 0))
    log(`events round ${round + 1}/${1 + RUNS}${round === 0 ? ' (warm-up)' : ''}: ${said.join(', ')}`)
  }
  fs.rmSync(WORK, { recursive: true, force: true })

  const rate = (s) => EVENTS / s
  const sb = median(seconds.shoebox)
  const bare = median(seconds.bare)
  const get = median(seconds.get)
  const perRound = seconds.shoebox.map((s, i) => seconds.bare[i] / s)
  const rows = [
    { scenario: 'ingest: ship() -> `shoebox serve` (fsync), 4 streams', shoeboxRps: rate(sb), shoeboxMBps: bytes / 1e6 / sb, peer: 'bare node:http, append + fdatasync per request, same shipper', peerRps: rate(bare), peerMBps: bytes / 1e6 / bare, ratio: bare / sb, bestRatio: Math.min(...seconds.bare) / Math.min(...seconds.shoebox) },
    { scenario: 'get: kronos().get() of every stream, whole range', shoeboxRps: rate(get), shoeboxMBps: bytes / 1e6 / get, peer: 'ship() -> `shoebox serve` (ingest, same runs)', peerRps: rate(sb), peerMBps: bytes / 1e6 / sb, ratio: sb / get, bestRatio: Math.min(...seconds.shoebox) / Math.min(...seconds.get) }
  ]
  return {
    events: EVENTS,
    bytes,
    streams: STREAMS,
    runs: RUNS,
    rows,
    ratioPerRound: { min: Math.min(...perRound), max: Math.max(...perRound) },
    cpu: {
      shoebox: { serverSeconds: median(cpu.shoebox.server), shipperSeconds: median(cpu.shoebox.shipper) },
      bare: { serverSeconds: median(cpu.bare.server), shipperSeconds: median(cpu.bare.shipper) }
    },
    rss: { ingestMB: Math.max(...rss.ingest), bothMB: Math.max(...rss.both), bareMB: Math.max(...rss.bare) },
    seconds
  }
}

const passFail = (ok) => ok ? 'PASS' : 'FAIL'

/** The targets of issue 10's benchmark, one Markdown list item each. */
export function eventsTargets (result) {
  const [ingest, get] = result.rows
  return [
    `- ${passFail(ingest.shoeboxRps >= 100_000)}: ship() -> \`shoebox serve\` >= 100,000 events/s: ${Math.round(ingest.shoeboxRps).toLocaleString('en-US')} events/s`,
    `- ${passFail(ingest.ratio >= 0.5)}: ship() -> \`shoebox serve\` >= 0.5x the bare append+fdatasync server: ${ingest.ratio.toFixed(2)}x ` +
      `(fastest against fastest ${ingest.bestRatio.toFixed(2)}x; per round ${result.ratioPerRound.min.toFixed(2)}-${result.ratioPerRound.max.toFixed(2)}x)`,
    `- ${passFail(get.ratio >= 2)}: get of a ${result.events.toLocaleString('en-US')}-event range >= 2x the ingest rate: ${get.ratio.toFixed(2)}x ` +
      `(${Math.round(get.shoeboxRps).toLocaleString('en-US')} events/s)`,
    `- ${passFail(result.rss.bothMB < 250)}: peak RSS of the \`shoebox serve\` process under puts and gets < 250 MB: ${result.rss.bothMB.toFixed(1)} MB ` +
      `(after the puts: ${result.rss.ingestMB.toFixed(1)} MB)`
  ]
}

export function eventsNotes (result) {
  return [`Events: ${result.events} events, ${(result.bytes / 1e6).toFixed(1)} MB of JSON (${(result.bytes / result.events).toFixed(0)} B average), ` +
    `streams ${result.streams.join(', ')}; median of ${result.runs} timed runs after 1 warm-up, servers alternating; ` +
    `a fresh server and data directory per run. Peak RSS of the bare server: ${result.rss.bareMB.toFixed(1)} MB.`,
  'CPU per ingest (user + sys, median; µs per event): ' +
    `\`shoebox serve\` ${result.cpu.shoebox.serverSeconds.toFixed(2)} s (${(result.cpu.shoebox.serverSeconds / result.events * 1e6).toFixed(1)} µs), ` +
    `its shipper ${result.cpu.shoebox.shipperSeconds.toFixed(2)} s (${(result.cpu.shoebox.shipperSeconds / result.events * 1e6).toFixed(1)} µs); ` +
    `bare server ${result.cpu.bare.serverSeconds.toFixed(2)} s (${(result.cpu.bare.serverSeconds / result.events * 1e6).toFixed(1)} µs), ` +
    `its shipper ${result.cpu.bare.shipperSeconds.toFixed(2)} s (${(result.cpu.bare.shipperSeconds / result.events * 1e6).toFixed(1)} µs).`]
}

if (process.argv[2] === '--bare-server') {
  await bareServer(process.argv[3])
} else if (process.argv[1] === HERE) {
  const result = await runEvents()
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(result) + '\n')
  } else {
    console.log(markdownTable(result.rows))
    console.log()
    for (const line of eventsNotes(result)) console.log(line)
    console.log()
    console.log('Targets:')
    for (const line of eventsTargets(result)) console.log(line)
  }
}
