/**
 * Metadir benchmark (issue 11): ingesting N metadata objects (NDJSON, ~400 B
 * each: scraped-document metadata with nested publisher/source keys) into
 * a fresh metadir and merging them into its state db, against a plain
 * better-sqlite3 bulk insert of the same flattened rows; the peak RSS of
 * each child; and the latency of a query by an indexed key.
 *
 *   node bench/meta.js [--json] [--objects=N]
 *
 * 1. shoebox: `shoebox meta generate --metadir DIR --ndjson FILE` (a fresh
 *    metadir holding only config.yml), then `shoebox meta update --metadir
 *    DIR`: two child processes, timed together from the first spawn to the
 *    second exit. The peer: `node bench/meta.js --peer FILE DB SCHEMA`, one
 *    child that reads the same file with split2, JSON.parse()s and flattens
 *    each line (`parent:child` keys, the config's int/timestamp columns
 *    typed as the state db stores them) and inserts every row into a fresh
 *    WAL database in ONE transaction, into a table created by the very
 *    CREATE TABLE/CREATE INDEX statements of shoebox's state db `files`
 *    table (same columns, same indexes), then checkpoints and closes it.
 *    Interleaved rounds, order rotating (util.js timeRoundRobin).
 * 2. Peak RSS of every child: GNU time's maximum resident set size (%M,
 *    the kernel's ru_maxrss, exact, not sampled) when /usr/bin/time is
 *    installed, else VmHWM from /proc/<pid>/status polled every 50 ms.
 *    The largest over every run (the untimed first one included) is
 *    reported, per child.
 * 3. Query: `md.files.find({ foreign_id })` (an indexed key, one row each)
 *    on the state db of the last shoebox run, in this process, 1000 times
 *    over ids spread through the data: median and p99 in ms. Also
 *    `md.files.count({ document_type })` (an indexed key, ~1/8 of the rows)
 *    and the spawn-to-exit time of `shoebox meta query foreign_id=X`, for
 *    reference (mostly Node's start-up).
 *
 * Env: BENCH_META_RUNS (timed rounds, default 3), BENCH_META_OBJECTS
 * (default 100000; --objects=N wins).
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLI } from './cli.js'
import { DATA_DIR, Prng } from './data.js'
import { log, markdownTable, median, row, timeRoundRobin } from './util.js'

const SELF = fileURLToPath(import.meta.url)
const WORK = path.join(DATA_DIR, 'meta')
const RUNS = Math.max(1, Number(process.env.BENCH_META_RUNS ?? 3))
const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null
const RSS_METHOD = GNU_TIME !== null ? 'GNU time %M (ru_maxrss)' : 'VmHWM polled every 50 ms'
const QUERIES = 1000
/** Bump when the generator changes, so cached files are rebuilt. */
const GENERATOR_VERSION = 1

export const CONFIG_YML = `metadata:
  unique: content_hash
  file_name: file_name
  required: [foreign_id, published_at]
  types:
    published_at: timestamp
    retrieved_at: timestamp
    pages: int
    size: int
  index: [foreign_id, document_type, published_at]
`
/** The config's typed columns, as the peer converts them. */
const INT_KEYS = new Set(['pages', 'size'])
const TIMESTAMP_KEYS = new Set(['published_at', 'retrieved_at'])

const TYPES = ['contract', 'invoice', 'letter', 'report', 'minutes', 'tender', 'decision', 'notice']
const PUBLISHERS = ['Stadt Köln', 'Bezirksamt Mitte', 'Landkreis Görlitz', 'Gemeinde Übersee', 'Ministerium für Finanzen', 'Amt Süderbrarup']
const WORDS = ('vertrag rahmenvertrag lieferung leistung gebäude reinigung straße sanierung beschaffung software lizenz ' +
  'wartung beratung gutachten planung bau los ausschreibung vergabe änderung nachtrag kita schule brücke').split(' ')

const pad = (n, w) => String(n).padStart(w, '0')
function isoAt (ms) { return new Date(ms).toISOString().slice(0, 19) + 'Z' }

