/**
 * A put's events of one stream as columns, the way the put path hands them
 * to the store: times in a BigInt64Array (also seen as 32-bit words, so the
 * stamper writes a time read from the body without making a bigint), ids in
 * one buffer (16 bytes each), and each text as (which of the put's buffers,
 * offset, length). The log's record (put-records.ts) and the memtable
 * (memtable.ts) copy from these columns, so a put costs a few typed arrays
 * per stream instead of an object, a bigint and two Buffer views per event,
 * which the scavenger had to trace (GC was ~17% of the server's busy time).
 */
import { endianness } from 'node:os'
import { ColumnSlab } from './column-slab.js'
import type { StoredEvent } from './stored-event.js'

/** Which 32-bit word of an int64 holds its low half. */
export const LOW_WORD = endianness() === 'LE' ? 0 : 1

/** Every put's rows carve from this one (column-slab.ts): rows live only while their put is stored. */
const PUT_SLAB = new ColumnSlab()

export class PutRows {
  /** Rows filled (rows past it are scratch). */
  count = 0
  readonly times: BigInt64Array
  /** `times` as 32-bit words: event i's low half at 2i + LOW_WORD, its high half at the other. */
  readonly words: Uint32Array
  readonly ids: Buffer
  /** Per row: index into `memory`, byte offset and length of the text. */
  readonly where: Uint32Array
  /** The buffers texts lie in (a put's body, its stamped copy). */
  readonly memory: Buffer[] = []

  constructor (capacity: number) {
    const { times, words, ids, where } = PUT_SLAB.columns(capacity)
    this.times = times
    this.words = words
    this.ids = ids
    this.where = where
  }

  /** Rows for event objects (the store's callers that have them: tests, older code). */
  static fromEvents (events: readonly StoredEvent[]): PutRows {
    const rows = new PutRows(events.length)
    for (const [i, e] of events.entries()) {
      rows.times[i] = e.time
      e.id.copy(rows.ids, 16 * i, 0, 16)
      rows.where[3 * i] = rows.memory.length
      rows.where[3 * i + 1] = 0
      rows.where[3 * i + 2] = e.body.length
      rows.memory.push(e.body)
    }
    rows.count = events.length
    return rows
  }

  /** Row i's text. */
  body (i: number): Buffer {
    const w = this.where
    const offset = w[3 * i + 1]
    return this.memory[w[3 * i]].subarray(offset, offset + w[3 * i + 2])
  }

  /** The texts' total size. */
  textBytes (): number {
    let n = 0
    for (let i = 0; i < this.count; i++) n += this.where[3 * i + 2]
    return n
  }
}

/** A put's events of one stream, as rows or as event objects. */
export type PutBatch = { stream: string, rows: PutRows } | { stream: string, events: readonly StoredEvent[] }

/** The batch's rows (made from its events when it has objects). */
export function rowsOf (batch: PutBatch): PutRows {
  return 'rows' in batch ? batch.rows : PutRows.fromEvents(batch.events)
}
