/**
 * Keys SQLite cannot hold as state columns of their own: names that differ
 * only in ASCII case (SQLite takes them as one column) and names holding a
 * NUL. update refuses them with one SHOEBOX_META_SCHEMA error naming the
 * keys, the state db unchanged; it failed with SQLite's raw "duplicate
 * column name: a" or "unrecognized token", naming nothing. generate
 * reports an object bringing a case-colliding key as invalid (the first
 * spelling seen kept), so the meta db it writes is one update can take.
 * A key named id is mmmeta's row id column, which update leaves out: it was
 * dropped without a word, and as the unique key it failed update.
 */
import fs from 'node:fs'
import path from 'node:path'
import Sqlite from 'better-sqlite3'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t, { type Test } from 'tap'
import { metaIngest, type InvalidMetadata } from '../../lib/meta/ingest.js'
import { metadir } from '../../lib/meta/metadir.js'
import { withOrigin } from '../../lib/meta/origin.js'
import { expectCode } from '../helpers.js'

const FIRST = 'content_hash,Title,__meta_added,__meta_last_updated\r\n' +
  'a1,One,2026-11-22 12:17:55.295840,2026-11-22 12:17:55.295840\r\n'

function base (t: Test, later: string): string {
  return t.testdir({
    _mmmeta: {
      db: { '2026-11-22T12:17:55.295840.append': FIRST, '2026-11-23T09:00:00.123456.append': later }
    }
  })
}

function stateRows (dir: string): unknown[] {
  const db = new Sqlite(path.join(dir, '_mmmeta', 'state.db'), { readonly: true })
  try {
    return db.prepare('SELECT content_hash, Title FROM files ORDER BY content_hash').all()
  } finally {
    db.close()
  }
}

t.test('update: a key differing from another only in case is refused, the state db unchanged', async (t) => {
  const dir = base(t, 'content_hash,title,__meta_last_updated,__mmmeta_keys\r\nb2,two,2026-11-23 09:00:00.123456,"title,__meta_last_updated"\r\n')
  // the first file alone, updated: the state db holds a1
  const later = path.join(dir, '_mmmeta', 'db', '2026-11-23T09:00:00.123456.append')
  const held = fs.readFileSync(later)
  fs.rmSync(later)
  const md = await metadir(dir)
  t.teardown(async () => { await md.close() })
  t.match(await md.update(), { added: 1 })
  fs.writeFileSync(later, held)
  const err = await expectCode(t, md.update(), 'SHOEBOX_META_SCHEMA', 'keys Title and title')
  t.equal(err?.message, `keys "Title" and "title" differ only in case, and SQLite takes them as one column of files; the state db ${path.join(dir, '_mmmeta', 'state.db')} is unchanged. Rename one, or keep one with metadata.include in _mmmeta/config.yml`)
  t.same(stateRows(dir), [{ content_hash: 'a1', Title: 'One' }], 'the state db as it was')
  // a consumer column of its own is refused the same way
  const file = await md.files.get('a1')
  await expectCode(t, (file?.set('TITLE', 'x').save() ?? Promise.resolve()), 'SHOEBOX_META_SCHEMA', 'a consumer column TITLE')
  t.same(stateRows(dir), [{ content_hash: 'a1', Title: 'One' }], 'the state db as it was')
})

t.test('update: a key holding a NUL is refused, naming it', async (t) => {
  const dir = base(t, 'content_hash,"n\u0000l",__meta_last_updated,__mmmeta_keys\r\nb2,x,2026-11-23 09:00:00.123456,"n\u0000l,__meta_last_updated"\r\n')
  const md = await metadir(dir)
  t.teardown(async () => { await md.close() })
  const err = await expectCode(t, md.update(), 'SHOEBOX_META_SCHEMA', 'a NUL key')
  t.match(err?.message, /^key "n\\u0000l" holds a NUL character, which no SQLite column name can; the state db .* is unchanged/)
})