/** Object i: deterministic (the same i gives the same object), ~400 bytes as JSON. */
function metaObject (rng, i) {
  const published = Date.UTC(2020, 0, 1) + rng.int(0, 6 * 365 * 86400) * 1000
  const type = rng.pick(TYPES)
  const hash = rng.hex(40)
  const words = Array.from({ length: rng.int(2, 5) }, () => rng.pick(WORDS)).join(' ')
  return {
    content_hash: hash,
    foreign_id: `doc-${pad(i, 8)}`,
    file_name: `${type}/${pad(i, 8)}.pdf`,
    document_type: type,
    title: words[0].toUpperCase() + words.slice(1),
    published_at: isoAt(published),
    retrieved_at: isoAt(published + rng.int(3600, 30 * 86400) * 1000),
    pages: rng.int(1, 400),
    size: rng.int(10_000, 20_000_000),
    language: rng.chance(0.9) ? 'de' : 'en',
    publisher: { name: rng.pick(PUBLISHERS), 'registry-id': pad(rng.int(0, 99999), 5) },
    source: { url: `https://example.org/d/${i}`, 'crawl-id': rng.hex(8) }
  }
}

/** bench/.data/meta-<n>.ndjson, written once and reused. */
export function ensureMetaFile (n) {
  fs.mkdirSync(DATA_DIR, { recursive: true })
  const file = path.join(DATA_DIR, `meta-${n}.ndjson`)
  const stamp = `${file}.v${GENERATOR_VERSION}`
  if (fs.existsSync(file) && fs.existsSync(stamp)) return { path: file, bytes: fs.statSync(file).size, lines: n, reused: true }
  const rng = new Prng(0x3e7a)
  const fd = fs.openSync(file, 'w')
  let bytes = 0
  let batch = ''
  for (let i = 0; i < n; i++) {
    batch += JSON.stringify(metaObject(rng, i)) + '\n'
    if (batch.length > 1 << 20 || i === n - 1) {
      bytes += fs.writeSync(fd, batch)
      batch = ''
    }
  }
  fs.closeSync(fd)
  fs.writeFileSync(stamp, '')
  return { path: file, bytes, lines: n, reused: false }
}

/** Spawn a child; with GNU time, its peak RSS from %M; else VmHWM polled. Resolves to { code, stdout, stderr, rssKiB }. */
function runChild (args, { cwd } = {}) {
  const timeFile = path.join(WORK, `.time-${process.pid}`)
  const [cmd, argv] = GNU_TIME !== null
    ? [GNU_TIME, ['-f', '%M', '-o', timeFile, process.execPath, ...args]]
    : [process.execPath, args]
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd })
    let stdout = ''
    let stderr = ''
    let hwm = 0
    const timer = GNU_TIME !== null
      ? null
      : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))
          if (m !== null) hwm = Math.max(hwm, Number(m[1]))
        } catch {
          // exited: the last sample stands
        }
      }, 50)
    child.stdout.setEncoding('utf8').on('data', (s) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s) => { stderr += s })
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (timer !== null) clearInterval(timer)
      if (GNU_TIME !== null) {
        const text = fs.existsSync(timeFile) ? fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop() : ''
        fs.rmSync(timeFile, { force: true })
        hwm = Number(text)
      }
      if (code !== 0) return reject(new Error(`node ${args.join(' ')} exited with ${code ?? signal}: ${stderr.trim().slice(0, 2000)}`))
      resolve({ code, stdout, stderr, rssKiB: hwm })
    })
  })
}

const freshMetadir = (dir) => {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(path.join(dir, '_mmmeta'), { recursive: true })
  fs.writeFileSync(path.join(dir, '_mmmeta', 'config.yml'), CONFIG_YML)
}

/** `files` and its indexes, as shoebox's state db created them. */
function stateSchema (Database, dbFile) {
  const db = new Database(dbFile, { readonly: true })
  try {
    return db.prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'files' AND sql IS NOT NULL ORDER BY type DESC, name").all().map((r) => r.sql)
  } finally {
    db.close()
  }
}

/** The peer, in its own process: split2 + JSON.parse + flatten + one-transaction insert. */
async function peer (ndjson, dbFile, schemaFile) {
  const { default: Database } = await import('better-sqlite3')
  const { default: split2 } = await import('split2')
  const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8'))
  for (const f of [dbFile, dbFile + '-wal', dbFile + '-shm']) fs.rmSync(f, { force: true })
  const db = new Database(dbFile)
  db.pragma('journal_mode = WAL')
  for (const sql of schema) db.exec(sql)
  const columns = db.prepare('PRAGMA table_info(files)').all().map((c) => c.name)
  const at = new Map(columns.map((c, i) => [c, i]))
  const insert = db.prepare(`INSERT INTO files (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`)
  const flatInto = (cells, obj, prefix) => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix + k.replaceAll('-', '_')
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) { flatInto(cells, v, key + ':'); continue }
      const i = at.get(key)
      if (i === undefined) continue
      cells[i] = TIMESTAMP_KEYS.has(key)
        ? v.slice(0, 10) + ' ' + v.slice(11, 19) + '.000000'
        : INT_KEYS.has(key) ? v : (typeof v === 'string' ? v : JSON.stringify(v))
    }
  }
  let n = 0
  db.exec('BEGIN')
  for await (const line of fs.createReadStream(ndjson, { highWaterMark: 1 << 16 }).pipe(split2())) {
    if (line === '') continue
    const cells = new Array(columns.length).fill(null)
    flatInto(cells, JSON.parse(line), '')
    insert.run(cells)
    n++
  }
  db.exec('COMMIT')
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  process.stdout.write(JSON.stringify({ rows: n }) + '\n')
}

