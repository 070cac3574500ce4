/**
 * archiveSource(pattern, { positions: [p1, p2, ...] }): exactly the records
 * at these positions, in the given order, each with its `position`, read
 * with ranged reads through the pattern's Store (a local directory or S3).
 * This is what a record index (`meta index`, `meta get --records`) fetches
 * with: a query over metadata reads a handful of records, not the archive.
 *
 * A plain file is read from the record's offset; a gzip or zstd file from
 * its member's (frame's) compressed offset, decompressed, `skip` bytes
 * dropped. Reads are bounded windows (32 KiB, then doubling) that stop once
 * the record is whole, not reads to the end of the file aborted later: a
 * store hands out up to 1 MiB per chunk, and an aborted S3 body has still
 * been sent. A record of a plain file whose header says its length is read
 * to exactly that length by the second read, if a second is needed.
 *
 * Each record's payload is copied into memory of its own (own-memory.ts):
 * a view of what was read to find it held that whole, ~27 KB for a 100-byte
 * record of a plain archive, a 1 MiB block of a gzip or zstd one.
 *
 * A failure (the file is gone, an offset past its end or not at a record
 * start, a member that is not one) names the file and offset, and comes
 * after the records before it (stream/deliver-then-fail.ts).
 *
 * The stream is an ArchiveSource (archive-source.ts), which checks the
 * positions at once and loads this module only as it starts reading: a
 * program that never fetches by position does not load it at import.
 */
import type { Readable } from 'node:stream'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { isGzip } from '../compress/gzip.js'
import { memberStart } from '../compress/member-map.js'
import { compressedLimit, fittedWindow, FrameWalker, isTooLarge, isNotRead, isZstd, NEED_MORE } from '../compress/zstd-frame.js'
import { DEFAULT_MAX_FRAME_SIZE } from '../compress/zstd.js'
import { frameTooLarge, salvagedDetail, salvageFrame } from '../compress/zstd-decompress.js'
import { requireZstd } from '../compress/zstd-loader.js'
import { CorruptArchiveError, reworded, ShoeboxError } from '../errors.js'
import { readRecord } from '../format/codec.js'
import { DEFAULT_MAX_RECORD_SIZE } from '../format/constants.js'
import type { ReadResult } from '../format/result.js'
import { ownBytes } from '../own-memory.js'
import { plural } from '../plural.js'
import type { Position, ShoeboxRecord } from '../record.js'
import type { StoreOptions } from '../store/open-store.js'
import type { TransferSnapshot } from '../transfer/stats.js'
import type { GlobRoot, StoreGlob } from './glob.js'

/** The first read of a record; each further read doubles what has been read. */
export const FETCH_WINDOW = 32 * 1024

const gunzipAsync = promisify<zlib.InputType, zlib.ZlibOptions, Buffer>(zlib.gunzip)

export interface FetchRecordsOptions {
  /** Directory relative patterns are resolved against. Default process.cwd(). */
  cwd?: string
  /** Largest record read, as in decode(): bytes or a size string ('100MiB'). Default 64 MiB. */
  maxRecordSize?: number | string
  /** For an s3:// pattern: endpoint, region, credentials... (see openStore). */
  storeOptions?: StoreOptions
}

/** The bytes [start, end) of a file, fewer at its end. */
type ReadRange = (start: number, end: number) => Promise<Buffer>

/**
 * Bytes of one file from `start`, read on demand in growing windows;
 * `eof` once a read came back short.
 */
class Window {
  bytes: Buffer = Buffer.alloc(0)
  eof = false
  readonly #read: ReadRange
  readonly #start: number

  constructor (read: ReadRange, start: number) {
    this.#read = read
    this.#start = start
  }

  /** Read on, to at least `atLeast` bytes in all when given, else twice what is held (or the first window). */
  async more (atLeast = 0): Promise<void> {
    const have = this.bytes.length
    const want = Math.max(atLeast, have === 0 ? FETCH_WINDOW : 2 * have)
    const more = await this.#read(this.#start + have, this.#start + want)
    if (more.length < want - have) this.eof = true
    this.bytes = have === 0 ? more : Buffer.concat([this.bytes, more])
  }
}

/**
 * What archiveSource(pattern, { positions: [...] }) returns: a Readable of
 * exactly those records, each with its `position`. An ArchiveSource
 * underneath, which loads this module as it starts reading (its checks of
 * the positions run at once, in archiveSource()).
 */
export interface FetchRecords extends Readable {
  /** Each record, typed (Readable's iterator gives `any`). */
  [Symbol.asyncIterator] (): NodeJS.AsyncIterator<ShoeboxRecord>
  readonly glob: GlobRoot
  /** Transfer statistics of the source's store (bytes and objects read; for S3 also retries, errors). */
  stats: () => TransferSnapshot
}

