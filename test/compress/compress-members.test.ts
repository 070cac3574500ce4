/**
 * gunzipMembers()'s members map and record positions in gzip files: every record's
 * position names the compressed offset of its gzip member, and one ranged read
 * from there, gunzipped alone with plain zlib, holds the record `skip` bytes in.
 * Chunk boundaries anywhere, hand-made headers (FEXTRA, FNAME, FCOMMENT,
 * FHCRC), damage at the right compressed offset.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { decode, encodeRecords, gunzipMembers, rollingSink, type Position, type RecordInput, type ShoeboxRecord } from '../../lib/index.js'
import { chunkIter, decodeRecords, plain } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-members-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const inputs: RecordInput[] = Array.from({ length: 400 }, (_, i) => ({ metadata: { i: String(i), k: 'é✓' }, payload: { i, pad: 'x'.repeat((i * 37) % 300) } }))
const archive = encodeRecords(inputs)

interface Read {
  records: ShoeboxRecord[]
  error?: Error & { code?: string, offset?: number }
}

/** gunzipMembers() then decode({ positions, members }), fed in chunks of `size`. */
async function readPositions (data: Buffer, size: number): Promise<Read> {
  const stage = gunzipMembers()
  const decoder = decode({ positions: true, members: stage.members, file: 'f' })
  const records: ShoeboxRecord[] = []
  try {
    await pipeline(Readable.from(chunkIter(data, size)), stage, decoder, async (source: AsyncIterable<ShoeboxRecord>) => {
      for await (const r of source) records.push(r)
    })
  } catch (err) {
    return { records, error: err as Error }
  }
  return { records }
}

/** The record `position` names, fetched the way an index would: one ranged read, that member alone, plain zlib. */
function fetchOne (data: Buffer, position: Position, memberEnds: Map<number, number>): ShoeboxRecord {
  const member = position.member
  if (member === undefined) throw new Error(`no member in ${JSON.stringify(position)}`)
  const end = memberEnds.get(member.offset)
  if (end === undefined) throw new Error(`unknown member ${member.offset}`)
  const content = zlib.gunzipSync(data.subarray(member.offset, end))
  return decodeFirst(content.subarray(member.skip))
}

function decodeFirst (bytes: Buffer): ShoeboxRecord {
  const records: ShoeboxRecord[] = []
  const d = decode()
  d.on('data', (r: ShoeboxRecord) => records.push(r))
  d.write(bytes)
  return records[0]
}

/** Each member offset -> the next one (or the file's end): the member's compressed bytes. */
function endsOf (offsets: number[], fileSize: number): Map<number, number> {
  const sorted = [...new Set(offsets)].sort((a, b) => a - b)
  return new Map(sorted.map((o, i) => [o, sorted[i + 1] ?? fileSize]))
}

async function rolledGzip (name: string, blockSize: number): Promise<Buffer[]> {
  const dir = path.join(tmp, name)
  await pipeline(Readable.from(inputs), rollingSink({ dir, gzip: true, blockSize, flushInterval: 0, roll: { records: 250 } }))
  return fs.readdirSync(dir).filter((f) => f.endsWith('.gz')).sort().map((f) => fs.readFileSync(path.join(dir, f)))
}

t.test('rollingSink gzip files: every record is fetched back from its member with one ranged read', async (t) => {
  const files = await rolledGzip('rolled', 700)
  t.equal(files.length, 2)
  let total = 0
  for (const data of files) {
    const { records, error } = await readPositions(data, 1024 * 1024)
    t.error(error)
    const offsets = records.map((r) => r.position?.member?.offset as number)
    const ends = endsOf(offsets, data.length)
    t.ok(ends.size > 10, `${ends.size} members`)
    t.equal(offsets[0], 0, 'the first member starts the file')
    let mismatches = 0
    for (const r of records) {
      const position = r.position as Position
      t.equal(typeof position.offset, 'number')
      if (!fetchOne(data, position, ends).payload.equals(r.payload)) mismatches++
    }
    t.equal(mismatches, 0, 'every record fetched from its member equals the record read in sequence')
    // The members are exactly the file: each decompresses alone, and together they are the whole archive.
    const parts = [...ends].map(([start, end]) => zlib.gunzipSync(data.subarray(start, end)))
    t.ok(Buffer.concat(parts).equals(zlib.gunzipSync(data)), 'member offsets cut the file into its members')
    total += records.length
  }
  t.equal(total, inputs.length)
})

t.test('one chunking or another: identical records and positions (1, 7, 4096 bytes, whole)', async (t) => {
  const [data] = await rolledGzip('chunkings', 512)
  const whole = await readPositions(data, data.length)
  t.error(whole.error)
  t.ok(whole.records.length > 0)
  for (const size of [1, 7, 4096]) {
    const got = await readPositions(data, size)
    t.error(got.error, `chunks of ${size}`)
    t.same(got.records.map((r) => r.position), whole.records.map((r) => r.position), `positions, chunks of ${size}`)
    t.same(got.records.map(plain), whole.records.map(plain), `records, chunks of ${size}`)
  }
})

