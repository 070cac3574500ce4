/**
 * When a followed file may be read. Other programs copy files into a followed
 * directory over seconds, and a file read mid-copy ends mid-record (or, for
 * gzip, mid-member), or, worse, exactly between two records. So a file is
 * read once it is complete and stable: sealed by a shoebox writer (its
 * temporary name was seen, and sealing links a finished file into place), or
 * its size and mtime unchanged between two listings (or not modified for as
 * long as listings are apart, at most a second). And a file that changes after it was read (it ended
 * mid-record, or it was still growing) is read again from the last record it
 * delivered (a plain file from that record's offset, a gzip file from that
 * record's member), not from its start: retried, never skipped for good, and
 * a file that grows by appends is not decoded again and again. The record
 * read again first must be the one delivered last (same metadata and
 * payload): otherwise the file was replaced under its name, and is read whole.
 * So every file read is stat'ed again at each listing (and kept as a few
 * numbers), except one sealed by a shoebox writer and read to its end: it
 * cannot change, and its name alone is kept (a follower lists for months).
 * A name a listing no longer shows is forgotten (gone()): a file that later
 * comes under it, a sealed file's replacement too, is a new file, read whole.
 */
import { crc32, crc32Continue } from '../checksum.js'
import type { Position, ShoeboxRecord } from '../record.js'
import type { ListedFile } from './order.js'
import type { ListedName } from './list.js'

interface Observation { size: number, mtimeMs: number }

function same (a: Observation, b: Observation): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs
}

/** The longest a file must stay unchanged to count as stable: a long poll interval need not delay reading. */
const MAX_SETTLE = 1000

/** How a read of a file ended: at its end, or cut short (mid-record: it may still be growing). */
export type ReadEnd = 'to-end' | 'cut-short'

/**
 * A file read, as it was when read, and where a read again starts: the last
 * record delivered (its offset, its member's or -1 for a plain file, and its
 * mark; offset -1 for none). Numbers only, in one small object: a follower
 * keeps one per file it ever read, for months (a Position and a mark string
 * per file were ~1 KB of heap each).
 */
class ReadFile {
  constructor (
    readonly size: number,
    readonly mtimeMs: number,
    readonly offset: number,
    readonly memberOffset: number,
    readonly skip: number,
    readonly mark: number
  ) {}
}

export class FollowGate {
  /**
   * Final names of shoebox writers' temporary files seen, not yet read:
   * those of the last listing (see listing()), and those of earlier ones
   * whose file the last listing shows (sealed, not read yet).
   */
  readonly sealing = new Set<string>()
  /** The final names of the temporary files the listing under way sees (filled by the lister). */
  #seen = new Set<string>()
  /**
   * Sealing names the last listing showed neither file of (see listed()):
   * a writer seals by linking its temporary file into place and then
   * unlinking it, and a listing that read the directory before the link and
   * looked the temporary file up after the unlink sees neither. So a name is
   * forgotten only when two listings in a row miss it.
   */
  #missed = new Set<string>()
  /** How long a file must stay unchanged (ms); a file waiting on it is looked at again after this, not a whole poll. */
  readonly settle: number
  /** Files listed but not read yet, as last seen. */
  #observed = new Map<string, Observation>()
  /** Files read that may still change (see ReadFile). */
  #read = new Map<string, ReadFile>()
  /**
   * Files read to their end that a shoebox writer sealed (their temporary
   * name was seen): sealing links a finished file into place and never
   * replaces one (roll/names.ts), so they never change, and need not be
   * looked at (stat'ed) again: the name alone is kept.
   */
  #final = new Set<string>()

  constructor (pollInterval: number) {
    this.settle = Math.min(pollInterval, MAX_SETTLE)
  }

  /** Must the listing give `name`'s size and mtime (stat it)? Not for a sealed file read whole: it cannot change. */
  mayChange (name: string): boolean {
    return !this.#final.has(name)
  }

  /** Has `file` changed since it was read (so it must be read again)? */
  changed (file: ListedName): boolean {
    const read = this.#read.get(file.name)
    return read !== undefined && (read.size !== file.size || read.mtimeMs !== file.mtimeMs)
  }

  /** May `file` (listed at `now`, unread or changed) be read now? Once per listing and file. */
  ready (file: ListedFile, now: number): boolean {
    if (this.sealed(file.name)) return true
    const before = this.#observed.get(file.name)
    this.#observed.set(file.name, { size: file.size, mtimeMs: file.mtimeMs })
    return (before !== undefined && same(before, file)) || now - file.mtimeMs >= this.settle
  }

