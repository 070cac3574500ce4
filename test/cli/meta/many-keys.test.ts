/**
 * A metadir with more metadata keys than a state db can have columns
 * (SQLite's 2000 a table, less update's bookkeeping): generate, squash and
 * update refuse it with one SHOEBOX_META_SCHEMA line naming the metadir, the
 * key count and the limit, and write nothing; up to the limit all of them work.
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { cli, jsonLines } from '../../cli-run.js'
import { metaPaths } from '../../../lib/meta/config.js'
import { MAX_METADATA_KEYS } from '../../../lib/meta/key-limit.js'
import { tempDir } from '../../temp-dir.js'

function metadir (t: Test, config = 'metadata:\n  file_name: _file_name\n'): string {
  const base = tempDir(t, 'shoebox-meta-keys-')
  fs.mkdirSync(metaPaths(base).metadir, { recursive: true })
  fs.writeFileSync(metaPaths(base).config, config)
  return base
}

/** `files` JSON documents with `perFile` keys of their own each (k<from + i>), plus content_hash and _file_name. */
function scrape (base: string, files: number, perFile: number, from = 0): void {
  for (let f = 0; f < files; f++) {
    const doc: Record<string, string> = { content_hash: `h${from + f}`, _file_name: `h${from + f}.pdf` }
    for (let k = 0; k < perFile; k++) doc[`k${from + f * perFile + k}`] = `v${k}`
    fs.writeFileSync(path.join(base, `h${from + f}.json`), JSON.stringify(doc))
  }
}

/** What a refused run must leave: the db/ files it found, no scratch files, the lock free. */
function leftAlone (t: Test, base: string, dbFiles: string[]): void {
  t.same(fs.readdirSync(metaPaths(base).db).sort(), dbFiles, 'db/ as it was')
  t.same(fs.readdirSync(metaPaths(base).metadir).filter((n) => n.startsWith('.')), [], 'no scratch or lock left')
}

const LIMIT_LINE = new RegExp(`^shoebox meta (?:generate|index|squash|update): the (meta db|metadata) of .*shoebox-meta-keys-\\w+ has (\\d+|more than ${MAX_METADATA_KEYS}) metadata keys.*at most ${MAX_METADATA_KEYS}.*SQLite allows 2000.*(nothing was written|the state db .* is unchanged).*metadata.include.*\\n$`)

t.test('generate over an empty meta db: 3004 keys refused, nothing written', async (t) => {
  const base = metadir(t)
  scrape(base, 30, 100)
  const r = await cli(['meta', 'generate', '--metadir', base])
  t.equal(r.code, 1)
  t.match(r.stderr, LIMIT_LINE)
  // 3000 of their own, content_hash, _file_name, __meta_added and __meta_last_updated
  t.match(r.stderr, /has 3004 metadata keys/)
  t.match(r.stderr, /nothing was written/)
  leftAlone(t, base, [])
})

