/**
 * Profile one codec scenario on the codec data (200k records), profiler on
 * only around the measured runs (not around data generation), and print the
 * functions with the most self time. The .cpuprofile goes to
 * bench/.data/profiles/<scenario>.cpuprofile (open it in Chrome DevTools).
 *
 *   node --expose-gc bench/profile.js <scenario> [runs]
 *
 * Scenarios: encode (ArchiveEncoder), encode-stream, decode (decode() stream),
 * avsc-encode, avsc-decode.
 */
import fs from 'node:fs'
import path from 'node:path'
import inspector from 'node:inspector/promises'
import avro from 'avsc'
import { ArchiveEncoder, decode, encode, encodeRecords } from '../dist/index.js'
import { AVRO_SCHEMA } from './codec.js'
import { DATA_DIR, makeRecords } from './data.js'
import { chunks, drive, settle } from './util.js'

const [scenario = 'encode', runsArg = '5'] = process.argv.slice(2)
const runs = Number(runsArg)
const n = Number(process.env.BENCH_RECORDS ?? 200_000)
const records = makeRecords(n)
const batches = []
for (let i = 0; i < n; i += 1000) batches.push(records.slice(i, i + 1000))
const type = avro.Type.forSchema(AVRO_SCHEMA)
let sink = 0

const lazy = {
  shoeboxChunks: () => chunks(encodeRecords(records), 1024 * 1024),
  avroChunks: async () => {
    const parts = []
    const e = new avro.streams.BlockEncoder(type, { codec: 'null' })
    e.on('data', (b) => { parts.push(b) })
    await drive(e, records)
    return chunks(Buffer.concat(parts), 1024 * 1024)
  }
}

const scenarios = {
  encode: async () => () => {
    const encoder = new ArchiveEncoder()
    for (let i = 0; i < n; i++) {
      encoder.write(records[i])
      if (encoder.pendingBytes >= encoder.chunkSize) for (const b of encoder.take()) sink += b.length
    }
    for (const b of encoder.take()) sink += b.length
  },
  'encode-stream': async () => async () => {
    const s = encode()
    s.on('data', (b) => { sink += b.length })
    await drive(s, batches)
  },
  decode: async () => {
    const input = lazy.shoeboxChunks()
    return async () => {
      const s = decode()
      s.on('data', (r) => { sink += r.payload.length })
      await drive(s, input)
    }
  },
  'avsc-encode': async () => async () => {
    const s = new avro.streams.BlockEncoder(type, { codec: 'null' })
    s.on('data', (b) => { sink += b.length })
    await drive(s, records)
  },
  'avsc-decode': async () => {
    const input = await lazy.avroChunks()
    return async () => {
      const s = new avro.streams.BlockDecoder()
      s.on('data', (r) => { sink += r.payload.length })
      await drive(s, input)
    }
  }
}

if (!(scenario in scenarios)) {
  console.error(`unknown scenario '${scenario}'; one of: ${Object.keys(scenarios).join(', ')}`)
  process.exit(2)
}
const run = await scenarios[scenario]()
await run() // warm-up
await settle()

const session = new inspector.Session()
session.connect()
await session.post('Profiler.enable')
await session.post('Profiler.setSamplingInterval', { interval: 100 })
await session.post('Profiler.start')
const t0 = performance.now()
for (let i = 0; i < runs; i++) await run()
const ms = (performance.now() - t0) / runs
const { profile } = await session.post('Profiler.stop')
session.disconnect()

const dir = path.join(DATA_DIR, 'profiles')
fs.mkdirSync(dir, { recursive: true })
const file = path.join(dir, `${scenario}.cpuprofile`)
fs.writeFileSync(file, JSON.stringify(profile))

// Self time per function (name, file, line), summed over the profile's nodes.
const self = new Map()
let total = 0
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0
  const { functionName, url, lineNumber } = byId.get(id).callFrame
  const key = `${functionName || '(anonymous)'} ${url ? path.basename(url) + ':' + (lineNumber + 1) : '(native or eval)'}`
  self.set(key, (self.get(key) ?? 0) + dt)
  total += dt
})
console.log(`${scenario}: ${ms.toFixed(0)} ms/run, ${Math.round(n / (ms / 1000)).toLocaleString('en-US')} records/s over ${runs} runs (sink ${sink > 0})`)
console.log(`profile: ${path.relative(process.cwd(), file)}`)
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
  console.log(`${(us / total * 100).toFixed(1).padStart(5)}%  ${key}`)
}
