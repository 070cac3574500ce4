/**
 * A readonly server's view of a shared store (RemoteRuns) with many runs
 * (streams x days), in a directory store (file://, as `--store file://DIR`):
 * a get looks only at the runs of its stream, as the local store's does (it
 * looked at every run of every stream), and answers as the collector's own
 * store does; the view's run entries share the strings they repeat, as the
 * local index's do (~720 bytes of heap per run, ~490 now); a poll reads
 * again only the index objects that changed (a directory store's: another
 * inode, size, mtime or ctime, so a same-size republish in one mtime tick is
 * seen too). Nothing is timed: run entries
 * looked at and index objects read are counted, heap is measured after a
 * full collection.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import type { EventBackend } from '../../lib/events/store/event-backend.js'
import { EventStore } from '../../lib/events/store/event-store.js'
import { RemoteRuns } from '../../lib/events/store/remote-runs.js'
import { RunPublisher } from '../../lib/events/store/run-publisher.js'
import type { EventRange } from '../../lib/events/store/stored-event.js'
import { openStore } from '../../lib/store/open-store.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const DAY = 864_000_000_000n
const T0 = 17_000_000_000_000_000n / DAY * DAY

/** Collector c, publishing into file://<dir>/shared, given one event per stream and day (a run each), flushed; still open. */
async function collector (t: Test, dir: string, streams: number, days: number): Promise<{ store: EventStore, url: string }> {
  const url = pathToFileURL(path.join(dir, 'shared')).href
  const publisher = new RunPublisher(openStore(url), 'c', path.join(dir, 'data', 'runs'), { instance: 'i' })
  const store = await EventStore.open({ dir: path.join(dir, 'data'), fsync: false, publisher })
  for (let d = 0; d < days; d++) {
    await store.put('kronos', Array.from({ length: streams }, (_, s) => {
      const id = randomBytes(16)
      id[8] = (id[8] | 0x80) & 0x8f
      const time = T0 + BigInt(d) * DAY + BigInt(s)
      return { stream: `stream-${s}`, events: [{ time, id, body: Buffer.from(`{"@time":${time},"s":${s},"d":${d}}`) }] }
    }))
  }
  await store.flush()
  t.equal(store.stats().runs, streams * days, 'a run per stream and day')
  return { store, url }
}

async function texts (backend: EventBackend, stream: string, range: EventRange, descending = false, limit?: number): Promise<string[]> {
  const out: string[] = []
  for await (const e of backend.read('kronos', stream, range, { descending, limit })) out.push(`${e.time}:${e.id.toString('hex')}:${e.body.toString()}`)
  return out
}

async function lines (backend: EventBackend, stream: string, range: EventRange, descending = false): Promise<string[]> {
  const out: string[] = []
  for await (const batch of backend.readLines('kronos', stream, range, { descending })) for (const line of batch) out.push(line.toString())
  return out
}

t.test('a get looks at the runs of its stream alone, and answers as the collector\'s store', async (t) => {
  const dir = t.testdir()
  const { store, url } = await collector(t, dir, 40, 5)
  t.teardown(async () => { await store.close() })
  const reader = await RemoteRuns.open(openStore(url), 3_600_000)
  t.teardown(async () => { await reader.close() })

  const day = (d: bigint): EventRange => ({ from: T0 + d * DAY, to: T0 + (d + 1n) * DAY - 1n })
  const cases: Array<[string, EventRange]> = [
    ['stream-7', day(2n)],
    ['stream-0', day(0n)],
    ['stream-39', { from: T0 + DAY, to: T0 + 4n * DAY }],
    ['stream-12', { from: -(2n ** 62n), to: 2n ** 62n }]
  ]
  for (const [stream, range] of cases) {
    const before = reader.runsExamined
    const got = await texts(reader, stream, range)
    t.equal(reader.runsExamined - before, 5, `${stream}: the stream's 5 runs looked at, of 200`)
    t.ok(got.length > 0, `${stream}: events found`)
    t.same(got, await texts(store, stream, range), `${stream}: the collector's answer`)
    t.same(await texts(reader, stream, range, true), await texts(store, stream, range, true), 'descending')
    t.same(await texts(reader, stream, range, false, 1), await texts(store, stream, range, false, 1), 'limit 1')
    t.same(await lines(reader, stream, range), await lines(store, stream, range), 'the lines a get sends')
  }
  const before = reader.runsExamined
  t.same(await texts(reader, 'stream-40', cases[3][1]), [], 'a stream no collector has')
  t.same(await texts(reader, 'stream-7', { from: 1n, to: 0n }), [], 'an empty range')
  t.equal(reader.runsExamined - before, 0, 'no run looked at for either')
  t.equal(reader.streams('kronos').length, 40, 'every stream listed')
})

