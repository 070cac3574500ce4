/**
 * A delete rewrites the runs it touches block by block (run-delete.ts), not
 * read whole: it keeps exactly the events outside the range whatever blocks
 * the range starts and ends in (plain and gzip runs), reads a run at most a
 * span of blocks at a time, leaves a run the range misses as it was, drops
 * a run it empties, fails without a trace when the run cannot be read to
 * its end, and a serve SIGKILLed in the middle of the rewrite opens with
 * the delete applied (it is in the log) and no stray run file.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { EventStore } from '../../lib/events/store/event-store.js'
import { deleteFromRun } from '../../lib/events/store/run-delete.js'
import { localReader, readBlockBytes, readRun, type BlockReader, type RunInfo } from '../../lib/events/store/run-file.js'
import { mergeRuns } from '../../lib/events/store/compaction.js'
import { INDEX_FILE, type RunIndex } from '../../lib/events/store/run-index.js'
import { writeRun } from '../../lib/events/store/run-writer.js'
import { compareKeys, EVERY_TIME, inRange, type EventRange, type StoredEvent } from '../../lib/events/store/stored-event.js'
import { post, spawnServe } from './conformance-kit.js'

const T0 = 17_000_000_000_000_000n

/** Two events per time, ten ticks apart (gaps a range can fall in), ~300-byte texts. */
function events (n: number, t0 = T0): StoredEvent[] {
  const out: StoredEvent[] = []
  for (let i = 0; i < n; i++) {
    const time = t0 + 10n * BigInt(Math.floor(i / 2))
    const id = randomBytes(16)
    id[8] = (id[8] | 0x80) & 0x8f
    out.push({ time, id, body: Buffer.from(JSON.stringify({ '@time': String(time), i, ü: 'é'.repeat(100 + (i % 37)) })) })
  }
  return out.sort(compareKeys)
}

const keys = (list: Iterable<StoredEvent>): string[] => [...list].map((e) => `${e.time}:${e.id.toString('hex')}:${e.body.toString()}`)

async function stored (store: EventStore): Promise<string[]> {
  const out: StoredEvent[] = []
  for await (const e of store.read('kronos', 's', EVERY_TIME)) out.push(e)
  return keys(out)
}

function indexOf (dir: string): RunIndex {
  return JSON.parse(fs.readFileSync(path.join(dir, INDEX_FILE), 'utf8')) as RunIndex
}

/** The runs directory's entries the index does not name. */
function unlisted (dir: string, index = indexOf(dir)): string[] {
  const listed = new Set(index.runs.map((r) => r.file))
  return fs.readdirSync(path.join(dir, 'runs')).filter((name) => !listed.has(name)).sort()
}

