/**
 * An uploader SIGKILLed after the server created a file's multipart upload
 * and before its id reached the disk (here: the create's answers are
 * dropped by the fault proxy, and the child killed once the server holds
 * the upload) left it open for good, nothing noting it. The marker now
 * notes the intent first (the key, when, no id): the next start lists that
 * key's open uploads and aborts those begun since, and no other.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { openStore } from '../../lib/index.js'
import { hostName } from '../../lib/roll/names.js'
import { SealedUploader } from '../../lib/roll/uploader.js'
import { startFaultProxy } from '../fault-proxy.js'
import { startS3 } from '../s3-server.js'
import { deadPid } from '../fixtures-roll/util.js'
import { tempDir } from '../temp-dir.js'
import { transpiledOnce } from '../transpile.js'

t.setTimeout(120_000)

t.test('a note without an id, left by a kill, has the next start abort that key\'s upload begun since, and no other', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const proxy = await startFaultProxy(s3.endpoint, [
    { match: (r) => r.op === 'CreateMultipartUpload', fault: { kind: 'drop-response', afterBytes: 0 } }
  ])
  t.teardown(() => proxy.close())
  const dir = tempDir(t)
  const body = Buffer.alloc(6 * 1024 * 1024, 7)
  fs.writeFileSync(path.join(dir, 'a.bin'), body)

  // Uploads that are not the killed process's: an older one of the same key, and one of another key begun now.
  const client = s3.client()
  const older = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'up/a.bin' }))
  s3.setUploadInitiated(older.UploadId as string, new Date(Date.now() - 3_600_000))
  const other = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'up/a.bin.other' }))

  const child = spawn(process.execPath, [transpiledOnce(fileURLToPath(new URL('../fixtures-s3/upload-child.ts', import.meta.url))), dir, `s3://${s3.bucket}/up`, proxy.endpoint], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SHOEBOX_TEST_CREDENTIALS: JSON.stringify(s3.credentials) }
  })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const closed = once(child, 'close')
  // The moment: the server has made the child's upload, and its id has not reached the child.
  while (s3.openMultipartUploads() < 3) {
    if (child.exitCode !== null) t.fail('the child ended before its upload was created')
    await sleep(5)
  }
  child.kill('SIGKILL')
  await closed
  const marker = path.join(dir, '.a.bin.uploading')
  t.ok(fs.existsSync(marker), 'the marker is on disk')
  t.notOk('uploadId' in JSON.parse(fs.readFileSync(marker, 'utf8')), 'naming no upload')

  const store = openStore(`s3://${s3.bucket}/up`, { endpoint: s3.endpoint, credentials: s3.credentials, region: s3.region })
  t.teardown(async () => { await store.close() })
  const uploader = new SealedUploader(dir, store, { partSize: '5MiB' })
  await uploader.resume()
  t.equal(await uploader.drain(), undefined, 'the restart ships the file')
  t.ok(s3.object('up/a.bin')?.equals(body), 'one object, the file\'s bytes')
  t.same(s3.openUploads().map((u) => u.uploadId).sort(), [older.UploadId, other.UploadId].sort(), 'the killed upload aborted; the older one of the key and the other key\'s left')
  t.notOk(fs.existsSync(marker), 'the marker removed')
})

t.test('a live process\'s note without an id is left alone, and so is its upload', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const dir = tempDir(t)
  const created = await s3.client().send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'up/b.bin' }))
  // The parent of this test: alive on this host, as another writer's uploader would be.
  const marker = path.join(dir, '.b.bin.uploading')
  const note = JSON.stringify({ key: 'b.bin', intent: 'intent-x-1', since: Date.now() - 1000, host: hostName(), pid: process.ppid })
  fs.writeFileSync(marker, note)
  const store = openStore(`s3://${s3.bucket}/up`, { endpoint: s3.endpoint, credentials: s3.credentials, region: s3.region })
  t.teardown(async () => { await store.close() })
  const uploader = new SealedUploader(dir, store, { partSize: '5MiB' })
  await uploader.resume()
  t.equal(await uploader.drain(), undefined)
  t.same(s3.openUploads().map((u) => u.uploadId), [created.UploadId], 'its upload open')
  t.equal(fs.readFileSync(marker, 'utf8'), note, 'its note kept')
})

for (const skew of [3 * 3_600_000, -3 * 3_600_000]) {
  t.test(`a dead process's note without an id, against a server whose clock is 3 hours ${skew > 0 ? 'ahead of' : 'behind'} ours: its upload is aborted, an older one of the key kept`, async (t) => {
    // The server's Initiated was compared with the note's time by our clock: off by hours, the dead process's
    // upload fell outside [since, checked] and stayed open for good. Now moved by the skew the listing's Date shows.
    const s3 = await startS3()
    t.teardown(() => s3.stop())
    const proxy = await startFaultProxy(s3.endpoint, [
      { match: (r) => r.op === 'ListMultipartUploads', fault: { kind: 'set-response-header', name: 'date', value: new Date(Date.now() + skew).toUTCString() } }
    ])
    t.teardown(() => proxy.close())
    const dir = tempDir(t)
    fs.writeFileSync(path.join(dir, 'c.bin'), 'the file')
    const since = Date.now() - 2000
    const client = s3.client()
    // By the server's clock: the dead process's begun a second after its note, another an hour before it.
    const dead = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'up/c.bin' }))
    s3.setUploadInitiated(dead.UploadId as string, new Date(since + 1000 + skew))
    const older = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'up/c.bin' }))
    s3.setUploadInitiated(older.UploadId as string, new Date(since - 3_600_000 + skew))
    fs.writeFileSync(path.join(dir, '.c.bin.uploading'), JSON.stringify({ key: 'c.bin', intent: 'intent-x-1', since, host: hostName(), pid: await deadPid() }))
    const store = openStore(`s3://${s3.bucket}/up`, { endpoint: proxy.endpoint, credentials: s3.credentials, region: s3.region })
    t.teardown(async () => { await store.close() })
    const uploader = new SealedUploader(dir, store, { partSize: '5MiB' })
    await uploader.resume()
    t.equal(await uploader.drain(), undefined, 'the restart ships the file')
    t.equal(s3.object('up/c.bin')?.toString(), 'the file')
    t.same(s3.openUploads().map((u) => u.uploadId), [older.UploadId], 'the dead process\'s upload aborted, the older one of the key left')
  })
}
