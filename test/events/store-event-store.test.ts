/**
 * The event store on its own (no HTTP): order both ways over memtable and
 * runs, narrow reads open only the runs that can hold them, deletes, restart
 * from the log and the index, a torn log tail, retention.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { ShoeboxError } from '../../lib/errors.js'
import { EventStore } from '../../lib/events/store/event-store.js'
import { indexKey, runObject, type PublishedIndex } from '../../lib/events/store/published-index.js'
import { RunPublisher } from '../../lib/events/store/run-publisher.js'
import { FileStore } from '../../lib/store/file-store.js'
import type { PutOptions, PutResult } from '../../lib/store/store.js'
import { compareKeys, type EventRange, type StoredEvent } from '../../lib/events/store/stored-event.js'
import { escapeRegExp, mulberry32 } from '../helpers.js'
import { eventually } from './conformance-kit.js'
import { tempDir } from '../temp-dir.js'

function event (time: bigint, extra = ''): StoredEvent {
  const id = randomBytes(16)
  id[8] = (id[8] | 0x80) & 0x8f
  return { time, id, body: Buffer.from(`{"@time": ${time}, "x": "${extra}"}`) }
}

async function all (it: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  for await (const e of it) out.push(e)
  return out
}

/** Puts of ten events of 200 `fill` characters at increasing times; `put` holds every event put so far. */
function tenAtATime (store: EventStore, fill: string): { put: StoredEvent[], putTen: () => Promise<void> } {
  const put: StoredEvent[] = []
  let time = 17_000_000_000_000_000n
  const putTen = async (): Promise<void> => {
    const batch = Array.from({ length: 10 }, () => event(time++, fill.repeat(200)))
    put.push(...batch)
    await store.put('kronos', [{ stream: 's', events: batch }])
  }
  return { put, putTen }
}

const keys = (list: StoredEvent[]): string[] => list.map((e) => `${e.time}:${e.id.toString('hex')}`)
const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }

for (const gzip of [false, true]) {
  t.test(`events in any order come back in (time, id) order, both ways, across memtable and runs (gzip ${gzip})`, async (t) => {
    const dir = t.testdir()
    const store = await EventStore.open({ dir, memtableSize: 4096, bucketMs: 1, gzip })
    const rand = mulberry32(7)
    const events: StoredEvent[] = []
    for (let round = 0; round < 20; round++) {
      const batch = Array.from({ length: 25 }, () => event(BigInt(Math.floor(rand() * 50_000)) + 17_000_000_000_000_000n))
      events.push(...batch)
      await store.put('kronos', [{ stream: 's', events: batch }])
    }
    await store.flush()
    const late = [event(17_000_000_000_025_000n), event(17_000_000_000_000_000n)]
    events.push(...late)
    await store.put('kronos', [{ stream: 's', events: late }])
    t.ok(store.stats().runs > 4, 'several runs were written')
    const sorted = [...events].sort(compareKeys)
    t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted), 'ascending')
    t.same(keys(await all(store.read('kronos', 's', everything, { descending: true }))), keys([...sorted].reverse()), 'descending')
    t.same(keys(await all(store.read('kronos', 's', everything, { limit: 7 }))), keys(sorted.slice(0, 7)), 'limit')
    const lo = sorted[100].time
    const hi = sorted[300].time
    const inside = sorted.filter((e) => e.time >= lo && e.time <= hi)
    t.same(keys(await all(store.read('kronos', 's', { from: lo, to: hi }))), keys(inside), 'inclusive bounds')
    const after = sorted[150]
    t.same(keys(await all(store.read('kronos', 's', { from: 0n, to: hi, after }, { descending: true }))),
      keys(sorted.filter((e) => compareKeys(e, after) > 0 && e.time <= hi).reverse()), 'start_id is exclusive, in descending too')
    t.same(await all(store.read('kronos', 'other', everything)), [], 'another stream is empty')
    t.same(await all(store.read('ns2', 's', everything)), [], 'another namespace is empty')
    if (gzip) t.ok(fs.readdirSync(path.join(dir, 'runs')).every((f) => f.endsWith('.shoebox.gz')), 'compressed runs')
    await store.close()
  })
}

