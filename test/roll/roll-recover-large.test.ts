/**
 * Recovery keeps a whole record however large it is. A writer may raise
 * maxRecordSize above the default (64 MiB); the temporary file it leaves
 * behind is recovered by whoever starts next, who does not know that limit.
 * Recovery holds the whole file in memory anyway, so a record is judged by its
 * checksum and by fitting in the file, not by the reader's default limit:
 * before, a last record over 64 MiB was cut off as a "torn tail" (data loss),
 * and one in the middle made the file "damaged".
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import t from 'tap'
import { ArchiveDecoder, DEFAULT_MAX_RECORD_SIZE, encodeRecords, recoverDirectory, type Metadata, type RecordInput } from '../../lib/index.js'
import { isGzip } from '../../lib/compress/gzip.js'
import { tempName } from '../../lib/roll/names.js'
import { deadPid, tempDir } from '../fixtures-roll/util.js'

const LIMIT = DEFAULT_MAX_RECORD_SIZE + 1024 * 1024
const big: RecordInput = { metadata: { n: 'big' }, payload: Buffer.alloc(DEFAULT_MAX_RECORD_SIZE + 100, 'b') }
const small = (n: number): RecordInput => ({ metadata: { n: String(n) }, payload: `small ${n}` })

/** Metadata and payload sizes of each record in `file`, read with the raised limit. */
function readBack (file: string): Array<[Metadata, number]> {
  const data = fs.readFileSync(file)
  const out: Array<[Metadata, number]> = []
  const decoder = new ArchiveDecoder({
    record (record) { out.push([record.metadata, record.payload.length]) },
    corrupt (info) { throw new Error(`damage at ${info.offset}`) }
  }, { mode: 'strict', maxRecordSize: LIMIT })
  decoder.write(isGzip(data) ? zlib.gunzipSync(data) : data)
  decoder.end()
  return out
}

for (const gzip of [false, true]) {
  t.test(`${gzip ? 'gzip' : 'plain'}: records over the default maxRecordSize are kept whole, in the middle or last`, async (t) => {
    const dir = tempDir(t)
    const pid = await deadPid()
    const ext = gzip ? '.shoebox.gz' : '.shoebox'
    // One block per record: with gzip, one member each.
    const files: Record<string, RecordInput[]> = { middle: [small(0), big, small(1)], last: [small(0), small(1), big] }
    for (const [name, records] of Object.entries(files)) {
      const blocks = records.map((r) => encodeRecords([r], { maxRecordSize: LIMIT }))
      const data = Buffer.concat(gzip ? blocks.map((b) => zlib.gzipSync(b, { level: 1 })) : blocks)
      fs.writeFileSync(path.join(dir, tempName(name + ext, undefined, pid)), data)
    }
    const recovered = await recoverDirectory(dir)
    t.same(recovered.map((r) => [path.basename(r.path ?? ''), r.records, r.bytesDropped, r.damaged]),
      [['last' + ext, 3, 0, false], ['middle' + ext, 3, 0, false]], 'every record, nothing dropped, nothing damaged')
    const size = (big.payload as Buffer).length
    t.same(readBack(path.join(dir, 'middle' + ext)), [[{ n: '0' }, 7], [{ n: 'big' }, size], [{ n: '1' }, 7]])
    t.same(readBack(path.join(dir, 'last' + ext)), [[{ n: '0' }, 7], [{ n: '1' }, 7], [{ n: 'big' }, size]])
  })
}
