/**
 * Scale-out on a shared store run as a careless or hostile operator would:
 * the store refusing while a collector publishes, then coming back; damaged
 * or foreign index objects under the prefix; two collectors given one id.
 * Real S3-protocol server on loopback, a fault proxy in front of it.
 */
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import type { EventStore } from '../../lib/events/store/event-store.js'
import type { RemoteRuns } from '../../lib/events/store/remote-runs.js'
import { serveEvents } from '../../lib/events/server/serve-events.js'
import { runObject, type PackPlace, type PublishedIndex } from '../../lib/events/store/published-index.js'
import { startFaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'
import { eventually, get, post, put, sharedStore, spawnServe, start, stderrOf, storedObjects, streams } from './conformance-kit.js'

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
    // One SDK try a request: the flush below waits for the publish to fail, through the uploader's own retries.
    storeOptions: { endpoint: proxy.endpoint, region: s3.region, credentials: s3.credentials, maxAttempts: 1 },
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
  const published = JSON.parse(String(s3.object('p/index/c.json', 'events'))) as PublishedIndex
  t.equal(published.runs.length, 1)
  t.ok(s3.keys('events').includes(`p/${runObject('c', published.runs[0]).key}`), 'with its run')
})

t.test('shoebox serve says on stderr when the shared store refuses a publish or a poll, naming it, without credentials', async (t) => {
  const s3 = await startS3({ bucket: 'events' })
  t.teardown(async () => { await s3.stop() })
  let refuse = false
  // The uploads refused outright (403: no SDK retries), so the collector gives up on its publish in seconds: with
  // 503s, the SDK's and the uploader's retries took ~30 s, past this test's wait on a loaded CI machine.
  const proxy = await startFaultProxy(s3.endpoint, [{
    match: (r) => refuse && r.op === 'PutObject',
    fault: { kind: 'status', status: 403, code: 'AccessDenied' }
  }, {
    match: (r) => refuse && r.op === 'ListObjectsV2',
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

t.test('index objects that are not a collector\'s index: a reader refuses to start naming them, a running one serves the rest and says so', async (t) => {
  const { s3, shared } = await sharedStore(t)
  const a = await start(t, { ...shared, mode: 'collector', collectorId: 'a' })
  const b = await start(t, { ...shared, mode: 'collector', collectorId: 'b' })
  await put(t, a.url, { s: [{ '@time': 1, from: 'a' }] })
  await put(t, b.url, { s: [{ '@time': 2, from: 'b' }] })
  await (a.store as EventStore).flush()
  await (b.store as EventStore).flush()
  const good = String(s3.object('p/index/a.json', 'events'))
  const index = JSON.parse(good) as PublishedIndex
  const pack = index.runs[0].pack as PackPlace
  const client = s3.client()
  const write = async (key: string, body: string): Promise<void> => { await client.send(new PutObjectCommand({ Bucket: 'events', Key: key, Body: body })) }
  const damaged: Array<[string, string, string, RegExp]> = [
    ['cut short', 'p/index/a.json', good.slice(0, good.length >> 1), /index\/a\.json is not the index of collector a: not JSON/],
    ['a foreign JSON file', 'p/index/notes.json', '{"hello": 1}', /index\/notes\.json is not the index of collector notes: it names collector undefined/],
    ['another collector\'s copy', 'p/index/z.json', good, /index\/z\.json .* it names collector "a"/],
    ['a run key outside the collector\'s runs', 'p/index/a.json', JSON.stringify({ ...index, runs: [{ ...index.runs[0], file: '../b/0000000001.shoebox' }] }), /run 0: file "\.\.\/b\/0000000001\.shoebox" is not a run file name/],
    ['a pack key outside the collector\'s packs', 'p/index/a.json', JSON.stringify({ ...index, runs: [{ ...index.runs[0], pack: { ...pack, file: '../../runs/b/0000000001.shoebox' } }] }), /run 0: pack "\.\.\/\.\.\/runs\/b\/0000000001\.shoebox" is not a pack name/],
    ['a negative pack offset', 'p/index/a.json', JSON.stringify({ ...index, runs: [{ ...index.runs[0], pack: { ...pack, offset: -1 } }] }), /run 0: pack offset -1 is not a byte offset/],
    ['a fractional pack offset', 'p/index/a.json', JSON.stringify({ ...index, runs: [{ ...index.runs[0], pack: { ...pack, offset: 1.5 } }] }), /run 0: pack offset 1\.5 is not a byte offset/],
    ['a pack that is not an object', 'p/index/a.json', JSON.stringify({ ...index, runs: [{ ...index.runs[0], pack: 'x.pack' }] }), /run 0: pack "x\.pack" is not a pack name/],
    ['a time that is not an integer', 'p/index/a.json', JSON.stringify({ ...index, runs: [{ ...index.runs[0], minTime: 'soon' }] }), /run 0: minTime is not an integer/],
    ['no runs', 'p/index/a.json', JSON.stringify({ collector: 'a', streams: {} }), /no list of runs/]
  ]
  for (const [what, key, body, message] of damaged) {
    await write(key, body)
    await t.rejects(serveEvents({ ...shared, mode: 'readonly', port: 0, pollInterval: '1h' }), { code: 'SHOEBOX_BAD_RECORD', message }, `${what}: the reader does not start`)
    if (key === 'p/index/a.json') await write(key, good)
    else await client.send(new DeleteObjectCommand({ Bucket: 'events', Key: key }))
  }

  const problems: Error[] = []
  const reader = await start(t, { ...shared, mode: 'readonly', data: undefined, pollInterval: '100ms', onBackgroundError: (err) => problems.push(err) })
  t.same((await get(t, reader.url, 's', 0, 10)).map((e) => e.from), ['a', 'b'])
  await write('p/index/a.json', '{"collector": "a", "ru')
  await put(t, b.url, { s: [{ '@time': 3, from: 'b' }] })
  await (b.store as EventStore).flush()
  t.ok(await eventually(() => problems.length > 0), 'the damage is told')
  t.match(problems[0], { code: 'SHOEBOX_BAD_RECORD', message: /s3:\/\/events\/p\/index\/a\.json is not the index of collector a: not JSON.*the version read before, if any, is served/ })
  t.ok(await eventually(() => (reader.store as RemoteRuns).streams('kronos').length > 0), 'the reader still lists the streams')
  t.ok(await eventually(async () => (await get(t, reader.url, 's', 3, 3)).length === 1), 'a poll after the damage took b\'s new run')
  t.same((await get(t, reader.url, 's', 0, 10)).map((e) => e.from), ['a', 'b', 'b'], "b's new event is served, and a's last good index still is")
})

t.test('two data directories under one collector id: one is refused, and it overwrites none of the other\'s runs or index', async (t) => {
  const { shared } = await sharedStore(t)
  const taken = { code: 'SHOEBOX_INVALID_OPTION', message: /collector id x is taken in s3:\/\/events\/p: index\/x\.json is published by another data directory .*nothing was uploaded/ }
  const first = await start(t, { ...shared, mode: 'collector', collectorId: 'x' })
  await t.rejects(start(t, { ...shared, mode: 'collector', collectorId: 'x' }), taken, 'a second directory (another host, a wiped disk) under the id is refused at start')
  await first.close()
  const again = await serveEvents({ ...shared, data: (first.store as EventStore).dir, port: 0, mode: 'collector', collectorId: 'x' })
  await again.close()
  t.pass("the owner's own restart is not")

  // Two started at once under a new id: both may pass the check at start; then the one that did not write the index last is refused at its next publish.
  const started = await Promise.allSettled(['a', 'b'].map(async () => await start(t, { ...shared, mode: 'collector', collectorId: 'y' })))
  const collectors = started.flatMap((r) => r.status === 'fulfilled' ? [r.value] : [])
  t.ok(collectors.length >= 1, `${collectors.length} of 2 started`)
  for (const [i, c] of collectors.entries()) {
    await put(t, c.url, { s: [1, 2, 3].map((time) => ({ '@time': time, from: i })) })
    await (c.store as EventStore).flush()
  }
  const refused = collectors.filter((c) => (c.store as EventStore).lastError !== undefined)
  t.equal(refused.length, collectors.length - 1, 'all but one are refused')
  for (const c of refused) t.match((c.store as EventStore).lastError, { ...taken, message: /collector id y is taken/ })
  const reader = await start(t, { ...shared, mode: 'readonly', data: undefined, pollInterval: '1h' })
  const from = (await get(t, reader.url, 's', 0, 10)).map((e) => e.from)
  t.equal(from.length, 3, 'every event of the one collector that publishes')
  t.equal(new Set(from).size, 1, 'and of that one only')
})

t.test('two collectors taking puts into one stream at the same times: a reader gets every acknowledged event once', async (t) => {
  const { shared } = await sharedStore(t)
  // Small memtables: many flushes and merges on both sides while the puts go on.
  const collectors = await Promise.all(['a', 'b'].map(async (id) => await start(t, { ...shared, mode: 'collector', collectorId: id, memtableSize: '2KiB' })))
  await Promise.all(collectors.map(async (c, who) => {
    for (let i = 0; i < 20; i++) {
      t.equal((await post(c.url, '/1.0/events/put', { events: { s: Array.from({ length: 10 }, (_, k) => ({ '@time': 1 + (k % 5), who, n: i * 10 + k })) } })).status, 200)
    }
  }))
  for (const c of collectors) await (c.store as EventStore).flush()
  t.ok(collectors.every((c) => (c.store as EventStore).stats().compactions > 0), 'both merged runs meanwhile')
  const reader = await start(t, { ...shared, mode: 'readonly', data: undefined, pollInterval: '1h' })
  const events = await get(t, reader.url, 's', 0, 10)
  t.equal(events.length, 400, 'every event of both')
  t.equal(new Set(events.map((e) => e['@id'])).size, 400, 'each once')
  t.same([0, 1].map((who) => events.filter((e) => e.who === who).length), [200, 200])

  // A shipper whose answer from a was lost sends the same events, ids kept, to b: still once.
  const resent = events.filter((e) => e.who === 0).slice(0, 5)
  const answer = await fetch(`${collectors[1].url}/1.0/events/put`, { method: 'POST', headers: { 'shoebox-keep-ids': '1' }, body: JSON.stringify({ events: { s: resent } }) })
  t.equal(answer.status, 200)
  await (collectors[1].store as EventStore).flush()
  await (reader.store as RemoteRuns).refresh()
  const again = await get(t, reader.url, 's', 0, 10)
  t.equal(again.length, 400, 'the copies in two collectors\' runs are one event each')
  t.same(again.map((e) => e['@id']), events.map((e) => e['@id']), 'in the same order')
})

t.test('a collector id that would not name keys of its own is refused before anything is opened', async (t) => {
  const data = t.testdir()
  for (const id of ['a/b', '', '..', '.', 'ü', 'a b', 'x'.repeat(201)]) {
    await t.rejects(serveEvents({ data, port: 0, mode: 'collector', store: 's3://events/p', collectorId: id }), { code: 'SHOEBOX_INVALID_OPTION', message: /collectorId/ }, JSON.stringify(id).slice(0, 20))
  }
})

t.test('retention on a collector: expired buckets leave its index, then the store; a reader that polled since serves without them', async (t) => {
  const { s3, shared } = await sharedStore(t)
  const collector = await start(t, { ...shared, mode: 'collector', collectorId: 'c', retention: '1d', sweepAfter: 0 })
  const store = collector.store as EventStore
  const day = 86_400_000
  const now = BigInt(Date.now()) * 10_000n
  // Kronos times (100 ns ticks) are past 2^53: sent as JSON numbers, rounded as any client's are.
  await put(t, collector.url, { s: [{ '@time': Number(now - 3n * BigInt(day) * 10_000n), age: 'old' }, { '@time': Number(now), age: 'new' }] })
  await store.flush()
  const reader = await start(t, { ...shared, mode: 'readonly', data: undefined, pollInterval: '1h' })
  t.same((await get(t, reader.url, 's', 0, String(now + 100n))).map((e) => e.age), ['new'], 'the old day was dropped by the flush already')
  // The old day's run, packed with the new day's or not, is in no object of its own.
  const live = (JSON.parse(String(s3.object('p/index/c.json', 'events'))) as PublishedIndex).runs.map((run) => `p/${runObject('c', run).key}`)
  t.same(storedObjects(s3), live, 'the store holds only the object of the new day\'s run (sweepAfter 0)')

  // Three days on, the new day expires too: by passes less than a day apart, a clock within the retention of the last
  // pass (a pass three days on at once would be held as a clock stepped ahead: retention-clock.ts).
  let dropped = 0
  for (const days of [0.75, 1.5, 2.25, 3]) dropped += await store.dropExpired(Date.now() + days * day)
  t.equal(dropped, 1)
  await store.flush()
  const published = JSON.parse(String(s3.object('p/index/c.json', 'events'))) as { runs: unknown[] }
  t.same(published.runs, [], 'the index lists no run')
  t.same(storedObjects(s3), [], 'no run or pack object is left')
  // Swept before the reader polled (sweepAfter shorter than its poll: docs/EVENT-STORE.md): an error naming the object, not a silent hole.
  const stale = await post(reader.url, '/1.0/events/get', { stream: 's', start_time: 0, end_time: String(now + 100n) })
  t.equal(stale.status, 500)
  t.match(stale.text, new RegExp(`s3://events/p: get ${live[0].slice('p/'.length)}: no such object`), 'the stale reader names the object it cannot find')
  await (reader.store as RemoteRuns).refresh()
  t.same(await get(t, reader.url, 's', 0, String(now + 100n)), [], 'the reader, polled again, serves none')
  t.same(await streams(reader.url), ['s'], 'the stream stays listed, as after a delete in Kronos')
})

t.test('a collector refuses to start on a bucket that does not exist or with refused credentials; one whose store is down starts, takes puts and says so', async (t) => {
  const s3 = await startS3({ bucket: 'events' })
  t.teardown(async () => { await s3.stop() })
  const storeOptions = { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials }
  await t.rejects(start(t, { store: 's3://no-such-bucket/p', storeOptions, mode: 'collector', collectorId: 'c' }), { code: 'SHOEBOX_NO_BUCKET', message: /s3:\/\/no-such-bucket\/p/ })

  // Credentials the store refuses (fauxqs takes any: a proxy answers 403 for it) stop the start too, naming the store, not the secret.
  const denying = await startFaultProxy(s3.endpoint, [{ match: () => true, fault: { kind: 'status', status: 403, code: 'AccessDenied' } }])
  t.teardown(async () => { await denying.close() })
  const denied = await start(t, { store: 's3://events/p', storeOptions: { ...storeOptions, endpoint: denying.endpoint }, mode: 'collector', collectorId: 'c' }).then(() => undefined, (err: Error) => err)
  t.match(denied, { code: 'SHOEBOX_DENIED', message: /s3:\/\/events\/p/ }, 'refused credentials stop the start')
  t.notMatch(denied?.message, s3.credentials.secretAccessKey, 'without the secret')

  const proxy = await startFaultProxy(s3.endpoint, [{ match: () => true, fault: { kind: 'status', status: 503, code: 'ServiceUnavailable' } }])
  t.teardown(async () => { await proxy.close() })
  const problems: Error[] = []
  const collector = await start(t, { store: 's3://events/p', storeOptions: { ...storeOptions, endpoint: proxy.endpoint }, mode: 'collector', collectorId: 'c', onBackgroundError: (err) => problems.push(err) })
  t.match(problems[0], { message: /s3:\/\/events\/p/ }, 'its first publish failed, and it said so')
  await put(t, collector.url, { s: [{ '@time': 1 }] })
})
