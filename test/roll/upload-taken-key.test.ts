/**
 * A sealed file's key that the store holds already, with another file's
 * object: the file goes under the next free alternative name, never over
 * it. With deleteLocal, an uploaded file's name is free again in its
 * directory: a second writer (or the next run) of a template without the
 * time or {pid} sealed its file under it and uploaded it over the first
 * file's object (`shoebox write d --template 'x-{seq}.shoebox' --to up
 * --delete-local` twice at once: 400 records written, 200 in the store, both
 * exit 0). Against a directory store and a real S3-protocol server (fauxqs),
 * whole puts and early (multipart) uploads.
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { finished } from 'node:stream/promises'
import t from 'tap'
import { openStore, rollingSink, SealedUploader, type RollingSinkOptions, type UploadEvent } from '../../lib/index.js'
import { startS3 } from '../s3-server.js'
import { archiveNames, decodeBytes, tempDir } from '../fixtures-roll/util.js'

const MiB = 1024 * 1024

/** One writer's run: `records` records saying `who`, written, ended, its uploads finished; resolves with its upload events. */
async function writeRun (options: RollingSinkOptions, who: string, records: number, padding = 0): Promise<UploadEvent[]> {
  const sink = rollingSink(options)
  const uploads: UploadEvent[] = []
  sink.on('upload', (e: UploadEvent) => { uploads.push(e) })
  for (let n = 0; n < records; n++) {
    if (!sink.write({ metadata: { who, n: String(n) }, payload: padding > 0 ? randomBytes(padding).toString('base64') : who })) {
      await new Promise((resolve) => sink.once('drain', resolve))
    }
  }
  sink.end()
  await finished(sink)
  return uploads
}

/** Who wrote each record of these archive bytes, in order. */
function writers (bytes: Buffer[]): string[] {
  return bytes.flatMap((b) => decodeBytes(b).map((d) => `${d.record.metadata.who}${d.record.metadata.n}`))
}

t.test('a directory store: a second writer of one template after the first deleted its files goes under x_1, both files kept', async (t) => {
  const root = tempDir(t)
  const dir = path.join(root, 'd')
  const up = path.join(root, 'up')
  const options: RollingSinkOptions = { dir, template: 'x-{seq}.shoebox', flushInterval: 0, upload: { to: up, deleteLocal: true } }
  t.same((await writeRun(options, 'a', 3)).map((e) => e.key), ['x-000000.shoebox'])
  t.same(archiveNames(dir), [], 'deleted once uploaded: the name is free in the directory')
  const second = await writeRun(options, 'b', 2)
  t.same(second.map((e) => [e.key, path.basename(e.path)]), [['x-000000_1.shoebox', 'x-000000_1.shoebox']], 'uploaded under the next free name')
  t.same(archiveNames(up), ['x-000000.shoebox', 'x-000000_1.shoebox'])
  t.same(writers(archiveNames(up).map((n) => fs.readFileSync(path.join(up, n)))), ['a0', 'a1', 'a2', 'b0', 'b1'], 'every record of both writers')
  t.same(fs.readdirSync(dir), [], 'nothing left queued or marked')
})

t.test('a file whose key holds a copy of it (its own put, killed before its marker) is uploaded there, not set aside', async (t) => {
  const root = tempDir(t)
  const dir = path.join(root, 'd')
  const up = path.join(root, 'up')
  fs.mkdirSync(dir)
  fs.mkdirSync(up)
  const sealed = path.join(root, 'seal')
  await writeRun({ dir: sealed, template: 'x-{seq}.shoebox', flushInterval: 0 }, 'a', 3)
  fs.copyFileSync(path.join(sealed, 'x-000000.shoebox'), path.join(dir, 'x-000000.shoebox'))
  fs.copyFileSync(path.join(sealed, 'x-000000.shoebox'), path.join(up, 'x-000000.shoebox'))
  // Another file of the very same size, other bytes: not a copy.
  const other = fs.readFileSync(path.join(sealed, 'x-000000.shoebox'))
  fs.writeFileSync(path.join(dir, 'y.shoebox'), other)
  const otherBytes = Buffer.from(other)
  otherBytes[otherBytes.length - 1] ^= 0xff
  fs.writeFileSync(path.join(up, 'y.shoebox'), otherBytes)
  const store = await openStore(up)
  t.teardown(() => store.close())
  const uploader = new SealedUploader(dir, store)
  const uploads: UploadEvent[] = []
  uploader.on('upload', (e: UploadEvent) => { uploads.push(e) })
  await uploader.resume()
  t.equal(await uploader.drain(), undefined)
  t.same(uploads.map((e) => e.key).sort(), ['x-000000.shoebox', 'y_1.shoebox'])
  t.same(archiveNames(up), ['x-000000.shoebox', 'y.shoebox', 'y_1.shoebox'])
  t.ok(fs.readFileSync(path.join(up, 'y.shoebox')).equals(otherBytes), 'the other object is as it was')
  t.ok(fs.readFileSync(path.join(up, 'y_1.shoebox')).equals(other), 'the file under its new name')
  t.same(archiveNames(dir), ['x-000000.shoebox', 'y_1.shoebox'], 'renamed in the directory too')
  t.ok(fs.existsSync(path.join(dir, '.x-000000.shoebox.uploaded')) && fs.existsSync(path.join(dir, '.y_1.shoebox.uploaded')))
})

t.test('S3: an early (multipart) upload whose key another file took meanwhile is aborted, and the file goes under x_1', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const url = `s3://${s3.bucket}/logs`
  const dir = tempDir(t)
  const options: RollingSinkOptions = {
    dir,
    template: 'x-{seq}.shoebox',
    flushInterval: 0,
    upload: { to: url, deleteLocal: true, partSize: 5 * MiB, storeOptions: { endpoint: s3.endpoint, credentials: s3.credentials } }
  }
  // Over a part each: the second file's upload begins while it is written, under the name the first freed.
  const first = await writeRun(options, 'a', 6, MiB)
  const second = await writeRun(options, 'b', 6, MiB)
  t.same(first.map((e) => e.key), ['x-000000.shoebox'])
  t.same(second.map((e) => e.key), ['x-000000_1.shoebox'])
  t.same(s3.keys().sort(), ['logs/x-000000.shoebox', 'logs/x-000000_1.shoebox'])
  const objects = ['logs/x-000000.shoebox', 'logs/x-000000_1.shoebox'].map((k) => s3.object(k) as Buffer)
  t.same(writers(objects), ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'b0', 'b1', 'b2', 'b3', 'b4', 'b5'], 'every record of both writers')
  t.equal(s3.openMultipartUploads(), 0, 'the early upload under the taken key was aborted')
  t.same(fs.readdirSync(dir), [])
})

