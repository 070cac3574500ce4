/**
 * SlabPool (lib/format/slab-pool.ts): an encoder's slabs used again once
 * every byte handed out of them is given back, and not before; and the CLI's
 * pipeline (encodeNdjson with a pool into a rolling sink, which gives blocks
 * back once compressed or written) writes the same bytes as without one.
 */
import fs from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import t from 'tap'
import { ArchiveEncoder } from '../../lib/format/encoder.js'
import { joinSlabParts, releaseSlabBytes, SlabPool } from '../../lib/format/slab-pool.js'
import { EncodeNdjson } from '../../lib/ndjson/encode-ndjson.js'
import { rollingSink } from '../../lib/index.js'
import { archiveNames, tempDir } from '../fixtures-roll/util.js'
import path from 'node:path'

const record = (i: number): { metadata: Record<string, string>, payload: string } => ({ metadata: { i: String(i) }, payload: 'x'.repeat(100 + (i % 37)) })

t.test('a slab is used again only once retired and every byte handed out of it is back', async (t) => {
  const pool = new SlabPool()
  const encoder = new ArchiveEncoder({ chunkSize: 4096 }, { slabs: pool })
  const held: Buffer[] = []
  for (let i = 0; held.reduce((n, b) => n + b.length, 0) < 3 * 4096; i++) {
    encoder.write(record(i))
    if (i % 5 === 4) held.push(...encoder.take())
  }
  const copies = held.map((b) => Buffer.from(b))
  const slabsUsed = new Set(held.map((b) => b.buffer))
  t.ok(slabsUsed.size >= 3, `several slabs (${slabsUsed.size})`)
  t.equal(pool.free, 0, 'nothing back yet: nothing free')
  // Give back all but the first piece: the first slab is still held, the others are free.
  for (const piece of held.slice(1)) if (piece.buffer !== held[0].buffer) releaseSlabBytes(piece)
  const freeAfter = pool.free
  t.ok(freeAfter >= 1, `retired slabs with nothing out are free (${freeAfter})`)
  // Writing on takes free slabs; the bytes still held never change.
  for (let i = 0; i < 200; i++) encoder.write(record(i))
  encoder.take()
  const first = held.filter((b) => b.buffer === held[0].buffer)
  t.same(first.map((b) => Buffer.from(b)), copies.filter((_c, i) => held[i].buffer === held[0].buffer), 'bytes not given back stay as they were')
  const reused = new Set(held.map((b) => b.buffer))
  t.ok(reused.size === slabsUsed.size, 'the same slabs')
  t.ok(pool.free < freeAfter + 1, 'free slabs were taken again')
})

t.test('joinSlabParts: a block across two slabs is joined in the second slab\'s headroom, and both slabs come back', async (t) => {
  const pool = new SlabPool(4, 1000)
  const a = pool.take(4000)
  a.fill(0x61)
  const b = pool.take(4000)
  b.fill(0x62)
  pool.handedOut(a, 3000)
  pool.handedOut(b, 600)
  // The block: the last 900 bytes handed out of a (in two parts), then the first 500 of b.
  const parts = [a.subarray(2100, 2600), a.subarray(2600, 3000), b.subarray(0, 300), b.subarray(300, 500)]
  const joined = joinSlabParts(parts)
  t.equal(joined.buffer, b.buffer, 'joined in b\'s memory')
  t.same(joined, Buffer.concat([Buffer.alloc(900, 0x61), Buffer.alloc(500, 0x62)]), 'the block\'s bytes, in order')
  // a: its other 2100 bytes given back, then retired: free once the head's 900 were given back by the join.
  releaseSlabBytes(a.subarray(0, 2100))
  pool.retire(a)
  t.equal(pool.free, 1, 'a is free: the join gave back the head it copied')
  // b: a second block across into b cannot use its headroom again: copied.
  const c = pool.take(4000)
  t.equal(c.buffer, a.buffer, 'a taken again')
  pool.handedOut(c, 10)
  const again = joinSlabParts([b.subarray(500, 600), c.subarray(0, 10)])
  t.equal(again.buffer, c.buffer, 'a slab taken again has its headroom again')
  t.same(again, Buffer.concat([Buffer.alloc(100, 0x62), c.subarray(0, 10)]))
  pool.retire(b)
  t.equal(pool.free, 0, 'b is not free while the first block is out')
  releaseSlabBytes(joined)
  t.equal(pool.free, 1, 'b is free once the block joined in its headroom is given back')
})

