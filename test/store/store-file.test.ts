/**
 * The file:// store (a local directory as a bucket) against the Store
 * contract: put/get/range/list/stat/exists/delete, atomic writes (a temp
 * file renamed into place), keys that cannot leave the root, openStore's
 * URL handling, version pins and statistics.
 */
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import {
  openStore, ShoeboxError, StoreError, uploadSink, type ObjectInfo, type Store
} from '../../lib/index.js'
import { FileStore } from '../../lib/store/file-store.js'
import type { WholeObject } from '../../lib/store/store.js'
import { hostName, writerTag } from '../../lib/roll/names.js'
import { escapeRegExp } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-store-file-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

let dirs = 0
/** A fresh store rooted in a fresh directory below `parent` (which holds nothing else). */
function fresh (): { store: Store, root: string, parent: string } {
  const parent = path.join(tmp, `case-${++dirs}`)
  fs.mkdirSync(parent)
  const root = path.join(parent, 'root')
  return { store: openStore(root), root, parent }
}

async function readAll (stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function errorOf (p: Promise<unknown>): Promise<unknown> {
  return await p.then(() => { throw new Error('expected a rejection') }, (err: unknown) => err)
}

async function list (store: Store, prefix?: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = []
  for await (const info of store.list(prefix)) out.push(info)
  return out
}

/** Every file below dir, relative, '/'-separated, sorted (temp files included). */
function filesBelow (dir: string): string[] {
  if (!fs.existsSync(dir)) return []
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((p) => fs.statSync(path.join(dir, p)).isFile())
    .map((p) => p.split(path.sep).join('/'))
    .sort()
}

const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) & 0xff))

/** A file store's etag as documented (inode, size, mtime and ctime in ns, hex), from the file itself: not from the store. */
function etagOfFile (file: string): string {
  const st = fs.statSync(file, { bigint: true })
  return `"${[st.ino, st.size, st.mtimeNs, st.ctimeNs].map((n) => n.toString(16)).join('-')}"`
}

t.test('put a Buffer, a string and a stream; get them back whole', async (t) => {
  const { store, root } = fresh()
  t.ok(store instanceof FileStore)
  t.equal(store.url, pathToFileURL(root).href)

  const r1 = await store.put('buf.bin', bytes)
  t.same(r1, { key: 'buf.bin', bytes: 1000, etag: etagOfFile(path.join(root, 'buf.bin')) })
  t.equal(r1.etag.split('-')[1], '3e8', 'the etag holds the size in hex, after the inode')
  const r2 = await store.put('dir/sub/text.txt', 'hello, wörld\n')
  t.equal(r2.bytes, Buffer.byteLength('hello, wörld\n'))
  const parts = [bytes.subarray(0, 1), bytes.subarray(1, 400), Buffer.alloc(0), bytes.subarray(400)]
  const r3 = await store.put('stream.bin', Readable.from(parts))
  t.equal(r3.bytes, 1000)
  const r4 = await store.put('empty', Buffer.alloc(0))
  t.equal(r4.bytes, 0)

  t.same(await readAll(store.get('buf.bin')), bytes)
  t.equal((await readAll(store.get('dir/sub/text.txt'))).toString(), 'hello, wörld\n')
  t.same(await readAll(store.get('stream.bin')), bytes)
  t.same(await readAll(store.get('empty')), Buffer.alloc(0))
  // really on disk where the key says
  t.same(fs.readFileSync(path.join(root, 'dir', 'sub', 'text.txt'), 'utf8'), 'hello, wörld\n')
  t.same(filesBelow(root), ['buf.bin', 'dir/sub/text.txt', 'empty', 'stream.bin'])

  // overwrite replaces
  await store.put('buf.bin', 'short')
  t.equal((await readAll(store.get('buf.bin'))).toString(), 'short')
})

t.test('ranges', async (t) => {
  const { store } = fresh()
  await store.put('r', bytes)
  const cases: Array<[{ start: number, end?: number }, Buffer]> = [
    [{ start: 0 }, bytes],
    [{ start: 10, end: 20 }, bytes.subarray(10, 20)],
    [{ start: 990 }, bytes.subarray(990)],
    [{ start: 0, end: 1 }, bytes.subarray(0, 1)],
    [{ start: 999, end: 1000 }, bytes.subarray(999)],
    [{ start: 5, end: 5 }, Buffer.alloc(0)], // empty range
    [{ start: 7, end: 3 }, Buffer.alloc(0)], // backwards: empty
    [{ start: 990, end: 5000 }, bytes.subarray(990)], // end past the end: clipped
    [{ start: 1000 }, Buffer.alloc(0)], // start at the end
    [{ start: 5000 }, Buffer.alloc(0)] // start past the end
  ]
  for (const [range, expected] of cases) {
    t.same(await readAll(store.get('r', { range })), expected, JSON.stringify(range))
  }
})

