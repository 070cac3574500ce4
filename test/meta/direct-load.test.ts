/**
 * update's direct load (a first update of one history file straight into
 * files) against the reference: the same file replayed in memory and merged
 * row by row (mergeHistory over a MetaHistory) into another empty state db.
 * Both must give the same table (columns in the same order, the same types
 * recorded, the same indexes), the same rows in the same rowid order and the
 * same counts, whether the direct way applies or gives up (a key twice, an
 * invalid row, a value that does not cast, a row the reader skips, a column
 * typed otherwise); a give-up leaves no trace and reports each problem once.
 */
import { writeFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import Sqlite from 'better-sqlite3'
import t, { type Test } from 'tap'
import { formatCsvRow, type CsvCell } from '../../lib/meta/csv.js'
import { loadIntoEmptyState } from '../../lib/meta/direct-load.js'
import { replayFiles, type HistoryFile, type HistoryProblem } from '../../lib/meta/history.js'
import { openStateDb, type StateDb, type StateSchema } from '../../lib/meta/state-db.js'
import { mergeHistory, mergeHistoryFiles } from '../../lib/meta/update.js'
import { killUpdateMidway } from '../fixtures-meta/kill-update.js'

const schema: StateSchema = {
  unique: 'content_hash',
  types: { pages: 'int', published_at: 'timestamp', score: 'float', public: 'bool', doc: 'json' },
  indexes: ['reference', 'published_at'],
  required: ['content_hash', 'reference']
}
const now = new Date('2026-12-03T17:00:00Z')
const K = '__mmmeta_keys'

async function historyFile (dir: string, rows: ReadonlyArray<readonly CsvCell[]>): Promise<HistoryFile> {
  await mkdir(dir, { recursive: true })
  const name = '2026-12-03T17:00:00.000000.append'
  const file = path.join(dir, name)
  await writeFile(file, rows.map(formatCsvRow).join(''))
  return { name, path: file, kind: 'append' }
}

interface Picture {
  columns: unknown[]
  types: unknown[]
  schema: unknown[]
  rows: unknown[]
}

function picture (db: Sqlite.Database): Picture {
  return {
    columns: db.prepare('PRAGMA table_info(files)').all(),
    types: db.prepare('SELECT * FROM _shoebox_columns ORDER BY name').all(),
    schema: db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all(),
    rows: db.prepare('SELECT rowid AS _rowid, * FROM files ORDER BY rowid').raw(true).all()
  }
}

/** A state db with `prepare`'s changes made by another connection (so as another tool would leave it). */
async function opened (file: string, prepare: (db: Sqlite.Database) => void): Promise<StateDb> {
  const first = await openStateDb(file, schema)
  prepare(first.db)
  first.close()
  return await openStateDb(file, schema)
}

async function both (t: Test, name: string, rows: ReadonlyArray<readonly CsvCell[]>, prepare: (db: Sqlite.Database) => void = () => {}): Promise<{ direct: boolean, problems: HistoryProblem[] }> {
  const dir = t.testdir()
  const file = await historyFile(path.join(dir, 'db'), rows)
  const reference = await opened(path.join(dir, 'reference.db'), prepare)
  const history = await replayFiles([file], schema.unique)
  const expected = await mergeHistory(reference, history.rows(), { now })

  const state = await opened(path.join(dir, 'state.db'), prepare)
  const problems: HistoryProblem[] = []
  const progress: number[] = []
  const result = await mergeHistoryFiles(state, [file], { now, onProblem: (p) => problems.push(p), onProgress: (n) => progress.push(n), progressEvery: 2 })
  t.same(result, expected, `${name}: counts`)
  t.same(picture(state.db), picture(reference.db), `${name}: the same table, rows and indexes`)
  t.equal(progress[progress.length - 1], history.size, `${name}: progress ends at the row count`)

  // the direct way on its own, on a third empty db: did it apply?
  const probe = await opened(path.join(dir, 'probe.db'), prepare)
  const before = picture(probe.db)
  probe.db.exec('BEGIN IMMEDIATE')
  const added = await loadIntoEmptyState(probe, file, '2026-12-03 17:00:00.000000', () => {})
  probe.db.exec('COMMIT')
  if (added === null) t.same(picture(probe.db), before, `${name}: a give-up leaves no trace`)
  for (const s of [reference, state, probe]) s.close()
  return { direct: added !== null, problems }
}

const header = ['content_hash', 'reference', 'pages', 'published_at', 'score', 'public', 'doc', 'title', K]

t.test('one row per key: loaded directly, the same as the reference', async (t) => {
  const { direct } = await both(t, 'typed', [
    [...header, '2024', 'id'],
    ['c', 'r1', '0012', '2025-07-15T08:36:10Z', 'inf', 'true', '{"n": 12345678901234567890}', 'Grüße 日本\r\n"x"', null, '7', '99'],
    ['a', '0007', '9007199254740993', '2024-05-09T10:00:00+02:00', 'nan', 'no', null, '', 'reference,pages,2024', '8', '98'],
    ['b', 'r3', null, null, null, null, null, null, 'reference,title,published_at', null, null],
    ['0', 'r4', '-0', '2024-02-29 23:59:59.5', '1e3', '1', '[]', 'x', 'reference,doc,public,score,pages,published_at', null, null]
  ])
  t.equal(direct, true)
})

t.test('a repeated header name (the last wins) and a column only some rows set', async (t) => {
  const { direct } = await both(t, 'repeated', [
    ['content_hash', 'title', 'reference', 'title', K],
    ['x', 'first', 'r', 'second', null],
    ['y', 'first', 'r', 'second', 'reference']
  ])
  t.equal(direct, true)
})

t.test('the direct way gives up and the general way gives the reference', async (t) => {
  const cases: Array<[string, Array<readonly CsvCell[]>]> = [
    ['a key twice', [header, ['a', 'r', '1', null, null, null, null, 't', null], ['b', 'r', '2', null, null, null, null, 't', null], ['a', 'r2', null, null, null, null, null, null, 'reference,pages']]],
    ['a required key missing', [header, ['a', 'r', '1', null, null, null, null, 't', null], ['b', null, '2', null, null, null, null, 't', null]]],
    ['a required key not listed', [header, ['a', 'r', '1', null, null, null, null, 't', null], ['b', 'r', '2', null, null, null, null, 't', 'pages']]],
    ['a value that does not cast', [header, ['a', 'r', '1', null, null, null, null, 't', null], ['b', 'r', 'many', null, null, null, null, 't', null]]],
    ['bad json', [header, ['a', 'r', '1', null, null, null, '{', 't', null]]]
  ]
  for (const [name, rows] of cases) {
    const { direct } = await both(t, name, rows)
    t.equal(direct, false, `${name}: given up`)
  }
})

t.test('a row the reader skips is reported once', async (t) => {
  const { direct, problems } = await both(t, 'problem', [
    ['content_hash', 'reference'],
    ['a', 'r'],
    ['b', 'r', 'one cell too many'],
    [null, 'no key']
  ])
  t.equal(direct, false)
  t.same(problems.map((p) => [p.line, p.reason]), [[3, '3 cells for 2 columns'], [4, "no value for the unique key 'content_hash'"]])
})

t.test('a column another tool typed otherwise: the general way rebuilds it', async (t) => {
  const { direct } = await both(t, 'retype', [['content_hash', 'reference', 'note'], ['a', 'r', '0012']], (db) => {
    db.exec('ALTER TABLE files ADD COLUMN note BIGINT')
  })
  t.equal(direct, false)
})

t.test('an int unique key: two texts of one value meet as one key', async (t) => {
  const dir = t.testdir()
  const file = await historyFile(path.join(dir, 'db'), [['n', 'reference'], ['0012', 'a'], ['12', 'b']])
  const intSchema: StateSchema = { unique: 'n', types: { n: 'int' }, indexes: [] }
  const reference = await openStateDb(path.join(dir, 'reference.db'), intSchema)
  const expected = await mergeHistory(reference, (await replayFiles([file], 'n')).rows(), { now })
  const state = await openStateDb(path.join(dir, 'state.db'), intSchema)
  t.same(await mergeHistoryFiles(state, [file], { now }), expected)
  t.same(picture(state.db), picture(reference.db))
  t.same(expected, { added: 1, updated: 1, deleted: 0, skipped: 0, invalid: 0, invalidRows: [], dropped: [] })
  reference.close()
  state.close()
})

t.test('a direct load killed mid-way leaves the empty state db as it was, its index included', async (t) => {
  const base = t.testdir()
  const rows = 20000
  await historyFile(path.join(base, '_mmmeta', 'db'), [['content_hash', 'title'], ...Array.from({ length: rows }, (_, i) => [`k${i}`, `title ${i}`])])
  const file = path.join(base, '_mmmeta', 'state.db')
  const state = await openStateDb(file, { unique: 'content_hash', types: {}, indexes: ['title'] })
  const expected = picture(state.db)
  t.equal(expected.schema.some((s) => (s as { name: string }).name === 'ix_files_title'), true)
  state.close()
  await killUpdateMidway([file, String(rows), base, 'title'])
  const db = new Sqlite(file)
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  t.same(picture(db), expected, 'no row, and the index dropped for the load is there')
  db.close()
})
