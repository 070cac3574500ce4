/**
 * makeDirs() (lib/fs/durable.ts): mkdir -p without fs.mkdir's `recursive`,
 * whose loop never ends where mkdir says ENOENT below a parent that exists
 * (/proc here); and ensureDir()'s one clear line for each way it can fail.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ensureDir, makeDirs } from '../../lib/fs/durable.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-make-dirs-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

t.test('creates missing parents; an existing directory, or a link to one, is fine', async (t) => {
  const deep = path.join(tmp, 'a', 'b', 'c')
  await makeDirs(deep)
  t.ok(fs.statSync(deep).isDirectory())
  await makeDirs(deep)
  await makeDirs(path.join(tmp, 'a') + path.sep)
  fs.symlinkSync(path.join(tmp, 'a'), path.join(tmp, 'link'))
  await makeDirs(path.join(tmp, 'link'))
  await makeDirs(path.join(tmp, 'link', 'd'))
  t.ok(fs.statSync(path.join(tmp, 'a', 'd')).isDirectory(), 'made through the link')
  // Relative paths resolve against the working directory, as mkdir -p's do.
  const cwd = process.cwd()
  process.chdir(tmp)
  t.teardown(() => { process.chdir(cwd) })
  await makeDirs(path.join('rel', 'x'))
  t.ok(fs.statSync(path.join(tmp, 'rel', 'x')).isDirectory())
})

t.test('many at once, sharing parents: each made once, none fails', async (t) => {
  const base = path.join(tmp, 'race')
  await Promise.all(Array.from({ length: 20 }, async (_, i) => { await makeDirs(path.join(base, 'p', String(i % 4), 'q')) }))
  t.same(fs.readdirSync(path.join(base, 'p')).sort(), ['0', '1', '2', '3'])
})

t.test('a file in the way: EEXIST or ENOTDIR, and ensureDir says so', async (t) => {
  const file = path.join(tmp, 'afile')
  fs.writeFileSync(file, 'x')
  await t.rejects(makeDirs(file), { code: 'EEXIST' })
  await t.rejects(makeDirs(path.join(file, 'sub')), { code: 'ENOTDIR' })
  await t.rejects(ensureDir(file), { code: 'SHOEBOX_IO', message: `cannot create directory ${file}: a file is in the way (EEXIST)` })
  fs.symlinkSync(path.join(tmp, 'nowhere'), path.join(tmp, 'dangling'))
  await t.rejects(ensureDir(path.join(tmp, 'dangling', 'sub')), { message: /a file is in the way \(EEXIST\)/ }, 'a dangling link is in the way too')
})

t.test('mkdir says ENOENT below a parent that exists: an error, not an endless loop', { skip: process.platform !== 'linux' && 'needs /proc' }, async (t) => {
  // fs.mkdir('/proc/x', { recursive: true }) never settles on Linux: this test would time out.
  await t.rejects(makeDirs('/proc/shoebox-not-here/sub'), { code: 'ENOENT' })
  await t.rejects(ensureDir('/proc/shoebox-not-here'), { code: 'SHOEBOX_IO', message: 'cannot create directory /proc/shoebox-not-here: no such file or directory (ENOENT)' })
})
