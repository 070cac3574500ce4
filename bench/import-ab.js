/**
 * Import cost of two (or more) builds of the package, A/B: each run a fresh
 * `node -e "import('<dir>/index.js')"`, beside `node -e 0`, interleaved with
 * the order rotating each round (as bench/startup.js does), so that the
 * machine's noise hits every build alike. For a change to what the import
 * loads, against main's build:
 *
 *   node bench/import-ab.js [--runs=N] /path/to/main/dist dist
 *
 * Prints each one's median wall time and its mean CPU time (user + sys of
 * the child, from /proc/self/stat's cutime + cstime: clock ticks, hence the
 * mean), and each one less `node -e 0`: what the import itself costs. The
 * load average is printed with them: on a shared machine, quote it.
 *
 * The child also times its own import() (performance.now() and
 * process.cpuUsage() around it, to the microsecond): the medians of those
 * leave out Node's start, whose noise on a loaded machine (tens of ms, and
 * 10 ms ticks for the CPU) can hide a change of a few ms. The baseline's is
 * an empty module's import.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { median } from './util.js'

const args = process.argv.slice(2)
const runsArg = args.find((a) => a.startsWith('--runs='))
const RUNS = runsArg === undefined ? 31 : Number(runsArg.slice('--runs='.length))
const dirs = args.filter((a) => !a.startsWith('--'))
if (dirs.length === 0 || !(RUNS >= 1)) {
  console.error('usage: node bench/import-ab.js [--runs=N] DIST_DIR [DIST_DIR...]')
  process.exit(2)
}

/** `node -e` of an import of `url` that prints its own wall and CPU ms. */
const timedImport = (url) => ['-e', `const c = process.cpuUsage(); const t = performance.now(); import(${JSON.stringify(url)}).then(() => {
  const d = process.cpuUsage(c); process.stdout.write((performance.now() - t) + ' ' + (d.user + d.system) / 1000) })`]

const candidates = [
  { name: 'node -e 0', args: ['-e', '0'], inner: timedImport('data:text/javascript,') },
  ...dirs.map((dir) => {
    const index = pathToFileURL(path.resolve(dir, 'index.js')).href
    return { name: `import ${dir}`, args: ['-e', `import(${JSON.stringify(index)}).then(() => {})`], inner: timedImport(index) }
  })
]

/** CPU ms of this process's waited-for children so far (USER_HZ is 100 on Linux). */
function childrenCpuMs () {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[13]) + Number(fields[14])) * 10
}

function timeOnce (c) {
  const cpu0 = childrenCpuMs()
  const t0 = performance.now()
  const r = spawnSync(process.execPath, c.args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const ms = performance.now() - t0
  if (r.status !== 0) throw new Error(`${c.name} exited with ${r.status}: ${String(r.stderr)}`)
  return { ms, cpu: childrenCpuMs() - cpu0 }
}

/** The child's own timing of its import: [wall ms, CPU ms]. */
function timeInner (c) {
  const r = spawnSync(process.execPath, c.inner, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${c.name} (timed inside) exited with ${r.status}: ${r.stderr}`)
  return r.stdout.split(' ').map(Number)
}

const load = [os.loadavg()[0]]
for (const c of candidates) { timeOnce(c); c.ms = []; c.cpu = []; c.innerMs = []; c.innerCpu = [] } // warm the file cache
for (let round = 0; round < RUNS; round++) {
  for (let k = 0; k < candidates.length; k++) {
    const c = candidates[(k + round) % candidates.length]
    const { ms, cpu } = timeOnce(c)
    c.ms.push(ms)
    c.cpu.push(cpu)
    const [innerMs, innerCpu] = timeInner(c)
    c.innerMs.push(innerMs)
    c.innerCpu.push(innerCpu)
  }
}
load.push(os.loadavg()[0])

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
const base = candidates[0]
console.log(`| ${RUNS} runs each, load ${load[0].toFixed(1)} -> ${load[1].toFixed(1)} | median ms | less \`node -e 0\` | ratio | CPU ms (mean) | less \`node -e 0\` | CPU ratio | import() inside: median ms | its CPU ms (median) |`)
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const c of candidates) {
  const m = median(c.ms)
  const cpu = mean(c.cpu)
  console.log(`| ${c.name} | ${m.toFixed(1)} | ${(m - median(base.ms)).toFixed(1)} | ${(m / median(base.ms)).toFixed(2)}x | ${cpu.toFixed(1)} | ${(cpu - mean(base.cpu)).toFixed(1)} | ${(cpu / mean(base.cpu)).toFixed(2)}x | ${median(c.innerMs).toFixed(1)} | ${median(c.innerCpu).toFixed(1)} |`)
}
