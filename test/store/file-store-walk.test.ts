/**
 * FileStore.list over a tree other programs own (lib/fs/walk.ts): symbolic
 * links (loops, links out of the root, dangling), names that are not UTF-8,
 * FIFOs and sockets, directories that vanish or cannot be read, and trees
 * wide and deep.
 */
import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { StoreError, type ObjectInfo } from '../../lib/index.js'
import type { ListOptions } from '../../lib/store/store.js'
import { FileStore } from '../../lib/store/file-store.js'
import { ROOT, transpileTree } from '../transpile.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-walk-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

let dirs = 0
/** A fresh, empty directory. */
function fresh (): string {
  const root = path.join(tmp, `case-${++dirs}`)
  fs.mkdirSync(root)
  return root
}

async function keys (store: FileStore, prefix?: string): Promise<string[]> {
  const out: ObjectInfo[] = []
  for await (const info of store.list(prefix)) out.push(info)
  return out.map((o) => o.key)
}

function write (root: string, name: string, body = 'x'): void {
  fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true })
  fs.writeFileSync(path.join(root, name), body)
}

t.test('links: a link to a file is listed once where it is; linked directories (loops, out of the root) are not descended into', async (t) => {
  const outside = fresh()
  write(outside, 'far.txt')
  const root = fresh()
  write(root, 'a.txt')
  write(root, 'sub/b.txt')
  fs.symlinkSync('..', path.join(root, 'sub', 'loop')) // a/b -> .. : Node's recursive readdir went round it 40 times
  fs.symlinkSync(root, path.join(root, 'sub', 'again')) // a second loop: together they listed names until the heap ran out
  fs.symlinkSync(outside, path.join(root, 'out')) // a directory out of the root
  fs.symlinkSync('sub', path.join(root, 'alias')) // the same files under a second name
  fs.symlinkSync(path.join('sub', 'b.txt'), path.join(root, 'link.txt'))
  fs.symlinkSync(path.join(outside, 'far.txt'), path.join(root, 'far-link.txt'))
  fs.symlinkSync('nowhere', path.join(root, 'dangling.txt')) // nothing to read: passed over like a file deleted under the walk
  const store = new FileStore(root)
  t.same(await keys(store), ['a.txt', 'far-link.txt', 'link.txt', 'sub/b.txt'])
  // The directory a listing starts in is the one named, link or not (as `ls alias/` lists sub's files).
  t.same(await keys(store, 'alias/'), ['alias/b.txt'])
  t.same(await keys(store, 'out/'), ['out/far.txt'])
  // What a link names is what is read.
  t.equal((await store.get('link.txt').toArray()).join(''), 'x')
})

t.test('a link that loops on itself fails the listing, naming it (it is not a file gone)', async (t) => {
  const root = fresh()
  write(root, 'a.txt')
  fs.symlinkSync('self.txt', path.join(root, 'self.txt'))
  const err = await keys(new FileStore(root)).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof StoreError, 'a StoreError')
  t.match(err, { message: /: list self\.txt: too many levels of symbolic links \(ELOOP\)$/ })
})

t.test('names that are not UTF-8: listed as they decode, and read by their bytes', async (t) => {
  const root = fresh()
  const bytes = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map((p) => typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))
  fs.writeFileSync(bytes(root, '/bad', [0xff], '.txt'), 'latin')
  fs.mkdirSync(bytes(root, '/d', [0xe9]))
  fs.writeFileSync(bytes(root, '/d', [0xe9], '/in.txt'), 'nested')
  write(root, 'real-\uFFFD.txt', 'replacement') // a name that is UTF-8 and holds U+FFFD itself
  write(root, 'z.txt')
  const store = new FileStore(root, { platformNames: true })
  t.same(await keys(store), ['bad\uFFFD.txt', 'd\uFFFD/in.txt', 'real-\uFFFD.txt', 'z.txt'], 'none skipped without a word')
  t.equal((await store.get('bad\uFFFD.txt').toArray()).join(''), 'latin')
  t.equal((await store.get('d\uFFFD/in.txt', { range: { start: 1 } }).toArray()).join(''), 'ested')
  t.equal((await store.get('real-\uFFFD.txt').toArray()).join(''), 'replacement')
  t.equal((await store.stat('bad\uFFFD.txt')).size, 5)

  // Two such names that decode alike: which file the key means cannot be told.
  fs.writeFileSync(bytes(root, '/bad', [0xfe], '.txt'), 'other')
  const err = await keys(store).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof StoreError)
  t.match(err, { message: /: list bad\uFFFD\.txt: two file names that are not UTF-8 read as this same key: rename them$/ })
})

