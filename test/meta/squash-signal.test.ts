/**
 * A squash stopped while it replays the history stops there (between two
 * batches of rows), not once the whole history is replayed: nothing written,
 * the scratch db removed, the lock released. Through squashHistory()'s
 * signal, aborted by the first skipped row's report (a hook, no timing), and
 * through `shoebox meta squash` sent SIGINT once it has said it skipped a
 * row of the first of many files (exit 130).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { listHistoryFiles } from '../../lib/meta/history.js'
import { publishLockPath } from '../../lib/meta/publish-lock.js'
import { squashHistory } from '../../lib/meta/squash.js'
import { cliBinary, cliEnv } from '../fixtures-s3/cli-build.js'
import { historyWithSkippedRows, metadirListing } from './replay-history.js'

t.test('squashHistory(): aborted during the replay, it stops at the next batch, not after the last file', async (t) => {
  const dir = historyWithSkippedRows(t, 20, 10, 'shoebox-squash-signal-')
  const before = metadirListing(dir)
  const controller = new AbortController()
  const told: string[] = []
  const err = await squashHistory(dir, {
    fsync: false,
    signal: controller.signal,
    onProblem: (p) => { told.push(path.basename(p.file)); controller.abort(new Error('stopped by the test')) }
  }).catch((e: unknown) => e)
  t.match(err, { code: 'SHOEBOX_ABORTED', message: 'stopped by the test; nothing written, the meta db is as it was' })
  // The old code replayed all 20 files (20 reports) and only then saw the abort.
  t.same(told, ['2026-01-01T00:00:00.000000.append'], 'the replay stopped after the first file\'s batch')
  t.same(metadirListing(dir), before, 'nothing written, no scratch db left')
  t.notOk(fs.existsSync(publishLockPath(dir)), 'the lock released')
  const done = await squashHistory(dir, { fsync: false })
  t.equal(done.rows, 200, 'a squash after it replays everything')
})

t.test('shoebox meta squash: SIGINT during the replay stops it there: exit 130, nothing written, the lock released', async (t) => {
  // 40 files of 5,000 rows: the replay takes a while after the first file's skipped row is said.
  const files = 40
  const dir = historyWithSkippedRows(t, files, 5000, 'shoebox-squash-signal-')
  const before = metadirListing(dir)
  const child = spawn(process.execPath, [cliBinary(), 'meta', 'squash', '--metadir', dir, '--prune'], { stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv() })
  let stderr = ''
  let signalled = false
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString()
    // Once the replay has begun (it has said the first file's skipped row).
    if (!signalled && stderr.includes('skipped ')) {
      signalled = true
      child.kill('SIGINT')
    }
  })
  child.stdout.resume()
  const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => { resolve([c, s]) }))
  t.ok(signalled, 'the replay began')
  t.same([code, sig], [130, null], stderr)
  const lines = stderr.split('\n').filter((l) => l !== '')
  t.equal(lines.at(-1), 'shoebox meta squash: interrupted by SIGINT; nothing written, the meta db is as it was')
  const skipped = lines.filter((l) => l.startsWith('skipped '))
  // The old code replayed every file (40 lines) before it looked at the signal.
  t.ok(skipped.length < files, `the replay stopped before the last file (${skipped.length} of ${files} files' rows said)`)
  t.same(metadirListing(dir), before, 'no snapshot, nothing pruned, no scratch db or lock file left')
  t.same((await listHistoryFiles(dir)).length, files)
})
