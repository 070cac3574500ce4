/**
 * Scale-out on a shared store (issue 10, item 6): two collectors take puts
 * and publish their runs and indexes to a real S3-protocol server on
 * loopback; a readonly server answers gets and stream listings from every
 * collector's runs, with ranged reads, once it polls again.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import type { EventStore } from '../../lib/events/store/event-store.js'
import { runObject, type PublishedIndex } from '../../lib/events/store/published-index.js'
import type { RemoteRuns } from '../../lib/events/store/remote-runs.js'
import { startFaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'
import { get, json, packsNamedByContent, post, put, sharedStore, spawnServe, start, storedObjects, streams } from './conformance-kit.js'

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
  const store = collector.store as EventStore
  for (let i = 0; i < 4; i++) {
    await put(t, collector.url, { s: [{ '@time': i }] })
    await store.flush()
  }
  t.ok(store.stats().compactions >= 1, 'four flushes into one bucket were merged')
  const published = JSON.parse(String(s3.object('p/index/c.json', 'events'))) as PublishedIndex
  t.same(storedObjects(s3), [...new Set(published.runs.map((r) => `p/${runObject('c', r).key}`))].sort(), 'only the objects of the live runs are left')
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

