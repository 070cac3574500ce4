/**
 * The events that are durable in the write-ahead log but not yet in a run
 * file, per namespace and stream. Appends are O(1); a stream is sorted
 * lazily, when it is read or flushed, since events may arrive in any time
 * order and most puts are never read before the next flush.
 *
 * Kept as columns, not as an object per event: per stream, times in a
 * BigInt64Array, ids in one buffer, and each text as (the memory it lies in,
 * offset, length) in typed arrays. A put's event objects, their bigints and
 * Buffer views then die young, where holding them until the flush made the
 * scavenger copy every one of them twice (GC was ~11% of the server's busy
 * time). Event objects are made again only for what a read or a flush asks
 * for, a batch at a time.
 */
import { LOW_WORD, type PutRows } from './put-rows.js'
import { inRange, type EventRange, type StoredEvent } from './stored-event.js'

/**
 * Per event, what the memtable's size counts beyond the text: its columns
 * (time 8, id 16, text place 12 bytes) with room for their doubling.
 */
const OVERHEAD = 64

/**
 * Per stream, what the memtable's size counts besides its events: its
 * columns' object, typed arrays and map entry (~1.1 KB of heap, measured
 * with 100,000 one-event streams). Uncounted, a put naming many streams
 * held hundreds of MB while the memtable counted a few, and no flush came.
 */
const STREAM_OVERHEAD = 1024

/** Events per batch handed to a flush. */
const BATCH = 1024

/** An event as a read of the memtable gives it: where it is, so that a delete can remove exactly it. */
class MemtableEvent implements StoredEvent {
  constructor (
    readonly time: bigint, readonly id: Buffer, readonly body: Buffer,
    readonly columns: StreamColumns, readonly slot: number
  ) {}
}

class StreamColumns {
  readonly ns: string
  readonly stream: string
  /** Slots used (removed ones included) and live events. */
  count = 0
  live = 0
  times: BigInt64Array
  ids: Buffer
  /** Per slot: index into `memory`, byte offset and length of the text. */
  where: Uint32Array
  /** The ArrayBuffers texts lie in (a put's body or its stamped copy), each once per run of slots. */
  readonly memory: ArrayBuffer[] = []
  removed: Uint8Array | undefined
  /** Slots in (time, id) order; undefined while they are in slot order already. */
  order: Uint32Array | undefined
  sorted = true
  #lastMemory: ArrayBufferLike | undefined

  /** `capacity`: the slots its first put needs; they double from there. */
  constructor (ns: string, stream: string, capacity: number) {
    this.ns = ns
    this.stream = stream
    this.times = new BigInt64Array(capacity)
    this.ids = Buffer.allocUnsafeSlow(capacity * 16)
    this.where = new Uint32Array(capacity * 3)
  }

  /** A put's rows, copied column by column (no event object, no bigint made). */
  addRows (rows: PutRows): void {
    const n = rows.count
    while (this.count + n > this.times.length) this.#grow()
    const base = this.count
    this.times.set(rows.times.subarray(0, n), base)
    rows.ids.copy(this.ids, base * 16, 0, n * 16)
    // Each of the put's buffers that a row uses, once in `memory` (one no row uses must not be
    // held); offsets become offsets in its ArrayBuffer.
    const index: number[] = []
    const w = this.where
    const from = rows.where
    for (let i = 0; i < n; i++) {
      const m = from[3 * i]
      if (index[m] === undefined) {
        const buf = rows.memory[m].buffer
        if (buf !== this.#lastMemory) {
          this.#lastMemory = buf
          this.memory.push(buf as ArrayBuffer)
        }
        index[m] = this.memory.length - 1
      }
      const at = (base + i) * 3
      w[at] = index[m]
      w[at + 1] = rows.memory[m].byteOffset + from[3 * i + 1]
      w[at + 2] = from[3 * i + 2]
    }
    if (this.sorted) {
      const words = new Uint32Array(this.times.buffer)
      for (let i = Math.max(1, base); i < base + n && this.sorted; i++) {
        if (compareSlots(words, this.ids, i - 1, i) > 0) this.sorted = false
      }
    }
    this.order = undefined
    this.count += n
    this.live += n
  }

  /** Slot `i` as an event object. */
  event (i: number): MemtableEvent {
    const w = this.where
    const body = Buffer.from(this.memory[w[i * 3]], w[i * 3 + 1], w[i * 3 + 2])
    return new MemtableEvent(this.times[i], this.ids.subarray(i * 16, i * 16 + 16), body, this, i)
  }

  textBytes (i: number): number {
    return this.where[i * 3 + 2]
  }

  isRemoved (i: number): boolean {
    return this.removed !== undefined && this.removed[i] === 1
  }

