/**
 * Upload benchmark (issue #4): a 1 GiB sealed-archive-sized file of random
 * bytes through `uploadSink` against a bare lib-storage `Upload` of the same
 * file, to the same in-memory S3 server (fauxqs, bench/s3-server.js, in a
 * child process of its own), with the same part size (8 MiB) and queue size
 * (4).
 *
 *   node bench/upload.js [--json] [--size=BYTES|1GiB|64MiB] [--no-etag]
 *
 * Candidates, each run as a child process of its own (bench/upload-child.js)
 * so that its peak RSS (process.resourceUsage().maxRSS) is its alone:
 *
 * - bare: `new Upload({ client, params: { Bucket, Key, Body:
 *   fs.createReadStream(file, { highWaterMark: 1 MiB }) }, partSize,
 *   queueSize, leavePartsOnError: false }).done()`
 * - shoebox: `pipeline(fs.createReadStream(file, { highWaterMark: 1 MiB }),
 *   uploadSink(openStore('s3://BUCKET', { endpoint, credentials }), key,
 *   { partSize: '8MiB', queueSize: 4 }))`, with the default verification
 *   (each part's CRC32 as sent, against the bytes written)
 * - shoebox, verify: 'etag': the same proving parts by MD5 against the ETag,
 *   for information only (--no-etag leaves it out)
 *
 * One warm-up round (the server's JIT), then BENCH_UPLOAD_RUNS (default 5)
 * timed rounds, each running every candidate once, the order rotating by one
 * every round. Seconds are measured inside the child, from opening the read
 * stream to the upload's completion (the S3 client is made before, on both
 * sides); MB/s = 10^6 bytes / s, medians. After each run the child checks
 * the stored size (HeadObject) and deletes the object, so that the server
 * does not grow. The file, bench/.data/upload-<bytes>.bin, is an AES-CTR
 * keystream (incompressible, deterministic), made once and reused.
 *
 * Env: BENCH_UPLOAD_RUNS (timed rounds, default 5, min 1), BENCH_UPLOAD_BYTES
 * (same as --size).
 */
import { spawn } from 'node:child_process'
import { createCipheriv } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseSize } from '../dist/index.js'
import { DATA_DIR } from './data.js'
import { log, markdownTable, median } from './util.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const CHILD = path.join(HERE, 'upload-child.js')
const SERVER = path.join(HERE, 's3-server.js')
const BUCKET = 'bench'
const PART_SIZE = 8 * 1024 * 1024
const QUEUE_SIZE = 4
const DEFAULT_BYTES = 1024 * 1024 * 1024
const RUNS = Math.max(1, Number(process.env.BENCH_UPLOAD_RUNS ?? 5))
const RSS_LIMIT_MB = 200
const MIN_RATIO = 0.9
const CHILD_ENV = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }

export const BARE = 'lib-storage Upload (bare)'
export const SHOEBOX = 'uploadSink'
export const ETAG_MODE = "uploadSink, verify: 'etag'"
const MODES = { [BARE]: 'bare', [SHOEBOX]: 'shoebox', [ETAG_MODE]: 'shoebox-etag' }

/** bench/.data/upload-<bytes>.bin: an AES-128-CTR keystream of a fixed key (random-looking, deterministic). */
export function ensureUploadFile (bytes) {
  const file = path.join(DATA_DIR, `upload-${bytes}.bin`)
  if (fs.existsSync(file) && fs.statSync(file).size === bytes) return { path: file, bytes, reused: true }
  fs.mkdirSync(DATA_DIR, { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 0x5e), Buffer.alloc(16, 0xed))
  const zeros = Buffer.alloc(4 * 1024 * 1024)
  const fd = fs.openSync(tmp, 'w')
  try {
    for (let left = bytes; left > 0;) {
      const n = Math.min(left, zeros.length)
      fs.writeSync(fd, cipher.update(n === zeros.length ? zeros : zeros.subarray(0, n)))
      left -= n
    }
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  return { path: file, bytes, reused: false }
}

/** Start bench/s3-server.js; resolves to { endpoint, pid, stop }. It exits when its stdin closes. */
function startServer () {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER, BUCKET], { stdio: ['pipe', 'pipe', 'inherit'], env: CHILD_ENV })
    let out = ''
    const onData = (s) => {
      out += s
      const nl = out.indexOf('\n')
      if (nl === -1) return
      child.stdout.off('data', onData)
      child.off('exit', onEarlyExit)
      const { endpoint } = JSON.parse(out.slice(0, nl))
      const exited = new Promise((resolve) => { child.once('exit', resolve) })
      resolve({
        endpoint,
        pid: child.pid,
        stop: async () => { child.stdin.end(); await exited }
      })
    }
    const onEarlyExit = (code) => { reject(new Error(`bench/s3-server.js exited with ${code} before printing its endpoint`)) }
    child.stdout.setEncoding('utf8').on('data', onData)
    child.once('error', reject)
    child.once('exit', onEarlyExit)
  })
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuSecondsOf (pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN
  }
}

