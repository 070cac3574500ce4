/**
 * A delete of a small range in one large run (issue 10): peak RSS and time.
 *
 *   node bench/delete-run.js build DIR EVENTS [--gzip]   make the store
 *   node bench/delete-run.js delete DIR [DIST] [--gzip]  delete 100 events from the middle
 *
 * build: EVENTS deterministic ~300-byte events of one stream, 1 ms apart (one
 * day's bucket), put in batches of 1000 through EventStore (fsync off), with a
 * memtable of a sixteenth of the texts: 16 flushes that compaction merges
 * (4 runs a tier) into one run; the index's run sizes are printed.
 * delete: opens the store with DIST's EventStore (default this worktree's
 * dist/; fsync on, as `shoebox serve`) and deletes the 100 events in the
 * middle of the largest run; prints the count, the delete's wall time and
 * the runs after. Run it under `/usr/bin/time -f '%e %U %S %M'` for peak RSS,
 * on a fresh copy of the built DIR each time (a delete changes it).
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const [mode, dir, arg] = process.argv.slice(2)
const gzip = process.argv.includes('--gzip')
const START = 16_000_000_000_000_000n // 100 ns ticks; one day's bucket holds 86.4M ms
const TICKS_PER_MS = 10_000n

function event (i) {
  const id = crypto.createHash('md5').update(String(i)).digest()
  const body = Buffer.from(JSON.stringify({ '@id': id.toString('hex'), n: i, page: `/p/${i % 977}`, ua: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)', ref: `https://example.com/${(i * 7919) % 100003}`, pad: 'x'.repeat(40 + (i % 60)) }))
  return { time: START + BigInt(i) * TICKS_PER_MS, id, body }
}

async function load (dist) {
  return (await import(pathToFileURL(path.join(dist, 'events/store/event-store.js')).href)).EventStore
}

if (mode === 'build') {
  const EventStore = await load(path.join(here, '..', 'dist'))
  const n = Number(arg)
  const textBytes = 300 * n
  const store = await EventStore.open({ dir, fsync: false, gzip, memtableSize: Math.ceil(textBytes / 16) })
  for (let i = 0; i < n; i += 1000) {
    const events = []
    for (let j = i; j < Math.min(n, i + 1000); j++) events.push(event(j))
    await store.put('kronos', [{ stream: 's', events }])
  }
  await store.close()
} else if (mode === 'delete') {
  const dist = arg !== undefined && !arg.startsWith('--') ? arg : path.join(here, '..', 'dist')
  const EventStore = await load(dist)
  const before = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')).runs
  const big = before.reduce((a, b) => (b.bytes > a.bytes ? b : a))
  const mid = (BigInt(big.minTime) + BigInt(big.maxTime)) / 2n
  const store = await EventStore.open({ dir, gzip })
  const t0 = process.hrtime.bigint()
  const count = await store.delete('kronos', 's', { from: mid, to: mid + 99n * TICKS_PER_MS })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  await store.close()
  const after = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')).runs
  console.log(JSON.stringify({ deleted: count, deleteMs: Math.round(ms), runsBefore: before.map((r) => [r.count, r.bytes]), runsAfter: after.map((r) => [r.count, r.bytes]) }))
  process.exit(0)
}
if (mode === 'build') {
  const runs = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')).runs
  console.log(JSON.stringify(runs.map((r) => [r.file, r.count, r.bytes, r.blocks.length])))
}