/**
 * Fetch the records at `positions` (already checked) from `glob`'s store, in
 * order, handing each to `deliver`, which resolves once there is room for
 * more: true to go on, false when the reader has stopped.
 */
export async function fetchPositions (glob: StoreGlob, pattern: string, positions: readonly Position[], maxRecordSize: number, maxFrameSize: number,
  deliver: (record: ShoeboxRecord) => Promise<boolean>): Promise<void> {
  // Loaded here, not at import, as the lister does.
  const { Minimatch } = await import('minimatch')
  const matcher = new Minimatch(glob.pattern)
  for (const position of positions) {
    // A position outside the pattern is refused as `from` refuses one: the pattern says what may be read.
    if (!matcher.match(position.file)) throw new ShoeboxError('SHOEBOX_NOT_FOUND', `positions: no archive named ${position.file} matches ${pattern}`)
    const where = glob.where(position.file)
    const read: ReadRange = async (start, end) => {
      const chunks: Buffer[] = []
      try {
        for await (const chunk of glob.store.get(position.file, { range: { start, end } })) chunks.push(chunk as Buffer)
      } catch (err) {
        if (err instanceof ShoeboxError) throw reworded(err, `position ${position.offset} in ${where}: ${err.message}`)
        throw err
      }
      return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
    }
    const found = await fetchRecord(read, position, where, maxRecordSize, maxFrameSize)
    // Its payload is a view of all that was read or decompressed to find it (a window, a member, a
    // frame), one such each: a caller holding the records a query picked held all of those.
    if (!await deliver({ metadata: found.metadata, payload: ownBytes(found.payload), position })) return
  }
}

/** The record at `position`, read through `read` (`where` names the file in errors). */
export async function fetchRecord (read: ReadRange, position: Position, where: string, maxRecordSize = DEFAULT_MAX_RECORD_SIZE, maxFrameSize = DEFAULT_MAX_FRAME_SIZE): Promise<ShoeboxRecord> {
  const member = memberStart(position)
  if (member === undefined) return await plainRecord(read, position, where, maxRecordSize)
  const window = new Window(read, member.compressed)
  await window.more()
  if (window.bytes.length === 0) {
    throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${where}: the member at compressed byte ${member.compressed} is past the end of the file`)
  }
  const skip = position.offset - member.decompressed
  if (isGzip(window.bytes)) return await gzipRecord(window, skip, position, where, maxRecordSize)
  if (isZstd(window.bytes)) return await zstdRecord(window, skip, position, where, maxRecordSize, maxFrameSize)
  throw new CorruptArchiveError('bad-compression', member.compressed, 'no gzip member or zstd frame starts here (was the file replaced?)', where)
}

async function plainRecord (read: ReadRange, position: Position, where: string, maxRecordSize: number): Promise<ShoeboxRecord> {
  const window = new Window(read, position.offset)
  await window.more()
  if (window.bytes.length === 0) {
    throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${where}: offset ${position.offset} is past the end of the archive`)
  }
  for (;;) {
    const result = readRecord(window.bytes, 0, window.bytes.length, maxRecordSize)
    const record = recordOrMore(result, window, position.offset, where)
    if (record !== undefined) return record
    // A verified length is read to exactly; an unverified one (v1) by doubling.
    await window.more(result.kind === 'need' && result.verified ? result.size : 0)
  }
}

/**
 * The record, or undefined when more bytes are needed (and there are some);
 * damage where a record should start, or a file that ends inside it, fails.
 */
function recordOrMore (result: ReadResult, window: Window, offset: number, where: string): ShoeboxRecord | undefined {
  if (result.kind === 'record') return result.record
  if (result.kind === 'damage') {
    throw new CorruptArchiveError(result.reason, offset, `${result.detail} (no record starts at this position)`, where)
  }
  if (window.eof) throw new CorruptArchiveError('truncated', offset, 'the file ends inside the record', where)
  return undefined
}

