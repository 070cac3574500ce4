/**
 * A collector's publish packs the runs it uploads (run-pack.ts): one object
 * per publish, not one per run, through a real S3-protocol server on
 * loopback with a proxy in front that logs every request. A reader on
 * another "host" (RemoteRuns over the same bucket) answers from the packs
 * with ranged reads; index objects written before packs still read; a
 * publish cut between the pack and the index, then a restart; the sweep;
 * how runs past a pack's size limit are split.
 * The stores run with fsync off (a flush of 500 streams would fsync 500 run
 * files): nothing here is about the local disk's durability.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import t, { type Test } from 'tap'
import { EventStore } from '../../lib/events/store/event-store.js'
import type { EventBackend } from '../../lib/events/store/event-backend.js'
import { runObject, type PublishedIndex } from '../../lib/events/store/published-index.js'
import { RemoteRuns } from '../../lib/events/store/remote-runs.js'
import type { RunIndex } from '../../lib/events/store/run-index.js'
import type { RunInfo } from '../../lib/events/store/run-file.js'
import { planPacks } from '../../lib/events/store/run-pack.js'
import { RunPublisher } from '../../lib/events/store/run-publisher.js'
import type { EventRange, StoredEvent } from '../../lib/events/store/stored-event.js'
import { openStore } from '../../lib/store/open-store.js'
import { startFaultProxy, type FaultProxy } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'
import { packsNamedByContent, storedObjects } from './conformance-kit.js'

/**
 * The requests of a publish of new runs after the first: the GET of its own
 * index object (another data directory's is refused), the pack's PUT, the
 * uploader's HEAD verifying its size, the index object's PUT. Each run its
 * own object, 500 runs cost 1,002.
 */
// The index read back, the pack's key looked up (the uploader never puts over another file's object), the pack
// put and its size checked, the index put.
const PUBLISH_REQUESTS = ['GetObject', 'HeadObject', 'PutObject', 'HeadObject', 'PutObject']

const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }
const T0 = 17_000_000_000_000_000n

function event (time: bigint, text = ''): StoredEvent {
  const id = randomBytes(16)
  id[8] = (id[8] | 0x80) & 0x8f
  return { time, id, body: Buffer.from(`{"@time": ${time}, "x": "${text}"}`) }
}

async function texts (backend: EventBackend, stream: string, range = everything, descending = false): Promise<string[]> {
  const out: string[] = []
  for await (const e of backend.read('kronos', stream, range, { descending })) out.push(`${e.time}:${e.id.toString('hex')}:${e.body.toString()}`)
  return out
}

interface Bucket {
  s3: TestS3
  proxy: FaultProxy
  /** A Store over `s3://events/p` through the proxy (a new one each call: a store is closed by its user). */
  store: () => ReturnType<typeof openStore>
  /** The index object collector `c` published. */
  published: () => PublishedIndex
}

async function bucket (t: Test): Promise<Bucket> {
  const s3 = await startS3({ bucket: 'events' })
  t.teardown(async () => { await s3.stop() })
  const proxy = await startFaultProxy(s3.endpoint)
  t.teardown(async () => { await proxy.close() })
  return {
    s3,
    proxy,
    store: () => openStore('s3://events/p', { endpoint: proxy.endpoint, region: s3.region, credentials: s3.credentials }),
    published: () => JSON.parse(String(s3.object('p/index/c.json', 'events'))) as PublishedIndex
  }
}

/** Collector `c` on `dir` publishing into the bucket (instance `i`: a restart is the same data directory). */
async function collector (b: Bucket, dir: string, sweepAfterMs = 3_600_000): Promise<EventStore> {
  const publisher = new RunPublisher(b.store(), 'c', path.join(dir, 'runs'), { instance: 'i', sweepAfterMs })
  return await EventStore.open({ dir, fsync: false, publisher })
}

t.test('a publish of 500 one-event streams costs a constant number of requests, not one per run', async (t) => {
  const b = await bucket(t)
  const dir = t.testdir()
  const store = await collector(b, dir)
  t.teardown(async () => { await store.close() })
  await store.put('kronos', Array.from({ length: 500 }, (_, i) => ({ stream: `s${i}`, events: [event(T0 + BigInt(i))] })))
  const before = b.proxy.log.length
  await store.flush()
  t.equal(store.lastError, undefined, 'the publish succeeded')
  t.equal(store.stats().runs, 500, 'the flush wrote 500 run files')
  t.same(b.proxy.log.slice(before).map((r) => r.op), PUBLISH_REQUESTS, 'the publish made these requests only')
  const packs = b.s3.keys('events').filter((k) => k.startsWith('p/packs/c/'))
  t.equal(packs.length, 1, 'one pack object')
  t.same(b.s3.keys('events').filter((k) => k.startsWith('p/runs/')), [], 'no run object of its own')
  const published = b.published()
  t.equal(published.runs.length, 500, 'the index names every run')
  t.ok(published.runs.every((run) => run.pack !== undefined && `p/${runObject('c', run).key}` === packs[0]), 'each in the pack')
  const markers = fs.readdirSync(path.join(dir, 'runs')).filter((f) => f.endsWith('.uploaded'))
  t.equal(markers.length, 500, 'each run has its uploaded marker')
  t.same(fs.readdirSync(path.join(dir, 'runs')).filter((f) => f.endsWith('.pack') || f.endsWith('.tmp')), [], 'the pack file is removed once uploaded')
  packsNamedByContent(t, b.s3)
})