function runChild (mode, endpoint, key, file) {
  return new Promise((resolve, reject) => {
    const args = [CHILD, mode, endpoint, BUCKET, key, file, `--part-size=${PART_SIZE}`, `--queue-size=${QUEUE_SIZE}`]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: CHILD_ENV })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (s) => { out += s })
    child.stderr.setEncoding('utf8').on('data', (s) => { err += s })
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`upload-child ${mode} exited with ${code ?? signal}: ${err.trim().slice(0, 2000)}`))
      resolve(JSON.parse(out.trim().split('\n').pop()))
    })
  })
}

export async function runUpload ({ bytes = parseSize(process.argv.find((a) => a.startsWith('--size='))?.slice(7) ?? process.env.BENCH_UPLOAD_BYTES ?? DEFAULT_BYTES, '--size'), withEtag = !process.argv.includes('--no-etag') } = {}) {
  if (!fs.existsSync(path.join(HERE, '..', 'dist', 'index.js'))) throw new Error('dist/index.js does not exist: run `npm run build` first')
  const info = ensureUploadFile(bytes)
  log(`upload: ${info.reused ? 'reusing' : 'wrote'} ${info.path} (${info.bytes} bytes)`)
  const names = withEtag ? [BARE, SHOEBOX, ETAG_MODE] : [BARE, SHOEBOX]
  const results = new Map(names.map((n) => [n, []]))
  const loadStart = os.loadavg()
  const server = await startServer()
  log(`upload: fauxqs at ${server.endpoint} (pid ${server.pid})`)
  try {
    const warmup = 1
    for (let round = 0; round < warmup + RUNS; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length])
      const parts = []
      for (const name of order) {
        const serverCpu0 = cpuSecondsOf(server.pid)
        const r = await runChild(MODES[name], server.endpoint, `upload-bench/${MODES[name]}-${round}.bin`, info.path)
        r.serverCpuSeconds = cpuSecondsOf(server.pid) - serverCpu0
        if (r.bytes !== info.bytes) throw new Error(`${name}: uploaded ${r.bytes} bytes, expected ${info.bytes}`)
        if (round >= warmup) results.get(name).push(r)
        parts.push(`${name} ${(r.bytes / 1e6 / r.seconds).toFixed(0)} MB/s ${(r.maxRssKiB / 1024).toFixed(0)} MiB`)
      }
      log(`upload round ${round + 1}/${warmup + RUNS}${round < warmup ? ' (warm-up)' : ''}: ${parts.join(', ')}`)
    }
  } finally {
    await server.stop()
  }

  const summary = {}
  for (const [name, runs] of results) {
    const seconds = runs.map((r) => r.seconds)
    const rssMB = runs.map((r) => r.maxRssKiB * 1024 / 1e6)
    const cpu = runs.map((r) => r.cpu.user + r.cpu.system)
    summary[name] = {
      seconds,
      median: median(seconds),
      best: Math.min(...seconds),
      mbps: info.bytes / 1e6 / median(seconds),
      rssMB,
      maxRssMB: Math.max(...rssMB),
      cpuMedian: median(cpu),
      cpuNsPerByte: median(cpu) * 1e9 / info.bytes,
      cores: median(runs.map((r, i) => cpu[i] / r.seconds)),
      serverCores: median(runs.map((r) => r.serverCpuSeconds / r.seconds))
    }
  }
  const rowOf = (scenario, s, p) => ({
    scenario,
    shoeboxRps: NaN,
    shoeboxMBps: s.mbps,
    peer: `lib-storage \`Upload\` of the same file (8 MiB parts, queue 4), maxRSS ${p.maxRssMB.toFixed(0)} MB`,
    peerRps: NaN,
    peerMBps: p.mbps,
    ratio: p.median / s.median,
    bestRatio: p.best / s.best
  })
  const rows = [rowOf(`upload: \`uploadSink\` 8MiB x 4, parts verified (CRC32), maxRSS ${summary[SHOEBOX].maxRssMB.toFixed(0)} MB`, summary[SHOEBOX], summary[BARE])]
  if (withEtag) rows.push(rowOf(`upload: \`uploadSink\` 8MiB x 4, verify: 'etag' (MD5/part, information), maxRSS ${summary[ETAG_MODE].maxRssMB.toFixed(0)} MB`, summary[ETAG_MODE], summary[BARE]))
  return {
    input: { path: path.relative(path.join(HERE, '..'), info.path), bytes: info.bytes },
    partSize: PART_SIZE,
    queueSize: QUEUE_SIZE,
    runs: RUNS,
    loadavg: { start: loadStart, end: os.loadavg() },
    cores: os.availableParallelism(),
    rows,
    summary
  }
}

