/**
 * zstd benchmark (issue 12): `shoebox write --zstd` against `shoebox write
 * --gzip=6` and `zstd -1 -T2`, reading the zstd archives back against
 * `zstd -dc | split2`, and writing zstd archives straight to the test S3
 * server. All child processes, over the same ~200 MB event NDJSON file as
 * bench/write.js (bench/data.js, ensureNdjsonFile).
 *
 *   node bench/zstd.js [--json]
 *
 * 1. Writers, interleaved round-robin (order rotating every round):
 *    `shoebox write DIR --zstd --roll-size 32MiB < in.ndjson` (the default
 *    level, 1), `shoebox write DIR --gzip=6 --roll-size 32MiB < in.ndjson`,
 *    `zstd -1 -T2 -c < in.ndjson > out.zst` and, for information (the
 *    default level is 1), `shoebox write DIR --zstd=3`. MB/s of NDJSON input;
 *    compression ratio = NDJSON bytes / bytes written.
 * 2. Readers: `shoebox read 'DIR/*' --payload-only > /dev/null` over the
 *    files of the last timed `--zstd` run, against `zstd -dc out.zst | node
 *    bench/baseline-split2-count.js` over the last `zstd -1 -T2` output
 *    (split2 line count, no JSON.parse, as bench/write.js's zcat peer).
 * 3. Upload: `shoebox write DIR --zstd --roll-size 32MiB --to
 *    s3://bench/RUN --endpoint URL < in.ndjson` (the command ends once every
 *    sealed file is uploaded) to fauxqs (bench/s3-server.js, a process of
 *    its own), against `zstd -1 -T2` alone again, interleaved; the objects
 *    are checked against the local files (count, sizes) and deleted after
 *    each run. Peak RSS is GNU time's %M of the shoebox process.
 *
 * Times are wall time from spawn to exit. Every candidate runs under GNU time
 * (/usr/bin/time, required here) for its CPU seconds and peak RSS. After the
 * write rounds, each output is decompressed once (shoebox's through
 * `shoebox read --payload-only`) and must match the input's line count, byte
 * count and SHA-256.
 *
 * Env: BENCH_ZSTD_RUNS (timed runs, default 5, min 3), BENCH_NDJSON_BYTES
 * (default 200e6).
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI } from './cli.js'
import { DATA_DIR, DEFAULT_FILE_BYTES, ensureNdjsonFile } from './data.js'
import { log, markdownTable, median, row, timeRoundRobin } from './util.js'
import { GNU_TIME, timedRunner } from './timed-child.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const BASELINE_COUNT = path.join(HERE, 'baseline-split2-count.js')
const SERVER = path.join(HERE, 's3-server.js')
const WORK = path.join(DATA_DIR, 'zstd')
const RUNS = Math.max(3, Number(process.env.BENCH_ZSTD_RUNS ?? 5))
const ROLL = '32MiB'
const BUCKET = 'bench'
const RSS_LIMIT_MB = 200
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_REGION: 'us-east-1' }
const CHILD_ENV = { ...process.env, ...CREDENTIALS, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }

const SBZ = 'shoebox write --zstd'
const SBZ3 = 'shoebox write --zstd=3'
const SBG = 'shoebox write --gzip=6'
const ZSTD1 = 'zstd -1 -T2'
const SB_READ = 'shoebox read --payload-only (zstd)'
const ZSTD_DC = 'zstd -dc | split2 count'
const SB_UP = 'shoebox write --zstd --to s3://'

const { run, usage } = timedRunner({ dir: WORK, env: CHILD_ENV })

const empty = (p) => fs.rmSync(p, { recursive: true, force: true })
/** The archive files of `dir` (not the uploader's dot-file markers). */
const filesIn = (dir) => fs.readdirSync(dir).filter((f) => !f.startsWith('.')).sort().map((f) => path.join(dir, f))
const totalSize = (files) => files.reduce((n, f) => n + fs.statSync(f).size, 0)
const recordsWritten = (stderr) => Number(/shoebox write: (\d+) records/.exec(stderr)?.[1] ?? -1)

/** Lines, bytes and SHA-256 of a command's stdout. */
async function digestOf (name, cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s })
  const closed = new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve(code ?? signal))
  })
  const hash = createHash('sha256')
  let lines = 0
  let bytes = 0
  for await (const buf of child.stdout) {
    hash.update(buf)
    bytes += buf.length
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++
  }
  const code = await closed
  if (code !== 0) throw new Error(`${name} exited with ${code}: ${stderr.trim().slice(0, 2000)}`)
  return { lines, bytes, sha256: hash.digest('hex') }
}

