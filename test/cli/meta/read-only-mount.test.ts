/**
 * `shoebox meta query` (and the API's metadir()) on a metadir that sits on a
 * real read-only mount: the CLI runs in a mount namespace of its own where
 * the metadir's directory is bound read-only onto itself (cli-child.ts's
 * readOnly), so SQLite meets EROFS exactly as on a snapshot, an NFS export or
 * a `:ro` container volume. In WAL mode SQLite must make state.db-shm to read
 * the db; every read failed there.
 */
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import Sqlite from 'better-sqlite3'
import t, { type Test } from 'tap'
import { cli } from '../../cli-run.js'
import { cliBinary } from '../../fixtures-s3/cli-build.js'
import { runCli, treeContents as contents } from '../../fixtures-roll/cli-child.js'
import { tempDir } from '../../fixtures-roll/util.js'

const CONFIG = `metadata:
  unique: content_hash
  file_name: _file_name
  types: { pages: int }
  index: [document_type]
`
const HISTORY = 'content_hash,_file_name,document_type,pages,__meta_added,__meta_last_updated\r\n' +
  'a1,a1.pdf,contract,12,2026-11-22 12:17:55.295840,2026-11-22 12:17:55.295840\r\n' +
  'b2,b2.pdf,letter,0,2026-11-22 12:17:55.295840,2026-11-22 12:17:55.295840\r\n' +
  'c3,c3.pdf,contract,,2026-11-22 12:17:55.295840,2026-11-22 12:17:55.295840\r\n'

/** A metadir updated (and closed: its WAL checkpointed away) in a directory of its own. */
async function updatedMetadir (t: Test): Promise<{ base: string, state: string }> {
  const base = tempDir(t, 'shoebox-meta-ro-')
  fs.mkdirSync(path.join(base, '_mmmeta', 'db'), { recursive: true })
  fs.writeFileSync(path.join(base, '_mmmeta', 'config.yml'), CONFIG)
  fs.writeFileSync(path.join(base, '_mmmeta', 'db', '2026-11-22T12:17:55.295840.append'), HISTORY)
  t.equal((await cli(['meta', 'update', '--metadir', base])).code, 0)
  return { base, state: path.join(base, '_mmmeta', 'state.db') }
}

const contentHashes = (stdout: Buffer): string[] => stdout.toString().split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { content_hash: string }).content_hash)

t.test('a metadir on a read-only mount is queried as it is: rows, counts, find(), nothing made beside the state db', async (t) => {
  const { base, state } = await updatedMetadir(t)
  const before = contents(base)
  t.notOk(fs.existsSync(`${state}-wal`), 'closed cleanly: no WAL left')
  const onMount = { readOnly: [base] }
  const count = await runCli(t, cliBinary(), ['meta', 'query', '--metadir', base, '--count', 'document_type=contract'], '', onMount)
  t.equal(count.stderr, '', 'it said: cannot open the state db: its directory ...: read-only file system (EROFS)')
  t.equal(count.stdout.toString(), '2\n')
  t.equal(count.code, 0)
  const rows = await runCli(t, cliBinary(), ['meta', 'query', '--metadir', base, '--order', 'content_hash'], '', onMount)
  t.equal(rows.stderr, '')
  t.same(contentHashes(rows.stdout), ['a1', 'b2', 'c3'], 'find() reads through a connection of its own, immutable too')
  const inspect = await runCli(t, cliBinary(), ['meta', 'inspect', '--metadir', base], '', onMount)
  t.equal(inspect.stderr, '')
  t.match(inspect.stdout.toString(), /^files: 3\n/)
  const got = await runCli(t, cliBinary(), ['meta', 'get', '--metadir', base, 'b2'], '', onMount)
  t.equal(got.stderr, '')
  t.same(contentHashes(got.stdout), ['b2'])
  t.same(contents(base), before, 'no -shm, no -wal, no lock, nothing changed')
})

t.test('meta update on a read-only mount is refused by name, the state db as it was', async (t) => {
  const { base, state } = await updatedMetadir(t)
  fs.appendFileSync(path.join(base, '_mmmeta', 'db', '2026-11-22T12:17:55.295840.append'), 'd4,d4.pdf,letter,1,2026-11-23 12:00:00.000000,2026-11-23 12:00:00.000000\r\n')
  const before = contents(base)
  const r = await runCli(t, cliBinary(), ['meta', 'update', '--metadir', base], '', { readOnly: [base] })
  t.equal(r.stderr, `shoebox meta update: ${state}: cannot update it: its directory is on a read-only mount (read-only file system, EROFS), where the state db is only read; nothing was merged\n`)
  t.equal(r.code, 1)
  t.same(contents(base), before)
})