/** Run `body` with every fs.read recorded (its length asked), as the store makes them. */
async function recordingReads<T> (body: () => Promise<T>): Promise<{ result: T, reads: number[] }> {
  const reads: number[] = []
  const read = fs.read
  fs.read = ((fd: number, buffer: Buffer, offset: number, length: number, position: number | null, callback: (err: Error | null, n: number, b: Buffer) => void) => {
    reads.push(length)
    read(fd, buffer, offset, length, position, callback)
  }) as typeof fs.read
  try {
    return { result: await body(), reads }
  } finally {
    fs.read = read
  }
}

t.test('a get reads with a buffer the size of the file: a small file is one read, a big one is not read through small buffers', async (t) => {
  const { store } = fresh()
  const small = Buffer.from('{"x":1}\n')
  for (let i = 0; i < 20; i++) await store.put(`s${i}`, small)
  const big = Buffer.alloc(3 * 1024 * 1024 + 5, 7)
  await store.put('big', big)
  // fs.ReadStream takes each read's buffer from Buffer.allocUnsafeSlow, the last read (which finds the end) too:
  // with 1 MiB reads, every small file cost 2 MiB that V8 counts, and a read of many small files spent much of
  // its time collecting them. A small file is now one read of its size + 1 (the + 1 finds its end), no stream.
  const sizes: number[] = []
  const allocUnsafeSlow = Buffer.allocUnsafeSlow
  Buffer.allocUnsafeSlow = (size: number) => {
    sizes.push(size)
    return allocUnsafeSlow(size)
  }
  let got: Buffer[]
  let gotBig: Buffer
  let reads: number[]
  try {
    ({ result: got, reads } = await recordingReads(async () => await Promise.all(Array.from({ length: 20 }, async (_, i) => await readAll(store.get(`s${i}`))))))
    gotBig = await readAll(store.get('big'))
  } finally {
    Buffer.allocUnsafeSlow = allocUnsafeSlow
  }
  t.ok(got.every((b) => b.equals(small)), 'each small file whole')
  t.ok(gotBig.equals(big), 'the big file whole')
  t.same(reads, Array(20).fill(small.length + 1), 'each small file: one read of its size + 1')
  t.ok(sizes.filter((n) => n === 1024 * 1024).length >= 3, 'the big file in 1 MiB reads')
  t.equal(sizes.filter((n) => n >= 4096 && n < 1024 * 1024).length, 0, 'no small file read through a stream\'s buffers')
})

t.test('getWhole: one read of the listed size + 1; a file grown since is a stream, one shrunk gives what it holds', async (t) => {
  const { root } = fresh()
  const store = new FileStore(root)
  fs.mkdirSync(root)
  const content = Buffer.from('0123456789abcdef')
  await store.put('f', content)
  const bytesOf = async (got: WholeObject | Readable): Promise<Buffer> => got instanceof Readable ? await readAll(got) : got.take()
  const whole = await recordingReads(async () => await store.getWhole('f', { size: content.length }))
  t.notOk(whole.result instanceof Readable, 'as listed: read whole')
  t.same(await bytesOf(whole.result), content)
  t.same(whole.reads, [content.length + 1], 'one read: none more to find the end')
  // Listed at 4 bytes, since grown to 16 (and to 100 KiB): a stream to its end, never held whole however it grows.
  const grew = await store.getWhole('f', { size: 4 })
  t.ok(grew instanceof Readable, 'grown since listed: a stream')
  t.same(await bytesOf(grew), content)
  const grown = Buffer.alloc(100 * 1024, 3)
  fs.writeFileSync(path.join(root, 'g'), grown)
  t.same(await bytesOf(await store.getWhole('g', { size: 10 })), grown, 'grown well past its listed size: every byte')
  // Listed at 100 bytes, now 16: what it holds.
  t.same(await bytesOf(await store.getWhole('f', { size: 100 })), content)
  fs.writeFileSync(path.join(root, 'empty'), '')
  t.same(await bytesOf(await store.getWhole('empty', { size: 0 })), Buffer.alloc(0))
  // Counted once taken: bytes read ahead and dropped are not counted as downloaded.
  const before = store.stats()
  const dropped = await store.getWhole('f', { size: content.length })
  t.equal(store.stats().downloaded.bytes, before.downloaded.bytes, 'not counted until taken')
  await bytesOf(dropped)
  await bytesOf(dropped)
  t.equal(store.stats().downloaded.bytes - before.downloaded.bytes, content.length, 'counted once taken, once')
  t.equal(store.stats().downloaded.objects - before.downloaded.objects, 1)
})

