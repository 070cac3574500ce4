/**
 * Store.listUploads(): the multipart uploads open under a prefix.
 *
 * A file store has none (a writer's unfinished file is a hidden temporary
 * file), so it lists none, directly and through a prefixed view.
 *
 * Against the test S3 server (fauxqs, with the ListMultipartUploads that
 * bench/s3-server.js adds): each open upload with its key (relative to the
 * store), upload id and when it began, in key then initiation order, under
 * a prefix and through a prefixed view; more than one page (1000 uploads a
 * page, as S3; and small pages aborted as they are listed, as `shoebox
 * multipart --abort` does; and from a server that names no next-page
 * markers, from the last upload given); a missing bucket. Started without it, the
 * server answers as fauxqs does, with a listing of objects, which the SDK
 * reads as a page with no upload on it: that answer is refused
 * (SHOEBOX_UNSUPPORTED) rather than taken for "none open", with the uploads
 * left as they were.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3'
import t, { type Test } from 'tap'
import { openStore, type OpenUpload, type Store } from '../../lib/index.js'
import { prefixedStore } from '../../lib/store/prefixed-store.js'
import { startS3, type TestS3 } from '../s3-server.js'
import { expectCode } from '../helpers.js'

const MiB = 1024 * 1024

/** The uploads listed, serverSkew checked apart: the test server runs on this host's clock (within the Date's second). */
async function uploads (store: Store, prefix?: string): Promise<OpenUpload[]> {
  const out: OpenUpload[] = []
  for await (const { serverSkew, ...upload } of store.listUploads(prefix)) {
    if (serverSkew !== undefined && !(Math.abs(serverSkew) < 2000)) throw new Error(`serverSkew ${serverSkew} ms from a server on this host's clock`)
    out.push(upload)
  }
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

/**
 * Seven uploads under k/, begun a minute apart ('k/b' three times: one key across a page boundary of two, which a
 * key marker alone would skip the rest of), and a store on the server.
 */
async function beginSeven (t: Test, s3: TestS3): Promise<{ keys: string[], ids: string[], store: Store }> {
  const keys = ['k/a', 'k/b', 'k/b', 'k/b', 'k/c', 'k/d', 'k/d']
  const ids: string[] = []
  for (const key of keys) ids.push(await begin(s3, key))
  // Two uploads begun in one millisecond are ordered by id: these are apart.
  ids.forEach((id, i) => { s3.setUploadInitiated(id, new Date(Date.UTC(2026, 0, 1, 0, i))) })
  const store = openStore(`s3://${s3.bucket}`, { endpoint: s3.endpoint, credentials: s3.credentials })
  t.teardown(() => store.close())
  return { keys, ids, store }
}

/** Abort each upload under k/ as the listing gives it (as shoebox multipart --abort does); the ids aborted. */
async function abortAsListed (store: Store): Promise<string[]> {
  const aborted: string[] = []
  for await (const upload of store.listUploads('k/')) {
    await store.abortUpload(upload.key, upload.uploadId)
    aborted.push(upload.uploadId)
  }
  return aborted
}

async function begin (s3: TestS3, key: string, part?: Buffer): Promise<string> {
  const raw = s3.client()
  const { UploadId } = await raw.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }))
  if (part !== undefined) await raw.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 1, Body: part }))
  return UploadId ?? ''
}