t.test('exactly the limit works end to end; one key more is refused by generate, squash and update, and update counts the consumer\'s own columns', async (t) => {
  const base = metadir(t)
  // content_hash, _file_name, __meta_added, __meta_last_updated and the k keys: the limit exactly.
  const own = MAX_METADATA_KEYS - 4
  scrape(base, 1, own)
  let r = await cli(['meta', 'generate', '--metadir', base])
  t.equal(r.code, 0, r.stderr)
  r = await cli(['meta', 'update', '--metadir', base, '--json'])
  t.equal(r.code, 0, r.stderr)
  t.match(jsonLines(r.stdout), [{ added: 1 }])
  const got = await cli(['meta', 'get', '--metadir', base, 'h0'])
  t.equal((JSON.parse(got.stdout.toString()) as Record<string, unknown>)[`k${own - 1}`], `v${own - 1}`)
  const dbFiles = fs.readdirSync(metaPaths(base).db).sort()

  // One more key, in a new document: generate replays the history and refuses at the new key.
  scrape(base, 1, 1, own)
  r = await cli(['meta', 'generate', '--metadir', base])
  t.equal(r.code, 1)
  t.match(r.stderr, LIMIT_LINE)
  t.match(r.stderr, `has more than ${MAX_METADATA_KEYS} metadata keys`)
  leftAlone(t, base, dbFiles)

  // A history that has it anyway (written by another tool): squash and update refuse it whole.
  const header = fs.readFileSync(path.join(metaPaths(base).db, dbFiles[0]), 'utf8').split('\r\n')[0]
  fs.writeFileSync(path.join(metaPaths(base).db, '2999-01-01T00:00:00.000000.append'), `${header},extra\r\nh0,${',x'.repeat(header.split(',').length - 1)},1\r\n`.replace(/,x(?=,1\r\n$)/, ',extra'))
  const withExtra = fs.readdirSync(metaPaths(base).db).sort()
  r = await cli(['meta', 'squash', '--metadir', base])
  t.equal(r.code, 1)
  t.match(r.stderr, LIMIT_LINE)
  t.match(r.stderr, `has ${MAX_METADATA_KEYS + 1} metadata keys`)
  leftAlone(t, base, withExtra)
  r = await cli(['meta', 'update', '--metadir', base])
  t.equal(r.code, 1)
  t.match(r.stderr, LIMIT_LINE)
  t.match(r.stderr, /the state db .*state\.db is unchanged/)
  const after = await cli(['meta', 'get', '--metadir', base, 'h0'])
  t.same(JSON.parse(after.stdout.toString()), JSON.parse(got.stdout.toString()), 'the state row as the last update left it')

  // The consumer's own columns count too: one metadata column traded for one of the consumer's
  // (the table stays full), and the history, within a metadir's limit, is one too many for it.
  fs.unlinkSync(path.join(metaPaths(base).db, '2999-01-01T00:00:00.000000.append'))
  const Database = (await import('better-sqlite3')).default
  const db = new Database(metaPaths(base).state)
  db.exec('ALTER TABLE files DROP COLUMN k0')
  db.exec("DELETE FROM _shoebox_columns WHERE name = 'k0'")
  db.exec('ALTER TABLE files ADD COLUMN imported INTEGER')
  db.exec('UPDATE files SET imported = 1')
  db.close()
  r = await cli(['meta', 'update', '--metadir', base])
  t.equal(r.code, 1, r.stderr)
  t.match(r.stderr, LIMIT_LINE)
  t.match(r.stderr, `has ${MAX_METADATA_KEYS + 1} metadata keys (and state columns)`)
  const row = JSON.parse((await cli(['meta', 'get', '--metadir', base, 'h0'])).stdout.toString()) as Record<string, unknown>
  t.equal(row.imported, 1, 'the consumer column kept')
  t.equal(row.k0, undefined, 'the state as it was')
})


t.test('files.upsert() past the limit: refused whole, the row and the table unchanged', async (t) => {
  const base = metadir(t)
  scrape(base, 1, 3)
  t.equal((await cli(['meta', 'generate', '--metadir', base])).code, 0)
  t.equal((await cli(['meta', 'update', '--metadir', base])).code, 0)
  const { metadir: open } = await import('../../../lib/meta/metadir.js')
  const md = await open(base)
  t.teardown(() => { md.close() })
  const before = md.files.get('h0')?.toJSON()
  const many = new Map(Array.from({ length: 2000 }, (_, i) => [`extra${i}`, 'x']))
  t.throws(() => { md.files.upsert('h0', many) }, { code: 'SHOEBOX_META_SCHEMA', message: /state db .*state\.db has 2012 metadata keys.*its files table is unchanged/ })
  t.same(md.files.get('h0')?.toJSON(), before)
  md.files.upsert('h0', new Map([['imported', 'yes']]))
  t.equal(md.files.get('h0')?.toJSON().imported, 'yes', 'a column within the limit is still added')
})