t.test('a reader on another host answers from packed runs and runs of their own as the collector does, fetching only the blocks it needs', async (t) => {
  const b = await bucket(t)
  const store = await collector(b, t.testdir())
  t.teardown(async () => { await store.close() })
  // 50 one-event streams; a stream of ~1 MiB (many blocks, still packed); one of ~5 MiB (past 4 MiB: its own object).
  await store.put('kronos', Array.from({ length: 50 }, (_, i) => ({ stream: `small${i}`, events: [event(T0 + BigInt(i), `e${i}`)] })))
  const fill = 'x'.repeat(400)
  await store.put('kronos', [{ stream: 'mid', events: Array.from({ length: 2500 }, (_, i) => event(T0 + BigInt(i), fill)) }])
  await store.put('kronos', [{ stream: 'big', events: Array.from({ length: 12_000 }, (_, i) => event(T0 + BigInt(i), fill)) }])
  await store.flush()
  t.equal(store.lastError, undefined, 'the publish succeeded')
  const published = b.published()
  const run = (stream: string): PublishedIndex['runs'][number] => published.runs.find((r) => r.stream === stream) as PublishedIndex['runs'][number]
  t.equal(run('big').pack, undefined, 'the 5 MiB run is its own object')
  t.ok(b.s3.keys('events').includes(`p/runs/c/${run('big').file}`))
  t.ok(run('mid').pack !== undefined && run('small7').pack !== undefined, 'the others are packed')
  t.equal(run('mid').pack?.file, run('small7').pack?.file, 'in one pack')

  const reader = await RemoteRuns.open(b.store(), 3_600_000)
  t.teardown(async () => { await reader.close() })
  for (const stream of ['small0', 'small7', 'small49', 'mid', 'big']) {
    t.same(await texts(reader, stream), await texts(store, stream), `${stream}: the same events, in order`)
    t.same(await texts(reader, stream, everything, true), await texts(store, stream, everything, true), `${stream}: descending too`)
  }

  // A narrow get of the packed multi-block run: ranged GETs of the pack, inside the run's bytes, far fewer than the run.
  const mid = run('mid')
  const { key, offset } = runObject('c', mid)
  t.ok(mid.blocks.length > 10, `the run has ${mid.blocks.length} blocks`)
  const before = b.proxy.log.length
  const narrow = { from: T0 + 1200n, to: T0 + 1210n }
  t.same(await texts(reader, 'mid', narrow), await texts(store, 'mid', narrow), 'a narrow get answers the same')
  const gets = b.proxy.log.slice(before).filter((r) => r.op === 'GetObject')
  t.ok(gets.length > 0 && gets.every((r) => r.url.includes(`/events/p/${key}`)), 'it reads the pack')
  const ranges = gets.map((r) => /^bytes=(\d+)-(\d+)$/.exec(String(r.headers.range))).map((m) => [Number(m?.[1]), Number(m?.[2]) + 1])
  t.ok(ranges.every(([start, end]) => start >= offset && end <= offset + mid.bytes), 'only within the run\'s bytes in the pack')
  const fetched = ranges.reduce((sum, [start, end]) => sum + end - start, 0)
  t.ok(fetched <= 256 * 1024 && fetched < mid.bytes / 2, `${fetched} of the run's ${mid.bytes} bytes fetched`)
})

