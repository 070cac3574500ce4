/**
 * Replay writes runs as it goes (event-store.ts #flushReplayed): the log
 * files to replay can hold far more than a memtable (flushes that failed,
 * or a log that grew while rotations failed), and were all replayed into
 * one memtable, read a whole file at a time. Here a log of ~40 memtables
 * replays with the memtable never past its size and a put; every event
 * comes back, a delete in the middle of the log removes exactly what it
 * removed the first time (events put after it in its range stay), and a
 * start after a flush made mid-file replays only what followed it. And a
 * small log's events lie in memory of the log's size, not in Node's pool.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { EventStore } from '../../lib/events/store/event-store.js'
import { INDEX_FILE, runFileName, type RunIndex } from '../../lib/events/store/run-index.js'
import { EVERY_TIME, type StoredEvent } from '../../lib/events/store/stored-event.js'

const T0 = 17_000_000_000_000_000n

function event (time: bigint, i: number): StoredEvent {
  const id = randomBytes(16)
  id[8] = (id[8] | 0x80) & 0x8f
  return { time, id, body: Buffer.from(JSON.stringify({ '@time': String(time), i, pad: 'é'.repeat(120) })) }
}

async function stored (store: EventStore): Promise<string[]> {
  const out: string[] = []
  for await (const e of store.read('kronos', 's', EVERY_TIME)) out.push(`${e.time}:${e.id.toString('hex')}:${e.body.toString()}`)
  return out
}

t.test('a log of many memtables replays into runs as it goes, exactly, and a start after that replays from where it stopped', async (t) => {
  const source = t.testdir()
  // A memtable larger than everything: one log file, no flush (as when every flush failed).
  const first = await EventStore.open({ dir: path.join(source, 'a'), fsync: false, memtableSize: 256 * 1024 * 1024 })
  let i = 0
  for (let put = 0; put < 120; put++) {
    // Times spread over the whole run, so a delete's range takes events of many puts.
    const events = Array.from({ length: 40 }, () => event(T0 + BigInt((i * 7919) % 100_000), i++))
    await first.put('kronos', [{ stream: 's', events }])
    if (put === 60) await first.delete('kronos', 's', { from: T0 + 20_000n, to: T0 + 40_000n })
  }
  // One event more: the replay's last flush comes before it, so the restart below has a record to replay.
  await first.put('kronos', [{ stream: 's', events: [event(T0 + 30_000n, i++)] }])
  const expected = await stored(first)
  t.ok(expected.length < 120 * 40 && expected.length > 100 * 40, `${expected.length} of ${120 * 40 + 1} events left after the delete`)
  const logs = fs.readdirSync(path.join(source, 'a', 'wal'))
  t.equal(logs.length, 1, 'one log file')
  const logBytes = fs.statSync(path.join(source, 'a', 'wal', logs[0])).size
  // The data directory as a crash before any flush left it: the log only.
  const data = path.join(source, 'b')
  fs.mkdirSync(data)
  fs.cpSync(path.join(source, 'a', 'wal'), path.join(data, 'wal'), { recursive: true })
  await first.close()

  const memtableSize = 32 * 1024
  t.ok(logBytes > 30 * memtableSize, `a log of ${logBytes} bytes, ${Math.floor(logBytes / memtableSize)} memtables`)
  const store = await EventStore.open({ dir: data, fsync: false, memtableSize })
  const stats = store.stats()
  t.ok(stats.memtableBytes < memtableSize + 40 * 400, `after replay the memtable holds ${stats.memtableBytes} bytes`)
  t.ok(stats.flushes >= 20, `${stats.flushes} flushes during the replay`)
  t.same(await stored(store), expected, 'every event back, the delete applied as it was')
  const index = JSON.parse(fs.readFileSync(path.join(data, INDEX_FILE), 'utf8')) as RunIndex
  t.equal(index.walSeq, Number(logs[0].slice(0, 10)), 'the index names the log file the replay stopped in')
  t.ok((index.walOffset ?? 0) > 0 && (index.walOffset ?? 0) < logBytes, `and the byte it was flushed up to (${index.walOffset})`)

  // Killed now (a copy of the directory as it is): the next start replays the log from that byte on.
  const copy = path.join(source, 'c')
  fs.cpSync(data, copy, { recursive: true })
  await store.close()
  const again = await EventStore.open({ dir: copy, fsync: false, memtableSize })
  const replayed = again.stats().replay.records
  t.ok(replayed >= 1 && replayed < 10, `${replayed} log records replayed, of 122`)
  t.same(await stored(again), expected, 'the same events, none twice')
  await again.close()
})

t.test('restarts while run files cannot be written: each replay holds what the puts were held to (2.5 memtables and two puts), never more, and puts stay refused', async (t) => {
  const dir = t.testdir()
  const memtableSize = 8 * 1024
  // Every run file name the store will try is a directory: each flush fails (EISDIR), at open's replay too.
  const runs = path.join(dir, 'runs')
  for (let seq = 1; seq <= 200; seq++) fs.mkdirSync(path.join(runs, runFileName(seq, false)), { recursive: true })
  let i = 0
  const acked: string[] = []
  const putTen = async (store: EventStore): Promise<void> => {
    const events = Array.from({ length: 10 }, () => event(T0 + BigInt(i), i++))
    await store.put('kronos', [{ stream: 's', events }])
    acked.push(...events.map((e) => `${e.time}:${e.id.toString('hex')}:${e.body.toString()}`))
  }
  // A table is frozen, and puts wait for its flush, once past a size, so each of the two may pass it by a put
  // (its size: the first put's, into an empty store).
  let bound = 0
  let atClose = 0
  for (let start = 0; start < 4; start++) {
    const store = await EventStore.open({ dir, fsync: false, memtableSize })
    const held = (): number => store.stats().memtableBytes + store.stats().frozenBytes
    if (start === 0) {
      await putTen(store)
      bound = memtableSize * 2.5 + 2 * held()
    }
    t.ok(held() <= bound, `start ${start}: the replay holds ${held()} bytes (at most ${bound})`)
    let refused: unknown
    for (let n = 0; n < 40 && refused === undefined; n++) await putTen(store).catch((err: unknown) => { refused = err })
    t.match(refused, { code: 'SHOEBOX_THROTTLED' }, `start ${start}: puts are refused past the bound`)
    t.ok(held() <= bound, `start ${start}: ${held()} bytes held`)
    if (start > 0) t.ok(held() <= atClose, 'no more than the last start held')
    atClose = held()
    await store.close().catch(() => {})
  }
  fs.rmSync(runs, { recursive: true })
  const store = await EventStore.open({ dir, fsync: false, memtableSize })
  t.same((await stored(store)).sort(), acked.sort(), 'once runs can be written, every acknowledged event is there')
  await store.close()
})

t.test('a small log replayed: the memtable holds memory of the log\'s size, not a slice of Node\'s shared pool', async (t) => {
  // Before t.testdir(): tap removes the directory after the teardowns, and close() flushes into it.
  const opened: { store?: EventStore } = {}
  t.teardown(async () => { await opened.store?.close() })
  const source = t.testdir()
  const first = await EventStore.open({ dir: path.join(source, 'a'), fsync: false })
  await first.put('kronos', [{ stream: 's', events: [event(T0, 0), event(T0 + 1n, 1)] }])
  const [log] = fs.readdirSync(path.join(source, 'a', 'wal'))
  const logBytes = fs.statSync(path.join(source, 'a', 'wal', log)).size
  // A crash before any flush: the log only. Under half of Node's pool (4 KiB on Node 20), a chunk of
  // Buffer.allocUnsafe() was a slice of it, and the memtable kept the whole pool until its flush.
  t.ok(logBytes < Buffer.poolSize / 2, `a log of ${logBytes} bytes`)
  fs.mkdirSync(path.join(source, 'b'))
  fs.cpSync(path.join(source, 'a', 'wal'), path.join(source, 'b', 'wal'), { recursive: true })
  await first.close()
  const store = opened.store = await EventStore.open({ dir: path.join(source, 'b'), fsync: false })
  t.equal(store.stats().runs, 0, 'the events are in the memtable')
  const memory = new Set<ArrayBufferLike>()
  for await (const e of store.read('kronos', 's', EVERY_TIME)) memory.add(e.body.buffer)
  t.equal(memory.size, 1, 'both texts in the one chunk read')
  t.equal([...memory][0].byteLength, logBytes, 'the chunk read is the log, and only it')
})
