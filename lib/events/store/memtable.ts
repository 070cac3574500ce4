/**
 * The events that are durable in the write-ahead log but not yet in a run
 * file, per namespace and stream. Appends are O(1); a stream is sorted
 * lazily, when it is read or flushed, since events may arrive in any time
 * order and most puts are never read before the next flush.
 */
import { compareKeys, inRange, type EventRange, type StoredEvent } from './stored-event.js'

interface StreamEvents {
  ns: string
  stream: string
  events: StoredEvent[]
  sorted: boolean
}

/**
 * Per event, what the memtable's size counts beyond the text: the event
 * object, its bigint time, two Buffer views (body, id), the id text and a
 * list slot, about 300 bytes as a heap snapshot of the server shows them
 * (it was 96, so a "16 MiB" memtable held ~2.5x that).
 */
const OVERHEAD = 320

export class Memtable {
  #streams = new Map<string, StreamEvents>()
  #bytes = 0

  /** Approximate memory held (event texts plus overhead). */
  get bytes (): number {
    return this.#bytes
  }

  get empty (): boolean {
    return this.#streams.size === 0
  }

  add (ns: string, stream: string, event: StoredEvent): void {
    this.addAll(ns, stream, [event])
  }

  /** A put's events of one stream: the stream is looked up once, not per event. */
  addAll (ns: string, stream: string, events: readonly StoredEvent[]): void {
    if (events.length === 0) return
    const key = streamKey(ns, stream)
    let entry = this.#streams.get(key)
    if (entry === undefined) {
      entry = { ns, stream, events: [], sorted: true }
      this.#streams.set(key, entry)
    }
    const list = entry.events
    let sorted = entry.sorted
    let bytes = 0
    for (const event of events) {
      if (sorted && list.length > 0 && compareKeys(list[list.length - 1], event) > 0) sorted = false
      list.push(event)
      bytes += event.body.length + OVERHEAD
    }
    entry.sorted = sorted
    this.#bytes += bytes
  }

  /** The stream's events in the range, sorted ascending (a copy of the references: later changes do not show). */
  select (ns: string, stream: string, range: EventRange): StoredEvent[] {
    const entry = this.#sortedEntry(ns, stream)
    if (entry === undefined) return []
    return entry.events.filter((e) => inRange(e, range))
  }

  /** Remove exactly these events (a delete decided at one point in the log). */
  remove (ns: string, stream: string, victims: ReadonlySet<StoredEvent>): void {
    if (victims.size === 0) return
    const key = streamKey(ns, stream)
    const entry = this.#streams.get(key)
    if (entry === undefined) return
    const kept = entry.events.filter((e) => !victims.has(e))
    for (const e of entry.events) if (victims.has(e)) this.#bytes -= e.body.length + OVERHEAD
    if (kept.length === 0) this.#streams.delete(key)
    else entry.events = kept
  }

  /** Every stream with its events sorted ascending (for a flush to run files). */
  * streams (): Generator<{ ns: string, stream: string, events: StoredEvent[] }> {
    for (const entry of this.#streams.values()) {
      const sorted = this.#sortedEntry(entry.ns, entry.stream)
      if (sorted !== undefined) yield { ns: sorted.ns, stream: sorted.stream, events: sorted.events }
    }
  }

  #sortedEntry (ns: string, stream: string): StreamEvents | undefined {
    const entry = this.#streams.get(streamKey(ns, stream))
    if (entry !== undefined && !entry.sorted) {
      entry.events.sort(compareKeys)
      entry.sorted = true
    }
    return entry
  }
}

/** One map key per (namespace, stream); NUL cannot occur in either. */
export function streamKey (ns: string, stream: string): string {
  return `${ns}\u0000${stream}`
}
