/**
 * The state db: a table `files` keyed by the configured unique key, typed
 * columns, indexes on the query keys, WAL checkpointed on close, and an
 * mmmeta-made db (dataset's column types, content still in its WAL) opened,
 * migrated when its key or a column's type must change, and left readable
 * by mmmeta (DATETIME text as SQLAlchemy parses it).
 */
import fs from 'node:fs'
import path from 'node:path'
import Sqlite from 'better-sqlite3'
import t from 'tap'
import { openStateDb, type StateSchema } from '../../lib/meta/state-db.js'
import { expectCode } from '../helpers.js'

const schema: StateSchema = {
  unique: 'content_hash',
  types: { content_hash: 'string', reference: 'string', pages: 'int', score: 'float', public: 'bool', published_at: 'timestamp', tags: 'json' },
  indexes: ['reference', 'published_at']
}

/** An mmmeta-made state db: dataset's types, an `id`, a DATETIME in SQLAlchemy's text form, left in its WAL (a hot copy). */
function mmmetaStateDb (dir: string): string {
  const scratch = path.join(dir, 'scratch.db')
  const db = new Sqlite(scratch)
  db.pragma('journal_mode = WAL')
  db.pragma('wal_autocheckpoint = 0')
  db.exec(`CREATE TABLE files (content_hash VARCHAR NOT NULL, id BIGINT, reference BIGINT, pages BIGINT, imported BOOLEAN,
    __state_added DATETIME, __deleted BIGINT, PRIMARY KEY (content_hash))`)
  db.prepare('INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)').run('abc', 1, 12, 3, 1, '2026-11-22 12:17:55.295840', null)
  db.prepare('INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)').run('def', 2, 7, null, 0, '2026-11-22 12:17:55', 1)
  const target = path.join(dir, 'state.db')
  fs.copyFileSync(scratch, target)
  fs.copyFileSync(scratch + '-wal', target + '-wal')
  db.close()
  return target
}