for (const gzip of [false, true]) {
  t.test(`a delete in a run of many blocks keeps exactly the events outside the range (gzip ${gzip})`, async (t) => {
    const dir = t.testdir()
    let store = await EventStore.open({ dir, fsync: false, gzip })
    let kept = events(3000)
    await store.put('kronos', [{ stream: 's', events: kept }])
    await store.flush()
    const [run] = indexOf(dir).runs
    t.ok(run.blocks.length >= 12, `one run of ${run.blocks.length} blocks`)
    const blockTime = (k: number): bigint => BigInt(run.blocks[k][1])
    const inBlock = (k: number, nth: number): StoredEvent => kept[kept.findIndex((e) => e.time >= blockTime(k)) + nth]
    const ranges: Array<[string, EventRange]> = [
      ['inside one block, both ends on events', { from: inBlock(2, 6).time, to: inBlock(2, 15).time }],
      ['across blocks', { from: inBlock(4, 40).time, to: inBlock(6, 40).time }],
      // Each time has two events: the pair at a block's first time may start in the block before.
      ['a block\'s first time', { from: blockTime(8), to: blockTime(8) }],
      ['after a key (start_id), up to a time in the next block', { from: 0n, after: inBlock(9, 21), to: inBlock(10, 11).time }],
      ['the first event\'s time', { from: kept[0].time, to: kept[0].time }],
      ['the last event\'s time', { from: kept[kept.length - 1].time, to: kept[kept.length - 1].time }]
    ]
    let file = run.file
    for (const [what, range] of ranges) {
      const expected = kept.filter((e) => !inRange(e, range))
      t.ok(expected.length < kept.length, `${what}: the range holds events`)
      t.equal(await store.delete('kronos', 's', range), kept.length - expected.length, `${what}: the count`)
      t.same(await stored(store), keys(expected), `${what}: exactly the events outside it are left`)
      const runs = indexOf(dir).runs
      t.equal(runs.length, 1, `${what}: still one run`)
      t.not(runs[0].file, file, `${what}: a new run file`)
      t.equal(runs[0].gzip === true, gzip, `${what}: compressed as the store says`)
      t.same(fs.readdirSync(path.join(dir, 'runs')), [runs[0].file], `${what}: the old run file is removed`)
      file = runs[0].file
      kept = expected
    }

    const writes = store.stats().indexWrites
    const gap: EventRange = { from: kept[100].time + 1n, to: kept[100].time + 9n }
    t.equal(await store.delete('kronos', 's', gap), 0, 'a range between events deletes nothing')
    t.equal(indexOf(dir).runs[0].file, file, 'and the run is not rewritten')
    t.equal(store.stats().indexWrites, writes, 'nor the index')

    await store.close()
    store = await EventStore.open({ dir, fsync: false, gzip })
    t.same(await stored(store), keys(kept), 'the same after a restart')
    t.equal(await store.delete('kronos', 's', { from: kept[0].time, to: kept[kept.length - 1].time }), kept.length, 'all of them')
    t.same(await stored(store), [])
    t.same(indexOf(dir).runs, [], 'the emptied run is dropped')
    t.same(fs.readdirSync(path.join(dir, 'runs')), [], 'and its file removed')
    await store.close()
  })
}

/** Opens the run's file and notes the size of every read. */
function countedReader (dir: string, run: RunInfo, reads: number[]): () => Promise<BlockReader> {
  const open = localReader(dir, run)
  return async () => {
    const reader = await open()
    return {
      name: reader.name,
      async read (start, end) {
        reads.push(end - start)
        return await reader.read(start, end)
      },
      close: async () => { await reader.close() }
    }
  }
}

