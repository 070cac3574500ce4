/**
 * The replayed history in a SQLite table (update's TEMP table, generate's
 * scratch file): the same rows as a MetaHistory replay of the same files
 * (never-set vs null cells, __mmmeta_keys, repeated header names, keys
 * differing only in case, unicode, newlines), and update merging from it
 * keeps what an in-memory replay did (untouched columns, state-missing),
 * and a SIGKILLed one leaves the state db as it was.
 */
import fs from 'node:fs'
import path from 'node:path'
import Sqlite from 'better-sqlite3'
import t from 'tap'
import { listHistoryFiles, loadHistory, replaySet } from '../../lib/meta/history.js'
import { ReplayTable, replayInto } from '../../lib/meta/replay-table.js'
import { openStateDb } from '../../lib/meta/state-db.js'
import { mergeHistory, mergeHistoryFiles } from '../../lib/meta/update.js'
import { killUpdateMidway } from '../fixtures-meta/kill-update.js'

const config = { unique: 'content_hash' }

function metadirWith (dir: string, files: Record<string, string>): string {
  const db = path.join(dir, '_mmmeta', 'db')
  fs.mkdirSync(db, { recursive: true })
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(db, name), text)
  return dir
}

const HISTORY = {
  '2026-01-01T00:00:00.000001.append': 'content_hash,title,Title,n,title\r\n' +
    'a,first,Upper,0,"x, ""quoted""\r\nline"\r\n' +
    'b,,B,,\r\n' +
    'c,gone,,"",c\r\n',
  '2026-01-02T00:00:00.000001.append': 'content_hash,n,extra,__mmmeta_keys\r\n' +
    'a,5,,extra\r\n' +
    'b,7,e,n\r\n' +
    'd,,ü日本,"extra"\r\n' +
    ',1,x,n\r\n' +
    'c,9,,\r\n'
}

t.test('a replay into a table gives the rows, columns and order of a MetaHistory replay', async (t) => {
  const base = metadirWith(t.testdir(), HISTORY)
  const files = replaySet(await listHistoryFiles(base))
  const problems: string[] = []
  const history = await loadHistory(base, config)
  const db = new Sqlite(path.join(base, 'scratch.db'))
  const table = new ReplayTable(db, 'main', 'replay', 'content_hash')
  table.create()
  await replayInto(table, files, { onProblem: (p) => problems.push(`${p.line}: ${p.reason}`) })
  t.same(problems, ["5: no value for the unique key 'content_hash'"])
  t.same(table.columns(), history.columns())
  t.equal(table.count(), history.size)
  const inserted = [...table.rows('insertion')].map((raw) => table.toRow(raw))
  t.same(inserted, [...history.rows()], 'rows in first-appearance order, never-set keys absent, nulls kept')
  t.strictSame({ ...table.toRow(table.get('a') ?? []) }, { content_hash: 'a', title: 'x, "quoted"\r\nline', Title: 'Upper', n: '0', extra: null })
  t.strictSame({ ...table.toRow(table.get('c') ?? []) }, { content_hash: 'c', title: 'c', Title: null, n: '9', extra: null })
  t.equal(table.cell(table.get('b') ?? [], 'extra'), undefined, 'b never set extra')
  t.same([...table.rows('uid')].map((raw) => raw[0]), ['a', 'b', 'c', 'd'])
  t.same([...table.rows('uid', 'c3 IS NOT NULL')].map((raw) => raw[0]), ['a', 'b', 'c'], 'filtered pages')
  db.close()
})

t.test('update from the files: never-set keys leave state columns alone; rows gone or invalid are state-missing', async (t) => {
  const base = metadirWith(t.testdir(), {
    '2026-01-01T00:00:00.000001.append': 'content_hash,reference,note\r\na,r1,keep\r\nb,r2,x\r\nc,r3,y\r\n'
  })
  const schema = { unique: 'content_hash', types: {}, indexes: [], required: ['content_hash', 'reference'] }
  const state = await openStateDb(path.join(base, 'state.db'), schema)
  t.match(await mergeHistoryFiles(state, replaySet(await listHistoryFiles(base))), { added: 3 })
  fs.rmSync(path.join(base, '_mmmeta', 'db'), { recursive: true })
  metadirWith(base, {
    // a: `note` never set by this history; b: now invalid (no reference); c: absent
    '2026-02-01T00:00:00.000001.squashed': 'content_hash,reference\r\na,r1\r\nb,\r\n'
  })
  const result = await mergeHistoryFiles(state, replaySet(await listHistoryFiles(base)))
  t.match(result, { added: 0, updated: 0, skipped: 1, invalid: 1, deleted: 2 })
  const rows = state.db.prepare('SELECT content_hash, note, __deleted_reason AS reason FROM files ORDER BY content_hash').all()
  t.same(rows, [
    { content_hash: 'a', note: 'keep', reason: null },
    { content_hash: 'b', note: 'x', reason: 'state-missing' },
    { content_hash: 'c', note: 'y', reason: 'state-missing' }
  ])
  t.same(state.db.prepare("SELECT name FROM temp.sqlite_master WHERE type = 'table'").all(), [], 'the TEMP table is dropped')
  state.close()
})

