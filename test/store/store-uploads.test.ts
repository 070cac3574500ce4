/**
 * Store.listUploads(): the multipart uploads open under a prefix.
 *
 * A file store has none (a writer's unfinished file is a hidden temporary
 * file), so it lists none, directly and through a prefixed view.
 *
 * The test S3 server (fauxqs 1.9) does not implement ListMultipartUploads:
 * it answers `GET /bucket?uploads` as a listing of objects, which the SDK
 * reads as a page with no upload on it. What is tested here against it is
 * that such an answer is refused (SHOEBOX_UNSUPPORTED) rather than taken for
 * "none open", with the uploads left as they were; listing and paging over
 * a server that implements it has no test server here.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { openStore, type OpenUpload, type Store } from '../../lib/index.js'
import { prefixedStore } from '../../lib/store/prefixed-store.js'
import { startS3 } from '../s3-server.js'
import { expectCode } from '../helpers.js'

const MiB = 1024 * 1024

async function uploads (store: Store, prefix?: string): Promise<OpenUpload[]> {
  const out: OpenUpload[] = []
  for await (const upload of store.listUploads(prefix)) out.push(upload)
  return out
}

t.test('a file store has no multipart uploads: it lists none, beside a writer\'s temporary file too', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-uploads-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  fs.mkdirSync(path.join(dir, 'logs'))
  fs.writeFileSync(path.join(dir, 'logs', '.a.shoebox.part'), 'unfinished')
  fs.writeFileSync(path.join(dir, 'logs', 'b.shoebox'), 'sealed')
  const store = openStore(dir)
  t.same(await uploads(store), [])
  t.same(await uploads(store, 'logs/'), [])
  t.same(await uploads(prefixedStore(store, 'logs')), [])
  await store.close()
})

t.test('S3: a server that does not list multipart uploads is refused, not taken for none open', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const raw = s3.client()
  // What a writer killed mid-upload leaves: an upload begun, a part sent, never completed.
  const { UploadId } = await raw.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'pfx/run/a.shoebox.gz' }))
  await raw.send(new UploadPartCommand({ Bucket: s3.bucket, Key: 'pfx/run/a.shoebox.gz', UploadId, PartNumber: 1, Body: Buffer.alloc(5 * MiB, 7) }))
  await raw.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'pfx/run/b.shoebox.gz' }))
  const store = openStore(`s3://${s3.bucket}/pfx`, { endpoint: s3.endpoint, credentials: s3.credentials })
  t.teardown(() => store.close())

  for (const [what, listing] of [
    ['the store', async () => await uploads(store)],
    ['under a prefix', async () => await uploads(store, 'run/')],
    ['through a prefixed view', async () => await uploads(prefixedStore(store, 'run'))]
  ] as const) {
    const err = await expectCode(t, listing(), 'SHOEBOX_UNSUPPORTED', what)
    t.match(err?.message, /^s3:\/\/test-bucket\/pfx: list uploads: the server does not list multipart uploads \(/, `${what}: the line names the store and what failed`)
  }
  t.equal(s3.openMultipartUploads(), 2, 'both uploads are still open')
})

t.test('S3: listing the uploads of a bucket that does not exist is SHOEBOX_NO_BUCKET, naming the store', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const store = openStore('s3://no-such-bucket/pfx', { endpoint: s3.endpoint, credentials: s3.credentials, maxAttempts: 1 })
  t.teardown(() => store.close())
  const err = await expectCode(t, uploads(store), 'SHOEBOX_NO_BUCKET', 'a missing bucket')
  t.match(err?.message, /^s3:\/\/no-such-bucket\/pfx: list uploads: the bucket does not exist/)
})
