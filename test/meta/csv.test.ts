/**
 * The db/ CSV dialect (Python csv, excel dialect, as mmmeta writes and reads
 * it): bytes as Python writes them, reading Python's output at every chunk
 * split, exact round trips, null vs "" and the lenient corners.
 */
import t from 'tap'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CsvParser, csvRows, formatCsvRow, type CsvCell, type CsvRow } from '../../lib/meta/csv.js'
import { expectCode } from '../helpers.js'

// What Python 3's csv.DictWriter writes for these rows (checked by hand against the module's rules).
const PYTHON = 'content_hash,title,note,__mmmeta_keys\r\n' +
  'abc,"a,b","say ""hi""",\r\n' +
  'def,"line1\nline2",Grüße 👋,"title,note"\r\n' +
  'ghi,,plain,\r\n'
const ROWS: CsvCell[][] = [
  ['content_hash', 'title', 'note', '__mmmeta_keys'],
  ['abc', 'a,b', 'say "hi"', null],
  ['def', 'line1\nline2', 'Grüße 👋', 'title,note'],
  ['ghi', null, 'plain', null]
]

function parseAll (chunks: string[]): CsvRow[] {
  const parser = new CsvParser('test.csv')
  const rows: CsvRow[] = []
  for (const chunk of chunks) rows.push(...parser.push(chunk))
  rows.push(...parser.end())
  return rows
}

t.test('writing: the bytes Python writes', async (t) => {
  t.equal(ROWS.map(formatCsvRow).join(''), PYTHON)
  t.equal(formatCsvRow(['a\rb', ' x ', 'q"']), '"a\rb", x ,"q"""\r\n')
  t.equal(formatCsvRow([null]), '""\r\n', 'one empty cell is not a blank line')
  t.equal(formatCsvRow(['', null]), '"",\r\n', "'' is quoted, null is empty")
})

t.test('reading Python output, split at every point', async (t) => {
  const whole = parseAll([PYTHON])
  t.same(whole.map((r) => r.cells), ROWS)
  t.same(whole.map((r) => r.line), [1, 2, 3, 5], 'a quoted newline moves the next row\'s line')
  for (let at = 0; at <= PYTHON.length; at++) {
    const rows = parseAll([PYTHON.slice(0, at), PYTHON.slice(at)])
    if (JSON.stringify(rows) !== JSON.stringify(whole)) t.fail(`split at ${at}`)
  }
  const single = parseAll([...PYTHON])
  t.same(single, whole, 'one character at a time')
})

t.test('round trips of awkward values', async (t) => {
  const cells: CsvCell[] = ['', null, '0', '0012', '12345678901234567890', '"', '""', ',', '\r\n', '\r', '\n\n', ' lead', 'trail ', 'ünï©ødé 🎉', 'a"b,c\r\nd']
  const text = formatCsvRow(cells) + formatCsvRow(['x']) + formatCsvRow(cells.slice().reverse())
  const rows = parseAll([text])
  t.same(rows.map((r) => r.cells), [cells, ['x'], cells.slice().reverse()])
})

t.test('seeded random rows (one-column ones too), each line end, whole and in random chunks', async (t) => {
  let seed = 11
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % n
  }
  const parts = ['a', 'bc', ',', '"', '\r', '\n', '\r\n', 'ü', '👋', ' ']
  const cell = (): CsvCell => {
    const k = next(6)
    if (k === 0) return null
    let s = ''
    for (let i = next(5); i > 0; i--) s += parts[next(parts.length)]
    return k === 1 ? '' : s
  }
  for (const end of ['\r\n', '\n', '\r']) {
    const rows: CsvCell[][] = []
    for (let i = 0; i < 300; i++) {
      const width = next(3) === 0 ? 1 : 1 + next(6)
      const row = Array.from({ length: width }, cell)
      // a lone empty cell is a blank line for Python's reader, so the writer quotes it; keep it a value here
      if (width === 1 && row[0] === null) row[0] = 'x'
      rows.push(row)
    }
    const text = rows.map((r) => formatCsvRow(r).slice(0, -2) + end).join('')
    t.same(parseAll([text]).map((r) => r.cells), rows, `whole, rows ending ${JSON.stringify(end)}`)
    const chunks: string[] = []
    for (let at = 0; at < text.length;) {
      const size = 1 + next(40)
      chunks.push(text.slice(at, at + size))
      at += size
    }
    t.same(parseAll(chunks).map((r) => r.cells), rows, `in ${chunks.length} chunks, rows ending ${JSON.stringify(end)}`)
  }
})

t.test('reading what other writers leave', async (t) => {
  t.same(parseAll(['a,b\nc,d\n']).map((r) => r.cells), [['a', 'b'], ['c', 'd']], '\\n row ends')
  t.same(parseAll(['a,b\rc,d']).map((r) => r.cells), [['a', 'b'], ['c', 'd']], '\\r row ends, no final end')
  t.same(parseAll(['a\r\n\r\n\nb\r\n']).map((r) => r.cells), [['a'], ['b']], 'blank lines give no row')
  t.same(parseAll(['\ufeffa,b\r\n']).map((r) => r.cells), [['a', 'b']], 'a BOM is dropped')
  t.same(parseAll(['a"b,"c"d,""\r\n']).map((r) => r.cells), [['a"b', 'cd', '']], 'strict=False corners')
  t.same(parseAll(['']).length, 0, 'empty input')
  t.same(parseAll(['a,']).map((r) => r.cells), [['a', null]], 'a trailing comma is an empty cell')
})

t.test('input ending inside quotes is an error naming the file and line', async (t) => {
  const err = await expectCode(t, Promise.resolve().then(() => parseAll(['a\r\n"b\nc'])), 'SHOEBOX_META_HISTORY', 'open quote')
  t.match(err?.message, 'test.csv: line 2')
})

t.test('csvRows(): bytes split inside UTF-8 sequences', async (t) => {
  const bytes = Buffer.from(PYTHON)
  const chunks: Buffer[] = []
  for (let i = 0; i < bytes.length; i += 3) chunks.push(bytes.subarray(i, i + 3))
  const rows: CsvRow[] = []
  await pipeline(Readable.from(chunks), csvRows('x.csv'), async function (source) {
    for await (const row of source) rows.push(row as CsvRow)
  })
  t.same(rows.map((r) => r.cells), ROWS)
  await t.rejects(pipeline(Readable.from([Buffer.from('"open')]), csvRows('x.csv'), async function (source) {
    for await (const row of source) void row
  }), { code: 'SHOEBOX_META_HISTORY' })
})