t.test('joinSlabParts: heads longer than the headroom, memory no pool knows, and one slab\'s parts', async (t) => {
  const pool = new SlabPool(4, 100)
  const a = pool.take(1000)
  const b = pool.take(1000)
  a.fill(1)
  b.fill(2)
  pool.handedOut(a, 1000)
  pool.handedOut(b, 1000)
  const long = joinSlabParts([a.subarray(800, 1000), b.subarray(0, 50)])
  t.not(long.buffer, b.buffer, '200 bytes of head, 100 of headroom: copied')
  t.same(long, Buffer.concat([Buffer.alloc(200, 1), Buffer.alloc(50, 2)]))
  const notAtStart = joinSlabParts([a.subarray(0, 10), b.subarray(50, 60)])
  t.not(notAtStart.buffer, b.buffer, 'the tail does not start its slab: copied')
  const plain = [Buffer.from('ab'), Buffer.from('cd')]
  t.same(joinSlabParts(plain), Buffer.from('abcd'))
  t.equal(joinSlabParts([]).length, 0)
  const one = joinSlabParts([b.subarray(100, 200), b.subarray(200, 300)])
  t.equal(one.buffer, b.buffer, 'parts one after another in one slab: one view')
  t.equal(one.byteOffset, b.byteOffset + 100)
  // Everything given back: the long join gave back both of its parts (copied), the view is given back here.
  releaseSlabBytes(a.subarray(10, 800))
  releaseSlabBytes(b.subarray(60, 100))
  releaseSlabBytes(one)
  releaseSlabBytes(b.subarray(300, 1000))
  pool.retire(a)
  pool.retire(b)
  t.equal(pool.free, 2, 'both slabs back')
})

t.test('memory no pool knows is ignored by releaseSlabBytes', async (t) => {
  const buf = Buffer.alloc(100, 7)
  releaseSlabBytes(buf)
  releaseSlabBytes(buf.subarray(10, 20))
  t.equal(buf[15], 7)
})

for (const compress of ['none', 'gzip', 'zstd'] as const) {
  t.test(`${compress}: encodeNdjson with a pool into a rolling sink writes the bytes it writes without one`, async (t) => {
    // ~12 MiB of lines in 1 MiB chunks: many 64 KiB slabs, blocks spanning two slabs (copied), and several files;
    // maxPending so large that the encoder runs far ahead of the compressions: a slab reused too early shows.
    const lines: string[] = []
    for (let i = 0; i < 60_000; i++) lines.push(JSON.stringify({ i, text: 'é'.repeat(i % 13), pad: 'y'.repeat((i * 31) % 300) }))
    const text = Buffer.from(lines.join('\n') + '\n')
    const chunks: Buffer[] = []
    for (let at = 0; at < text.length; at += 1024 * 1024) chunks.push(text.subarray(at, at + 1024 * 1024))
    const write = async (dir: string, pool: SlabPool | undefined): Promise<void> => {
      const encoder = new EncodeNdjson({ chunkSize: 64 * 1024 }, pool === undefined ? undefined : { slabs: pool })
      await pipeline(Readable.from(chunks), encoder, rollingSink({ dir, compress, template: 'p-{seq}.shoebox', roll: { records: 20_000 }, flushInterval: 0, blockSize: '100KiB', maxPending: '64MiB' }))
    }
    const withPool = tempDir(t)
    const without = tempDir(t)
    const pool = new SlabPool()
    await write(withPool, pool)
    await write(without, undefined)
    const names = archiveNames(withPool)
    t.equal(names.length, 3)
    t.same(names, archiveNames(without))
    for (const name of names) t.ok(fs.readFileSync(path.join(withPool, name)).equals(fs.readFileSync(path.join(without, name))), `${name}: the same bytes`)
    t.ok(pool.free > 0, 'slabs came back to the pool')
  })
}
