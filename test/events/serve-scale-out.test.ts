/**
 * Scale-out on a shared store (issue 10, item 6): two collectors take puts
 * and publish their runs and indexes to a real S3-protocol server on
 * loopback; a readonly server answers gets and stream listings from every
 * collector's runs, with ranged reads, once it polls again.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import type { EventStore } from '../../lib/events/store/event-store.js'
import { runObject, type PublishedIndex } from '../../lib/events/store/published-index.js'
import type { RemoteRuns } from '../../lib/events/store/remote-runs.js'
import type { EventServer } from '../../lib/events/serve.js'
import { seen, startFaultProxy } from '../fault-proxy.js'
import { startS3, type TestS3 } from '../s3-server.js'
import { eventually, get, json, packsNamedByContent, post, put, sharedStore, spawnServe, start, storedObjects, streams } from './conformance-kit.js'

t.test('two collectors and one reader share an S3 bucket', async (t) => {
  const { s3, shared } = await sharedStore(t, 'kronos-shared')
  const a = await start(t, { ...shared, mode: 'collector', collectorId: 'a' })
  const b = await start(t, { ...shared, mode: 'collector', collectorId: 'b' })
  await put(t, a.url, { s: [1, 3, 5].map((time) => ({ '@time': time, from: 'a' })), only_a: [{ '@time': 1 }] })
  await put(t, b.url, { s: [2, 4, 6].map((time) => ({ '@time': time, from: 'b' })) })
  const blocked = await post(a.url, '/1.0/events/get', { stream: 's', end_time: 10 })
  t.equal(blocked.status, 403, 'a collector takes no gets')
  await (a.store as EventStore).flush()
  await (b.store as EventStore).flush()
  t.ok(s3.keys('events').some((k) => k.startsWith('kronos-shared/packs/a/')), 'collector a uploaded its runs (small: in a pack)')
  t.ok(s3.keys('events').includes('kronos-shared/index/b.json'), 'collector b published its index')

  const reader = await start(t, { ...shared, mode: 'readonly', data: undefined, pollInterval: '1h' })
  t.same((await get(t, reader.url, 's', 0, 10)).map((e) => [e['@time'], e.from]), [[1, 'a'], [2, 'b'], [3, 'a'], [4, 'b'], [5, 'a'], [6, 'b']])
  t.same((await get(t, reader.url, 's', 2, 5, { order: 'descending' })).map((e) => e['@time']), [5, 4, 3, 2])
  t.same(await streams(reader.url), ['only_a', 's'])
  const schema = json(await post(reader.url, '/1.0/streams/infer_schema', { stream: 's' }))
  t.same((schema.schema as { properties: Record<string, unknown> }).properties.from, { type: 'string' })
  t.equal((await post(reader.url, '/1.0/events/put', { events: { s: [{}] } })).status, 403, 'a reader takes no puts')

  await put(t, b.url, { s: [{ '@time': 7, from: 'b' }] })
  await (b.store as EventStore).flush()
  t.same((await get(t, reader.url, 's', 7, 7)), [], 'not visible before the next poll')
  await (reader.store as RemoteRuns).refresh()
  t.same((await get(t, reader.url, 's', 7, 7)).map((e) => e.from), ['b'], 'visible after it')
})

/** Four puts into one bucket of collector c, each flushed (merged at least once); the keys of the objects its published index names, sorted. */
async function fourFlushesMerged (t: Test, collector: EventServer, s3: TestS3): Promise<string[]> {
  const store = collector.store as EventStore
  for (let i = 0; i < 4; i++) {
    await put(t, collector.url, { s: [{ '@time': i }] })
    await store.flush()
  }
  t.ok(store.stats().compactions >= 1, 'four flushes into one bucket were merged')
  const published = JSON.parse(String(s3.object('p/index/c.json', 'events'))) as PublishedIndex
  return [...new Set(published.runs.map((r) => `p/${runObject('c', r).key}`))].sort()
}

t.test('a collector removes the runs it replaced from the store once they are old enough', async (t) => {
  const s3 = await startS3({ bucket: 'events' })
  t.teardown(async () => { await s3.stop() })
  const collector = await start(t, {
    store: 's3://events/p',
    storeOptions: { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials },
    mode: 'collector',
    collectorId: 'c',
    sweepAfter: 0
  })
  const live = await fourFlushesMerged(t, collector, s3)
  t.same(storedObjects(s3), live, 'only the objects of the live runs are left')
})

