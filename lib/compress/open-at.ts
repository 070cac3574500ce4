/**
 * Resume a compressed archive at a saved position without decompressing it
 * from the start: a position in a gzip or zstd file names the compressed
 * offset of its member or frame (see MemberPosition), and each is complete
 * on its own (a gzip member, a zstd frame), so reading can begin there. The
 * caller says which codec the file is (its first bytes tell). The reader (archiveSource's `from`) opens the file
 * at that offset (a ranged read for a Store) and decodes with the returned
 * `baseOffset`, so offsets and positions come out exactly as a read from the
 * start would give them; it still drops the records up to the saved one.
 */
import type { Readable } from 'node:stream'
import { invalidOption } from '../errors.js'
import { feed } from '../stream/deliver-then-fail.js'
import type { Position } from '../record.js'
import { GunzipStage } from './member-gunzip.js'
import { memberStart } from './member-map.js'
import { zstdDecompress, type ZstdDecompressOptions, type ZstdDecompressStage } from './zstd-decompress.js'

export interface OpenedAt {
  /** Decompressed bytes from the start of the position's member on; its `members` feeds decode(). */
  stream: GunzipStage | ZstdDecompressStage
  /** Decompressed offset of the stream's first byte: decode()'s `baseOffset`. */
  baseOffset: number
  /** Compressed offset the file was opened at. */
  compressedOffset: number
}

/** What a zstd file is read with from there (see zstdDecompress()); gzip takes none. */
export type OpenAtZstdOptions = Pick<ZstdDecompressOptions, 'maxFrameSize' | 'mode' | 'growing'>

/**
 * The decompressed stream of a gzip file from the member holding `position`
 * on. `open(offset)` returns the compressed file's bytes from `offset` to its
 * end. If no gzip member starts there (the file was replaced), the stream
 * fails with 'bad-compression' at that offset rather than reading garbage.
 */
export async function openAt (position: Position, open: (offset: number) => Readable | Promise<Readable>, codec: 'gzip' | 'zstd' = 'gzip', zstdOptions: OpenAtZstdOptions = {}): Promise<OpenedAt> {
  const start = memberStart(position)
  if (start === undefined) throw invalidOption('from', `position ${JSON.stringify(position)} names no gzip member or zstd frame`)
  const input = await open(start.compressed)
  // Either stage names it as damage at that offset when no member or frame starts there.
  const stream = codec === 'zstd' ? zstdDecompress({ ...zstdOptions, start, file: position.file }) : new GunzipStage({ start })
  // A failed read reaches `stream` after the bytes before it, and fails it after delivering
  // what it made of them (pipeline() would destroy it at once, dropping them).
  feed(input, stream)
  return { stream, baseOffset: start.decompressed, compressedOffset: start.compressed }
}
