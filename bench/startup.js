/**
 * Start-up: how long importing the built package, and `shoebox --help`, take
 * beside Node's own start (`node -e 0`), each as a fresh process. The three
 * run interleaved, the order rotating each round; each figure is the median
 * of its runs, and the ratios are to the baseline's median of the same run.
 * The AWS SDK alone costs more than Node's start: it must load only when an
 * s3:// URL is used (lib/store/s3-client.ts).
 *
 *   node bench/startup.js [--json] [--modules]     (after `npm run build`)
 *
 * Target: each <= 1.5x `node -e 0`.
 *
 * On Linux each figure also has the child's CPU time (user + sys, the mean of
 * its runs), read from this process's /proc/self/stat (cutime + cstime grow
 * by each child waited for): on a machine others load, the wall time of a
 * child includes waiting for a core, its CPU time much less so. In clock
 * ticks (10 ms at the usual 100 Hz), hence the mean rather than the median.
 *
 * --modules adds, in the same rounds, each third-party module the package
 * loads at import (found by a resolve hook, so the list follows the code)
 * imported alone, @node-rs/crc32 (loaded by the first checksum), and the
 * Node built-ins the package imports: what each would save if it were
 * loaded lazily, and the floor that Node's own modules set. The ratios are not additive:
 * modules share Node's own start-up work (the ESM loader, Buffer, streams).
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { log, median } from './util.js'

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const RUNS = Math.max(11, Number(process.env.BENCH_RUNS ?? 21))
const TARGET = 1.5

const index = pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href
const candidates = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: 'import shoebox (dist/index.js)', args: ['-e', `import(${JSON.stringify(index)}).then(() => {})`], target: true },
  { name: 'shoebox --help', args: [path.join(ROOT, 'dist', 'cli', 'bin.js'), '--help'], target: true }
]

/**
 * What importing dist/index.js loads: the packages under node_modules that
 * the package's own modules import (a resolve hook sees each import, ES or
 * CommonJS, made from outside node_modules), in the order first seen, and
 * how many of the package's own modules load. At about a millisecond each
 * on this machine, the module count is most of the import's cost
 * (test/startup-lazy.test.ts bounds it).
 */
export function importGraph () {
  const hook = `data:text/javascript,${encodeURIComponent(`
    export async function resolve (specifier, context, next) {
      const r = await next(specifier, context)
      const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url)
      if (m !== null && context.parentURL !== undefined && !context.parentURL.includes('/node_modules/')) process.stderr.write('PKG ' + m[1] + '\\n')
      if (m === null && r.url.startsWith('file:')) process.stderr.write('OWN ' + r.url + '\\n')
      return r
    }`)}`
  const script = `require('node:module').register(${JSON.stringify(hook)}); import(${JSON.stringify(index)}).then(() => {})`
  const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`listing the package's imports failed: ${r.stderr}`)
  const lines = r.stderr.split('\n')
  const packages = [...new Set(lines.filter((l) => l.startsWith('PKG ')).map((l) => l.slice(4)))]
  const own = new Set(lines.filter((l) => l.startsWith('OWN ') && l.includes('/dist/')).map((l) => l.slice(4)))
  return { packages, ownModules: own.size }
}

/** The Node built-ins the package's modules import at the top (what any stream library pays). */
const BUILTINS = ['node:stream', 'node:stream/promises', 'node:zlib', 'node:crypto', 'node:fs/promises', 'node:os', 'node:timers/promises', 'node:util']

const graph = importGraph()
if (process.argv.includes('--modules')) {
  for (const name of graph.packages) {
    candidates.push({ name: `${name} alone`, args: ['-e', `import(${JSON.stringify(name)}).then(() => {})`] })
  }
  // Required, as lib/checksum.ts loads it (an ES import of this CommonJS package costs more).
  candidates.push({ name: '@node-rs/crc32 alone (require)', args: ['-e', "require('@node-rs/crc32')"] })
  candidates.push({ name: 'the Node built-ins it imports, alone', args: ['-e', BUILTINS.map((b) => `require('${b}')`).join(';')] })
}

