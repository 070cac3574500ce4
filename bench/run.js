/**
 * The benchmark suite: bench/codec.js, bench/cli.js, bench/write.js, bench/upload.js, bench/startup.js, then bench/meta.js, bench/events.js, bench/zstd.js,
 * bench/meta-index.js and bench/many-files.js,
 * each in its own child process (so none's heap or JIT state colours the
 * others), then the Markdown tables, the data sizes, the RSS lines and the
 * targets, on stdout. Progress goes to stderr. `npm run bench` builds first,
 * then runs this. Each part also runs alone: `node bench/<part>.js`.
 *
 *   node bench/run.js [--no-rss] [--only=codec,cli,write,upload,startup,meta,events,zstd,meta-index,many-files] [--objects=N (meta)] [--events=N (events)]
 *
 * The raw results are also written to bench/.data/last-run.json.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { DATA_DIR } from './data.js'
import { markdownTable } from './util.js'
import { sizesLine } from './codec.js'
import { rssLine } from './cli.js'
import { writeNotes, writeTargets } from './write.js'
import { uploadNotes, uploadTargets } from './upload.js'
import { startupTable, startupTargets } from './startup.js'
import { metaNotes, metaTargets } from './meta.js'
import { eventsNotes, eventsTargets } from './events.js'
import { zstdNotes, zstdTargets } from './zstd.js'
import { metaIndexNotes, metaIndexTargets } from './meta-index.js'
import { manyFilesNotes, manyFilesTable, manyFilesTargets } from './many-files.js'
import { checksumImplementation } from '../dist/checksum.js'
import { nativeRecords } from '../dist/native.js'
import { loadZstd } from '../dist/compress/zstd-loader.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))

function runJson (args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (s) => { out += s })
    child.once('error', reject)
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`node ${args.join(' ')} exited with ${code}`))
      const last = out.trim().split('\n').pop()
      try {
        resolve(JSON.parse(last))
      } catch (err) {
        reject(new Error(`node ${args.join(' ')} printed no JSON result: ${err.message}`))
      }
    })
  })
}

const passFail = (ok) => ok ? 'PASS' : 'FAIL'

function targets (codec, cli) {
  const find = (rows, scenario, peer) => rows?.find((r) => r.scenario.startsWith(scenario) && r.peer.startsWith(peer))
  const lines = []
  const check = (label, r, min) => {
    if (r === undefined) return
    lines.push(`- ${passFail(r.ratio >= min)}: ${label} >= ${min.toFixed(1)}x: ${r.ratio.toFixed(2)}x ` +
      `(fastest run against fastest run: ${r.bestRatio.toFixed(2)}x)`)
  }
  check('encode (ArchiveEncoder) records/s vs avsc BlockEncoder', find(codec?.rows, 'encode: ArchiveEncoder', 'avsc'), 1)
  check('encode (encode() stream, one record per write) records/s vs avsc BlockEncoder (one record per write)',
    find(codec?.rows, 'encode: encode() stream, one record per write', 'avsc'), 1.2)
  check('encode (encode() stream, arrays of 1000) records/s vs avsc BlockEncoder', find(codec?.rows, 'encode: encode() stream, arrays', 'avsc'), 1)
  check('decode (decode() stream) records/s vs avsc BlockDecoder', find(codec?.rows, 'decode: decode() stream', 'avsc'), 1)
  if (cli !== null) {
    check('`shoebox encode` CLI MB/s vs split2(JSON.parse) baseline', cli.rows[0], 2)
    if (cli.rss !== null) {
      lines.push(`- ${passFail(cli.rss.peakRssMB < 150)}: peak RSS of \`shoebox encode\` over 2 GB < 150 MB: ${cli.rss.peakRssMB.toFixed(1)} MB`)
    } else {
      lines.push('- SKIPPED: peak RSS of `shoebox encode` over 2 GB < 150 MB (--no-rss)')
    }
  }
  return lines
}

const PARTS = ['codec', 'cli', 'write', 'upload', 'startup', 'meta', 'events', 'zstd', 'meta-index', 'many-files']
const onlyArg = process.argv.slice(2).find((a) => a.startsWith('--only='))
const parts = onlyArg === undefined ? PARTS : onlyArg.slice('--only='.length).split(',')
for (const p of parts) if (!PARTS.includes(p)) throw new Error(`--only: unknown part '${p}' (parts: ${PARTS.join(', ')})`)
const noRss = process.argv.slice(2).filter((a) => a === '--no-rss')
const objects = process.argv.slice(2).filter((a) => a.startsWith('--objects='))
const eventsArgs = process.argv.slice(2).filter((a) => a.startsWith('--events='))

const codec = parts.includes('codec') ? await runJson(['--expose-gc', path.join(HERE, 'codec.js'), '--json']) : null
const cli = parts.includes('cli') ? await runJson([path.join(HERE, 'cli.js'), '--json', ...noRss]) : null
const write = parts.includes('write') ? await runJson([path.join(HERE, 'write.js'), '--json', ...noRss]) : null
const upload = parts.includes('upload') ? await runJson([path.join(HERE, 'upload.js'), '--json']) : null
const startup = parts.includes('startup') ? await runJson([path.join(HERE, 'startup.js'), '--json']) : null
const meta = parts.includes('meta') ? await runJson([path.join(HERE, 'meta.js'), '--json', ...objects]) : null
const events = parts.includes('events') ? await runJson([path.join(HERE, 'events.js'), '--json', ...eventsArgs]) : null
const zstd = parts.includes('zstd') ? await runJson([path.join(HERE, 'zstd.js'), '--json']) : null
const sizeArgs = process.argv.slice(2).filter((a) => a.startsWith('--size=') || a.startsWith('--block-size='))
const metaIndex = parts.includes('meta-index') ? await runJson([path.join(HERE, 'meta-index.js'), '--json', ...sizeArgs]) : null
const manyFiles = parts.includes('many-files') ? await runJson([path.join(HERE, 'many-files.js'), '--json']) : null

fs.mkdirSync(DATA_DIR, { recursive: true })
fs.writeFileSync(path.join(DATA_DIR, 'last-run.json'), JSON.stringify({ date: new Date().toISOString(), node: process.version, codec, cli, write, upload, startup, meta, events, zstd, metaIndex, manyFiles }, null, 2) + '\n')

if (codec !== null || cli !== null) {
  console.log(markdownTable([...(codec?.rows ?? []), ...(cli?.rows ?? [])]))
  console.log()
  if (codec !== null) console.log(sizesLine(codec.sizes))
  if (cli !== null) {
    console.log(`CLI input: ${cli.input.path}, ${(cli.input.bytes / 1e6).toFixed(1)} MB, ${cli.input.lines} lines; CLI MB/s = MB of NDJSON input / s, spawn to exit.`)
    console.log(rssLine(cli.rss))
  }
  console.log()
}
if (write !== null) {
  console.log(markdownTable(write.rows))
  console.log()
  for (const line of writeNotes(write)) console.log(line)
  console.log()
}
if (upload !== null) {
  console.log(markdownTable(upload.rows))
  console.log()
  for (const line of uploadNotes(upload)) console.log(line)
  console.log()
}
if (startup !== null) {
  console.log(startupTable(startup))
  console.log()
}
if (meta !== null) {
  console.log(markdownTable(meta.rows))
  console.log()
  for (const line of metaNotes(meta)) console.log(line)
  console.log()
}
if (events !== null) {
  console.log(markdownTable(events.rows))
  console.log()
  for (const line of eventsNotes(events)) console.log(line)
  console.log()
}
if (zstd !== null) {
  console.log(markdownTable(zstd.rows))
  console.log()
  for (const line of zstdNotes(zstd)) console.log(line)
  console.log()
}
if (metaIndex !== null) {
  console.log(markdownTable(metaIndex.rows))
  console.log()
  for (const line of metaIndexNotes(metaIndex)) console.log(line)
  console.log()
}
if (manyFiles !== null) {
  console.log(manyFilesTable(manyFiles))
  console.log()
  for (const line of manyFilesNotes(manyFiles)) console.log(line)
  console.log()
}
// Which code did the work: the encoder's speed depends on whether the native part was built, zstd's on the backend.
console.log(`Checksums: ${checksumImplementation()}; native slab functions (native/record_crc.c): ${nativeRecords() !== null ? 'in use' : 'not in use (not built, or SHOEBOX_NATIVE=0)'}; zstd: ${(await loadZstd())?.name ?? 'none'} (SHOEBOX_ZSTD=${process.env.SHOEBOX_ZSTD ?? 'auto'}).`)
console.log()
console.log('Targets:')
for (const line of targets(codec, cli)) console.log(line)
if (write !== null) for (const line of writeTargets(write)) console.log(line)
if (upload !== null) for (const line of uploadTargets(upload)) console.log(line)
if (startup !== null) for (const line of startupTargets(startup)) console.log(line)
if (meta !== null) for (const line of metaTargets(meta)) console.log(line)
if (events !== null) for (const line of eventsTargets(events)) console.log(line)
if (zstd !== null) for (const line of zstdTargets(zstd)) console.log(line)
if (metaIndex !== null) for (const line of metaIndexTargets(metaIndex)) console.log(line)
if (manyFiles !== null) for (const line of manyFilesTargets(manyFiles)) console.log(line)
