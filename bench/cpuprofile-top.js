/**
 * Summarise a .cpuprofile (from `node --cpu-prof`): the functions with the
 * most self time, and the inclusive time of the top-level activities
 * (idle, GC, program, and each function named with --inclusive).
 *
 *   node --cpu-prof --cpu-prof-dir=bench/.data/profiles dist/cli/bin.js write DIR --gzip=6 < in.ndjson
 *   node bench/cpuprofile-top.js bench/.data/profiles/CPU.*.cpuprofile [--top=25] [--inclusive=name,name]
 *
 * Note: --cpu-prof samples the main thread only. zlib work on the libuv
 * threadpool (zlib.gzip() with a callback) does not appear in it; while the
 * main thread waits for it, the samples are '(idle)'.
 */
import fs from 'node:fs'
import path from 'node:path'

const args = process.argv.slice(2)
const file = args.find((a) => !a.startsWith('--'))
if (file === undefined) {
  process.stderr.write('usage: node bench/cpuprofile-top.js FILE.cpuprofile [--top=N] [--inclusive=fn1,fn2]\n')
  process.exit(2)
}
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 25)
const inclusiveNames = (args.find((a) => a.startsWith('--inclusive='))?.slice(12) ?? '').split(',').filter(Boolean)

const profile = JSON.parse(fs.readFileSync(file, 'utf8'))
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const parent = new Map()
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
const label = ({ functionName, url, lineNumber }) =>
  `${functionName || '(anonymous)'} ${url ? path.basename(url) + ':' + (lineNumber + 1) : '(native)'}`

const self = new Map()
const inclusive = new Map(inclusiveNames.map((n) => [n, 0]))
let total = 0
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0
  total += dt
  const key = label(byId.get(id).callFrame)
  self.set(key, (self.get(key) ?? 0) + dt)
  if (inclusive.size > 0) {
    const seen = new Set()
    for (let n = id; n !== undefined; n = parent.get(n)) {
      const name = byId.get(n).callFrame.functionName
      if (inclusive.has(name) && !seen.has(name)) { seen.add(name); inclusive.set(name, inclusive.get(name) + dt) }
    }
  }
})
const pct = (us) => `${(us / total * 100).toFixed(1).padStart(5)}%`
console.log(`${path.basename(file)}: ${(total / 1e6).toFixed(2)} s sampled`)
console.log('self time:')
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${(us / 1e3).toFixed(0).padStart(6)} ms  ${key}`)
if (inclusive.size > 0) {
  console.log('inclusive time:')
  for (const [name, us] of inclusive) console.log(`${pct(us)}  ${(us / 1e3).toFixed(0).padStart(6)} ms  ${name}`)
}
