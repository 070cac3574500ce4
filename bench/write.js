/**
 * Write/read benchmark: `shoebox write` (NDJSON on stdin into rolling gzip
 * archive files) and `shoebox read --payload-only` against
 * rotating-file-stream, the gzip CLI and zcat + split2, all as child
 * processes over the same ~200 MB NDJSON file as bench/cli.js.
 *
 *   node bench/write.js [--json] [--no-rss]
 *
 * 1. `shoebox write DIR --gzip=6 --roll-size 32MiB < in.ndjson` against
 *    bench/rfs-write.js (rotating-file-stream 3.x, compress: 'gzip', size
 *    '32M', fed the file in 1 MiB chunks; it exits only once every file is
 *    gzipped, see that file). records/s = input lines per second.
 * 2. The same `shoebox write --gzip=6` against `gzip -6 < in.ndjson >
 *    out.gz`, and `--gzip=1` against `gzip -1`. MB/s of NDJSON input.
 * 3. `shoebox read 'DIR/*' --payload-only > /dev/null` over the files the
 *    last timed `--gzip=6` run wrote, against `zcat RFSDIR/* | node
 *    bench/baseline-split2-count.js` over the files the last timed rfs run
 *    wrote (split2 line count, no JSON.parse: --payload-only parses nothing
 *    either). Lines per second.
 * 4. Peak RSS (VmHWM, /proc/<pid>/status polled every 50 ms) of `shoebox
 *    write --gzip` over the same file, in separate untimed runs.
 *
 * The five writers run interleaved in one round-robin (order rotating every
 * round), then the two readers in another; output directories are emptied
 * (untimed) before each run. Times are wall time from spawn to exit, so
 * process start-up counts on every side. After the timed rounds, the last
 * outputs are checked once: every output, decompressed (shoebox's through
 * `shoebox read --payload-only`), must have the input's line count, byte
 * count and SHA-256.
 *
 * Env: BENCH_WRITE_RUNS (timed runs, default 5, min 3), BENCH_NDJSON_BYTES
 * (default 200e6), SHOEBOX_BENCH_RSS=0 (same as --no-rss).
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { CLI } from './cli.js'
import { DATA_DIR, DEFAULT_FILE_BYTES, ensureNdjsonFile } from './data.js'
import { log, markdownTable, median, row, timeRoundRobin } from './util.js'
import { spawnRun } from './timed-child.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const RFS_WRITE = path.join(HERE, 'rfs-write.js')
const BASELINE_COUNT = path.join(HERE, 'baseline-split2-count.js')
const WORK = path.join(DATA_DIR, 'write')
const RUNS = Math.max(3, Number(process.env.BENCH_WRITE_RUNS ?? 5))
const ROLL = '32MiB'
/** GNU time, when installed: each child's CPU time (user + sys, its waited-for children included). */
const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null

/**
 * Spawn `cmd args`; stdin from `stdinFile` (or nothing), stdout to
 * `stdoutFile`, captured (`captureStdout`), or /dev/null. With `onSpawn`,
 * it gets the child first (for RSS polling). With `cpu` (an array), the
 * child runs under GNU time (if installed) and its CPU seconds are pushed
 * onto `cpu`. Resolves to { code, signal, stdout, stderr }.
 */
async function run (cmd, args, { stdinFile, stdoutFile, captureStdout = false, onSpawn, cpu } = {}) {
  if (cpu === undefined || GNU_TIME === null) return spawnRun(cmd, args, { stdinFile, stdoutFile, captureStdout, onSpawn })
  const timeFile = path.join(WORK, `.time-${process.pid}`)
  const result = await spawnRun(GNU_TIME, ['-f', '%U %S', '-o', timeFile, cmd, ...args], { stdinFile, stdoutFile, captureStdout, onSpawn })
  const [user, sys] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number)
  fs.rmSync(timeFile, { force: true })
  cpu.push(user + sys)
  return result
}

function check (name, result) {
  if (result.code !== 0) {
    throw new Error(`${name} exited with ${result.code ?? result.signal}: ${result.stderr.trim().slice(0, 2000)}`)
  }
  return result
}

const empty = (p) => fs.rmSync(p, { recursive: true, force: true })
const filesIn = (dir) => fs.readdirSync(dir).sort().map((f) => path.join(dir, f))
const totalSize = (files) => files.reduce((n, f) => n + fs.statSync(f).size, 0)

