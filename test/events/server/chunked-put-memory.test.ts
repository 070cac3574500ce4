/**
 * What the memtable holds for a put that came in several chunks (chunked
 * encoding, or a body split over TCP segments): shoebox's shipper sends
 * ids to keep, so the stored texts are views of the request body, and the
 * memtable keeps the body's memory until its flush. A body joined with
 * Buffer.concat() was a slice of Node's shared pool (under 4 KiB on Node
 * 20, under 32 KiB on Node 24), and kept the whole pool (8 or 64 KiB)
 * alive with it: with a small get between puts (a dashboard polling), each
 * 300-byte put held ~8 KiB, none of which the memtable's size counted.
 * Array buffers after a full collection, per put, with a wide margin:
 * nothing is timed.
 */
import net from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { newEventId } from '../../../lib/events/event-id.js'
import { KEEP_IDS_HEADER } from '../../../lib/events/kept-event-ids.js'
import type { EventStore } from '../../../lib/events/store/event-store.js'
import { post, put, start } from '../conformance-kit.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function arrayBuffers (): number {
  gc()
  gc()
  return process.memoryUsage().arrayBuffers
}

const PUTS = 500
const TIME = 17_000_000_000_000_000n

/** A put with ids to keep, its body in two chunks of chunked encoding; resolves once answered 200. */
async function chunkedPut (port: number, body: string): Promise<void> {
  const half = body.length >> 1
  const chunk = (s: string): string => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST /1.0/events/put HTTP/1.1\r\nHost: x\r\n${KEEP_IDS_HEADER}: 1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        chunk(body.slice(0, half)) + chunk(body.slice(half)) + '0\r\n\r\n')
    })
    let answer = ''
    socket.on('data', (d: Buffer) => { answer += d.toString() })
    socket.on('close', () => { if (answer.startsWith('HTTP/1.1 200')) resolve(); else reject(new Error(`put answered ${JSON.stringify(answer)}`)) })
    socket.on('error', reject)
  })
}

t.test(`${PUTS} chunked puts of ~300 bytes, each followed by a small get: the memtable keeps about the bodies, not a shared pool each`, async (t) => {
  const server = await start(t, { fsync: false })
  await put(t, server.url, { watched: Array.from({ length: 10 }, (_, i) => ({ '@time': i, pad: 'y'.repeat(250) })) })
  const bodies = Array.from({ length: PUTS }, (_, i) => {
    const time = TIME + BigInt(i)
    return `{"events": {"s": [{"@time": ${time}, "@id": "${newEventId(time)}", "pad": "${'x'.repeat(200)}"}]}}`
  })
  const before = arrayBuffers()
  for (const body of bodies) {
    await chunkedPut(server.port, body)
    // Its ~2.7 KB answer is joined from the same pool, between two puts' bodies.
    const got = await post(server.url, '/1.0/events/get', '{"stream": "watched", "start_time": 0, "end_time": 100}')
    t.equal(got.status, 200)
  }
  const kept = (arrayBuffers() - before) / PUTS
  t.equal((server.store as EventStore).stats().runs, 0, 'every put is in the memtable')
  // Measured: ~350 bytes a put on Node 20, ~480 on Node 24.22 (its 307-byte body and its columns); ~8,230 and
  // ~6,990 when each body was a pool slice.
  t.ok(kept < 2000, `${kept.toFixed(0)} bytes of array buffers kept per put of ${bodies[0].length} bytes (bound 2000)`)
})