t.test('a narrow read opens only the runs whose range overlaps it', async (t) => {
  const dir = t.testdir()
  const store = await EventStore.open({ dir, bucketMs: 1000 })
  const second = 10_000_000n
  for (let i = 0n; i < 10n; i++) {
    await store.put('kronos', [{ stream: 's', events: [event(i * second), event(i * second + 5n)] }])
    await store.flush()
  }
  t.equal(store.stats().runs, 10)
  const before = store.stats().runFilesOpened
  const got = await all(store.read('kronos', 's', { from: 3n * second, to: 4n * second }))
  t.equal(got.length, 3, 'events at 3 s (two) and 4 s (one)')
  t.equal(store.stats().runFilesOpened - before, 2, 'two run files opened of ten')
  await store.close()
})

t.test('delete removes from runs and memtable; restart keeps it and replays the log', async (t) => {
  const dir = t.testdir()
  let store = await EventStore.open({ dir, bucketMs: 1 })
  const a = [1n, 2n, 3n, 4n].map((x) => event(x))
  await store.put('kronos', [{ stream: 's', events: a }])
  await store.flush()
  const b = [2n, 5n].map((x) => event(x))
  await store.put('kronos', [{ stream: 's', events: b }])
  t.equal(await store.delete('kronos', 's', { from: 2n, to: 3n }), 3, 'two from runs, one from the memtable')
  t.equal(await store.delete('kronos', 's', { from: 5n, to: 4n }), 0, 'start > end deletes nothing')
  const expect = keys([a[0], a[3], b[1]].sort(compareKeys))
  t.same(keys(await all(store.read('kronos', 's', everything))), expect)
  const late = event(3n)
  await store.put('kronos', [{ stream: 's', events: [late] }])
  // No close: a crash. The log holds the put, the delete and the later put.
  store = await EventStore.open({ dir, bucketMs: 1 })
  t.same(keys(await all(store.read('kronos', 's', everything))), keys([a[0], late, a[3], b[1]].sort(compareKeys)), 'after restart')
  t.same(store.streams('kronos'), ['s'])
  await store.close()
  store = await EventStore.open({ dir, bucketMs: 1 })
  t.same(keys(await all(store.read('kronos', 's', everything))), keys([a[0], late, a[3], b[1]].sort(compareKeys)), 'after a clean close')
  t.same(fs.readdirSync(path.join(dir, 'wal')).length, 1, 'the flushed log files are gone')
  await store.close()
})

t.test('open removes run files the index does not list, and keeps the uploader\'s markers', async (t) => {
  const dir = t.testdir()
  let store = await EventStore.open({ dir, bucketMs: 1 })
  await store.put('kronos', [{ stream: 's', events: [event(1n), event(2n)] }])
  await store.flush()
  await store.close()
  const runs = path.join(dir, 'runs')
  const [run] = fs.readdirSync(runs)
  // What a crash leaves: a run written but never indexed, its temporary file, and the uploader's markers.
  for (const name of ['999.shoebox', '.999.shoebox.1234.tmp', `.${run}.uploaded`, '.gone.shoebox.uploading']) fs.writeFileSync(path.join(runs, name), 'x')
  store = await EventStore.open({ dir, bucketMs: 1 })
  t.same(fs.readdirSync(runs).sort(), [`.${run}.uploaded`, '.gone.shoebox.uploading', run].sort(), 'strays removed, markers kept')
  t.equal((await all(store.read('kronos', 's', everything))).length, 2, 'the indexed run is read')
  await store.close()
})

t.test('a torn log tail is cut back to the last whole record', async (t) => {
  const dir = t.testdir()
  let store = await EventStore.open({ dir })
  const kept = [event(1n), event(2n)]
  await store.put('kronos', [{ stream: 's', events: kept }])
  await store.put('kronos', [{ stream: 's', events: [event(3n, 'y'.repeat(200))] }])
  const wal = path.join(dir, 'wal', fs.readdirSync(path.join(dir, 'wal'))[0])
  const size = fs.statSync(wal).size
  fs.truncateSync(wal, size - 100)
  store = await EventStore.open({ dir })
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(kept.sort(compareKeys)))
  t.ok(store.stats().replay.bytesDropped > 0, 'the torn bytes were reported')
  await store.close()
})

