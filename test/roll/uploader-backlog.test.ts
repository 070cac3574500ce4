/**
 * A directory's backlog of many small sealed files (a `write --to` after the
 * store was down): the uploader takes each name off its queue without moving
 * the rest (Array#shift() did, once the queue held more than ~16,000 names,
 * so the run's CPU grew with the square of the backlog), and reads each file
 * into a buffer of its size, not 1 MiB (V8 counts those: a full collection
 * every ~60 files, each marking a heap that holds the whole queue). Counted,
 * not timed.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { rollingSink, SealedUploader } from '../../lib/index.js'
import { FileStore } from '../../lib/store/file-store.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-uploader-backlog-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

t.test('1,500 sealed files: no shift() of a long array, and buffers of the files\' sizes', async (t) => {
  const dir = path.join(tmp, 'backlog')
  const files = 1500
  await pipeline(Readable.from(Array.from({ length: files }, (_, i) => ({ metadata: {}, payload: `record ${i}` }))),
    rollingSink({ dir, roll: { records: 1 }, fsync: 'never', flushInterval: 0 }))
  const names = fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort()
  t.equal(names.length, files, 'one file a record')

  const shift = Array.prototype.shift
  const allocUnsafeSlow = Buffer.allocUnsafeSlow
  let longShifts = 0
  let allocated = 0
  // Any array of more than 1,000 items shifted while the uploader runs: its queue was one.
  Array.prototype.shift = function <T>(this: T[]): T | undefined {
    if (this.length > 1000) longShifts++
    return shift.call(this) as T | undefined
  }
  Buffer.allocUnsafeSlow = (size: number) => { allocated += size; return allocUnsafeSlow(size) }
  const restore = (): void => {
    Array.prototype.shift = shift
    Buffer.allocUnsafeSlow = allocUnsafeSlow
  }
  t.teardown(restore)
  const store = new FileStore(path.join(tmp, 'bucket'))
  const uploader = new SealedUploader(dir, store)
  try {
    await uploader.resume()
    t.equal(await uploader.drain(), undefined, 'every file uploaded')
  } finally {
    restore()
    await uploader.close()
    await store.close()
  }
  t.same(fs.readdirSync(path.join(tmp, 'bucket')).sort(), names, 'each under its own name')
  t.equal(longShifts, 0, 'no array of more than 1,000 items shifted (the queue held 1,500 names)')
  // Before: 1 MiB a file (1.5 GiB in all). Now the file's ~60 bytes, and whatever else a put allocates.
  t.ok(allocated <= files * 16 * 1024, `${allocated} bytes allocated for ${files} files`)
})
