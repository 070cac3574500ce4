/**
 * The encoder in a heap that holds many records (bench/codec.js's 200k, ~76 MB
 * live), run after run, each after a gc() as codec.js's are: for seeing when V8
 * marks that heap during a run (bench/RESULTS.md, Dec 6, "the encoder's
 * per-record garbage").
 *
 *   node --expose-gc [--trace-gc] bench/encode-gc.js
 *
 * Env: SEQ runs in order (ae: ArchiveEncoder, one: encode() one record per
 * write, av: avsc BlockEncoder; default ae x 8), DIST another build's
 * dist/index.js (an absolute path), POOL=1 the encoder's slabs from a SlabPool
 * (given back after each take, as `shoebox write` does) instead of a fresh
 * 1 MiB slab each, CHUNK the encoders' chunkSize in bytes (default theirs,
 * 1 MiB). Prints each run's wall and CPU milliseconds, and on Linux the main
 * thread's CPU alone (from /proc: the process's CPU also counts V8's helper
 * threads, which mark and sweep concurrently).
 */
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import avro from 'avsc'
import { AVRO_SCHEMA } from './codec.js'
import { makeRecords } from './data.js'
import { drive, settle } from './util.js'

const dist = process.env.DIST ?? new URL('../dist/index.js', import.meta.url).pathname
const { ArchiveEncoder, encode } = await import(pathToFileURL(dist).href)
const slabPool = process.env.POOL === '1' ? await import(pathToFileURL(path.join(path.dirname(dist), 'format/slab-pool.js')).href) : null
const pool = slabPool === null ? undefined : new slabPool.SlabPool()
const n = 200000
const records = makeRecords(n)
const avroType = avro.Type.forSchema(AVRO_SCHEMA)

const chunk = process.env.CHUNK === undefined ? {} : { chunkSize: Number(process.env.CHUNK) }
const schedstat = `/proc/self/task/${process.pid}/schedstat`
/** The main thread's CPU nanoseconds so far (Linux), else undefined. */
const mainThreadNs = () => fs.existsSync(schedstat) ? Number(fs.readFileSync(schedstat, 'utf8').split(' ')[0]) : undefined

const taken = (b) => {
  if (slabPool !== null) slabPool.releaseSlabBytes(b)
  return b.length
}
const runs = {
  ae: () => {
    const encoder = new ArchiveEncoder(chunk, pool === undefined ? {} : { slabs: pool })
    let bytes = 0
    for (let i = 0; i < n; i++) {
      encoder.write(records[i])
      if (encoder.pendingBytes >= encoder.chunkSize) for (const b of encoder.take()) bytes += taken(b)
    }
    for (const b of encoder.take()) bytes += taken(b)
    return bytes
  },
  one: async () => {
    const stream = encode(chunk)
    let bytes = 0
    stream.on('data', (b) => { bytes += b.length })
    await drive(stream, records)
    return bytes
  },
  av: async () => {
    const stream = new avro.streams.BlockEncoder(avroType, { codec: 'null' })
    let bytes = 0
    stream.on('data', (b) => { bytes += b.length })
    await drive(stream, records)
    return bytes
  }
}

for (const name of (process.env.SEQ ?? 'ae,ae,ae,ae,ae,ae,ae,ae').split(',')) {
  await settle()
  const m0 = mainThreadNs()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await runs[name]()
  const t = performance.now() - t0
  const c = process.cpuUsage(c0)
  const m = m0 === undefined ? '' : ` ${((mainThreadNs() - m0) / 1e6).toFixed(0)} ms main thread`
  console.log(`${name} ${t.toFixed(0)} ms wall ${((c.user + c.system) / 1000).toFixed(0)} ms cpu${m}`)
}
