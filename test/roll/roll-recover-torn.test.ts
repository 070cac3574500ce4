/**
 * Recovery of a torn tail, cut at every byte: N whole records followed by
 * part of one more (v1 and v2, the tear inside the header, the metadata, the
 * payload, and the trailer), and N whole gzip members followed by part of
 * one more (inside its header, its deflate data, its trailer). Recovery must
 * keep exactly the N whole records, byte for byte, and report exactly the
 * bytes it dropped: one record too many or too few fails here. A SIGKILL
 * rarely leaves such a tail (roll-kill.test.ts), so these are made by hand.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import t from 'tap'
import { encodeRecords, type RecordInput } from '../../lib/index.js'
import { recoverFile } from '../../lib/roll/recover.js'
import { decodeBytes, range, seqOf, tempDir } from '../fixtures-roll/util.js'

function rec (seq: number): RecordInput {
  return { metadata: { src: 'torn', tag: `t-${seq}` }, payload: { seq, text: 'héllo 📦 '.repeat(1 + (seq % 3)) } }
}

/** The regions of one encoded record, as [name, start, end) byte ranges within it. */
function regions (record: Buffer, format: 'v1' | 'v2'): Array<[string, number, number]> {
  if (format === 'v2') {
    const m = record.readUInt32LE(8)
    const l = record.readUInt32LE(12)
    const e = record.readUInt16LE(16)
    const body = 24 + e
    return [['header', 0, body], ['metadata', body, body + m], ['payload', body + m, body + m + l], ['trailer', body + m + l, record.length]]
  }
  const m = record.readInt32LE(6)
  return [['header', 0, 18], ['metadata', 18, 18 + m], ['payload', 18 + m, record.length]]
}

function regionOf (cut: number, parts: Array<[string, number, number]>): string {
  for (const [name, start, end] of parts) if (cut >= start && cut < end) return name
  throw new Error(`cut ${cut} is outside the record`)
}

interface Recovered { records: number, bytesDropped: number, damaged: boolean, sealed: Buffer | null }

/** Leave `data` as a dead writer's temporary file, recover it, and read back what was sealed. */
async function recoverBytes (dir: string, data: Buffer): Promise<Recovered> {
  const temp = path.join(dir, '.x.shoebox~host~1.part')
  fs.writeFileSync(temp, data)
  const r = await recoverFile(dir, temp, 'x.shoebox')
  const sealed = r.path === null ? null : fs.readFileSync(r.path)
  if (r.path !== null) fs.unlinkSync(r.path)
  if (fs.readdirSync(dir).length !== 0) throw new Error(`left behind: ${fs.readdirSync(dir).join(' ')}`)
  return { records: r.records, bytesDropped: r.bytesDropped, damaged: r.damaged, sealed }
}

for (const format of ['v1', 'v2'] as const) {
  for (const n of [0, 1, 5]) {
    t.test(`plain ${format}: ${n} whole records, then the next one torn at every byte`, async (t) => {
      const dir = tempDir(t)
      const whole = encodeRecords(range(n).map(rec), { format })
      const next = encodeRecords([rec(n)], { format })
      const parts = regions(next, format)
      const seen = new Set<string>()
      const wrong: string[] = []
      for (let cut = 1; cut < next.length; cut++) {
        const where = regionOf(cut, parts)
        seen.add(where)
        const got = await recoverBytes(dir, Buffer.concat([whole, next.subarray(0, cut)]))
        const expected = { records: n, bytesDropped: cut }
        const ok = got.records === expected.records && got.bytesDropped === expected.bytesDropped && !got.damaged &&
          (n === 0 ? got.sealed === null : got.sealed?.equals(whole) === true)
        if (!ok) wrong.push(`cut ${cut} (${where}): ${got.records} records, ${got.bytesDropped} bytes dropped, damaged ${String(got.damaged)}, sealed ${got.sealed?.length ?? 'nothing'} of ${whole.length} bytes`)
      }
      t.same(wrong, [], `every cut keeps exactly the ${n} whole records, byte for byte, and drops exactly the torn bytes`)
      t.same([...seen].sort(), parts.map((p) => p[0]).sort(), 'tears inside every region of the record were tried')
      if (n > 0) t.same(decodeBytes(whole).map((d) => seqOf(d.record)), range(n))
    })
  }
}

t.test('gzip: whole members, then the next member torn at every byte (header, deflate data, trailer)', async (t) => {
  const dir = tempDir(t)
  const members = [range(3, 0), range(4, 3), range(2, 7)].map((seqs) => zlib.gzipSync(encodeRecords(seqs.map(rec))))
  const next = zlib.gzipSync(encodeRecords(range(5, 9).map(rec)))
  for (const kept of [0, 1, 3]) {
    const whole = Buffer.concat(members.slice(0, kept))
    const records = [3, 4, 2].slice(0, kept).reduce((a, b) => a + b, 0)
    const seen = new Set<string>()
    const wrong: string[] = []
    for (let cut = 1; cut < next.length; cut++) {
      const where = cut < 10 ? 'header' : cut <= next.length - 8 ? 'deflate data' : 'trailer'
      seen.add(where)
      const got = await recoverBytes(dir, Buffer.concat([whole, next.subarray(0, cut)]))
      const ok = got.records === records && got.bytesDropped === cut && !got.damaged &&
        (kept === 0 ? got.sealed === null : got.sealed?.equals(whole) === true)
      if (!ok) wrong.push(`cut ${cut} (${where}): ${got.records} records, ${got.bytesDropped} bytes dropped, damaged ${String(got.damaged)}, sealed ${got.sealed?.length ?? 'nothing'} of ${whole.length} bytes`)
    }
    t.same(wrong, [], `${kept} whole members: every cut keeps exactly their ${records} records, byte for byte, and drops exactly the torn bytes`)
    t.same([...seen].sort(), ['deflate data', 'header', 'trailer'], 'tears inside the header, the data and the trailer were tried')
    if (kept > 0) t.same(decodeBytes(whole).map((d) => seqOf(d.record)), range(records))
  }
})