t.test('damage inside the log (not a torn tail) is said, naming the file and offset; the records around it are replayed', async (t) => {
  const dir = tempDir(t)
  let store = await EventStore.open({ dir })
  const first = [event(1n), event(2n)]
  await store.put('kronos', [{ stream: 's', events: first }])
  const wal = path.join(dir, 'wal', fs.readdirSync(path.join(dir, 'wal'))[0])
  const before = fs.statSync(wal).size
  await store.put('kronos', [{ stream: 's', events: [event(3n, 'y'.repeat(200))] }])
  const last = [event(4n)]
  await store.put('kronos', [{ stream: 's', events: last }])
  // No close: a crash, and then a byte of the second put's record flipped (a bad sector, a stray write).
  const bytes = fs.readFileSync(wal)
  bytes[before + 150] ^= 0xff
  fs.writeFileSync(wal, bytes)
  const errors: Error[] = []
  store = await EventStore.open({ dir, onError: (err) => { errors.push(err) } })
  t.teardown(async () => { await store.close() })
  t.same(keys(await all(store.read('kronos', 's', everything))), keys([...first, ...last].sort(compareKeys)), 'the puts before and after the damage')
  t.equal(errors.length, 1, 'said once')
  t.match(errors[0], { code: 'SHOEBOX_BAD_RECORD' })
  t.match(errors[0].message, new RegExp(`^write-ahead log ${escapeRegExp(wal)}: damaged at byte ${before}, \\d+ bytes skipped: the events logged there are lost; 2 records before and after it replayed$`))
})

t.test('a delete during a read is seen whole or not at all', async (t) => {
  const dir = t.testdir()
  const store = await EventStore.open({ dir, bucketMs: 1 })
  const events = Array.from({ length: 2000 }, (_, i) => event(BigInt(i % 20)))
  await store.put('kronos', [{ stream: 's', events: events.slice(0, 1000) }])
  await store.flush()
  await store.put('kronos', [{ stream: 's', events: events.slice(1000) }])
  const reader = store.read('kronos', 's', everything)
  const first = await reader.next()
  t.equal(await store.delete('kronos', 's', everything), 2000)
  const rest = await all(reader)
  t.equal(rest.length + (first.done === true ? 0 : 1), 2000, 'the reader that started before sees every event')
  t.same(await all(store.read('kronos', 's', everything)), [], 'a reader after sees none')
  await store.close()
  t.same(fs.readdirSync(path.join(dir, 'runs')), [], 'the deleted runs were removed once released')
})

t.test('retention drops whole expired buckets', async (t) => {
  const dir = t.testdir()
  const day = 86_400_000
  const now = Date.now()
  const store = await EventStore.open({ dir, bucketMs: day, retentionMs: 30 * day })
  const old = event(BigInt(now - 40 * day) * 10_000n)
  const fresh = event(BigInt(now - day) * 10_000n)
  await store.put('kronos', [{ stream: 's', events: [old, fresh] }])
  await store.flush()
  t.same(keys(await all(store.read('kronos', 's', everything))), keys([fresh]))
  await store.close()
})

t.test('many flushes into one bucket are compacted by size tier; order and restart hold', async (t) => {
  const dir = t.testdir()
  let store = await EventStore.open({ dir })
  const rand = mulberry32(3)
  const events: StoredEvent[] = []
  for (let i = 0; i < 40; i++) {
    const batch = Array.from({ length: 30 }, () => event(BigInt(Math.floor(rand() * 1e9))))
    events.push(...batch)
    await store.put('kronos', [{ stream: 's', events: batch }])
    await store.flush()
  }
  const stats = store.stats()
  t.ok(stats.compactions >= 10, `compacted (${stats.compactions} merges)`)
  t.ok(stats.runs < 8, `${stats.runs} runs left of 40 flushes`)
  const sorted = [...events].sort(compareKeys)
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted))
  t.same(keys(await all(store.read('kronos', 's', everything, { descending: true }))), keys([...sorted].reverse()))
  t.equal(fs.readdirSync(path.join(dir, 'runs')).length, stats.runs, 'merged runs were removed')
  store = await EventStore.open({ dir })
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted), 'after restart')
  await store.close()
})