t.test('the rewrite reads a run a span of blocks at a time, never whole', async (t) => {
  const dir = t.testdir()
  const all = events(16000)
  const run = await writeRun(dir, 'r.shoebox', 'kronos', 's', 0n, all, { gzip: false, fsync: false })
  t.ok(run.bytes > 4 * 1024 * 1024, `a run of ${run.bytes} bytes`)
  const range: EventRange = { from: all[8000].time, to: all[8003].time }
  const reads: number[] = []
  const after = await deleteFromRun(dir, run, range, 'new.shoebox', { gzip: false, fsync: false }, countedReader(dir, run, reads))
  t.equal(after.kind, 'rewritten')
  t.ok(Math.max(...reads) <= 256 * 1024, `the largest read is ${Math.max(...reads)} bytes`)
  t.ok(reads.reduce((a, b) => a + b, 0) >= run.bytes, 'and the reads cover the run')
  if (after.kind !== 'rewritten') return
  const out: StoredEvent[] = []
  for await (const batch of readRun(dir, after.run, EVERY_TIME, false)) out.push(...batch)
  t.same(keys(out), keys(all.filter((e) => !inRange(e, range))))
  t.equal(after.run.count, all.length - 4)
  // The blocks before the range are copied as they are: the same offsets, times and bytes.
  const cut = run.blocks.findIndex(([, time]) => BigInt(time) >= range.from) - 1
  t.ok(cut > 5, `the range starts in block ${cut}`)
  t.same(after.run.blocks.slice(0, cut), run.blocks.slice(0, cut), 'the blocks before it are where they were')
  t.same(fs.readFileSync(path.join(dir, 'new.shoebox')).subarray(0, run.blocks[cut][0]), fs.readFileSync(path.join(dir, 'r.shoebox')).subarray(0, run.blocks[cut][0]), 'byte for byte')
  t.ok(run.bytes - after.run.bytes > 0 && run.bytes - after.run.bytes < 2000, `the run is ${run.bytes - after.run.bytes} bytes shorter: four events`)

  // A store whose gzip option changed since the run was written rewrites every block in its own packing.
  const packed = await deleteFromRun(dir, run, range, 'gz.shoebox', { gzip: true, fsync: false })
  t.equal(packed.kind, 'rewritten')
  if (packed.kind !== 'rewritten') return
  t.equal(packed.run.gzip, true)
  const back: StoredEvent[] = []
  for await (const batch of readRun(dir, packed.run, EVERY_TIME, false)) back.push(...batch)
  t.same(keys(back), keys(out), 'a plain run rewritten as gzip holds the same events')

  const gapReads: number[] = []
  const gap = await deleteFromRun(dir, run, { from: all[100].time + 1n, to: all[100].time + 2n }, 'gap.shoebox', { gzip: false, fsync: false }, countedReader(dir, run, gapReads))
  t.equal(gap.kind, 'untouched', 'a range between events leaves the run')
  t.ok(gapReads.reduce((a, b) => a + b, 0) <= 512 * 1024, 'having read only the blocks that could hold it')
  t.notOk(fs.existsSync(path.join(dir, 'gap.shoebox')), 'and writes no file')

  const wholeReads: number[] = []
  const whole = await deleteFromRun(dir, run, { from: all[0].time, to: all[all.length - 1].time }, 'whole.shoebox', { gzip: false, fsync: false }, countedReader(dir, run, wholeReads))
  t.equal(whole.kind, 'empty', 'a range holding both ends empties the run')
  t.same(wholeReads, [], 'without reading it')
})

t.test('deletes that cut most of a block leave no small blocks: what they keep is packed with the next block', async (t) => {
  const dir = t.testdir()
  let kept = events(6000)
  let run = await writeRun(dir, 'r0.shoebox', 'kronos', 's', 0n, kept, { gzip: false, fsync: false })
  const blocksAtFirst = run.blocks.length
  t.ok(blocksAtFirst >= 20, `a run of ${blocksAtFirst} blocks`)
  const sizes = (r: RunInfo): number[] => r.blocks.map(([offset], k) => (k + 1 < r.blocks.length ? r.blocks[k + 1][0] : r.bytes) - offset)
  // Twelve deletes, each of all but the first few and last few events of one block (spread over the run).
  for (let n = 1; n <= 12; n++) {
    const k = Math.floor((n * (run.blocks.length - 2)) / 13)
    const range: EventRange = { from: BigInt(run.blocks[k][1]) + 30n, to: BigInt(run.blocks[k + 1][1]) - 60n }
    const expected = kept.filter((e) => !inRange(e, range))
    t.ok(kept.length - expected.length > 100, `delete ${n} takes ${kept.length - expected.length} events of block ${k}`)
    const after = await deleteFromRun(dir, run, range, `r${n}.shoebox`, { gzip: false, fsync: false })
    if (after.kind !== 'rewritten') throw new Error(`delete ${n}: ${after.kind}`)
    run = after.run
    kept = expected
  }
  const out: StoredEvent[] = []
  for await (const batch of readRun(dir, run, EVERY_TIME, false)) out.push(...batch)
  t.same(keys(out), keys(kept), 'exactly the events outside the ranges are left')
  t.equal(run.count, kept.length)
  const small = sizes(run).slice(0, -1).filter((size) => size < 32 * 1024)
  t.same(small, [], 'no block but the last is under half a block')
  t.ok(Math.max(...sizes(run)) <= 96 * 1024 + 1024, `none over one and a half (largest ${Math.max(...sizes(run))} bytes)`)
  t.ok(run.blocks.length <= Math.ceil(run.bytes / (32 * 1024)), `${run.blocks.length} blocks for ${run.bytes} bytes`)
})