/** CPU seconds (user + sys) a process has used so far, from /proc (Linux), else NaN. */
function processCpu (pid) {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop().split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return NaN
  }
}

/** Start bench/s3-server.js; resolves to { endpoint, cpu, stop }: cpu() is its CPU seconds so far. It exits when its stdin closes. */
function startServer () {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER, BUCKET], { stdio: ['pipe', 'pipe', 'inherit'], env: CHILD_ENV })
    let out = ''
    const onExit = (code) => { reject(new Error(`bench/s3-server.js exited with ${code} before printing its endpoint`)) }
    child.stdout.setEncoding('utf8').on('data', function onData (s) {
      out += s
      if (!out.includes('\n')) return
      child.stdout.off('data', onData)
      child.off('exit', onExit)
      const exited = new Promise((resolve) => { child.once('exit', resolve) })
      resolve({ endpoint: JSON.parse(out.slice(0, out.indexOf('\n'))).endpoint, cpu: () => processCpu(child.pid), stop: async () => { child.stdin.end(); await exited } })
    })
    child.once('error', reject)
    child.once('exit', onExit)
  })
}

export async function runZstd () {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} does not exist: run \`npm run build\` first`)
  if (!fs.existsSync(GNU_TIME)) throw new Error(`${GNU_TIME} (GNU time) is needed for CPU time and peak RSS`)
  const info = ensureNdjsonFile(Number(process.env.BENCH_NDJSON_BYTES ?? DEFAULT_FILE_BYTES))
  log(`zstd: ${info.reused ? 'reusing' : 'wrote'} ${info.path} (${info.bytes} bytes, ${info.lines} lines)`)
  fs.mkdirSync(WORK, { recursive: true })
  const loadStart = os.loadavg()
  const out = {
    [SBZ]: path.join(WORK, 'shoebox-zstd'),
    [SBZ3]: path.join(WORK, 'shoebox-zstd3'),
    [SBG]: path.join(WORK, 'shoebox-gzip6'),
    [ZSTD1]: path.join(WORK, 'zstd1.ndjson.zst'),
    [SB_UP]: path.join(WORK, 'shoebox-upload')
  }
  const shoeboxWrite = (name, flags) => ({
    name,
    prepare: () => empty(out[name]),
    run: async () => recordsWritten((await run(name, process.execPath, [CLI, 'write', out[name], ...flags, '--roll-size', ROLL], { stdinFile: info.path })).stderr)
  })
  const zstdCli = {
    name: ZSTD1,
    prepare: () => empty(out[ZSTD1]),
    run: async () => {
      await run(ZSTD1, 'zstd', ['-1', '-T2', '-q', '-c'], { stdinFile: info.path, stdoutFile: out[ZSTD1] })
      return info.lines // checked once, after the rounds
    }
  }

  // 1. Writers.
  const tw = await timeRoundRobin([shoeboxWrite(SBZ, ['--zstd']), shoeboxWrite(SBG, ['--gzip=6']), zstdCli, shoeboxWrite(SBZ3, ['--zstd=3'])],
    { expected: info.lines, runs: RUNS, label: 'zstd write ' })

  log('zstd: checking the outputs of the last timed runs')
  const input = await digestOf('sha256sum', 'cat', [info.path])
  const outputs = {
    [SBZ]: { files: filesIn(out[SBZ]), content: await digestOf(SBZ, process.execPath, [CLI, 'read', `${out[SBZ]}/*`, '--payload-only']) },
    [SBZ3]: { files: filesIn(out[SBZ3]), content: await digestOf(SBZ3, process.execPath, [CLI, 'read', `${out[SBZ3]}/*`, '--payload-only']) },
    [SBG]: { files: filesIn(out[SBG]), content: await digestOf(SBG, process.execPath, [CLI, 'read', `${out[SBG]}/*`, '--payload-only']) },
    [ZSTD1]: { files: [out[ZSTD1]], content: await digestOf(ZSTD1, 'zstd', ['-dc', out[ZSTD1]]) }
  }
  const verify = {}
  for (const [name, o] of Object.entries(outputs)) {
    const c = o.content
    if (c.lines !== input.lines || c.bytes !== input.bytes || c.sha256 !== input.sha256) {
      throw new Error(`${name}: output decompresses to ${JSON.stringify(c)}, input is ${JSON.stringify(input)}`)
    }
    const compressedBytes = totalSize(o.files)
    verify[name] = { files: o.files.length, compressedBytes, ratio: info.bytes / compressedBytes }
  }
  log(`zstd: all outputs decompress to the input (${input.lines} lines, sha256 ${input.sha256.slice(0, 16)}…)`)

  // 2. Readers, over what 1. wrote last.
  const tr = await timeRoundRobin([
    {
      name: SB_READ,
      run: async () => {
        await run(SB_READ, process.execPath, [CLI, 'read', `${out[SBZ]}/*`, '--payload-only'])
        return info.lines // stdout is /dev/null; the same command's output was checked above
      }
    },
    {
      name: ZSTD_DC,
      run: async () => {
        const r = await run(ZSTD_DC, 'bash', ['-c', 'set -o pipefail; zstd -dcq -- "$3" | "$1" "$2"', 'bash', process.execPath, BASELINE_COUNT, out[ZSTD1]], { captureStdout: true })
        return Number(r.stdout.trim())
      }
    }
  ], { expected: info.lines, runs: RUNS, label: 'zstd read ' })

  // 3. Straight to the test S3 server, against zstd -1 -T2 alone again.
  const server = await startServer()
  log(`zstd: fauxqs at ${server.endpoint}`)
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const { S3Client, ListObjectsV2Command, DeleteObjectsCommand } = await import('@aws-sdk/client-s3')
  const client = new S3Client({ endpoint: server.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } })
  const uploaded = { objects: 0, bytes: 0 }
  /** fauxqs's CPU seconds per upload run, warm-up included (dropped below). */
  const serverCpu = []
  let tu
  try {
    let round = 0
    tu = await timeRoundRobin([
      {
        name: SB_UP,
        prepare: () => empty(out[SB_UP]),
        run: async () => {
          const prefix = `zstd-${round++}`
          const cpuBefore = server.cpu()
          const r = await run(SB_UP, process.execPath, [CLI, 'write', out[SB_UP], '--zstd', '--roll-size', ROLL, '--to', `s3://${BUCKET}/${prefix}`, '--endpoint', server.endpoint], { stdinFile: info.path })
          // Every sealed file is on the server, byte for byte as long; then the objects go, so the server does not grow.
          const listed = (await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }))).Contents ?? []
          const local = filesIn(out[SB_UP])
          const remote = new Map(listed.map((o) => [path.basename(o.Key), o.Size]))
          for (const f of local) {
            if (remote.get(path.basename(f)) !== fs.statSync(f).size) throw new Error(`${SB_UP}: ${path.basename(f)} is not on the server with its ${fs.statSync(f).size} bytes (listed: ${JSON.stringify([...remote])})`)
          }
          if (listed.length !== local.length) throw new Error(`${SB_UP}: ${listed.length} objects on the server, ${local.length} files written`)
          // The server's CPU for the run (the listing above included: one request).
          serverCpu.push(server.cpu() - cpuBefore)
          uploaded.objects = listed.length
          uploaded.bytes = totalSize(local)
          if (listed.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: listed.map((o) => ({ Key: o.Key })) } }))
          return recordsWritten(r.stderr)
        }
      },
      { ...zstdCli, name: `${ZSTD1} (upload round)`, run: async () => { await run(`${ZSTD1} (upload round)`, 'zstd', ['-1', '-T2', '-q', '-c'], { stdinFile: info.path, stdoutFile: out[ZSTD1] }); return info.lines } }
    ], { expected: info.lines, runs: RUNS, label: 'zstd upload ' })
  } finally {
    client.destroy()
    await server.stop()
  }

  const work = { records: info.lines, bytes: info.bytes }
  const rows = [
    row('write: `shoebox write --zstd --roll-size 32MiB`', '`shoebox write --gzip=6 --roll-size 32MiB`', { ...work, shoebox: tw.get(SBZ), peer: tw.get(SBG) }),
    row('write: `shoebox write --zstd --roll-size 32MiB`', '`zstd -1 -T2 < in > out.zst`', { ...work, shoebox: tw.get(SBZ), peer: tw.get(ZSTD1) }),
    row('write: `shoebox write --zstd=3 --roll-size 32MiB` (information: level 3)', '`zstd -1 -T2 < in > out.zst`', { ...work, shoebox: tw.get(SBZ3), peer: tw.get(ZSTD1) }),
    row('read: `shoebox read \'DIR/*\' --payload-only > /dev/null` (zstd files)', '`zstd -dc out.zst \\| split2 line count` (no JSON.parse)', { ...work, shoebox: tr.get(SB_READ), peer: tr.get(ZSTD_DC) }),
    row('upload: `shoebox write --zstd --roll-size 32MiB --to s3://…` (fauxqs)', '`zstd -1 -T2 < in > out.zst` (same rounds)', { ...work, shoebox: tu.get(SB_UP), peer: tu.get(`${ZSTD1} (upload round)`) })
  ]
  const timings = { ...Object.fromEntries(tw), ...Object.fromEntries(tr), ...Object.fromEntries(tu) }
  const resources = {}
  for (const [name, u] of usage) {
    const n = timings[name].seconds.length
    const cpu = u.cpu.slice(u.cpu.length - n)
    const rssMB = u.rssMB.slice(u.rssMB.length - n)
    resources[name] = { cpu, cpuMedian: median(cpu), cores: median(cpu.map((c, i) => c / timings[name].seconds[i])), maxRssMB: Math.max(...rssMB) }
  }
  return {
    input: { path: path.relative(path.join(HERE, '..'), info.path), bytes: info.bytes, lines: info.lines },
    runs: RUNS,
    cores: os.availableParallelism(),
    loadavg: { start: loadStart, end: os.loadavg() },
    rows,
    verify,
    uploaded,
    serverCpu: serverCpu.slice(serverCpu.length - tu.get(SB_UP).seconds.length),
    resources,
    timings
  }
}

