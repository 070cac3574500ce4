/**
 * update's merge: replayed history rows into the state db in one
 * transaction, with explicit types, consumer columns kept, soft deletes with
 * their reasons, undeletes, counts as mmmeta reports them, --replace and
 * --cleanup; and a killed update leaves the state db as it was.
 */
import path from 'node:path'
import Sqlite from 'better-sqlite3'
import t from 'tap'
import { openStateDb, type StateSchema } from '../../lib/meta/state-db.js'
import { mergeHistory, type HistoryRow } from '../../lib/meta/update.js'
import { killUpdateMidway } from '../fixtures-meta/kill-update.js'

const schema: StateSchema = {
  unique: 'content_hash',
  types: { pages: 'int', score: 'float', published_at: 'timestamp', public: 'bool' },
  indexes: ['reference'],
  required: ['content_hash', 'reference'],
  keys: ['content_hash', 'reference', 'pages', 'score', 'published_at', 'public']
}

const t0 = new Date('2026-12-01T00:00:00Z')
const t1 = new Date('2026-12-02T00:00:00Z')
const t2 = new Date('2026-12-03T00:00:00Z')
const live = { __deleted: null, __deleted_at: null, __deleted_reason: null }

function rows (db: Sqlite.Database): Array<Record<string, unknown>> {
  return db.prepare('SELECT * FROM files ORDER BY content_hash').all() as Array<Record<string, unknown>>
}

t.test('typed values, consumer columns kept, counts, soft deletes and undeletes', async (t) => {
  const file = path.join(t.testdir(), 'state.db')
  const state = await openStateDb(file, schema)
  const first: HistoryRow[] = [
    { content_hash: '0012', reference: '0007', pages: '0', score: 'inf', published_at: '2024-05-09T10:00:00+02:00', public: 'false', __mmmeta_keys: 'pages,score' },
    { content_hash: 'b', reference: 'Grüße 日本', pages: '9007199254740993', score: '1.0', published_at: '2024-05-09', public: 'True' },
    { content_hash: 'c', reference: 'x', pages: null, score: null, published_at: null, public: null }
  ]
  t.same(await mergeHistory(state, first, { now: t0 }), { added: 3, updated: 0, deleted: 0, skipped: 0, invalid: 0, invalidRows: [], dropped: [] })
  const raw = rows(state.db)
  t.same(raw.map((r) => state.decode(r)), [
    { content_hash: '0012', reference: '0007', pages: 0, score: Infinity, published_at: new Date('2024-05-09T08:00:00Z'), public: false, __state_added: t0, __state_last_updated: t0, ...live },
    { content_hash: 'b', reference: 'Grüße 日本', pages: 9007199254740993n, score: 1, published_at: new Date('2024-05-09T00:00:00Z'), public: true, __state_added: t0, __state_last_updated: t0, ...live },
    { content_hash: 'c', reference: 'x', pages: null, score: null, published_at: null, public: null, __state_added: t0, __state_last_updated: t0, ...live }
  ])
  t.equal(raw[0].published_at, '2024-05-09 08:00:00.000000', 'timestamps stored as UTC DATETIME text')
  t.equal(raw[0].__state_added, '2026-12-01 00:00:00.000000')

  state.db.exec("ALTER TABLE files ADD COLUMN imported BOOLEAN; UPDATE files SET imported = 1 WHERE content_hash IN ('0012', 'b')")
  const second: HistoryRow[] = [
    { content_hash: '0012', reference: '0007', pages: '0', score: 'inf', published_at: '2024-05-09T08:00:00Z', public: 'false' },
    { content_hash: 'b', reference: 'changed', __deleted: '1', __deleted_reason: 'meta-missing', __deleted_at: '2026-12-01T12:00:00.000001' },
    { content_hash: 'd', reference: null },
    { content_hash: 'e', reference: 'y', pages: 'many' }
  ]
  const result = await mergeHistory(state, second, { now: t1 })
  t.same(result, {
    added: 0,
    updated: 0,
    deleted: 2,
    skipped: 1,
    invalid: 2,
    invalidRows: [{ uid: 'd', reason: 'missing keys: reference' }, { uid: 'e', reason: 'pages: "many" is not an integer (int)' }],
    dropped: []
  })
  const after = rows(state.db).map((r) => state.decode(r))
  t.same(after.map((r) => [r.content_hash, r.imported, r.__deleted, r.__deleted_reason, r.reference]), [
    ['0012', true, null, null, '0007'],
    ['b', true, true, 'meta-missing', 'changed'],
    ['c', null, true, 'state-missing', 'x']
  ], 'consumer column kept; deleted from the history and missing from it, with reasons')
  t.same(after[2].__deleted_at, t1)
  t.same(after[1].__state_last_updated, t1)
  t.same(after[0].__state_last_updated, t0, 'an unchanged row is not touched')

  const third: HistoryRow[] = [
    { content_hash: '0012', reference: '0007', pages: '0', score: 'inf', published_at: '2024-05-09T08:00:00Z', public: 'false' },
    { content_hash: 'b', reference: 'changed', __deleted: null, __deleted_reason: null, __deleted_at: null },
    { content_hash: 'c', reference: 'x' }
  ]
  t.same(await mergeHistory(state, third, { now: t2 }), { added: 0, updated: 2, deleted: 0, skipped: 1, invalid: 0, invalidRows: [], dropped: [] })
  const back = rows(state.db).map((r) => state.decode(r))
  t.same(back.map((r) => [r.content_hash, r.__deleted, r.__deleted_reason, r.__deleted_at, r.imported]), [
    ['0012', null, null, null, true], ['b', null, null, null, true], ['c', null, null, null, null]
  ], 'rows back in the history are undeleted, consumer columns still there')
  t.same(await mergeHistory(state, third, { now: t2 }), { added: 0, updated: 0, deleted: 0, skipped: 3, invalid: 0, invalidRows: [], dropped: [] }, 'a second run skips all')
  state.close()
})

