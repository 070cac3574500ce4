/**
 * The durability acceptance test. A child process writes numbered records
 * through rollingSink and prints sink.flushedRecords after every flush; the
 * parent SIGKILLs it at a random moment, recovers the directory and reads
 * every archive back in natural name order. What comes back must be exactly
 * records 0..k-1 (no gap, no duplicate, nothing damaged) with k at least the
 * last count the child printed. With gzip and zstd a kill often lands with
 * writes in flight (file-chain.ts: blocks queued behind a write go out
 * together in the next): still a gap-free prefix, never a frame after a hole.
 * Then many writers share one directory with colliding names: nothing lost,
 * nothing doubled.
 *
 * The children run the writer fixture and the library sources, transpiled
 * once at the start (buildWriter), with plain node: a child on the
 * TypeScript loader spends seconds compiling before it writes anything.
 * Runs go several at a time.
 */
import t from 'tap'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { decompressStages } from '../../lib/compress/codecs.js'
import { decode, recoverDirectory, type RecoveredFile, type ShoeboxRecord } from '../../lib/index.js'
import { feed } from '../../lib/stream/deliver-then-fail.js'
import {
  archiveNames, buildWriter, readDir, seqOf, spawnWriter, tempDir, tempNames, within, type Child, type Teardown, type WriterOptions
} from '../fixtures-roll/util.js'

const RUNS_PER_MODE = 20
const PARALLEL = 4

const writer = buildWriter(tempDir(t, 'shoebox-writer-'))

/** Lines a child prints, as they arrive (only whole lines). */
function lines (child: Child, onLine: (line: string) => void): void {
  let rest = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n')
    rest = parts.pop() ?? ''
    for (const line of parts) onLine(line)
  })
}

function stderrOf (child: Child): () => string {
  let text = ''
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => { text += chunk })
  return () => text
}

/** Run `jobs` with at most `limit` at a time, results in order. */
async function pool<T> (jobs: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(jobs.length)
  let next = 0
  async function worker (): Promise<void> {
    while (next < jobs.length) {
      const i = next++
      results[i] = await jobs[i]()
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker))
  return results
}

interface KillRun {
  run: string
  killAfterMs: number
  /** The last flushedRecords the child printed before it died. */
  printed: number
  /** Records read back after recovery. */
  k: number
  files: number
  recovered: RecoveredFile[]
  /** Everything wrong with this run (empty when it passed). */
  problems: string[]
}

type Mode = 'plain' | 'gzip' | 'zstd'

/** Every sealed archive in `dir` (any codec), read strictly in natural name order. */
async function readBack (dir: string): Promise<{ names: string[], records: ShoeboxRecord[] }> {
  const names = archiveNames(dir)
  const records: ShoeboxRecord[] = []
  for (const name of names) {
    const file = path.join(dir, name)
    for await (const r of feed(fs.createReadStream(file), ...(await decompressStages({ file })), decode({ file }))) records.push(r as ShoeboxRecord)
  }
  return { names, records }
}

async function killRun (t: Teardown, mode: Mode, index: number, base: string): Promise<KillRun> {
  const dir = path.join(base, `${mode}-${index}`)
  const options: WriterOptions = {
    dir,
    gzip: mode === 'gzip',
    zstd: mode === 'zstd',
    // {"seq":n} compresses very well: a smaller compressed size still rolls files.
    rollSize: mode === 'plain' ? '64KiB' : '16KiB',
    flushInterval: 20,
    blockSize: '16KiB',
    batch: 50,
    pauseMs: 1
  }
  const child = spawnWriter(t, writer, options)
  const stderr = stderrOf(child)
  const killAfterMs = 50 + Math.floor(Math.random() * 551)
  let printed = -1
  let timer: ReturnType<typeof setTimeout> | undefined
  lines(child, (line) => {
    const m = /^f (\d+)$/.exec(line)
    if (m === null) return
    printed = Number(m[1])
    timer ??= setTimeout(() => { child.kill('SIGKILL') }, killAfterMs)
  })
  const [code, signal] = await within(once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>, 60_000, 'the writer')
  clearTimeout(timer)
  const run = `${mode} #${index} (killed ${killAfterMs} ms after its first flush)`
  const problems: string[] = []
  if (signal !== 'SIGKILL') problems.push(`the writer was not killed but ended: code ${code}, signal ${signal}: ${stderr()}`)
  if (printed < 0) problems.push('the writer never flushed')

  const recovered = await recoverDirectory(dir)
  let seqs: number[] = []
  let files = 0
  try {
    const back = await readBack(dir)
    seqs = back.records.map(seqOf)
    files = back.names.length
  } catch (err) {
    problems.push(`strict decode failed after recovery: ${String(err)}`)
  }
  const k = seqs.length
  const firstWrong = seqs.findIndex((s, i) => s !== i)
  if (firstWrong >= 0) problems.push(`record ${firstWrong} read back is seq ${seqs[firstWrong]}: not a gap-free, duplicate-free prefix`)
  if (k < printed) problems.push(`only ${k} records survived, but ${printed} were reported flushed`)
  const temps = tempNames(dir)
  if (temps.length > 0) problems.push(`temporary files left after recovery: ${temps.join(', ')}`)
  const empty = archiveNames(dir).filter((n) => fs.statSync(path.join(dir, n)).size === 0)
  if (empty.length > 0) problems.push(`0-byte files: ${empty.join(', ')}`)
  const damaged = recovered.filter((r) => r.damaged)
  if (damaged.length > 0) problems.push(`recovery found damage (a kill only tears the end): ${damaged.map((r) => r.temp).join(', ')}`)
  if (mode === 'gzip' && archiveNames(dir).some((n) => !n.endsWith('.gz'))) problems.push('a gzip file without .gz')
  if (mode === 'zstd' && archiveNames(dir).some((n) => !n.endsWith('.zst'))) problems.push('a zstd file without .zst')
  fs.rmSync(dir, { recursive: true, force: true })
  return { run, killAfterMs, printed, k, files, recovered, problems }
}

