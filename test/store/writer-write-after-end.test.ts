/**
 * A write() after end() into a store's writer (uploadSink(), store.writer()),
 * on a file store and on S3 (the test server): Node answered
 * ERR_STREAM_WRITE_AFTER_END, which names no key and is no ShoeboxError. Now
 * the late write is refused with SHOEBOX_USAGE naming the key, the writer
 * fails with it, and nothing is stored under the key (an object lacking the
 * chunk is not what its writer meant), no temporary file or open multipart
 * upload left.
 */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { openStore, ShoeboxError, uploadSink, type ObjectWriter } from '../../lib/index.js'
import { startS3, type TestS3 } from '../s3-server.js'
import { tempDir } from '../temp-dir.js'

let s3: TestS3
t.before(async () => { s3 = await startS3() })
t.teardown(() => s3.stop())

/** Write `first`, end(), write again; the late write's callback and the writer's error. */
async function writeLate (writer: ObjectWriter, first: Buffer): Promise<{ late: unknown, failure: unknown, finished: boolean }> {
  let finished = false
  writer.on('finish', () => { finished = true })
  const failed = new Promise<unknown>((resolve) => { writer.once('error', resolve) })
  const closed = new Promise((resolve) => { writer.once('close', resolve) })
  writer.write(first)
  writer.end()
  const late = await new Promise((resolve) => { writer.write(Buffer.from('late'), resolve) })
  const failure = await failed
  await closed
  return { late, failure, finished }
}

const refusal = (key: string): RegExp => new RegExp(`^the writer of key "${key}": write after end\\(\\): it was not taken; the upload is abandoned, so nothing is stored`)

t.test('file store: refused naming the key, nothing stored, no temporary file', async (t) => {
  const dir = tempDir(t)
  const { late, failure, finished } = await writeLate(uploadSink(`file://${dir}`, 'out/k.bin'), Buffer.alloc(5000, 1))
  t.ok(late instanceof ShoeboxError, 'a ShoeboxError')
  t.match(late, { code: 'SHOEBOX_USAGE', message: refusal('out/k.bin') })
  t.equal(failure, late, 'the writer fails with it')
  t.notOk(finished)
  const left = fs.existsSync(path.join(dir, 'out')) ? fs.readdirSync(path.join(dir, 'out')) : []
  t.same(left, [], 'nothing under the key, no temporary file')
})

t.test('S3: refused naming the key, nothing stored, no open multipart upload', async (t) => {
  const url = `s3://${s3.bucket}/late`
  const options = { endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials }
  for (const [name, size] of [['small', 5000], ['multipart', 6 * 1024 * 1024]] as const) {
    const store = openStore(url, options)
    t.teardown(() => store.close())
    const { late, failure, finished } = await writeLate(uploadSink(store, `${name}.bin`, { partSize: 5 * 1024 * 1024 }), Buffer.alloc(size, 2))
    t.match(late, { code: 'SHOEBOX_USAGE', message: refusal(`${name}.bin`) }, name)
    t.equal(failure, late, `${name}: the writer fails with it`)
    t.notOk(finished, name)
    t.same(s3.keys().filter((key) => key.startsWith('late/')), [], `${name}: nothing stored`)
    t.equal(s3.openMultipartUploads(), 0, `${name}: no upload left open`)
  }
})

t.test('end(chunk) after end(): refused as a late write() is, naming the key', async (t) => {
  const dir = tempDir(t)
  const writer = uploadSink(`file://${dir}`, 'k.bin')
  const failed = new Promise<unknown>((resolve) => { writer.once('error', resolve) })
  writer.write(Buffer.alloc(10))
  writer.end()
  writer.end(Buffer.from('late'))
  t.match(await failed, { code: 'SHOEBOX_USAGE', message: refusal('k.bin') })
  await new Promise((resolve) => { if (writer.closed) resolve(null); else writer.once('close', resolve) })
  t.same(fs.readdirSync(dir), [], 'nothing stored, no temporary file')
})
