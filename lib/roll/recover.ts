/**
 * Recovery of files a writer left behind (a crash, a kill, a full disk).
 * A leftover temporary file is cut back to its last whole record (plain) or
 * last complete gzip member or zstd frame, then sealed under its final name like any other
 * file. Nothing readable is ever deleted: if readable data follows a damaged
 * stretch, the file is sealed whole and reported as damaged instead of cut.
 * The file is read whole, so a record is judged by its checksum and by
 * fitting in it, not by a maxRecordSize: the writer's limit is not known here
 * and may be above the default (a record over it is not damage). A zstd
 * frame is walked with maxFrameSize's default as its limit, as a read does:
 * one over it (never a writer's, whose frames are about its blockSize) is
 * not decompressed; the good part ends there, and it is kept, not cut.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import zlib from 'node:zlib'
import { crc32 } from '../checksum.js'
import { GZIP_MAGIC, isGzip } from '../compress/gzip.js'
import { DEFAULT_MAX_FRAME_SIZE, frameTooLarge } from '../compress/zstd.js'
import { FrameWalker, type FrameTooLarge, isTooLarge, isZstd, NEED_MORE, ZSTD_MAGIC } from '../compress/zstd-frame.js'
import { requireZstd, type ZstdBackend } from '../compress/zstd-loader.js'
import { ShoeboxError } from '../errors.js'
import { DEFAULT_MAX_RECORD_SIZE, MAGIC_BYTES } from '../format/constants.js'
import { ArchiveDecoder } from '../format/decoder.js'
import { syncDir, syncFile } from '../fs/durable.js'
import { ioError, orIoError } from '../fs/io-error.js'
import { hostName, isAlive, parseTempName, sealName } from './names.js'

export interface RecoveredFile {
  /** The temporary file found. */
  temp: string
  /** Where it was sealed, or null when it held no whole record (then it was removed). */
  path: string | null
  records: number
  /** Bytes cut from the end (a torn last record or gzip member). */
  bytesDropped: number
  /** Readable data followed a damaged stretch, so nothing was cut; `shoebox verify` shows where. */
  damaged: boolean
  /**
   * Why the good part ends at a zstd frame too large to be one a sink writes
   * (by its headers over maxFrameSize, 256 MiB; a sink's are about its
   * blockSize, 1 MiB): never decompressed, and kept, not cut, as it may read
   * with a larger maxFrameSize. Absent otherwise.
   */
  tooLarge?: string
}

export interface SkippedTemp {
  temp: string
  reason: string
}

export interface RecoverOptions {
  /** Also recover files of writers on other hosts, or of live pids (only when you know they are gone). */
  force?: boolean
  /** Told about temporary files left alone (a live writer's, or another host's). */
  onSkip?: (skipped: SkippedTemp) => void
  /** Told about each file as soon as it is sealed (so a failure later still leaves a record of it). */
  onRecover?: (recovered: RecoveredFile) => void
}

