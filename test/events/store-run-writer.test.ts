/**
 * The run writer groups its 64 KiB blocks into ~1 MiB writes: a run of
 * several MiB (several grouped writes and a last partial one), and a gzip
 * run of tiny blocks (more blocks than one write takes), read back whole,
 * both ways, and by narrow ranges that must land on every block's recorded
 * offset; the file is exactly the bytes the index describes.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { newEventIdBytes } from '../../lib/events/event-id.js'
import { readRun, type RunInfo } from '../../lib/events/store/run-file.js'
import { writeRun } from '../../lib/events/store/run-writer.js'
import type { EventRange, StoredEvent } from '../../lib/events/store/stored-event.js'

function events (n: number, text: (i: number) => string): StoredEvent[] {
  const out: StoredEvent[] = []
  for (let i = 0; i < n; i++) {
    const time = 17_000_000_000_000_000n + BigInt(i) * 1000n
    out.push({ time, id: newEventIdBytes(time), body: Buffer.from(text(i)) })
  }
  return out
}

async function read (dir: string, run: RunInfo, range: EventRange, descending = false): Promise<string[]> {
  const out: string[] = []
  for await (const block of readRun(dir, run, range, descending)) for (const e of block) out.push(`${e.time}:${e.body.toString()}`)
  return out
}

const keyed = (list: StoredEvent[]): string[] => list.map((e) => `${e.time}:${e.body.toString()}`)

for (const { gzip, n, text } of [
  // ~3 KB events: ~3.3 MiB, three full grouped writes and a partial one.
  { gzip: false, n: 1100, text: (i: number) => `{"i":${i},"pad":"${'ü'.repeat(1500)}"}` },
  // Very compressible: each 64 KiB block gzips to a few hundred bytes, so one write would take far more than 64 blocks.
  { gzip: true, n: 6000, text: (i: number) => `{"i":${i % 10},"pad":"${'a'.repeat(1000)}"}` }
]) {
  t.test(`a run written in grouped writes reads back by its block index (gzip ${gzip})`, async (t) => {
    const dir = t.testdir()
    const list = events(n, text)
    const run = await writeRun(dir, 'r.shoebox', 'kronos', 's', 0n, list, { gzip, fsync: false })
    t.equal(fs.statSync(path.join(dir, run.file)).size, run.bytes, 'the file is what the index describes')
    t.ok(run.blocks.length > (gzip ? 64 : 40), `${run.blocks.length} blocks`)
    const all: EventRange = { from: 0n, to: 2n ** 62n }
    t.same(await read(dir, run, all), keyed(list))
    t.same(await read(dir, run, all, true), keyed(list).reverse())
    // A one-event range at each block's first event: found through that block's offset.
    for (const [, first] of run.blocks) {
      const time = BigInt(first)
      t.same(await read(dir, run, { from: time, to: time + 1n }), keyed(list.filter((e) => e.time === time)), `block at ${first}`)
    }
    // Middle ranges, both ways: reads of several blocks at once start and stop at the range's blocks.
    for (const [a, b] of [[1, 2], [3, run.blocks.length - 2], [run.blocks.length - 3, run.blocks.length - 1]]) {
      const range: EventRange = { from: BigInt(run.blocks[a][1]) + 1n, to: BigInt(run.blocks[b][1]) + 1n }
      const want = keyed(list.filter((e) => e.time >= range.from && e.time <= range.to))
      t.same(await read(dir, run, range), want, `blocks ${a}..${b}`)
      t.same(await read(dir, run, range, true), want.reverse(), `blocks ${b}..${a} descending`)
    }
  })
}

t.test('blocks larger than one read span (300 KB events) between small ones read back both ways', async (t) => {
  const dir = t.testdir()
  const list = events(40, (i) => `{"i":${i},"pad":"${(i % 7 === 3 ? 'x' : 'y').repeat(i % 7 === 3 ? 300_000 : 100)}"}`)
  const run = await writeRun(dir, 'r.shoebox', 'kronos', 's', 0n, list, { gzip: false, fsync: false })
  const all: EventRange = { from: 0n, to: 2n ** 62n }
  t.same(await read(dir, run, all), keyed(list))
  t.same(await read(dir, run, all, true), keyed(list).reverse())
})
