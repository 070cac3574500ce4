/**
 * Micro-benchmark: gunzipMembers() (the member-aware stage) against gunzip()
 * and zlib.createGunzip(),
 * on a multi-member file as the rolling sink writes it (1 MiB raw members,
 * level 6), read in 1 MiB chunks, output counted and thrown away.
 * `node --expose-gc bench/gunzip-members.js [compressed MiB, default 110]` (after npm run build).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { gunzip, gunzipMembers } from '../dist/index.js'
import { log, timeRoundRobin } from './util.js'

const targetMiB = Number(process.argv[2] ?? 110)
const file = path.join(os.tmpdir(), `shoebox-bench-members-${targetMiB}.gz`)

function makeFile () {
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file + '.json', 'utf8')).raw
  const fd = fs.openSync(file, 'w')
  let compressed = 0
  let raw = 0
  for (let m = 0; compressed < targetMiB * 1024 * 1024; m++) {
    const lines = []
    let size = 0
    for (let i = 0; size < 1024 * 1024; i++) {
      const line = JSON.stringify({ ts: 1700000000000 + m * 1000 + i, level: i % 7 === 0 ? 'warn' : 'info', user: `u${(i * 7919 + m) % 10007}`, msg: `request ${i} took ${(i * 37) % 1000} ms`, rnd: Math.random().toString(36).slice(2) }) + '\n'
      lines.push(line)
      size += line.length
    }
    const block = Buffer.from(lines.join(''))
    const member = zlib.gzipSync(block, { level: 6 })
    fs.writeSync(fd, member)
    compressed += member.length
    raw += block.length
  }
  fs.closeSync(fd)
  fs.writeFileSync(file + '.json', JSON.stringify({ raw }))
  return raw
}

async function count (stage) {
  let n = 0
  await pipeline(fs.createReadStream(file, { highWaterMark: 1024 * 1024 }), stage, new Writable({
    highWaterMark: 1024 * 1024,
    write (chunk, _e, cb) { n += chunk.length; cb() }
  }))
  return n
}

const raw = makeFile()
log(`${file}: ${(fs.statSync(file).size / 2 ** 20).toFixed(1)} MiB compressed, ${(raw / 2 ** 20).toFixed(1)} MiB raw`)
const results = await timeRoundRobin([
  { name: 'zlib.createGunzip', run: () => count(zlib.createGunzip({ chunkSize: 256 * 1024 })) },
  { name: 'gunzip', run: () => count(gunzip()) },
  { name: 'gunzipMembers', run: () => count(gunzipMembers()) }
], { expected: raw, label: 'gunzip' })
const base = results.get('zlib.createGunzip').median
for (const [name, r] of results) log(`${name}: median ${r.median.toFixed(3)} s (${r.seconds.map((s) => s.toFixed(2)).join(' ')}), ${(base / r.median).toFixed(3)}x zlib`)
// Wall time swings on a shared machine; CPU time (all threads) is steadier.
const cpu = {}
for (const [name, make] of [['zlib.createGunzip', () => zlib.createGunzip({ chunkSize: 256 * 1024 })], ['gunzip', gunzip], ['gunzipMembers', gunzipMembers]]) {
  const t0 = process.cpuUsage()
  await count(make())
  const used = process.cpuUsage(t0)
  cpu[name] = (used.user + used.system) / 1000
}
log(`CPU ms, one run each: ${Object.entries(cpu).map(([n, ms]) => `${n} ${ms.toFixed(0)}`).join(', ')}`)
