/**
 * Compaction's merge: runs whose key ranges do not overlap (events that
 * arrived in time order) become one run by concatenating their bytes and
 * block indexes; overlapping runs, or runs of another compression, are
 * merged event by event. Either way the result reads back whole, in order,
 * both ways, and narrow ranges find their blocks.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { disjointOrder, mergeRuns } from '../../lib/events/store/compaction.js'
import { readRun, type RunInfo } from '../../lib/events/store/run-file.js'
import { writeRun } from '../../lib/events/store/run-writer.js'
import { compareKeys, type EventRange, type StoredEvent } from '../../lib/events/store/stored-event.js'

function event (time: bigint, id8 = -1): StoredEvent {
  const id = randomBytes(16)
  id[8] = id8 >= 0 ? id8 : (id[8] | 0x80) & 0x8f
  // ~3 KB each, so a run of 40 spans two 64 KiB blocks: block offsets must survive the concatenation.
  return { time, id, body: Buffer.from(`{"@time":${time},"pad":"${'ü'.repeat(1500)}"}`) }
}

async function read (dir: string, run: RunInfo, range: EventRange, descending = false): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  for await (const block of readRun(dir, run, range, descending)) out.push(...block)
  return out
}

const keys = (list: StoredEvent[]): string[] => list.map((e) => `${e.time}:${e.id.toString('hex')}`)
const everything: EventRange = { from: -(2n ** 62n), to: 2n ** 62n }

for (const gzip of [false, true]) {
  t.test(`time-ordered runs are concatenated: bytes, blocks, counts (gzip ${gzip})`, async (t) => {
    const dir = t.testdir()
    const options = { gzip, fsync: true }
    const runs: RunInfo[] = []
    const events: StoredEvent[] = []
    for (let r = 0; r < 4; r++) {
      const list = Array.from({ length: 40 }, (_, i) => event(BigInt(r * 1000 + i * 10)))
      events.push(...list)
      runs.push(await writeRun(dir, `in-${r}.shoebox`, 'kronos', 's', 0n, list, options))
    }
    const shuffled = [runs[2], runs[0], runs[3], runs[1]]
    const merged = await mergeRuns(dir, 'out.shoebox', shuffled, options)
    const bytes = fs.readFileSync(path.join(dir, 'out.shoebox'))
    t.ok(bytes.equals(Buffer.concat(runs.map((r) => fs.readFileSync(path.join(dir, r.file))))), 'the files one after the other')
    t.equal(merged.count, 160)
    t.equal(merged.bytes, bytes.length)
    t.equal(merged.blocks.length, runs.reduce((n, r) => n + r.blocks.length, 0))
    t.equal(merged.minTime, '0')
    t.equal(merged.maxTime, '3390')
    t.equal(merged.gzip === true, gzip)
    t.same(keys(await read(dir, merged, everything)), keys(events))
    t.same(keys(await read(dir, merged, everything, true)), keys([...events].reverse()))
    const narrow: EventRange = { from: 2005n, to: 2205n }
    t.same(keys(await read(dir, merged, narrow)), keys(events.filter((e) => e.time >= 2005n && e.time <= 2205n)))
    t.same(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left')
  })
}

t.test('overlapping runs, or another compression, are merged event by event', async (t) => {
  const dir = t.testdir()
  const a = [event(10n), event(30n), event(50n)]
  const b = [event(20n), event(40n)]
  const runA = await writeRun(dir, 'a.shoebox', 'kronos', 's', 0n, a, { gzip: false, fsync: false })
  const runB = await writeRun(dir, 'b.shoebox', 'kronos', 's', 0n, b, { gzip: false, fsync: false })
  t.equal(disjointOrder([runA, runB]), undefined)
  const merged = await mergeRuns(dir, 'ab.shoebox', [runA, runB], { gzip: false, fsync: false })
  t.same(keys(await read(dir, merged, everything)), keys([...a, ...b].sort(compareKeys)))
  const c = [event(100n), event(200n)]
  const runC = await writeRun(dir, 'c.shoebox', 'kronos', 's', 0n, c, { gzip: true, fsync: false })
  t.ok(disjointOrder([runA, runC]) !== undefined, 'disjoint')
  const mixed = await mergeRuns(dir, 'ac.shoebox', [runC, runA], { gzip: false, fsync: false })
  t.notOk(mixed.gzip, 'written as the store compresses now')
  t.same(keys(await read(dir, mixed, everything)), keys([...a, ...c]))
})

t.test('disjoint means every key of one run is below every key of the next: equal times are decided by the id', async (t) => {
  const dir = t.testdir()
  const edge = event(7n, 0x81)
  const low = await writeRun(dir, 'low.shoebox', 'kronos', 's', 0n, [event(5n), edge], { gzip: false, fsync: false })
  const high = await writeRun(dir, 'high.shoebox', 'kronos', 's', 0n, [event(7n, 0x82), event(9n)], { gzip: false, fsync: false })
  const same = await writeRun(dir, 'same.shoebox', 'kronos', 's', 0n, [{ ...edge, body: Buffer.from('{}') }], { gzip: false, fsync: false })
  t.same(disjointOrder([high, low])?.map((r) => r.file), ['low.shoebox', 'high.shoebox'])
  t.equal(disjointOrder([low, same]), undefined, 'the same (time, id) key cannot be ordered apart')
  const merged = await mergeRuns(dir, 'm.shoebox', [high, low], { gzip: false, fsync: false })
  t.same((await read(dir, merged, everything)).map((e) => e.time), [5n, 7n, 7n, 9n])
})
