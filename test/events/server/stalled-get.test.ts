/**
 * Gets whose clients stop reading (issue 10: "never a crash"). Many such
 * gets over a full memtable hold little of the server's heap: a get's
 * memtable slice makes events a block at a time as it is read, where
 * select() made every event of the range up front (~11 MiB a get; ~300 of
 * them took a server past its 4 GB heap).
 */
import net from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import type { EventStore } from '../../../lib/events/store/event-store.js'
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

/** 40,000 events of stream s (~12 MB of answer, more than loopback's socket buffers hold), ~14 MiB as the memtable counts them. */
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
