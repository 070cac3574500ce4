/**
 * The codec table: every compression shoebox writes or reads, as one entry
 * each (none, gzip, zstd). An entry knows its magic bytes, its file suffix,
 * its levels, how to compress one block into one independent member/frame,
 * and its decompressing stage. The rolling sink, recovery, pack, the
 * uploader and the CLI ask the table, so a third codec is one more entry.
 * A decompressing stage's module loads with its codec's first
 * decompressor() call: a write of a plain file needs none of them, and
 * each module costs start-up time (test/startup-lazy.test.ts).
 */
import { type Duplex, PassThrough, type Transform } from 'node:stream'
import { invalidOption } from '../errors.js'
import type { FrameRooms } from './frame-rooms.js'
import { gzip, GZIP_MAGIC, gzipLevel, gzipMember, isGzip } from './gzip.js'
import { isZstd, requireZstd, zstd, zstdBlockFrames, zstdLevel, ZSTD_FRAME_MAGIC } from './zstd.js'
import type { ZstdDecompressOptions } from './zstd-decompress.js'

export type CodecName = 'none' | 'gzip' | 'zstd'

export interface Codec {
  readonly name: CodecName
  /** Appended to file names ('' for none). */
  readonly suffix: string
  /** Bytes the sniff needs. */
  readonly magicLength: number
  /** MIME type for uploads. */
  readonly contentType: string
  /** Does this start like this codec's output? (none: never; it is what is left.) */
  sniff: (head: Buffer) => boolean
  /** Could `head`, shorter than magicLength, be the start of this codec's output cut inside its magic? (none: never.) */
  mayBegin: (head: Buffer) => boolean
  /** The level to use: `level` checked, or the codec's default. */
  level: (level: number | undefined) => number
  /** Fails (SHOEBOX_UNSUPPORTED naming `what`) when the codec cannot load in this install. */
  ready: (what: string) => Promise<void>
  /**
   * One block as one complete, independent member/frame (zstd: frames of 64
   * MiB at most), off the main thread where the codec can. With `rooms`, the
   * output may be a view of one of them, for the caller to give back
   * (frame-rooms.ts; zstd through libzstd).
   */
  compressBlock: (block: Buffer, level: number, what: string, rooms?: FrameRooms) => Promise<Buffer>
  /** A stage compressing a byte stream (gzip: one member; zstd: a frame per chunk). */
  compress: (level: number) => Transform
  /**
   * What makes a stage that decompresses this codec (and passes anything else
   * through): its module loads with the first call, and then the stage is made
   * at once (a stream left waiting between its first bytes and the stage reads on).
   */
  decompressor: () => Promise<Decompressor>
}

export type DecompressOptions = ZstdDecompressOptions

/** A decompressing stage's maker (Codec.decompressor). */
export type Decompressor = (options?: DecompressOptions) => Duplex

export const codecs: Readonly<Record<CodecName, Codec>> = {
  none: {
    name: 'none',
    suffix: '',
    magicLength: 0,
    contentType: 'application/octet-stream',
    sniff: () => false,
    mayBegin: () => false,
    level: () => 0,
    ready: async () => {},
    compressBlock: async (block) => block,
    compress: () => new PassThrough(),
    decompressor: async () => () => new PassThrough()
  },
  gzip: {
    name: 'gzip',
    suffix: '.gz',
    magicLength: 2,
    contentType: 'application/gzip',
    sniff: isGzip,
    mayBegin: (head) => head.every((b, i) => b === GZIP_MAGIC[i]),
    level: (level) => gzipLevel({ level }) as number,
    ready: async () => {},
    compressBlock: async (block, level) => await gzipMember(block, level),
    compress: (level) => gzip({ level }),
    decompressor: async () => (await import('./member-gunzip.js')).gunzip
  },
  zstd: {
    name: 'zstd',
    suffix: '.zst',
    magicLength: 4,
    contentType: 'application/zstd',
    sniff: isZstd,
    mayBegin: mayBeginZstd,
    level: zstdLevel,
    ready: async (what) => { await requireZstd(what) },
    compressBlock: async (block, level, what, rooms) => await zstdBlockFrames(block, level, what, undefined, rooms),
    compress: (level) => zstd({ level }),
    decompressor: async () => (await import('./zstd-decompress.js')).zstdDecompress
  }
}

