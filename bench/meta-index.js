/**
 * Record index benchmark (issue 11, item 7): fetching 100 records by index
 * from a ~1 GB gzip archive set must read < 1% of its bytes.
 *
 *   node bench/meta-index.js [--json] [--size=1GB] [--block-size=64KiB] [--keep]
 *
 * 1. Build the set with rollingSink: gzip (level 1, one member per flush
 *    block of `--block-size`), records of ~8 KiB of random base64 (poorly
 *    compressible, so the set reaches its size in reasonable time), files
 *    rolled at 128 MiB, until `--size` compressed bytes.
 * 2. Index it: recordIndexSource() into metaIngest() (the `meta index`
 *    path), then update() into the state db; timed once.
 * 3. Fetch: 100 uids drawn at random, their rows from the state db
 *    (md.files.get), their records by `_position` through
 *    archiveSource(pattern, { positions }); each record checked against its
 *    row. Bytes read = the source's store statistics. The peer, in the same
 *    run: reading the whole set (archiveSource of everything). Rounds
 *    interleaved (fetch, full read, order rotating), a new random draw each round.
 * 4. Unless --keep, the set and the metadir are deleted at the end.
 *
 * The member size decides the cost: a fetch reads from its member's start
 * to its record's end (32 KiB windows, doubling), so it reads about half a
 * member on average. With rollingSink's default 1 MiB blocks (~0.8 MB
 * members here) 100 fetches read ~5% of a 1 GB set; `--block-size=1MiB`
 * shows it.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { archiveSource, parseSize, rollingSink } from '../dist/index.js'
import { indexedRecords, metadir, metaIngest, parsePositionText, recordIndexSource } from '../dist/meta/index.js'
import { DATA_DIR, Prng } from './data.js'
import { log, markdownTable, median } from './util.js'

const SELF = fileURLToPath(import.meta.url)
const WORK = path.join(DATA_DIR, 'meta-index')
const FETCHES = 100
const ROUNDS = Math.max(1, Number(process.env.BENCH_META_INDEX_RUNS ?? 3))
const PAYLOAD_RANDOM_BYTES = 6144
const CONFIG = 'metadata:\n  unique: uid\n  include: [uid, kind, _archive, _position]\n  index: [kind]\n'

function arg (name, fallback) {
  const a = process.argv.slice(2).find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? fallback : a.slice(name.length + 3)
}

function dirBytes (dir) {
  return fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
}

/** Records until about `target` compressed bytes are written. */
async function buildSet (dir, target, blockSize) {
  let records = 0
  const sink = rollingSink({ dir, compress: { codec: 'gzip', level: 1 }, blockSize, roll: { size: '128MiB' }, flushInterval: 0 })
  // Base64 of random bytes compresses to ~76% with gzip: stop at the input that gives `target`.
  const rawTarget = target / 0.76
  let raw = 0
  async function * input () {
    while (raw < rawTarget) {
      const payload = randomBytes(PAYLOAD_RANDOM_BYTES).toString('base64')
      raw += payload.length + 40
      yield { metadata: { uid: `r${String(records).padStart(8, '0')}`, kind: records % 1000 === 0 ? 'rare' : 'common' }, payload }
      records++
    }
  }
  await pipeline(Readable.from(input()), sink)
  return { records, bytes: dirBytes(dir) }
}