t.test('generate: a key differing only in case from one seen before is an invalid object, the first spelling kept', async (t) => {
  const dir = t.testdir({})
  const generate = async (objects: object[]): Promise<InvalidMetadata[]> => {
    const invalid: InvalidMetadata[] = []
    const sink = metaIngest(dir, { fsync: false })
    sink.on('invalid', (info: InvalidMetadata) => invalid.push(info))
    await pipeline(Readable.from(objects, { objectMode: true }), sink)
    return invalid
  }
  const reason = (first: string, second: string): string =>
    `the keys "${first}" and "${second}" differ only in case, which the state db takes as one column (the first is kept)`
  t.same(await generate([
    withOrigin({ content_hash: 'a1', Title: 'One' }, { file: 'a.ndjson', line: 1 }),
    withOrigin({ content_hash: 'b2', title: 'two' }, { file: 'a.ndjson', line: 2 }),
    withOrigin({ content_hash: 'c3', k: '1', K: '2' }, { file: 'c.json' }),
    withOrigin({ content_hash: 'd4', Title: 'Four', k: '4' }, { file: 'd.json' })
  ]), [
    { file: 'a.ndjson', line: 2, uid: 'b2', reason: reason('Title', 'title') },
    { file: 'c.json', uid: 'c3', reason: reason('k', 'K') }
  ])
  // the next run knows the spellings from the history it replays
  t.same(await generate([
    withOrigin({ content_hash: 'e5', TITLE: 'five' }, { file: 'e.json' }),
    withOrigin({ content_hash: 'a1', Title: 'Uno' }, { file: 'a.json' })
  ]), [{ file: 'e.json', uid: 'e5', reason: reason('Title', 'TITLE') }])
  // and update takes the meta db generate wrote
  const md = await metadir(dir)
  t.teardown(async () => { await md.close() })
  t.match(await md.update(), { added: 2 })
  t.same(stateRows(dir), [{ content_hash: 'a1', Title: 'Uno' }, { content_hash: 'd4', Title: 'Four' }])
})

t.test("generate: a key named id (any case) is an invalid object: mmmeta's row id column, which update leaves out", async (t) => {
  const dir = t.testdir({})
  const invalid: InvalidMetadata[] = []
  const sink = metaIngest(dir, { fsync: false })
  sink.on('invalid', (info: InvalidMetadata) => invalid.push(info))
  await pipeline(Readable.from([
    withOrigin({ content_hash: 'a1', id: 'abc', Title: 'One' }, { file: 'a.json' }),
    withOrigin({ content_hash: 'b2', ID: 7, Title: 'Two' }, { file: 'b.json' }),
    withOrigin({ content_hash: 'c3', ident: 'x', Title: 'Three' }, { file: 'c.json' })
  ], { objectMode: true }), sink)
  const reason = (key: string): string => `the key '${key}' is the row id column mmmeta adds to its tables, which update leaves out; rename it, or make it the unique key`
  t.same(invalid, [{ file: 'a.json', uid: 'a1', reason: reason('id') }, { file: 'b.json', uid: 'b2', reason: reason('ID') }])
  const md = await metadir(dir)
  t.teardown(async () => { await md.close() })
  t.match(await md.update(), { added: 1 })
  t.same(stateRows(dir), [{ content_hash: 'c3', Title: 'Three' }])
})

t.test('generate and update: id as the unique key is kept', async (t) => {
  const dir = t.testdir({ _mmmeta: { 'config.yml': 'metadata:\n  unique: id\n' } })
  const sink = metaIngest(dir, { fsync: false })
  await pipeline(Readable.from([withOrigin({ id: 'k1', Title: 'One' }, { file: 'a.json' })], { objectMode: true }), sink)
  const md = await metadir(dir)
  t.teardown(async () => { await md.close() })
  t.match(await md.update(), { added: 1 })
  t.match((await md.files.get('k1'))?.data, { id: 'k1', Title: 'One' })
  // a second history file goes the general way (the TEMP replay table), not the first update's direct load
  await pipeline(Readable.from([withOrigin({ id: 'k1', Title: 'Uno' }, { file: 'a.json' }), withOrigin({ id: 'k2', Title: 'Two' }, { file: 'b.json' })], { objectMode: true }),
    metaIngest(dir, { fsync: false }))
  t.match(await md.update(), { added: 1, updated: 1 })
  t.match((await md.files.get('k1'))?.data, { id: 'k1', Title: 'Uno' })
  t.match((await md.files.get('k2'))?.data, { id: 'k2', Title: 'Two' })
})

t.test("a consumer's own column named id is refused: every read of the state db leaves it out", async (t) => {
  const dir = base(t, 'content_hash,__meta_last_updated\r\n')
  const md = await metadir(dir)
  t.teardown(async () => { await md.close() })
  t.match(await md.update(), { added: 1 })
  const file = await md.files.get('a1')
  const err = await expectCode(t, (file?.set('id', 'x').save() ?? Promise.resolve()), 'SHOEBOX_META_SCHEMA', 'a consumer column id')
  t.equal(err?.message, `key "id" is the row id column mmmeta adds to its tables, which every read of the state db leaves out; the state db ${path.join(dir, '_mmmeta', 'state.db')} is unchanged. Rename the key`)
  t.same(stateRows(dir), [{ content_hash: 'a1', Title: 'One' }], 'the state db as it was')
})
