/**
 * Stalled gets and the server's memory (issue 10, "never a crash"): a real
 * `shoebox serve` (default memtable, 16 MiB) is given one stream of ~14 MiB
 * of events that stay in its memtable (no flush), then N clients each ask
 * for the whole stream and never read past the first chunk. Prints the
 * server's VmRSS (/proc/PID/status) before and after each step of gets.
 *
 *   node bench/stalled-gets.js [--dist=DIR] [--gets=N] [--step=K]
 *
 * --dist: the build to run (default this checkout's dist/; another checkout's
 * build for an A/B). --gets: how many stalled gets in all (default 200),
 * opened K at a time (default 50), RSS read after each step once the
 * server has started every get's answer.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
const DIST = path.resolve(arg('dist', path.join(HERE, '..', 'dist')))
const GETS = Number(arg('gets', 200))
const STEP = Number(arg('step', 50))
const PAD = 'x'.repeat(280)

function rssMiB (pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024
}

async function startServer (data) {
  const child = spawn(process.execPath, [path.join(DIST, 'cli', 'bin.js'), 'serve', '--data', data, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (b) => {
      out += b
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m !== null) resolve(m[1])
    })
    child.on('exit', (code) => { reject(new Error(`serve exited ${code}`)) })
  })
  return { child, port: Number(new URL(url).port) }
}

async function post (port, route, body) {
  const res = await fetch(`http://127.0.0.1:${port}${route}`, { method: 'POST', body })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`${route}: ${res.status} ${text}`)
  return text
}

/** A get that reads its first chunk, then never reads again; resolves once that chunk came. */
function stalledGet (port, body) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST /1.0/events/get HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    })
    socket.once('data', () => { socket.pause(); resolve(socket) })
    socket.once('error', reject)
  })
}

const data = fs.mkdtempSync(path.join(os.tmpdir(), 'stalled-gets-'))
const { child, port } = await startServer(data)
try {
  // ~14 MiB as the memtable counts it (text + 64 bytes per event): under the 16 MiB default, so no flush.
  let events = 0
  for (let batch = 0; batch < 10; batch++) {
    const list = Array.from({ length: 4000 }, (_, i) => `{"@time":${batch * 4000 + i},"pad":"${PAD}"}`)
    await post(port, '/1.0/events/put', `{"events":{"s":[${list.join(',')}]}}`)
    events += list.length
  }
  const runs = fs.readdirSync(path.join(data, 'runs')).length
  console.log(`dist ${DIST}; ${events} events in the memtable (run files: ${runs}); load ${os.loadavg()[0].toFixed(2)}`)
  console.log(`gets 0: server VmRSS ${rssMiB(child.pid).toFixed(0)} MiB`)
  const body = '{"stream":"s","end_time":100000}'
  const sockets = []
  for (let open = 0; open < GETS;) {
    const k = Math.min(STEP, GETS - open)
    sockets.push(...await Promise.all(Array.from({ length: k }, () => stalledGet(port, body))))
    open += k
    await new Promise((resolve) => setTimeout(resolve, 500))
    console.log(`gets ${open}: server VmRSS ${rssMiB(child.pid).toFixed(0)} MiB`)
  }
  for (const s of sockets) s.destroy()
} finally {
  child.kill('SIGKILL')
  fs.rmSync(data, { recursive: true, force: true })
}