/** Lines, bytes and SHA-256 of everything a readable stream yields. */
class Digest {
  lines = 0
  bytes = 0
  #hash = createHash('sha256')
  update (buf) {
    this.bytes += buf.length
    this.#hash.update(buf)
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) this.lines++
  }

  async consume (readable) {
    for await (const buf of readable) this.update(buf)
    return this
  }

  result () { return { lines: this.lines, bytes: this.bytes, sha256: this.#hash.digest('hex') } }
}

const digestFile = async (file) => (await new Digest().consume(fs.createReadStream(file, { highWaterMark: 1 << 20 }))).result()

/** The concatenation of gzip files, decompressed (each file on its own, in name order). */
async function digestGzipFiles (files) {
  const d = new Digest()
  for (const f of files) await d.consume(fs.createReadStream(f, { highWaterMark: 1 << 20 }).pipe(zlib.createGunzip()))
  return d.result()
}

/** What `shoebox read 'DIR/*' --payload-only` prints. */
async function digestShoeboxRead (dir) {
  const child = spawn(process.execPath, [CLI, 'read', `${dir}/*`, '--payload-only'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s })
  const closed = new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  const d = await new Digest().consume(child.stdout)
  check(`shoebox read ${dir}/*`, { ...(await closed), stderr })
  return d.result()
}

/** Peak RSS (VmHWM) of a command, /proc/<pid>/status polled every 50 ms. */
async function peakRss (name, cmd, args, opts) {
  let hwmKiB = 0
  let samples = 0
  let timer
  const t0 = performance.now()
  const result = await run(cmd, args, {
    ...opts,
    onSpawn: (child) => {
      const poll = () => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))
          if (m) { hwmKiB = Math.max(hwmKiB, Number(m[1])); samples++ }
        } catch {
          // exited: the last sample stands
        }
      }
      timer = setInterval(poll, 50)
    }
  })
  clearInterval(timer)
  check(name, result)
  return { name, peakRssMB: hwmKiB * 1024 / 1e6, peakRssMiB: hwmKiB / 1024, samples, seconds: (performance.now() - t0) / 1000 }
}

const SB6 = 'shoebox write --gzip=6'
const SB1 = 'shoebox write --gzip=1'
const RFS = 'rotating-file-stream (gzip)'
const GZ6 = 'gzip -6'
const GZ1 = 'gzip -1'
const SB_READ = 'shoebox read --payload-only'
const ZCAT = 'zcat | split2 count'

/** CPU seconds per run, by candidate (the warm-up run included: drop it before use). */
const cpuTimes = new Map()
const cpuOf = (name) => {
  if (!cpuTimes.has(name)) cpuTimes.set(name, [])
  return cpuTimes.get(name)
}