t.test('getWhole: a size that is no byte count is refused; one past a small file\'s is never allocated, the file is streamed', async (t) => {
  const { root } = fresh()
  const store = new FileStore(root)
  fs.mkdirSync(root)
  const content = Buffer.from('0123456789abcdef')
  await store.put('f', content)
  for (const size of [-1, 1.5, Number.NaN, '16', null]) {
    await t.rejects(store.getWhole('f', { size: size as number }), { code: 'SHOEBOX_INVALID_OPTION', option: 'size', reason: `must be a whole number of bytes, got ${size === null || typeof size === 'string' ? JSON.stringify(size) : String(size)}` }, String(size))
  }
  // A listing's size is the caller's word: 1 TB was a Buffer of 1 TB asked for (a RangeError), 2 GiB one allocated.
  const huge = await store.getWhole('f', { size: 1e12 })
  t.ok(huge instanceof Readable, 'past a small file\'s size: a stream, as get() gives it')
  t.same(await readAll(huge as Readable), content)
})

t.test('getWhole refuses as get does: missing, a directory, a FIFO, a changed version, an escaping key', async (t) => {
  const { root } = fresh()
  const store = new FileStore(root)
  fs.mkdirSync(root)
  await store.put('f', 'abc')
  await t.rejects(store.getWhole('missing', { size: 3 }), { name: 'StoreError', kind: 'not-found', key: 'missing' })
  fs.mkdirSync(path.join(root, 'dir'))
  await t.rejects(store.getWhole('dir', { size: 3 }), { name: 'StoreError', key: 'dir' })
  const { execFileSync } = await import('node:child_process')
  execFileSync('mkfifo', [path.join(root, 'fifo')])
  await t.rejects(store.getWhole('fifo', { size: 3 }), { name: 'StoreError', key: 'fifo', message: /not a regular file/ })
  await t.rejects(store.getWhole('f', { size: 3, etag: '"0-0"' }), { name: 'StoreError', key: 'f', message: /changed since it was listed/ })
  await t.rejects(store.getWhole('../x', { size: 3 }), { code: 'SHOEBOX_BAD_KEY' })
})

t.test('list: by prefix, sorted, temp files and directories never listed', async (t) => {
  const { store, root } = fresh()
  const keys = ['logs/2024/b.txt', 'logs/2024/a.txt', 'other.txt', 'logs/2023/z.txt', 'logs-x', 'a/deep/er/key']
  for (const [i, key] of keys.entries()) await store.put(key, 'x'.repeat(i + 1))
  // A write in progress: its temp file exists, and is not an object.
  const writer = store.writer('logs/2024/c.txt')
  writer.write('partial')
  await once(writer, 'progress')
  t.ok(filesBelow(root).some((f) => f.endsWith('.shoebox-tmp')), 'the writer has a temp file')

  const all = await list(store)
  t.same(all.map((o) => o.key), ['a/deep/er/key', 'logs-x', 'logs/2023/z.txt', 'logs/2024/a.txt', 'logs/2024/b.txt', 'other.txt'])
  const sizes = Object.fromEntries(all.map((o) => [o.key, o.size]))
  t.same(sizes, { 'logs/2024/b.txt': 1, 'logs/2024/a.txt': 2, 'other.txt': 3, 'logs/2023/z.txt': 4, 'logs-x': 5, 'a/deep/er/key': 6 })
  for (const o of all) {
    t.ok(o.mtime instanceof Date && Math.abs(o.mtime.getTime() - Date.now()) < 60_000, `${o.key} mtime`)
    t.equal(o.etag, (await store.stat(o.key)).etag, `${o.key} etag as stat says`)
  }
  t.same((await list(store, 'logs/')).map((o) => o.key), ['logs/2023/z.txt', 'logs/2024/a.txt', 'logs/2024/b.txt'])
  t.same((await list(store, 'logs/2024/')).map((o) => o.key), ['logs/2024/a.txt', 'logs/2024/b.txt'])
  t.same((await list(store, 'logs')).map((o) => o.key), ['logs-x', 'logs/2023/z.txt', 'logs/2024/a.txt', 'logs/2024/b.txt'], 'a string prefix, not a directory')
  t.same((await list(store, 'logs/2024/a')).map((o) => o.key), ['logs/2024/a.txt'])
  t.same(await list(store, 'nothing/'), [])

  writer.destroy()
  await once(writer, 'close')
  t.same((await list(store, 'logs/2024/')).map((o) => o.key), ['logs/2024/a.txt', 'logs/2024/b.txt'])

  // a store whose directory does not exist yet lists nothing
  t.same(await list(openStore(path.join(root, 'not', 'there'))), [])
})

