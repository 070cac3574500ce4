/**
 * Gets whose clients stop reading (issue 10: "never a crash"). Many such
 * gets over a full memtable hold little of the server's heap: a get's
 * memtable slice makes events a block at a time as it is read, where
 * select() made every event of the range up front (~11 MiB a get; ~300 of
 * them took a server past its 4 GB heap). And a get whose client takes
 * nothing for `sendTimeout` is cut, releasing what it held; a slow reader
 * that keeps taking data is not.
 */
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import type { EventStore } from '../../../lib/events/store/event-store.js'
import { serveEvents } from '../../../lib/events/server/serve-events.js'
import { sent } from '../../../lib/events/server/send-timeout.js'
import { start, put } from '../conformance-kit.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** The heap in use after a full collection, in MiB. */
function heapMiB (): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed / 2 ** 20
}

const PAD = 'x'.repeat(280)
const GET_ALL = '{"stream":"s","end_time":100000}'

/** 40,000 events of stream s (~14 MB of answer, more than loopback's socket buffers hold), ~14 MiB as the memtable counts them. */
async function fill (t: Test, url: string): Promise<void> {
  for (let batch = 0; batch < 10; batch++) {
    await put(t, url, { s: Array.from({ length: 4000 }, (_, i) => ({ '@time': batch * 4000 + i, pad: PAD })) })
  }
}

/** A get of `body` that takes its first chunk and then reads no more; resolves once that chunk came. */
async function stalledGet (port: number, body: string): Promise<net.Socket> {
  return await new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST /1.0/events/get HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    })
    socket.once('data', () => { socket.pause(); resolve(socket) })
    socket.once('error', reject)
  })
}

t.test('20 gets of a full memtable that nobody reads hold a few MiB of heap, not one memtable of event objects each', async (t) => {
  const server = await start(t, { fsync: false })
  // Under the memtable's default 16 MiB: they stay there.
  await fill(t, server.url)
  t.equal((server.store as EventStore).stats().runs, 0, 'nothing was flushed: every get reads the memtable')
  const before = heapMiB()
  const sockets = await Promise.all(Array.from({ length: 20 }, async () => await stalledGet(server.port, GET_ALL)))
  t.teardown(() => { for (const s of sockets) s.destroy() })
  const growth = heapMiB() - before
  // Measured: ~1-2 MiB with slices; ~200 MiB when each get selected its events up front.
  t.ok(growth < 40, `20 stalled gets grew the heap by ${growth.toFixed(1)} MiB (bound 40)`)
})

t.test('a get whose client takes nothing for sendTimeout is cut, and lets go of the run files it held', async (t) => {
  // Long enough for the delete below (it rewrites the 14 MB run) to finish before the cut, on a busy machine too.
  const server = await start(t, { fsync: false, sendTimeout: '3s' })
  await fill(t, server.url)
  const store = server.store as EventStore
  await store.flush()
  const runsDir = path.join(store.dir, 'runs')
  const [run] = fs.readdirSync(runsDir)
  const socket = await stalledGet(server.port, GET_ALL)
  // The delete replaces the run; the stalled get still reads it, so the file stays.
  t.equal(await store.delete('kronos', 's', { from: 0n, to: 10n }), 11)
  t.ok(fs.existsSync(path.join(runsDir, run)), 'the run the get reads is kept while it reads')
  // Cut, the get lets go of the run, and the replaced file is removed (nothing the test could await).
  for (let i = 0; i < 2000 && fs.existsSync(path.join(runsDir, run)); i++) await sleep(10)
  t.notOk(fs.existsSync(path.join(runsDir, run)), 'the get let go of the run, and the replaced file is gone')
  // The client, reading again, gets what was sent before the cut, then the end of the connection: no last chunk.
  let received = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]) })
  const closed = new Promise((resolve) => { socket.on('close', resolve) })
  socket.resume()
  await closed
  const events = received.toString().split('"@time"').length - 1
  t.ok(events > 0 && events < 40000, `${events} of the 40000 events came before the cut`)
  t.notOk(received.subarray(-5).equals(Buffer.from('0\r\n\r\n')), 'the chunked body has no end: the client sees a broken answer')
})

t.test('a slow reader that keeps taking data is not cut, however long the whole get takes', async (t) => {
  const server = await start(t, { fsync: false, sendTimeout: '2s' })
  await fill(t, server.url)
  // ~256 KiB every 100 ms: the 14 MB take ~5 s, more than twice the timeout, each pause a twentieth of it.
  const lines = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${server.url}/1.0/events/get`, { method: 'POST' }, (res) => {
      void (async () => {
        let text = ''
        let since = 0
        for await (const chunk of res as AsyncIterable<Buffer>) {
          text += chunk.toString()
          since += chunk.length
          if (since >= 256 * 1024) {
            since = 0
            await sleep(100)
          }
        }
        resolve(text.split('\r\n').filter((l) => l !== '').length)
      })().catch(reject)
    })
    req.on('error', reject)
    req.end(GET_ALL)
  })
  t.equal(lines, 40000, 'every event came')
})

t.test('sent(): true once the client took the answer; false, and the connection cut, when it takes nothing', async (t) => {
  // A plain node:http server: one answer of 32 MiB in a single end(), more than the socket buffers take.
  const results: boolean[] = []
  const server = http.createServer((req, res) => {
    res.end(Buffer.alloc(32 * 2 ** 20, 0x61))
    // 2 s: the reading client below takes the 32 MiB in well under it, on a busy machine too.
    void sent(res, 'finish', 2000).then((ok) => { results.push(ok) })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const { port } = server.address() as net.AddressInfo
  const stalled = net.connect(port, '127.0.0.1', () => { stalled.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n') })
  stalled.once('data', () => { stalled.pause() })
  for (let i = 0; i < 2000 && results.length === 0; i++) await sleep(10)
  t.same(results, [false], 'cut')
  // A paused socket sees the end only once it reads again.
  const closed = new Promise((resolve) => { stalled.on('close', resolve) })
  stalled.resume()
  await closed
  const res = await fetch(`http://127.0.0.1:${port}/`)
  t.equal((await res.arrayBuffer()).byteLength, 32 * 2 ** 20)
  for (let i = 0; i < 100 && results.length < 2; i++) await sleep(10)
  t.same(results, [false, true], 'a reading client is not cut')
})

t.test('sendTimeout: a duration from 0 (never) to what a timer can wait', async (t) => {
  const data = t.testdir()
  for (const sendTimeout of ['soon', -1, '30d']) {
    await t.rejects(serveEvents({ data, port: 0, sendTimeout }), { code: 'SHOEBOX_INVALID_OPTION', message: /sendTimeout/ }, String(sendTimeout))
  }
  const server = await serveEvents({ data, port: 0, sendTimeout: 0 })
  await server.close()
})
