/**
 * What a store opened only to read (a `serve --mode readonly` on a read-only
 * mount) holds for the events that are only in its write-ahead log: heap
 * and external memory after gc() twice, against the log's size.
 *
 *   node bench/read-only-log-memory.js [--events=10000,100000,1000000] [--dist=DIR] [--writable]
 *
 * For each count N: a child writes N events (~120-byte texts, 10 streams,
 * puts of 1,000) into a fresh data directory through an EventStore whose
 * memtable never fills (fsync off) and exits without closing it: all N are
 * in the log only, as after a server killed with a large --memtable-size.
 * Then another child, under --expose-gc, opens it with EventStore.open({
 * readOnly: true }) (default memtable, 16 MiB) and reads one stream whole;
 * it prints its heap, external and RSS before and after. --writable opens it
 * as a writable store instead (the replay flushes runs as the memtable fills).
 * The given build (default this checkout's dist/).
 */
import { fork } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const HERE = fileURLToPath(import.meta.url)
const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
const dist = path.resolve(arg('dist', path.join(path.dirname(HERE), '..', 'dist')))
const load = async (file) => await import(pathToFileURL(path.join(dist, file)).href)
const T0 = 17_000_000_000_000_000n
const MB = (n) => (n / 1048576).toFixed(1)

if (process.argv[2] === '--write') {
  const [dir, n] = [process.argv[3], Number(process.argv[4])]
  const { EventStore } = await load('events/store/event-store.js')
  const store = await EventStore.open({ dir, fsync: false, memtableSize: 1024 * 1024 * 1024 * 1024 })
  const pad = 'x'.repeat(80)
  for (let done = 0; done < n;) {
    const batches = []
    for (let s = 0; s < 10 && done < n; s++) {
      const events = []
      for (let i = 0; i < 100 && done < n; i++, done++) {
        const id = Buffer.alloc(16)
        id.writeUInt32BE(done, 12)
        id[8] = 0x80
        const time = T0 + BigInt(done) * 10_000n
        events.push({ time, id, body: Buffer.from(`{"@time":${time},"n":${done},"p":"${pad}"}`) })
      }
      batches.push({ stream: `stream-${s}`, events })
    }
    await store.put('kronos', batches)
  }
  process.exit(0) // not closed: the events stay in the log only
} else if (process.argv[2] === '--open') {
  const [dir, writable] = [process.argv[3], process.argv[4] === 'writable']
  const { EventStore } = await load('events/store/event-store.js')
  const gcd = () => { global.gc(); global.gc(); return process.memoryUsage() }
  const before = gcd()
  const store = await EventStore.open({ dir, readOnly: !writable, fsync: false })
  const opened = gcd()
  let read = 0
  for await (const batch of store.readBatches('kronos', 'stream-3', { from: 0n, to: 2n ** 62n })) read += batch.length
  const after = gcd()
  process.send({ before, opened, after, read, runs: store.stats().runs })
  await store.close()
  process.exit(0)
} else {
  const counts = arg('events', '10000,100000,1000000').split(',').map(Number)
  const writable = process.argv.includes('--writable')
  const run = async (args, execArgv = []) => await new Promise((resolve, reject) => {
    const child = fork(HERE, args, { execArgv })
    let got
    child.on('message', (m) => { got = m })
    child.on('exit', (code) => { if (code === 0) resolve(got); else reject(new Error(`${args[0]} exited ${code}`)) })
  })
  console.log(`events   log MB   heap MB (opened, after a read)   external MB   rss MB   (${writable ? 'writable' : 'readOnly'} open, ${dist})`)
  for (const n of counts) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ro-log-'))
    try {
      await run(['--write', dir, String(n)])
      const wal = path.join(dir, 'wal')
      const logBytes = fs.readdirSync(wal).reduce((sum, f) => sum + fs.statSync(path.join(wal, f)).size, 0)
      const m = await run(['--open', dir, writable ? 'writable' : 'readonly'], ['--expose-gc'])
      const d = (k, at) => MB(m[at][k] - m.before[k])
      console.log(`${String(n).padStart(8)} ${MB(logBytes).padStart(8)} ${d('heapUsed', 'opened').padStart(10)} ${d('heapUsed', 'after').padStart(8)} ${d('external', 'opened').padStart(20)} ${MB(m.opened.rss).padStart(8)}   (read ${m.read}, runs ${m.runs})`)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}