t.test('the view\'s run entries share their strings: under 600 bytes of heap a run (~720 before)', async (t) => {
  const dir = t.testdir()
  const streams = 100
  const days = 100
  const { store, url } = await collector(t, dir, streams, days)
  await store.close()
  gc()
  gc()
  const before = process.memoryUsage().heapUsed
  const reader = await RemoteRuns.open(openStore(url), 3_600_000)
  gc()
  gc()
  const perRun = (process.memoryUsage().heapUsed - before) / (streams * days)
  t.ok(perRun < 600, `${perRun.toFixed(0)} bytes of heap a run once the index is loaded`)
  const got = await texts(reader, 'stream-99', { from: T0 + 99n * DAY, to: T0 + 100n * DAY })
  t.equal(got.length, 1, 'and it answers')
  t.match(got[0], /"s":99,"d":99\}$/)
  await reader.close()
})

t.test('a poll reads again only the index objects that changed, and still says which are damaged', async (t) => {
  const dir = t.testdir()
  const { store, url } = await collector(t, dir, 3, 2)
  t.teardown(async () => { await store.close() })
  const reader = await RemoteRuns.open(openStore(url), 3_600_000)
  t.teardown(async () => { await reader.close() })
  t.equal(reader.indexReads, 1, 'the first read')
  await reader.refresh()
  await reader.refresh()
  t.equal(reader.indexReads, 1, 'nothing read again while nothing changed (2 before)')

  const time = T0 + 5n * DAY
  await store.put('kronos', [{ stream: 'late', events: [{ time, id: Buffer.from('0123456789abcdef8123456789abcdef', 'hex'), body: Buffer.from('{"late":1}') }] }])
  await store.flush()
  const all: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }
  t.same(await texts(reader, 'late', all), [], 'not seen before a poll')
  await reader.refresh()
  t.equal(reader.indexReads, 2, 'the published index read again')
  t.same((await texts(reader, 'late', all)).map((e) => e.split(':').slice(2).join(':')), ['{"late":1}'], 'and its new run served')
  t.ok(reader.streams('kronos').includes('late'))

  const shared = openStore(url)
  t.teardown(async () => { await shared.close() })
  await shared.put('index/x.json', Buffer.from('{"cut'))
  for (let i = 0; i < 2; i++) await t.rejects(reader.refresh(), { code: 'SHOEBOX_BAD_RECORD', message: /index\/x\.json is not the index of collector x: not JSON/ }, `poll ${i + 1}: the damaged object said`)
  t.equal(reader.indexReads, 3, 'read once')
  t.same((await texts(reader, 'late', all)).length, 1, 'the others still served')
})

t.test('a same-size republish whose mtime is the one before (a 1 s mtime filesystem, two writes in one tick) is seen at the next poll', async (t) => {
  const dir = t.testdir()
  const { store, url } = await collector(t, dir, 2, 1)
  t.teardown(async () => { await store.close() })
  const reader = await RemoteRuns.open(openStore(url), 3_600_000)
  t.teardown(async () => { await reader.close() })
  t.same(reader.streams('kronos').sort(), ['stream-0', 'stream-1'])
  const file = path.join(dir, 'shared', 'index', 'c.json')
  const before = fs.statSync(file)
  // The same index with a stream renamed to a name of the same length: the same size, other content.
  const text = fs.readFileSync(file, 'utf8')
  const renamed = text.replaceAll('"stream-1"', '"stream-Z"')
  t.not(renamed, text)
  const shared = openStore(url)
  t.teardown(async () => { await shared.close() })
  await shared.put('index/c.json', Buffer.from(renamed)) // renamed over the old, as a publish is written
  fs.utimesSync(file, before.atimeMs / 1000, before.mtimeMs / 1000)
  const after = fs.statSync(file)
  t.same([after.size, Math.floor(after.mtimeMs)], [before.size, Math.floor(before.mtimeMs)], 'size and mtime (ms) as before')
  await reader.refresh()
  t.equal(reader.indexReads, 2, 'read again')
  t.same(reader.streams('kronos').sort(), ['stream-0', 'stream-Z'], 'the new content served')
})