t.test('group commit: concurrent puts share fsyncs, and each is answered after one', async (t) => {
  const dir = t.testdir()
  const store = await EventStore.open({ dir })
  const probe = await fs.promises.open(path.join(dir, 'index-probe'), 'w')
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }
  await probe.close()
  const original = proto.datasync
  let syncs = 0
  proto.datasync = async function (this: unknown) {
    await original.call(this)
    syncs++
  }
  t.teardown(() => { proto.datasync = original })
  const answeredAfter: number[] = []
  await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    await store.put('kronos', [{ stream: 's', events: [event(BigInt(i))] }])
    answeredAfter.push(syncs)
  }))
  t.ok(syncs >= 1 && syncs <= 5, `50 concurrent puts, ${syncs} fdatasyncs`)
  t.ok(answeredAfter.every((n) => n >= 1), 'no put was answered before an fsync')
  t.equal((await all(store.read('kronos', 's', everything))).length, 50)
  await store.close()
})

t.test('while a flush runs, puts go on into the new memtable up to 1.5 times its size, then wait for the flush', async (t) => {
  const dir = t.testdir()
  // The flush is held where it creates its run files (a slow disk, in effect), before its
  // index swap. (Not at a collector's publish: a flush no longer waits for that.)
  let gate: Promise<void> = Promise.resolve()
  let open = (): void => {}
  let held = false
  const openFile = fs.promises.open
  fs.promises.open = async (file, ...rest) => {
    if (String(file).includes(`${path.sep}runs${path.sep}`) && String(file).endsWith('.shoebox')) {
      held = true
      await gate
    }
    return await openFile(file, ...rest)
  }
  t.teardown(() => { fs.promises.open = openFile })
  const memtableSize = 16 * 1024
  const store = await EventStore.open({ dir: path.join(dir, 'data'), memtableSize })
  gate = new Promise((resolve) => { open = resolve })
  const { put, putTen: putOne } = tenAtATime(store, 'x')
  // The first flush is held at its run files: the new memtable fills past one, then 1.5 memtables' worth.
  // A put that waited for the flush would never be answered (it is held until open() below), and the file
  // would fail at tap's timeout; a 5 s bound on each put also failed one that was only slow (an fdatasync
  // on a busy disk).
  let puts = 0
  while (!held || store.stats().memtableBytes < memtableSize * 1.5) {
    await putOne()
    puts++
  }
  t.pass(`${puts} puts went on while the flush ran, up to ${store.stats().memtableBytes} bytes`)
  t.equal(store.stats().flushes, 0, 'the first flush was still running')
  let answered = false
  const waiting = putOne().then(() => { answered = true })
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(answered, false, 'past 1.5 memtables\' worth, a put waits for the flush')
  open()
  await waiting
  t.equal(answered, true, 'and is answered once the flush is done')
  t.ok(store.stats().memtableBytes <= memtableSize * 2.5, `at most 2.5 memtables' worth held (${store.stats().memtableBytes} bytes in the new one)`)
  const sorted = [...put].sort(compareKeys)
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted), 'every event readable, in order')
  await store.close()
  const reopened = await EventStore.open({ dir: path.join(dir, 'data'), memtableSize })
  t.same(keys(await all(reopened.read('kronos', 's', everything))), keys(sorted), 'and after a restart')
  await reopened.close()
})

