/**
 * What a store keeps in memory per stream once a put naming many streams is
 * flushed: the index's entry of each run, the stream's name, and the map a
 * get chooses runs by. It stays for as long as the store is open (run files
 * per stream and bucket are the layout), so it is held small: ~630 bytes of
 * heap per one-event stream, where it was ~1,000 (a block list sized for 17
 * blocks, one decimal time kept four times, a map key made per stream), and
 * ~580 once the index is read back, where it was ~800. Heap after a full
 * collection, with a margin of over 20% above what it is: nothing is timed.
 */
import { randomBytes } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { EventStore } from '../../lib/events/store/event-store.js'
import type { EventRange } from '../../lib/events/store/stored-event.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const STREAMS = 20_000
const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }

function heapUsed (): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** One put naming STREAMS streams of one event each (made here, so that nothing of them is held after). */
async function putMany (store: EventStore): Promise<void> {
  const batches = Array.from({ length: STREAMS }, (_, i) => {
    const id = randomBytes(16)
    id[8] = (id[8] | 0x80) & 0x8f
    return { stream: `stream-${i}`, events: [{ time: 17_000_000_000_000_000n + BigInt(i), id, body: Buffer.from(`{"@time":${i}}`) }] }
  })
  await store.put('kronos', batches)
}

async function count (store: EventStore, stream: string): Promise<number> {
  let n = 0
  for await (const batch of store.readBatches('kronos', stream, everything)) n += batch.length
  return n
}

t.test(`${STREAMS} one-event streams flushed and read from: under 800 bytes of heap kept per stream, 720 read back`, async (t) => {
  const dir = t.testdir()
  const before = heapUsed()
  let store: EventStore | undefined = await EventStore.open({ dir, fsync: false })
  await putMany(store)
  await store.flush()
  t.equal(store.stats().runs, STREAMS)
  t.equal(await count(store, 'stream-123'), 1, 'a get (which maps the runs by stream)')
  const kept = (heapUsed() - before) / STREAMS
  t.ok(kept < 800, `${kept.toFixed(0)} bytes of heap per stream after the flush and a get`)
  await store.close()
  store = undefined

  const closed = heapUsed()
  const again = await EventStore.open({ dir, fsync: false })
  t.equal(await count(again, 'stream-19999'), 1)
  const reopened = (heapUsed() - closed) / STREAMS
  t.ok(reopened < 720, `${reopened.toFixed(0)} bytes of heap per stream once opened again (the index read back)`)
  t.same(again.streams('kronos').length, STREAMS)
  await again.close()
})