/** zstd's magics little-endian: a frame's, 28 B5 2F FD; a skippable frame's, 5? 2A 4D 18 (isSkippableMagic). */
const ZSTD_FRAME_BYTES = Buffer.alloc(4)
ZSTD_FRAME_BYTES.writeUInt32LE(ZSTD_FRAME_MAGIC)
const ZSTD_SKIPPABLE_BYTES = [0x50, 0x2a, 0x4d, 0x18]

function mayBeginZstd (head: Buffer): boolean {
  return head.every((b, i) => b === ZSTD_FRAME_BYTES[i]) || head.every((b, i) => (i === 0 ? b & 0xf0 : b) === ZSTD_SKIPPABLE_BYTES[i])
}

/** The codec these first bytes belong to (none when no magic matches). */
export function sniffCodec (head: Buffer): Codec {
  for (const codec of Object.values(codecs)) if (codec.sniff(head)) return codec
  return codecs.none
}

/**
 * Could `head`, fewer bytes than a magic (a file of 1 to 3 bytes), be a
 * compressed file cut inside its magic? Then it is a truncated archive;
 * otherwise, not one at all.
 */
export function mayBeginCompressed (head: Buffer): boolean {
  return head.length < SNIFF_BYTES && Object.values(codecs).some((codec) => head.length < codec.magicLength && codec.mayBegin(head))
}

/** The most bytes any sniff needs. */
export const SNIFF_BYTES = Math.max(...Object.values(codecs).map((c) => c.magicLength))

/** The codec a file name says (by suffix, after any '.tmp'-style ending is removed by the caller). */
export function codecOfName (name: string): Codec {
  for (const codec of Object.values(codecs)) if (codec.suffix !== '' && name.endsWith(codec.suffix)) return codec
  return codecs.none
}

/** What users pass as `compress`: a codec name, or a codec with its level. */
export type CompressOption = CodecName | { codec: CodecName, level?: number }

/** A codec with its level, checked. */
export interface Compression {
  codec: Codec
  level: number
}

/**
 * `compress` (or the older `gzip` option) as a codec and a checked level;
 * undefined for none. Both at once is refused: one would silently lose.
 */
export function compressionOf (compress: CompressOption | undefined, gzip?: boolean | { level?: number }): Compression | undefined {
  if (compress !== undefined && gzip !== undefined && gzip !== false) throw invalidOption('compress', 'give compress or gzip, not both')
  if (compress === undefined) {
    const level = gzipLevel(gzip)
    return level === undefined ? undefined : { codec: codecs.gzip, level }
  }
  const name = typeof compress === 'string' ? compress : compress?.codec
  if (typeof name !== 'string' || !Object.hasOwn(codecs, name)) {
    throw invalidOption('compress', `must be one of ${Object.keys(codecs).join(', ')} (or { codec, level }), got ${JSON.stringify(compress)}`)
  }
  const codec = codecs[name as CodecName]
  if (codec.name === 'none') return undefined
  const level = typeof compress === 'string' ? undefined : compress.level
  return { codec, level: codec.level(level) }
}

/**
 * The stages that read any input: one per codec, each decompressing its own
 * (known by its magic) and passing anything else through, so plain, gzip and
 * zstd inputs all come out as archive bytes. Use them with feed() (or
 * pipeline) in this order; damage fails the stage that met it, after every
 * byte before it.
 */
export async function decompressStages (options: DecompressOptions = {}): Promise<[...Duplex[], Duplex]> {
  const stages = await Promise.all(Object.values(codecs).filter((c) => c.name !== 'none').map(async (c) => (await c.decompressor())({ ...options })))
  return stages as [...Duplex[], Duplex]
}
