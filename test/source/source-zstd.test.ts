/**
 * archiveSource reads zstd archives (issue 12) as it reads gzip ones: found
 * by their magic bytes, mixed with plain and gzip files in one read; with
 * positions a record names its frame, and `from` such a position opens the
 * file at that frame (a ranged read), giving exactly the records a full read
 * gives after it. Bytes read are counted by the file store, not timed.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { archiveSource, rollingSink, type Position, type ShoeboxRecord } from '../../lib/index.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-source-zstd-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const records = (from: number, n: number): Array<{ metadata: Record<string, string>, payload: unknown }> =>
  Array.from({ length: n }, (_, i) => ({ metadata: { n: String(from + i) }, payload: { n: from + i, text: 'zstd ü '.repeat((from + i) % 50) } }))

async function read (pattern: string, options: Parameters<typeof archiveSource>[1] = {}): Promise<{ records: ShoeboxRecord[], bytesRead: number }> {
  const source = archiveSource(pattern, options)
  const out: ShoeboxRecord[] = []
  for await (const record of source) out.push(record as ShoeboxRecord)
  return { records: out, bytesRead: source.stats().downloaded.bytes }
}

const numbers = (rs: ShoeboxRecord[]): number[] => rs.map((r) => Number(r.metadata.n))
const view = (rs: ShoeboxRecord[]): Array<{ n: string, position: Position | undefined, payload: string }> =>
  rs.map((r) => ({ n: r.metadata.n, position: r.position, payload: r.payload.toString() }))

t.test('plain, gzip and zstd files in one read, in order, every record intact', async (t) => {
  const dir = path.join(tmp, 'mixed')
  // One directory per codec keeps the writers' names apart; the glob spans them.
  await pipeline(Readable.from(records(0, 300)), rollingSink({ dir: path.join(dir, 'a'), flushInterval: 0 }))
  await pipeline(Readable.from(records(300, 300)), rollingSink({ dir: path.join(dir, 'b'), gzip: true, blockSize: 4096, flushInterval: 0 }))
  await pipeline(Readable.from(records(600, 300)), rollingSink({ dir: path.join(dir, 'c'), compress: 'zstd', blockSize: 4096, flushInterval: 0 }))
  t.ok(fs.readdirSync(path.join(dir, 'c')).some((n) => n.endsWith('.shoebox.zst')), 'a .shoebox.zst file')
  const { records: got } = await read(path.join(dir, '**/*.shoebox*'))
  t.same(numbers(got), Array.from({ length: 900 }, (_, i) => i))
  t.same(JSON.parse(got[899].payload.toString()), records(899, 1)[0].payload)
})

t.test('from a record in a zstd file: read from its frame on, the same records as a full read', async (t) => {
  const dir = path.join(tmp, 'frames')
  await pipeline(Readable.from(records(0, 2000)), rollingSink({ dir, compress: 'zstd', blockSize: 4096, roll: { records: 1000 }, flushInterval: 0 }))
  const pattern = path.join(dir, '*.zst')
  const full = await read(pattern, { positions: true })
  t.same(numbers(full.records), Array.from({ length: 2000 }, (_, i) => i))
  const files = [...new Set(full.records.map((r) => (r.position as Position).file))]
  t.equal(files.length, 2, 'two files')
  const sizes = new Map(files.map((f) => [f, fs.statSync(path.join(dir, f)).size]))
  const frames = new Set(full.records.map((r) => r.position?.member?.offset))
  t.ok(frames.size > 10, `positions name many frames (${frames.size})`)
  for (const i of [0, 437, 999, 1000, 1998, 1999]) {
    const from = full.records[i].position as Position
    const member = from.member
    if (member === undefined) throw new Error(`record ${i}: no frame in its position`)
    const rest = await read(pattern, { from })
    t.same(view(rest.records), view(full.records.slice(i + 1)), `after record ${i}: exactly the later records, with their positions`)
    const later = files.slice(files.indexOf(from.file) + 1).reduce((n, f) => n + (sizes.get(f) ?? 0), 0)
    t.equal(rest.bytesRead, (sizes.get(from.file) ?? 0) - member.offset + later, `after record ${i}: read from compressed byte ${member.offset} on`)
  }
})

t.test('damage in a zstd file: strict delivers the records before it, then fails naming the file', async (t) => {
  const dir = path.join(tmp, 'damaged')
  await pipeline(Readable.from(records(0, 500)), rollingSink({ dir, compress: 'zstd', blockSize: 4096, flushInterval: 0 }))
  const [name] = fs.readdirSync(dir).filter((n) => n.endsWith('.zst'))
  const file = path.join(dir, name)
  const full = await read(file, { positions: true })
  // Overwrite bytes inside the last frame.
  const last = full.records[full.records.length - 1].position?.member?.offset as number
  const bytes = fs.readFileSync(file)
  bytes.fill(0x55, last + 20, last + 60)
  fs.writeFileSync(file, bytes)
  const source = archiveSource(file)
  const got: ShoeboxRecord[] = []
  await t.rejects((async () => { for await (const r of source) got.push(r as ShoeboxRecord) })(), { message: new RegExp(name) })
  const before = full.records.filter((r) => (r.position?.member?.offset as number) < last).length
  t.ok(got.length >= before, `every record before the damaged frame arrived (${got.length} >= ${before})`)
  t.same(numbers(got), Array.from({ length: got.length }, (_, i) => i), 'in order, none invented')
})
