/**
 * The meta db history (spec §4.3): files as mmmeta writes them (by hand
 * here), name order, the newest .squashed and the appends after it,
 * __mmmeta_keys partial rows, null propagation, an empty db, names in UTC
 * with microseconds that never sort before an existing file, and a 10k-row
 * history (a sanity run; no timing asserted).
 */
import t, { type Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import {
  historyRows, listHistoryFiles, loadHistory, metaTimestamp, MetaHistory, nextHistoryName, readHistoryFile, replaySet, type HistoryProblem
} from '../../lib/meta/history.js'
import { metaPaths } from '../../lib/meta/config.js'
import { formatCsvRow } from '../../lib/meta/csv.js'
import { expectCode } from '../helpers.js'
import { tempDir } from '../temp-dir.js'

const config = { unique: 'content_hash' }

function metadir (t: Test): string {
  const dir = tempDir(t, 'shoebox-meta-history-')
  fs.mkdirSync(metaPaths(dir).db, { recursive: true })
  return dir
}

function put (dir: string, name: string, text: string): void {
  fs.writeFileSync(path.join(metaPaths(dir).db, name), text)
}

// A first generate as mmmeta writes it (columns in set order, naive local names; one without microseconds).
const FIRST = 'content_hash,_file_name,int_value,publisher:name,__meta_added,__meta_last_updated\r\n' +
  'aaa,aaa.pdf,2,Bundestag,2022-06-01 10:00:00.000001,2022-06-01 10:00:00.000001\r\n' +
  'bbb,bbb.pdf,2,"Land, Berlin",2022-06-01 10:00:00.000001,2022-06-01 10:00:00.000001\r\n'
// A later diff: one value changed, one set to null (listed, empty cell).
const DIFF = 'int_value,publisher:name,content_hash,__meta_last_updated,__mmmeta_keys\r\n' +
  '3,,aaa,2022-06-02 10:00:00.000000,"int_value,publisher:name,__meta_last_updated"\r\n' +
  ',,bbb,2022-06-02 10:00:00.000000,"publisher:name"\r\n'

t.test('an empty or missing db is an empty history', async (t) => {
  const dir = metadir(t)
  t.same(await listHistoryFiles(dir), [])
  t.equal((await loadHistory(dir, config)).size, 0)
  t.equal((await loadHistory(path.join(dir, 'nowhere'), config)).size, 0)
  put(dir, 'README', 'not history')
  put(dir, '.2030-01-01T00:00:00.000000.append.abc.tmp', 'half')
  t.same(await listHistoryFiles(dir), [], 'other files and temporaries are not history')
})

t.test('replay: partial rows, null propagation, untouched keys kept', async (t) => {
  const dir = metadir(t)
  put(dir, '2022-06-01T10:00:00.000001.append', FIRST)
  put(dir, '2022-06-02T10:00:00.append', DIFF)
  const rows = []
  for await (const row of historyRows(dir, config)) rows.push(row)
  t.same(rows, [
    { content_hash: 'aaa', _file_name: 'aaa.pdf', int_value: '3', 'publisher:name': null, __meta_added: '2022-06-01 10:00:00.000001', __meta_last_updated: '2022-06-02 10:00:00.000000' },
    { content_hash: 'bbb', _file_name: 'bbb.pdf', int_value: '2', 'publisher:name': null, __meta_added: '2022-06-01 10:00:00.000001', __meta_last_updated: '2022-06-01 10:00:00.000001' }
  ])
})

t.test('the newest .squashed starts the replay; earlier files are not read', async (t) => {
  const dir = metadir(t)
  put(dir, '2022-01-01T00:00:00.000000.append', 'content_hash,foo\r\nold,bar\r\n')
  put(dir, '2022-01-02T00:00:00.000000.squashed', 'content_hash,foo\r\nx,1\r\ny,2\r\n')
  put(dir, '2022-01-03T00:00:00.000000.append', 'content_hash,foo\r\nx,3\r\nz,4\r\n')
  put(dir, '2022-01-04T00:00:00.000000.squashed', 'content_hash,foo,bar\r\nx,5,"0"\r\n')
  put(dir, '2022-01-05T00:00:00.000000.append', 'content_hash,foo,__mmmeta_keys\r\nx,6,foo\r\nw,"",\r\n')
  const files = await listHistoryFiles(dir)
  t.same(replaySet(files).map((f) => f.name), ['2022-01-04T00:00:00.000000.squashed', '2022-01-05T00:00:00.000000.append'])
  const history = await loadHistory(dir, config)
  t.same([...history.rows()], [{ content_hash: 'x', foo: '6', bar: '0' }, { content_hash: 'w', foo: '' }])
  t.same(history.columns(), ['content_hash', 'bar', 'foo'])
  t.same([...history.cellRows(history.columns())], [['x', '0', '6'], ['w', null, '']])
  t.equal(history.value('w', 'bar'), undefined)
})

t.test('mmmeta test_appendonly: 1000 rows, then 10000 overlapping with other columns', async (t) => {
  const dir = metadir(t)
  let first = formatCsvRow(['content_hash', 'foo', 'n'])
  for (let i = 0; i < 1000; i++) first += formatCsvRow([`u${i}`, 'bar', String(i)])
  let second = formatCsvRow(['content_hash', 'foo', 'other'])
  for (let i = 0; i < 10000; i++) second += formatCsvRow([`u${i}`, 'baz', `o${i}`])
  put(dir, '2026-01-01T00:00:00.000000.append', first)
  put(dir, '2026-01-01T00:00:01.000000.append', second)
  const history = await loadHistory(dir, config)
  t.equal(history.size, 10000)
  t.same(history.get('u5'), { content_hash: 'u5', foo: 'baz', n: '5', other: 'o5' })
  t.same(history.get('u5000'), { content_hash: 'u5000', foo: 'baz', other: 'o5000' })
  let bars = 0
  for (const row of history.rows()) if (row.foo === 'bar') bars++
  t.equal(bars, 0, 'no foo=bar left')
})

t.test('rows that cannot apply are reported with file and line, the rest kept', async (t) => {
  const dir = metadir(t)
  put(dir, '2026-01-01T00:00:00.000000.append', 'content_hash,a\r\nx,1\r\n,2\r\ny,1,extra\r\n"multi\nline",3\r\nz\r\n')
  const problems: HistoryProblem[] = []
  const history = await loadHistory(dir, config, { onProblem: (p) => problems.push(p) })
  t.same([...history.rows()], [{ content_hash: 'x', a: '1' }, { content_hash: 'multi\nline', a: '3' }, { content_hash: 'z', a: null }])
  const file = path.join(metaPaths(dir).db, '2026-01-01T00:00:00.000000.append')
  t.same(problems, [
    { file, line: 3, reason: "no value for the unique key 'content_hash'" },
    { file, line: 4, reason: '3 cells for 2 columns' }
  ])
  put(dir, '2026-01-02T00:00:00.000000.append', 'id,a\r\nx,1\r\n')
  const err = await expectCode(t, loadHistory(dir, config), 'SHOEBOX_META_HISTORY', 'no unique column')
  t.match(err?.message, '2026-01-02T00:00:00.000000.append: line 1')
})

t.test('readHistoryFile of a missing file is an IO error naming it', async (t) => {
  const dir = metadir(t)
  const missing = path.join(dir, 'gone.append')
  const err = await expectCode(t, (async () => { for await (const entry of readHistoryFile(missing, 'content_hash')) void entry })(), 'SHOEBOX_IO', 'missing file')
  t.match(err?.message, 'gone.append')
})

t.test('a history file that is not UTF-8 is refused naming the byte, not read with U+FFFD for its bytes', async (t) => {
  const dir = metadir(t)
  const read = async (file: string): Promise<unknown[]> => {
    const out: unknown[] = []
    for await (const entry of readHistoryFile(file, 'content_hash')) out.push(entry.values)
    return out
  }
  // a Latin-1 'café' (mmmeta on a cp1252 machine), past a real U+FFFD and a 4-byte character
  const latin1 = path.join(dir, 'latin1.append')
  fs.writeFileSync(latin1, Buffer.concat([Buffer.from('content_hash,x\r\na,\uFFFD\u{1F600}\r\nb,caf'), Buffer.from([0xe9]), Buffer.from('\r\n')]))
  const err = await expectCode(t, read(latin1), 'SHOEBOX_META_HISTORY', 'Latin-1')
  t.equal(err?.message, `${latin1}: byte 32 is not valid UTF-8 (written in another encoding?); decoded, its values would be stored changed`)
  // one cut short at the end
  const cut = path.join(dir, 'cut.append')
  fs.writeFileSync(cut, Buffer.concat([Buffer.from('content_hash,x\r\na,'), Buffer.from('é').subarray(0, 1)]))
  t.match((await expectCode(t, read(cut), 'SHOEBOX_META_HISTORY', 'cut short'))?.message, 'byte 18 is not valid UTF-8')
  // characters split between read chunks (256 KiB) are whole: read as written
  const big = path.join(dir, 'big.append')
  const rows = Array.from({ length: 40000 }, (_, i) => `u${i},Grüße 日本 \u{1F600}\r\n`).join('')
  fs.writeFileSync(big, `content_hash,x\r\n${rows}`)
  const got = await read(big)
  t.equal(got.length, 40000)
  t.same(got[39999], { content_hash: 'u39999', x: 'Grüße 日本 \u{1F600}' })
})

t.test('names: UTC, microseconds always, never at or before an existing name', async (t) => {
  const micros = Date.UTC(2026, 11, 3, 10, 45, 7) * 1000
  t.equal(metaTimestamp(micros), '2026-12-03 10:45:07.000000')
  t.equal(metaTimestamp(micros + 42, 'T'), '2026-12-03T10:45:07.000042')
  t.equal(nextHistoryName('append', [], micros), '2026-12-03T10:45:07.000000.append')
  const f = (name: string) => ({ name, path: name, kind: 'append' as const })
  // an mmmeta file stamped in local time ahead of UTC, without microseconds
  t.equal(nextHistoryName('append', [f('2026-12-03T11:45:07.append')], micros), '2026-12-03T11:45:08.000000.append', 'after a name without microseconds: the next second')
  t.equal(nextHistoryName('append', [f('2026-12-03T11:45:07.999999.append'), f('2026-12-03T11:45:06.append')], micros), '2026-12-03T11:45:08.000000.append')
  t.equal(nextHistoryName('append', [f('2026-12-03T10:45:07.000000.append')], micros), '2026-12-03T10:45:07.000001.append', 'the same microsecond: one later')
  t.equal(nextHistoryName('squashed', [f('2026-12-03T10:45:07.000000.append')], micros), '2026-12-03T10:45:07.000000.squashed', '.squashed already sorts after .append')
  t.equal(nextHistoryName('append', [f('zzz-not-a-time.append'), f('2020-01-01T00:00:00.000000.append')], micros), '2026-12-03T10:45:07.000000.append', 'names without a time are not compared')
})

t.test('MetaHistory: apply is an upsert keeping other keys', async (t) => {
  const h = new MetaHistory('id')
  h.apply('a', { id: 'a', x: '1', y: null })
  h.apply('a', { x: '2' })
  h.apply('b', { z: '' })
  t.same(h.get('a'), { id: 'a', x: '2', y: null })
  t.same(h.get('b'), { id: 'b', z: '' })
  t.same([...h.uids()], ['a', 'b'])
  t.same([h.keysOf('a'), h.keysOf('b'), h.keysOf('none')], [['id', 'x', 'y'], ['id', 'z'], []])
  t.ok(h.delete('a'))
  t.equal(h.has('a'), false)
  t.equal(h.get('a'), undefined)
})
