/**
 * metadir(): a consumer over a metadir made as mmmeta makes one (history
 * CSVs by hand, exactly as csv.DictWriter writes them; a state.db with
 * dataset's column types, a consumer column and content still in its WAL):
 * update keeps every consumer column, find() filters by typed values and
 * hides soft-deleted rows, iterates and pipes, save() upserts, remote
 * templates render flattened keys.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import Sqlite from 'better-sqlite3'
import t, { type Test } from 'tap'
import { metadir, type Metadir } from '../../lib/meta/metadir.js'
import type { MetaFile } from '../../lib/meta/files.js'
import { compileFilter } from '../../lib/meta/query.js'
import { expectCode } from '../helpers.js'

const CONFIG = `metadata:
  unique: content_hash
  file_name: _file_name
  required: [reference]
  include: [reference, document_type, pages, retrieved_at, "publisher:name"]
  types: { pages: int, retrieved_at: timestamp }
  index: [document_type, retrieved_at]
remote:
  url: https://bucket.example/docs/{_file_name}
  by: "https://example.org/{publisher:name}/{{raw}}"
`

// A first generate, as mmmeta writes it: every key of new rows, CRLF, quotes only where needed.
const FIRST = 'content_hash,_file_name,reference,document_type,pages,retrieved_at,publisher:name,__meta_added,__meta_last_updated\r\n' +
  'a1,a1.pdf,0012,contract,3,2026-11-20T10:00:00,Bundestag,2026-11-22 12:17:55.295840,2026-11-22 12:17:55.295840\r\n' +
  'b2,b2.pdf,0013,contract,0,2026-11-28T10:00:00,"Land, Berlin",2026-11-22 12:17:55.295840,2026-11-22 12:17:55.295840\r\n' +
  'c3,c3.pdf,Grüße,letter,12,2026-11-29T10:00:00,日本,2026-11-22 12:17:55.295840,2026-11-22 12:17:55.295840\r\n' +
  'd4,d4.pdf,x,memo,1,2026-11-30T10:00:00,Z,2026-11-22 12:17:55.295840,2026-11-22 12:17:55.295840\r\n'
// A later diff: c3's pages changed, d4 deleted by `generate --ensure` (meta-missing).
const DIFF = 'pages,content_hash,__meta_last_updated,__mmmeta_keys\r\n' +
  '13,c3,2026-11-23 09:00:00.123456,"pages,__meta_last_updated"\r\n' +
  ',d4,2026-11-23 09:00:00.123456,"__deleted,__deleted_at,__deleted_reason,__meta_last_updated"\r\n'
const DIFF_DELETE = '__deleted,__deleted_at,__deleted_reason,content_hash,__meta_last_updated,__mmmeta_keys\r\n' +
  '1,2026-11-23 09:00:00.123456,meta-missing,d4,2026-11-23 09:00:00.123456,"__deleted,__deleted_at,__deleted_reason,__meta_last_updated"\r\n'

function base (t: Test): string {
  const dir = t.testdir({ _mmmeta: { 'config.yml': CONFIG, db: { '2026-11-22T12:17:55.295840.append': FIRST } } })
  return dir
}

/** An mmmeta-made state db: a consumer column `imported`, row a1 imported, left in its WAL. */
function mmmetaState (dir: string): void {
  const scratch = path.join(dir, 'scratch.db')
  const db = new Sqlite(scratch)
  db.pragma('journal_mode = WAL')
  db.exec(`CREATE TABLE files (content_hash VARCHAR NOT NULL, id BIGINT, _file_name TEXT, reference BIGINT, document_type TEXT, pages BIGINT,
    retrieved_at DATETIME, "publisher:name" TEXT, __meta_added DATETIME, __meta_last_updated DATETIME, __state_added DATETIME,
    __state_last_updated DATETIME, imported BOOLEAN, PRIMARY KEY (content_hash))`)
  db.prepare(`INSERT INTO files VALUES ('a1', 1, 'a1.pdf', 12, 'contract', 3, '2026-11-20 10:00:00.000000', 'Bundestag',
    '2026-11-22 12:17:55.295840', '2026-11-22 12:17:55.295840', '2026-11-22 12:18:00.000000', '2026-11-22 12:18:00.000000', 1)`).run()
  const target = path.join(dir, '_mmmeta', 'state.db')
  fs.copyFileSync(scratch, target)
  fs.copyFileSync(scratch + '-wal', target + '-wal')
  db.close()
}

