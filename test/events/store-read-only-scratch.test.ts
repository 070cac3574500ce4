/**
 * A store opened only to read (a readonly server on a read-only mount) whose
 * write-ahead log holds more than a memtable: the replayed events past a
 * memtable's worth are written as sorted runs in a scratch directory and read
 * from there, so its memory does not grow with the log. They were all held in
 * memory, with the replay's chunks their texts point into: ~1.26 times the
 * log's bytes (184 MB for a log of 1M events). Memory is heap and external
 * after a full collection; nothing is timed.
 */
import fs from 'node:fs'
import path from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import { EventStore } from '../../lib/events/store/event-store.js'
import type { EventRange } from '../../lib/events/store/stored-event.js'
import { tempDir } from '../temp-dir.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }
const T0 = 17_000_000_000_000_000n
const PAD = 'x'.repeat(100)

/** Heap and external memory after full collections (a pause between them: freed buffers' memory is swept after a collection). */
async function held (): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

/**
 * A data directory whose log alone holds `n` events of streams s0..s3 (puts of 100): written by a store whose
 * memtable never fills, its log copied before that store closes (a server killed before its flush).
 */
async function logOnly (t: Test, n: number, then?: (store: EventStore) => Promise<void>): Promise<string> {
  const writer = tempDir(t)
  const store = await EventStore.open({ dir: writer, fsync: false, memtableSize: 1024 ** 4 })
  for (let done = 0; done < n;) {
    const events = []
    for (let i = 0; i < 100 && done < n; i++, done++) {
      const id = Buffer.alloc(16)
      id.writeUInt32BE(done, 12)
      id[8] = 0x80
      events.push({ time: T0 + BigInt(done) * 10_000n, id, body: Buffer.from(`{"n":${done},"p":"${PAD}"}`) })
    }
    await store.put('kronos', [{ stream: `s${Math.floor(done / 100) % 4}`, events }])
  }
  await then?.(store)
  const data = tempDir(t)
  fs.cpSync(path.join(writer, 'wal'), path.join(data, 'wal'), { recursive: true })
  await store.close()
  return data
}

async function numbers (store: EventStore, stream: string): Promise<number[]> {
  const out: number[] = []
  for await (const batch of store.readBatches('kronos', stream, everything)) for (const e of batch) out.push(JSON.parse(e.body.toString()).n)
  return out
}

function logBytes (data: string): number {
  const wal = path.join(data, 'wal')
  return fs.readdirSync(wal).reduce((sum, f) => sum + fs.statSync(path.join(wal, f)).size, 0)
}

t.test('memory does not grow with the log: twice the events hold about what once did; every event is read, in order, from the scratch runs', async (t) => {
  const N = 40_000
  const small = await logOnly(t, N)
  const large = await logOnly(t, 2 * N)
  t.ok(logBytes(small) > 5_000_000, `the smaller log is ${logBytes(small)} bytes, twenty memtables' worth`)
  const memtableSize = 256 * 1024
  // Both open at once: what each open added, measured with nothing freed in between.
  const grew: number[] = []
  const stores: EventStore[] = []
  const scratch = tempDir(t)
  for (const data of [small, large]) {
    const before = await held()
    const store = await EventStore.open({ dir: data, readOnly: true, memtableSize, scratchDir: scratch })
    grew.push(await held() - before)
    stores.push(store)
    t.ok(store.stats().runs > 4, `${store.stats().runs} scratch runs`)
    t.same(fs.readdirSync(data), ['wal'], 'nothing written in the data directory')
  }
  t.ok(grew[1] < grew[0] + 2_500_000, `held after the open: ${grew[0]} bytes for ${N} events, ${grew[1]} for ${2 * N} (held in memory: ~7.9 MB and ~15.7 MB)`)
  const ours = new RegExp(`^shoebox-read-only-[^~]+~${process.pid}(-\\d+-[0-9a-f]{8})?~[0-9a-f]{6}$`)
  t.match(fs.readdirSync(scratch), [ours, ours], 'a scratch directory each, named for this process: the second open left the first\'s')
  t.equal(fs.readdirSync(scratch).length, 2)
  for (const [i, store] of stores.entries()) {
    const s1 = await numbers(store, 's1')
    t.equal(s1.length, (i + 1) * N / 4)
    t.ok(s1.every((n, k) => k === 0 || n > s1[k - 1]), 'in time order across the runs and the memtable')
    await store.close()
  }
  t.same(fs.readdirSync(scratch), [], 'the scratch directories are removed at close')
})

