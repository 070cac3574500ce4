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
 */
import { crc32 } from '../checksum.js'
import type { Position, ShoeboxRecord } from '../record.js'
import type { ListedFile } from './order.js'

interface Observation { size: number, mtimeMs: number }

function same (a: Observation, b: Observation): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs
}

/** The longest a file must stay unchanged to count as stable: a long poll interval need not delay reading. */
const MAX_SETTLE = 1000

export class FollowGate {
  /** Final names of shoebox writers' temporary files seen so far (filled by the lister). */
  readonly sealing = new Set<string>()
  /** How long a file must stay unchanged (ms); a file waiting on it is looked at again after this, not a whole poll. */
  readonly settle: number
  /** Files listed but not read yet, as last seen. */
  #observed = new Map<string, Observation>()
  /** Files read, as they were when read, and the position and mark of the last record delivered from them. */
  #read = new Map<string, Observation & { last: Position | undefined, mark: string | undefined }>()

  constructor (pollInterval: number) {
    this.settle = Math.min(pollInterval, MAX_SETTLE)
  }

  /** Has `file` changed since it was read (so it must be read again)? */
  changed (file: ListedFile): boolean {
    const read = this.#read.get(file.name)
    return read !== undefined && !same(read, file)
  }

  /** May `file` (listed at `now`, unread or changed) be read now? Once per listing and file. */
  ready (file: ListedFile, now: number): boolean {
    if (!this.#read.has(file.name) && this.sealing.has(file.name)) return true
    const before = this.#observed.get(file.name)
    this.#observed.set(file.name, { size: file.size, mtimeMs: file.mtimeMs })
    return (before !== undefined && same(before, file)) || now - file.mtimeMs >= this.settle
  }

  /** Was `name` read before (so files after it need not wait while it changes)? */
  reread (name: string): boolean {
    return this.#read.has(name)
  }

  /** The position of the last record earlier reads of `name` delivered: reading it again continues after it. */
  resumeAt (name: string): Position | undefined {
    return this.#read.get(name)?.last
  }

  /** Is `record` the last one earlier reads of `name` delivered (so the file there is still the one read)? */
  isLast (name: string, record: ShoeboxRecord): boolean {
    const read = this.#read.get(name)
    return read?.mark !== undefined && read.mark === markOf(record)
  }

  /** `file` was read (to its end, or until it ended mid-record); `last` is the last record it delivered, if any. */
  read (file: ListedFile, last: ShoeboxRecord | undefined): void {
    const before = this.#read.get(file.name)
    const kept = last === undefined ? { last: before?.last, mark: before?.mark } : { last: last.position, mark: markOf(last) }
    this.#read.set(file.name, { size: file.size, mtimeMs: file.mtimeMs, ...kept })
    this.#observed.delete(file.name)
    this.sealing.delete(file.name)
  }

  /** `name` is no longer the file that was read (it was replaced): its next read starts from its first byte. */
  forget (name: string): void {
    this.#read.delete(name)
  }
}

/** What tells one record from another cheaply: its payload's length and CRC, and its metadata. */
function markOf (record: ShoeboxRecord): string {
  let mark = `${record.payload.length}:${crc32(record.payload)}`
  for (const key in record.metadata) mark += `\u0000${key}\u0000${record.metadata[key]}`
  return mark
}