async function all (md: Metadir, ...args: Parameters<Metadir['files']['find']>): Promise<string[]> {
  const out: string[] = []
  for await (const file of md.files.find(...args) as AsyncIterable<MetaFile>) out.push(file.uid)
  return out
}

t.test('update on top of an mmmeta state db keeps consumer columns; find filters by type and hides deleted rows', async (t) => {
  const dir = base(t)
  mmmetaState(dir)
  const md = await metadir(dir)
  t.teardown(() => md.close())
  const first = await md.update()
  t.same([first.added, first.updated, first.skipped, first.deleted, first.invalid], [3, 1, 0, 0, 0])
  const a1 = md.files.get('a1')
  t.equal(a1?.get('imported'), true, 'the consumer column survived the update')
  t.equal(a1?.get('reference'), '0012', 'a string key stays "0012" (the BIGINT column was rebuilt as TEXT)')
  t.same(a1?.get('retrieved_at'), new Date('2026-11-20T10:00:00Z'))
  t.equal(a1?.get('id'), undefined, "mmmeta's spurious id is not handed out")
  t.ok((await md.store.get('state_last_updated')) instanceof Date, 'state_last_updated touched')
  t.same(md.metaLastUpdated, new Date('2026-11-22T12:17:55.295Z'))
  t.ok((md.stateLastUpdated as Date) > (md.metaLastUpdated as Date))
  t.same(await md.lastTouched(), await md.store.get('store_last_updated'), 'the store was touched last')

  t.same(await all(md, { document_type: 'contract' }), ['a1', 'b2'])
  t.same(await all(md, { imported: false }), ['b2', 'c3', 'd4'], 'false matches never-set')
  t.same(await all(md, { retrieved_at: { gte: new Date('2026-11-28T10:00:00Z') } }), ['b2', 'c3', 'd4'])
  t.same(await all(md, { pages: { gt: 2, lte: 12 } }), ['a1', 'c3'])
  t.same(await all(md, { pages: { in: [0, 1] } }), ['b2', 'd4'])
  t.same(await all(md, { 'publisher:name': { like: 'Land%' } }), ['b2'])
  t.same(await all(md, { document_type: { ne: 'contract' }, never_saved: { isNull: true } }), ['c3', 'd4'])
  t.same(await all(md, { never_saved: 'x' }), [], 'a column nobody saved yet is NULL everywhere')
  t.same(await all(md, {}, { limit: 3, highWaterMark: 1 }), ['a1', 'b2', 'c3'])
  t.equal(md.files.count({ document_type: 'contract' }), 2)
  const indexed = compileFilter(md.files.state, { document_type: 'contract' })
  const plan = (md.files.state.db.prepare(`EXPLAIN QUERY PLAN SELECT * FROM files WHERE ${indexed.sql}`).all(...indexed.params) as Array<{ detail: string }>).map((r) => r.detail)
  t.match(plan.join('; '), /USING INDEX ix_files_document_type/, 'a query by an indexed key searches its index')
  t.same(await all(md, {}, { orderBy: 'retrieved_at', limit: 2 }), ['a1', 'b2'])
  t.throws(() => md.files.find({}, { orderBy: 'nope' }), { code: 'SHOEBOX_INVALID_OPTION' })
  for await (const file of md.files.find() as AsyncIterable<MetaFile>) if (file.uid === 'a1') break
  await expectCode(t, Promise.resolve().then(() => md.files.count({ pages: { between: 1 } as never })), 'SHOEBOX_INVALID_OPTION', 'an unknown operator')

  fs.writeFileSync(path.join(dir, '_mmmeta', 'db', '2026-11-23T09:00:00.123456.append'), DIFF_DELETE)
  fs.writeFileSync(path.join(dir, '_mmmeta', 'db', '2026-11-23T09:00:01.000000.append'), DIFF.split('\r\n').slice(0, 2).join('\r\n') + '\r\n')
  const second = await md.update()
  t.same([second.added, second.updated, second.skipped, second.deleted, second.invalid], [0, 1, 2, 1, 0])
  t.same(await all(md), ['a1', 'b2', 'c3'], 'the soft-deleted row is hidden')
  t.same(await all(md, {}, { deleted: true }), ['a1', 'b2', 'c3', 'd4'])
  t.equal(md.files.get('d4')?.deleted, true)
  t.equal(md.files.get('d4')?.get('__deleted_reason'), 'meta-missing')
  t.equal(md.files.get('c3')?.get('pages'), 13)
  t.equal(md.files.count({}, { deleted: true }), 4)
})

