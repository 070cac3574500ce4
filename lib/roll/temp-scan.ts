/**
 * How much of a writer's leftover temporary file is good (recover.ts): the
 * end of its last whole record (plain), complete gzip member or zstd frame
 * before the first damage, its records, and whether readable data follows
 * the damage. The file is read in windows (fs/file-window.ts), never whole:
 * `shoebox write` has no default roll size, so a temporary file may be over
 * 2 GiB, which fs.readFile refuses (and a sink's start then failed), and
 * even a smaller one held whole was a needless spike of memory. What is held
 * is a window, plus the one record or zstd frame being judged (a gzip
 * member's content is judged as it is inflated, not held).
 *
 * A complete member or frame whose content is records followed by other
 * bytes ends the good part too, but its records read (a reader gives them):
 * it counts as readable data after the damage, and the file is kept whole.
 *
 * A record is judged by its checksum and by fitting in the file (or in its
 * member's or frame's content), not by a maxRecordSize: the writer's limit
 * is not known here and may be above the default (a record over it is not
 * damage). A record longer than the window is read whole (the decoder
 * gathers it). A zstd frame is walked with maxFrameSize's default as its
 * limit, as a read does: one over it (never a writer's, whose frames are
 * about its blockSize) is not decompressed; the good part ends there.
 */
import fs from 'node:fs/promises'
import { CHUNK, GZIP_MAGIC, isGzip, nodeZlib } from '../compress/gzip.js'
import { MAX_HEADER_SIZE, NEED_MORE as HEADER_NEEDS_MORE, parseMemberHeader } from '../compress/member-header.js'
import { DEFAULT_MAX_FRAME_SIZE } from '../compress/zstd.js'
import { frameTooLarge } from '../compress/zstd-decompress.js'
import { fittedWindow, FrameWalker, type FrameTooLarge, isTooLarge, isNotRead, isZstd, NEED_MORE, ZSTD_MAGIC } from '../compress/zstd-frame.js'
import { requireZstd, type ZstdBackend } from '../compress/zstd-loader.js'
import { DEFAULT_MAX_RECORD_SIZE, MAGIC_BYTES } from '../format/constants.js'
import { ArchiveDecoder } from '../format/decoder.js'
import { FileWindow } from '../fs/file-window.js'
import { orIoError } from '../fs/io-error.js'

export interface ScanOptions {
  /** Bytes read at a time (fs/file-window.ts's default, 8 MiB); tests make it small to cross windows everywhere. */
  window?: number
}

export interface Scan {
  /** The file's size. */
  size: number
  /** End of the last whole record or member before any damage. */
  end: number
  records: number
  /** Readable data exists after the first damage. */
  moreAfter: boolean
  /** The first damage is a zstd frame refused for its size: why (see RecoveredFile). */
  tooLarge: string | null
  /** It begins as a writer of ours begins a file (a record, a gzip member, a zstd frame), or is empty. */
  begunAsArchive: boolean
}

type Judged = Omit<Scan, 'size' | 'begunAsArchive'>

/** Scans of a file that keeps changing under them before one gives up. */
const ATTEMPTS = 3

/**
 * Scan the temporary file `temp` (see the header). Its failures name it:
 * SHOEBOX_IO, errno in `cause`. A file cut while it is read (another
 * recovery of the directory cutting its torn tail: each judges the same
 * end) is scanned again as it is now.
 */
export async function scanTemp (temp: string, options: ScanOptions = {}): Promise<Scan> {
  for (let attempt = 1; ; attempt++) {
    const handle = await orIoError(fs.open(temp, 'r'), 'cannot read', temp)
    let size = -1
    try {
      size = (await orIoError(handle.stat(), 'cannot read', temp)).size
      const file = new FileWindow(handle, temp, size, options.window)
      const head = Buffer.from(await file.bytes(0, 4)).subarray(0, 4)
      const judged = isGzip(head) ? await scanGzip(file) : isZstd(head) ? await scanZstd(file, await requireZstd(temp)) : await scanPlain(file)
      return { size, ...judged, begunAsArchive: startsAsArchive(head) }
    } catch (err) {
      // (A failing stat here keeps the scan's own error, which names the file.)
      if (attempt < ATTEMPTS && size >= 0 && await handle.stat().then((now) => now.size, () => size) !== size) continue
      throw err
    } finally {
      await handle.close()
    }
  }
}

/** Whole records from the start up to the first damage, and whether any follow it. */
async function scanPlain (file: FileWindow): Promise<Judged> {
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
  }, { mode: 'lenient', maxRecordSize: fitsIn(file.size) })
  for (let at = 0; at < file.size;) {
    const window = await file.bytes(at, file.window)
    decoder.write(window)
    at += window.length
  }
  decoder.end()
  if (damageAt < 0) return { end: file.size, records, moreAfter: false, tooLarge: null }
  return { end, records: moreAfter ? decoder.stats.records : records, moreAfter, tooLarge: null }
}

