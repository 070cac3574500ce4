/**
 * CLI benchmark: `shoebox encode < events.ndjson > /dev/null` (a child
 * process running package.json's "bin") against bench/baseline-split2.js (split2(JSON.parse) and a count)
 * on the same ~200 MB NDJSON file, plus the peak RSS of `shoebox encode`
 * over 2 GiB of NDJSON streamed into its stdin.
 *
 *   node bench/cli.js [--json] [--no-rss]
 *
 * Env: BENCH_RUNS (timed runs, default 8, min 5), BENCH_NDJSON_BYTES (default
 * 200e6), SHOEBOX_BENCH_RSS=0 (same as --no-rss), BENCH_RSS_BYTES (default 2 GiB).
 *
 * MB/s is MB (1e6 bytes) of NDJSON input per second, wall time from spawn to
 * exit: process start-up and module loading count on both sides (measured
 * while writing this: `node -e 0` 0.15 s, `shoebox --help` 0.4 s).
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { decode } from '../dist/index.js'
import { DEFAULT_FILE_BYTES, ensureNdjsonFile, ndjsonBuffer } from './data.js'
import { log, markdownTable, row, timeRoundRobin } from './util.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
/** The `shoebox` executable, as package.json's "bin" names it (dist/cli/bin.js at the time of writing). */
export const CLI = (() => {
  const pkg = JSON.parse(fs.readFileSync(path.join(HERE, '..', 'package.json'), 'utf8'))
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.shoebox
  return path.join(HERE, '..', bin ?? 'dist/cli/main.js')
})()
const BASELINE = path.join(HERE, 'baseline-split2.js')

/**
 * Run `node ...args` with stdin from a file; stdout goes to /dev/null unless
 * `onStdout` is given. Resolves to { code, stderr }.
 */
function runNode (args, { stdinFile, onStdout, captureStdout = false }) {
  return new Promise((resolve, reject) => {
    const fd = fs.openSync(stdinFile, 'r')
    let child
    try {
      child = spawn(process.execPath, args, { stdio: [fd, onStdout || captureStdout ? 'pipe' : 'ignore', 'pipe'] })
    } finally {
      fs.closeSync(fd)
    }
    let stderr = ''
    let stdout = ''
    child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s })
    if (onStdout) onStdout(child.stdout)
    else if (captureStdout) child.stdout.setEncoding('utf8').on('data', (s) => { stdout += s })
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stderr, stdout }))
  })
}

function check (name, result) {
  if (result.code !== 0) {
    throw new Error(`${name} exited with ${result.code ?? result.signal}: ${result.stderr.trim().slice(0, 2000)}`)
  }
}

/** One untimed run that decodes the CLI's output: it must hold one record per line. */
async function verifyCli (file, lines) {
  let records = 0
  let done
  const result = await runNode([CLI, 'encode'], {
    stdinFile: file,
    onStdout: (stdout) => {
      const d = decode()
      d.on('data', () => { records++ })
      done = once(d, 'end')
      stdout.pipe(d)
    }
  })
  check('shoebox encode', result)
  await done
  if (records !== lines) throw new Error(`shoebox encode produced ${records} records for ${lines} lines`)
}

/**
 * Peak RSS (VmHWM) of `shoebox encode` fed `totalBytes` of NDJSON through a
 * pipe, a 16 MB generated buffer written again and again (with
 * backpressure), output to /dev/null; /proc/<pid>/status polled every 50 ms.
 */