t.test('save() while iterating, piping into a stage, remote templates', async (t) => {
  const md = await metadir(base(t))
  t.teardown(() => md.close())
  await md.update()
  const seen: string[] = []
  await pipeline(md.files.find({ imported: false }, { highWaterMark: 1 }), new Writable({
    objectMode: true,
    write (file: MetaFile, _enc, done) {
      seen.push(file.name)
      file.set('imported', true).set('_tries', 1)
      file.save().then(() => { done() }, done)
    }
  }))
  t.same(seen, ['a1.pdf', 'b2.pdf', 'c3.pdf', 'd4.pdf'])
  t.equal(md.files.count({ imported: false }), 0)
  t.equal(md.files.count({ imported: true, _tries: 1 }), 4)
  const b2 = md.files.get('b2') as MetaFile
  t.same(b2.remote, { url: 'https://bucket.example/docs/b2.pdf', by: 'https://example.org/Land, Berlin/{raw}' })
  t.same(JSON.parse(JSON.stringify(b2)).imported, true)
  const again = await md.update()
  t.same([again.skipped, again.updated], [4, 0], 'consumer columns are no change to the meta rows')
  t.equal(md.files.get('b2')?.get('imported'), true)
  await md.files.get('c3')?.set('publisher:name', null).save()
  t.throws(() => md.files.get('c3')?.remote, { code: 'SHOEBOX_META_CONFIG' }, 'a template over a key the row lacks names it')
})

t.test('an empty metadir: no history, no config keys beyond the defaults', async (t) => {
  const md = await metadir(t.testdir())
  t.teardown(() => md.close())
  t.same(await md.update(), { added: 0, updated: 0, deleted: 0, skipped: 0, invalid: 0, invalidRows: [], dropped: [] })
  t.same(await all(md), [])
  t.equal(md.files.count(), 0)
  t.equal(md.files.get('nothing'), undefined)
  t.equal(md.stateLastUpdated, null)
  t.equal(await md.lastTouched(), null, 'nothing touched yet is null, not a TypeError')
  t.ok(fs.existsSync(path.join(md.path, '_store')) && fs.existsSync(path.join(md.path, 'db')))
})

t.test('close() twice is fine; a metadir used after close() is a SHOEBOX_USAGE error naming its state db', async (t) => {
  // better-sqlite3's own TypeError ("The database connection is not open") named neither the metadir nor the mistake.
  const dir = base(t)
  const md = await metadir(dir)
  await md.update()
  const [file] = await all(md)
  const row = md.files.get(file)
  const count = md.files.count()
  md.close()
  md.close()
  const closed = { code: 'SHOEBOX_USAGE', message: `the state db ${path.join(dir, '_mmmeta', 'state.db')} is closed (its metadir's close() was called): open the metadir again to use it` }
  t.throws(() => md.files.count(), closed, 'count()')
  await t.rejects(md.update(), closed, 'update()')
  await t.rejects(all(md), closed, 'find()')
  row?.set('imported', true)
  await t.rejects(async () => { await row?.save() }, closed, 'save()')
  const again = await metadir(dir)
  t.teardown(() => again.close())
  t.equal(again.files.count(), count, 'opened again, it works')
})

t.test('an update that fails midway is rolled back, and the next update on the same handle works', async (t) => {
  const md = await metadir(base(t))
  t.teardown(() => md.close())
  // the first update adds every column, then a progress report throws: the ALTER TABLEs are rolled back too
  const err = await md.update({ progressEvery: 1, onProgress: (n) => { if (n === 2) throw new Error('stop') } }).catch((e: unknown) => e)
  t.match(err, { message: 'stop' })
  const result = await md.update()
  t.equal(result.added, 4, 'no row was kept: every row added by the next update (it failed with "no such column")')
  t.equal(md.files.count(), 4)
  t.equal(md.files.get('c3')?.get('pages'), 12)
})