const passFail = (ok) => ok ? 'PASS' : 'FAIL'

/** The targets of issue 12, one Markdown list item each. */
export function zstdTargets (result) {
  const [vsGzip, vsZstd, , read, upload] = result.rows
  const line = (label, r, min) => `- ${passFail(r.ratio >= min)}: ${label} >= ${min.toFixed(1)}x: ${r.ratio.toFixed(2)}x ` +
    `(fastest run against fastest run: ${r.bestRatio.toFixed(2)}x)`
  const size = result.verify[SBZ].ratio / result.verify[SBG].ratio
  const rss = result.resources[SB_UP].maxRssMB
  return [
    line('`shoebox write --zstd` MB/s vs `shoebox write --gzip=6`', vsGzip, 4),
    `- ${passFail(size >= 0.9)}: \`shoebox write --zstd\` compression ratio vs \`shoebox write --gzip=6\`'s >= 0.9x: ${size.toFixed(3)}x ` +
      `(${result.verify[SBZ].ratio.toFixed(2)} against ${result.verify[SBG].ratio.toFixed(2)}, NDJSON bytes / bytes written)`,
    line('`shoebox write --zstd` MB/s vs `zstd -1 -T2`', vsZstd, 0.6),
    line('`shoebox read` (zstd files) lines/s vs `zstd -dc | split2` line count', read, 0.8),
    line('`shoebox write --zstd --to s3://` (NDJSON -> zstd archives -> test S3 server) MB/s vs `zstd -1 -T2` alone', upload, 0.5),
    `- ${passFail(rss < RSS_LIMIT_MB)}: peak RSS of \`shoebox write --zstd --to s3://\` < ${RSS_LIMIT_MB} MB: ${rss.toFixed(1)} MB (highest of the timed runs)`
  ]
}

