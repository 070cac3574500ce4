/**
 * Scale-out on a shared store run as a careless or hostile operator would:
 * the store refusing while a collector publishes, then coming back; damaged
 * or foreign index objects under the prefix; two collectors given one id.
 * Real S3-protocol server on loopback, a fault proxy in front of it.
 */
import t from 'tap'
import type { EventStore } from '../../lib/events/store/event-store.js'
import { startFaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'
import { post, put, spawnServe, start, type ServeProcess } from './conformance-kit.js'

/** What the child prints on stderr, as it prints it. */
function stderrOf (serve: ServeProcess): () => string {
  let text = ''
  serve.child.stderr?.on('data', (b: Buffer) => { text += b.toString() })
  return () => text
}

/** Wait until `done()` holds, checking every 50 ms; false after `ms`. */
async function eventually (done: () => boolean, ms = 30_000): Promise<boolean> {
  const until = Date.now() + ms
  while (!done()) {
    if (Date.now() > until) return false
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return true
}

t.test('runs flushed while the store refused are published once it answers again, with no new put', async (t) => {
  const s3 = await startS3({ bucket: 'events' })
  t.teardown(async () => { await s3.stop() })
  let refuse = true
  const proxy = await startFaultProxy(s3.endpoint, [{
    match: (r) => refuse && r.op === 'PutObject',
    fault: { kind: 'status', status: 503, code: 'SlowDown' }
  }])
  t.teardown(async () => { await proxy.close() })
  const collector = await start(t, {
    store: 's3://events/p',
    storeOptions: { endpoint: proxy.endpoint, region: s3.region, credentials: s3.credentials },
    mode: 'collector',
    collectorId: 'c',
    flushInterval: '100ms'
  })
  const store = collector.store as EventStore
  await put(t, collector.url, { s: [{ '@time': 1 }, { '@time': 2 }] })
  await store.flush()
  t.same(s3.keys('events'), [], 'nothing reached the store')
  t.match(store.lastError?.message, /not uploaded to s3:\/\/events\/p/, 'the failure names the store')

  refuse = false
  if (!t.ok(await eventually(() => s3.keys('events').includes('p/index/c.json')), 'the index is published on a flush tick')) return
  const published = JSON.parse(String(s3.object('p/index/c.json', 'events'))) as { runs: Array<{ file: string }> }
  t.equal(published.runs.length, 1)
  t.ok(s3.keys('events').includes(`p/runs/c/${published.runs[0].file}`), 'with its run')
})

t.test('shoebox serve says on stderr when the shared store refuses a publish or a poll, naming it, without credentials', async (t) => {
  const s3 = await startS3({ bucket: 'events' })
  t.teardown(async () => { await s3.stop() })
  let refuse = false
  const proxy = await startFaultProxy(s3.endpoint, [{
    match: (r) => refuse && (r.op === 'PutObject' || r.op === 'ListObjectsV2'),
    fault: { kind: 'status', status: 503, code: 'SlowDown' }
  }])
  t.teardown(async () => { await proxy.close() })
  const env = { ...s3.env, SHOEBOX_S3_ENDPOINT: proxy.endpoint }
  const collector = await spawnServe(['--data', t.testdir(), '--mode', 'collector', '--store', 's3://events/p', '--collector-id', 'c', '--flush-interval', '100ms'], env)
  const reader = await spawnServe(['--mode', 'readonly', '--store', 's3://events/p', '--poll-interval', '100ms'], env)
  t.teardown(async () => {
    for (const serve of [collector, reader]) serve.child.kill('SIGKILL')
    await Promise.all([collector.exited, reader.exited])
  })
  const collectorSaid = stderrOf(collector)
  const readerSaid = stderrOf(reader)
  refuse = true
  t.equal((await post(collector.url, '/1.0/events/put', { events: { s: [{ '@time': 1 }] } })).status, 200, 'the put is durable locally')
  t.ok(await eventually(() => /not uploaded to s3:\/\/events\/p/.test(collectorSaid())), 'the collector names the store it could not publish to')
  t.ok(await eventually(() => /cannot read the collectors' indexes in s3:\/\/events\/p; the previous view is kept/.test(readerSaid())), 'the reader says its poll failed and what it serves')
  for (const said of [collectorSaid(), readerSaid()]) {
    t.match(said, /^(shoebox serve: [^\n]+\n)+$/, `one line per failure: ${said.split('\n')[0]}`)
    t.notMatch(said, s3.credentials.secretAccessKey, 'no secret')
  }
})
