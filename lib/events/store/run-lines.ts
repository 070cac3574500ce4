/**
 * A run's events in a range as their texts only, what a get sends: for a
 * run that no other source of the read overlaps (read-lines.ts), so nothing
 * needs its events' keys to merge. Per event it makes one Buffer view of the
 * text, no event object, no bigint and no id buffer (those cost the server
 * more than checking the record: bench/RESULTS.md, "get speed, fifth pass").
 *
 * Each record is still checked (header and record checksums) before its
 * text goes out: a block's records in one native call where the native part
 * is built (format/checked-runs.ts). Blocks whose times the run index puts
 * wholly inside the range are sent without reading a time; the range's edge
 * blocks read each record's time (and, at a start_id's time, its id). One
 * event per (time, id), as distinct() in merge.ts: a record whose time bytes
 * equal the one before it has its id compared too, and a copy of the same key
 * is left out.
 *
 * Records are read from their bytes in the layout every run has (metadata
 * `t` then `id`: event-records.ts); a record in any other layout goes
 * through readRecord(), so an unusual file is read the same, only slower.
 */
import { readRecord } from '../../format/codec.js'
import { DEFAULT_MAX_RECORD_SIZE, MAGIC, PREAMBLE_SIZE, V2_TRAILER_SIZE } from '../../format/constants.js'
import { checkedV2Size, checkV2, v2MetadataStart } from '../../format/v2.js'
import { CheckedRuns } from '../../format/checked-runs.js'
import { parseEventId } from '../event-id.js'
import { damaged, readBlockBytes, type BlockReader, type RunInfo } from './run-file.js'
import type { EventRange } from './stored-event.js'

/** The run's event texts in the range, in order (or its reverse), one block's worth at a time. */
export async function * readRunLines (run: RunInfo, range: EventRange, descending: boolean, open: () => Promise<BlockReader>): AsyncGenerator<Buffer[]> {
  const scan = new LineScan(range, descending)
  for await (const block of readBlockBytes(run, range, descending, open)) {
    const lines = scan.block(block.bytes, block.name, block.offset, blockInRange(run, block.index, range))
    if (lines.length > 0) yield lines
  }
}

/** Does the run index put every event of block `k` inside the range (so no time need be read)? */
export function blockInRange (run: RunInfo, k: number, range: EventRange): boolean {
  const first = BigInt(run.blocks[k][1])
  // A run is sorted: the block's last time is at most the next block's first, or the run's last.
  const last = BigInt(k + 1 < run.blocks.length ? run.blocks[k + 1][1] : run.maxTime)
  if (last > range.to) return false
  return range.after === undefined ? first >= range.from : first > range.after.time
}

/** A record read another way than from its bytes (not in the `t`, `id` layout). */
interface OtherRecord {
  t: string
  id: string
  text: Buffer
}

/** Where a record's parts are in its block: six numbers per record in LineScan's marks. */
const TEXT_START = 0
const TEXT_END = 1
const T_START = 2
const T_END = 3
const ID_START = 4
const ID_END = 5
const MARKS = 6

/**
 * Reads blocks of one run in the order of the read, remembering the last
 * event it let through (for the one-event-per-key rule across blocks).
 */
class LineScan {
  readonly #range: EventRange
  readonly #descending: boolean
  /** MARKS numbers per record of the block at hand; T_START -1 for a record in #others. */
  readonly #marks: number[] = []
  readonly #others = new Map<number, OtherRecord>()
  /** Records of the block at hand that the native part has checked already (one call, not one per record). */
  readonly #checked = new CheckedRuns()
  // The last event let through: its block and marks, or its strings when it was an OtherRecord.
  #lastBuf: Buffer | undefined
  #lastT = ''
  #lastId = ''
  #lastTStart = -1
  #lastTEnd = -1
  #lastIdStart = -1
  #lastIdEnd = -1

  constructor (range: EventRange, descending: boolean) {
    this.#range = range
    this.#descending = descending
  }

