/**
 * FrameRooms (lib/compress/frame-rooms.ts): a room is taken again only once
 * given back, once however often it is given back; zstdBlockFrames() with
 * rooms writes each frame into one (libzstd, native zstdCompressInto); and
 * the rolling sink's file chain gives each frame back only once it is
 * written: a room reused earlier would have later frames written over frames
 * still waiting for their write, and the archives would not read back.
 */
import { once } from 'node:events'
import fs from 'node:fs'
import { finished } from 'node:stream/promises'
import path from 'node:path'
import t from 'tap'
import { FrameRooms } from '../../lib/compress/frame-rooms.js'
import { loadZstd, zstdBlockFrames, zstdCompressBound } from '../../lib/compress/zstd.js'
import { loadNativeZstd } from '../../lib/native.js'
import { rollingSink } from '../../lib/index.js'
import { archiveNames, decodeBytes, tempDir } from '../fixtures-roll/util.js'

t.test('a room is taken again only once given back, and kept once however often it is given back', async (t) => {
  const rooms = new FrameRooms(2)
  const a = rooms.take(1000)
  t.ok(a.length >= 1000)
  const b = rooms.take(1000)
  t.not(b.buffer, a.buffer, 'a room out is not taken again')
  FrameRooms.giveBack(a.subarray(0, 10))
  t.equal(rooms.free, 1, 'given back by a view of it')
  FrameRooms.giveBack(a)
  FrameRooms.giveBack(a.subarray(5, 6))
  t.equal(rooms.free, 1, 'given back again: ignored, not kept twice')
  const c = rooms.take(500)
  t.equal(c.buffer, a.buffer, 'the free room is taken again')
  t.equal(rooms.free, 0)
  const d = rooms.take(c.length + 1)
  t.not(d.buffer, c.buffer, 'a room too small is not taken')
  FrameRooms.giveBack(b)
  FrameRooms.giveBack(c)
  FrameRooms.giveBack(d)
  t.equal(rooms.free, 2, 'at most `keep` kept')
  const plain = Buffer.alloc(10, 7)
  FrameRooms.giveBack(plain)
  rooms.giveBack(plain.subarray(2))
  t.equal(rooms.free, 2, 'memory no rooms know is ignored')
  t.equal(plain[3], 7)
})

const native = loadNativeZstd()
const libzstd = await loadZstd('libzstd')

t.test('zstdBlockFrames with rooms: each frame is written into a room, and reads back', { skip: libzstd === null || native?.zstdCompressInto === undefined ? 'no libzstd backend with zstdCompressInto here' : false }, async (t) => {
  const z = libzstd as NonNullable<typeof libzstd>
  const rooms = new FrameRooms()
  const block = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `{"i":${i},"v":"${'x'.repeat(i % 50)}"}`).join('\n'))
  const frame = await zstdBlockFrames(block, 1, 'test', 'libzstd', rooms)
  t.ok(frame.buffer.byteLength >= zstdCompressBound(block.length), 'a view of a room that always holds the frame')
  t.same(await z.decompress(frame), block)
  t.same(frame, await z.compress(block, 1), 'the frame zstdCompress() writes')
  FrameRooms.giveBack(frame)
  const again = await zstdBlockFrames(block.subarray(0, 1000), 1, 'test', 'libzstd', rooms)
  t.equal(again.buffer, frame.buffer, 'the room given back holds the next frame')
  t.same(await z.decompress(again), block.subarray(0, 1000))
  // The native call refuses a room too small, and rejects rather than writing past it.
  await t.rejects((native as NonNullable<typeof native>).zstdCompressInto?.(block, 1, Buffer.alloc(8)) as Promise<number>, /too small/)
  t.throws(() => (native as NonNullable<typeof native>).zstdCompressInto?.(block, 1, Buffer.alloc(0)), /room is empty/)
})

t.test('the rolling sink gives a frame\'s room back only once the frame is written', async (t) => {
  // Small blocks and a large maxPending: many frames compressed and waiting while one write is out, so a room
  // given back before its frame is written is taken by a later compression, over the bytes still to be written.
  const records: Array<{ metadata: Record<string, string>, payload: string }> = []
  for (let i = 0; i < 40_000; i++) records.push({ metadata: { i: String(i) }, payload: `${i}:${'z'.repeat(40 + (i * 17) % 200)}` })
  const dir = tempDir(t)
  const sink = rollingSink({ dir, compress: 'zstd', template: 'r-{seq}.shoebox', roll: { records: 15_000 }, flushInterval: 0, blockSize: '32KiB', maxPending: '64MiB' })
  // In turns, with the event loop let run between them: frames finish compressing, and writes go out, while
  // the next blocks are cut and compressed.
  for (let at = 0; at < records.length; at += 500) {
    for (const record of records.slice(at, at + 500)) if (!sink.write(record)) await once(sink, 'drain')
    await new Promise((resolve) => { setImmediate(resolve) })
  }
  sink.end()
  await finished(sink)
  const names = archiveNames(dir)
  t.equal(names.length, 3)
  const z = await loadZstd()
  if (z === null) throw new Error('no zstd backend')
  const read = []
  for (const name of names) read.push(...decodeBytes(await z.decompress(fs.readFileSync(path.join(dir, name)))))
  t.equal(read.length, records.length, 'every record reads back')
  t.ok(read.every((r, i) => r.record.payload.toString() === records[i].payload), 'the bytes written')
})
