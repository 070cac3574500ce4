/**
 * The lines `meta index` (an invalid record), and `meta squash`, `dump`,
 * `generate` and `index` (a history row skipped, each in the same words)
 * print on stderr hold text from data anyone may have
 * written: archive and history file names, metadata keys. Each is one line,
 * its control characters escaped (README, "Exit codes"): a name with a
 * newline or an escape sequence neither splits the line nor reaches the
 * terminal raw.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { encodeRecords } from '../../../lib/index.js'
import { metaPaths } from '../../../lib/meta/config.js'
import { formatCsvRow } from '../../../lib/meta/csv.js'
import { cli } from '../../cli-run.js'
import { tempDir } from '../../temp-dir.js'

/** A name holding a newline and a terminal escape sequence (red text), and how oneLine() writes it. */
const HOSTILE = 'x\x1b[31m\ny'
const ESCAPED = 'x\\x1b[31m\\ny'

/** No raw control character (the line's own newline aside). */
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/

t.test('meta index: an invalid record\'s line escapes its archive\'s name and a key from its metadata', async (t) => {
  const base = tempDir(t)
  fs.mkdirSync(metaPaths(base).metadir, { recursive: true })
  const dir = path.join(base, 'archives')
  fs.mkdirSync(dir)
  const archive = path.join(dir, `${HOSTILE}.shoebox`)
  fs.writeFileSync(archive, encodeRecords([
    { metadata: { title: 'no key' }, payload: 'a' },
    { metadata: { content_hash: 'h2', [`a,b${HOSTILE}`]: 'v' }, payload: 'b' }
  ]))
  const r = await cli(['meta', 'index', path.join(dir, '*'), '--metadir', base])
  t.equal(r.code, 0, r.stderr)
  // Named relative to the metadir, as index rows name their archives.
  const shown = `archives/${ESCAPED}.shoebox`
  t.same(r.stderr.split('\n'), [
    `invalid ${shown} record 1: missing keys: content_hash`,
    `invalid ${shown} record 2: the key 'a,b${ESCAPED}' holds a comma, which the meta db cannot list in __mmmeta_keys`,
    ''
  ])
  t.notMatch(r.stderr, RAW_CONTROL)
})

t.test('meta squash and meta dump: a skipped history row\'s line escapes its file\'s name', async (t) => {
  const base = tempDir(t)
  fs.mkdirSync(metaPaths(base).db, { recursive: true })
  const name = `2026-01-01T00:00:00.000000${HOSTILE}.append`
  fs.writeFileSync(path.join(metaPaths(base).db, name), formatCsvRow(['content_hash', 'title']) + formatCsvRow(['', 'no key']) + formatCsvRow(['h1', 'one']))
  const shown = path.join(metaPaths(base).db, `2026-01-01T00:00:00.000000${ESCAPED}.append`)
  const dump = await cli(['meta', 'dump', '--metadir', base])
  t.equal(dump.code, 0, dump.stderr)
  t.same(dump.stderr.split('\n'), [`skipped ${shown}: line 2: no value for the unique key 'content_hash'`, ''], 'dump')
  t.notMatch(dump.stderr, RAW_CONTROL, 'dump')
  const squash = await cli(['meta', 'squash', '--metadir', base])
  t.equal(squash.code, 0, squash.stderr)
  t.same(squash.stderr.split('\n'), [`skipped ${shown}: line 2: no value for the unique key 'content_hash'`, ''], 'squash')
  t.notMatch(squash.stderr, RAW_CONTROL, 'squash')
})

t.test('meta generate and meta index: a history row their replay skipped is a line, as squash says it', async (t) => {
  for (const command of ['generate', 'index'] as const) {
    const base = tempDir(t)
    fs.mkdirSync(metaPaths(base).db, { recursive: true })
    const name = `2026-01-01T00:00:00.000000${HOSTILE}.append`
    fs.writeFileSync(path.join(metaPaths(base).db, name), formatCsvRow(['content_hash', 'title']) + formatCsvRow(['', 'no key']) + formatCsvRow(['h1', 'one']))
    const shown = path.join(metaPaths(base).db, `2026-01-01T00:00:00.000000${ESCAPED}.append`)
    const archives = path.join(base, 'archives')
    fs.mkdirSync(archives)
    fs.writeFileSync(path.join(archives, 'a.shoebox'), encodeRecords([{ metadata: { content_hash: 'h2' }, payload: 'b' }]))
    const args = command === 'generate' ? ['meta', 'generate', '--metadir', base] : ['meta', 'index', path.join(archives, '*'), '--metadir', base]
    const r = await cli(args)
    t.equal(r.code, 0, r.stderr)
    t.same(r.stderr.split('\n'), [`skipped ${shown}: line 2: no value for the unique key 'content_hash'`, ''], command)
    t.notMatch(r.stderr, RAW_CONTROL, command)
  }
})
