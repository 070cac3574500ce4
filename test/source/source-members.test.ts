/**
 * archiveSource with positions over gzip files: each record's position names
 * its gzip member, and one ranged read from there (that member and nothing
 * before it) gives the record back, as an index will fetch it.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import zlib from 'node:zlib'
import t from 'tap'
import { archiveSource, readRecord, rollingSink, type ShoeboxRecord } from '../../lib/index.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-source-members-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

t.test('positions in gzip files name the member; one ranged read from it fetches the record', async (t) => {
  const dir = path.join(tmp, 'events')
  const input = Array.from({ length: 3000 }, (_, n) => ({ metadata: { n: String(n) }, payload: { n, text: 'x'.repeat(n % 300) } }))
  // Small blocks: many members per file, and several files.
  await pipeline(Readable.from(input), rollingSink({ dir, gzip: true, blockSize: 8192, roll: { records: 1000 }, flushInterval: 0 }))
  const records: ShoeboxRecord[] = []
  for await (const record of archiveSource(path.join(dir, '*.gz'), { positions: true })) records.push(record as ShoeboxRecord)
  t.equal(records.length, 3000)
  const members = new Set<string>()
  let fetched = 0
  for (const record of records) {
    const position = record.position as NonNullable<ShoeboxRecord['position']> & { member?: { offset: number, skip: number } }
    const member = position.member
    if (member === undefined) {
      t.fail(`record ${record.metadata.n} has no member in its position`)
      break
    }
    members.add(`${position.file}@${member.offset}`)
    const handle = await fs.promises.open(path.join(dir, position.file), 'r')
    const { size } = await handle.stat()
    const tail = Buffer.alloc(size - member.offset)
    await handle.read(tail, 0, tail.length, member.offset)
    await handle.close()
    const bytes = zlib.gunzipSync(tail)
    const found = readRecord(bytes, member.skip, bytes.length, 1 << 20)
    if (found.kind !== 'record' || found.record.metadata.n !== record.metadata.n || !found.record.payload.equals(record.payload)) {
      t.fail(`record ${record.metadata.n} is not at member ${member.offset} + ${member.skip}`)
      break
    }
    fetched++
  }
  t.equal(fetched, 3000, 'every record fetched from its member')
  t.ok(members.size > 9, `many members (${members.size})`)
  const plain = await archiveSource(path.join(dir, '*.gz')).toArray() as ShoeboxRecord[]
  t.equal(plain[0].position, undefined, 'no positions unless asked for')
})