t.test('json values are kept as written (integers beyond 2^53 exact); NaN is stored as NULL', async (t) => {
  const file = path.join(t.testdir(), 'state.db')
  const state = await openStateDb(file, { unique: 'content_hash', types: { doc: 'json', x: 'float' }, indexes: [] })
  await mergeHistory(state, [{ content_hash: 'a', doc: '{"n": 12345678901234567890, "s": "ü"}', x: 'nan' }, { content_hash: 'b', doc: 'not json' }])
  t.same(rows(state.db).map((r) => [r.content_hash, r.doc, r.x]), [['a', '{"n": 12345678901234567890, "s": "ü"}', null]])
  const again = await mergeHistory(state, [{ content_hash: 'a', doc: '{"n": 12345678901234567890, "s": "ü"}', x: 'nan' }])
  t.equal(again.skipped, 1, 'a NaN read back as NULL is no change')
  state.close()
})

t.test('an empty history on an empty db; --replace; --cleanup', async (t) => {
  const file = path.join(t.testdir(), 'state.db')
  const state = await openStateDb(file, schema)
  t.same(await mergeHistory(state, []), { added: 0, updated: 0, deleted: 0, skipped: 0, invalid: 0, invalidRows: [], dropped: [] })
  t.equal(state.count(), 0)
  await mergeHistory(state, [{ content_hash: 'a', reference: 'r', extra: 'x' }], { now: t0 })
  state.db.exec("ALTER TABLE files ADD COLUMN imported BOOLEAN; ALTER TABLE files ADD COLUMN _local TEXT; UPDATE files SET imported = 1, _local = 'keep'")
  const cleaned = await mergeHistory(state, [{ content_hash: 'a', reference: 'r', extra: 'x' }], { now: t1, cleanup: true })
  t.same(cleaned.dropped, ['extra', 'imported'])
  t.same(state.decode(rows(state.db)[0])._local, 'keep', 'columns starting with _ are kept')
  t.same(Object.keys(state.decode(rows(state.db)[0])).includes('imported'), false)
  const replaced = await mergeHistory(state, [{ content_hash: 'z', reference: 'r' }], { now: t1, replace: true })
  t.same([replaced.added, replaced.deleted], [1, 0])
  t.same(rows(state.db).map((r) => r.content_hash), ['z'])
  state.close()
})

t.test('a failing merge rolls everything back', async (t) => {
  const file = path.join(t.testdir(), 'state.db')
  const state = await openStateDb(file, schema)
  await mergeHistory(state, [{ content_hash: 'a', reference: 'r' }], { now: t0 })
  async function * broken (): AsyncGenerator<HistoryRow> {
    yield { content_hash: 'a', reference: 'changed' }
    yield { content_hash: 'b', reference: 'new' }
    throw new Error('history unreadable')
  }
  await t.rejects(mergeHistory(state, broken(), { now: t1 }), /history unreadable/)
  t.same(rows(state.db).map((r) => [r.content_hash, r.reference]), [['a', 'r']])
  t.equal(state.db.inTransaction, false)
  state.close()
})

t.test('a SIGKILLed update leaves the state db unchanged and intact', async (t) => {
  const file = path.join(t.testdir(), 'state.db')
  const state = await openStateDb(file, { unique: 'content_hash', types: {}, indexes: [] })
  const before = Array.from({ length: 20000 }, (_, i) => ({ content_hash: `k${i}`, title: `old ${i}` }))
  await mergeHistory(state, before, { now: t0 })
  state.db.exec("ALTER TABLE files ADD COLUMN imported BOOLEAN; UPDATE files SET imported = 1 WHERE content_hash = 'k1'")
  const expected = rows(state.db)
  state.close()
  await killUpdateMidway([file, '20000'])
  const db = new Sqlite(file)
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok')
  t.same(rows(db), expected, 'not one row of the killed transaction is visible')
  db.close()
})

t.test('another process writing the state db past the wait: SHOEBOX_META_LOCKED naming the state db, nothing changed', async (t) => {
  // Two `meta update`s from cron at once: the second waits for the first's commit, up to the busy timeout;
  // past it, it failed with SQLite's bare "database is locked" (untyped, no file named, nothing said kept).
  const file = path.join(t.testdir(), 'state.db')
  const first = await openStateDb(file, schema)
  t.teardown(() => { first.close() })
  await mergeHistory(first, [{ content_hash: 'a', reference: 'x' }], { now: t0 })
  const second = await openStateDb(file, schema, { timeoutMs: 50 })
  t.teardown(() => { second.close() })
  first.db.exec('BEGIN IMMEDIATE')
  first.db.prepare('UPDATE files SET reference = ?').run('held')
  const err = await mergeHistory(second, [{ content_hash: 'b', reference: 'y' }], { now: t1 }).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'SHOEBOX_META_LOCKED', message: `${file}: another process is writing the state db` })
  t.match((err as Error).message, /waited 50 ms for it; nothing changed, the state db is as it was/)
  t.equal(second.db.inTransaction, false, 'no transaction left open on the refused handle')
  first.db.exec('COMMIT')
  t.same(rows(second.db).map((r) => [r.content_hash, r.reference]), [['a', 'held']], 'only the holder\'s change')
  t.same(await mergeHistory(second, [{ content_hash: 'a', reference: 'x' }, { content_hash: 'b', reference: 'y' }], { now: t1 }),
    { added: 1, updated: 1, deleted: 0, skipped: 0, invalid: 0, invalidRows: [], dropped: [] }, 'its turn once the holder committed')
})