t.test('list below a prefix directory: nested keys, exact mtimes, failures in words', async (t) => {
  const { store, root, parent } = fresh()
  for (const key of ['logs/2024/a.txt', 'logs/2024/sub/b.txt', 'logs-x', 'other/c.txt']) await store.put(key, 'x')
  t.same((await list(store, 'logs/2024/')).map((o) => o.key), ['logs/2024/a.txt', 'logs/2024/sub/b.txt'])
  t.same((await list(store, 'logs/2024/s')).map((o) => o.key), ['logs/2024/sub/b.txt'], 'a prefix ending inside a name')
  t.same(await list(store, 'logs-x/'), [], 'a prefix below a file lists nothing')
  const [a] = await list(store, 'logs/2024/a')
  t.equal(a.mtimeMs, fs.statSync(path.join(root, 'logs', '2024', 'a.txt')).mtimeMs, 'mtimeMs as fine as the file system keeps it')
  t.ok(Math.abs(a.mtime.getTime() - (a.mtimeMs ?? NaN)) < 1, 'the Date is the same time, to the millisecond')

  // A root that is a file: the error names the store and says why in words, not in S3 terms.
  const file = path.join(parent, 'a-file')
  fs.writeFileSync(file, 'x')
  const err = await errorOf(list(openStore(file)))
  t.ok(err instanceof StoreError)
  t.match(err, { message: /^file:\/\/.*a-file: list: not a directory \(ENOTDIR\)$/ })
  // A key that is a directory, read: the same.
  const read = store.get('other')
  const readErr = await errorOf(read.toArray())
  t.match(readErr, { message: /^file:\/\/.*root: get other: is a directory \(EISDIR\)$/ })
})

t.test('stat, exists, delete', async (t) => {
  const { store } = fresh()
  await store.put('a/b', bytes)
  const info = await store.stat('a/b')
  t.equal(info.key, 'a/b')
  t.equal(info.size, 1000)
  t.ok(info.mtime instanceof Date)
  t.equal(await store.exists('a/b'), true)
  t.equal(await store.exists('a/c'), false)
  t.equal(await store.exists('a'), false, 'a directory is not an object')

  const missing = await errorOf(store.stat('a/c'))
  t.ok(missing instanceof StoreError)
  t.match(missing, { code: 'SHOEBOX_NOT_FOUND', kind: 'not-found', operation: 'stat', key: 'a/c', store: store.url })
  t.match(await errorOf(store.stat('a')), { code: 'SHOEBOX_NOT_FOUND' }, 'stat of a directory')

  const getMissing = await errorOf(readAll(store.get('nope')))
  t.match(getMissing, { code: 'SHOEBOX_NOT_FOUND', operation: 'get', key: 'nope' })

  await store.delete('a/b')
  t.equal(await store.exists('a/b'), false)
  t.match(await errorOf(store.stat('a/b')), { code: 'SHOEBOX_NOT_FOUND' })
  await store.delete('a/b') // again: not an error
  await store.delete('never/was')
  t.pass('deleting a missing object is ok')
})

