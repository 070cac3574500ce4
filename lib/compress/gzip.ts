/**
 * gzip as stages. gzip() compresses a byte stream; gunzip() decompresses one
 * if it starts with the gzip magic and passes it through untouched if not,
 * so a reader accepts compressed and plain archives alike. Multi-member gzip
 * (what the rolling sink writes: one member per flush block) reads as one stream.
 */
import type zlib from 'node:zlib'
import type { Duplex, Readable } from 'node:stream'
import { COMPRESS_HINT, givenValue, invalidOption, takesBytes } from '../errors.js'
import { CHUNK, GunzipStage, nodeZlib, type GunzipOptions } from './member-gunzip.js'
import type { Position } from '../record.js'
import type { OpenAtZstdOptions, OpenedAt } from './open-at.js'

export { GunzipStage, type GunzipOptions } from './member-gunzip.js'
export { MemberMap, type MemberLookup, type MemberPosition } from './member-map.js'
export { memberStart } from './member-map.js'
export type { OpenedAt } from './open-at.js'

export const GZIP_MAGIC = Buffer.from([0x1f, 0x8b])

export interface GzipOptions {
  /** 1 (fastest) to 9 (smallest). Default 6. */
  level?: number
}

export function gzipLevel (options: boolean | GzipOptions | undefined): number | undefined {
  if (options === undefined || options === false) return undefined
  // 'yes', 'false' or 0 wrote gzip (a string's or a number's .level is undefined: the default level).
  if (options !== true && (options === null || typeof options !== 'object')) {
    throw invalidOption('gzip', `must be true, false or { level }, got ${givenValue(options)}`)
  }
  // Only undefined is "the default": a null level is refused as any other that is not one.
  const level: unknown = options === true || options.level === undefined ? 6 : options.level
  if (typeof level !== 'number' || !Number.isInteger(level) || level < 1 || level > 9) throw invalidOption('gzip.level', `must be an integer from 1 to 9, got ${givenValue(level)}`)
  return level
}

/** zlib's Gzip, refusing records by name (takesBytes); made on first use, as node:zlib is loaded. */
let GzipStage: (new (options: zlib.ZlibOptions) => zlib.Gzip) | undefined

export function gzip (options: GzipOptions = {}): zlib.Gzip {
  const level = gzipLevel(options)
  // zlib.Gzip is a constructor at run time; @types/node declares it as an interface only.
  GzipStage ??= takesBytes(nodeZlib().Gzip as unknown as new (options: zlib.ZlibOptions) => zlib.Gzip, 'gzip()', COMPRESS_HINT)
  return new GzipStage({ level, chunkSize: CHUNK })
}

/** Compress one block into a complete, independent gzip member, on the threadpool. */
export async function gzipMember (block: Buffer, level: number): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    nodeZlib().gzip(block, { level, chunkSize: CHUNK }, (err, out) => { if (err !== null) reject(err); else resolve(out) })
  })
}

/** Does this start like gzip? */
export function isGzip (head: Buffer): boolean {
  return head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]
}

/**
 * Decompress if gzip, pass through if not; damage fails the stage as
 * 'bad-compression' (the offset in the compressed file) only after every
 * byte inflated before it has been read. This is the member-aware stage
 * (gunzipMembers()): zlib's own gunzip stream, on an error later in the
 * file, dropped the output it had inflated but not yet handed on (up to 16 x
 * 256 KiB of good records, for a slow reader). It costs about the CPU of
 * zlib's: on 100 MB of records in 1 MiB members, 0.99-1.10x for the stage
 * alone and 0.93x for a whole read with decoding (process CPU, medians of
 * 5-7 alternating runs on the 2-core machine); CRC32 by zlib.crc32 is cheap.
 */
export function gunzip (): Duplex {
  return new GunzipStage({ members: false })
}

/**
 * gunzip() that knows its members: the same contract (gzip by magic, anything
 * else passed through, damage as 'bad-compression' after everything before
 * it), and its `members` says which gzip member each decompressed byte came
 * from, for decode({ positions: true, members }). It parses headers and
 * trailers itself and checks each member's CRC32 on the main thread
 * (bench/gunzip-members.js). gunzip() is this stage too.
 */
export function gunzipMembers (options?: GunzipOptions): GunzipStage {
  return new GunzipStage(options)
}

/**
 * Open a compressed archive at a saved position (open-at.ts). A wrapper that
 * loads open-at.ts on its first call: only resuming reads need it, and each
 * module the package's import loads costs start-up time (test/startup-lazy.test.ts).
 */
export async function openAt (position: Position, open: (offset: number) => Readable | Promise<Readable>, codec: 'gzip' | 'zstd' = 'gzip', zstdOptions?: OpenAtZstdOptions): Promise<OpenedAt> {
  const { openAt } = await import('./open-at.js')
  return await openAt(position, open, codec, zstdOptions)
}
