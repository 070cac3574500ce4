/**
 * `shoebox verify` over many files named by the shell, the next few opened
 * (and read whole, if small) while one is scanned (source/read-ahead.ts):
 * every file on its own lines, in the order given, with its own counts;
 * damage and failures on the file they concern; a big file streamed; stdin
 * in its turn; no file left open.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { encodeRecords } from '../../lib/index.js'
import { READ_AHEAD_BYTES } from '../../lib/source/read-ahead.js'
import { cli } from '../cli-run.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-verify-many-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const FILES = 30
const DAMAGED = 11
const BIG = 17
const MISSING = 5
const DIRECTORY = 8
const STDIN = 20
const name = (i: number): string => path.join(tmp, `f${String(i).padStart(2, '0')}.shoebox`)
/** File i holds i + 1 records; BIG's are big enough that it is streamed, not read whole. */
const records = (i: number): Array<{ payload: string }> =>
  Array.from({ length: i + 1 }, (_, n) => ({ payload: i === BIG ? 'x'.repeat(READ_AHEAD_BYTES / 8) : `${i}:${n}` }))

/** Open file descriptors of this process (Linux). */
const openFds = (): number => fs.readdirSync('/proc/self/fd').length

t.test('verify of many files: their lines in the order given, counts and failures on the right files, none left open', async (t) => {
  const args: string[] = []
  for (let i = 0; i < FILES; i++) {
    if (i === STDIN) {
      args.push('-')
      continue
    }
    if (i === DIRECTORY) fs.mkdirSync(name(i))
    else if (i !== MISSING) {
      const bytes = encodeRecords(records(i))
      fs.writeFileSync(name(i), i === DAMAGED ? Buffer.concat([bytes, Buffer.from('not a record')]) : bytes)
    }
    args.push(name(i))
  }
  // The same file named twice, at the end: verified once, where first named (file-args.ts).
  args.push(name(0))
  t.ok(fs.statSync(name(BIG)).size > READ_AHEAD_BYTES)
  const before = openFds()
  const r = await cli(['verify', ...args], encodeRecords(records(STDIN)))
  t.equal(r.code, 1, 'damage makes the exit status 1')
  const lines = r.stdout.toString().trimEnd().split('\n').filter((line) => !line.includes(':   '))
  const expected = Array.from({ length: FILES }, (_, i) => i).map((i) => {
    if (i === STDIN) return `stdin: OK: ${i + 1} records (v1 0, v2 ${i + 1})`
    if (i === MISSING) return `${name(i)}: UNREADABLE: cannot read ${name(i)}: no such file or directory`
    // An empty one (a directory that holds files stands for them: cli-directory-args.test.ts).
    if (i === DIRECTORY) return `${name(i)}: UNREADABLE: cannot read ${name(i)}: is a directory with no files directly in it`
    if (i === DAMAGED) return `${name(i)}: DAMAGED: ${i + 1} records (v1 0, v2 ${i + 1})`
    return `${name(i)}: OK: ${i + 1} record${i === 0 ? '' : 's'} (v1 0, v2 ${i + 1})`
  })
  t.same(lines.map((line, i) => line.startsWith(expected[i]) ? expected[i] : line), expected)
  t.equal(openFds(), before, 'no file left open')
})

t.test('verify of a few good files: one OK line each, exit 0, none left open', async (t) => {
  const dir = path.join(tmp, 'few')
  fs.mkdirSync(dir)
  const files = Array.from({ length: 6 }, (_, i) => path.join(dir, `g${i}.shoebox`))
  for (const file of files) fs.writeFileSync(file, encodeRecords([{ payload: 'x' }]))
  const before = openFds()
  const r = await cli(['verify', ...files])
  t.equal(r.code, 0)
  t.equal(r.stdout.toString().trimEnd().split('\n').length, 6)
  t.equal(openFds(), before, 'no file left open')
})