t.test('atomic writes: a destroyed writer leaves no object and no temp file', async (t) => {
  const { store, root } = fresh()
  const writer = store.writer('x/new.bin')
  writer.write(bytes)
  await once(writer, 'progress')
  const during = filesBelow(root)
  t.equal(during.length, 1)
  t.match(during[0], new RegExp(`^x/\\.new\\.bin~${escapeRegExp(hostName())}~${writerTag()}~[0-9a-f]{12}\\.shoebox-tmp$`), 'a hidden temp file beside the target, named with its host, pid and start')
  t.equal(await store.exists('x/new.bin'), false, 'no object before the end')
  writer.destroy()
  await once(writer, 'close')
  t.same(filesBelow(root), [], 'no object, no temp file')
  t.equal(writer.result, undefined)

  // destroyed with an error, over an existing object: the old one stays
  await store.put('x/old.bin', 'old content')
  const w2 = store.writer('x/old.bin')
  w2.write('new content that never lands')
  await once(w2, 'progress')
  const errored = once(w2, 'error')
  const closed = new Promise((resolve) => w2.once('close', resolve))
  w2.destroy(new Error('producer failed'))
  const [err] = await errored as [Error]
  t.equal(err.message, 'producer failed')
  await closed
  t.equal((await readAll(store.get('x/old.bin'))).toString(), 'old content')
  t.same(filesBelow(root), ['x/old.bin'])

  // a failing source stream rejects put() and leaves nothing
  const failing = new Readable({
    read () {
      this.push(bytes)
      setImmediate(() => this.destroy(new Error('source broke')))
    }
  })
  await t.rejects(store.put('x/failed.bin', failing), { message: 'source broke' })
  t.same(filesBelow(root), ['x/old.bin'])
})

t.test('a writer given records or numbers, not bytes, fails naming its key and leaves no object, no temp file and no open handle', async (t) => {
  const { store, root } = fresh()
  for (const [chunk, got] of [[{ payload: 'x' }, 'an object'], [5, 'number'], [[1], 'an array']] as const) {
    const writer = store.writer('x/records.bin')
    const errored = once(writer, 'error')
    const closed = new Promise((resolve) => writer.once('close', resolve))
    let called: unknown
    // Node's ERR_INVALID_ARG_TYPE was thrown here, and the writer stayed open with its temp file.
    t.equal(writer.write(chunk, (err) => { called = err }), false, `${got}: write() returns false`)
    const [err] = await errored as [Error]
    t.match(err, { code: 'SHOEBOX_USAGE', message: `the writer of key "x/records.bin" takes bytes (a Buffer, Uint8Array or string), got ${got}; it stores bytes, such as encode()'s output: records go through encode() first` }, got)
    await closed
    t.equal(called, err, `${got}: the write's callback has the error`)
    t.same(filesBelow(root), [], `${got}: no object, no temp file`)
  }
  // Piped, from a stream of records: it was reported as the source's failure ('cannot read ...').
  await t.rejects(pipeline(Readable.from([{ payload: 'a' }]), uploadSink(root, 'x/piped.bin')), { code: 'SHOEBOX_USAGE', message: /^the writer of key "x\/piped\.bin" takes bytes/ })
  t.same(filesBelow(root), [])
})

