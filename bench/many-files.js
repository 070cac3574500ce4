/**
 * Many small archives read as one stream: the per-file cost of `shoebox
 * read` (open, sniff, decode pipeline, events) over N archives of one small
 * record each, against the same records with that cost removed.
 *
 *   node bench/many-files.js [--json]
 *
 * The tree: bench/.data/many-files/N/dXX/fYYYY.shoebox, 1,000 files a
 * directory, each one plain v2 record (a ~50-byte JSON payload, one metadata
 * string), made once and reused. Candidates, interleaved round-robin:
 *
 * - `shoebox read 'DIR/**\/*.shoebox' --payload-only > /dev/null`
 * - peer: `cat DIR/**\/*.shoebox | shoebox decode --payload-only > /dev/null`
 *   (bash globstar: the same files, in the same order; decode reads the
 *   concatenated archives as one stream, so: the same records, one process
 *   start, no per-file cost)
 * - for information: `shoebox ls 'DIR/**\/*.shoebox' > /dev/null`
 *
 * Before the rounds, read's and the peer's outputs are compared (lines,
 * bytes, SHA-256) and must both hold N lines. Times are wall time from spawn
 * to exit, medians of the timed rounds; CPU (user + sys) and peak RSS from
 * GNU time (/usr/bin/time, required). Reported: ms per file, and the ratio
 * (peer's time / read's time, so higher is better).
 *
 * Target: `shoebox read` >= 0.5x the peer (half its files/s or better).
 *
 * Env: BENCH_MANY_FILES (files, default 10000), BENCH_MANY_FILES_RUNS (timed
 * rounds, default 5, min 3).
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { encodeRecords } from '../dist/index.js'
import { CLI } from './cli.js'
import { DATA_DIR } from './data.js'
import { log, median, timeRoundRobin } from './util.js'
import { GNU_TIME, timedRunner } from './timed-child.js'

const FILES = Number(process.env.BENCH_MANY_FILES ?? 10_000)
const RUNS = Math.max(3, Number(process.env.BENCH_MANY_FILES_RUNS ?? 5))
const PER_DIR = 1000
const TARGET = 0.5
const WORK = path.join(DATA_DIR, 'many-files')
const TREE = path.join(WORK, String(FILES))
const GLOB = '**/*.shoebox'

const READ = 'shoebox read --payload-only'
const PEER = 'cat | shoebox decode --payload-only'
const LS = 'shoebox ls'

/** The tree of FILES one-record archives; made once (a marker file says it is whole). */
function ensureTree () {
  const marker = path.join(TREE, '.complete')
  if (fs.existsSync(marker)) return true
  fs.rmSync(TREE, { recursive: true, force: true })
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(TREE, `d${String(Math.floor(i / PER_DIR)).padStart(2, '0')}`)
    if (i % PER_DIR === 0) fs.mkdirSync(dir, { recursive: true })
    const payload = JSON.stringify({ msg: 'a small log line', n: i, host: `web-${i % 7}` })
    fs.writeFileSync(path.join(dir, `f${String(i % PER_DIR).padStart(4, '0')}.shoebox`), encodeRecords([{ metadata: { source: 'bench' }, payload }]))
  }
  fs.writeFileSync(marker, '')
  return false
}

/** bash with globstar: `cat` of the files the glob matches, piped into `shoebox decode`, stdout to `out`. */
const peerArgs = (out) => ['-c', 'shopt -s globstar; set -o pipefail; cat -- "$3"/' + GLOB + ' | "$1" "$2" decode --payload-only > "$4"', 'bash', process.execPath, CLI, TREE, out]

