/**
 * walk() (lib/fs/walk.ts), the one walker FileStore listings and the
 * metadir's sources share: its options (sorted, skip, depth), what each name
 * is, and that it reads a directory only when it reaches it. FileStore's
 * use is tested in test/store/file-store-walk.test.ts, the metadir's in
 * test/meta/sources.test.ts.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { walk, walkNames, type WalkedName } from '../../lib/fs/walk.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-fs-walk-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

let cases = 0
/** A fresh tree: a, a.json, a/x, b/c/d, b/e, .f, and a link to b named g. */
function tree (): string {
  const root = path.join(tmp, `case-${++cases}`)
  for (const dir of ['a', 'b/c']) fs.mkdirSync(path.join(root, dir), { recursive: true })
  for (const file of ['a.json', 'a/x', 'b/c/d', 'b/e', '.f']) fs.writeFileSync(path.join(root, file), file)
  fs.symlinkSync('b', path.join(root, 'g'))
  return root
}

async function all (names: AsyncIterable<WalkedName>): Promise<WalkedName[]> {
  const out: WalkedName[] = []
  for await (const found of names) out.push(found)
  return out
}

t.test('sorted: each directory in code-unit order, its names where it sorts (not the keys\' order)', async (t) => {
  const root = tree()
  const found = await all(walk(root, { sorted: true }))
  // Sorted as whole keys, 'a.json' would come before 'a/x' ('.' < '/').
  t.same(found.map((f) => f.name), ['.f', 'a/x', 'a.json', 'b/c/d', 'b/e', 'g'])
  t.same(found.map((f) => f.kind), ['file', 'file', 'file', 'file', 'file', 'symlink'], 'the link to a directory is listed, not descended into')
  t.same(found.map((f) => f.file), found.map((f) => path.join(root, ...f.name.split('/'))))
  t.same(found.map((f) => f.path), found.map((f) => f.file), 'UTF-8 names open by their text')
})

t.test('unsorted, walkNames: the same names in some order', async (t) => {
  const root = tree()
  t.same((await walkNames(root)).map((f) => f.name).sort(), ['.f', 'a.json', 'a/x', 'b/c/d', 'b/e', 'g'])
})

t.test('skip: a skipped directory is not read; skip is given the name and its path as text', async (t) => {
  const root = tree()
  const asked: string[][] = []
  const found = await all(walk(root, {
    sorted: true,
    skip: (name, file) => {
      asked.push([name, path.relative(root, file)])
      return name.startsWith('.') || name === 'b'
    }
  }))
  t.same(found.map((f) => f.name), ['a/x', 'a.json', 'g'])
  // a's names are asked when a is read, after the root's; b's never are
  t.same(asked, [['.f', '.f'], ['a', 'a'], ['a.json', 'a.json'], ['b', 'b'], ['g', 'g'], ['x', path.join('a', 'x')]])
})

t.test('depth: names at most that many segments deep', async (t) => {
  const root = tree()
  t.same((await all(walk(root, { sorted: true, depth: 1 }))).map((f) => f.name), ['.f', 'a.json', 'g'])
  t.same((await all(walk(root, { sorted: true, depth: 2 }))).map((f) => f.name), ['.f', 'a/x', 'a.json', 'b/e', 'g'])
})

t.test('lazy: a directory is read when the walk reaches it; one removed before is passed over', async (t) => {
  const root = tree()
  const names: string[] = []
  for await (const found of walk(root, { sorted: true })) {
    names.push(found.name)
    if (found.name === 'a.json') {
      fs.rmSync(path.join(root, 'b'), { recursive: true })
      fs.writeFileSync(path.join(root, 'a', 'late'), 'too late: a was read')
    }
  }
  t.same(names, ['.f', 'a/x', 'a.json', 'g'])
})

t.test('a name that is not UTF-8 opens by its bytes, and is named as it decodes', async (t) => {
  const root = path.join(tmp, `case-${++cases}`)
  fs.mkdirSync(root)
  fs.mkdirSync(Buffer.concat([Buffer.from(root + '/d'), Buffer.from([0xfe])]))
  const bytes = Buffer.concat([Buffer.from(root + '/d'), Buffer.from([0xfe]), Buffer.from('/e')])
  fs.writeFileSync(bytes, 'e')
  const [found] = await all(walk(root))
  t.same({ ...found, path: undefined }, { name: 'd\uFFFD/e', file: path.join(root, 'd\uFFFD', 'e'), path: undefined, kind: 'file' })
  t.ok(Buffer.isBuffer(found.path) && found.path.equals(bytes))
})

t.test('a root that is missing or not a directory: ENOENT or ENOTDIR with dir \'\'', async (t) => {
  const root = tree()
  await t.rejects(all(walk(path.join(root, 'none'))), { code: 'ENOENT', dir: '' })
  await t.rejects(all(walk(path.join(root, 'a.json'))), { code: 'ENOTDIR', dir: '' })
})