t.test('names that are not UTF-8, never listed: get, stat, exists and delete find them by their key (a fetch by position)', async (t) => {
  const root = fresh()
  const bytes = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map((p) => Buffer.from(p)))
  fs.writeFileSync(bytes(root, '/bad', [0xff], '.txt'), 'latin')
  fs.mkdirSync(bytes(root, '/d', [0xe9]))
  fs.writeFileSync(bytes(root, '/d', [0xe9], '/in', [0xfe], '.txt'), 'nested')
  write(root, 'real-\uFFFD.txt', 'replacement')
  const fresh1 = new FileStore(root, { platformNames: true })
  t.equal((await fresh1.get('bad\uFFFD.txt').toArray()).join(''), 'latin', 'get, never listed')
  const fresh2 = new FileStore(root, { platformNames: true })
  t.equal((await fresh2.stat('d\uFFFD/in\uFFFD.txt')).size, 6, 'stat, in a directory whose own name is not UTF-8')
  t.equal((await fresh2.get('d\uFFFD/in\uFFFD.txt', { range: { start: 2 } }).toArray()).join(''), 'sted', 'get, a range')
  t.equal(await new FileStore(root, { platformNames: true }).exists('bad\uFFFD.txt'), true, 'exists')
  t.equal((await new FileStore(root, { platformNames: true }).get('real-\uFFFD.txt').toArray()).join(''), 'replacement', 'a UTF-8 name holding U+FFFD itself')
  await t.rejects(new FileStore(root).stat('gone\uFFFD.txt'), { code: 'SHOEBOX_NOT_FOUND' }, 'none: not found, as before')
  // Deleted by its bytes: its decoded path names no file, and the delete "succeeded" leaving it there.
  const listed = new FileStore(root, { platformNames: true })
  t.same(await keys(listed), ['bad\uFFFD.txt', 'd\uFFFD/in\uFFFD.txt', 'real-\uFFFD.txt'])
  await listed.delete('bad\uFFFD.txt')
  t.notOk(fs.existsSync(bytes(root, '/bad', [0xff], '.txt')), 'deleted')
  t.same(await keys(listed), ['d\uFFFD/in\uFFFD.txt', 'real-\uFFFD.txt'])
})

for (const order of ['the older listing finishes last', 'the newer listing finishes last'] as const) {
  t.test(`names that are not UTF-8, two listings at once, renamed and removed between their walks (${order}): each name found as the newer saw it`, async (t) => {
    const root = fresh()
    const bytes = (...parts: Array<string | number[]>): Buffer => Buffer.concat(parts.map((p) => Buffer.from(p)))
    fs.writeFileSync(bytes(root, '/moved', [0xff], '.txt'), 'moving') // renamed to moved\xfe.txt: the same key, other bytes
    fs.writeFileSync(bytes(root, '/old', [0xff], '.txt'), 'renamed') // renamed to new\xff.txt: another key
    fs.writeFileSync(bytes(root, '/gone', [0xff], '.txt'), 'removed')
    fs.writeFileSync(bytes(root, '/kept', [0xff], '.txt'), 'kept')
    // The real walk; a listing's result waits for its gate, so the test says which listing applies its walk first.
    const gates: Array<Promise<void>> = []
    const walks: Array<() => void> = []
    const { walkNames } = await import('../../lib/fs/walk.js')
    const store = new FileStore(root, { platformNames: true }, {
      walkNames: async (dir, depth) => {
        const walked = await walkNames(dir, depth)
        walks.shift()?.()
        await gates.shift()
        return walked
      }
    })
    let openOlder = (): void => {}
    let openNewer = (): void => {}
    gates.push(new Promise((resolve) => { openOlder = resolve }), new Promise((resolve) => { openNewer = resolve }))
    const olderWalked = new Promise<void>((resolve) => { walks.push(resolve) })
    const older = keys(store)
    await olderWalked
    fs.renameSync(bytes(root, '/moved', [0xff], '.txt'), bytes(root, '/moved', [0xfe], '.txt'))
    fs.writeFileSync(bytes(root, '/moved', [0xfe], '.txt'), 'moved')
    fs.renameSync(bytes(root, '/old', [0xff], '.txt'), bytes(root, '/new', [0xff], '.txt'))
    fs.unlinkSync(bytes(root, '/gone', [0xff], '.txt'))
    const newerWalked = new Promise<void>((resolve) => { walks.push(resolve) })
    const newer = keys(store)
    await newerWalked
    const expected = ['kept\uFFFD.txt', 'moved\uFFFD.txt', 'new\uFFFD.txt']
    if (order === 'the older listing finishes last') {
      openNewer()
      t.same(await newer, expected)
      openOlder()
      t.same(await older, ['kept\uFFFD.txt'], 'the older listing lists what it walked and is still there (the rest fail its stats)')
    } else {
      openOlder()
      await older
      openNewer()
      t.same(await newer, expected)
    }
    t.equal((await store.get('moved\uFFFD.txt').toArray()).join(''), 'moved', 'the file renamed to other bytes of the same key is read')
    t.equal((await store.stat('moved\uFFFD.txt')).size, 5)
    t.equal(await store.exists('moved\uFFFD.txt'), true)
    t.equal((await store.get('new\uFFFD.txt').toArray()).join(''), 'renamed', 'the file under its new key is read')
    t.equal((await store.get('kept\uFFFD.txt').toArray()).join(''), 'kept')
    await t.rejects(store.get('old\uFFFD.txt').toArray(), { code: 'SHOEBOX_NOT_FOUND' }, 'the old key is gone')
    await t.rejects(store.stat('gone\uFFFD.txt'), { code: 'SHOEBOX_NOT_FOUND' }, 'the removed file is gone')
    t.equal(await store.exists('gone\uFFFD.txt'), false)
    await store.delete('moved\uFFFD.txt')
    t.notOk(fs.existsSync(bytes(root, '/moved', [0xfe], '.txt')), 'delete removes the file the key names now')
  })
}