t.test('an index object written before packs (each run its own object) is still read', async (t) => {
  const b = await bucket(t)
  // What a collector of before wrote: its run files as objects under runs/old/, its index naming them, no packs.
  const dir = t.testdir()
  const local = await EventStore.open({ dir, fsync: false })
  await local.put('kronos', [{ stream: 's', events: Array.from({ length: 30 }, (_, i) => event(T0 + BigInt(i), `old${i}`)) }, { stream: 'u', events: [event(T0, 'u')] }])
  await local.flush()
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as RunIndex
  const client = b.s3.client()
  for (const run of index.runs) {
    await client.send(new PutObjectCommand({ Bucket: 'events', Key: `p/runs/old/${run.file}`, Body: fs.readFileSync(path.join(dir, 'runs', run.file)) }))
  }
  const old = { collector: 'old', runs: index.runs, streams: index.streams }
  await client.send(new PutObjectCommand({ Bucket: 'events', Key: 'p/index/old.json', Body: JSON.stringify(old) }))

  const reader = await RemoteRuns.open(b.store(), 3_600_000)
  t.teardown(async () => { await reader.close() })
  t.same(await texts(reader, 's'), await texts(local, 's'), 'its events, in order')
  t.same(await texts(reader, 'u'), await texts(local, 'u'))
  t.same(reader.streams('kronos'), ['s', 'u'])
  await local.close()
})

/**
 * Collector `c` in `dir` puts 20 one-event streams and flushes; the index
 * object's PUT is refused, so the pack is uploaded and verified and no index
 * names it; then the collector stops (no memory of it is left).
 */
async function cutPublish (t: Test, b: Bucket, dir: string): Promise<{ pack: string, bytes: Buffer | undefined }> {
  const store = await collector(b, dir, 0)
  await store.put('kronos', Array.from({ length: 20 }, (_, i) => ({ stream: `s${i}`, events: [event(T0 + BigInt(i))] })))
  b.proxy.rules.push({ match: (r) => r.op === 'PutObject' && r.url.includes('/index/'), fault: { kind: 'status', status: 403, code: 'AccessDenied' } })
  await store.flush()
  t.match(store.lastError, { code: 'SHOEBOX_DENIED' }, 'the publish failed at the index')
  const packs = b.s3.keys('events').filter((k) => k.startsWith('p/packs/'))
  t.equal(packs.length, 1, 'the pack was uploaded')
  t.same(b.published().runs, [], 'the index published at open names no run')
  await store.close()
  b.proxy.rules.length = 0
  return { pack: packs[0], bytes: b.s3.object(packs[0], 'events') }
}

/** After the restart: the index names every local run, only the objects it names are left, a reader gets the events. */
async function publishedWhole (t: Test, b: Bucket, dir: string, store: EventStore, streams: string[]): Promise<void> {
  const local = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as RunIndex
  const published = b.published()
  t.same(published.runs.map((r) => r.file).sort(), local.runs.map((r) => r.file).sort(), 'the index names every run')
  t.same(storedObjects(b.s3), [...new Set(published.runs.map((r) => `p/${runObject('c', r).key}`))].sort(), 'only the objects the index names are in the store')
  packsNamedByContent(t, b.s3)
  const reader = await RemoteRuns.open(b.store(), 3_600_000)
  t.teardown(async () => { await reader.close() })
  for (const stream of streams) t.same(await texts(reader, stream), await texts(store, stream), `a reader gets ${stream}`)
}

t.test('a publish cut between its pack and its index: the restart packs the same runs into the same pack, same bytes, and names it', async (t) => {
  const b = await bucket(t)
  const dir = t.testdir()
  const cut = await cutPublish(t, b, dir)
  const store = await collector(b, dir, 0)
  t.teardown(async () => { await store.close() })
  t.equal(store.lastError, undefined, 'the publish at open succeeded')
  t.same(storedObjects(b.s3), [cut.pack], 'the pack of before, and no other')
  t.same(b.s3.object(cut.pack, 'events'), cut.bytes, 'with the same bytes')
  await publishedWhole(t, b, dir, store, ['s0', 's19'])
})

t.test('a publish cut between its pack and its index, then more runs before the publish: the pack never named is swept', async (t) => {
  const b = await bucket(t)
  const dir = t.testdir()
  const cut = await cutPublish(t, b, dir)
  // More runs before the next publish (written by a start without the shared store, as a replay's flush would be).
  const alone = await EventStore.open({ dir, fsync: false })
  await alone.put('kronos', [{ stream: 'late', events: [event(T0)] }])
  await alone.close()
  const store = await collector(b, dir, 0)
  t.teardown(async () => { await store.close() })
  t.equal(store.lastError, undefined, 'the publish at open succeeded')
  t.notOk(b.s3.keys('events').includes(cut.pack), 'the pack no index named is removed (sweepAfter 0)')
  await publishedWhole(t, b, dir, store, ['s0', 's19', 'late'])
})

