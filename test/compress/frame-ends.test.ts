/**
 * FrameEnds (lib/compress/frame-ends.ts): zstd input cut after each frame
 * that ends in a chunk, whatever the chunks, each piece naming its frame;
 * skippable and empty frames are frames; input that is not zstd where a
 * frame should start passes whole from there on.
 */
import t from 'tap'
import { FrameEnds, type FramePiece } from '../../lib/compress/frame-ends.js'
import { zstdFrame } from '../../lib/compress/zstd.js'
import { chunked, seededText } from '../helpers.js'

function cutAll (input: Buffer, size: number): FramePiece[] {
  const ends = new FrameEnds()
  return chunked(input, size).flatMap((chunk) => ends.cut(chunk))
}

/** Where each piece starts and ends in the input, and its frame. */
function spans (pieces: FramePiece[]): Array<[number, number, number]> {
  let at = 0
  return pieces.map((p) => {
    const span: [number, number, number] = [at, at + p.bytes.length, p.frameStart]
    at += p.bytes.length
    return span
  })
}

const skippable = Buffer.concat([Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from('hello')])

t.test('every frame end is a piece end, in chunks of any size, and each piece names its frame', async (t) => {
  const frames = [
    await zstdFrame(seededText(1).lines(300_000), 1, 'f', 'libzstd'),
    skippable,
    await zstdFrame(Buffer.alloc(0), 1, 'f', 'libzstd'),
    await zstdFrame(Buffer.from('{"a":1}\n'), 1, 'f', 'package')
  ]
  const input = Buffer.concat(frames)
  const starts = frames.map((_, i) => frames.slice(0, i).reduce((sum, f) => sum + f.length, 0))
  const frameEnds = starts.map((s, i) => s + frames[i].length)
  for (const size of [1, 2, 3, 7, 100, 4096, 65536, input.length]) {
    const pieces = cutAll(input, size)
    t.ok(Buffer.concat(pieces.map((p) => p.bytes)).equals(input), `${size}: the input, whole and in order`)
    const pieceEnds = new Set(spans(pieces).map(([, end]) => end))
    t.same(frameEnds.filter((end) => !pieceEnds.has(end)), [], `${size}: every frame's end ends a piece`)
    t.same(spans(pieces).filter(([from, , frame]) => frame !== Math.max(...starts.filter((s) => s <= from))), [], `${size}: each piece names the frame it starts in`)
  }
})

t.test('not zstd where a frame should start: the rest passes whole, named at the frame it was lost in', async (t) => {
  const frame = await zstdFrame(Buffer.from('{"a":1}\n'.repeat(100)), 1, 'f', 'libzstd')
  const input = Buffer.concat([frame, Buffer.from('not zstd at all, and more of it')])
  for (const size of [1, 5, input.length]) {
    const pieces = cutAll(input, size)
    t.ok(Buffer.concat(pieces.map((p) => p.bytes)).equals(input), `${size}: whole`)
    t.ok(spans(pieces).some(([, end]) => end === frame.length), `${size}: cut after the frame`)
    t.same([...new Set(spans(pieces).filter(([from]) => from >= frame.length).map(([, , f]) => f))], [frame.length], `${size}: the rest at the lost frame's offset`)
  }
})

t.test('a skippable frame of any size is stepped over, not held: frames after 3 MiB of one are still cut at their ends', async (t) => {
  const size = 3 * 1024 * 1024
  const big = Buffer.alloc(8 + size)
  big.writeUInt32LE(0x184d2a5f, 0)
  big.writeUInt32LE(size, 4)
  const frames = [big, await zstdFrame(seededText(2).lines(200_000), 1, 'f', 'libzstd'), await zstdFrame(Buffer.from('{"b":2}\n'), 1, 'f', 'libzstd')]
  const input = Buffer.concat(frames)
  const frameEnds = frames.map((_, i) => frames.slice(0, i + 1).reduce((sum, f) => sum + f.length, 0))
  for (const chunk of [4096, 65536]) {
    const pieces = cutAll(input, chunk)
    t.ok(Buffer.concat(pieces.map((p) => p.bytes)).equals(input), `${chunk}: whole`)
    const pieceEnds = new Set(spans(pieces).map(([, end]) => end))
    // Held from its start (before), the skippable frame passed a 1 MiB limit and the cutting stopped there.
    t.same(frameEnds.filter((end) => !pieceEnds.has(end)), [], `${chunk}: every frame's end ends a piece`)
  }
})