t.test('the API on a read-only mount: metadir() opens it to be read, readOnly says so, save() and update() are refused by name', async (t) => {
  const { base, state } = await updatedMetadir(t)
  const before = contents(base)
  // A script of the test's own in the child, on the same transpiled lib as the CLI's.
  const script = path.join(tempDir(t, 'shoebox-meta-ro-api-'), 'api.mjs')
  const lib = pathToFileURL(path.join(path.dirname(cliBinary()), '..', 'meta', 'metadir.js')).href
  fs.writeFileSync(script, `import { metadir } from ${JSON.stringify(lib)}
const md = await metadir(process.argv[2])
const said = async (p) => { try { await p; return 'done' } catch (err) { return err.code + ': ' + err.message } }
const rows = []
for await (const file of md.files.find({ document_type: 'contract' }, { orderBy: 'content_hash' })) rows.push(file.uid)
const file = md.files.get('a1')
file.set('imported', true)
console.log(JSON.stringify({ readOnly: md.readOnly, rows, count: md.files.count(), save: await said(file.save()), update: await said(md.update()) }))
md.close()
`)
  const r = await runCli(t, script, [base], '', { readOnly: [base] })
  t.equal(r.stderr, '')
  const refused = (action: string, kept: string): string => `SHOEBOX_IO: ${state}: cannot ${action}: its directory is on a read-only mount (read-only file system, EROFS), where the state db is only read; ${kept}`
  t.same(JSON.parse(r.stdout.toString()), {
    readOnly: true,
    rows: ['a1', 'c3'],
    count: 3,
    save: refused('save content_hash a1', 'the row is as it was'),
    update: refused('update it', 'nothing was merged')
  })
  t.same(contents(base), before)
})

t.test('a process that loaded better-sqlite3 before shoebox (SQLite URI filenames off) is told what to set, not answered from a partial read', async (t) => {
  const { base, state } = await updatedMetadir(t)
  const script = path.join(tempDir(t, 'shoebox-meta-ro-uri-'), 'first.mjs')
  const tree = path.dirname(path.dirname(path.dirname(cliBinary())))
  const lib = pathToFileURL(path.join(tree, 'lib', 'meta', 'metadir.js')).href
  fs.writeFileSync(script, `import { createRequire } from 'node:module'
import { metadir } from ${JSON.stringify(lib)}
const Sqlite = createRequire(${JSON.stringify(path.join(tree, 'package.json'))})('better-sqlite3')
new Sqlite(':memory:').close()
try { await metadir(process.argv[2]); console.log('opened') } catch (err) { console.log(err.code + ': ' + err.message) }
`)
  const r = await runCli(t, script, [base], '', { readOnly: [base] })
  t.equal(r.stderr, '')
  t.equal(r.stdout.toString(), `SHOEBOX_IO: ${state}: cannot open the state db: its directory is on a read-only mount (read-only file system, EROFS), where SQLite reads a WAL-mode db only as immutable, by a URI filename, and better-sqlite3 was loaded before shoebox without them: start node with SQLITE_USE_URI=1; nothing read\n`)
  const fixed = await runCli(t, script, [base], '', { readOnly: [base], env: { SQLITE_USE_URI: '1' } })
  t.equal(fixed.stdout.toString(), 'opened\n', 'with SQLITE_USE_URI=1 it opens')
})

