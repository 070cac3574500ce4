/**
 * A strict `shoebox read` or `shoebox decode` that meets damage writes every
 * record before it, then fails with one line naming the file and byte offset,
 * which also says what was kept: how many records were written before it, and,
 * over several files, how many files before the damaged one were read whole and
 * how many records of the damaged one were written.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import t from 'tap'
import { encodeRecords } from '../../lib/index.js'
import { cli } from '../cli-run.js'
import { damagedArchive } from '../fixtures-read/damaged.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-strict-kept-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const payloads = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `{"${prefix}":${i}}`)
const lines = (list: string[]): string => list.map((p) => `${p}\n`).join('')
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

function dir (name: string, files: Record<string, Buffer>): string {
  const d = path.join(tmp, name)
  fs.mkdirSync(d)
  for (const [file, bytes] of Object.entries(files)) fs.writeFileSync(path.join(d, file), bytes)
  return d
}

/** The whole stderr: one line naming the file and offset, ending with what was kept. */
const failureLine = (command: string, file: string, offset: number, kept: string): RegExp =>
  new RegExp(`^shoebox ${command}: ${escaped(file)}: at byte ${offset}: [^\\n]*; ${escaped(kept)}\\n$`)

const good = encodeRecords(payloads('b', 100).map((payload) => ({ payload })))

for (const [index, at, kept] of [[0, 5, '0 records were written before it'], [1, 40, '1 record was written before it']] as const) {
  t.test(`damage after ${index} records of the only file: the line says ${kept}`, async (t) => {
    const damaged = damagedArchive(payloads('n', 10), at)
    t.equal(damaged.index, index)
    const d = dir(`only-${index}`, { 'a.shoebox': damaged.bytes })
    const file = path.join(d, 'a.shoebox')
    for (const args of [['read', path.join(d, '*')], ['decode', file]]) {
      const r = await cli([...args, '--payload-only'])
      t.equal(r.stdout.toString(), lines(payloads('n', 10).slice(0, index)), `${args[0]}: the records before the damage`)
      t.match(r.stderr, failureLine(args[0], file, damaged.offset, kept), `${args[0]}: ${r.stderr}`)
      t.equal(r.code, 1)
    }
  })
}

t.test('damage after 1,234 records of the only file: the count is exact', async (t) => {
  // Records of one size, so that the damaged one is found by arithmetic.
  const all = Array.from({ length: 5000 }, (_, i) => `n${String(i).padStart(4, '0')}`)
  const one = encodeRecords([{ payload: all[0] }]).length
  const damaged = damagedArchive(all, Math.floor(1234.5 * one))
  t.equal(damaged.index, 1234)
  const d = dir('exact', { 'a.shoebox': damaged.bytes })
  const file = path.join(d, 'a.shoebox')
  for (const args of [['read', path.join(d, '*')], ['decode', file]]) {
    const r = await cli([...args, '--payload-only'])
    t.equal(r.stdout.toString().split('\n').length - 1, 1234)
    t.match(r.stderr, failureLine(args[0], file, damaged.offset, '1234 records were written before it'), `${args[0]}: ${r.stderr}`)
  }
})

t.test('several files: the files before the damaged one read whole, and the records of the damaged one, are said', async (t) => {
  const damaged = damagedArchive(payloads('n', 100), 2000)
  // A gzip file among them: its records count as any file's.
  const d = dir('several', { 'a.shoebox': good, 'b.shoebox.gz': zlib.gzipSync(good), 'c.shoebox': damaged.bytes, 'd.shoebox': good })
  const file = path.join(d, 'c.shoebox')
  const kept = `${200 + damaged.index} records were written before it (2 files before this one read whole, then ${damaged.index} records of this one)`
  const expected = lines([...payloads('b', 100), ...payloads('b', 100), ...payloads('n', 100).slice(0, damaged.index)])
  const read = await cli(['read', path.join(d, '*'), '--payload-only'])
  t.equal(read.stdout.toString(), expected)
  t.match(read.stderr, failureLine('read', file, damaged.offset, kept), read.stderr)
  t.equal(read.code, 1)
  const decoded = await cli(['decode', '--payload-only', path.join(d, 'a.shoebox'), path.join(d, 'b.shoebox.gz'), file, path.join(d, 'd.shoebox')])
  t.equal(decoded.stdout.toString(), expected)
  t.match(decoded.stderr, failureLine('decode', file, damaged.offset, kept), decoded.stderr)
  t.equal(decoded.code, 1)
})

t.test('several files, damage at the start of one: 0 records of it, the files before it read whole', async (t) => {
  const damaged = damagedArchive(payloads('n', 100), 5)
  const d = dir('several-0', { 'a.shoebox': good, 'b.shoebox': damaged.bytes })
  const file = path.join(d, 'b.shoebox')
  const kept = '100 records were written before it (1 file before this one read whole, then 0 records of this one)'
  for (const args of [['read', path.join(d, '*')], ['decode', path.join(d, 'a.shoebox'), file]]) {
    const r = await cli([...args, '--payload-only'])
    t.equal(r.stdout.toString(), lines(payloads('b', 100)))
    t.match(r.stderr, failureLine(args[0], file, damaged.offset, kept), `${args[0]}: ${r.stderr}`)
  }
})