t.test('a collector that takes no more events still removes the objects its last change replaced, once they are old enough', async (t) => {
  const { s3, shared } = await sharedStore(t)
  const collector = await start(t, { ...shared, mode: 'collector', collectorId: 'c', sweepAfter: '2s', flushInterval: '50ms' })
  const live = await fourFlushesMerged(t, collector, s3)
  const published = String(s3.object('p/index/c.json', 'events'))
  t.ok(storedObjects(s3).length > live.length, 'the replaced objects are still stored right after the last publish')
  t.ok(await eventually(() => storedObjects(s3).length === live.length, 15_000), 'then swept with no put, no flush, no publish')
  t.same(storedObjects(s3), live, 'only the objects of the live runs are left')
  t.equal(String(s3.object('p/index/c.json', 'events')), published, 'the index object is as published')
})

t.test('a collector killed while a pack over the part size uploads leaves no multipart upload open after its restart', async (t) => {
  const s3 = await startS3({ bucket: 'events' })
  t.teardown(async () => { await s3.stop() })
  // The pack's parts are held until the collector is killed: its multipart upload is open, noted in `.NAME.uploading`.
  const proxy = await startFaultProxy(s3.endpoint, [{ match: (r) => r.op === 'UploadPart' && r.url.includes('/packs/'), fault: { kind: 'latency', ms: 3_600_000 } }])
  t.teardown(async () => { await proxy.close() })
  const partHeld = seen(proxy, (r) => r.op === 'UploadPart' && r.url.includes('/packs/'))
  const data = t.testdir()
  const runs = path.join(data, 'runs')
  const args = ['--data', data, '--mode', 'collector', '--store', 's3://events/p', '--collector-id', 'c', '--memtable-size', '1KiB', '--flush-interval', '1h', '--sweep-after', '0']
  let collector = await spawnServe(args, { ...s3.env, SHOEBOX_S3_ENDPOINT: proxy.endpoint })
  // Three streams of ~3 MiB: three runs packed (each under 4 MiB) into one pack past the 8 MiB part size.
  const events = (n: number): Array<Record<string, unknown>> => Array.from({ length: n }, (_, i) => ({ '@time': i, pad: randomBytes(512).toString('hex') }))
  t.equal((await post(collector.url, '/1.0/events/put', { events: { a: events(3000), b: events(3000), c: events(3000) } })).status, 200, 'the put is durable (and starts a flush)')
  await partHeld
  const noted = fs.readdirSync(runs).filter((f) => f.endsWith('.pack.uploading'))
  t.equal(noted.length, 1, 'the pack\'s upload is noted')
  // Another run, flushed while the pack uploads: the restart packs four runs, another pack, so no upload of the old one aborts it.
  t.equal((await post(collector.url, '/1.0/events/put', { events: { d: events(1) } })).status, 200)
  t.ok(await eventually(() => (JSON.parse(fs.readFileSync(path.join(data, 'index.json'), 'utf8')) as { runs: unknown[] }).runs.length === 4), 'the fourth run is flushed')
  collector.child.kill('SIGKILL')
  t.equal((await collector.exited).signal, 'SIGKILL')
  t.equal(s3.openMultipartUploads('events'), 1, 'the killed collector left its pack\'s upload open')

  collector = await spawnServe(args, s3.env)
  t.teardown(async () => {
    collector.child.kill('SIGKILL')
    await collector.exited
  })
  t.equal(s3.openMultipartUploads('events'), 0, 'the restart aborted it')
  t.same(fs.readdirSync(runs).filter((f) => f.endsWith('.uploading')), [], 'and removed its note')
  const local = JSON.parse(fs.readFileSync(path.join(data, 'index.json'), 'utf8')) as { runs: Array<{ file: string }> }
  const published = JSON.parse(String(s3.object('p/index/c.json', 'events'))) as PublishedIndex
  t.same(published.runs.map((r) => r.file), local.runs.map((r) => r.file), 'the index object lists every run')
  for (const run of published.runs) t.ok(s3.keys('events').includes(`p/${runObject('c', run).key}`), `run ${run.file} is published`)
  t.notOk(noted.some((name) => s3.keys('events').includes(`p/packs/c/${name.slice(1, -'.uploading'.length)}`)), 'under another pack than the one killed')
  packsNamedByContent(t, s3)
})