export async function runWrite ({ rss = !process.argv.includes('--no-rss') && process.env.SHOEBOX_BENCH_RSS !== '0' } = {}) {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} does not exist: run \`npm run build\` first`)
  const info = ensureNdjsonFile(Number(process.env.BENCH_NDJSON_BYTES ?? DEFAULT_FILE_BYTES))
  log(`write: ${info.reused ? 'reusing' : 'wrote'} ${info.path} (${info.bytes} bytes, ${info.lines} lines)`)
  fs.mkdirSync(WORK, { recursive: true })
  const out = {
    [SB6]: path.join(WORK, 'shoebox-gzip6'),
    [SB1]: path.join(WORK, 'shoebox-gzip1'),
    [RFS]: path.join(WORK, 'rfs'),
    [GZ6]: path.join(WORK, 'gzip6.ndjson.gz'),
    [GZ1]: path.join(WORK, 'gzip1.ndjson.gz')
  }

  const shoeboxWrite = (name, level) => ({
    name,
    prepare: () => empty(out[name]),
    run: async () => {
      const r = check(name, await run(process.execPath, [CLI, 'write', out[name], `--gzip=${level}`, '--roll-size', ROLL], { stdinFile: info.path, cpu: cpuOf(name) }))
      const m = /shoebox write: (\d+) records/.exec(r.stderr)
      return m === null ? -1 : Number(m[1])
    }
  })
  const gzip = (name, level) => ({
    name,
    prepare: () => empty(out[name]),
    run: async () => {
      check(name, await run('gzip', [`-${level}`], { stdinFile: info.path, stdoutFile: out[name], cpu: cpuOf(name) }))
      return info.lines // counted once, after the rounds
    }
  })
  const rfs = {
    name: RFS,
    prepare: () => empty(out[RFS]),
    run: async () => {
      const r = check(RFS, await run(process.execPath, [RFS_WRITE, info.path, out[RFS]], { captureStdout: true, cpu: cpuOf(RFS) }))
      return JSON.parse(r.stdout).bytes === info.bytes ? info.lines : -1
    }
  }
  const tw = await timeRoundRobin([shoeboxWrite(SB6, 6), rfs, gzip(GZ6, 6), shoeboxWrite(SB1, 1), gzip(GZ1, 1)],
    { expected: info.lines, runs: RUNS, label: 'write ' })

  // Correctness, once, on the outputs of the last timed runs.
  log('write: checking the outputs of the last timed runs')
  const input = await digestFile(info.path)
  const outputs = {
    [SB6]: { files: filesIn(out[SB6]), content: await digestShoeboxRead(out[SB6]) },
    [SB1]: { files: filesIn(out[SB1]), content: await digestShoeboxRead(out[SB1]) },
    [RFS]: { files: filesIn(out[RFS]), content: await digestGzipFiles(filesIn(out[RFS])) },
    [GZ6]: { files: [out[GZ6]], content: await digestGzipFiles([out[GZ6]]) },
    [GZ1]: { files: [out[GZ1]], content: await digestGzipFiles([out[GZ1]]) }
  }
  const verify = {}
  for (const [name, o] of Object.entries(outputs)) {
    const same = o.content.lines === input.lines && o.content.bytes === input.bytes && o.content.sha256 === input.sha256
    if (!same) throw new Error(`${name}: output decompresses to ${JSON.stringify(o.content)}, input is ${JSON.stringify(input)}`)
    verify[name] = { files: o.files.length, compressedBytes: totalSize(o.files), lines: o.content.lines, identical: same }
  }
  log(`write: all outputs decompress to the input (${input.lines} lines, sha256 ${input.sha256.slice(0, 16)}…)`)

  // 3. Reading back what 1. wrote.
  const rfsFiles = filesIn(out[RFS])
  const tr = await timeRoundRobin([
    {
      name: SB_READ,
      run: async () => {
        check(SB_READ, await run(process.execPath, [CLI, 'read', `${out[SB6]}/*`, '--payload-only'], { cpu: cpuOf(SB_READ) }))
        return info.lines // stdout is /dev/null; the same command's output was checked above
      }
    },
    {
      name: ZCAT,
      run: async () => {
        const r = check(ZCAT, await run('bash', ['-c', 'set -o pipefail; zcat -- "${@:3}" | "$1" "$2"', 'bash', process.execPath, BASELINE_COUNT, ...rfsFiles], { captureStdout: true, cpu: cpuOf(ZCAT) }))
        return Number(r.stdout.trim())
      }
    }
  ], { expected: info.lines, runs: RUNS, label: 'read ' })

  const work = { records: info.lines, bytes: info.bytes }
  const rows = [
    row('write: `shoebox write --gzip=6 --roll-size 32MiB`', 'rotating-file-stream, compress gzip (level 6), size 32M', { ...work, shoebox: tw.get(SB6), peer: tw.get(RFS) }),
    row('write: `shoebox write --gzip=6 --roll-size 32MiB`', '`gzip -6 < in > out.gz`', { ...work, shoebox: tw.get(SB6), peer: tw.get(GZ6) }),
    row('write: `shoebox write --gzip=1 --roll-size 32MiB`', '`gzip -1 < in > out.gz`', { ...work, shoebox: tw.get(SB1), peer: tw.get(GZ1) }),
    row('read: `shoebox read \'DIR/*\' --payload-only > /dev/null`', '`zcat DIR/* \\| split2 line count` (no JSON.parse)', { ...work, shoebox: tr.get(SB_READ), peer: tr.get(ZCAT) })
  ]

  const rssRuns = []
  if (rss) {
    for (const level of [6, 1]) {
      const dir = path.join(WORK, `rss-gzip${level}`)
      empty(dir)
      log(`write: peak RSS of shoebox write --gzip=${level}`)
      rssRuns.push(await peakRss(`shoebox write --gzip=${level}`, process.execPath, [CLI, 'write', dir, `--gzip=${level}`, '--roll-size', ROLL], { stdinFile: info.path }))
      empty(dir)
    }
    log('write: peak RSS of the rotating-file-stream peer (for comparison)')
    empty(out[RFS])
    rssRuns.push(await peakRss('rotating-file-stream peer', process.execPath, [RFS_WRITE, info.path, out[RFS]], { captureStdout: true }))
  }
  // CPU time of the timed runs (the first run of each candidate was the warm-up), and cores used = CPU / wall.
  const timings = { ...Object.fromEntries(tw), ...Object.fromEntries(tr) }
  const cpu = {}
  for (const [name, all] of cpuTimes) {
    const seconds = all.slice(all.length - timings[name].seconds.length)
    const cores = seconds.map((c, i) => c / timings[name].seconds[i])
    cpu[name] = { seconds, median: median(seconds), medianCores: median(cores) }
  }
  return {
    input: { path: path.relative(path.join(HERE, '..'), info.path), bytes: info.bytes, lines: info.lines },
    runs: RUNS,
    rows,
    verify,
    cpu,
    rss: rss ? rssRuns : null,
    timings
  }
}