  /** The texts of the block's records that are in the range and not a copy of the one before, in the read's order. */
  block (buf: Buffer, name: string, base: number, whole: boolean): Buffer[] {
    const count = this.#mark(buf, name, base)
    const marks = this.#marks
    const out: Buffer[] = []
    for (let n = 0; n < count; n++) {
      const r = this.#descending ? count - 1 - n : n
      const m = r * MARKS
      const other = marks[m + T_START] < 0 ? this.#others.get(r) : undefined
      if (!whole && !this.#inRange(buf, m, other)) continue
      if (this.#sameKeyAsLast(buf, m, other)) continue
      out.push(other !== undefined ? other.text : buf.subarray(marks[m + TEXT_START], marks[m + TEXT_END]))
      this.#keep(buf, m, other)
    }
    return out
  }

  /** Check every record of the block and note where its parts are; returns how many there are. */
  #mark (buf: Buffer, name: string, base: number): number {
    const marks = this.#marks
    marks.length = 0
    this.#others.clear()
    let count = 0
    const checked = this.#checked
    checked.reset()
    for (let at = 0; at < buf.length; count++) {
      const size = checked.vouched(buf, at, buf.length, DEFAULT_MAX_RECORD_SIZE)
        ? checkedV2Size(buf, at)
        : buf.length - at >= PREAMBLE_SIZE && buf.readUInt32LE(at) === MAGIC && buf.readUInt16LE(at + 4) === 2
          ? checkV2(buf, at, buf.length, DEFAULT_MAX_RECORD_SIZE)
          : undefined
      if (typeof size === 'number' && markEventRecord(buf, at, size, marks)) {
        at += size
        continue
      }
      // Not a v2 record in the event layout, or damaged: readRecord reads it, or says what is wrong.
      const result = readRecord(buf, at, buf.length, DEFAULT_MAX_RECORD_SIZE, false)
      if (result.kind !== 'record') throw damaged(name, base + at, result.kind === 'need' ? 'truncated record' : result.detail)
      const { metadata, payload } = result.record
      this.#others.set(count, { t: metadata.t, id: metadata.id, text: payload })
      marks.push(0, 0, -1, -1, -1, -1)
      at += result.size
    }
    return count
  }

  #inRange (buf: Buffer, m: number, other: OtherRecord | undefined): boolean {
    const range = this.#range
    const time = BigInt(other !== undefined ? other.t : latin1(buf, this.#marks[m + T_START], this.#marks[m + T_END]))
    if (time > range.to) return false
    if (range.after === undefined) return time >= range.from
    if (time !== range.after.time) return time > range.after.time
    const id = parseEventId(other !== undefined ? other.id : latin1(buf, this.#marks[m + ID_START], this.#marks[m + ID_END]))
    return id.compare(range.after.id, 8, 16, 8, 16) > 0
  }

  /** Is the record's (time, id bytes 8..15) the last one let through's (compareKeys() === 0)? */
  #sameKeyAsLast (buf: Buffer, m: number, other: OtherRecord | undefined): boolean {
    const last = this.#lastBuf
    if (last === undefined) return false
    const marks = this.#marks
    if (other === undefined && this.#lastTStart >= 0) {
      // The usual case: both time values compared as bytes, no string made.
      const start = marks[m + T_START]
      const length = marks[m + T_END] - start
      if (length !== this.#lastTEnd - this.#lastTStart) return false
      for (let i = 0; i < length; i++) if (buf[start + i] !== last[this.#lastTStart + i]) return false
    } else if (this.#lastTime() !== (other !== undefined ? other.t : latin1(buf, marks[m + T_START], marks[m + T_END]))) {
      return false
    }
    const id = parseEventId(other !== undefined ? other.id : latin1(buf, marks[m + ID_START], marks[m + ID_END]))
    return id.compare(parseEventId(this.#lastIdText()), 8, 16, 8, 16) === 0
  }

  #keep (buf: Buffer, m: number, other: OtherRecord | undefined): void {
    this.#lastBuf = buf
    if (other !== undefined) {
      this.#lastT = other.t
      this.#lastId = other.id
      this.#lastTStart = -1
      return
    }
    const marks = this.#marks
    this.#lastTStart = marks[m + T_START]
    this.#lastTEnd = marks[m + T_END]
    this.#lastIdStart = marks[m + ID_START]
    this.#lastIdEnd = marks[m + ID_END]
  }

  #lastTime (): string {
    return this.#lastTStart < 0 ? this.#lastT : latin1(this.#lastBuf as Buffer, this.#lastTStart, this.#lastTEnd)
  }

  #lastIdText (): string {
    return this.#lastTStart < 0 ? this.#lastId : latin1(this.#lastBuf as Buffer, this.#lastIdStart, this.#lastIdEnd)
  }
}

/**
 * Note the parts of the checked v2 record at `at` if its metadata is the
 * event layout, exactly: two pairs, keys `t` and `id`, then the text.
 * Returns false (noting nothing) for any other metadata.
 */
function markEventRecord (buf: Buffer, at: number, size: number, marks: number[]): boolean {
  const meta = v2MetadataStart(buf, at)
  const textEnd = at + size - V2_TRAILER_SIZE
  const metaEnd = textEnd - buf.readUInt32LE(at + 12)
  // count 2 | key 1, value t | key 2, value id | "t" t-value "id" id-value
  if (metaEnd - meta < 23 || buf.readInt32LE(meta) !== 2 || buf.readInt32LE(meta + 4) !== 1 || buf.readInt32LE(meta + 12) !== 2) return false
  const tLength = buf.readInt32LE(meta + 8)
  const idLength = buf.readInt32LE(meta + 16)
  const tStart = meta + 21
  const idStart = tStart + tLength + 2
  if (tLength < 0 || idLength < 0 || idStart + idLength !== metaEnd) return false
  if (buf[meta + 20] !== 0x74 || buf[idStart - 2] !== 0x69 || buf[idStart - 1] !== 0x64) return false // 't', 'i' 'd'
  marks.push(metaEnd, textEnd, tStart, tStart + tLength, idStart, idStart + idLength)
  return true
}

/** Times and ids are ASCII: each byte is its character. */
function latin1 (buf: Buffer, start: number, end: number): string {
  return buf.toString('latin1', start, end)
}
