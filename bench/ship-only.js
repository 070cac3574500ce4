/**
 * The shipper alone (issue 10): ship() of N ~300-byte events (the same
 * texts bench/events.js feeds) to a bare loopback node:http server in a
 * child process that answers at once: no file, no fsync, and it does not
 * parse the body (num_inserted is the count of `"@time"` in it, one per
 * event). What is left is the shipper's own CPU per event.
 *
 *   npm run build
 *   node bench/ship-only.js [--events=N] [--runs=R] [--dist=DIR]
 *   node --cpu-prof --cpu-prof-dir=bench/.data/profiles bench/ship-only.js --runs=1
 *   node bench/cpuprofile-top.js bench/.data/profiles/CPU.*.cpuprofile
 *
 * --dist=DIR measures another build (a copy of dist/ of an earlier commit),
 * for a before/after in the same minutes. Prints one line per run (1
 * warm-up + R timed): events/s and the shipper's CPU (user + sys) per event.
 */
import { spawn } from 'node:child_process'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { PerformanceObserver } from 'node:perf_hooks'
import { makeEvents, shipAll } from './events.js'
import { median } from './util.js'

const HERE = fileURLToPath(import.meta.url)
const arg = (name, fallback) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? fallback : a.slice(name.length + 3)
}

/** Count `"@time"` occurrences: one per event of the bench's texts. */
function countEvents (body) {
  let n = 0
  for (let i = body.indexOf('"@time"'); i !== -1; i = body.indexOf('"@time"', i + 7)) n++
  return n
}

function answerServer () {
  const server = http.createServer((req, res) => {
    const parts = []
    req.on('data', (b) => parts.push(b))
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('latin1')
      const stream = /^\{"events": \{"([^"]+)"/.exec(body)?.[1] ?? '?'
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(`{"@success": true, ${JSON.stringify(stream)}: {"bare": {"num_inserted": ${countEvents(body)}}}}`)
    })
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => { process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`) })
  process.once('SIGTERM', () => { server.close(); server.closeAllConnections() })
}

async function main () {
  const n = Number(arg('events', 200_000))
  const runs = Math.max(1, Number(arg('runs', 3)))
  const dist = path.resolve(arg('dist', path.join(path.dirname(HERE), '..', 'dist')))
  const { ship } = await import(pathToFileURL(path.join(dist, 'events', 'index.js')).href)
  const { events } = makeEvents(n)
  const child = spawn(process.execPath, [HERE, '--answer-server'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (s) => {
      out += s
      const m = /listening on (\S+)/.exec(out)
      if (m !== null) resolve(m[1])
    })
    child.once('exit', (code) => { reject(new Error(`answer server exited with ${code}`)) })
  })
  const cpu = []
  // GC pauses of this process (ms, by kind), to tell the shipper's garbage from its work.
  let gcMs = { minor: 0, major: 0 }
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs[e.detail?.kind === 1 ? 'minor' : 'major'] += e.duration
  })
  gc.observe({ entryTypes: ['gc'] })
  for (let round = 0; round <= runs; round++) {
    gcMs = { minor: 0, major: 0 }
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    const stats = await shipAll(ship, url, events)
    const wall = (performance.now() - t0) / 1000
    const c = process.cpuUsage(c0)
    const us = (c.user + c.system) / n
    if (stats.events.acked !== n) throw new Error(`acked ${stats.events.acked} of ${n}`)
    if (round > 0) cpu.push(us)
    console.log(`${round === 0 ? 'warm-up' : `run ${round}`}: ${Math.round(n / wall).toLocaleString('en-US')} events/s, shipper CPU ${us.toFixed(2)} µs/event ` +
      `(user ${(c.user / n).toFixed(2)}, sys ${(c.system / n).toFixed(2)}; GC pauses ${((gcMs.minor + gcMs.major) * 1000 / n).toFixed(2)} µs/event, ` +
      `major ${gcMs.major.toFixed(0)} ms; ${wall.toFixed(2)} s wall)`)
  }
  console.log(`${dist}: median shipper CPU ${median(cpu).toFixed(2)} µs/event over ${runs} runs of ${n} events`)
  gc.disconnect()
  child.kill('SIGTERM')
}

if (process.argv[2] === '--answer-server') answerServer()
else await main()