t.test('SIGKILL at a random moment: recovery gives back exactly 0..k-1, with k >= the last flushedRecords printed', async (t) => {
  const base = tempDir(t, 'shoebox-kill-')
  const jobs: Array<() => Promise<KillRun>> = []
  for (let i = 0; i < RUNS_PER_MODE; i++) {
    jobs.push(() => killRun(t, 'plain', i, base))
    jobs.push(() => killRun(t, 'gzip', i, base))
    jobs.push(() => killRun(t, 'zstd', i, base))
  }
  const runs = await pool(jobs, PARALLEL)
  t.equal(runs.length, 3 * RUNS_PER_MODE)
  t.same(runs.filter((r) => r.problems.length > 0).map((r) => `${r.run}: ${r.problems.join('; ')}`), [], 'every run passes')
  for (const mode of ['plain', 'gzip', 'zstd']) {
    const mine = runs.filter((r) => r.run.startsWith(mode))
    t.ok(mine.every((r) => r.k > 0), `${mode}: every run left records`)
    t.ok(mine.some((r) => r.files > 1), `${mode}: files rolled`)
    t.ok(mine.some((r) => r.recovered.some((f) => f.path !== null && f.records > 0)),
      `${mode}: some runs left a file in progress that recovery sealed`)
  }
  t.comment(runs.map((r) => `${r.run}: printed ${r.printed}, read back ${r.k} in ${r.files} files, ` +
    `recovered ${r.recovered.map((f) => `${f.records}r-${f.bytesDropped}B`).join(',') || 'nothing'}`).join('\n'))
})

t.test('many writers, one directory, colliding names: the union read back is the union written', async (t) => {
  const dir = tempDir(t, 'shoebox-many-')
  const writers = 4
  const total = 1500
  const children = Array.from({ length: writers }, (_, w) => spawnWriter(t, writer, {
    dir,
    writer: w,
    total,
    rollRecords: 50,
    template: 'c_%Y%m%d_%H%M.shoebox',
    flushInterval: 20,
    batch: 10,
    pauseMs: 1,
    waitForGo: true
  }))
  const stderr = children.map(stderrOf)
  const ready = children.map((child) => new Promise<void>((resolve) => { lines(child, (line) => { if (line === 'ready') resolve() }) }))
  const done = children.map((child) => new Promise<string[]>((resolve) => {
    const seen: string[] = []
    lines(child, (line) => { seen.push(line) })
    child.on('close', () => { resolve(seen) })
  }))
  // Start writing together, so the writers really do collide.
  await within(Promise.all(ready), 60_000, 'the writers to start')
  for (const child of children) child.stdin.end('go\n')
  const outputs = await within(Promise.all(done), 60_000, 'the writers to finish')
  t.same(outputs.map((o, w) => (o.includes('done') ? '' : `writer ${w} did not finish: ${stderr[w]()}`)), Array(writers).fill(''), 'all writers finished')

  const back = readDir(dir)
  const written = new Set<string>()
  for (let w = 0; w < writers; w++) for (let n = 0; n < total; n++) written.add(`${w}:${n}`)
  const read = back.records.map((r) => `${r.metadata.w}:${seqOf(r)}`)
  t.equal(read.length, writers * total, 'as many records as written: nothing doubled')
  t.same(new Set(read), written, 'the same records as written: nothing lost')
  t.equal(back.names.length, writers * total / 50, 'one file per 50 records: none overwritten')
  t.ok(back.names.filter((n) => /^c_\d{8}_\d{4}_\d+\.shoebox$/.test(n)).length >= writers * total / 50 - 2,
    'names did collide: almost every file has an alternative name (c_<date>_<minute>_<n>.shoebox)')
  // Each file is one writer's 50 consecutive records.
  const mixed = back.files.filter((records) => {
    const w = records[0].metadata.w
    const first = seqOf(records[0])
    return records.length !== 50 || first % 50 !== 0 || records.some((r, i) => r.metadata.w !== w || seqOf(r) !== first + i)
  })
  t.equal(mixed.length, 0, "each file holds one writer's 50 consecutive records")
  t.same(tempNames(dir), [])
})
