import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, encodeRecords, type ShoeboxRecord } from '../../lib/index.js'
import { READ_AHEAD, READ_AHEAD_BYTES, ReadAhead } from '../../lib/source/read-ahead.js'
import type { ListedFile } from '../../lib/source/order.js'
import { FileStore } from '../../lib/store/file-store.js'
import { readFirstArchiveThen } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-read-ahead-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const FILES = 40
const name = (i: number): string => `f${String(i).padStart(3, '0')}.shoebox`

/** FILES archives of one record each (payload = the file's number), in `dir`; `damaged` holds junk after its record. */
function tree (dir: string, damaged?: number): void {
  fs.mkdirSync(dir)
  for (let i = 0; i < FILES; i++) {
    const bytes = encodeRecords([{ metadata: { n: String(i) }, payload: String(i) }])
    fs.writeFileSync(path.join(dir, name(i)), i === damaged ? Buffer.concat([bytes, Buffer.from('not a record')]) : bytes)
  }
}

/** Open file descriptors of this process (Linux). */
const openFds = (): number => fs.readdirSync('/proc/self/fd').length

/**
 * Waits until this process has `count` descriptors open again: the files a destroy closes are closed
 * asynchronously, which under load took longer than a fixed pause. A file left open leaves the wait to
 * tap's timeout.
 */
async function fdsBackTo (count: number): Promise<void> {
  while (openFds() > count) await new Promise((resolve) => setTimeout(resolve, 10))
}

const collect = (seen: string[]): Writable => new Writable({
  objectMode: true,
  // One at a time: records waiting in the sink's own buffer would be dropped with it when the pipeline fails.
  highWaterMark: 1,
  write (record: ShoeboxRecord, _encoding, callback) {
    seen.push(record.payload.toString())
    // A turn of the event loop per record: the files opened ahead are open meanwhile.
    setImmediate(callback)
  }
})

t.test('with files opened ahead, every file is read in order, its records and events together', async (t) => {
  const dir = path.join(tmp, 'ordered')
  tree(dir)
  const source = archiveSource(path.join(dir, '*.shoebox'))
  const events: string[] = []
  source.on('file', (e: { name: string }) => events.push(`file ${e.name}`))
  source.on('fileEnd', (e: { name: string, records: number }) => events.push(`end ${e.name} ${e.records}`))
  const seen: string[] = []
  await pipeline(source, collect(seen))
  t.same(seen, Array.from({ length: FILES }, (_, i) => String(i)))
  t.same(events, Array.from({ length: FILES }, (_, i) => [`file ${name(i)}`, `end ${name(i)} 1`]).flat())
})

t.test('damage fails the read naming its own file, after the records before it, and closes the files opened ahead', async (t) => {
  const dir = path.join(tmp, 'damaged')
  tree(dir, 20)
  const before = openFds()
  const source = archiveSource(path.join(dir, '*.shoebox'))
  const seen: string[] = []
  await t.rejects(pipeline(source, collect(seen)), { code: 'SHOEBOX_BAD_MAGIC', file: path.join(dir, name(20)) })
  t.same(seen, Array.from({ length: 21 }, (_, i) => String(i)), 'the damaged file\'s own record too, none after')
  await fdsBackTo(before)
  t.equal(openFds(), before, 'no file left open')
})

t.test('lenient: damage is reported on its own file, and every file after it is read', async (t) => {
  const dir = path.join(tmp, 'lenient')
  tree(dir, 7)
  const source = archiveSource(path.join(dir, '*.shoebox'), { mode: 'lenient' })
  const corrupt: string[] = []
  source.on('corrupt', (e: { path: string }) => corrupt.push(e.path))
  const seen: string[] = []
  await pipeline(source, collect(seen))
  t.same(corrupt, [path.join(dir, name(7))])
  t.same(seen, Array.from({ length: FILES }, (_, i) => String(i)))
})

t.test('destroy mid-read closes the file being read and those opened ahead', async (t) => {
  const dir = path.join(tmp, 'destroyed')
  tree(dir)
  const before = openFds()
  const source = archiveSource(path.join(dir, '*.shoebox'))
  const seen: string[] = []
  await new Promise<void>((resolve) => {
    source.on('data', (record: ShoeboxRecord) => {
      seen.push(record.payload.toString())
      if (seen.length === 3) {
        source.destroy()
        resolve()
      }
    })
  })
  await fdsBackTo(before)
  t.same(seen, ['0', '1', '2'], 'no record after the destroy')
  t.equal(openFds(), before, 'no file left open')
})