/** Lines, bytes and SHA-256 of a file. */
function digest (file) {
  const buf = fs.readFileSync(file)
  let lines = 0
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++
  return { lines, bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex') }
}

export async function runManyFiles () {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} does not exist: run \`npm run build\` first`)
  if (!fs.existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} (GNU time) is needed for CPU time and peak RSS`)
  fs.mkdirSync(WORK, { recursive: true })
  log(`many-files: ${ensureTree() ? 'reusing' : 'made'} ${FILES} archives under ${TREE}`)
  const { run, usage } = timedRunner({ dir: WORK })
  const loadStart = os.loadavg()

  // The same records from both, before any timing.
  const readOut = path.join(WORK, 'read.out')
  const peerOut = path.join(WORK, 'peer.out')
  await run('check', process.execPath, [CLI, 'read', path.join(TREE, GLOB), '--payload-only'], { stdoutFile: readOut })
  await run('check', 'bash', peerArgs(peerOut))
  const [r, p] = [digest(readOut), digest(peerOut)]
  fs.rmSync(readOut)
  fs.rmSync(peerOut)
  if (r.lines !== FILES || JSON.stringify(r) !== JSON.stringify(p)) throw new Error(`read gave ${JSON.stringify(r)}, the peer ${JSON.stringify(p)}; expected ${FILES} lines of each`)
  log(`many-files: read and the peer both give ${r.lines} lines, sha256 ${r.sha256.slice(0, 16)}…`)

  const t = await timeRoundRobin([
    { name: READ, run: async () => { await run(READ, process.execPath, [CLI, 'read', path.join(TREE, GLOB), '--payload-only']); return FILES } },
    { name: PEER, run: async () => { await run(PEER, 'bash', peerArgs('/dev/null')); return FILES } },
    { name: LS, run: async () => { await run(LS, process.execPath, [CLI, 'ls', path.join(TREE, GLOB)]); return FILES } }
  ], { expected: FILES, runs: RUNS, label: 'many-files ' })

  const resources = {}
  for (const name of [READ, PEER, LS]) {
    const u = usage.get(name)
    const n = t.get(name).seconds.length
    resources[name] = { cpuMedian: median(u.cpu.slice(-n)), maxRssMB: Math.max(...u.rssMB.slice(-n)) }
  }
  const msPerFile = (name) => t.get(name).median * 1000 / FILES
  return {
    files: FILES,
    runs: RUNS,
    cores: os.availableParallelism(),
    loadavg: { start: loadStart, end: os.loadavg() },
    msPerFile: { [READ]: msPerFile(READ), [PEER]: msPerFile(PEER), [LS]: msPerFile(LS) },
    ratio: t.get(PEER).median / t.get(READ).median,
    bestRatio: t.get(PEER).best / t.get(READ).best,
    resources,
    timings: Object.fromEntries(t)
  }
}

const passFail = (ok) => ok ? 'PASS' : 'FAIL'

/** A Markdown table: one row per command. */
export function manyFilesTable (result) {
  const lines = ['| command | ms per file (median) | CPU-s (median) | peak RSS MB |', '|---|---:|---:|---:|']
  const cmd = {
    [READ]: "`shoebox read 'DIR/**/*.shoebox' --payload-only > /dev/null`",
    [PEER]: '`cat DIR/**/*.shoebox \\| shoebox decode --payload-only > /dev/null` (peer)',
    [LS]: "`shoebox ls 'DIR/**/*.shoebox' > /dev/null` (information)"
  }
  for (const [name, text] of Object.entries(cmd)) {
    const r = result.resources[name]
    lines.push(`| ${text} | ${result.msPerFile[name].toFixed(3)} | ${r.cpuMedian.toFixed(2)} | ${r.maxRssMB.toFixed(0)} |`)
  }
  return lines.join('\n')
}

export function manyFilesNotes (result) {
  return [
    `many-files: ${result.files} plain archives of one record each, ${PER_DIR} a directory; median of ${result.runs} interleaved ` +
      'timed rounds after 1 warm-up, rotating order; wall time from spawn to exit (one node start each, ~0.1 s, included). ' +
      'read and the peer gave the same lines (count, SHA-256) first.',
    `${result.cores} cores; load average (1, 5, 15 min) at the start ${result.loadavg.start.map((x) => x.toFixed(2)).join(', ')}, ` +
      `at the end ${result.loadavg.end.map((x) => x.toFixed(2)).join(', ')}.`
  ]
}

export function manyFilesTargets (result) {
  return [`- ${passFail(result.ratio >= TARGET)}: \`shoebox read\` of ${result.files} small archives vs \`cat | shoebox decode\` of the same ` +
    `>= ${TARGET.toFixed(1)}x: ${result.ratio.toFixed(2)}x (fastest run against fastest run: ${result.bestRatio.toFixed(2)}x)`]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runManyFiles()
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(result) + '\n')
  } else {
    console.log(manyFilesTable(result))
    console.log()
    for (const line of manyFilesNotes(result)) console.log(line)
    console.log()
    console.log('Targets:')
    for (const line of manyFilesTargets(result)) console.log(line)
  }
}