/** Complete gzip members from the start whose contents are whole records. */
async function scanGzip (file: FileWindow): Promise<Judged> {
  let pos = 0
  let records = 0
  let moreAfter = false
  let recordsAfter = 0
  while (pos < file.size) {
    const member = await judgeMember(file, pos)
    if (member === undefined) break
    if (member.records < 0) {
      // Complete and intact, but its records are followed by other bytes: they read, so the file is kept whole.
      moreAfter = member.leading > 0
      recordsAfter += member.leading
      break
    }
    records += member.records
    pos = member.end
  }
  if (pos < file.size) {
    // Are there readable members after the damage? (Counted: the file is kept whole, and so are they.)
    for (let at = await file.find(GZIP_HEADER, pos + 1); at >= 0;) {
      const member = await judgeMember(file, at)
      if (member !== undefined && member.records > 0) {
        moreAfter = true
        recordsAfter += member.records
        at = await file.find(GZIP_HEADER, member.end)
      } else {
        at = await file.find(GZIP_HEADER, at + 1)
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
async function scanZstd (file: FileWindow, zstd: ZstdBackend): Promise<Judged> {
  let pos = 0
  let records = 0
  let tooLarge: string | null = null
  let moreAfter = false
  let recordsAfter = 0
  while (pos < file.size) {
    const frame = await readFrame(file, pos, zstd)
    if (frame === undefined) break
    if ('tooLarge' in frame) {
      tooLarge = frameTooLarge(pos, frame)
      break
    }
    const counted = countRecords(frame.content)
    if (counted.whole < 0) {
      // A complete frame whose records are followed by other bytes: they read, so the file is kept whole.
      moreAfter = counted.leading > 0
      recordsAfter += counted.leading
      break
    }
    records += counted.whole
    pos = frame.end
  }
  if (pos < file.size) {
    for (let at = await file.find(ZSTD_MAGIC, pos + 1); at >= 0;) {
      const read = await readFrame(file, at, zstd)
      const frame = read === undefined || 'tooLarge' in read ? undefined : read
      const n = frame === undefined ? -1 : countRecords(frame.content).whole
      if (frame !== undefined && n > 0) {
        moreAfter = true
        recordsAfter += n
        at = await file.find(ZSTD_MAGIC, frame.end)
      } else {
        at = await file.find(ZSTD_MAGIC, at + 1)
      }
    }
  }
  return { end: pos, records: records + recordsAfter, moreAfter, tooLarge }
}

/**
 * One complete zstd frame at `pos` that decompresses (a skippable frame: no
 * content), undefined, or its refusal when its headers pass maxFrameSize:
 * a sink's frames are far smaller, and a frame from elsewhere may be a bomb.
 * The walk reads only headers, a window at a time; then the frame is read
 * whole (maxFrameSize bounds it) and decompressed.
 */
async function readFrame (file: FileWindow, pos: number, zstd: ZstdBackend): Promise<{ content: Buffer, end: number } | FrameTooLarge | undefined> {
  const walker = new FrameWalker(pos, DEFAULT_MAX_FRAME_SIZE)
  // Ask for a header's length (the rest of the window held comes with it):
  // asking for a window would read one again at each frame, 8 MiB for each of a sink's ~300 KB frames.
  let want = HEADER_BYTES
  for (;;) {
    const from = walker.cursor
    const view = await file.bytes(from, want)
    const extent = walker.step(from + view.length, (i) => view[i - from])
    if (extent !== NEED_MORE) {
      if (typeof extent === 'string' || isNotRead(extent)) return undefined
      if (isTooLarge(extent)) return extent
      if (extent.skippable) return { content: Buffer.alloc(0), end: extent.end }
      try {
        const frame = (await file.bytes(pos, extent.end - pos)).subarray(0, extent.end - pos)
        return { content: await zstd.decompress(fittedWindow(frame, extent.bound), extent.bound), end: extent.end }
      } catch {
        return undefined
      }
    }
    // Torn: the file ends inside the frame (or before the header the walk has reached: past a skippable frame's end).
    if (from + view.length >= file.size || walker.cursor > file.size) return undefined
    // No header passed: what the walker needs is longer than the bytes from it (a skippable frame, a last block and its checksum).
    want = walker.cursor === from ? view.length * 2 : HEADER_BYTES
  }
}

/** A frame header (18 bytes at most) or a block header and a checksum. */
const HEADER_BYTES = 32

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08])

/** A gzip member takes at least its 10-byte header and its 8-byte trailer. */
const MEMBER_MIN = 18

/**
 * The end of the complete, CRC-checked gzip member at `pos` and its records
 * (-1 when its content is not whole records, with `leading` the whole
 * records before the damage in it); undefined when it is not complete and
 * intact. The content is
 * inflated a window at a time and judged as it comes (its checksum, its
 * length, its records), never held whole.
 */
async function judgeMember (file: FileWindow, pos: number): Promise<{ end: number, records: number, leading: number } | undefined> {
  if (file.size - pos < MEMBER_MIN) return undefined
  const header = await memberHeader(file, pos)
  if (header === undefined || pos + header >= file.size) return undefined
  const deflated = await inflateMember(file, pos + header)
  if (deflated === undefined) return undefined
  const end = deflated.end + 8
  if (end > file.size) return undefined
  const trailer = await file.bytes(deflated.end, 8)
  if (trailer.readUInt32LE(0) !== deflated.crc >>> 0 || trailer.readUInt32LE(4) !== deflated.size % 2 ** 32) return undefined
  return { end, records: deflated.records, leading: deflated.leading }
}

/** The length of the gzip member header at `pos`, or undefined when none is there. */
async function memberHeader (file: FileWindow, pos: number): Promise<number | undefined> {
  for (let want = 64; ; want *= 2) {
    const view = await file.bytes(pos, want)
    const size = parseMemberHeader(view)
    if (typeof size === 'string') return undefined
    if (size !== HEADER_NEEDS_MORE) return size
    // Longer than any honest header, or the file ends inside it.
    if (want > MAX_HEADER_SIZE || pos + view.length >= file.size) return undefined
  }
}

interface Inflated {
  /** Just past the deflate data (the trailer's offset). */
  end: number
  crc: number
  size: number
  /** Whole records in the content, or -1 when it is not whole records and nothing else. */
  records: number
  /** Whole records before the first damage in the content. */
  leading: number
}

/** Inflate the deflate data at `from`, judging its content as it comes; undefined if it is damaged or the file ends first. */
async function inflateMember (file: FileWindow, from: number): Promise<Inflated | undefined> {
  const inflater = nodeZlib().createInflateRaw({ chunkSize: CHUNK })
  const done = new Promise<void>((resolve, reject) => {
    inflater.once('end', resolve)
    inflater.once('error', reject)
  })
  // Observed below; this keeps an early failure from being "unhandled" meanwhile.
  done.catch(() => {})
  const content = wholeRecords()
  const out: Inflated = { end: from, crc: 0, size: 0, records: 0, leading: 0 }
  inflater.on('data', (chunk: Buffer) => {
    out.crc = nodeZlib().crc32(chunk, out.crc)
    out.size += chunk.length
    content.write(chunk)
  })
  try {
    for (let at = from; at < file.size;) {
      const chunk = await file.bytes(at, 1)
      const before = inflater.bytesWritten
      // The write's callback comes once the inflater is done with the chunk: all of it used, or its stream ended.
      await Promise.race([new Promise<void>((resolve) => { inflater.write(chunk, () => { resolve() }) }), done])
      // Content that is not whole records makes the member no good, wherever it ends: no need to inflate the rest,
      // unless records came before the damage (then whether the member is complete decides if they are kept).
      if (content.broken() && content.leading() === 0) return undefined
      const used = inflater.bytesWritten - before
      at += used
      if (used < chunk.length) {
        // Stopped before the chunk's end: the deflate stream is over. Wait for its last output.
        await done
        out.end = from + inflater.bytesWritten
        out.records = content.end()
        out.leading = content.leading()
        return out
      }
    }
    // The file ends inside the deflate data: a torn member.
    return undefined
  } catch {
    // zlib's own errors: damaged deflate data.
    return undefined
  } finally {
    inflater.destroy()
  }
}

/**
 * A strict decoder counting the records of content fed to it in pieces;
 * end(): their number, or -1 if it is not whole records and nothing else;
 * broken(): damage already seen (end() will be -1).
 */
function wholeRecords (): { write: (chunk: Buffer) => void, end: () => number, broken: () => boolean, leading: () => number } {
  let n = 0
  let whole = true
  // No limit but the content's own length (see the header): a record that does not fit in it is cut short at end().
  const decoder = new ArchiveDecoder({ record () { n++ }, corrupt () {} }, { mode: 'strict', maxRecordSize: Number.MAX_SAFE_INTEGER })
  return {
    write (chunk) {
      if (!whole) return
      try {
        decoder.write(chunk)
      } catch {
        whole = false
      }
    },
    broken: () => !whole,
    leading: () => n,
    end () {
      if (!whole) return -1
      try {
        decoder.end()
      } catch {
        return -1
      }
      return n
    }
  }
}

/** Does `head` (a file's first bytes) begin as a writer of ours begins a file (a record, a gzip member, a zstd frame), or is it empty? */
function startsAsArchive (head: Buffer): boolean {
  return [MAGIC_BYTES, GZIP_MAGIC, ZSTD_MAGIC].some((magic) => {
    const n = Math.min(magic.length, head.length)
    return head.subarray(0, n).equals(magic.subarray(0, n))
  })
}

/** A maxRecordSize that lets any record held in `size` bytes be read (see the header). */
function fitsIn (size: number): number {
  return Math.max(DEFAULT_MAX_RECORD_SIZE, size)
}

/** `whole`: records in `content` if it is whole records and nothing else, else -1; `leading`: whole records before any damage. */
function countRecords (content: Buffer): { whole: number, leading: number } {
  const counter = wholeRecords()
  counter.write(content)
  const whole = counter.end()
  return { whole, leading: counter.leading() }
}