  /** The live slots in (time, id) order. */
  * slots (): Generator<number> {
    if (!this.sorted && this.order === undefined) this.#sort()
    const order = this.order
    for (let k = 0; k < this.count; k++) {
      const i = order === undefined ? k : order[k]
      if (!this.isRemoved(i)) yield i
    }
  }

  #sort (): void {
    const slots = Array.from({ length: this.count }, (_, i) => i)
    const times = this.times
    const ids = this.ids
    slots.sort((a, b) => {
      const ta = times[a]
      const tb = times[b]
      if (ta !== tb) return ta < tb ? -1 : 1
      return ids.compare(ids, b * 16 + 8, b * 16 + 16, a * 16 + 8, a * 16 + 16)
    })
    this.order = Uint32Array.from(slots)
  }

  #grow (): void {
    const n = this.times.length * 2
    const times = new BigInt64Array(n)
    times.set(this.times)
    this.times = times
    const ids = Buffer.allocUnsafeSlow(n * 16)
    this.ids.copy(ids)
    this.ids = ids
    const where = new Uint32Array(n * 3)
    where.set(this.where)
    this.where = where
    if (this.removed !== undefined) {
      const removed = new Uint8Array(n)
      removed.set(this.removed)
      this.removed = removed
    }
  }
}

/** compareKeys(slot a, slot b) from the times' 32-bit words (no bigint made). */
function compareSlots (words: Uint32Array, ids: Buffer, a: number, b: number): number {
  const ha = words[2 * a + 1 - LOW_WORD] | 0
  const hb = words[2 * b + 1 - LOW_WORD] | 0
  if (ha !== hb) return ha < hb ? -1 : 1
  const la = words[2 * a + LOW_WORD]
  const lb = words[2 * b + LOW_WORD]
  if (la !== lb) return la < lb ? -1 : 1
  return ids.compare(ids, b * 16 + 8, b * 16 + 16, a * 16 + 8, a * 16 + 16)
}

export class Memtable {
  #streams = new Map<string, StreamColumns>()
  #bytes = 0

  /** Approximate memory held (event texts plus overhead). */
  get bytes (): number {
    return this.#bytes
  }

  get empty (): boolean {
    return this.#streams.size === 0
  }

  /** A put's rows of one stream (a replayed log record's too: PutRows.fromEvents). */
  add (ns: string, stream: string, rows: PutRows): void {
    if (rows.count === 0) return
    const key = streamKey(ns, stream)
    let columns = this.#streams.get(key)
    if (columns === undefined) {
      columns = new StreamColumns(ns, stream, rows.count)
      this.#streams.set(key, columns)
      this.#bytes += STREAM_OVERHEAD
    }
    columns.addRows(rows)
    this.#bytes += rows.textBytes() + OVERHEAD * rows.count
  }

  /** The stream's events in the range, sorted ascending (later changes do not show). */
  select (ns: string, stream: string, range: EventRange): StoredEvent[] {
    const columns = this.#streams.get(streamKey(ns, stream))
    if (columns === undefined) return []
    const out: StoredEvent[] = []
    for (const i of columns.slots()) {
      const event = columns.event(i)
      if (inRange(event, range)) out.push(event)
    }
    return out
  }

  /** Remove exactly these events (a delete decided at one point in the log), as select() gave them. */
  remove (ns: string, stream: string, victims: ReadonlySet<StoredEvent>): void {
    if (victims.size === 0) return
    const key = streamKey(ns, stream)
    const columns = this.#streams.get(key)
    if (columns === undefined) return
    for (const victim of victims) {
      if (!(victim instanceof MemtableEvent) || victim.columns !== columns || columns.isRemoved(victim.slot)) continue
      columns.removed ??= new Uint8Array(columns.times.length)
      columns.removed[victim.slot] = 1
      columns.live--
      this.#bytes -= columns.textBytes(victim.slot) + OVERHEAD
    }
    if (columns.live === 0) {
      this.#streams.delete(key)
      this.#bytes -= STREAM_OVERHEAD
    }
  }

  /** Every stream with its events sorted ascending, in batches (for a flush to run files). */
  * streams (): Generator<{ ns: string, stream: string, batches: Generator<StoredEvent[]> }> {
    for (const columns of this.#streams.values()) {
      yield { ns: columns.ns, stream: columns.stream, batches: inBatches(columns) }
    }
  }
}

function * inBatches (columns: StreamColumns): Generator<StoredEvent[]> {
  let batch: StoredEvent[] = []
  for (const i of columns.slots()) {
    batch.push(columns.event(i))
    if (batch.length === BATCH) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

/** One map key per (namespace, stream); NUL cannot occur in either. */
export function streamKey (ns: string, stream: string): string {
  return `${ns}\u0000${stream}`
}