const passFail = (ok) => ok ? 'PASS' : 'FAIL'

/** The targets of issue #4, one Markdown list item each. */
export function uploadTargets (result) {
  const r = result.rows[0]
  const sb = result.summary[SHOEBOX]
  const gb = (result.input.bytes / 1024 ** 3).toFixed(result.input.bytes % 1024 ** 3 === 0 ? 0 : 2)
  return [
    `- ${passFail(r.ratio >= MIN_RATIO)}: \`uploadSink\` MB/s (parts verified) vs bare lib-storage \`Upload\`, ${gb} GiB, 8 MiB x 4 >= ${MIN_RATIO.toFixed(1)}x: ` +
      `${r.ratio.toFixed(2)}x (fastest run against fastest run: ${r.bestRatio.toFixed(2)}x)`,
    `- ${passFail(sb.maxRssMB < RSS_LIMIT_MB)}: peak RSS of the \`uploadSink\` process < ${RSS_LIMIT_MB} MB: ${sb.maxRssMB.toFixed(1)} MB (highest of ${sb.rssMB.length} runs)`
  ]
}

/** Data, per-run figures and CPU, as text lines. */
export function uploadNotes (result) {
  const lines = [`Upload input: ${result.input.path}, ${(result.input.bytes / 1e6).toFixed(1)} MB of random bytes (AES-CTR keystream); ` +
    `part size ${result.partSize / 1024 ** 2} MiB, queue size ${result.queueSize}; median of ${result.runs} interleaved timed runs after 1 warm-up, ` +
    'each candidate in a child process of its own, timed inside it from opening the file to the upload\'s completion; ' +
    'server: fauxqs (in memory) in another process on the same machine. Every stored object had the file\'s size.']
  lines.push('Per candidate: ' + Object.entries(result.summary).map(([name, s]) =>
    `${name} ${s.mbps.toFixed(1)} MB/s (runs ${s.seconds.map((x) => x.toFixed(2)).join(', ')} s), ` +
    `maxRSS ${s.rssMB.map((x) => x.toFixed(0)).join('/')} MB, CPU ${s.cpuMedian.toFixed(2)} s (${s.cpuNsPerByte.toFixed(2)} ns/B) = ${s.cores.toFixed(2)} cores, server ${s.serverCores.toFixed(2)} cores`).join('; ') + '.')
  lines.push('CPU = the uploading process\'s user + system time (process.cpuUsage, module loading excluded), medians; ' +
    'server = fauxqs\'s CPU over the same run / the run\'s seconds. The machine has ' + result.cores + ' cores; ' +
    `load average (1, 5, 15 min) at the start ${result.loadavg.start.map((x) => x.toFixed(2)).join(', ')}, at the end ${result.loadavg.end.map((x) => x.toFixed(2)).join(', ')} ` +
    '(other work on the machine slows the candidates unevenly).')
  return lines
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runUpload()
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(result) + '\n')
  } else {
    console.log(markdownTable(result.rows))
    console.log()
    for (const line of uploadNotes(result)) console.log(line)
    console.log()
    console.log('Targets:')
    for (const line of uploadTargets(result)) console.log(line)
  }
}