t.test('the in-memory merge agrees with the table merge on the same history', async (t) => {
  // (no keys differing only in case: SQLite's own columns cannot hold both)
  const base = metadirWith(t.testdir(), {
    '2026-01-01T00:00:00.000001.append': HISTORY['2026-01-01T00:00:00.000001.append'].replace(/,Title,n,/, ',Other,n,'),
    '2026-01-02T00:00:00.000001.append': HISTORY['2026-01-02T00:00:00.000001.append']
  })
  const files = replaySet(await listHistoryFiles(base))
  const schema = { unique: 'content_hash', types: { n: 'int' as const }, indexes: [] }
  const a = await openStateDb(path.join(base, 'a.db'), schema)
  const b = await openStateDb(path.join(base, 'b.db'), schema)
  const now = new Date('2026-12-01T00:00:00Z')
  const fromMemory = await mergeHistory(a, (await loadHistory(base, config)).rows(), { now })
  const fromTable = await mergeHistoryFiles(b, files, { now })
  t.same(fromTable, fromMemory)
  const all = (s: typeof a): unknown[] => s.db.prepare('SELECT * FROM files ORDER BY rowid').all()
  t.same(all(b), all(a))
  a.close()
  b.close()
})

t.test('3000 rows over two files: pages of the table merge as the in-memory replay does, state-missing included', async (t) => {
  const head = 'content_hash,title,n\r\n'
  const first = Array.from({ length: 3000 }, (_, i) => `h${(i * 7919) % 3000},t${i},${i}\r\n`).join('')
  // every third row changed, every fifth gone (a squashed snapshot replays alone: the others drop out)
  const later = Array.from({ length: 3000 }, (_, i) => i).filter((i) => i % 5 !== 0)
    .map((i) => `h${i},${i % 3 === 0 ? 'changed' : `t${i}`},${i}\r\n`).join('')
  const base = metadirWith(t.testdir(), { '2026-01-01T00:00:00.000001.append': head + first })
  const schema = { unique: 'content_hash', types: { n: 'int' as const }, indexes: ['title'] }
  const a = await openStateDb(path.join(base, 'a.db'), schema)
  const b = await openStateDb(path.join(base, 'b.db'), schema)
  const now = new Date('2026-12-01T00:00:00Z')
  const both = async (): Promise<void> => {
    const fromMemory = await mergeHistory(a, (await loadHistory(base, config)).rows(), { now })
    const fromTable = await mergeHistoryFiles(b, replaySet(await listHistoryFiles(base)), { now })
    t.same(fromTable, fromMemory)
  }
  await both()
  metadirWith(base, { '2026-01-02T00:00:00.000001.squashed': head + later })
  await both()
  const all = (s: typeof a): unknown[] => s.db.prepare('SELECT * FROM files ORDER BY rowid').all()
  t.same(all(b), all(a))
  t.same(b.db.prepare("SELECT count(*) AS n FROM files WHERE __deleted_reason = 'state-missing'").get(), { n: 600n })
  a.close()
  b.close()
})

t.test('a SIGKILLed update from the files leaves the state db unchanged and intact', async (t) => {
  const rows = 6000
  const base = metadirWith(t.testdir(), {
    '2026-01-01T00:00:00.000001.append': 'content_hash,title\r\n' + Array.from({ length: rows }, (_, i) => `k${i},changed ${i}\r\n`).join('')
  })
  const file = path.join(base, 'state.db')
  const state = await openStateDb(file, { unique: 'content_hash', types: {}, indexes: [] })
  await mergeHistory(state, Array.from({ length: rows }, (_, i) => ({ content_hash: `k${i}`, title: `old ${i}` })))
  state.db.exec("ALTER TABLE files ADD COLUMN imported BOOLEAN; UPDATE files SET imported = 1 WHERE content_hash = 'k1'")
  const all = (db: Sqlite.Database): unknown[] => db.prepare('SELECT * FROM files ORDER BY content_hash').all()
  const expected = all(state.db)
  state.close()
  await killUpdateMidway([file, String(rows), base])
  const db = new Sqlite(file)
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  t.same(all(db), expected, 'not one row of the killed transaction is visible')
  db.close()
})
