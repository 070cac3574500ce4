/**
 * A generate stopped while it replays the history stops there (between two
 * batches of rows), not once the whole history is replayed: nothing written,
 * the scratch db removed, the lock released. Through metaIngest() destroyed
 * at the first skipped row's report (a hook, no timing), and through
 * `shoebox meta generate` sent SIGINT once it has begun to replay the first of
 * many history files (exit 130), as squash-signal.test.ts does for squash.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { pathToFileURL } from 'node:url'
import type { HistoryProblem } from '../../lib/meta/history.js'
import { listHistoryFiles } from '../../lib/meta/history.js'
import { metaIngest } from '../../lib/meta/ingest.js'
import { ndjsonSource } from '../../lib/meta/sources.js'
import { publishLockPath } from '../../lib/meta/publish-lock.js'
import { cliBinary, cliEnv } from '../fixtures-s3/cli-build.js'
import { tempDir } from '../temp-dir.js'
import { historyWithSkippedRows, metadirListing } from './replay-history.js'

t.test('metaIngest(): destroyed during the replay, it stops at the next batch, not after the last file', async (t) => {
  const dir = historyWithSkippedRows(t, 20, 10, 'shoebox-generate-signal-')
  const before = metadirListing(dir)
  const sink = metaIngest(dir, { fsync: false })
  const told: string[] = []
  sink.on('history-problem', (p: HistoryProblem) => { told.push(path.basename(p.file)); sink.destroy(new Error('stopped by the test')) })
  const err = await new Promise<unknown>((resolve) => sink.once('error', resolve))
  await new Promise<void>((resolve) => { if (sink.closed) resolve(); else sink.once('close', () => { resolve() }) })
  t.match(err, { message: 'stopped by the test' }, 'the destroy\'s error alone')
  // The old code replayed all 20 files (20 reports) and only then saw the destroy.
  t.same(told, ['2026-01-01T00:00:00.000000.append'], 'the replay stopped after the first file\'s batch')
  t.same(metadirListing(dir), before, 'nothing written, no scratch db left')
  t.notOk(fs.existsSync(publishLockPath(dir)), 'the lock released')
})

t.test('shoebox meta generate: SIGINT during the replay stops it there: exit 130, nothing written, the lock released', async (t) => {
  // 40 files of 5,000 rows: the replay takes a while after the first file is opened.
  const files = 40
  const dir = historyWithSkippedRows(t, files, 5000, 'shoebox-generate-signal-')
  const before = metadirListing(dir)
  // generate says nothing while it replays: a preload says each history file the child opens to replay.
  const preload = path.join(tempDir(t, 'shoebox-generate-preload-'), 'opens.mjs')
  fs.writeFileSync(preload, [
    "import fs from 'node:fs'",
    "import { syncBuiltinESMExports } from 'node:module'",
    'const original = fs.createReadStream',
    'const seen = new Set()',
    'fs.createReadStream = function (file, ...rest) {',
    '  // The first open reads the header (the key count checked before any replay); the second is the replay.',
    "  if (String(file).endsWith('.append') && seen.has(String(file))) process.stderr.write(`replaying ${String(file).split('/').pop()}\\n`)",
    '  seen.add(String(file))',
    '  return original.call(this, file, ...rest)',
    '}',
    'syncBuiltinESMExports()'
  ].join('\n'))
  const child = spawn(process.execPath, ['--import', pathToFileURL(preload).href, cliBinary(), 'meta', 'generate', '--metadir', dir, '--ndjson', '-'], { stdio: ['pipe', 'pipe', 'pipe'], env: cliEnv() })
  // One object, and stdin kept open: the input has not ended, so a signal stops the run.
  child.stdin.write(JSON.stringify({ content_hash: 'new', title: 'one' }) + '\n')
  let stderr = ''
  let signalled = false
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString()
    // Once the replay has begun (it has opened the first history file to replay it).
    if (!signalled && stderr.includes('replaying ')) {
      signalled = true
      child.kill('SIGINT')
    }
  })
  child.stdout.resume()
  const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => { resolve([c, s]) }))
  child.stdin.destroy()
  t.ok(signalled, 'the replay began')
  t.same([code, sig], [130, null], stderr)
  const lines = stderr.split('\n').filter((l) => l !== '')
  t.equal(lines.at(-1), 'shoebox meta generate: interrupted by SIGINT; nothing written, the meta db is as it was')
  const replayed = lines.filter((l) => l.startsWith('replaying '))
  // The old code replayed every file (40 lines) before it looked at the signal.
  t.ok(replayed.length < files, `the replay stopped before the last file (${replayed.length} of ${files} files begun)`)
  t.same(metadirListing(dir), before, 'no diff file, no scratch db or lock file left')
  t.same((await listHistoryFiles(dir)).length, files)
})

t.test('ndjsonSource(): destroyed before its input\'s first byte, it lets the input go', async (t) => {
  const input = new PassThrough()
  const source = ndjsonSource(input, '-')
  // Its first bytes are awaited (are they compressed?) once its stages have loaded.
  await new Promise((resolve) => setTimeout(resolve, 50))
  const closed = new Promise<void>((resolve) => { source.once('close', () => { resolve() }) })
  source.destroy()
  await closed
  // The old code kept reading it: a pipe that stayed quiet kept the process alive.
  t.ok(input.destroyed, 'the input is destroyed with it')
})

t.test('shoebox meta generate --ndjson -: SIGINT before stdin\'s first byte ends the run, stdin still open', async (t) => {
  const dir = historyWithSkippedRows(t, 1, 10, 'shoebox-generate-signal-')
  const before = metadirListing(dir)
  const child = spawn(process.execPath, [cliBinary(), 'meta', 'generate', '--metadir', dir, '--ndjson', '-'], { stdio: ['pipe', 'pipe', 'pipe'], env: cliEnv() })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  child.stdout.resume()
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => { resolve([c, s]) }))
  // Once it holds the lock (its sink has started), and nothing written to stdin, which stays open.
  while (!fs.existsSync(publishLockPath(dir)) && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 20))
  child.kill('SIGINT')
  // The old code said its line, then waited for stdin to be written or closed: this wait ended at tap's timeout.
  const [code, sig] = await exited
  child.stdin.destroy()
  t.same([code, sig], [130, null], stderr)
  // The history's skipped row is a line of its own when the replay reached it before the signal (skipped-line.ts).
  t.equal(stderr.replace(/^skipped .*: line 2: no value for the unique key 'content_hash'\n/m, ''), 'shoebox meta generate: interrupted by SIGINT; nothing written, the meta db is as it was\n')
  t.same(metadirListing(dir), before, 'no diff file, no scratch db or lock file left')
})