const SB = 'shoebox meta generate + update'
const PEER = 'better-sqlite3 bulk insert, one transaction'

export async function runMeta ({ objects }) {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} does not exist: run \`npm run build\` first`)
  const { default: Database } = await import('better-sqlite3')
  const info = ensureMetaFile(objects)
  log(`meta: ${info.reused ? 'reusing' : 'wrote'} ${info.path} (${info.bytes} bytes, ${info.lines} objects, ${(info.bytes / info.lines).toFixed(0)} B each)`)
  fs.mkdirSync(WORK, { recursive: true })
  const dir = path.join(WORK, 'metadir')
  const stateDb = path.join(dir, '_mmmeta', 'state.db')
  const peerDb = path.join(WORK, 'peer.db')
  const schemaFile = path.join(WORK, 'schema.json')
  const rss = { generate: [], update: [], peer: [] }
  const counts = {}

  const shoebox = async () => {
    const g = await runChild([CLI, 'meta', 'generate', '--metadir', dir, '--ndjson', info.path, '--json'])
    const u = await runChild([CLI, 'meta', 'update', '--metadir', dir, '--json'])
    rss.generate.push(g.rssKiB)
    rss.update.push(u.rssKiB)
    counts.generate = JSON.parse(g.stdout)
    counts.update = JSON.parse(u.stdout)
    return counts.update.added === counts.generate.added ? counts.generate.added : -1
  }
  // An untimed first run gives the peer its schema (the state db's own).
  log('meta: untimed first run (the schema for the peer)')
  freshMetadir(dir)
  await shoebox()
  fs.writeFileSync(schemaFile, JSON.stringify(stateSchema(Database, stateDb)))

  const t = await timeRoundRobin([
    { name: SB, prepare: () => freshMetadir(dir), run: shoebox },
    {
      name: PEER,
      run: async () => {
        const r = await runChild([SELF, '--peer', info.path, peerDb, schemaFile])
        rss.peer.push(r.rssKiB)
        return JSON.parse(r.stdout).rows
      }
    }
  ], { expected: info.lines, runs: RUNS, warmup: 0, label: 'meta ' })
  const peerRows = new Database(peerDb, { readonly: true })
  const sbRows = new Database(stateDb, { readonly: true })
  const same = peerRows.prepare('SELECT count(*) AS n FROM files').get().n === sbRows.prepare('SELECT count(*) AS n FROM files').get().n
  peerRows.close()
  sbRows.close()
  if (!same) throw new Error('meta: the peer and shoebox hold different row counts')

  const query = await queryLatency(dir, info.lines)
  const dbBytes = fs.statSync(stateDb).size
  const historyBytes = fs.readdirSync(path.join(dir, '_mmmeta', 'db')).reduce((s, f) => s + fs.statSync(path.join(dir, '_mmmeta', 'db', f)).size, 0)
  return {
    objects: info.lines,
    inputBytes: info.bytes,
    runs: RUNS,
    rows: [row(`ingest + update, ${info.lines.toLocaleString('en-US')} objects`, PEER, { records: info.lines, bytes: info.bytes, shoebox: t.get(SB), peer: t.get(PEER) })],
    seconds: { shoebox: t.get(SB).seconds, peer: t.get(PEER).seconds },
    rssMethod: RSS_METHOD,
    peakRssMB: Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, Math.max(...v) * 1024 / 1e6])),
    counts,
    stateDbBytes: dbBytes,
    historyBytes,
    query
  }
}

