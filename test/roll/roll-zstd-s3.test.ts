/**
 * zstd archives shipped to a real S3-protocol server (fauxqs on loopback):
 * the objects keep the `.shoebox.zst` name and bytes, carry the zstd content
 * type, and any one record can be fetched with one ranged GET of its frame
 * (the frame its position names), decompressed alone.
 */
// Before any SDK client exists: its Node-version notice is not what these tests look at.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3'
import t from 'tap'
import { decode, rollingSink, type RecordInput, type ShoeboxRecord } from '../../lib/index.js'
import { walkFrames } from '../../lib/compress/zstd-frame.js'
import { zstdDecompress } from '../../lib/compress/zstd-decompress.js'
import { startS3 } from '../s3-server.js'
import { decodeRecords } from '../helpers.js'
import { range, seqOf, tempDir, writeAll } from '../fixtures-roll/util.js'

function rec (seq: number): RecordInput {
  return { metadata: { src: 's3', tag: `t-${seq}` }, payload: { seq, text: 'héllo 📦 '.repeat(1 + (seq % 7)) } }
}

t.test('zstd archives on S3: names, bytes, content type, one record by one ranged GET', async (t) => {
  const s3 = await startS3()
  t.teardown(() => s3.stop())
  const dir = tempDir(t)
  const sink = rollingSink({
    dir,
    compress: 'zstd',
    blockSize: 8192,
    flushInterval: 0,
    roll: { records: 600 },
    upload: { to: `s3://${s3.bucket}/events`, storeOptions: { endpoint: s3.endpoint, credentials: s3.credentials } }
  })
  await writeAll(sink, range(1500).map(rec))
  const keys = s3.keys()
  t.equal(keys.length, 3)
  t.ok(keys.every((k) => k.startsWith('events/') && k.endsWith('.shoebox.zst')), keys.join(' '))
  const client = s3.client()
  const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: keys[1] }))
  t.equal(head.ContentType, 'application/zstd')

  // Positions from reading the second object whole name each record's frame.
  const data = s3.object(keys[1]) as Buffer
  const frames = walkFrames(data).frames
  t.ok(frames.length > 3, `${frames.length} frames`)
  const stage = zstdDecompress({ file: keys[1] })
  const decoder = decode({ positions: true, members: stage.members, file: keys[1] })
  const records: ShoeboxRecord[] = []
  await pipeline(Readable.from([data]), stage, decoder, async (source: AsyncIterable<ShoeboxRecord>) => { for await (const r of source) records.push(r) })
  t.same(records.map(seqOf), range(600, 600))
  for (const i of [0, 1, 299, 599]) {
    const member = records[i].position?.member
    const frame = frames.find((f) => f.start === member?.offset)
    if (member === undefined || frame === undefined) throw new Error(`record ${i}: no frame`)
    const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: keys[1], Range: `bytes=${frame.start}-${frame.end - 1}` }))
    const bytes = Buffer.from(await (got.Body as { transformToByteArray: () => Promise<Uint8Array> }).transformToByteArray())
    t.equal(bytes.length, frame.end - frame.start, 'one frame fetched')
    const content = Buffer.concat(await zstdDecompress().end(bytes).toArray() as Buffer[])
    const [first] = await decodeRecords(content.subarray(member.skip))
    t.equal(seqOf(first), 600 + i, `record ${i} from its frame alone`)
  }
})
