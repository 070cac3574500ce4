/**
 * openAt(): resume a gzip archive at a saved position from its member's
 * compressed offset, without decompressing what comes before. The records
 * after the position, and their positions, are exactly those of a read from
 * the start; a position whose member is not there fails by name.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { PassThrough, Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { openAt } from '../../lib/compress/gzip.js'
import { memberStart } from '../../lib/compress/member-map.js'
import { decode, encodeRecords, gunzipMembers, rollingSink, type Position, type RecordInput, type ShoeboxRecord } from '../../lib/index.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-open-at-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const inputs: RecordInput[] = Array.from({ length: 300 }, (_, i) => ({ metadata: { i: String(i) }, payload: { i, text: 'ü'.repeat(i % 90) } }))

async function collect (source: Readable, decoderOptions: Parameters<typeof decode>[0]): Promise<ShoeboxRecord[]> {
  const records: ShoeboxRecord[] = []
  await pipeline(source, decode(decoderOptions), async (s: AsyncIterable<ShoeboxRecord>) => {
    for await (const r of s) records.push(r)
  })
  return records
}

/** Every record of `file`, with positions naming members, read from the start. */
async function readAll (file: string): Promise<ShoeboxRecord[]> {
  const stage = gunzipMembers()
  const records: ShoeboxRecord[] = []
  await pipeline(fs.createReadStream(file), stage, decode({ positions: true, members: stage.members, file: 'f' }), async (s: AsyncIterable<ShoeboxRecord>) => {
    for await (const r of s) records.push(r)
  })
  return records
}

/** Resume after `position` as archiveSource would: open at the member, decode with its baseOffset, drop up to the saved record. */
async function resume (file: string, position: Position): Promise<{ records: ShoeboxRecord[], bytesRead: number }> {
  let bytesRead = 0
  const opened = await openAt(position, (offset) => {
    const counter = new PassThrough()
    counter.on('data', (chunk: Buffer) => { bytesRead += chunk.length })
    return fs.createReadStream(file, { start: offset }).pipe(counter)
  })
  const all = await collect(opened.stream, { positions: true, members: opened.stream.members, baseOffset: opened.baseOffset, file: 'f' })
  return { records: all.filter((r) => (r.position as Position).offset > position.offset), bytesRead }
}

t.test('resuming from any saved position gives exactly the rest, reading only from its member on', async (t) => {
  const dir = path.join(tmp, 'rolled')
  await pipeline(Readable.from(inputs), rollingSink({ dir, gzip: true, blockSize: 600, flushInterval: 0, roll: { records: 1000 } }))
  const [name] = fs.readdirSync(dir).filter((f) => f.endsWith('.gz'))
  const file = path.join(dir, name)
  const size = fs.statSync(file).size
  const all = await readAll(file)
  t.equal(all.length, inputs.length)
  const lastMember = (all.at(-1)?.position as Position).member?.offset as number
  t.ok(lastMember > size / 2, 'many members')
  for (const i of [0, 1, 57, 150, all.length - 2, all.length - 1]) {
    const position = all[i].position as Position
    const { records, bytesRead } = await resume(file, position)
    t.same(records.map((r) => r.position), all.slice(i + 1).map((r) => r.position), `after record ${i}: the same positions`)
    t.same(records.map((r) => r.payload.toString()), all.slice(i + 1).map((r) => r.payload.toString()), `after record ${i}: the same records`)
    t.equal(bytesRead, size - (position.member?.offset as number), `after record ${i}: read from its member on, not from the start`)
  }
})

t.test('a single-member file resumes from byte 0 and still drops what was read', async (t) => {
  const file = path.join(tmp, 'single.shoebox.gz')
  fs.writeFileSync(file, zlib.gzipSync(encodeRecords(inputs)))
  const all = await readAll(file)
  const { records, bytesRead } = await resume(file, all[99].position as Position)
  t.equal(bytesRead, fs.statSync(file).size)
  t.same(records.map((r) => r.position), all.slice(100).map((r) => r.position))
})

t.test('a position whose member is not there fails as bad-compression at that offset', async (t) => {
  const dir = path.join(tmp, 'bad')
  await pipeline(Readable.from(inputs), rollingSink({ dir, gzip: true, blockSize: 600, flushInterval: 0 }))
  const [name] = fs.readdirSync(dir).filter((f) => f.endsWith('.gz'))
  const file = path.join(dir, name)
  const all = await readAll(file)
  const good = all[200].position as Position
  const member = good.member as { offset: number, skip: number }
  const moved = { ...good, member: { ...member, offset: member.offset + 1 } }
  await t.rejects(resume(file, moved), { code: 'SHOEBOX_BAD_COMPRESSION', offset: member.offset + 1 }, 'one byte into a member')
  const past = { ...good, member: { ...member, offset: fs.statSync(file).size } }
  await t.rejects(resume(file, past), { code: 'SHOEBOX_BAD_COMPRESSION', offset: fs.statSync(file).size }, 'at the end of the file')
  const plain = path.join(tmp, 'plain.shoebox')
  fs.writeFileSync(plain, encodeRecords(inputs))
  await t.rejects(resume(plain, { file: 'f', offset: 10, member: { offset: 0, skip: 10 } }), { code: 'SHOEBOX_BAD_COMPRESSION', offset: 0 }, 'a plain file is not read as gzip')
})

t.test('positions without a usable member are refused by name', async (t) => {
  await t.rejects(openAt({ file: 'f', offset: 5 }, () => Readable.from([])), { code: 'SHOEBOX_INVALID_OPTION' })
  t.throws(() => memberStart({ file: 'f', offset: 5, member: { offset: 0, skip: 6 } }), { code: 'SHOEBOX_INVALID_OPTION' }, 'skip past the offset')
  t.throws(() => memberStart({ file: 'f', offset: 5, member: { offset: -1, skip: 0 } }), { code: 'SHOEBOX_INVALID_OPTION' })
  t.same(memberStart({ file: 'f', offset: 500, member: { offset: 70, skip: 20 } }), { compressed: 70, decompressed: 480 })
  t.equal(memberStart({ file: 'f', offset: 5 }), undefined)
})