t.test('update: a store that cannot be touched fails saying the update is committed', async (t) => {
  const dir = base(t)
  fs.mkdirSync(path.join(dir, '_mmmeta', '_store', 'state_last_updated', 'x'), { recursive: true })
  const md = await metadir(dir)
  t.teardown(async () => { await md.close() })
  const err = await expectCode(t, md.update(), 'SHOEBOX_IO', 'state_last_updated is a directory')
  t.match(err?.message, `(EISDIR); the update of ${path.join(dir, '_mmmeta', 'state.db')} is committed (added 4, updated 0, deleted 0), only the store's state_last_updated was not updated`)
  t.equal(await md.files.count({}), 4, 'the rows are in the state db')
})

t.test('update: a history file that cannot be read fails naming it (here a directory named .append)', async (t) => {
  const base = t.testdir({ _mmmeta: { db: { '2026-01-01T00:00:00.000001.append': 'content_hash\r\nx\r\n', '2026-01-02T00:00:00.000001.append': {} } } })
  const md = await metadir(base)
  t.teardown(() => { md.close() })
  const err = await expectCode(t, md.update(), 'SHOEBOX_IO', 'a directory in the history')
  t.match(err?.message, `cannot read ${path.join(base, '_mmmeta', 'db', '2026-01-02T00:00:00.000001.append')}: is a directory`, 'the message names the file (it said only "is a directory (EISDIR)")')
})

t.test('find/count: an in list longer than SQLite has parameters (32766) is taken, each value typed by its column', async (t) => {
  const dir = base(t)
  mmmetaState(dir)
  const md = await metadir(dir)
  t.teardown(() => md.close())
  await md.update()
  const uids = [...Array.from({ length: 40_000 }, (_, i) => `x${i}`), 'c3', 'a1']
  t.equal(md.files.count({ content_hash: { in: uids } }), 2, 'it failed with SQLite\'s raw "too many SQL variables"')
  t.same(await all(md, { content_hash: { in: uids } }, { orderBy: 'content_hash' }), ['a1', 'c3'])
  t.same(await all(md, { pages: { in: [...Array.from({ length: 40_000 }, (_, i) => 1000 + i), 0, 1] } }), ['b2', 'd4'], 'ints')
  t.same(await all(md, { retrieved_at: { in: [new Date('2026-11-20T10:00:00Z')] } }), ['a1'], 'a Date by its column type')
  t.same(await all(md, { reference: { in: ['0012', null] } }), ['a1'], '"0012" as text; null matches nothing, as in SQL')
})

t.test('an int beyond 64 bits is an invalid row (update) or a refused value (save), not a crash of the whole update', async (t) => {
  const huge = '123456789012345678901234567890'
  const dir = t.testdir({
    _mmmeta: {
      'config.yml': 'metadata:\n  types: { n: int }\n',
      db: { '2026-01-01T00:00:00.000001.append': `content_hash,n\r\na,${huge}\r\nb,5\r\nm,-9223372036854775808\r\n` }
    }
  })
  const md = await metadir(dir)
  t.teardown(() => md.close())
  const first = await md.update() // an empty state db: loaded directly
  t.same([first.added, first.invalid], [2, 1], 'it failed with RangeError "The bound string, buffer, or bigint is too big"')
  t.match(first.invalidRows, [{ uid: 'a', reason: /^n: "123456789012345678901234567890" is beyond a 64-bit integer/ }])
  t.equal(md.files.get('m')?.get('n'), -9223372036854775808n, 'the smallest 64-bit integer is one')
  fs.writeFileSync(path.join(dir, '_mmmeta', 'db', '2026-01-02T00:00:00.000001.append'), `content_hash,n\r\nc,-${huge}\r\nd,9223372036854775807\r\n`)
  const second = await md.update() // rows merged into a state db that has some
  t.same([second.added, second.invalid], [1, 2], 'c, and a again')
  t.equal(md.files.get('d')?.get('n'), 9223372036854775807n)
  const b = md.files.get('b')
  b?.set('n', 2n ** 64n)
  await expectCode(t, Promise.resolve().then(async () => { await b?.save() }), 'SHOEBOX_META_VALUE', 'save() of a bigint beyond 64 bits')
  t.equal(md.files.get('b')?.get('n'), 5, 'the row as it was')
})