t.test('a packed run whose marker cannot be written is not published: the next publish packs it again, and every run the index names has its marker', async (t) => {
  const b = await bucket(t)
  const dir = t.testdir()
  // A directory where the first run's marker goes (the event store keeps what looks like a marker at open).
  const marker = path.join(dir, 'runs', '.0000000001.shoebox.uploaded')
  fs.mkdirSync(marker, { recursive: true })
  const store = await collector(b, dir, 0)
  t.teardown(async () => { await store.close() })
  await store.put('kronos', [{ stream: 'a', events: [event(T0)] }])
  await store.flush()
  t.match(store.lastError, { code: 'SHOEBOX_STORE_FAILED', message: /1 run file of collector c not uploaded .*the index object was not changed: cannot mark a packed run uploaded .*\.0000000001\.shoebox\.uploaded: is a directory \(EISDIR\); its pack packs\/c\/[0-9a-f]{32}\.pack is stored, and its runs are packed again by the next publish/ })
  t.same(b.published().runs, [], 'no index names the run')

  fs.rmdirSync(marker)
  await store.put('kronos', [{ stream: 'b', events: [event(T0)] }])
  await store.flush()
  const published = b.published()
  t.same(published.runs.map((r) => r.stream), ['a', 'b'], 'the next publish names both runs')
  for (const run of published.runs) t.ok(fs.statSync(path.join(dir, 'runs', `.${run.file}.uploaded`)).isFile(), `${run.file} has its marker`)
  t.same(storedObjects(b.s3), [...new Set(published.runs.map((r) => `p/${runObject('c', r).key}`))].sort(), 'the first pack, named by no index, is swept (sweepAfter 0)')
})

t.test('a pack leaves the store only once all its runs have been out of the index for sweepAfter', async (t) => {
  const b = await bucket(t)
  const dir = t.testdir()
  const swept = await collector(b, path.join(dir, 'c'), 0)
  t.teardown(async () => { await swept.close() })
  await swept.put('kronos', ['a', 'b'].map((stream) => ({ stream, events: [event(T0, stream)] })))
  await swept.flush()
  const pack = storedObjects(b.s3)
  t.equal(pack.length, 1, 'the two runs are in one pack')
  await swept.delete('kronos', 'a', everything)
  await swept.flush()
  t.same(b.published().runs.map((r) => r.stream), ['b'], 'a\'s run left the index')
  t.same(storedObjects(b.s3), pack, 'the pack stays: b\'s run is still in it')
  await swept.delete('kronos', 'b', everything)
  await swept.flush()
  t.same(b.published().runs, [], 'b\'s run left the index')
  t.same(storedObjects(b.s3), [], 'the pack is removed (sweepAfter 0)')

  // Another collector on the same bucket, with the default hour: its pack outlives its runs.
  const held = new RunPublisher(b.store(), 'h', path.join(dir, 'h', 'runs'), { instance: 'i' })
  const kept = await EventStore.open({ dir: path.join(dir, 'h'), fsync: false, publisher: held })
  t.teardown(async () => { await kept.close() })
  await kept.put('kronos', [{ stream: 'a', events: [event(T0)] }])
  await kept.flush()
  const packs = storedObjects(b.s3)
  t.equal(packs.length, 1)
  await kept.delete('kronos', 'a', everything)
  await kept.flush()
  t.same(storedObjects(b.s3), packs, 'kept for the hour after its last run left the index')
  // A wall clock stepped forward two hours (NTP, a resumed VM): the hour is counted on the monotonic clock. On
  // Date.now() the pack was deleted at once, under readers still reading it by the index they polled.
  const wallNow = Date.now
  t.teardown(() => { Date.now = wallNow })
  Date.now = () => wallNow() + 7_200_000
  await held.sweep()
  Date.now = wallNow
  t.same(storedObjects(b.s3), packs, 'a wall clock stepped forward two hours sweeps nothing early')
})

t.test('runs past a pack\'s size limit make more packs, in file-name order, whatever order the index lists them in', async (t) => {
  const run = (file: string, bytes: number): RunInfo => ({ file, bytes, ns: 'kronos', stream: file, bucket: '0', minTime: '0', maxTime: '0', firstId: '', lastId: '', count: 1, blocks: [[0, '0']] })
  const runs = [run('0000000004.shoebox', 90), run('0000000001.shoebox', 60), run('0000000003.shoebox', 20), run('0000000002.shoebox', 30)]
  const files = (packs: RunInfo[][]): string[][] => packs.map((pack) => pack.map((r) => r.file.slice(9, 10)))
  t.same(files(planPacks(runs, 100)), [['1', '2'], ['3'], ['4']], 'each pack as full as the next run allows')
  t.same(files(planPacks([...runs].reverse(), 100)), files(planPacks(runs, 100)), 'the same runs make the same packs')
  t.same(files(planPacks(runs, 200)), [['1', '2', '3', '4']], 'one pack when they fit')
  t.same(planPacks([], 100), [], 'no runs, no pack')
})