t.test('a single-member file (gzipSync of a whole archive): member offset 0, skip = offset', async (t) => {
  const data = zlib.gzipSync(archive)
  const { records, error } = await readPositions(data, 4096)
  t.error(error)
  t.equal(records.length, inputs.length)
  t.ok(records.every((r) => r.position?.member?.offset === 0 && r.position.member.skip === r.position.offset), 'every position')
  t.ok(records[10].position?.offset !== undefined && records[10].position.offset > 0)
})

t.test('plain files keep { file, offset } only', async (t) => {
  const { records } = await readPositions(archive, 1000)
  t.equal(records.length, inputs.length)
  t.same(Object.keys(records[5].position ?? {}), ['file', 'offset'])
})

/** A gzip member with the given header flags around `content`'s deflate data. */
function memberWith (content: Buffer, fields: { extra?: Buffer, name?: string, comment?: string, hcrc?: boolean }): Buffer {
  const plainMember = zlib.gzipSync(content)
  let flags = 0
  const parts: Buffer[] = []
  if (fields.extra !== undefined) {
    flags |= 4
    const len = Buffer.alloc(2)
    len.writeUInt16LE(fields.extra.length)
    parts.push(len, fields.extra)
  }
  if (fields.name !== undefined) {
    flags |= 8
    parts.push(Buffer.from(fields.name + '\0', 'latin1'))
  }
  if (fields.comment !== undefined) {
    flags |= 16
    parts.push(Buffer.from(fields.comment + '\0', 'latin1'))
  }
  const head = Buffer.from(plainMember.subarray(0, 10))
  head[3] = flags | (fields.hcrc === true ? 2 : 0)
  const header = Buffer.concat([head, ...parts])
  const hcrc = Buffer.alloc(fields.hcrc === true ? 2 : 0)
  if (fields.hcrc === true) hcrc.writeUInt16LE(zlib.crc32(header) & 0xffff)
  return Buffer.concat([header, hcrc, plainMember.subarray(10)])
}

/** The archive cut at record boundaries into `n` pieces. */
function recordPieces (n: number): Buffer[] {
  const one = inputs.length / n
  return Array.from({ length: n }, (_, i) => encodeRecords(inputs.slice(i * one, (i + 1) * one)))
}

t.test('members with FEXTRA, FNAME, FCOMMENT and FHCRC headers, in any chunking', async (t) => {
  const pieces = recordPieces(5)
  const members = [
    memberWith(pieces[0], { name: 'archive.shoebox' }),
    memberWith(pieces[1], { extra: Buffer.from('AB\x04\x00data', 'latin1'), comment: 'a comment' }),
    memberWith(pieces[2], { extra: Buffer.alloc(0), name: 'n', comment: '', hcrc: true }),
    memberWith(pieces[3], {}),
    memberWith(pieces[4], { extra: Buffer.alloc(3000, 7), name: 'x'.repeat(5000), hcrc: true })
  ]
  const data = Buffer.concat(members)
  const starts = members.map((_, i) => members.slice(0, i).reduce((n, m) => n + m.length, 0))
  const pieceStarts = pieces.map((_, i) => pieces.slice(0, i).reduce((n, p) => n + p.length, 0))
  for (const size of [1, 7, 4096, data.length]) {
    const { records, error } = await readPositions(data, size)
    t.error(error, `chunks of ${size}`)
    t.same(records.map(plain), (await decodeRecords(archive)).map(plain), `records, chunks of ${size}`)
    const perPiece = inputs.length / pieces.length
    const wrong = records.filter((r, i) => {
      const piece = Math.floor(i / perPiece)
      const p = r.position as Position
      return p.member?.offset !== starts[piece] || p.member.skip !== p.offset - pieceStarts[piece]
    })
    t.same(wrong.map((r) => r.position), [], `every record names its member, chunks of ${size}`)
  }
  const ends = endsOf(starts, data.length)
  const { records } = await readPositions(data, data.length)
  t.ok(records.every((r) => fetchOne(data, r.position as Position, ends).payload.equals(r.payload)), 'each fetched from its member alone')
})

t.test('a record spanning two members gets the member it starts in; empty members change nothing', async (t) => {
  const cut = 5000 + 3 // inside some record
  const data = Buffer.concat([zlib.gzipSync(archive.subarray(0, cut)), zlib.gzipSync(Buffer.alloc(0)), zlib.gzipSync(archive.subarray(cut))])
  const second = zlib.gzipSync(archive.subarray(0, cut)).length
  const { records, error } = await readPositions(data, 333)
  t.error(error)
  t.equal(records.length, inputs.length)
  const spanning = records.find((r, i) => (r.position as Position).offset < cut && (records[i + 1]?.position as Position).offset > cut)
  t.same(spanning?.position?.member?.offset, 0, 'the spanning record names the first member')
  const after = records.find((r) => (r.position as Position).offset >= cut) as ShoeboxRecord
  t.equal(after.position?.member?.offset, second + zlib.gzipSync(Buffer.alloc(0)).length, 'the next record names the third member, past the empty one')
  t.equal(after.position?.member?.skip, (after.position as Position).offset - cut)
})