t.test('ReadAhead opens the next READ_AHEAD small files, passes big ones over, and hands each over once', async (t) => {
  const dir = path.join(tmp, 'unit')
  fs.mkdirSync(dir)
  const files: ListedFile[] = []
  for (let i = 0; i < 8; i++) {
    const content = i === 1 ? Buffer.alloc(READ_AHEAD_BYTES + 1, 'x') : Buffer.from(`file ${i}`)
    fs.writeFileSync(path.join(dir, name(i)), content)
    files.push({ name: name(i), path: path.join(dir, name(i)), size: content.length, mtimeMs: 0 })
  }
  const store = new FileStore(dir)
  const opened: string[] = []
  const streams: Readable[] = []
  const ahead = new ReadAhead((file) => {
    opened.push(file.name)
    streams.push(store.get(file.name))
    return streams[streams.length - 1]
  })
  ahead.ahead(files)
  t.same(opened, [0, 2, 3, 4].map(name), `${READ_AHEAD} files, the big one passed over`)
  ahead.ahead(files.slice(2))
  t.same(opened, [0, 2, 3, 4, 5].map(name), 'only the file new to the window is opened')
  const taken = ahead.take(files[2])
  t.ok(taken)
  const chunks: Buffer[] = []
  for await (const chunk of taken ?? []) chunks.push(chunk as Buffer)
  t.equal(Buffer.concat(chunks).toString(), 'file 2')
  t.equal(ahead.take(files[2]), undefined, 'taken once')
  t.equal(ahead.take(files[1]), undefined, 'never opened')
  t.equal(ahead.size, 4)
  const notTaken = [0, 2, 3, 4].map((i) => streams[i])
  t.same(notTaken.map((s) => s.destroyed), [false, false, false, false])
  ahead.clear()
  t.equal(ahead.size, 0)
  t.same(notTaken.map((s) => s.destroyed), [true, true, true, true], 'clear() closed every stream not taken')
  await store.close()
})

t.test('ReadAhead: a file that fails before it is taken throws its error at take(), unheard before', async (t) => {
  const dir = path.join(tmp, 'missing')
  fs.mkdirSync(dir)
  const store = new FileStore(dir)
  let opened: Readable | undefined
  const ahead = new ReadAhead((file) => (opened = store.get(file.name)))
  const gone: ListedFile = { name: 'gone.shoebox', path: path.join(dir, 'gone.shoebox'), size: 10, mtimeMs: 0 }
  ahead.ahead([gone])
  // Once its open has failed (its stream closed), not after a fixed 50 ms that the open could outlast under load.
  const stream = opened
  if (stream !== undefined && !stream.closed) await new Promise((resolve) => stream.once('close', resolve))
  t.throws(() => ahead.take(gone), { name: 'StoreError', kind: 'not-found' })
  await store.close()
})

for (const how of ['stop', 'destroy'] as const) {
  t.test(`${how}() after the first file: the files opened ahead and dropped are not counted as read in stats()`, async (t) => {
    const dir = path.join(tmp, `counted-${how}`)
    fs.mkdirSync(dir)
    // The first file holds more records than the source buffers (1024), so that reading waits in it
    // while the next files are opened and read ahead (they were counted as read: 5 files, not 1).
    const first = encodeRecords(Array.from({ length: 2000 }, (_, i) => ({ payload: String(i) })))
    fs.writeFileSync(path.join(dir, name(0)), first)
    for (let i = 1; i < FILES; i++) fs.writeFileSync(path.join(dir, name(i)), encodeRecords([{ payload: String(i) }]))
    const source = archiveSource(path.join(dir, '*.shoebox'))
    const records = await readFirstArchiveThen(source, how, 200)
    t.equal(records, 2000, 'the first file\'s records, none after')
    t.same([source.stats().downloaded.objects, source.stats().downloaded.bytes], [1, first.length], 'one file read, and its bytes')
  })
}
