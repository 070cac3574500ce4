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
 *
 * A get reads a MemtableSlice: the range's live slots in (time, id) order,
 * fixed when the get starts, and the columns they are read from. A slot's
 * contents never change once written (a put writes past `count`, #grow()
 * copies into new arrays, a delete only sets a flag, which the slice has
 * already applied), so the slice costs 4 bytes per event (none when no
 * event of the stream was deleted: a view of the order) and a get holds one
 * block of event objects or texts at a time. select() made every event of
 * the range up front (~11 MiB for a full 16 MiB memtable), for as long as
 * the get lived: 300 gets whose clients stopped reading took a server past
 * its 4 GB heap (bench/RESULTS.md, "serve: stalled gets and memory").
 */
import { ColumnSlab } from './column-slab.js'
import { LOW_WORD, type PutRows } from './put-rows.js'
import { inRange, type EventKey, type EventRange, type StoredEvent } from './stored-event.js'

/**
 * Per event, what the memtable's size counts beyond the text: its columns
 * (time 8, id 16, text place 12 bytes) with room for their doubling.
 */
const OVERHEAD = 64

/**
 * Per stream, what the memtable's size counts besides its events: its
 * columns' object, typed arrays and map entry (~1.1 KB of heap, measured
 * with 100,000 one-event streams; ~770 bytes since small columns are carved
 * from shared slabs, column-slab.ts: the rest of 1 KiB is left for the
 * malloc'd memory and fragmentation RSS shows beside the heap). Uncounted,
 * a put naming many streams held hundreds of MB while the memtable counted
 * a few, and no flush came.
 */
const STREAM_OVERHEAD = 1024

/** Events per batch handed to a flush, and per block of a get's slice. */
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
  /** Every slot in (time, id) order, made when a read or a flush first asks after a put (never written once made). */
  order: Uint32Array | undefined
  sorted = true
  #lastMemory: ArrayBufferLike | undefined
  /** The memtable's slab the columns are carved from while small (column-slab.ts). */
  readonly #slab: ColumnSlab

  /** `capacity`: the slots its first put needs; they double from there. */
  constructor (ns: string, stream: string, capacity: number, slab: ColumnSlab) {
    this.ns = ns
    this.stream = stream
    this.#slab = slab
    const { times, ids, where } = slab.columns(capacity)
    this.times = times
    this.ids = ids
    this.where = where
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
      const words = new Uint32Array(this.times.buffer, this.times.byteOffset, 2 * this.times.length)
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
    const order = this.#ordered()
    for (let k = 0; k < order.length; k++) {
      const i = order[k]
      if (!this.isRemoved(i)) yield i
    }
  }

  /** The live slots in the range, in (time, id) order, as they are now (later puts and deletes do not show). */
  slice (range: EventRange): MemtableSlice | undefined {
    const order = this.#ordered()
    // The range is one run of the order: its ends by binary search (a few bigints, not one per event).
    const after = range.after
    const lo = firstIndex(order, after === undefined ? (i) => this.times[i] >= range.from : (i) => this.#compareTo(i, after) > 0)
    const hi = firstIndex(order, (i) => this.times[i] > range.to, lo)
    if (lo >= hi) return undefined
    let slots = order.subarray(lo, hi)
    const removed = this.removed
    if (removed !== undefined) {
      const live = new Uint32Array(slots.length)
      let n = 0
      for (const i of slots) if (removed[i] !== 1) live[n++] = i
      if (n === 0) return undefined
      slots = n === live.length ? live : live.slice(0, n)
    }
    return new MemtableSlice(this.times, this.ids, this.where, this.memory, slots)
  }

  /** compareKeys(slot i, key). */
  #compareTo (i: number, key: EventKey): number {
    const time = this.times[i]
    if (time !== key.time) return time < key.time ? -1 : 1
    return this.ids.compare(key.id, 8, 16, i * 16 + 8, i * 16 + 16)
  }

  #ordered (): Uint32Array {
    this.order ??= this.sorted ? slotOrder(this.count) : this.#sorted()
    return this.order
  }

  #sorted (): Uint32Array {
    const slots = Array.from({ length: this.count }, (_, i) => i)
    const times = this.times
    const ids = this.ids
    slots.sort((a, b) => {
      const ta = times[a]
      const tb = times[b]
      if (ta !== tb) return ta < tb ? -1 : 1
      return ids.compare(ids, b * 16 + 8, b * 16 + 16, a * 16 + 8, a * 16 + 16)
    })
    return Uint32Array.from(slots)
  }

  #grow (): void {
    const n = this.times.length * 2
    const { times, ids, where } = this.#slab.columns(n)
    times.set(this.times)
    this.times = times
    this.ids.copy(ids)
    this.ids = ids
    where.set(this.where)
    this.where = where
    if (this.removed !== undefined) {
      const removed = new Uint8Array(n)
      removed.set(this.removed)
      this.removed = removed
    }
  }
}

