/**
 * A scale-out collector's puts while the shared store answers every write
 * late (issue 10, item 6): a real S3-protocol server (s3-server.js) behind a
 * proxy that holds each PUT/POST/DELETE for DELAY ms, a collector
 * (serveEvents, mode collector) with a 64 KiB memtable, and PUTS puts of 100
 * events (~22 KB) one after another. Prints the total and the slowest put.
 *
 *   node bench/collector-slow-store.js [delayMs=2000] [puts=60] [distDir=dist]
 *
 * distDir picks the build (another worktree's dist/ for an A/B).
 */
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { startFauxS3 } from './s3-server.js'

const delay = Number(process.argv[2] ?? 2000)
const puts = Number(process.argv[3] ?? 60)
const dist = path.resolve(process.argv[4] ?? 'dist')
const { serveEvents } = await import(pathToFileURL(path.join(dist, 'events/server/serve-events.js')).href)

const s3 = await startFauxS3({ bucket: 'events' })
const proxy = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    setTimeout(() => {
      const up = http.request({ host: '127.0.0.1', port: s3.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode, answer.headers)
        answer.pipe(res)
      })
      up.end(Buffer.concat(chunks))
    }, req.method === 'GET' || req.method === 'HEAD' ? 0 : delay)
  })
})
await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve))
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-slow-store-'))
const collector = await serveEvents({
  data,
  port: 0,
  mode: 'collector',
  store: 's3://events/p',
  storeOptions: { endpoint: `http://127.0.0.1:${proxy.address().port}`, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test-secret' } },
  collectorId: 'a',
  memtableSize: '64KiB'
})
const body = JSON.stringify({ events: { s: Array.from({ length: 100 }, (_, i) => ({ '@time': 1000 + i, pad: 'x'.repeat(200) })) } })
let worst = 0
const started = Date.now()
for (let i = 0; i < puts; i++) {
  const t0 = Date.now()
  const answer = await fetch(`${collector.url}/1.0/events/put`, { method: 'POST', body })
  await answer.text()
  if (answer.status !== 200) throw new Error(`put answered ${answer.status}`)
  worst = Math.max(worst, Date.now() - t0)
}
console.log(JSON.stringify({ dist: process.argv[4] ?? 'dist', delayMs: delay, puts, totalMs: Date.now() - started, worstPutMs: worst }))
await collector.close()
proxy.close()
await s3.app.close()
fs.rmSync(data, { recursive: true, force: true })
