/**
 * A readonly server over a shared store of many runs (h-remoteruns31): its
 * heap once the collectors' indexes are loaded, and the CPU a get of one
 * stream over one day costs.
 *
 *   node bench/remote-runs.js make --store=DIR [--streams=S] [--days=D]
 *   node bench/remote-runs.js --store=DIR [--dist=DIR] [--gets=N] [--streams=S] [--days=D]
 *   node bench/remote-runs.js poll --store=DIR [--dist=DIR]
 *
 * make: one collector (EventStore publishing with RunPublisher, fsync off)
 * takes one event per stream and day, S streams (default 1000) x D days
 * (default 100), flushes (a run per stream and day) and publishes them into
 * the directory store file://DIR (packs and index/c.json; no S3 needed).
 * Then: the server alone in a child process (serveEvents() mode 'readonly'
 * over file://DIR under --expose-gc, the given build, default this
 * checkout's dist/); heap after gc() twice before and after it loads the
 * index, then N gets (default 300) over HTTP, each of a stream chosen in
 * turn over one day (one event), in 3 rounds; the child's CPU
 * (process.cpuUsage()) per get for each round.
 * poll: RemoteRuns over file://DIR in this process, then the CPU of each of
 * 5 refresh()es (what a poll does), nothing having changed.
 */
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const HERE = fileURLToPath(import.meta.url)
const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
const dist = path.resolve(arg('dist', path.join(path.dirname(HERE), '..', 'dist')))
const streams = Number(arg('streams', 1000))
const days = Number(arg('days', 100))
const DAY = 864_000_000_000n
const T0 = 17_000_000_000_000_000n / DAY * DAY
const load = async (file) => await import(pathToFileURL(path.join(dist, file)).href)

if (process.argv[2] === 'make') {
  const { EventStore } = await load('events/store/event-store.js')
  const { RunPublisher } = await load('events/store/run-publisher.js')
  const { openStore } = await load('store/open-store.js')
  const storeDir = path.resolve(arg('store'))
  fs.mkdirSync(storeDir, { recursive: true })
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-remote-runs-'))
  const publisher = new RunPublisher(openStore(pathToFileURL(storeDir).href), 'c', path.join(data, 'runs'), { instance: 'i' })
  const store = await EventStore.open({ dir: data, fsync: false, publisher, memtableSize: 256 * 1024 * 1024 })
  for (let d = 0; d < days; d++) {
    const batches = []
    for (let s = 0; s < streams; s++) {
      const id = randomBytes(16)
      id[8] = (id[8] | 0x80) & 0x8f
      const time = T0 + BigInt(d) * DAY + BigInt(s)
      batches.push({ stream: `stream-${s}`, events: [{ time, id, body: Buffer.from(`{"@time":${time},"s":${s},"d":${d}}`) }] })
    }
    await store.put('kronos', batches)
  }
  await store.flush()
  await store.close()
  fs.rmSync(data, { recursive: true, force: true })
  console.log(`made ${store.stats().runs} runs (${streams} streams x ${days} days) in ${storeDir}`)
} else if (process.argv[2] === 'poll') {
  const { RemoteRuns } = await load('events/store/remote-runs.js')
  const { openStore } = await load('store/open-store.js')
  const reader = await RemoteRuns.open(openStore(pathToFileURL(path.resolve(arg('store'))).href), 3_600_000)
  const ms = []
  for (let i = 0; i < 5; i++) {
    const start = process.cpuUsage()
    await reader.refresh()
    const used = process.cpuUsage(start)
    ms.push(((used.user + used.system) / 1000).toFixed(0))
  }
  console.log(`${dist}: refresh CPU ms ${ms.join(' ')}`)
  await reader.close()
} else if (process.argv[2] === '--child') {
  const { serveEvents } = await load('events/index.js')
  const gcd = () => { global.gc(); global.gc(); return process.memoryUsage().heapUsed }
  const before = gcd()
  const server = await serveEvents({ mode: 'readonly', store: pathToFileURL(process.argv[3]).href, port: 0, pollInterval: '1h', namespaces: ['kronos'] })
  const loaded = gcd()
  process.on('message', async (m) => {
    if (m === 'cpu') process.send({ cpu: process.cpuUsage(), examined: server.store.runsExamined })
    else if (m === 'close') {
      await server.close()
      process.exit(0)
    }
  })
  process.send({ url: server.url, before, loaded })
} else {
  const storeDir = path.resolve(arg('store'))
  const gets = Number(arg('gets', 300))
  const child = fork(HERE, ['--child', storeDir, `--dist=${dist}`], { execArgv: ['--expose-gc'] })
  const next = async () => await new Promise((resolve) => child.once('message', resolve))
  const cpu = async () => { child.send('cpu'); const m = await next(); return { ms: (m.cpu.user + m.cpu.system) / 1000, examined: m.examined } }
  try {
    const { url, before, loaded } = await next()
    console.log(`${dist}: heap after gc ${(before / 2 ** 20).toFixed(1)} MB before the index, ${(loaded / 2 ** 20).toFixed(1)} MB loaded (+${((loaded - before) / 2 ** 20).toFixed(1)})`)
    let k = 0
    for (let round = 0; round < 3; round++) {
      const start = await cpu()
      for (let i = 0; i < gets; i++, k++) {
        const s = (k * 7919) % streams
        const d = BigInt((k * 31) % days)
        const from = T0 + d * DAY
        const res = await fetch(`${url}/1.0/events/get`, { method: 'POST', body: `{"stream":"stream-${s}","start_time":${from},"end_time":${from + DAY - 1n}}` })
        const lines = (await res.text()).trim().split('\n')
        if (res.status !== 200 || lines.length !== 1 || JSON.parse(lines[0]).s !== s) throw new Error(`get ${k}: ${res.status} ${lines.join(' | ').slice(0, 200)}`)
      }
      const end = await cpu()
      const examined = end.examined === undefined ? '' : `, ${((end.examined - start.examined) / gets).toFixed(0)} runs examined a get`
      console.log(`round ${round + 1}: ${((end.ms - start.ms) / gets).toFixed(3)} ms CPU a get (${gets} gets)${examined}`)
    }
  } finally {
    child.send('close')
    await new Promise((resolve) => child.on('exit', resolve))
  }
}
