/**
 * squash: one .squashed snapshot of the replayed history (mmmeta
 * test_appendonly: 3 files, the newest .squashed, same rows), deterministic
 * bytes, nothing for an empty db, --prune removing only what it covers.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { metaPaths } from '../../lib/meta/config.js'
import { formatCsvRow } from '../../lib/meta/csv.js'
import { listHistoryFiles, loadHistory } from '../../lib/meta/history.js'
import { squashHistory } from '../../lib/meta/squash.js'
import { tempDir } from '../temp-dir.js'

function metadir (t: Test): string {
  const dir = tempDir(t, 'shoebox-meta-squash-')
  fs.mkdirSync(metaPaths(dir).db, { recursive: true })
  return dir
}

function put (dir: string, name: string, text: string): void {
  fs.writeFileSync(path.join(metaPaths(dir).db, name), text)
}

const config = { unique: 'content_hash' }
const micros = Date.UTC(2026, 11, 3, 12, 0, 0) * 1000

t.test('squash after 1000 + 10000 rows: 3 files, same rows, foo=bar gone', async (t) => {
  const dir = metadir(t)
  let first = formatCsvRow(['content_hash', 'foo', 'n'])
  for (let i = 0; i < 1000; i++) first += formatCsvRow([`u${i}`, 'bar', String(i)])
  let second = formatCsvRow(['content_hash', 'foo', 'other', '__mmmeta_keys'])
  for (let i = 0; i < 10000; i++) second += formatCsvRow([`u${i}`, 'baz', i === 7 ? '' : `o${i}`, 'foo,other'])
  put(dir, '2026-01-01T00:00:00.000000.append', first)
  put(dir, '2026-01-01T00:00:01.000000.append', second)
  const before = [...(await loadHistory(dir, config)).rows()]
  const result = await squashHistory(dir, { micros, fsync: false })
  t.same([result.rows, result.pruned, result.file?.name], [10000, [], '2026-12-03T12:00:00.000000.squashed'])
  const files = await listHistoryFiles(dir)
  t.same(files.map((f) => f.kind), ['append', 'append', 'squashed'])
  const after = await loadHistory(dir, config)
  t.equal(after.size, 10000)
  const byUid = new Map(before.map((row) => [row.content_hash, row]))
  let same = 0
  for (const row of after.rows()) {
    const old = byUid.get(row.content_hash as string) ?? {}
    // the snapshot writes every column; unset ones come back null
    const expected = Object.fromEntries(['content_hash', 'foo', 'n', 'other'].map((k) => [k, old[k] ?? null]))
    if (JSON.stringify(row) === JSON.stringify(expected)) same++
  }
  t.equal(same, 10000, 'every row replays the same')
  t.equal(after.value('u7', 'other'), '', "'' survives the snapshot")
  const text = fs.readFileSync(files[2].path, 'utf8')
  t.ok(text.startsWith('content_hash,foo,n,other\r\nu0,baz,0,o0\r\nu1,baz,1,o1\r\nu10,baz,10,o10\r\n'), 'sorted columns and rows')
  t.notOk(text.includes('bar'))
})

t.test('an empty db: nothing written', async (t) => {
  const dir = metadir(t)
  t.same(await squashHistory(dir, { micros }), { file: null, rows: 0, pruned: [] })
  t.same(fs.readdirSync(metaPaths(dir).db), [])
})

t.test('--prune removes what the snapshot covers, and is byte-stable', async (t) => {
  const dir = metadir(t)
  put(dir, '2026-01-01T00:00:00.000000.append', 'content_hash,a\r\nx,1\r\n')
  put(dir, '2026-01-02T00:00:00.000000.squashed', 'content_hash,a\r\ny,2\r\n')
  put(dir, '2026-01-03T00:00:00.000000.append', 'content_hash,b,__mmmeta_keys\r\ny,3,b\r\n')
  const result = await squashHistory(dir, { micros, prune: true })
  t.same(result.pruned, ['2026-01-01T00:00:00.000000.append', '2026-01-02T00:00:00.000000.squashed', '2026-01-03T00:00:00.000000.append'])
  t.same(fs.readdirSync(metaPaths(dir).db), ['2026-12-03T12:00:00.000000.squashed'])
  const text = fs.readFileSync(path.join(metaPaths(dir).db, '2026-12-03T12:00:00.000000.squashed'), 'utf8')
  t.equal(text, 'content_hash,a,b\r\ny,2,3\r\n')
  const again = await squashHistory(dir, { micros: micros + 1, prune: true })
  t.equal(fs.readFileSync(again.file?.path as string, 'utf8'), text, 'a squash of a squash is the same bytes')
  t.same(fs.readdirSync(metaPaths(dir).db), ['2026-12-03T12:00:00.000001.squashed'])
})

t.test('--prune keeps a file holding a row the replay skipped, and reports the row', async (t) => {
  const dir = metadir(t)
  put(dir, '2026-01-01T00:00:00.000000.append', 'content_hash,a\r\nx,1,extra\r\nz,5\r\n')
  put(dir, '2026-01-02T00:00:00.000000.append', 'content_hash,a\r\ny,2\r\n')
  const problems: unknown[] = []
  const result = await squashHistory(dir, { micros, prune: true, onProblem: (p) => { problems.push(p) } })
  const ragged = path.join(metaPaths(dir).db, '2026-01-01T00:00:00.000000.append')
  t.same(problems, [{ file: ragged, line: 2, reason: '3 cells for 2 columns' }])
  t.same(result.pruned, ['2026-01-02T00:00:00.000000.append'], 'the file with the skipped row is not pruned')
  t.equal(fs.readFileSync(ragged, 'utf8'), 'content_hash,a\r\nx,1,extra\r\nz,5\r\n', 'its only copy of row x stays')
  t.equal(fs.readFileSync(result.file?.path as string, 'utf8'), 'content_hash,a\r\ny,2\r\nz,5\r\n')
})

t.test('signal: aborted while it waits for another publisher\'s lock, the wait ends at once, nothing written', async (t) => {
  // The wait (lockWait, 60 s by default) took no signal: a Ctrl-C of `meta squash` did nothing until it ended.
  const dir = metadir(t)
  put(dir, '2026-01-01T00:00:00.000000.append', formatCsvRow(['content_hash', 'foo']) + formatCsvRow(['u1', 'bar']))
  const lock = path.join(metaPaths(dir).metadir, '.publish.lock')
  const held = `${process.pid} ${os.hostname()} heldbythetest\n`
  fs.writeFileSync(lock, held)
  const controller = new AbortController()
  const waits: number[] = []
  const squash = squashHistory(dir, {
    prune: true,
    lockWait: 600_000,
    onWait: (holder) => { waits.push(holder.pid); controller.abort(new Error('stopped by the test')) },
    signal: controller.signal
  })
  await t.rejects(squash, { code: 'SHOEBOX_ABORTED', message: 'stopped by the test; nothing written, the meta db is as it was' })
  t.same(waits, [process.pid], 'told of the wait, once')
  t.same((await listHistoryFiles(dir)).map((f) => f.name), ['2026-01-01T00:00:00.000000.append'], 'no snapshot, nothing pruned')
  t.equal(fs.readFileSync(lock, 'utf8'), held, 'the other publisher\'s lock untouched')
  t.same(fs.readdirSync(metaPaths(dir).metadir).filter((name) => name.startsWith('.publish.lock.')), [], 'no lock attempt left behind')
  await t.rejects(squashHistory(dir, { signal: controller.signal }), { code: 'SHOEBOX_ABORTED' }, 'aborted before: not begun')
})