t.test('on a read-only mount, a metadir never updated (no state db) and a rollback journal left beside the state db are refused by name', async (t) => {
  const fresh = tempDir(t, 'shoebox-meta-ro-fresh-')
  fs.mkdirSync(path.join(fresh, '_mmmeta'))
  fs.writeFileSync(path.join(fresh, '_mmmeta', 'config.yml'), CONFIG)
  const none = await runCli(t, cliBinary(), ['meta', 'query', '--metadir', fresh, '--count'], '', { readOnly: [fresh] })
  t.equal(none.stderr, `shoebox meta query: ${path.join(fresh, '_mmmeta', 'state.db')}: no state db here, and its directory is on a read-only mount (read-only file system, EROFS), where none can be made; nothing read\n`)
  t.equal(none.code, 1)
  t.same(fs.readdirSync(path.join(fresh, '_mmmeta')), ['config.yml'], 'no db/ or _store/ made either')

  const { base, state } = await updatedMetadir(t)
  // What a writer in rollback mode (mmmeta's, not WAL) leaves when it stops inside a transaction.
  fs.writeFileSync(`${state}-journal`, Buffer.alloc(4096, 1))
  const hot = await runCli(t, cliBinary(), ['meta', 'query', '--metadir', base, '--count'], '', { readOnly: [base] })
  t.equal(hot.stderr, `shoebox meta query: ${state}-journal: a transaction not finished left 4096 bytes of rollback journal beside the state db, and its directory is on a read-only mount (read-only file system, EROFS), where SQLite can neither roll it back nor read around it: open the metadir once where it can be written (any shoebox meta command does it); nothing read\n`)
  t.equal(hot.code, 1)
})

/**
 * A copy of the metadir taken while a writer had the state db open, its last
 * change (row d4, and b2's pages) still in the -wal: a snapshot of a live
 * metadir. `shm` says whether the copy has the -shm too.
 */
async function snapshotWithWal (t: Test, shm: boolean): Promise<{ base: string, state: string }> {
  const live = await updatedMetadir(t)
  const db = new Sqlite(live.state)
  t.teardown(() => { if (db.open) db.close() })
  db.pragma('wal_autocheckpoint = 0')
  db.exec("INSERT INTO files (content_hash, _file_name, document_type) VALUES ('d4', 'd4.pdf', 'contract')")
  db.exec("UPDATE files SET pages = 99 WHERE content_hash = 'b2'")
  const base = tempDir(t, 'shoebox-meta-ro-snap-')
  fs.cpSync(live.base, base, { recursive: true })
  const state = path.join(base, '_mmmeta', 'state.db')
  if (!shm) fs.rmSync(`${state}-shm`)
  db.close()
  t.ok(fs.statSync(`${state}-wal`).size > 0, 'the snapshot holds changes in its -wal only')
  return { base, state }
}

t.test('a snapshot whose -wal holds changes not checkpointed: read through the -wal when its -shm is there, never the db file alone', async (t) => {
  const { base } = await snapshotWithWal(t, true)
  const before = contents(base)
  const r = await runCli(t, cliBinary(), ['meta', 'query', '--metadir', base, 'document_type=contract', '--order', 'content_hash'], '', { readOnly: [base] })
  t.equal(r.stderr, '')
  t.same(contentHashes(r.stdout), ['a1', 'c3', 'd4'], 'd4, committed in the -wal, is there (immutable would have missed it)')
  const b2 = await runCli(t, cliBinary(), ['meta', 'query', '--metadir', base, 'content_hash=b2'], '', { readOnly: [base] })
  t.match(JSON.parse(b2.stdout.toString()), { pages: 99 }, "b2's change in the -wal is read")
  t.same(contents(base), before)
})

t.test('a snapshot whose -wal holds changes and has no -shm is refused naming the -wal, not answered from the db file alone', async (t) => {
  const { base, state } = await snapshotWithWal(t, false)
  const before = contents(base)
  const wal = fs.statSync(`${state}-wal`).size
  const r = await runCli(t, cliBinary(), ['meta', 'query', '--metadir', base, '--count'], '', { readOnly: [base] })
  t.equal(r.stderr, `shoebox meta query: ${state}-wal: ${wal} bytes of changes not checkpointed into the state db, and its directory is on a read-only mount (read-only file system, EROFS), where SQLite reads them only with ${state}-shm beside them, which is not there; read alone, ${state} would miss them. Open the metadir once where it can be written (any shoebox meta command checkpoints it on close), or copy its _mmmeta/ somewhere writable; nothing read\n`)
  t.equal(r.stdout.toString(), '', 'no count of 3 (the db file alone) in place of 4')
  t.equal(r.code, 1)
  t.same(contents(base), before)
  t.equal((await cli(['meta', 'query', '--metadir', base, '--count'])).stdout.toString(), '4\n', 'where it can be written, the -wal is read (and checkpointed)')
})
