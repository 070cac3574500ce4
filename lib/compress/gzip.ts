/**
 * gzip as stages: the compressing side. gzip() compresses a byte stream,
 * gzipMember() one block into one independent member (what the rolling sink
 * writes: one member per flush block, which reads as one stream). Reading is
 * member-gunzip.ts (gunzip(), gunzipMembers()), which loads with the first
 * read: a write starts without it (test/startup-lazy.test.ts).
 */
import { createRequire } from 'node:module'
import type * as zlib from 'node:zlib'
import type { Readable } from 'node:stream'
import { COMPRESS_HINT, givenValue, invalidOption, takesBytes } from '../errors.js'
import { refusesLateWrites } from '../stream/deliver-then-fail.js'
import type { Position } from '../record.js'
import type { OpenAtZstdOptions, OpenedAt } from './open-at.js'

export type { OpenedAt } from './open-at.js'

/**
 * node:zlib, required on first use rather than imported (by every gzip stage, the planner's ratio sample,
 * recovery): it is a few of Node's own modules that importing the package need not load (start-up,
 * test/startup-lazy.test.ts), and require keeps the callers synchronous.
 */
let zlibModule: typeof zlib | undefined
export function nodeZlib (): typeof zlib {
  zlibModule ??= createRequire(import.meta.url)('node:zlib') as typeof zlib
  return zlibModule
}

/** zlib works best fed large writes with a large output chunk (see PERFORMANCE-NOTES). */
export const CHUNK = 256 * 1024

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
  GzipStage ??= takesBytes(refusesLateWrites(nodeZlib().Gzip as unknown as new (options: zlib.ZlibOptions) => zlib.Gzip, 'gzip()'), 'gzip()', COMPRESS_HINT)
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
 * Open a compressed archive at a saved position (open-at.ts). A wrapper that
 * loads open-at.ts on its first call: only resuming reads need it, and each
 * module the package's import loads costs start-up time (test/startup-lazy.test.ts).
 */
export async function openAt (position: Position, open: (offset: number) => Readable | Promise<Readable>, codec: 'gzip' | 'zstd' = 'gzip', zstdOptions?: OpenAtZstdOptions): Promise<OpenedAt> {
  const { openAt } = await import('./open-at.js')
  return await openAt(position, open, codec, zstdOptions)
}