/** The decompressed bytes of the gzip members read so far; a window cut inside a member gives what it holds. */
async function gunzipPartial (window: Window, compressed: number, where: string): Promise<Buffer> {
  try {
    return await gunzipAsync(window.bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
  } catch (err) {
    throw new CorruptArchiveError('bad-compression', compressed, `${(err as Error).message} (no intact gzip member starts here: was the file replaced?)`, where)
  }
}

async function gzipRecord (window: Window, skip: number, position: Position, where: string, maxRecordSize: number): Promise<ShoeboxRecord> {
  const compressed = (position.member as { offset: number }).offset
  for (;;) {
    // From the member's start each time: the windows double, so this costs at most twice one pass.
    const bytes = await gunzipPartial(window, compressed, where)
    if (bytes.length >= skip) {
      const record = recordOrMore(readRecord(bytes, skip, bytes.length, maxRecordSize), window, position.offset, where)
      if (record !== undefined) return record
    } else if (window.eof) {
      throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${where}: offset ${position.offset} is past the end of the archive (its member at compressed byte ${compressed} holds ${bytes.length} bytes, the position skips ${skip})`)
    }
    await window.more()
  }
}

/**
 * The record at `skip` into the content of the frames from the window's
 * start. Each frame is walked with maxFrameSize as its limit (zstd-frame.ts),
 * so a frame over it is refused as soon as its headers show it, with about
 * maxFrameSize read (the windows double: twice that at most). And frames are
 * walked on only as far as a record can reach: the record starts in the
 * first frame (what a position names), and goes on for maxRecordSize at
 * most, so frames starting past compressedLimit() of both are not read.
 */
async function zstdRecord (window: Window, skip: number, position: Position, where: string, maxRecordSize: number, maxFrameSize: number): Promise<ShoeboxRecord> {
  const compressed = (position.member as { offset: number }).offset
  const backend = await requireZstd(where)
  const reach = compressedLimit(maxFrameSize) + compressedLimit(maxRecordSize)
  const frames: Buffer[] = []
  let held = 0
  // The window starts at the frame (`compressed`): the walker names blocks by their offset in the file.
  let walker = new FrameWalker(0, maxFrameSize, compressed)
  for (;;) {
    if (walker.start > reach) {
      const read = `the frames from compressed byte ${compressed} to ${compressed + walker.start} hold ${plural(held, 'byte')}`
      if (held < skip) throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${where}: offset ${position.offset} is not in reach of its frame at compressed byte ${compressed} (${read}, the position skips ${skip})`)
      throw new CorruptArchiveError('bad-compression', position.offset, `the record goes on past what a record of maxRecordSize ${maxRecordSize} can reach (${read})`, where)
    }
    const bytes = window.bytes
    const extent = walker.step(bytes.length, (at) => bytes[at])
    if (extent === NEED_MORE && !window.eof) {
      await window.more()
      continue
    }
    if (extent === NEED_MORE && walker.start === bytes.length) {
      if (held < skip) {
        throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${where}: offset ${position.offset} is past the end of the archive (its frame at compressed byte ${compressed} holds ${held} bytes, the position skips ${skip})`)
      }
      throw new CorruptArchiveError('truncated', position.offset, 'the file ends inside the record', where)
    }
    if (isTooLarge(extent)) {
      // Never decompressed, nor salvaged (which decompresses): it may be a bomb.
      const at = compressed + walker.start
      throw new CorruptArchiveError('bad-compression', at, frameTooLarge(at, extent), where, { frameTooLarge: true })
    }
    if (isNotRead(extent)) {
      const at = compressed + walker.start
      throw new CorruptArchiveError(extent.reason, at, `zstd data: the frame at compressed byte ${at} ${extent.notRead}; the offset is in the compressed file`, where)
    }
    let damage: string | undefined = extent === NEED_MORE ? 'is cut short (the file ends inside it)' : typeof extent === 'string' ? `is damaged (${extent})` : undefined
    if (typeof extent === 'object' && !extent.skippable) {
      // Whole frames only: a frame is decompressed once it is all there.
      try {
        frames.push(await backend.decompress(fittedWindow(bytes.subarray(walker.start, extent.end), extent.bound), extent.bound))
        held += frames[frames.length - 1].length
      } catch (err) {
        damage = `is damaged (${(err as Error).message})`
      }
    }
    if (damage !== undefined) {
      // A read delivers the records of a damaged frame's leading whole blocks (zstd.ts), with positions: fetch them so too.
      const salvaged = await salvageFrame(bytes.subarray(walker.start, typeof extent === 'object' ? extent.end : bytes.length), backend, maxFrameSize)
      const out = Buffer.concat(salvaged === null ? frames : [...frames, salvaged.content])
      const result = out.length > skip ? readRecord(out, skip, out.length, maxRecordSize) : undefined
      if (result?.kind === 'record') return result.record
      const at = compressed + walker.start
      // Not a frame here at all (a position into a file since replaced): say only that.
      if (typeof extent === 'string' && salvaged === null) throw new CorruptArchiveError('bad-compression', at, extent, where)
      throw new CorruptArchiveError('bad-compression', at, `zstd data: the frame at compressed byte ${at} ${damage}${salvagedDetail(salvaged)}, and the record at ${position.offset} is not in them`, where)
    }
    walker = new FrameWalker((extent as { end: number }).end, maxFrameSize, compressed)
    if (held < skip) continue
    const out = frames.length === 1 ? frames[0] : Buffer.concat(frames)
    const result = readRecord(out, skip, out.length, maxRecordSize)
    if (result.kind === 'record') return result.record
    if (result.kind === 'damage') recordOrMore(result, window, position.offset, where)
    // A record that goes on into the next frame (not written by shoebox): walk on.
  }
}
