/**
 * What a record fetched by position (archiveSource's `positions`, what
 * `meta get --records` and indexedRecords() read with) keeps alive. Its
 * payload was a view of the bytes read or decompressed to find it: a 32 KiB
 * (or larger) window of a plain archive, or a whole gzip member or zstd
 * frame, so a caller holding the few hundred records a query picked held a
 * window or a block for each. The memory the held payloads lie in, and
 * external memory (array buffers and the zstd binding's) after a full
 * collection, per record held, with a wide margin: nothing is timed.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { archiveSource, rollingSink, type Position, type ShoeboxRecord } from '../../lib/index.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function externalMemory (): number {
  gc()
  gc()
  // External memory: the zstd binding's buffers are outside `arrayBuffers`.
  return process.memoryUsage().external
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-fetch-memory-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const RECORDS = 20_000
const HELD = 200

async function collect (source: AsyncIterable<unknown>): Promise<ShoeboxRecord[]> {
  const records: ShoeboxRecord[] = []
  for await (const record of source) records.push(record as ShoeboxRecord)
  return records
}

for (const codec of ['none', 'gzip', 'zstd'] as const) {
  t.test(`${codec}: ${HELD} records of 100 bytes fetched by position and held keep about their own size each`, async (t) => {
    const dir = path.join(tmp, codec)
    const input = Array.from({ length: RECORDS }, (_, n) => ({ metadata: { n: String(n) }, payload: `${String(n).padStart(8, '0')} ${'z'.repeat(91)}` }))
    await pipeline(Readable.from(input), rollingSink({ dir, compress: codec, flushInterval: 0 }))
    const all = await collect(archiveSource(path.join(dir, '*'), { positions: true }))
    t.equal(all.length, RECORDS)
    // Spread over the archive; each is fetched with a read (and a decompression) of its own.
    const positions = Array.from({ length: HELD }, (_, i) => all[i * (RECORDS / HELD)].position as Position)
    const others = [1, 2, 3].map((i) => all[i].position as Position)
    all.length = 0
    // Others first: what a codec's first fetch sets up for good is not per record.
    t.equal((await collect(archiveSource(path.join(dir, '*'), { positions: others }))).length, 3)
    const before = externalMemory()
    const held = await collect(archiveSource(path.join(dir, '*'), { positions }))
    const kept = (externalMemory() - before) / HELD
    t.equal(held.length, HELD)
    t.equal(held[1].payload.toString(), `${String(RECORDS / HELD).padStart(8, '0')} ${'z'.repeat(91)}`)
    // The memory the held payloads lie in, exactly, and what a full collection left (with what the first
    // fetches of a codec set up for good: ~4 KB a record of this many, for gzip).
    const lieIn = new Set(held.map((r) => r.payload.buffer))
    let bytes = 0
    for (const memory of lieIn) bytes += memory.byteLength
    // Measured on Node 20 and 24.22: 100 and under 4.2 KB; ~32 KB, ~770 KB and ~1 MB (plain, gzip, zstd) when
    // each was a view.
    t.ok(bytes / HELD < 1024, `the payloads lie in ${(bytes / HELD).toFixed(0)} bytes of memory per record of 100 bytes (bound 1024)`)
    t.ok(kept < 16384, `${kept.toFixed(0)} bytes of external memory kept per record of 100 bytes held (bound 16384)`)
  })
}