t.test('update: SQLite failing mid-merge (a full disk) is SHOEBOX_IO naming the state db, rolled back', async (t) => {
  const dir = base(t)
  const md = await metadir(dir)
  t.teardown(() => md.close())
  await md.update()
  const before = md.files.count({}, { deleted: true })
  fs.writeFileSync(path.join(dir, '_mmmeta', 'db', '2026-11-24T00:00:00.000000.append'),
    'content_hash,_file_name,reference,document_type\r\n' + Array.from({ length: 2000 }, (_, i) => `u${i},u${i}.pdf,r,${'x'.repeat(300)}\r\n`).join(''))
  // no room to grow: as on a full disk, SQLite fails the write with SQLITE_FULL
  const db = md.files.state.db
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`)
  const err = await expectCode(t, md.update(), 'SHOEBOX_IO', 'it was SQLite\'s SqliteError "database or disk is full"')
  t.equal(err?.message, `${path.join(dir, '_mmmeta', 'state.db')}: cannot update the state db: database or disk is full; rolled back, the state db is as it was`)
  t.equal(md.files.count({}, { deleted: true }), before)
})

t.test('save(): a Date outside years 1 to 9999 is refused, not stored as text mmmeta cannot read back as a DATETIME', async (t) => {
  const dir = base(t)
  const md = await metadir(dir)
  t.teardown(() => md.close())
  await md.update()
  const uid = (await all(md))[0]
  // Stored as '+010000-01-01 00:00:00.000000' and '-000001-...' (toISOString's extended years): SQLAlchemy's DATETIME
  // parser, so mmmeta's next update, fails on them, and shoebox read them back as text, not as a time.
  for (const when of [new Date('+010000-01-01T00:00:00Z'), new Date(-62198755200000), new Date(8.64e15)]) {
    const file = md.files.get(uid) as MetaFile
    file.set('seen_at', when)
    const err = await expectCode(t, file.save(), 'SHOEBOX_META_VALUE', `${when.toISOString()} refused`)
    t.match(err?.message, /outside the years 1 to 9999/)
  }
  const numbered = md.files.get(uid) as MetaFile
  numbered.set('checked_at', new Date(0))
  await numbered.save()
  const far = md.files.get(uid) as MetaFile
  far.set('checked_at', 253402300800000) // 10000-01-01, as epoch ms
  await expectCode(t, far.save(), 'SHOEBOX_META_VALUE', 'epoch ms past 9999 refused too')
  const edges = md.files.get(uid) as MetaFile
  edges.set('checked_at', new Date('9999-12-31T23:59:59.999Z'))
  await edges.save()
  t.same(md.files.get(uid)?.get('checked_at'), new Date('9999-12-31T23:59:59.999Z'), 'the last millisecond of 9999 is kept')
  const first = md.files.get(uid) as MetaFile
  first.set('checked_at', new Date('0001-01-01T00:00:00Z'))
  await first.save()
  t.same(md.files.get(uid)?.get('checked_at'), new Date('0001-01-01T00:00:00Z'), 'and year 1')
})

t.test('save(): a refused value or a full disk leaves the row and the handle as they were', async (t) => {
  const dir = base(t)
  const md = await metadir(dir)
  t.teardown(() => md.close())
  await md.update()
  const uid = (await all(md))[0]
  const bad = md.files.get(uid) as MetaFile
  bad.set('checked_at', new Date('not a time'))
  await expectCode(t, bad.save(), 'SHOEBOX_META_VALUE', 'an invalid Date, in a column save() makes')
  // The column's ALTER TABLE was rolled back with the row: the handle forgot it too (it kept it, and then every
  // save and query of checked_at failed with "table files has no column named checked_at").
  const good = md.files.get(uid) as MetaFile
  good.set('checked_at', new Date('2026-12-01T00:00:00Z'))
  await good.save()
  t.same(md.files.get(uid)?.get('checked_at'), new Date('2026-12-01T00:00:00Z'))
  t.equal(md.files.count({ checked_at: { isNull: false } }), 1)

  const db = md.files.state.db
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`) // as a full disk: SQLITE_FULL
  const big = md.files.get(uid) as MetaFile
  big.set('note', 'x'.repeat(100_000))
  const err = await expectCode(t, big.save(), 'SHOEBOX_IO', 'it was SQLite\'s bare SqliteError')
  t.equal(err?.message, `${path.join(dir, '_mmmeta', 'state.db')}: cannot save content_hash ${uid}: database or disk is full; the row is as it was`)
  t.equal(md.files.get(uid)?.get('note'), undefined)
  db.pragma('max_page_count = 1073741823')
  await big.save()
  t.equal((md.files.get(uid)?.get('note') as string).length, 100_000, 'a later save works')
})
