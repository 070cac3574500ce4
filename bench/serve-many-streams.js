/**
 * One put naming many streams and the server's memory (h-streams31): the
 * server alone in a child process (serveEvents() under --expose-gc, fsync
 * off, --max-body 256MiB, maxPutStreams raised to N), given one put of N
 * one-event streams. Prints VmRSS and VmHWM (/proc/PID/status) and the heap
 * after gc() twice, once the put is answered, once its flush is done, and
 * after 5 s idle; the descriptors open at most meanwhile; the put's and the
 * flush's CPU (the child's process.cpuUsage()).
 *
 *   node bench/serve-many-streams.js [--dist=DIR] [--streams=N]
 *
 * --dist: the build to run (default this checkout's dist/; another
 * checkout's build for an A/B: one before maxPutStreams takes no option for it
 * and has no cap). --streams: default 100000.
 */
import { fork } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'

const HERE = fileURLToPath(import.meta.url)
const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback

if (process.argv[2] === '--child') {
  const { serveEvents } = await import(pathToFileURL(path.join(process.argv[3], 'events', 'index.js')).href)
  const n = Number(process.argv[5])
  const options = { data: process.argv[4], port: 0, maxBody: '256MiB', fsync: false }
  // A build with the cap takes the option; one before it refuses an unknown option.
  const server = await serveEvents({ ...options, maxPutStreams: n }).catch(async () => await serveEvents(options))
  process.on('message', async (m) => {
    if (m === 'gc') {
      global.gc()
      global.gc()
      process.send({ memory: process.memoryUsage(), cpu: process.cpuUsage(), stats: server.store.stats() })
    } else if (m === 'stats') {
      process.send({ stats: server.store.stats(), fds: fs.readdirSync('/proc/self/fd').length })
    } else if (m === 'close') {
      await server.close()
      process.exit(0)
    }
  })
  process.send({ url: server.url })
} else {
  const dist = path.resolve(arg('dist', path.join(path.dirname(HERE), '..', 'dist')))
  const n = Number(arg('streams', 100000))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-many-streams-'))
  const child = fork(HERE, ['--child', dist, dir, String(n)], { execArgv: ['--expose-gc'] })
  const next = async () => await new Promise((resolve) => child.once('message', resolve))
  const mb = (bytes) => Math.round(bytes / 2 ** 20)
  const status = () => Object.fromEntries(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8').split('\n')
    .filter((l) => /^Vm(RSS|HWM):/.test(l)).map((l) => [l.slice(0, 5), Math.round(parseInt(l.slice(6)) / 1024)]))
  let cpuBefore = 0
  async function report (label) {
    child.send('gc')
    const { memory, cpu, stats } = await next()
    const s = status()
    const cpuMs = (cpu.user + cpu.system) / 1000
    console.log(`${label}: VmRSS ${s.VmRSS} VmHWM ${s.VmHWM} MB; after gc rss ${mb(memory.rss)} heapUsed ${mb(memory.heapUsed)} external ${mb(memory.external)} MB; runs ${stats.runs}; CPU ${Math.round(cpuMs - cpuBefore)} ms`)
    cpuBefore = cpuMs
  }
  try {
    const { url } = await next()
    await report('started')
    const events = {}
    for (let i = 0; i < n; i++) events[`stream-${i}`] = [{ '@time': 17_000_000_000_000_000 + i, v: i }]
    const body = JSON.stringify({ events })
    const res = await fetch(`${url}/1.0/events/put`, { method: 'POST', body })
    await res.text()
    console.log(`put of ${n} streams, ${body.length} bytes: ${res.status}`)
    await report('answered')
    let fds = 0
    for (;;) {
      child.send('stats')
      const m = await next()
      fds = Math.max(fds, m.fds)
      if (m.stats.runs >= n && m.stats.frozenBytes === 0 && m.stats.memtableBytes === 0) break
      await sleep(250)
    }
    await report(`flushed (descriptors at most ${fds})`)
    await sleep(5000)
    await report('idle 5 s')
  } finally {
    child.send('close')
    await new Promise((resolve) => child.on('exit', resolve))
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