t.test("a collector's publish held by the shared store holds no put: flushes go on, and the latest index is published after", async (t) => {
  const dir = t.testdir()
  // A real file store whose index upload waits for a gate (a slow or stuck S3).
  let gate: Promise<void> = Promise.resolve()
  let open = (): void => {}
  class GatedStore extends FileStore {
    override async put (key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<PutResult> {
      if (key === indexKey('c')) await gate
      return await super.put(key, body, options)
    }
  }
  const shared = path.join(dir, 'shared')
  const memtableSize = 16 * 1024
  const store = await EventStore.open({ dir: path.join(dir, 'data'), memtableSize, publisher: new RunPublisher(new GatedStore(shared), 'c', path.join(dir, 'data', 'runs'), { instance: 'i' }) })
  gate = new Promise((resolve) => { open = resolve })
  const { put, putTen } = tenAtATime(store, 'x')
  // Five memtables' worth: past the 2.5 a put would wait for, had the flushes waited for their publish. Such a
  // put would never be answered (the publish is held until open() below): the file would fail at tap's
  // timeout, not at a fixed bound, which a put only slow under load could trip.
  let puts = 0
  while (store.stats().flushes < 5) {
    await putTen()
    puts++
  }
  t.pass(`${puts} puts went on while the publish was held, through ${store.stats().flushes} flushes`)
  const published = (): PublishedIndex => JSON.parse(fs.readFileSync(path.join(shared, 'index', 'c.json'), 'utf8')) as PublishedIndex
  t.same(published().runs, [], 'the index object is still the one published at open')
  open()
  await store.flush()
  const local = JSON.parse(fs.readFileSync(path.join(dir, 'data', 'index.json'), 'utf8')) as { runs: Array<{ file: string }> }
  t.same(published().runs.map((r) => r.file), local.runs.map((r) => r.file), 'once the store answers, the index published is the latest')
  for (const run of published().runs) t.ok(fs.existsSync(path.join(shared, runObject('c', run).key)), `run ${run.file} uploaded`)
  t.equal((await all(store.read('kronos', 's', everything))).length, put.length, 'every event readable')
  await store.close()
})

/** The runs directory replaced by a file: writing a run fails (ENOTDIR) until it is a directory again. */
function blockRuns (runs: string): void {
  fs.rmSync(runs, { recursive: true })
  fs.writeFileSync(runs, 'not a directory')
}

t.test('a failed background flush keeps the events in the log; the next put after it flushes them', async (t) => {
  const dir = t.testdir()
  const memtableSize = 8 * 1024
  const store = await EventStore.open({ dir, memtableSize })
  const runs = path.join(dir, 'runs')
  // Writing a run fails (ENOTDIR).
  blockRuns(runs)
  const { put, putTen: putSome } = tenAtATime(store, 'z')
  while (store.lastError === undefined) await putSome()
  t.match(store.lastError.message, /runs/, `the failure names the runs directory: ${store.lastError.message}`)
  t.equal(store.stats().flushes, 0)
  const sorted = (): StoredEvent[] => [...put].sort(compareKeys)
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted()), 'every answered event readable from the memtables')
  fs.rmSync(runs)
  fs.mkdirSync(runs)
  while (store.stats().flushes === 0) await putSome()
  t.ok(store.stats().runs > 0, 'the next flush wrote runs')
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted()), 'and every event is readable')
  await store.close()
  const reopened = await EventStore.open({ dir, memtableSize })
  t.same(keys(await all(reopened.read('kronos', 's', everything))), keys(sorted()), 'after a restart too')
  await reopened.close()
})

t.test('while flushes fail, the events held stay within 2.5 memtables: a put past that is refused (SHOEBOX_THROTTLED, naming the flush\'s error), nothing acknowledged is lost, and puts are taken again once a flush succeeds', async (t) => {
  const dir = t.testdir()
  const memtableSize = 8 * 1024
  const store = await EventStore.open({ dir, memtableSize })
  const runs = path.join(dir, 'runs')
  // Every flush fails (ENOTDIR), the log still takes puts.
  blockRuns(runs)
  const { put, putTen } = tenAtATime(store, 'r')
  const held = (): number => store.stats().memtableBytes + store.stats().frozenBytes
  let refused: unknown
  let most = 0
  // Twenty memtables' worth: before the bound every put was taken, each flush that failed left its table in memory.
  for (let i = 0; i < 80 && refused === undefined; i++) {
    const before = put.length
    await putTen().catch((err: unknown) => { refused = err; put.splice(before) })
    most = Math.max(most, held())
  }
  t.ok(refused instanceof ShoeboxError, `a put is refused (${most} bytes held at most): ${String(refused)}`)
  const err = refused as ShoeboxError
  t.equal(err.code, 'SHOEBOX_THROTTLED', 'as backpressure: try again later')
  t.match(err.message, new RegExp(`event store ${escapeRegExp(dir)} cannot write its memtables as runs \\(.*${escapeRegExp(runs)}.*ENOTDIR.*this put is refused`), `the refusal names the store, the flush's error and its directory: ${err.message}`)
  // A put is let in while under the bound, so one put (ten events of ~260 bytes) may pass it.
  t.ok(most <= memtableSize * 2.5 + 4096, `at most 2.5 memtables held, and one put (${most} bytes)`)
  for (let i = 0; i < 3; i++) await t.rejects(putTen().finally(() => put.splice(-10)), { code: 'SHOEBOX_THROTTLED' }, 'puts stay refused while flushes fail')
  t.ok(held() <= most, 'and take no memory')
  const sorted = (): StoredEvent[] => [...put].sort(compareKeys)
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted()), 'every acknowledged event readable, no refused one')
  fs.rmSync(runs)
  fs.mkdirSync(runs)
  await putTen()
  t.ok(store.stats().flushes > 0 && store.stats().frozenBytes === 0, 'the put flushed the held tables first, and was taken')
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted()), 'every acknowledged event readable')
  await store.close()
  const reopened = await EventStore.open({ dir, memtableSize })
  t.same(keys(await all(reopened.read('kronos', 's', everything))), keys(sorted()), 'after a restart too')
  await reopened.close()
})