t.test('a new state db: typed columns, indexes, WAL checkpointed away on close', async (t) => {
  const dir = t.testdir()
  const file = path.join(dir, 'state.db')
  const state = await openStateDb(file, schema)
  t.same(state.columns(), ['content_hash', 'reference', 'pages', 'score', 'public', 'published_at', 'tags'])
  const info = state.db.prepare('PRAGMA table_info(files)').all() as Array<{ name: string, type: string, pk: number }>
  t.same(info.map((c) => [c.name, c.type, c.pk]), [
    ['content_hash', 'TEXT', 1], ['reference', 'TEXT', 0], ['pages', 'BIGINT', 0], ['score', 'FLOAT', 0],
    ['public', 'BOOLEAN', 0], ['published_at', 'DATETIME', 0], ['tags', 'TEXT', 0]
  ])
  const indexes = (state.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'files' AND sql IS NOT NULL").all() as Array<{ name: string }>).map((r) => r.name).sort()
  t.same(indexes, ['ix_files_published_at', 'ix_files_reference'])
  t.equal(state.db.pragma('journal_mode', { simple: true }), 'wal')
  const values = ['0012', '0012', 9007199254740993n, Infinity, false, new Date('2024-05-09T01:02:03.004Z'), { a: [1] }]
  state.db.prepare('INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)').run(...state.columns().map((c, i) => state.encode(c, values[i])))
  const raw = state.db.prepare('SELECT * FROM files').get() as Record<string, unknown>
  t.equal(raw.published_at, '2024-05-09 01:02:03.004000', 'DATETIME text as SQLAlchemy reads it, in UTC')
  t.same(state.decode(raw), {
    content_hash: '0012', reference: '0012', pages: 9007199254740993n, score: Infinity, public: false,
    published_at: new Date('2024-05-09T01:02:03.004Z'), tags: { a: [1] }
  })
  await expectCode(t, Promise.resolve().then(() => state.encode('pages', 'many')), 'SHOEBOX_META_VALUE', 'a value that is not an int')
  state.close()
  t.equal(fs.existsSync(file + '-wal') ? fs.statSync(file + '-wal').size : 0, 0, 'nothing left in the WAL')
  const copy = path.join(dir, 'copy.db')
  fs.copyFileSync(file, copy)
  const alone = new Sqlite(copy, { readonly: true })
  t.equal((alone.prepare('SELECT reference FROM files').get() as { reference: string }).reference, '0012', 'a copy of state.db alone is complete')
  alone.close()
  const again = await openStateDb(file, schema)
  t.equal(again.count(), 1)
  t.equal(again.typeOf('tags'), 'json', 'the json type is remembered')
  again.close()
})

t.test('an mmmeta-made state db (content in its WAL) is read, and migrated where types must change', async (t) => {
  const dir = t.testdir()
  const file = mmmetaStateDb(dir)
  const state = await openStateDb(file, { unique: 'content_hash', types: { content_hash: 'string', reference: 'string', pages: 'int' }, indexes: ['reference'] })
  const rows = (state.db.prepare('SELECT * FROM files ORDER BY content_hash').all() as Array<Record<string, unknown>>).map((r) => state.decode(r))
  t.same(rows, [
    { content_hash: 'abc', reference: '12', pages: 3, imported: true, __state_added: new Date('2026-11-22T12:17:55.295Z'), __deleted: null },
    { content_hash: 'def', reference: '7', pages: null, imported: false, __state_added: new Date('2026-11-22T12:17:55Z'), __deleted: true }
  ], 'consumer columns kept, typed by their declarations; the spurious id hidden')
  const info = state.db.prepare('PRAGMA table_info(files)').all() as Array<{ name: string, type: string }>
  t.equal(info.find((c) => c.name === 'reference')?.type, 'TEXT', 'a string key in a BIGINT column was rebuilt as TEXT')
  t.equal(info.find((c) => c.name === '__state_added')?.type, 'DATETIME')
  state.close()
})

t.test('a changed unique key migrates the primary key; a key that cannot be one leaves the table unchanged', async (t) => {
  const dir = t.testdir()
  const file = path.join(dir, 'state.db')
  const first = await openStateDb(file, { unique: 'content_hash', types: { _file_name: 'string' }, indexes: [] })
  const insert = first.db.prepare('INSERT INTO files (content_hash, _file_name) VALUES (?, ?)')
  insert.run('a', 'a.pdf')
  insert.run('b', 'b.pdf')
  first.close()
  const second = await openStateDb(file, { unique: '_file_name', types: {}, indexes: [] })
  const pk = (second.db.prepare('PRAGMA table_info(files)').all() as Array<{ name: string, pk: number }>).filter((c) => c.pk > 0).map((c) => c.name)
  t.same(pk, ['_file_name'])
  t.same(second.db.prepare('SELECT _file_name, content_hash FROM files ORDER BY 1').all(), [{ _file_name: 'a.pdf', content_hash: 'a' }, { _file_name: 'b.pdf', content_hash: 'b' }])
  second.db.prepare('INSERT INTO files (_file_name, content_hash) VALUES (?, ?)').run('c.pdf', 'a')
  second.close()
  await expectCode(t, openStateDb(file, { unique: 'content_hash', types: {}, indexes: [] }), 'SHOEBOX_META_SCHEMA', 'a duplicate key')
  const third = await openStateDb(file, { unique: '_file_name', types: {}, indexes: [] })
  t.equal(third.count(), 3, 'the failed migration changed nothing')
  third.close()
})

t.test('opening takes no lock when nothing changes; a config type change wins over the recorded one', async (t) => {
  const file = path.join(t.testdir(), 'state.db')
  const writer = await openStateDb(file, schema)
  writer.db.exec('BEGIN IMMEDIATE')
  writer.db.prepare('INSERT INTO files (content_hash) VALUES (?)').run('x')
  const reader = await openStateDb(file, schema, { timeoutMs: 50 })
  t.equal(reader.count(), 0, 'opened beside a writer in its transaction, seeing the last commit')
  reader.close()
  writer.db.exec('COMMIT')
  writer.close()
  const retyped = await openStateDb(file, { ...schema, types: { ...schema.types, tags: 'string' } })
  t.equal(retyped.typeOf('tags'), 'string', 'config says string now')
  retyped.close()
  const back = await openStateDb(file, { ...schema, types: { content_hash: 'string' } })
  t.equal(back.typeOf('tags'), 'string', 'no longer configured: the type last recorded')
  back.close()
})

t.test('two processes adding the same column: the second, its table read before, takes it as added, not twice', async (t) => {
  // Two `meta update`s at once on a new state db: each read the table at open; the second, once it
  // had the write lock, added __state_added again and failed ("duplicate column name").
  const file = path.join(t.testdir(), 'state.db')
  const first = await openStateDb(file, schema)
  const second = await openStateDb(file, schema)
  const bookkeeping = new Map([['__state_added', 'timestamp'], ['__deleted', 'bool']] as const)
  first.db.exec('BEGIN IMMEDIATE')
  first.addColumns(bookkeeping)
  first.db.exec('COMMIT')
  second.db.exec('BEGIN IMMEDIATE')
  second.addColumns(bookkeeping)
  second.db.exec('COMMIT')
  t.equal(second.typeOf('__state_added'), 'timestamp')
  t.equal(second.typeOf('__deleted'), 'bool')
  first.close()
  second.close()
})
