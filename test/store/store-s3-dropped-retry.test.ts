/**
 * A get whose reader goes away while its body is still arriving (ls or read
 * stopping at a zstd frame over --max-frame-size, a reader that stops early)
 * is no failure: the body was cut by the drop, not by the network. It was
 * counted as a retry (`shoebox ls: ...; 1 retry` where nothing was retried),
 * and the read waited its backoff and asked again for the rest.
 */
import { randomBytes } from 'node:crypto'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { openStore } from '../../lib/index.js'
import { startS3 } from '../s3-server.js'

t.test('a get destroyed while its body is flowing counts no retry and asks for nothing more', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const body = randomBytes(8 * 1024 * 1024)
  await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'big.bin', Body: body }))
  const store = openStore(`s3://${s3.bucket}`, { endpoint: s3.endpoint, credentials: s3.credentials, region: s3.region })
  t.teardown(async () => { await store.close() })
  for (let i = 0; i < 5; i++) {
    const stream = store.get('big.bin')
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject)
      // Flowing, and gone a moment after a chunk (as a pipeline fails on a stage's error): the next chunk of the body is
      // then being awaited.
      let chunks = 0
      stream.on('data', () => { if (++chunks === 3) setTimeout(() => { stream.destroy() }, 1) })
      stream.once('close', () => { resolve() })
    })
  }
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(store.stats().retries, 0, 'no retry counted')
})