t.test("a collector's flush timer tries a failed flush again with no new put: once the disk has room, the held events reach runs and the published index", async (t) => {
  const dir = path.join(t.testdir(), 'data')
  const shared = path.join(path.dirname(dir), 'shared')
  const runs = path.join(dir, 'runs')
  const store = await EventStore.open({ dir, memtableSize: 1024 * 1024, flushIntervalMs: 20, publisher: new RunPublisher(new FileStore(shared), 'c', runs, { instance: 'i' }) })
  // Every flush fails (ENOTDIR) after its log rotation, which froze the memtable.
  blockRuns(runs)
  const { put, putTen } = tenAtATime(store, 'i')
  await putTen()
  const held = (): boolean => store.stats().frozenBytes > 0 && store.stats().memtableBytes === 0
  t.ok(await eventually(() => store.lastError !== undefined && held(), 10_000), `a tick's flush failed: ${String(store.lastError)}`)
  t.ok(held(), 'its events are held in a frozen table; the memtable is empty')
  fs.rmSync(runs)
  fs.mkdirSync(runs)
  // Before, a tick with an empty memtable did nothing: the frozen table stayed in memory (and the log) until the next put.
  t.ok(await eventually(() => store.stats().flushes > 0, 10_000), 'a tick flushed the held table, with no put')
  t.equal(store.stats().frozenBytes, 0, 'nothing held in memory')
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { runs: Array<{ file: string }> }
  t.ok(index.runs.length > 0 && index.runs.every((r) => fs.existsSync(path.join(runs, r.file))), 'the index names the runs written')
  const published = (): string[] => (JSON.parse(fs.readFileSync(path.join(shared, 'index', 'c.json'), 'utf8')) as { runs: Array<{ file: string }> }).runs.map((r) => r.file)
  t.ok(await eventually(() => published().length > 0, 10_000), 'and they are published')
  t.same(published(), index.runs.map((r) => r.file), 'the published index names the same runs')
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(put), 'every event readable, from the runs')
  await store.close()
})

/** A local store (8 KiB tables) whose runs directory cannot be made: events are put until a flush fails and its table is held. */
async function storeWithHeldFlush (t: Test, prefix: string): Promise<{ store: EventStore, runs: string, put: StoredEvent[] }> {
  const dir = t.testdir()
  const store = await EventStore.open({ dir, memtableSize: 8 * 1024 })
  const runs = path.join(dir, 'runs')
  blockRuns(runs)
  const { put, putTen } = tenAtATime(store, prefix)
  while (store.lastError === undefined) await putTen()
  t.ok(store.stats().frozenBytes > 0 && store.stats().flushes === 0, `a flush failed and its table is held: ${store.lastError.message}`)
  return { store, runs, put }
}