async function fetchRound (md, pattern, uids) {
  const rows = uids.map((uid) => md.files.get(uid).data)
  const positions = rows.map((row) => parsePositionText(row._position))
  const started = process.hrtime.bigint()
  const source = archiveSource(pattern, { positions })
  let i = 0
  for await (const record of source) {
    if (record.metadata.uid !== rows[i].uid) throw new Error(`fetch ${i}: got ${record.metadata.uid}, expected ${rows[i].uid}`)
    i++
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (i !== uids.length) throw new Error(`fetched ${i} records of ${uids.length}`)
  return { seconds, bytesRead: source.stats().downloaded.bytes }
}

async function fullRound (pattern, expected) {
  const started = process.hrtime.bigint()
  const source = archiveSource(pattern)
  let n = 0
  for await (const record of source) if (record.payload.length > 0) n++
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (n !== expected) throw new Error(`full read: ${n} records, expected ${expected}`)
  return { seconds, bytesRead: source.stats().downloaded.bytes }
}

export async function runMetaIndex () {
  const target = parseSize(arg('size', '1GB'))
  const blockSize = parseSize(arg('block-size', '64KiB'))
  fs.rmSync(WORK, { recursive: true, force: true })
  const dir = path.join(WORK, 'archives')
  const base = path.join(WORK, 'md')
  fs.mkdirSync(path.join(base, '_mmmeta'), { recursive: true })
  fs.writeFileSync(path.join(base, '_mmmeta', 'config.yml'), CONFIG)
  try {
    log(`meta-index: writing ~${(target / 1e9).toFixed(2)} GB of gzip archives (block ${blockSize} bytes)...`)
    let t0 = Date.now()
    const set = await buildSet(dir, target, blockSize)
    const buildSeconds = (Date.now() - t0) / 1000
    log(`meta-index: ${set.records} records, ${(set.bytes / 1e9).toFixed(3)} GB in ${fs.readdirSync(dir).length} files, ${buildSeconds.toFixed(0)} s; indexing...`)
    const pattern = path.join(dir, '*.gz')
    t0 = Date.now()
    await pipeline(recordIndexSource(pattern, { base }), metaIngest(base))
    const md = await metadir(base)
    const updated = await md.update()
    const indexSeconds = (Date.now() - t0) / 1000
    if (updated.added !== set.records) throw new Error(`indexed ${updated.added} rows, expected ${set.records}`)
    log(`meta-index: indexed in ${indexSeconds.toFixed(0)} s; fetching ${FETCHES} records x ${ROUNDS} rounds, full read x ${ROUNDS}...`)

    // Sanity: indexedRecords (the CLI's path) gives the same records as the positions.
    const rng = new Prng(0x1d5)
    const draw = () => Array.from({ length: FETCHES }, () => `r${String(rng.int(0, set.records - 1)).padStart(8, '0')}`)
    const check = draw().slice(0, 5)
    const viaRows = []
    for await (const r of indexedRecords(check.map((uid) => md.files.get(uid).data), { base })) viaRows.push(r.metadata.uid)
    if (viaRows.join() !== check.join()) throw new Error('indexedRecords gave other records')

    const fetches = []
    const fulls = []
    for (let round = 0; round < ROUNDS; round++) {
      const uids = draw()
      if (round % 2 === 0) {
        fetches.push(await fetchRound(md, pattern, uids))
        fulls.push(await fullRound(pattern, set.records))
      } else {
        fulls.push(await fullRound(pattern, set.records))
        fetches.push(await fetchRound(md, pattern, uids))
      }
      log(`meta-index: round ${round + 1}: fetch ${fetches.at(-1).seconds.toFixed(3)} s ${fetches.at(-1).bytesRead} B; full ${fulls.at(-1).seconds.toFixed(1)} s`)
    }
    md.close()
    const fetchSeconds = median(fetches.map((f) => f.seconds))
    const fullSeconds = median(fulls.map((f) => f.seconds))
    const bytesRead = Math.max(...fetches.map((f) => f.bytesRead))
    const fullBytes = fulls[0].bytesRead
    return {
      date: new Date().toISOString(),
      loadAverage: (await import('node:os')).loadavg(),
      records: set.records,
      setBytes: set.bytes,
      files: fs.readdirSync(dir).length,
      blockSize,
      buildSeconds,
      indexSeconds,
      fetches: FETCHES,
      rounds: ROUNDS,
      fetchBytes: fetches.map((f) => f.bytesRead),
      fetchSeconds: fetches.map((f) => f.seconds),
      fullSeconds: fulls.map((f) => f.seconds),
      fullBytes,
      rows: [{
        scenario: `fetch ${FETCHES} records by index (${(set.bytes / 1e9).toFixed(2)} GB gzip set)`,
        shoeboxRps: FETCHES / fetchSeconds,
        shoeboxMBps: bytesRead / 1e6 / fetchSeconds,
        peer: 'archiveSource: whole set',
        peerRps: set.records / fullSeconds,
        peerMBps: fullBytes / 1e6 / fullSeconds,
        ratio: fullSeconds / fetchSeconds,
        bestRatio: Math.min(...fulls.map((f) => f.seconds)) / Math.min(...fetches.map((f) => f.seconds))
      }],
      bytesRead,
      share: bytesRead / set.bytes
    }
  } finally {
    if (!process.argv.includes('--keep')) fs.rmSync(WORK, { recursive: true, force: true })
  }
}

export function metaIndexNotes (r) {
  return [
    `Set: ${r.records.toLocaleString('en-US')} records (~8 KiB random base64 each), ${(r.setBytes / 1e9).toFixed(3)} GB gzip in ${r.files} files, ` +
      `blocks (members) of ${r.blockSize} bytes raw; written in ${r.buildSeconds.toFixed(0)} s, indexed (meta index + update) in ${r.indexSeconds.toFixed(0)} s.`,
    `Fetch ${r.fetches} random records, per round: ${r.fetchBytes.map((b) => `${(b / 1e6).toFixed(2)} MB`).join(', ')} read in ` +
      `${r.fetchSeconds.map((s) => s.toFixed(3)).join(', ')} s; whole set read (${(r.fullBytes / 1e9).toFixed(3)} GB) in ${r.fullSeconds.map((s) => s.toFixed(1)).join(', ')} s. ` +
      `Ratio column = whole-read time / fetch time. Load average ${r.loadAverage.map((x) => x.toFixed(1)).join(' ')}.`
  ]
}

export function metaIndexTargets (r) {
  const pf = (ok) => ok ? 'PASS' : 'FAIL'
  return [`- ${pf(r.share < 0.01)}: fetching ${r.fetches} records by index reads < 1% of a ${(r.setBytes / 1e9).toFixed(2)} GB gzip set: ` +
    `${(100 * r.share).toFixed(3)}% (${(r.bytesRead / 1e6).toFixed(2)} MB, the largest of ${r.rounds} rounds)`]
}

if (process.argv[1] === SELF) {
  const r = await runMetaIndex()
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(r))
  } else {
    console.log(markdownTable(r.rows))
    console.log()
    for (const line of metaIndexNotes(r)) console.log(line)
    console.log()
    for (const line of metaIndexTargets(r)) console.log(line)
  }
}