/**
 * A get's events of one memtable stream (StreamColumns.slice()): its slots
 * and the columns as they were when the get started. Event objects, or
 * just texts, are made a block at a time as the get reads.
 */
export class MemtableSlice {
  readonly #times: BigInt64Array
  readonly #words: Uint32Array
  readonly #ids: Buffer
  readonly #where: Uint32Array
  /** The stream's `memory`, shared: later puts only append to it, and the slots name none of theirs. */
  readonly #memory: readonly ArrayBuffer[]
  readonly #slots: Uint32Array

  constructor (times: BigInt64Array, ids: Buffer, where: Uint32Array, memory: readonly ArrayBuffer[], slots: Uint32Array) {
    this.#times = times
    this.#words = new Uint32Array(times.buffer, times.byteOffset, times.length * 2)
    this.#ids = ids
    this.#where = where
    this.#memory = memory
    this.#slots = slots
  }

  /** How many events (copies of a key included). */
  get size (): number {
    return this.#slots.length
  }

  /** Its k-th event in (time, id) order. */
  event (k: number): StoredEvent {
    const i = this.#slots[k]
    return { time: this.#times[i], id: this.#ids.subarray(i * 16, i * 16 + 16), body: this.#text(i) }
  }

  /** Its events in (time, id) order or the reverse, a block at a time (copies of a key included, as a merge's source). */
  async * blocks (descending: boolean): AsyncGenerator<StoredEvent[]> {
    const n = this.#slots.length
    for (let start = 0; start < n; start += BATCH) {
      const block: StoredEvent[] = []
      for (let k = start; k < Math.min(n, start + BATCH); k++) block.push(this.event(descending ? n - 1 - k : k))
      yield block
    }
  }

  /**
   * Its texts in (time, id) order or the reverse, one per key (the first
   * copy in that order, as distinct() keeps), a block at a time: no event
   * object, for a get whose range no other source overlaps.
   */
  async * lines (descending: boolean): AsyncGenerator<Buffer[]> {
    const slots = this.#slots
    const n = slots.length
    let block: Buffer[] = []
    for (let k = 0; k < n; k++) {
      const i = slots[descending ? n - 1 - k : k]
      if (k > 0 && compareSlots(this.#words, this.#ids, slots[descending ? n - k : k - 1], i) === 0) continue
      block.push(this.#text(i))
      if (block.length === BATCH) {
        yield block
        block = []
      }
    }
    if (block.length > 0) yield block
  }

  #text (i: number): Buffer {
    const w = this.#where
    return Buffer.from(this.#memory[w[i * 3]], w[i * 3 + 1], w[i * 3 + 2])
  }
}

/** Slots 0..n-1: the order of a stream whose events came in order. */
function slotOrder (n: number): Uint32Array {
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  return order
}

/** The first k from `start` with `past(order[k])`, for a `past` false then true along the order. */
function firstIndex (order: Uint32Array, past: (slot: number) => boolean, start = 0): number {
  let lo = start
  let hi = order.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (past(order[mid])) hi = mid
    else lo = mid + 1
  }
  return lo
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
  /** Its streams' small columns: freed with the memtable once flushed. */
  readonly #slab = new ColumnSlab()

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
      columns = new StreamColumns(ns, stream, rows.count, this.#slab)
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

  /** What a get of the stream's range reads, fixed now (undefined: no event). */
  slice (ns: string, stream: string, range: EventRange): MemtableSlice | undefined {
    return this.#streams.get(streamKey(ns, stream))?.slice(range)
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