async function queryLatency (dir, n) {
  const { metadir } = await import('../dist/meta/index.js')
  const md = await metadir(dir)
  try {
    const findMs = []
    for (let q = 0; q < QUERIES; q++) {
      const id = `doc-${pad(Math.floor((q * 7919 + 13) % n), 8)}`
      const t0 = performance.now()
      const rows = []
      for await (const f of md.files.find({ foreign_id: id })) rows.push(f)
      findMs.push(performance.now() - t0)
      if (rows.length !== 1) throw new Error(`meta: find({ foreign_id: ${id} }) gave ${rows.length} rows`)
    }
    const countMs = []
    let counted = 0
    for (let q = 0; q < 40; q++) {
      const t0 = performance.now()
      counted += await md.files.count({ document_type: TYPES[q % TYPES.length] })
      countMs.push(performance.now() - t0)
    }
    if (counted !== 5 * n) throw new Error(`meta: count({ document_type }) over 5 rounds of ${TYPES.length} types gave ${counted}, expected ${5 * n}`)
    const cliMs = []
    for (let q = 0; q < 5; q++) {
      const t0 = performance.now()
      const r = await runChild([CLI, 'meta', 'query', '--metadir', dir, `foreign_id=doc-${pad(q * 101, 8)}`])
      cliMs.push(performance.now() - t0)
      if (r.stdout.trim().split('\n').length !== 1) throw new Error('meta: shoebox meta query printed other than one row')
    }
    const sorted = [...findMs].sort((a, b) => a - b)
    return {
      findMedianMs: median(findMs),
      findP99Ms: sorted[Math.floor(sorted.length * 0.99)],
      queries: QUERIES,
      countMedianMs: median(countMs),
      cliMedianMs: median(cliMs)
    }
  } finally {
    md.close()
  }
}

export function metaNotes (r) {
  const mb = (x) => `${x.toFixed(1)} MB`
  return [
    `Input: ${r.objects.toLocaleString('en-US')} objects, ${(r.inputBytes / 1e6).toFixed(1)} MB NDJSON (${(r.inputBytes / r.objects).toFixed(0)} B each); ` +
      `${r.runs} interleaved rounds; history ${(r.historyBytes / 1e6).toFixed(1)} MB, state db ${(r.stateDbBytes / 1e6).toFixed(1)} MB.`,
    `Per run (s): shoebox ${r.seconds.shoebox.map((s) => s.toFixed(1)).join(', ')}; peer ${r.seconds.peer.map((s) => s.toFixed(1)).join(', ')}.`,
    `Peak RSS (${r.rssMethod}, largest of all runs): generate ${mb(r.peakRssMB.generate)}, update ${mb(r.peakRssMB.update)}, peer ${mb(r.peakRssMB.peer)}.`,
    `Query find({ foreign_id }) (indexed, 1 row): median ${r.query.findMedianMs.toFixed(2)} ms, p99 ${r.query.findP99Ms.toFixed(2)} ms over ${r.query.queries}; ` +
      `count({ document_type }) (indexed, ~1/8 of rows): median ${r.query.countMedianMs.toFixed(1)} ms; ` +
      `\`shoebox meta query foreign_id=X\` spawn to exit: median ${r.query.cliMedianMs.toFixed(0)} ms.`
  ]
}

export function metaTargets (r) {
  const pf = (ok) => ok ? 'PASS' : 'FAIL'
  const [x] = r.rows
  const rssMax = Math.max(r.peakRssMB.generate, r.peakRssMB.update)
  const at = r.objects >= 1_000_000 ? '' : ` (measured at ${r.objects.toLocaleString('en-US')} objects; the target is for 1M)`
  return [
    `- ${pf(x.ratio >= 0.5)}: metadir ingest + update objects/s vs better-sqlite3 bulk insert >= 0.5x: ${x.ratio.toFixed(2)}x (fastest run against fastest run: ${x.bestRatio.toFixed(2)}x)`,
    `- ${pf(rssMax < 300)}: peak RSS of \`shoebox meta generate\` / \`update\` < 300 MB: ${rssMax.toFixed(1)} MB${at}`,
    `- ${pf(r.query.findMedianMs < 10)}: query by an indexed key < 10 ms: median ${r.query.findMedianMs.toFixed(2)} ms`
  ]
}

if (process.argv[1] === SELF) {
  const args = process.argv.slice(2)
  if (args[0] === '--peer') {
    await peer(args[1], args[2], args[3])
  } else {
    const objectsArg = args.find((a) => a.startsWith('--objects='))
    const objects = Number(objectsArg?.slice('--objects='.length) ?? process.env.BENCH_META_OBJECTS ?? 100_000)
    if (!Number.isInteger(objects) || objects < 1000) throw new Error('--objects: an integer >= 1000')
    const r = await runMeta({ objects })
    if (args.includes('--json')) {
      process.stdout.write(JSON.stringify(r) + '\n')
    } else {
      console.log(markdownTable(r.rows))
      console.log()
      for (const line of metaNotes(r)) console.log(line)
      console.log()
      for (const line of metaTargets(r)) console.log(line)
    }
  }
}
