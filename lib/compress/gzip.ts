/**
 * gzip as stages. gzip() compresses a byte stream; gunzip() decompresses one
 * if it starts with the gzip magic and passes it through untouched if not,
 * so a reader accepts compressed and plain archives alike. Multi-member gzip
 * (what the rolling sink writes: one member per flush block) reads as one stream.
 */
import zlib from 'node:zlib'
import { promisify } from 'node:util'
import { Duplex, Readable, pipeline } from 'node:stream'
import { CorruptArchiveError, invalidOption } from '../errors.js'
import { CHUNK, GunzipStage, type GunzipOptions } from './member-gunzip.js'

export { GunzipStage, type GunzipOptions } from './member-gunzip.js'
export { MemberMap, type MemberLookup, type MemberPosition } from './member-map.js'
export { openAt, memberStart, type OpenedAt } from './open-at.js'

export const GZIP_MAGIC = Buffer.from([0x1f, 0x8b])

export interface GzipOptions {
  /** 1 (fastest) to 9 (smallest). Default 6. */
  level?: number
}

export function gzipLevel (options: boolean | GzipOptions | undefined): number | undefined {
  if (options === undefined || options === false) return undefined
  const level = options === true ? 6 : options.level ?? 6
  if (!Number.isInteger(level) || level < 1 || level > 9) throw invalidOption('gzip.level', `must be an integer from 1 to 9, got ${String(level)}`)
  return level
}

export function gzip (options: GzipOptions = {}): zlib.Gzip {
  return zlib.createGzip({ level: gzipLevel(options), chunkSize: CHUNK })
}

const gzipAsync = promisify(zlib.gzip) as (buf: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>

/** Compress one block into a complete, independent gzip member, on the threadpool. */
export function gzipMember (block: Buffer, level: number): Promise<Buffer> {
  return gzipAsync(block, { level, chunkSize: CHUNK })
}

/** Does this start like gzip? */
export function isGzip (head: Buffer): boolean {
  return head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]
}

/**
 * Decompress if gzip, pass through if not. zlib does all the gzip work here
 * (inflate and the CRC32 check both on the threadpool): the cheapest reader.
 * Use gunzipMembers() when positions must name their gzip member.
 */
export function gunzip (): Duplex {
  return Duplex.from(async function * (source: AsyncIterable<Buffer>) {
    const iterator = source[Symbol.asyncIterator]()
    let head = Buffer.alloc(0)
    while (head.length < 2) {
      const next = await iterator.next()
      if (next.done === true) {
        if (head.length > 0) yield head
        return
      }
      head = Buffer.concat([head, next.value])
    }
    async function * rest (): AsyncGenerator<Buffer> {
      yield head
      for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) yield next.value
    }
    if (!isGzip(head)) {
      yield * rest()
      return
    }
    // Count compressed bytes fed, so a corrupt or truncated stream is reported where it went wrong.
    let fed = 0
    async function * counted (): AsyncGenerator<Buffer> {
      for await (const chunk of rest()) {
        yield chunk
        fed += chunk.length
      }
    }
    // pipeline, not pipe: a corrupt member must fail the iteration, not vanish.
    try {
      yield * pipeline(Readable.from(counted()), zlib.createGunzip({ chunkSize: CHUNK }), () => {})
    } catch (err) {
      if (typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).code?.startsWith('Z_') === true) {
        throw new CorruptArchiveError('bad-compression', fed, `gzip data is damaged or cut short (${(err as Error).message}); the offset is in the compressed file`)
      }
      throw err
    }
  })
}

/**
 * gunzip() that knows its members: the same contract (gzip by magic, anything
 * else passed through, damage as 'bad-compression' after everything before
 * it), and its `members` says which gzip member each decompressed byte came
 * from, for decode({ positions: true, members }). It parses headers and
 * trailers itself and checks each member's CRC32 on the main thread, so it
 * costs more CPU than gunzip() (10-15% more for the stage alone, wall time
 * about the same; bench/gunzip-members.js): use it when positions are asked for.
 */
export function gunzipMembers (options?: GunzipOptions): GunzipStage {
  return new GunzipStage(options)
}