t.test('FIFOs, sockets and directories are not listed, and listing never opens them', async (t) => {
  const root = fresh()
  write(root, 'a.shoebox')
  execFileSync('mkfifo', [path.join(root, 'fifo.shoebox')])
  const server = net.createServer()
  server.listen(path.join(root, 'socket.shoebox'))
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  fs.mkdirSync(path.join(root, 'dir.shoebox'))
  fs.symlinkSync('fifo.shoebox', path.join(root, 'link-to-fifo.shoebox'))
  t.same(await keys(new FileStore(root)), ['a.shoebox'])
})

t.test('get of a FIFO (a name fetched by position, never listed) fails at once, naming it; it never waits for a writer', async (t) => {
  const root = fresh()
  execFileSync('mkfifo', [path.join(root, 'fifo.shoebox')])
  fs.symlinkSync('fifo.shoebox', path.join(root, 'link-to-fifo.shoebox'))
  fs.mkdirSync(path.join(root, 'dir.shoebox'))
  const store = new FileStore(root)
  for (const key of ['fifo.shoebox', 'link-to-fifo.shoebox']) {
    // Without O_NONBLOCK the open waits for a writer for ever (and holds a thread-pool thread): the timer fails it.
    let timer: NodeJS.Timeout | undefined
    const late = new Promise((resolve) => { timer = setTimeout(resolve, 5000, 'still waiting after 5 s') })
    const outcome = await Promise.race([store.get(key).toArray().then(() => 'read as empty', (err: unknown) => err), late])
    clearTimeout(timer)
    t.type(outcome, StoreError, `${key}: a StoreError`)
    t.match(String((outcome as Error).message), /not a regular file/, `${key}: says why`)
    t.match(String((outcome as Error).message), key, `${key}: names it`)
  }
  await t.rejects(store.get('dir.shoebox').toArray(), StoreError, 'a directory: refused too')
})

t.test('special names: newline, glob characters, spaces, unicode', async (t) => {
  const root = fresh()
  const names = ['a\nb.txt', '[x]*?.txt', ' lead and trail ', 'naïve/日本語.txt', '-dash.txt', 'back\\slash.txt']
  for (const name of names) write(root, name, name)
  const store = new FileStore(root, { platformNames: true })
  const listed = await keys(store)
  t.same(listed, [...names].sort())
  for (const name of names) t.equal((await store.get(name).toArray()).join(''), name, JSON.stringify(name))
})