t.test('damage fails at the compressed offset of the member, after every record before it', async (t) => {
  const pieces = recordPieces(4)
  const members = pieces.map((p) => zlib.gzipSync(p))
  const starts = members.map((_, i) => members.slice(0, i).reduce((n, m) => n + m.length, 0))
  const whole = Buffer.concat(members)
  const perPiece = inputs.length / 4

  const badCrc = Buffer.from(whole)
  badCrc[starts[2] - 8] ^= 0xff // the CRC32 in member 1's trailer
  const badSize = Buffer.from(whole)
  badSize[starts[3] - 1] ^= 0x01 // the ISIZE in member 2's trailer
  const badHeader = Buffer.from(whole)
  badHeader[starts[2] + 2] = 9 // member 2's compression method
  const badDeflate = Buffer.from(whole)
  badDeflate[starts[1] + 10] = 0xff // member 1's first deflate block: an invalid block type
  for (const size of [1, 7, 4096, whole.length]) {
    for (const [name, data, offset, delivered] of [
      ['corrupt trailer CRC', badCrc, starts[1], 2 * perPiece],
      ['corrupt trailer length', badSize, starts[2], 3 * perPiece],
      ['bad member header', badHeader, starts[2], 2 * perPiece],
      ['damaged deflate data', badDeflate, starts[1], perPiece]
    ] as const) {
      const { records, error } = await readPositions(data, size)
      t.match(error, { code: 'SHOEBOX_BAD_COMPRESSION', reason: 'bad-compression', offset, cutShort: false }, `${name}, chunks of ${size}`)
      t.ok(records.length >= delivered, `${name}: the ${delivered} records of the members before come first (${records.length})`)
    }
    // Cut short inside member 3's deflate data, in its trailer, in its header: the offset is where the input ended.
    for (const cut of [starts[3] + 40, whole.length - 3, starts[3] + 5]) {
      const { records, error } = await readPositions(whole.subarray(0, cut), size)
      t.match(error, { code: 'SHOEBOX_BAD_COMPRESSION', offset: cut, cutShort: true }, `cut at ${cut}, chunks of ${size}`)
      t.match(error?.message, `member at compressed byte ${starts[3]}`)
      t.ok(records.length >= 3 * perPiece, 'the records of the whole members came')
    }
  }
})

t.test('zero padding after the last member is ignored; other trailing bytes are damage', async (t) => {
  const data = zlib.gzipSync(archive)
  const padded = await readPositions(Buffer.concat([data, Buffer.alloc(512)]), 100)
  t.error(padded.error)
  t.equal(padded.records.length, inputs.length)
  const garbage = await readPositions(Buffer.concat([data, Buffer.alloc(10), Buffer.from('junk')]), 100)
  t.match(garbage.error, { code: 'SHOEBOX_BAD_COMPRESSION', offset: data.length + 10 })
  const notGzip = await readPositions(Buffer.concat([data, Buffer.from('junk')]), 100)
  t.match(notGzip.error, { code: 'SHOEBOX_BAD_COMPRESSION', offset: data.length, cutShort: false })
  t.equal(notGzip.records.length, inputs.length, 'every record before the trailing bytes')
})

t.test('highly compressible input under a slow reader: the stage holds about one chunk, not the whole output', async (t) => {
  const raw = Buffer.alloc(64 * 1024 * 1024, 'a')
  const data = zlib.gzipSync(raw, { level: 1 })
  const stage = gunzipMembers()
  stage.end(data)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.ok(stage.readableLength <= 1024 * 1024, `buffered ${stage.readableLength} bytes while nobody reads`)
  let n = 0
  for await (const chunk of stage) n += (chunk as Buffer).length
  t.equal(n, raw.length)
})

t.test('gunzipMembers() passes plain bytes through untouched, in any chunking', async (t) => {
  for (const size of [1, 2, 7, 4096, archive.length]) {
    const out: Buffer[] = []
    const stage = gunzipMembers()
    await pipeline(Readable.from(chunkIter(archive, size)), stage, async (s: AsyncIterable<Buffer>) => {
      for await (const b of s) out.push(b)
    })
    t.ok(Buffer.concat(out).equals(archive), `chunks of ${size}`)
    t.equal(stage.members.size, 0, 'no members')
  }
  for (const bytes of [Buffer.alloc(0), Buffer.from([0x1f])]) {
    const out: Buffer[] = []
    await pipeline(Readable.from([bytes]), gunzipMembers(), async (s: AsyncIterable<Buffer>) => {
      for await (const b of s) out.push(b)
    })
    t.ok(Buffer.concat(out).equals(bytes), `${bytes.length} bytes`)
  }
})