export async function recoverDirectory (dir: string, options: RecoverOptions = {}): Promise<RecoveredFile[]> {
  const out: RecoveredFile[] = []
  const host = hostName()
  const names = await orIoError(fs.readdir(dir), 'cannot recover', dir)
  for (const name of names.sort()) {
    const parts = parseTempName(name)
    if (parts === undefined) continue
    const temp = path.join(dir, name)
    // Only a regular file is a writer's: a directory of that name stopped the
    // recovery of every file after it (and a sink's start), and a symbolic link
    // was read and truncated through, whatever it pointed at.
    const kind = await kindOf(temp)
    if (kind === 'gone') continue
    if (kind !== 'file') {
      options.onSkip?.({ temp, reason: `${kind}, not a file a writer left` })
      continue
    }
    if (options.force !== true) {
      if (parts.host !== host) {
        options.onSkip?.({ temp, reason: `written by host ${parts.host}; recover with force if that writer is gone` })
        continue
      }
      if (isAlive(parts.pid)) {
        options.onSkip?.({ temp, reason: `pid ${parts.pid} is still writing it` })
        continue
      }
    }
    let recovered: RecoveredFile
    try {
      recovered = await recoverFile(dir, temp, parts.finalName)
    } catch (err) {
      // Gone meanwhile: another recovery (another writer starting) sealed it.
      if (((err as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') continue
      // A zstd file where this install has no zstd: left as it is, for one that has; so is a file that is no archive.
      if (err instanceof ShoeboxError && (err.code === 'SHOEBOX_UNSUPPORTED' || err.code === 'SHOEBOX_BAD_MAGIC')) {
        options.onSkip?.({ temp, reason: err.message })
        continue
      }
      throw err
    }
    out.push(recovered)
    options.onRecover?.(recovered)
  }
  return out
}

/** What is at `file`, not following a link. */
async function kindOf (file: string): Promise<'file' | 'gone' | 'a symbolic link' | 'a directory' | 'not a regular file'> {
  try {
    const st = await fs.lstat(file)
    return st.isFile() ? 'file' : st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a directory' : 'not a regular file'
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
    throw ioError(err, 'cannot recover', file)
  }
}

/** Recover one temporary file into `dir` under `finalName` (or the next free alternative). */
export async function recoverFile (dir: string, temp: string, finalName: string): Promise<RecoveredFile> {
  // Every failure names the file (or directory) it happened to: SHOEBOX_IO, errno in `cause`.
  const data = await orIoError(fs.readFile(temp), 'cannot read', temp)
  const scan = isGzip(data) ? scanGzip(data) : isZstd(data) ? await scanZstd(data, await requireZstd(temp)) : scanPlain(data)
  const result: RecoveredFile = { temp, path: null, records: scan.records, bytesDropped: 0, damaged: false }
  if (scan.tooLarge !== null) result.tooLarge = scan.tooLarge
  if (scan.end === 0 && !scan.moreAfter && scan.tooLarge === null) {
    // Not begun by a writer of ours (another program's file under a name like ours): not ours to delete.
    if (!startsAsArchive(data)) {
      throw new ShoeboxError('SHOEBOX_BAD_MAGIC', `not an archive (its first bytes are not a record's, a gzip member's or a zstd frame's); left as it is`)
    }
    // No whole record (an empty file too): nothing to seal.
    result.bytesDropped = data.length
    await orIoError(fs.unlink(temp), 'cannot remove', temp)
    return result
  }
  if (scan.end < data.length) {
    if (scan.moreAfter) {
      result.damaged = true
    } else if (scan.tooLarge === null) {
      result.bytesDropped = data.length - scan.end
      await orIoError(fs.truncate(temp, scan.end), 'cannot truncate', temp)
    }
  }
  await orIoError(syncFile(temp), 'cannot fsync', temp)
  result.path = await orIoError(sealName(dir, temp, finalName), 'cannot seal', temp)
  await orIoError(syncDir(dir), 'cannot fsync directory', dir)
  return result
}

interface Scan {
  /** End of the last whole record or member before any damage. */
  end: number
  records: number
  /** Readable data exists after the first damage. */
  moreAfter: boolean
  /** The first damage is a zstd frame refused for its size: why (see RecoveredFile). */
  tooLarge: string | null
}

/** Whole records from the start up to the first damage, and whether any follow it. */
function scanPlain (data: Buffer): Scan {
  let end = 0
  let records = 0
  let damageAt = -1
  let moreAfter = false
  const decoder = new ArchiveDecoder({
    record (_record, _version, offset, size) {
      if (damageAt < 0) {
        records++
        end = offset + size
      } else {
        moreAfter = true
      }
    },
    corrupt (info) {
      if (damageAt < 0) damageAt = info.offset
    }
  }, { mode: 'lenient', maxRecordSize: fitsIn(data) })
  decoder.write(data)
  decoder.end()
  if (damageAt < 0) return { end: data.length, records, moreAfter: false, tooLarge: null }
  return { end, records: moreAfter ? decoder.stats.records : records, moreAfter, tooLarge: null }
}

/** Complete gzip members from the start whose contents are whole records. */
function scanGzip (data: Buffer): Scan {
  let pos = 0
  let records = 0
  while (pos < data.length) {
    const member = readMember(data, pos)
    if (member === undefined) break
    const n = countWholeRecords(member.content)
    if (n < 0) break
    records += n
    pos = member.end
  }
  let moreAfter = false
  let recordsAfter = 0
  if (pos < data.length) {
    // Are there readable members after the damage? (Counted: the file is kept whole, and so are they.)
    for (let at = data.indexOf(GZIP_HEADER, pos + 1); at >= 0;) {
      const member = readMember(data, at)
      const n = member === undefined ? -1 : countWholeRecords(member.content)
      if (member !== undefined && n > 0) {
        moreAfter = true
        recordsAfter += n
        at = data.indexOf(GZIP_HEADER, member.end)
      } else {
        at = data.indexOf(GZIP_HEADER, at + 1)
      }
    }
  }
  return { end: pos, records: records + recordsAfter, moreAfter, tooLarge: null }
}

/**
 * Complete zstd frames from the start whose contents are whole records (as
 * scanGzip, per frame). A torn last frame is cut whole, though a reader would
 * salvage its leading whole blocks (compress/zstd.ts): its flush block was
 * never completely written, so none of its records was promised (a record
 * survives from its flush point on), and a sealed file holds only complete
 * frames. A frame over maxFrameSize ends the good part too, unread.
 */
async function scanZstd (data: Buffer, zstd: ZstdBackend): Promise<Scan> {
  let pos = 0
  let records = 0
  let tooLarge: string | null = null
  while (pos < data.length) {
    const frame = await readFrame(data, pos, zstd)
    if (frame === undefined) break
    if ('tooLarge' in frame) {
      tooLarge = frameTooLarge(pos, frame)
      break
    }
    const n = countWholeRecords(frame.content)
    if (n < 0) break
    records += n
    pos = frame.end
  }
  let moreAfter = false
  let recordsAfter = 0
  if (pos < data.length) {
    for (let at = data.indexOf(ZSTD_MAGIC, pos + 1); at >= 0;) {
      const read = await readFrame(data, at, zstd)
      const frame = read === undefined || 'tooLarge' in read ? undefined : read
      const n = frame === undefined ? -1 : countWholeRecords(frame.content)
      if (frame !== undefined && n > 0) {
        moreAfter = true
        recordsAfter += n
        at = data.indexOf(ZSTD_MAGIC, frame.end)
      } else {
        at = data.indexOf(ZSTD_MAGIC, at + 1)
      }
    }
  }
  return { end: pos, records: records + recordsAfter, moreAfter, tooLarge }
}

/**
 * One complete zstd frame at `pos` that decompresses (a skippable frame: no
 * content), undefined, or its refusal when its headers pass maxFrameSize:
 * a sink's frames are far smaller, and a frame from elsewhere may be a bomb.
 */
async function readFrame (data: Buffer, pos: number, zstd: ZstdBackend): Promise<{ content: Buffer, end: number } | FrameTooLarge | undefined> {
  const extent = new FrameWalker(pos, DEFAULT_MAX_FRAME_SIZE).step(data.length, (i) => data[i])
  if (extent === NEED_MORE || typeof extent === 'string') return undefined
  if (isTooLarge(extent)) return extent
  if (extent.skippable) return { content: Buffer.alloc(0), end: extent.end }
  try {
    return { content: await zstd.decompress(data.subarray(pos, extent.end)), end: extent.end }
  } catch {
    return undefined
  }
}

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08])

/** One complete, CRC-checked gzip member at `pos`, or undefined. */
function readMember (data: Buffer, pos: number): { content: Buffer, end: number } | undefined {
  if (data.length - pos < 18 || data.indexOf(GZIP_HEADER, pos) !== pos) return undefined
  const flags = data[pos + 3]
  let at = pos + 10
  if (flags & 4) at += 2 + data.readUInt16LE(at) // FEXTRA
  if (flags & 8) at = data.indexOf(0, at) + 1 // FNAME
  if (flags & 16) at = data.indexOf(0, at) + 1 // FCOMMENT
  if (flags & 2) at += 2 // FHCRC
  if (at <= pos || at >= data.length) return undefined
  let inflated: { buffer: Buffer, engine: zlib.InflateRaw }
  try {
    inflated = zlib.inflateRawSync(data.subarray(at), { info: true }) as unknown as { buffer: Buffer, engine: zlib.InflateRaw }
  } catch {
    return undefined
  }
  const end = at + inflated.engine.bytesWritten + 8
  if (end > data.length) return undefined
  const content = inflated.buffer
  if (data.readUInt32LE(end - 8) !== crc32(content) || data.readUInt32LE(end - 4) !== (content.length >>> 0)) return undefined
  return { content, end }
}

/** Does `data` begin as a writer of ours begins a file (a record, a gzip member, a zstd frame), or is it empty? */
function startsAsArchive (data: Buffer): boolean {
  return [MAGIC_BYTES, GZIP_MAGIC, ZSTD_MAGIC].some((magic) => {
    const n = Math.min(magic.length, data.length)
    return data.subarray(0, n).equals(magic.subarray(0, n))
  })
}

/** A maxRecordSize that lets any record held in `data` be read (see the header). */
function fitsIn (data: Buffer): number {
  return Math.max(DEFAULT_MAX_RECORD_SIZE, data.length)
}

/** Records in `content` if it is whole records and nothing else, else -1. */
function countWholeRecords (content: Buffer): number {
  let n = 0
  try {
    const decoder = new ArchiveDecoder({ record () { n++ }, corrupt () {} }, { mode: 'strict', maxRecordSize: fitsIn(content) })
    decoder.write(content)
    decoder.end()
  } catch {
    return -1
  }
  return n
}