t.test('a short write is continued; a full disk leaves no object: never a cut object under the key', async (t) => {
  // A filling disk writes what fits and fails only the next write. The writer took a short writev for a
  // whole one, so `shoebox upload big --to DIR` on a full disk renamed the first 200 KB of 450 KB into place.
  fs.writeFileSync(path.join(tmp, 'probe'), '')
  const probe = await fs.promises.open(path.join(tmp, 'probe'), 'r')
  const proto = Object.getPrototypeOf(probe) as { writev: (this: unknown, buffers: Buffer[], position?: number | null) => Promise<{ bytesWritten: number, buffers: Buffer[] }> }
  await probe.close()
  const writev = proto.writev
  t.teardown(() => { proto.writev = writev })
  let room = Infinity
  proto.writev = async function (buffers, position) {
    if (room <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
    // At most 64 KiB a call, and no more than the room left: short writes, as a kernel may return.
    let budget = Math.min(room, 64 * 1024)
    const fitting: Buffer[] = []
    for (const b of buffers) {
      if (budget <= 0) break
      fitting.push(b.subarray(0, budget))
      budget -= b.length
    }
    const result = await writev.call(this, fitting, position)
    room -= result.bytesWritten
    return result
  }
  const body = Buffer.alloc(450_000, 7)
  const { store, root } = fresh()
  const put = await store.put('whole.bin', body)
  t.equal(put.bytes, body.length)
  t.ok(fs.readFileSync(path.join(root, 'whole.bin')).equals(body), 'short writes continued: the object is whole')
  room = 200_000
  const err = await errorOf(store.put('full.bin', body))
  t.ok(err instanceof StoreError, 'a full disk fails the put')
  t.match((err as Error).message, /no space left on device/)
  t.same(fs.readdirSync(root).sort(), ['whole.bin'], 'no cut object, no temporary file')
})

t.test('atomic writes: a reader during a slow write sees the old content', async (t) => {
  const { store, root } = fresh()
  await store.put('doc', 'version one')
  const before = await store.stat('doc')
  const writer = store.writer('doc')
  writer.write('version two, ')
  await once(writer, 'progress')
  t.equal((await readAll(store.get('doc'))).toString(), 'version one', 'old content while the write is open')
  t.equal((await store.stat('doc')).size, before.size)
  t.same((await list(store)).map((o) => o.key), ['doc'])
  writer.write('longer')
  writer.end()
  await once(writer, 'finish')
  t.same(writer.result, { key: 'doc', bytes: 19, etag: etagOfFile(path.join(root, 'doc')) })
  t.equal((await readAll(store.get('doc'))).toString(), 'version two, longer')
  t.equal(writer.result?.etag, (await store.stat('doc')).etag, 'the result names the version stored')
  t.not(writer.result?.etag, before.etag)
})

t.test('keys never escape the root', async (t) => {
  const { store, root, parent } = fresh()
  await store.put('inside', 'ok')
  const outside = path.join(parent, 'abs-escape')
  const bad = ['../x', 'a/../../b', '..', 'a/..', '/abs', outside, 'a\0b', 'a\\b', '..\\x', 'C:x', 'c:/x', 'a//b', 'a/', '/', '', './a', 'a/./b']
  for (const key of bad) {
    const label = JSON.stringify(key)
    const check = (err: unknown, op: string): void => {
      t.ok(err instanceof ShoeboxError, `${op} ${label}: a ShoeboxError`)
      t.equal((err as ShoeboxError).code, 'SHOEBOX_BAD_KEY', `${op} ${label}: SHOEBOX_BAD_KEY`)
    }
    check(await errorOf(store.put(key, 'escaped')), 'put')
    check(await errorOf(store.put(key, Readable.from([Buffer.from('escaped')]))), 'put stream')
    check(await errorOf(readAll(store.get(key))), 'get')
    check(await errorOf(store.stat(key)), 'stat')
    check(await errorOf(store.exists(key)), 'exists')
    check(await errorOf(store.delete(key)), 'delete')
    let thrown: unknown
    try {
      store.writer(key)
    } catch (err) {
      thrown = err
    }
    check(thrown, 'writer')
  }
  t.match(await errorOf(store.put('a/../../b', 'x')), { message: /"a\/\.\.\/\.\.\/b"/ }, 'the message quotes the key')
  t.same(fs.readdirSync(parent), ['root'], 'nothing created beside the root')
  t.same(filesBelow(root), ['inside'], 'nothing created inside either')
  t.equal(fs.existsSync(outside), false)
  t.equal(fs.existsSync('/abs'), false)
})

t.test('unicode keys', async (t) => {
  const { store, root } = fresh()
  const keys = ['naïve/日本語/ключ 🎉.txt', 'café', 'ascii']
  for (const key of keys) await store.put(key, `content of ${key}`)
  t.same((await list(store)).map((o) => o.key), [...keys].sort())
  for (const key of keys) {
    t.equal((await readAll(store.get(key))).toString(), `content of ${key}`)
    t.equal((await store.stat(key)).key, key)
  }
  t.same((await list(store, 'naïve/日本語/')).map((o) => o.key), ['naïve/日本語/ключ 🎉.txt'])
  t.ok(fs.existsSync(path.join(root, 'naïve', '日本語', 'ключ 🎉.txt')))
})

t.test('get pinned to an etag: a changed object fails the read', async (t) => {
  const { store } = fresh()
  await store.put('v', 'first')
  const first = await store.stat('v')
  t.equal((await readAll(store.get('v', { etag: first.etag }))).toString(), 'first', 'the current etag reads')
  await store.put('v', 'second, longer')
  const err = await errorOf(readAll(store.get('v', { etag: first.etag })))
  t.ok(err instanceof StoreError, 'a StoreError')
  t.match(err, { operation: 'get', key: 'v', store: store.url, message: /file:\/\/.*get v/ })
  t.not((err as StoreError).code, 'SHOEBOX_NOT_FOUND')
  const second = await store.stat('v')
  t.equal((await readAll(store.get('v', { etag: second.etag, range: { start: 8 } }))).toString(), 'longer')
})

t.test('openStore: bare paths, file:// URLs, unknown schemes', async (t) => {
  const { root } = fresh()
  const bare = openStore(root)
  await bare.put('k', 'via bare path')
  const viaUrl = openStore(pathToFileURL(root).href)
  t.ok(viaUrl instanceof FileStore)
  t.equal(viaUrl.url, bare.url)
  t.equal((await readAll(viaUrl.get('k'))).toString(), 'via bare path')
  t.equal(viaUrl.url, 'file://' + root.split(path.sep).join('/'))

  // a relative path is resolved against the working directory
  const relative = openStore(path.relative(process.cwd(), root))
  t.equal((relative as FileStore).root, root)
  t.equal(await relative.exists('k'), true)

  for (const url of ['gs://b/x', 'http://example.com/x', 'ftp://user:pw@host/dir']) {
    let err: unknown
    try {
      openStore(url)
    } catch (e) {
      err = e
    }
    t.ok(err instanceof ShoeboxError, url)
    const scheme = url.slice(0, url.indexOf(':'))
    t.match(err, { code: 'SHOEBOX_BAD_URL', message: new RegExp(`'${scheme}://'`) }, `${url}: names the scheme`)
    t.notMatch((err as Error).message, /pw/, 'no password from the URL')
  }
  t.throws(() => openStore(''), { code: 'SHOEBOX_BAD_URL' })
})

t.test('stats count bytes and objects each way', async (t) => {
  const { store } = fresh()
  const empty = store.stats()
  t.match(empty, { uploaded: { bytes: 0, objects: 0 }, downloaded: { bytes: 0, objects: 0 }, retries: 0, errors: {} })
  await store.put('a', bytes)
  await store.put('b', 'xyz')
  await readAll(store.get('a'))
  await readAll(store.get('a', { range: { start: 100, end: 150 } }))
  const s = store.stats()
  t.match(s, { uploaded: { bytes: 1003, objects: 2 }, downloaded: { bytes: 1050, objects: 2 }, retries: 0 })
  t.ok(s.elapsedMs >= 0)
  t.equal(typeof s.uploaded.mbPerSec, 'number')
})

t.test('uploadSink on a directory: the same Writable API', async (t) => {
  const { root } = fresh()
  const sink = uploadSink(root, 'sink/out.bin')
  t.equal(sink.key, 'sink/out.bin')
  const closed = new Promise((resolve) => sink.once('close', resolve))
  const progress: number[] = []
  sink.on('progress', (p) => { progress.push(p.bytes) })
  for (let at = 0; at < bytes.length; at += 333) sink.write(bytes.subarray(at, at + 333))
  sink.end()
  await once(sink, 'finish')
  t.same(sink.result, { key: 'sink/out.bin', bytes: 1000, etag: etagOfFile(path.join(root, 'sink', 'out.bin')) })
  t.equal(progress.at(-1), 1000)
  t.ok(progress.every((b, i) => i === 0 || b > progress[i - 1]), 'progress increases')
  t.same(fs.readFileSync(path.join(root, 'sink', 'out.bin')), bytes)
  t.match(sink.stats(), { uploaded: { bytes: 1000, objects: 1 } })
  await closed
  t.same(filesBelow(root), ['sink/out.bin'])
})

t.test('platformNames (POSIX): names the platform allows are read; escapes are still refused', async (t) => {
  const { root } = fresh()
  fs.mkdirSync(root)
  for (const name of ['x:1.shoebox', 'a\\b.shoebox']) fs.writeFileSync(path.join(root, name), name)
  const portable = new FileStore(root)
  const named = new FileStore(root, { platformNames: true })
  t.same((await list(named)).map((o) => o.key), ['a\\b.shoebox', 'x:1.shoebox'])
  for (const key of ['x:1.shoebox', 'a\\b.shoebox']) {
    t.equal((await readAll(named.get(key))).toString(), key, `${key}: read`)
    t.match(await errorOf(readAll(portable.get(key))), { code: 'SHOEBOX_BAD_KEY' }, `${key}: not a portable key`)
  }
  for (const key of ['../x', 'a/../../b', '/abs', 'a\0b', 'a//b', './a']) {
    t.match(await errorOf(readAll(named.get(key))), { code: 'SHOEBOX_BAD_KEY' }, `${JSON.stringify(key)}: still refused`)
  }
})

t.test('a writer destroyed before its first write leaves nothing behind: no directory, no temporary file', async (t) => {
  // uploadSink('file://DIR/...') made DIR (and the key's directories) even when destroyed at once, as rollingSink() does not.
  const { parent } = fresh()
  const root = path.join(parent, 'not-made')
  const sink = uploadSink(pathToFileURL(root).href, 'sub/k.bin')
  sink.destroy()
  await new Promise((resolve) => sink.once('close', resolve))
  t.notOk(fs.existsSync(root), 'the store directory not made')
  const store = openStore(root)
  const writer = store.writer('a/b/k.bin')
  writer.destroy(new Error('stop'))
  writer.on('error', () => {})
  await new Promise((resolve) => writer.once('close', resolve))
  t.notOk(fs.existsSync(root), 'nor by a writer of the store')
  await store.close()
})

t.test('abortUpload in a read-only directory: a temporary file that is not there is nothing to abort (EROFS came before the lookup)', async (t) => {
  // Linux refuses an unlink on a read-only mount with EROFS even for a name that does not exist: the abort of an
  // upload whose temporary file was never made failed, and its error replaced the put's ('abort upload ...: EROFS').
  // Fault injection: tests must not mount.
  const { store, root } = fresh()
  fs.mkdirSync(path.join(root, 'd'), { recursive: true })
  const unlink = fs.promises.unlink
  fs.promises.unlink = async (file) => {
    if (String(file).startsWith(root + path.sep)) throw Object.assign(new Error(`EROFS: read-only file system, unlink '${String(file)}'`), { code: 'EROFS', syscall: 'unlink' })
    await unlink(file)
  }
  t.teardown(() => { fs.promises.unlink = unlink })
  const id = `${hostName()}~${process.pid}~0123456789ab`
  await store.abortUpload('d/k.shoebox', id)
  t.pass('nothing there: done')
  fs.writeFileSync(path.join(root, 'd', `.k.shoebox~${id}.shoebox-tmp`), 'half')
  await t.rejects(store.abortUpload('d/k.shoebox', id), { message: /abort upload d\/k\.shoebox: read-only file system \(EROFS\)/ }, 'one that is there and cannot be removed is still said')
})

t.test('a writer notes its temporary file as an upload id; abortUpload removes that file and nothing else', async (t) => {
  const { store, root, parent } = fresh()
  const ids: string[] = []
  const writer = store.writer('d/k.shoebox', { onMultipartUpload: (id) => ids.push(id) })
  writer.write(Buffer.from('half'))
  const temps = (): string[] => (fs.existsSync(path.join(root, 'd')) ? fs.readdirSync(path.join(root, 'd')) : []).filter((n) => n.endsWith('.shoebox-tmp'))
  while (temps().length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.match(ids, [new RegExp(`^${escapeRegExp(hostName())}~${writerTag()}~[0-9a-f]{12}$`)], 'noted once')
  const temp = path.join(root, 'd', `.k.shoebox~${ids[0]}.shoebox-tmp`)
  t.same(temps(), [path.basename(temp)], 'the id is the temporary file\'s tag')
  // As a killed process leaves it: the temporary file stays.
  fs.writeFileSync(path.join(root, 'd', 'keep'), 'x')
  fs.writeFileSync(path.join(parent, 'outside'), 'x')
  for (const id of ['../../outside', '..', '', 'ABCDEF012345', '../../outside~1~0123456789ab']) await store.abortUpload('d/k.shoebox', id)
  await store.abortUpload('d/../keep', ids[0]).catch(() => {})
  t.ok(fs.existsSync(temp) && fs.existsSync(path.join(parent, 'outside')) && fs.existsSync(path.join(root, 'd', 'keep')), 'an id that is no tag removes nothing')
  await store.abortUpload('d/k.shoebox', ids[0])
  t.notOk(fs.existsSync(temp), 'the noted temporary file is removed')
  await store.abortUpload('d/k.shoebox', ids[0]) // gone: fine
  // A note from before the host and pid joined the tag (12 hex digits) still names its file.
  const old = path.join(root, 'd', '.k.shoebox.0123456789ab.shoebox-tmp')
  fs.writeFileSync(old, 'half')
  await store.abortUpload('d/k.shoebox', '0123456789ab')
  t.notOk(fs.existsSync(old), 'an older note\'s temporary file is removed')
  writer.destroy()
})