t.test('a local store (no flush interval) tries a failed flush again on its own: once the disk has room, the held tables are written with no new put', async (t) => {
  const { store, runs, put } = await storeWithHeldFlush(t, 'l')
  fs.rmSync(runs)
  fs.mkdirSync(runs)
  // Before, the held tables waited for the next put (serve --data: a client's), however long that took.
  t.ok(await eventually(() => store.stats().flushes > 0 && store.stats().frozenBytes === 0, 10_000), 'the held tables were flushed, with no put')
  t.ok(store.stats().runs > 0, 'as runs')
  t.same(keys(await all(store.read('kronos', 's', everything))), keys([...put].sort(compareKeys)), 'every event readable')

  await store.close()
})

t.test('a failed flush is tried again a second later on the monotonic clock: a wall clock stepped back (NTP, a resumed VM) after the failure holds no table', async (t) => {
  const { store, runs, put } = await storeWithHeldFlush(t, 'b')
  const wallNow = Date.now
  t.teardown(() => { Date.now = wallNow })
  Date.now = () => wallNow() - 3_600_000
  fs.rmSync(runs)
  fs.mkdirSync(runs)
  // The pause after the failure was counted on Date.now(): stepped back an hour, no attempt was due for an hour.
  t.ok(await eventually(() => store.stats().flushes > 0 && store.stats().frozenBytes === 0, 10_000), 'the held tables were flushed a second after the failure, the clock stepped back')
  Date.now = wallNow
  t.same(keys(await all(store.read('kronos', 's', everything))), keys([...put].sort(compareKeys)), 'every event readable')
  await store.close()
})

t.test('a local store closed while its flushes fail (the close\'s own flush fails too) tries no more after the close', async (t) => {
  const closedDir = t.testdir()
  const memtableSize = 8 * 1024
  const closing = await EventStore.open({ dir: closedDir, memtableSize })
  const closedRuns = path.join(closedDir, 'runs')
  blockRuns(closedRuns)
  const more = tenAtATime(closing, 'c')
  while (closing.lastError === undefined) await more.putTen()
  const failed = closing.stats().failedFlushes
  await t.rejects(closing.close(), /the last flush failed/)
  const afterClose = closing.stats().failedFlushes
  t.ok(afterClose > failed, 'the close tried the flush, and it failed')
  fs.rmSync(closedRuns)
  fs.mkdirSync(closedRuns)
  await new Promise((resolve) => setTimeout(resolve, 2500))
  t.equal(closing.stats().failedFlushes, afterClose, 'no attempt after the close')
  t.same(fs.readdirSync(closedRuns), [], 'nothing written after the close')
  const reopened = await EventStore.open({ dir: closedDir, memtableSize })
  t.same(keys(await all(reopened.read('kronos', 's', everything))), keys([...more.put].sort(compareKeys)), 'every event there after a restart (from the log)')
  await reopened.close()
})

t.test('while flushes fail, the puts refused past 2.5 memtables try the flush at most once a second between them, not once each; the first put after room is made is taken', async (t) => {
  const dir = t.testdir()
  const memtableSize = 8 * 1024
  const store = await EventStore.open({ dir, memtableSize })
  const runs = path.join(dir, 'runs')
  blockRuns(runs)
  const { put, putTen } = tenAtATime(store, 'a')
  let refused: unknown
  for (let i = 0; i < 80 && refused === undefined; i++) {
    const before = put.length
    await putTen().catch((err: unknown) => { refused = err; put.splice(before) })
  }
  t.match(refused, { code: 'SHOEBOX_THROTTLED' }, 'a put past 2.5 memtables is refused')
  // A client that ignores Retry-After: puts one after the other, and ten at once. Before, each
  // refused put tried the flush (on a full disk, writing until ENOSPC and removing its files).
  const attempts = store.stats().failedFlushes
  const began = Date.now()
  for (let i = 0; i < 3; i++) await t.rejects(putTen().finally(() => put.splice(-10)), { code: 'SHOEBOX_THROTTLED', message: /ENOTDIR.*this put is refused/ }, 'refused, naming the last failure')
  const atOnce = await Promise.allSettled(Array.from({ length: 10 }, async () => await putTen()))
  put.splice(-100)
  t.ok(atOnce.every((r) => r.status === 'rejected' && (r.reason as ShoeboxError).code === 'SHOEBOX_THROTTLED'), 'ten puts at once are refused')
  const elapsed = Date.now() - began
  const made = store.stats().failedFlushes - attempts
  // Attempts start at least 1 s after the last one failed: n of them take (n - 1) s at least, however slow the machine.
  t.ok(made >= 1 && made <= 1 + Math.floor(elapsed / 1000), `${made} flush attempts for 13 refused puts in ${elapsed} ms: at most one a second`)
  t.ok(store.stats().flushes === 0, 'no flush succeeded')
  fs.rmSync(runs)
  fs.mkdirSync(runs)
  await putTen()
  t.ok(store.stats().flushes > 0 && store.stats().frozenBytes === 0, 'the first put after room is made waited for the next attempt, which flushed the held tables, and was taken')
  const sorted = (): StoredEvent[] => [...put].sort(compareKeys)
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted()), 'every acknowledged event readable, no refused one')
  await store.close()
})

