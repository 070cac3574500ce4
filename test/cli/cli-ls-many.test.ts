/**
 * `shoebox ls` over many small archives, the next few opened while one is
 * scanned (source/read-ahead.ts): every file on its own line, in order, with
 * its own count; damage marked on the file that holds it; a file too big to
 * be opened ahead read in its turn.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { encodeRecords } from '../../lib/index.js'
import { READ_AHEAD_BYTES } from '../../lib/source/read-ahead.js'
import { cli } from '../cli-run.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-ls-many-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const FILES = 30
const DAMAGED = 11
const BIG = 17
const name = (i: number): string => `f${String(i).padStart(2, '0')}.shoebox`
/** File i holds i + 1 records; BIG's are big enough that it is not opened ahead. */
const records = (i: number): Array<{ payload: string }> =>
  Array.from({ length: i + 1 }, (_, n) => ({ payload: i === BIG ? 'x'.repeat(READ_AHEAD_BYTES / 8) : `${i}:${n}` }))

t.test('ls of many small archives: one line each, in order, counts and damage on the right files', async (t) => {
  for (let i = 0; i < FILES; i++) {
    const bytes = encodeRecords(records(i))
    fs.writeFileSync(path.join(tmp, name(i)), i === DAMAGED ? Buffer.concat([bytes, Buffer.from('not a record')]) : bytes)
  }
  t.ok(fs.statSync(path.join(tmp, name(BIG))).size > READ_AHEAD_BYTES)
  const r = await cli(['ls', path.join(tmp, '*.shoebox')])
  t.equal(r.code, 1, 'damage makes the exit status 1')
  const lines = r.stdout.toString().trimEnd().split('\n')
  t.equal(lines.length, FILES + 1)
  const rows = lines.slice(0, -1).map((line) => {
    const cols = line.split('\t')
    return [cols[0], cols[1], cols[5].includes('DAMAGED (12 bytes unreadable)')]
  })
  t.same(rows, Array.from({ length: FILES }, (_, i) => [name(i), `${i + 1} record${i === 0 ? '' : 's'}`, i === DAMAGED]))
  t.match(lines[FILES], new RegExp(`^${FILES} files, ${FILES * (FILES + 1) / 2} records, `))
})

t.test('ls of 150,000 files ends with its total and time range (Math.min(...times) overflowed the stack past ~120,000)', async (t) => {
  // Each file was listed, then the total's time range failed: 'internal error: RangeError: Maximum call stack size exceeded', exit 1.
  const dir = fs.mkdtempSync(path.join(tmp, 'many-'))
  const count = 150_000
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dir, String(i)), '')
  fs.utimesSync(path.join(dir, '7'), new Date('1999-01-02T03:04:05.500Z'), new Date('1999-01-02T03:04:05.500Z'))
  fs.utimesSync(path.join(dir, '8'), new Date('2099-01-02T03:04:05.500Z'), new Date('2099-01-02T03:04:05.500Z'))
  const r = await cli(['ls', path.join(dir, '*')])
  t.equal(r.stderr.toString(), '')
  t.equal(r.code, 0)
  const lines = r.stdout.toString().trimEnd().split('\n')
  t.equal(lines.length, count + 1, 'a line each, and the total')
  t.equal(lines[count], `${count} files, 0 records, 0 bytes, 1999-01-02T03:04:05.500Z .. 2099-01-02T03:04:05.500Z`)
  fs.rmSync(dir, { recursive: true, force: true })
})