const passFail = (ok) => ok ? 'PASS' : 'FAIL'

/** The targets of the write/read scenarios, one Markdown list item each. */
export function writeTargets (result) {
  const [rfs, gz6, gz1, read] = result.rows
  const line = (label, r, min) => `- ${passFail(r.ratio >= min)}: ${label} >= ${min.toFixed(1)}x: ${r.ratio.toFixed(2)}x ` +
    `(fastest run against fastest run: ${r.bestRatio.toFixed(2)}x)`
  const lines = [
    line('`shoebox write --gzip=6` records/s vs rotating-file-stream (gzip)', rfs, 1.5),
    line('`shoebox write --gzip=6` MB/s vs `gzip -6`', gz6, 0.8),
    line('`shoebox write --gzip=1` MB/s vs `gzip -1`', gz1, 0.8),
    line('`shoebox read --payload-only` lines/s vs `zcat | split2` line count', read, 0.8)
  ]
  if (result.rss === null) {
    lines.push('- SKIPPED: peak RSS of `shoebox write --gzip` < 200 MB (--no-rss)')
  } else {
    for (const r of result.rss.filter((x) => x.name.startsWith('shoebox'))) {
      lines.push(`- ${passFail(r.peakRssMB < 200)}: peak RSS of \`${r.name}\` over the ${(result.input.bytes / 1e6).toFixed(0)} MB input < 200 MB: ${r.peakRssMB.toFixed(1)} MB`)
    }
  }
  return lines
}

/** Data, output sizes and RSS, as text lines. */
export function writeNotes (result) {
  const lines = [`Write input: ${result.input.path}, ${(result.input.bytes / 1e6).toFixed(1)} MB, ${result.input.lines} lines; ` +
    `median of ${result.runs} interleaved timed runs after 1 warm-up; wall time from spawn to exit. ` +
    'Every output decompressed to the input (lines, bytes, SHA-256).']
  lines.push('Outputs: ' + Object.entries(result.verify).map(([name, v]) =>
    `${name} ${v.files} file${v.files === 1 ? '' : 's'}, ${(v.compressedBytes / 1e6).toFixed(1)} MB`).join('; ') + '.')
  if (Object.keys(result.cpu ?? {}).length > 0) {
    lines.push('CPU time per run (user + sys from GNU time, children included; median) and cores used (CPU / wall, median): ' +
      Object.entries(result.cpu).map(([name, c]) => `${name} ${c.median.toFixed(2)} s, ${c.medianCores.toFixed(2)} cores`).join('; ') + '.')
  }
  if (result.rss !== null) {
    lines.push('Peak RSS (VmHWM, polled every 50 ms): ' + result.rss.map((r) =>
      `${r.name} ${r.peakRssMB.toFixed(1)} MB (${r.samples} samples, ${r.seconds.toFixed(1)} s)`).join('; ') + '.')
  }
  return lines
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runWrite()
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(result) + '\n')
  } else {
    console.log(markdownTable(result.rows))
    console.log()
    for (const line of writeNotes(result)) console.log(line)
    console.log()
    console.log('Targets:')
    for (const line of writeTargets(result)) console.log(line)
  }
}