t.test('a log file that cannot be opened fails the flush, not the puts: they go on in the current log file, and the next put after it flushes them', async (t) => {
  const dir = t.testdir()
  const memtableSize = 8 * 1024
  const store = await EventStore.open({ dir, memtableSize })
  const wal = path.join(dir, 'wal')
  const current = Math.max(...fs.readdirSync(wal).map((name) => Number(/^(\d{10})\.shoebox$/.exec(name)?.[1] ?? -1)))
  // A directory where the next log file goes: its open fails (EISDIR), as an EMFILE would, before anything is written.
  const next = path.join(wal, `${String(current + 1).padStart(10, '0')}.shoebox`)
  fs.mkdirSync(next)
  const { put, putTen: putSome } = tenAtATime(store, 'w')
  while (store.lastError === undefined) await putSome()
  t.match(store.lastError.message, /cannot open event log .*0+\d\.shoebox/, `the failure names the log file: ${store.lastError.message}`)
  // Before the fix, every put from here on was refused (503) until a restart. (Until 2.5 memtables
  // are held: three puts of ten events stay under it.)
  for (let i = 0; i < 3; i++) await putSome()
  t.equal(store.stats().flushes, 0)
  const sorted = (): StoredEvent[] => [...put].sort(compareKeys)
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted()), 'every answered event readable')
  fs.rmdirSync(next)
  while (store.stats().flushes === 0) await putSome()
  t.ok(store.stats().runs > 0, 'the next flush wrote runs')
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(sorted()), 'and every event is readable')
  await store.close()
  const reopened = await EventStore.open({ dir, memtableSize })
  t.same(keys(await all(reopened.read('kronos', 's', everything))), keys(sorted()), 'after a restart too')
  await reopened.close()
})

t.test('a damaged run file fails the read naming the file and offset; the log is not touched', async (t) => {
  const dir = t.testdir()
  const store = await EventStore.open({ dir })
  await store.put('kronos', [{ stream: 's', events: Array.from({ length: 100 }, (_, i) => event(BigInt(i), 'é'.repeat(50))) }])
  await store.flush()
  const [run] = fs.readdirSync(path.join(dir, 'runs'))
  const file = path.join(dir, 'runs', run)
  const bytes = fs.readFileSync(file)
  bytes[Math.floor(bytes.length / 2)] ^= 0xff
  fs.writeFileSync(file, bytes)
  let error: unknown
  try {
    await all(store.read('kronos', 's', everything))
  } catch (err) {
    error = err
  }
  t.match(error, { code: /^SHOEBOX_BAD_/, message: new RegExp(`${run}.*at byte \\d+`) })
  await store.close()
})

t.test('memtableSize 0: every put is flushed, and puts, reads and close still end', async (t) => {
  // An empty memtable is >= 0 bytes: the flush used to schedule itself again for ever,
  // and every later put waited on it (`shoebox serve --memtable-size 0` hung).
  const dir = t.testdir()
  const store = await EventStore.open({ dir, memtableSize: 0, bucketMs: 1000 })
  const events = [1n, 2n, 3n].map((x) => event(x))
  for (const e of events) await store.put('kronos', [{ stream: 's', events: [e] }])
  t.same(keys(await all(store.read('kronos', 's', everything))), keys(events))
  await store.close()
  t.ok(fs.readdirSync(path.join(dir, 'runs')).some((n) => n.endsWith('.shoebox')), 'written out as run files')
})