  /** Is `name` a file a shoebox writer sealed, not read yet: whole, so it cannot grow? */
  sealed (name: string): boolean {
    return !this.#read.has(name) && this.sealing.has(name)
  }

  /** Was `name` read before (so files after it need not wait while it changes)? */
  reread (name: string): boolean {
    return this.#read.has(name)
  }

  /** The position of the last record earlier reads of `name` delivered: reading it again continues after it. */
  resumeAt (name: string): Position | undefined {
    const read = this.#read.get(name)
    if (read === undefined || read.offset < 0) return undefined
    return read.memberOffset < 0
      ? { file: name, offset: read.offset }
      : { file: name, offset: read.offset, member: { offset: read.memberOffset, skip: read.skip } }
  }

  /** Is `record` the last one earlier reads of `name` delivered (so the file there is still the one read)? */
  isLast (name: string, record: ShoeboxRecord): boolean {
    const read = this.#read.get(name)
    return read !== undefined && read.offset >= 0 && read.mark === markOf(record)
  }

  /** `file` was read (to its end, or until it ended mid-record); `last` is the last record it delivered, if any. */
  read (file: ListedFile, last: ShoeboxRecord | undefined, end: ReadEnd): void {
    const { name } = file
    this.#observed.delete(name)
    const sealed = this.sealing.delete(name)
    this.#missed.delete(name)
    if (sealed && end === 'to-end' && !this.#read.has(name)) {
      this.#final.add(name)
      return
    }
    const before = this.#read.get(name)
    const position = last?.position
    this.#read.set(name, position === undefined
      ? new ReadFile(file.size, file.mtimeMs, before?.offset ?? -1, before?.memberOffset ?? -1, before?.skip ?? 0, before?.mark ?? 0)
      : new ReadFile(file.size, file.mtimeMs, position.offset, position.member?.offset ?? -1, position.member?.skip ?? 0, markOf(last as ShoeboxRecord)))
  }

  /** A listing starts: the set its lister fills with the final names of the temporary files it sees. */
  listing (): Set<string> {
    this.#seen = new Set()
    return this.#seen
  }

  /**
   * A listing ended (`listed` tells the names it shows): a name sealing
   * waits on whose temporary file is gone and whose file is not listed, in
   * this listing and the one before (#missed), was deleted before it was
   * read (an uploader faster than the follower), or the writer died:
   * forgotten, as is a file not read yet that went.
   */
  listed (listed: (name: string) => boolean): void {
    for (const name of this.sealing) {
      if (this.#seen.has(name) || listed(name)) this.#missed.delete(name)
      else if (this.#missed.delete(name)) this.sealing.delete(name)
      else this.#missed.add(name)
    }
    for (const name of this.#seen) this.sealing.add(name)
    for (const name of this.#observed.keys()) if (!listed(name)) this.#observed.delete(name)
  }

  /** Is `name` waiting to be stable (listed before, not read yet)? */
  waiting (name: string): boolean {
    return this.#observed.has(name)
  }

  /** How many files wait to be stable. */
  get waitingCount (): number {
    return this.#observed.size
  }

  /** `name` is no longer the file that was read (it was replaced): its next read starts from its first byte. */
  forget (name: string): void {
    this.#read.delete(name)
  }

  /**
   * A listing no longer shows `name`: its file was deleted (or renamed away).
   * Nothing is kept of it, and a file that comes under the name later is new
   * (a sealed one was never looked at again: its replacement went unread).
   */
  gone (name: string): void {
    this.#read.delete(name)
    this.#final.delete(name)
  }

  /** How many files are kept as read, as final (names alone), waiting to be stable, and sealing names: for tests. */
  get kept (): { read: number, final: number, waiting: number, sealing: number } {
    return { read: this.#read.size, final: this.#final.size, waiting: this.#observed.size, sealing: this.sealing.size }
  }
}

/**
 * What tells one record from another cheaply, as one number: its payload's
 * length (the low 21 bits) and the CRC32 of its payload and metadata.
 */
function markOf (record: ShoeboxRecord): number {
  let crc = crc32(record.payload)
  for (const key in record.metadata) crc = crc32Continue(crc, Buffer.from(`\u0000${key}\u0000${record.metadata[key]}`))
  return (record.payload.length % 0x200000) * 0x100000000 + crc
}