export async function peakRss (totalBytes = Number(process.env.BENCH_RSS_BYTES ?? 2 ** 31)) {
  const { buf, lines } = ndjsonBuffer(16_000_000)
  const repeats = Math.ceil(totalBytes / buf.length)
  const t0 = performance.now()
  const child = spawn(process.execPath, [CLI, 'encode'], { stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s })
  const closed = once(child, 'close')
  let hwmKiB = 0
  let samples = 0
  const poll = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))
      if (m) { hwmKiB = Math.max(hwmKiB, Number(m[1])); samples++ }
    } catch {
      // the process has exited: its last sample stands
    }
  }
  const timer = setInterval(poll, 50)
  let stdinError = null
  child.stdin.on('error', (err) => { stdinError = err })
  try {
    for (let i = 0; i < repeats && stdinError === null; i++) {
      if (!child.stdin.write(buf)) await Promise.race([once(child.stdin, 'drain'), closed])
    }
    child.stdin.end()
  } catch (err) {
    stdinError = err // EPIPE: the child went away; its exit status says why
  }
  const [code, signal] = await closed
  clearInterval(timer)
  const seconds = (performance.now() - t0) / 1000
  if (code !== 0) throw new Error(`shoebox encode (RSS run) exited with ${code ?? signal}: ${stderr.trim().slice(0, 2000)}`)
  if (stdinError !== null) throw stdinError
  return { bytes: repeats * buf.length, records: repeats * lines, peakRssMB: hwmKiB * 1024 / 1e6, peakRssMiB: hwmKiB / 1024, samples, seconds }
}

export async function runCli ({ rss = !process.argv.includes('--no-rss') && process.env.SHOEBOX_BENCH_RSS !== '0' } = {}) {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} does not exist: run \`npm run build\` first`)
  const t0 = performance.now()
  const info = ensureNdjsonFile(Number(process.env.BENCH_NDJSON_BYTES ?? DEFAULT_FILE_BYTES))
  log(`cli: ${info.reused ? 'reusing' : 'wrote'} ${info.path} (${info.bytes} bytes, ${info.lines} lines, ` +
    `${((performance.now() - t0) / 1000).toFixed(1)} s)`)
  await verifyCli(info.path, info.lines)

  const candidate = (name, args, countFromStdout) => ({
    name,
    run: async () => {
      const result = await runNode(args, { stdinFile: info.path, captureStdout: countFromStdout })
      check(name, result)
      return countFromStdout ? Number(result.stdout.trim()) : info.lines
    }
  })
  const t = await timeRoundRobin([
    candidate('shoebox encode', [CLI, 'encode'], false),
    candidate('shoebox encode --validate', [CLI, 'encode', '--validate'], false),
    candidate('split2(JSON.parse) baseline', [BASELINE], true)
  ], { expected: info.lines, label: 'cli ' })

  const work = { records: info.lines, bytes: info.bytes }
  const baseline = t.get('split2(JSON.parse) baseline')
  const rows = [
    row('CLI: `shoebox encode` (line bytes as payload)', 'split2(JSON.parse) + count',
      { ...work, shoebox: t.get('shoebox encode'), peer: baseline }),
    row('CLI: `shoebox encode --validate` (JSON.parse per line)', 'split2(JSON.parse) + count',
      { ...work, shoebox: t.get('shoebox encode --validate'), peer: baseline })
  ]
  const timings = Object.fromEntries(t)

  let rssResult = null
  if (rss) {
    log('cli: peak RSS run over 2 GiB of NDJSON (skip with --no-rss or SHOEBOX_BENCH_RSS=0)')
    rssResult = await peakRss()
    log(`cli: ${rssLine(rssResult)}`)
  }
  return { input: { path: path.relative(path.join(HERE, '..'), info.path), bytes: info.bytes, lines: info.lines }, rows, timings, rss: rssResult }
}

export function rssLine (r) {
  if (r === null) return 'Peak RSS of `shoebox encode` over 2 GiB: not measured (--no-rss)'
  return `Peak RSS (VmHWM) of \`shoebox encode\` over ${(r.bytes / 1e9).toFixed(2)} GB (${r.records} lines) piped into stdin: ` +
    `${r.peakRssMB.toFixed(1)} MB (${r.peakRssMiB.toFixed(1)} MiB), ${r.samples} samples at 50 ms, ` +
    `run took ${r.seconds.toFixed(1)} s (${(r.bytes / 1e6 / r.seconds).toFixed(0)} MB/s)`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runCli()
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(result) + '\n')
  } else {
    console.log(markdownTable(result.rows))
    console.log()
    console.log(rssLine(result.rss))
  }
}
