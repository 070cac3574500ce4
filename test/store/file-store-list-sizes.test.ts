/**
 * FileStore.list({ sizes: false }): the listing archiveSource() makes in
 * name order, which stats no file its directory says is a regular file.
 * The same keys, in the same order, as the listing with sizes: links to
 * files listed (stat'ed, with their sizes), links to directories and
 * dangling links, FIFOs and sockets not; and no stat made for a plain file
 * (one that cannot be stat'ed is still listed, and found so when read).
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import t from 'tap'
import type { ListedKey } from '../../lib/store/store.js'
import { FileStore } from '../../lib/store/file-store.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-list-sizes-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

async function listed (store: FileStore, sizes: boolean, prefix = ''): Promise<ListedKey[]> {
  const out: ListedKey[] = []
  for await (const info of store.list(prefix, { sizes })) out.push(info)
  return out
}

t.test('the same keys in the same order; sizes only where the file was looked up (a link)', async (t) => {
  const root = path.join(tmp, 'tree')
  fs.mkdirSync(path.join(root, 'b', 'c'), { recursive: true })
  for (const [name, body] of [['a.shoebox', 'aa'], ['b/c/d.shoebox', 'ddd'], ['b/e.shoebox', 'e'], ['z10.shoebox', ''], ['z9.shoebox', '9']]) {
    fs.writeFileSync(path.join(root, name), body)
  }
  fs.writeFileSync(path.join(root, '.x.shoebox-tmp'), 'a writer\'s temporary file')
  fs.symlinkSync(path.join(root, 'a.shoebox'), path.join(root, 'link.shoebox'))
  fs.symlinkSync(path.join(root, 'b'), path.join(root, 'linked-dir'))
  fs.symlinkSync(path.join(root, 'nowhere'), path.join(root, 'dangling.shoebox'))
  execFileSync('mkfifo', [path.join(root, 'fifo.shoebox')])
  const store = new FileStore(root)
  const sized = await listed(store, true)
  const unsized = await listed(store, false)
  t.same(unsized.map((i) => i.key), sized.map((i) => i.key), 'the same keys, in the same order')
  t.same(unsized.map((i) => i.key), ['a.shoebox', 'b/c/d.shoebox', 'b/e.shoebox', 'link.shoebox', 'z10.shoebox', 'z9.shoebox'])
  t.same(unsized.filter((i) => i.key !== 'link.shoebox'), unsized.filter((i) => i.key !== 'link.shoebox').map((i) => ({ key: i.key })), 'regular files: keys alone')
  t.match(unsized.find((i) => i.key === 'link.shoebox'), { key: 'link.shoebox', size: 2, etag: String }, 'a link: stat\'ed, as always')
  t.same(sized.map((i) => i.size), [2, 3, 1, 2, 0, 1])
  t.same(await listed(store, false, 'b/'), [{ key: 'b/c/d.shoebox' }, { key: 'b/e.shoebox' }], 'below a prefix')
})

t.test('no stat for a regular file: one whose directory cannot be searched is listed, and the read says why it fails', async (t) => {
  if (process.getuid?.() === 0) {
    // Root stats anything: a stat that would fail is made by a listing that stats (a walk that lies about a name).
    const root = path.join(tmp, 'lying')
    fs.mkdirSync(root)
    fs.writeFileSync(path.join(root, 'real.shoebox'), 'r')
    const { walkNames } = await import('../../lib/fs/walk.js')
    const store = new FileStore(root, {}, {
      walkNames: async (dir, depth) => [...await walkNames(dir, depth), { name: 'ghost.shoebox', file: path.join(root, 'ghost.shoebox'), path: path.join(root, 'ghost.shoebox'), kind: 'file' }]
    })
    t.same((await listed(store, true)).map((i) => i.key), ['real.shoebox'], 'with sizes: its stat finds it gone, and it is passed over')
    t.same(await listed(store, false), [{ key: 'ghost.shoebox' }, { key: 'real.shoebox' }], 'without: listed as the walk found it, not stat\'ed')
    await t.rejects(store.getWhole('ghost.shoebox', { size: undefined }), { code: 'SHOEBOX_NOT_FOUND', message: /ghost\.shoebox: no such file or directory \(ENOENT\)$/ })
    return
  }
  const root = path.join(tmp, 'unsearchable')
  fs.mkdirSync(root)
  fs.writeFileSync(path.join(root, 'f.shoebox'), 'f')
  fs.chmodSync(root, 0o400) // its names can be read, its files not looked up
  t.teardown(() => { fs.chmodSync(root, 0o755) })
  const store = new FileStore(root)
  await t.rejects(listed(store, true), { code: 'SHOEBOX_DENIED' })
  t.same(await listed(store, false), [{ key: 'f.shoebox' }])
})

t.test('getWhole with no size: the open file\'s own, and a file over 256 KiB as a stream', async (t) => {
  const root = path.join(tmp, 'whole')
  fs.mkdirSync(root)
  fs.writeFileSync(path.join(root, 'small'), 'small bytes')
  fs.writeFileSync(path.join(root, 'big'), Buffer.alloc(256 * 1024 + 1, 'b'))
  const store = new FileStore(root)
  const small = await store.getWhole('small', { size: undefined })
  t.equal(small instanceof Readable ? 'a stream' : small.take().toString(), 'small bytes')
  const big = await store.getWhole('big', { size: undefined })
  t.ok(big instanceof Readable, 'a stream')
  t.equal(Buffer.concat(await (big as Readable).toArray() as Buffer[]).length, 256 * 1024 + 1)
})
