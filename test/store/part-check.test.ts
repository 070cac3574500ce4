import { createHash } from 'node:crypto'
import zlib from 'node:zlib'
import t from 'tap'
import { PartCheck } from '../../lib/store/part-check.js'
import { mulberry32 } from '../helpers.js'

const PART = 5 * 1024 * 1024
const random = mulberry32(7)
const data = Buffer.alloc(PART * 2 + 12345)
for (let i = 0; i < data.length; i++) data[i] = Math.floor(random() * 256)

const b64 = (crc: number): string => { const b = Buffer.alloc(4); b.writeUInt32BE(crc >>> 0); return b.toString('base64') }
const parts = [data.subarray(0, PART), data.subarray(PART, 2 * PART), data.subarray(2 * PART)]
const sums = parts.map((p) => b64(zlib.crc32(p)))

/** A check fed `data` in odd-sized pieces (so parts are cut inside chunks). */
function fed (mode: 'checksum' | 'etag'): PartCheck {
  const check = new PartCheck(PART, mode)
  for (let at = 0; at < data.length; at += 777_777) check.update(data.subarray(at, Math.min(at + 777_777, data.length)))
  return check
}

t.test('checksum: parts are cut where lib-storage cuts them and compared with what was sent and stored', async (t) => {
  const good = fed('checksum')
  sums.forEach((sent, i) => { good.record({ partNumber: i + 1, sent, stored: sent }) })
  t.equal(good.mismatch(''), undefined, 'the CRC32s of every part match')

  const badSent = fed('checksum')
  sums.forEach((sent, i) => { badSent.record({ partNumber: i + 1, sent: i === 1 ? sums[0] : sent, stored: undefined }) })
  t.match(badSent.mismatch(''), /^part 2: CRC32 \S+ was sent for bytes written with CRC32 /)

  const badStored = fed('checksum')
  sums.forEach((sent, i) => { badStored.record({ partNumber: i + 1, sent, stored: i === 2 ? 'AAAAAA==' : undefined }) })
  t.match(badStored.mismatch(''), /^part 3: the server stored CRC32 AAAAAA==/)

  const missing = fed('checksum')
  missing.record({ partNumber: 1, sent: sums[0], stored: undefined })
  missing.record({ partNumber: 3, sent: sums[2], stored: undefined })
  t.match(missing.mismatch(''), /^2 parts stored for the 3 written/)

  const renumbered = fed('checksum')
  sums.forEach((sent, i) => { renumbered.record({ partNumber: i + 2, sent, stored: undefined }) })
  t.match(renumbered.mismatch(''), /^part 1 was never stored/)

  const unsummed = fed('checksum')
  sums.forEach((_, i) => { unsummed.record({ partNumber: i + 1, sent: undefined, stored: undefined }) })
  t.equal(unsummed.mismatch(''), undefined, 'a client that sends no checksums leaves nothing to compare')

  const unseen = fed('checksum')
  t.equal(unseen.mismatch(''), 'no part of the upload was seen being stored', 'no part reported at all fails, rather than passing unchecked')
})

t.test('checksum: an empty object is one empty part', async (t) => {
  const check = new PartCheck(PART, 'checksum')
  check.record({ partNumber: 1, sent: b64(0), stored: undefined })
  t.equal(check.mismatch(''), undefined)
  const wrong = new PartCheck(PART, 'checksum')
  wrong.record({ partNumber: 1, sent: sums[0], stored: undefined })
  t.match(wrong.mismatch(''), /^part 1: /)
})

t.test('etag: MD5 of the object, or of the part MD5s and the part count', async (t) => {
  const md5 = (b: Buffer): Buffer => createHash('md5').update(b).digest()
  const multipart = `"${md5(Buffer.concat(parts.map(md5))).toString('hex')}-3"`
  t.equal(fed('etag').mismatch(multipart), undefined)
  t.match(fed('etag').mismatch(`"${'0'.repeat(32)}-3"`), /does not match the "[0-9a-f]{32}-3" of the bytes written/)
  t.equal(fed('etag').mismatch('"not-an-md5-etag"'), undefined, 'an ETag that is not an MD5 (SSE-KMS) is not compared')
  const single = new PartCheck(PART, 'etag')
  single.update(parts[2])
  t.equal(single.mismatch(`"${md5(parts[2]).toString('hex')}"`), undefined)
})