t.test('a delete repacks the small blocks it meets, and a block joined again and again is cut in two past one and a half blocks (plain and gzip)', async (t) => {
  for (const gzip of [false, true]) {
    const dir = t.testdir()
    // A hundred disjoint runs of ~9 KB concatenated (as compaction does): one run of a hundred small blocks.
    const all = events(3000)
    const parts: RunInfo[] = []
    for (let k = 0; k < 100; k++) parts.push(await writeRun(dir, `p${k}.shoebox`, 'kronos', 's', 0n, all.slice(k * 30, k * 30 + 30), { gzip, fsync: false }))
    let run = await mergeRuns(dir, 'small.shoebox', parts, { gzip, fsync: false })
    t.equal(run.blocks.length, 100, `gzip ${gzip}: a hundred blocks`)
    let kept = all
    const range: EventRange = { from: all[1500].time, to: all[1500].time }
    let after = await deleteFromRun(dir, run, range, 'packed.shoebox', { gzip, fsync: false })
    if (after.kind !== 'rewritten') throw new Error(after.kind)
    kept = kept.filter((e) => !inRange(e, range))
    run = after.run
    t.ok(run.blocks.length <= 20, `gzip ${gzip}: repacked into ${run.blocks.length} blocks`)
    // Cut most of the block before the one the last cut joined, again and again: that block grows, then is split.
    const counts = [run.blocks.length]
    for (let n = 0; n < 14; n++) {
      // From the block before the last full one down: each cut joins the block the one before made.
      const k = 14 - n
      const first = kept.findIndex((e) => e.time >= BigInt(run.blocks[k][1]))
      const next = kept.findIndex((e) => e.time >= BigInt(run.blocks[k + 1][1]))
      const cut: EventRange = { from: kept[first + 4].time, to: kept[next - 6].time }
      after = await deleteFromRun(dir, run, cut, `again${n}.shoebox`, { gzip, fsync: false })
      if (after.kind !== 'rewritten') throw new Error(after.kind)
      kept = kept.filter((e) => !inRange(e, cut))
      run = after.run
      counts.push(run.blocks.length)
    }
    // A cut block joined to the next one takes a block away; joined and then cut in two, it does not.
    t.ok(counts.some((c, i) => i > 0 && c === counts[i - 1]), `gzip ${gzip}: the grown block was cut in two (blocks after each delete: ${counts.join(', ')})`)
    const out: StoredEvent[] = []
    for await (const batch of readRun(dir, run, EVERY_TIME, false)) out.push(...batch)
    t.same(keys(out), keys(kept), `gzip ${gzip}: exactly the events outside the ranges`)
    const sizes: number[] = []
    for await (const { bytes } of readBlockBytes(run, EVERY_TIME, false, localReader(dir, run))) sizes.push(bytes.length)
    // The writer sizes blocks by an estimate of their records' bytes: a full one holds sizes[0] (~70 KB here).
    t.ok(Math.max(...sizes) <= 1.5 * sizes[0] + 1024, `gzip ${gzip}: the largest block holds ${Math.max(...sizes)} bytes of records, a full one ${sizes[0]}`)
    t.same(sizes.slice(0, -1).filter((size) => size < 32 * 1024), [], `gzip ${gzip}: none but the last under half a block (${sizes.join(', ')})`)
  }
})