/** Data, sizes, CPU and load, as text lines. */
export function zstdNotes (result) {
  return [
    `zstd input: ${result.input.path}, ${(result.input.bytes / 1e6).toFixed(1)} MB, ${result.input.lines} lines; ` +
      `median of ${result.runs} interleaved timed runs after 1 warm-up, rotating order; wall time from spawn to exit. ` +
      'Every output decompressed to the input (lines, bytes, SHA-256); every upload run\'s objects matched its files\' sizes.',
    'Outputs (compression ratio = NDJSON bytes / bytes written): ' + Object.entries(result.verify).map(([name, v]) =>
      `${name} ${v.files} file${v.files === 1 ? '' : 's'}, ${(v.compressedBytes / 1e6).toFixed(1)} MB, ratio ${v.ratio.toFixed(2)}`).join('; ') +
      `; uploaded per run: ${result.uploaded.objects} objects, ${(result.uploaded.bytes / 1e6).toFixed(1)} MB.`,
    'CPU (user + sys, GNU time, children included; median), cores (CPU / wall) and peak RSS (GNU time %M, highest): ' +
      Object.entries(result.resources).map(([name, r]) => `${name} ${r.cpuMedian.toFixed(2)} s, ${r.cores.toFixed(2)} cores, ${r.maxRssMB.toFixed(0)} MB`).join('; ') + '.' +
      ` The S3 server (fauxqs, its own process on the same cores) per upload run: ${median(result.serverCpu).toFixed(2)} CPU s (median).`,
    `${result.cores} cores; load average (1, 5, 15 min) at the start ${result.loadavg.start.map((x) => x.toFixed(2)).join(', ')}, ` +
      `at the end ${result.loadavg.end.map((x) => x.toFixed(2)).join(', ')}.`
  ]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runZstd()
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(result) + '\n')
  } else {
    console.log(markdownTable(result.rows))
    console.log()
    for (const line of zstdNotes(result)) console.log(line)
    console.log()
    console.log('Targets:')
    for (const line of zstdTargets(result)) console.log(line)
  }
}