// Killed with its pack's PUT refused (nothing of the publish reached the store), or its index's (the pack did, and no index names it).
for (const refusedPut of ['packs', 'index']) {
  t.test(`a collector killed between a run's fsync and its publish (its ${refusedPut} PUT refused) publishes the run after restart`, async (t) => {
    const s3 = await startS3({ bucket: 'events' })
    t.teardown(async () => { await s3.stop() })
    // The PUTs fail from the first put until the collector is killed: the flush wrote, fsynced and indexed the run first.
    let refuse = false
    let refusedOnce: () => void = () => {}
    const refused = new Promise<void>((resolve) => { refusedOnce = resolve })
    const proxy = await startFaultProxy(s3.endpoint, [{
      match: (r) => {
        if (!refuse || r.op !== 'PutObject' || !r.url.includes(`/${refusedPut}/`)) return false
        refusedOnce()
        return true
      },
      fault: { kind: 'status', status: 500, code: 'InternalError' }
    }])
    t.teardown(async () => { await proxy.close() })
    const data = t.testdir()
    const env = { ...s3.env, SHOEBOX_S3_ENDPOINT: proxy.endpoint }
    const args = ['--data', data, '--mode', 'collector', '--store', 's3://events/p', '--collector-id', 'c', '--memtable-size', '1KiB', '--flush-interval', '1h', '--sweep-after', '0']
    let collector = await spawnServe(args, env)
    // A collector publishes while it opens, before it listens: that index names no run.
    refuse = true
    const events = Array.from({ length: 20 }, (_, i) => ({ '@time': i, pad: 'x'.repeat(100) }))
    t.equal((await post(collector.url, '/1.0/events/put', { events: { s: events } })).status, 200, 'the put is durable (and starts a flush)')
    await refused
    collector.child.kill('SIGKILL')
    t.equal((await collector.exited).signal, 'SIGKILL')
    const published = (): PublishedIndex => JSON.parse(String(s3.object('p/index/c.json', 'events'))) as PublishedIndex
    t.same(published().runs, [], 'no index names a run')
    if (refusedPut === 'packs') t.same(storedObjects(s3), [], 'no run reached the store')
    else t.ok(storedObjects(s3).length > 0, 'a pack reached the store')
    t.ok(fs.readdirSync(path.join(data, 'runs')).some((f) => f.endsWith('.shoebox')), 'the run is on local disk')

    refuse = false
    collector = await spawnServe(args, env)
    t.teardown(async () => {
      collector.child.kill('SIGKILL')
      await collector.exited
    })
    const local = JSON.parse(fs.readFileSync(path.join(data, 'index.json'), 'utf8')) as { runs: Array<{ file: string }> }
    t.same(published().runs.map((r) => r.file), local.runs.map((r) => r.file), 'the index lists every run')
    for (const run of published().runs) {
      t.ok(s3.keys('events').includes(`p/${runObject('c', run).key}`), `run ${run.file} uploaded after the restart`)
      t.ok(fs.existsSync(path.join(data, 'runs', `.${run.file}.uploaded`)), 'by the sealed-file uploader (its marker)')
    }
    t.same(storedObjects(s3), [...new Set(published().runs.map((r) => `p/${runObject('c', r).key}`))].sort(), 'only the objects the index names are left (--sweep-after 0)')
    packsNamedByContent(t, s3)
    t.same(fs.readdirSync(path.join(data, 'runs')).filter((f) => f.endsWith('.pack') || f.endsWith('.tmp')), [], 'no pack file is left on local disk')
    const reader = await start(t, {
      store: 's3://events/p',
      storeOptions: { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials },
      mode: 'readonly',
      data: undefined,
      pollInterval: '1h',
      namespaces: ['kronos']
    })
    t.equal((await get(t, reader.url, 's', 0, 100)).length, 20, 'a reader gets every event')
  })
}