t.test('a delete whose run cannot be read to its end fails, naming the file, and changes nothing; a start replaying it opens, and says so', async (t) => {
  const dir = t.testdir()
  let store = await EventStore.open({ dir, fsync: false })
  const all = events(12000)
  await store.put('kronos', [{ stream: 's', events: all }])
  await store.close()
  const index = fs.readFileSync(path.join(dir, INDEX_FILE))
  const [run] = indexOf(dir).runs
  t.ok(run.bytes > 2 * 1024 * 1024, 'more than the writer holds before it writes (the new file exists when the read fails)')
  // Torn at its end: the rewrite has written most of the new run by then.
  fs.truncateSync(path.join(dir, 'runs', run.file), run.bytes - 10)
  store = await EventStore.open({ dir, fsync: false })
  const range: EventRange = { from: all[10].time, to: all[20].time }
  await t.rejects(store.delete('kronos', 's', range), { code: 'SHOEBOX_BAD_RECORD', message: new RegExp(`${run.file}: at byte \\d+: shorter than its index says`) })
  t.same(fs.readdirSync(path.join(dir, 'runs')), [run.file], 'the new run file is removed')
  t.same(fs.readFileSync(path.join(dir, INDEX_FILE)), index, 'the index is as it was')
  const front: StoredEvent[] = []
  for await (const e of store.read('kronos', 's', { from: all[0].time, to: all[100].time })) front.push(e)
  t.same(keys(front), keys(all.slice(0, 102)), 'the range\'s events are still read')
  await store.close()

  // The delete is in the log: a start replays it. That failed every start; now the damaged run keeps its events, and it is said.
  const told: Error[] = []
  store = await EventStore.open({ dir, fsync: false, onError: (err) => { told.push(err) } })
  t.equal(told.length, 1, 'the start is told once')
  t.match(told[0], { code: 'SHOEBOX_BAD_RECORD', message: new RegExp(`^replaying the delete of stream s \\(namespace kronos\\) from ${range.from} to ${range.to}: .*${run.file}: at byte \\d+: shorter than its index says.*; that run keeps its events in the range, the store opens without it$`) })
  t.equal(store.lastError, told[0])
  const again: StoredEvent[] = []
  for await (const e of store.read('kronos', 's', { from: all[0].time, to: all[100].time })) again.push(e)
  t.same(keys(again), keys(all.slice(0, 102)), 'what the run held is read as before')
  const later = events(10, T0 + 1_000_000n)
  await store.put('kronos', [{ stream: 's', events: later }])
  const back: StoredEvent[] = []
  for await (const e of store.read('kronos', 's', { from: later[0].time, to: later[9].time })) back.push(e)
  t.same(keys(back), keys(later), 'it takes puts')
  await store.close()
})

t.test('a serve SIGKILLed in the middle of a delete\'s rewrite opens with the delete done and no stray run file', async (t) => {
  const source = t.testdir()
  // A memtable larger than the events: one flush, one run.
  const store = await EventStore.open({ dir: source, fsync: false, memtableSize: 64 * 1024 * 1024 })
  // Small times: the HTTP delete gives them as JSON numbers.
  const all = events(60000, 1000n)
  await store.put('kronos', [{ stream: 's', events: all }])
  await store.close()
  const [run] = indexOf(source).runs
  const range: EventRange = { from: all[30000].time, to: all[30009].time }
  const expected = keys(all.filter((e) => !inRange(e, range)))
  let killedMidway = 0
  for (const delay of [0, 1, 3, 10]) {
    const data = path.join(source, '..', `copy-${delay}`)
    fs.cpSync(source, data, { recursive: true })
    const server = await spawnServe(['--data', data])
    const reply = post(server.url, '/1.0/events/delete', { stream: 's', start_time: Number(range.from), end_time: Number(range.to) }).catch(() => undefined)
    // The rewrite's new run file appears once the delete is in the log; kill the server a moment after.
    while (unlisted(data, { ...indexOf(data), runs: [run] }).length === 0 && server.child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 1))
    await new Promise((resolve) => setTimeout(resolve, delay))
    server.child.kill('SIGKILL')
    t.equal((await server.exited).signal, 'SIGKILL', `killed ${delay} ms after the new run file appeared`)
    await reply
    const index = indexOf(data)
    for (const r of index.runs) t.ok(fs.existsSync(path.join(data, 'runs', r.file)), `every run the index names exists (${r.file})`)
    if (index.runs[0].file === run.file) killedMidway++
    const reopened = await EventStore.open({ dir: data, fsync: false })
    t.same(await stored(reopened), expected, `delay ${delay}: the delete is applied (the log holds it)`)
    t.same(unlisted(data), [], `delay ${delay}: no run file the index does not name`)
    await reopened.close()
  }
  t.ok(killedMidway > 0, `${killedMidway} of 4 kills came before the index swap`)
})
