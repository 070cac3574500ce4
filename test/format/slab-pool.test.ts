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
import { releaseSlabBytes, SlabPool } from '../../lib/format/slab-pool.js'
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