/** Clock ticks per second of /proc's times (USER_HZ: 100 on Linux, whatever the kernel's HZ). */
const TICKS_PER_SECOND = 100

/** CPU time (ms) of this process's waited-for children so far, or undefined where there is no /proc. */
function childrenCpuMs () {
  let stat
  try {
    stat = fs.readFileSync('/proc/self/stat', 'utf8')
  } catch {
    return undefined
  }
  // Fields after the command name (which may hold spaces) in parentheses; cutime and cstime are the 16th and 17th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[13]) + Number(fields[14])) * 1000 / TICKS_PER_SECOND
}

function timeOnce (args) {
  const cpu0 = childrenCpuMs()
  const t0 = performance.now()
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT })
  const ms = performance.now() - t0
  const cpu1 = childrenCpuMs()
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${r.status}: ${String(r.stderr)}`)
  return { ms, cpuMs: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0 }
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length

export function startupTargets (result) {
  return result.rows.filter((r) => r.target === true).map((r) =>
    `- ${r.ratio <= TARGET ? 'PASS' : 'FAIL'}: ${r.name} <= ${TARGET}x \`node -e 0\`: ${r.ratio.toFixed(2)}x (${r.medianMs.toFixed(1)} ms against ${result.rows[0].medianMs.toFixed(1)} ms)` +
    (r.cpuRatio === undefined ? '' : `; CPU ${r.cpuRatio.toFixed(2)}x (${r.cpuMs.toFixed(1)} ms against ${result.rows[0].cpuMs.toFixed(1)} ms)`))
}

export function startupTable (result) {
  const { packages, ownModules } = result.imports ?? {}
  const cpu = result.rows.every((r) => r.cpuMs !== undefined)
  return [
    `| start-up | median ms | ratio to \`node -e 0\` |${cpu ? ' CPU ms (user+sys, mean) | CPU ratio |' : ''}`,
    `|---|---:|---:|${cpu ? '---:|---:|' : ''}`,
    ...result.rows.map((r) => `| ${r.name} | ${r.medianMs.toFixed(1)} | ${r.ratio.toFixed(2)}x |${cpu ? ` ${r.cpuMs.toFixed(1)} | ${r.cpuRatio.toFixed(2)}x |` : ''}`),
    ...(ownModules === undefined
      ? []
      : ['', `Importing the package loads ${ownModules} of its own modules and ${packages.length === 0 ? 'no package' : packages.join(', ')} from node_modules.`])
  ].join('\n')
}

async function main () {
  const times = candidates.map(() => [])
  const cpus = candidates.map(() => [])
  for (const c of candidates) timeOnce(c.args) // warm the file cache
  for (let round = 0; round < RUNS; round++) {
    for (let k = 0; k < candidates.length; k++) {
      const i = (k + round) % candidates.length
      const { ms, cpuMs } = timeOnce(candidates[i].args)
      times[i].push(ms)
      if (cpuMs !== undefined) cpus[i].push(cpuMs)
    }
  }
  const base = median(times[0])
  const cpuBase = cpus[0].length === RUNS ? mean(cpus[0]) : undefined
  const rows = candidates.map((c, i) => ({
    name: c.name,
    target: c.target === true,
    medianMs: median(times[i]),
    ratio: median(times[i]) / base,
    runs: times[i].length,
    ...(cpuBase === undefined ? {} : { cpuMs: mean(cpus[i]), cpuRatio: mean(cpus[i]) / cpuBase })
  }))
  const result = { runs: RUNS, loadavg: (await import('node:os')).loadavg()[0], rows, imports: graph }
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result))
  } else {
    console.log(startupTable(result))
    console.log()
    for (const line of startupTargets(result)) console.log(line)
  }
  log(`startup: ${RUNS} interleaved runs each, load average ${result.loadavg.toFixed(1)}`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main().catch((err) => { console.error(err); process.exitCode = 1 })