t.test('a delete in the log after events written as scratch runs is applied to those runs', async (t) => {
  const data = await logOnly(t, 4000, async (store) => {
    t.equal(await store.delete('kronos', 's2', { from: T0 + 200n * 10_000n, to: T0 + 3000n * 10_000n }), 700)
  })
  const store = await EventStore.open({ dir: data, readOnly: true, memtableSize: 64 * 1024, scratchDir: tempDir(t) })
  t.teardown(async () => { await store.close() })
  t.ok(store.stats().runs > 0, 'the events before the delete are in scratch runs')
  const s2 = await numbers(store, 's2')
  t.same(s2.length, 1000 - 700)
  t.ok(s2.every((n) => n < 200 || n > 3000), 'none of the deleted range is answered')
  t.equal((await numbers(store, 's3')).length, 1000, 'another stream keeps all of its events')
})

t.test('a scratch directory that cannot be made: the log is held in memory as before, and that is said naming it', async (t) => {
  const data = await logOnly(t, 2000)
  const scratch = path.join(tempDir(t), 'missing')
  const errors: string[] = []
  const store = await EventStore.open({ dir: data, readOnly: true, memtableSize: 64 * 1024, scratchDir: scratch, onError: (err) => errors.push(err.message) })
  t.teardown(async () => { await store.close() })
  t.equal(errors.length, 1)
  t.match(errors[0], `cannot make a scratch directory in ${scratch}`)
  t.match(errors[0], `; event store ${data} is opened only to read: the rest of its write-ahead log is held in memory`)
  t.equal(store.stats().runs, 0)
  t.equal((await numbers(store, 's0')).length, 500)
})

t.test('an open refused (a delete in the log its runs do not show yet) leaves no scratch directory', async (t) => {
  const writer = tempDir(t)
  const store = await EventStore.open({ dir: writer, fsync: false, memtableSize: 1024 ** 4 })
  const event = (n: number): { time: bigint, id: Buffer, body: Buffer } => {
    const id = Buffer.alloc(16)
    id.writeUInt32BE(n, 12)
    id[8] = 0x80
    return { time: T0 + BigInt(n) * 10_000n, id, body: Buffer.from(`{"n":${n},"p":"${PAD}"}`) }
  }
  await store.put('kronos', [{ stream: 'r', events: [event(1), event(2)] }])
  await store.flush()
  // The runs and index of now, the log of after the delete: a server stopped between the delete's append and its index swap.
  const torn = tempDir(t)
  fs.cpSync(writer, torn, { recursive: true })
  for (let n = 0; n < 20; n++) await store.put('kronos', [{ stream: 's', events: Array.from({ length: 100 }, (_, i) => event(100 + n * 100 + i)) }])
  await store.delete('kronos', 'r', { from: T0, to: T0 + 10_000n })
  fs.rmSync(path.join(torn, 'wal'), { recursive: true })
  fs.cpSync(path.join(writer, 'wal'), path.join(torn, 'wal'), { recursive: true })
  await store.close()
  const scratch = tempDir(t)
  await t.rejects(EventStore.open({ dir: torn, readOnly: true, memtableSize: 64 * 1024, scratchDir: scratch }), { message: /a delete of stream r \(namespace kronos\) not yet applied to the run files/ })
  t.same(fs.readdirSync(scratch), [], 'the scratch runs written before the delete was met are removed')
})