t.test('a directory that disappears during the walk leaves the rest of the listing whole', async (t) => {
  // A child makes and removes an empty directory as fast as it can. A recursive readdir that
  // met it gone failed with ENOENT as a whole, and the store took that for an empty listing.
  const root = fresh()
  write(root, 'keep/a.txt')
  const churn = spawn(process.execPath, ['-e', `
    const fs = require('node:fs')
    const d = ${JSON.stringify(path.join(root, 'churn'))}
    process.stdout.write('ready\\n')
    for (;;) { try { fs.mkdirSync(d) } catch {} try { fs.rmdirSync(d) } catch {} }
  `], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } })
  // SIGKILL: a loop that never yields runs no SIGTERM handler (tap's signal-exit would install one).
  t.teardown(() => { churn.kill('SIGKILL') })
  await once(churn.stdout, 'data')
  const store = new FileStore(root)
  let incomplete = 0
  for (let i = 0; i < 1000; i++) if ((await keys(store)).join() !== 'keep/a.txt') incomplete++
  t.equal(incomplete, 0, 'every listing of 1000 holds the file')
})

t.test('a directory that cannot be read fails the listing, naming it (as root, the listing runs as nobody)', async (t) => {
  const root = fresh()
  write(root, 'a.txt')
  write(root, 'locked/b.txt')
  fs.chmodSync(path.join(root, 'locked'), 0)
  t.teardown(() => { fs.chmodSync(path.join(root, 'locked'), 0o755) })
  if (process.getuid?.() !== 0) {
    const err = await keys(new FileStore(root)).then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof StoreError)
    t.match(err, { code: 'SHOEBOX_DENIED', message: /: list locked: permission denied \(EACCES\)$/ })
    return
  }
  // Root reads any directory: the same listing from a child that has dropped to nobody (65534), which may read
  // the tree (the test's directory opened to it) but not 'locked'. file-store.ts imports nothing outside lib/.
  fs.chmodSync(tmp, 0o755)
  const store = transpileTree(path.join(ROOT, 'lib', 'store', 'file-store.ts'), path.join(tmp, 'as-nobody'))
  const script = `import { FileStore } from ${JSON.stringify(pathToFileURL(store).href)}
const keys = []
try {
  for await (const o of new FileStore(${JSON.stringify(root)}).list()) keys.push(o.key)
  console.log(JSON.stringify({ keys }))
} catch (err) { console.log(JSON.stringify({ code: err.code, name: err.name, message: err.message })) }`
  const env = { ...process.env }
  delete env.NODE_OPTIONS // tap's process-tracking hook, in the repository nobody may not read
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, env, cwd: tmp, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
  const [code] = await once(child, 'close') as [number]
  t.equal(code, 0)
  t.match(JSON.parse(out), { name: 'StoreError', code: 'SHOEBOX_DENIED', message: /: list locked: permission denied \(EACCES\)$/ })
})

t.test('10,000 files in one directory and a tree 1,000 directories deep: all listed, in key order', async (t) => {
  const wide = fresh()
  const names: string[] = []
  for (let i = 0; i < 10_000; i++) names.push(`f-${i}.txt`)
  for (const name of names) fs.writeFileSync(path.join(wide, name), '')
  t.same(await keys(new FileStore(wide)), [...names].sort())

  const deep = fresh()
  let dir = deep
  const expected: string[] = []
  for (let level = 0; level < 1000; level++) {
    dir = path.join(dir, 'd')
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'f'), '')
    expected.push([...Array(level + 1).fill('d'), 'f'].join('/'))
  }
  const listed = await keys(new FileStore(deep))
  t.equal(listed.length, 1000)
  t.same(listed, expected.sort())
})

t.test('depth and want: directories deeper than asked are not read, and files not wanted are not looked at', async (t) => {
  const root = fresh()
  write(root, 'a.shoebox')
  write(root, 'sub/b.shoebox')
  fs.symlinkSync('self.txt', path.join(root, 'self.txt')) // looks at nothing it may fail on (ELOOP) ...
  fs.symlinkSync('loop.shoebox', path.join(root, 'sub', 'loop.shoebox')) // ... below the depth asked
  const store = new FileStore(root)
  const listed = async (options: ListOptions): Promise<string[]> => {
    const out: string[] = []
    for await (const info of store.list('', options)) out.push(info.key)
    return out
  }
  t.same(await listed({ depth: 1, want: (key) => key.endsWith('.shoebox') }), ['a.shoebox'])
  t.same(await listed({ depth: 2, want: (key) => key.endsWith('.shoebox') && key !== 'sub/loop.shoebox' }), ['a.shoebox', 'sub/b.shoebox'])
  // Asked for, each fails the listing, naming it.
  await t.rejects(listed({ depth: 1 }), { message: /: list self\.txt: too many levels of symbolic links \(ELOOP\)$/ })
  await t.rejects(listed({ want: (key) => key.endsWith('.shoebox') }), { message: /: list sub\/loop\.shoebox: too many levels/ })
})