t.test('S3: each open upload with its key, id and when it began, by key then initiation; under a prefix; through a prefixed view', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  // What writers killed mid-upload leave: uploads begun, parts sent (or not), never completed.
  const a2 = await begin(s3, 'pfx/run/a.shoebox.gz', Buffer.alloc(5 * MiB, 7))
  const b = await begin(s3, 'pfx/run/b.shoebox.gz')
  const a1 = await begin(s3, 'pfx/run/a.shoebox.gz')
  const c = await begin(s3, 'pfx/other/c.shoebox.gz')
  await begin(s3, 'pfxy/d.shoebox.gz')
  await begin(s3, 'elsewhere/e.shoebox.gz')
  const day = 24 * 60 * 60 * 1000
  const when = new Map([[a1, new Date(Date.now() - 3 * day)], [a2, new Date(Date.now() - 2 * day)], [b, new Date(Date.now() - day)], [c, new Date()]])
  for (const [id, date] of when) s3.setUploadInitiated(id, date)
  const store = openStore(`s3://${s3.bucket}/pfx`, { endpoint: s3.endpoint, credentials: s3.credentials })
  t.teardown(() => store.close())
  const upload = (key: string, uploadId: string): OpenUpload => ({ key, uploadId, initiated: when.get(uploadId) })

  t.same(await uploads(store), [
    upload('other/c.shoebox.gz', c), upload('run/a.shoebox.gz', a1), upload('run/a.shoebox.gz', a2), upload('run/b.shoebox.gz', b)
  ], 'the store: its own uploads only, keys relative to it, two of one key by when they began')
  t.same(await uploads(store, 'run/'), [upload('run/a.shoebox.gz', a1), upload('run/a.shoebox.gz', a2), upload('run/b.shoebox.gz', b)], 'under a prefix')
  t.same(await uploads(store, 'run/b'), [upload('run/b.shoebox.gz', b)], 'under a prefix that is part of a name')
  t.same(await uploads(prefixedStore(store, 'run')), [upload('a.shoebox.gz', a1), upload('a.shoebox.gz', a2), upload('b.shoebox.gz', b)], 'through a prefixed view')
  t.same(await uploads(store, 'none/'), [], 'none under another prefix')
  t.equal(s3.openMultipartUploads(), 6, 'listing aborts nothing')
})

t.test('S3: more than one page (1000 uploads a page, as S3 gives): every upload, once, in order', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const keys = Array.from({ length: 2345 }, (_, i) => `many/f-${String(i).padStart(6, '0')}.shoebox`)
  for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map(async (key) => await begin(s3, key)))
  const store = openStore(`s3://${s3.bucket}/many`, { endpoint: s3.endpoint, credentials: s3.credentials })
  t.teardown(() => store.close())
  const listed = await uploads(store)
  t.same(listed.map((u) => `many/${u.key}`), keys, 'every key, once, in order')
  t.same(listed.map((u) => u.uploadId), s3.openUploads().map((u) => u.uploadId), 'each with its upload id')
})

t.test('S3: pages after uploads aborted as they were listed (as shoebox multipart --abort does), one key across pages too', async (t) => {
  const s3 = await startS3({ maxUploads: 2 })
  t.teardown(() => s3.stop())
  const { ids, store } = await beginSeven(t, s3)
  t.same(await abortAsListed(store), ids, 'each listed and aborted, once, in order')
  t.equal(s3.openMultipartUploads(), 0, 'none left open')
})

t.test('S3: a server that says a page is truncated but not where the next begins: listing goes on from the last upload given, every upload once, in order', async (t) => {
  const s3 = await startS3({ maxUploads: 2, nextMarkers: false })
  t.teardown(() => s3.stop())
  const { keys, ids, store } = await beginSeven(t, s3)
  const listed = await uploads(store, 'k/')
  t.same(listed.map((u) => [u.key, u.uploadId]), keys.map((key, i) => [key, ids[i]]), 'each upload once, in order, across four pages')
  t.same(await abortAsListed(store), ids, 'aborted as they are listed: each once, in order')
  t.equal(s3.openMultipartUploads(), 0, 'none left open')
})

t.test('S3: a server that does not list multipart uploads is refused, not taken for none open', async (t) => {
  const s3 = await startS3({ listUploads: false })
  t.teardown(() => s3.stop())
  await begin(s3, 'pfx/run/a.shoebox.gz', Buffer.alloc(5 * MiB, 7))
  await begin(s3, 'pfx/run/b.shoebox.gz')
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
