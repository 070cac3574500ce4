/**
 * The shipper's batching rule, apart from any I/O: events gather in one open
 * batch per namespace and stream, and a batch is cut when it reaches the
 * event count or byte size, or when its oldest event has waited maxAge.
 * One stream's batches come out in the order its events went in; the shipper
 * sends them one at a time, so the server sees a stream's events in order.
 */

/** One event waiting to be shipped. */
export interface QueuedEvent {
  /** The event's JSON text, as it will be sent. */
  text: string
  /** Its UTF-8 length. */
  bytes: number
  /** Told the event's fate: null once the server acknowledged it, else why not. */
  done: ((error: Error | null) => void) | undefined
  /** Where a replayed event came from (spill.ts), so its acknowledgement is recorded there. */
  origin: unknown
}

export interface Batch {
  /** streamKey(namespace, stream), computed once. */
  key: string
  /** Undefined: the request carries no namespace, so the server's default applies (as pykronos does). */
  namespace: string | undefined
  stream: string
  events: QueuedEvent[]
  /** Sum of the events' bytes. */
  bytes: number
  /** When its first event arrived (ms). */
  openedAt: number
}

export interface BatcherLimits {
  maxEvents: number
  maxBytes: number
  maxAgeMs: number
}

/** The key of a namespace and stream; NUL cannot occur in a stream name. */
export function streamKey (namespace: string | undefined, stream: string): string {
  return `${namespace ?? ''}\u0000${namespace === undefined ? '-' : '+'}\u0000${stream}`
}

export class Batcher {
  readonly limits: BatcherLimits
  readonly #open = new Map<string, Batch>()
  #events = 0

  constructor (limits: BatcherLimits) {
    this.limits = { ...limits }
  }

  /** Events in open (not yet cut) batches. */
  get events (): number {
    return this.#events
  }

  /** Add an event; returns the batches this cut (zero, one or two), in order. */
  add (namespace: string | undefined, stream: string, event: QueuedEvent, now: number): Batch[] {
    const key = streamKey(namespace, stream)
    const cut: Batch[] = []
    let batch = this.#open.get(key)
    // An event that would push a non-empty batch over the byte limit starts the next one.
    if (batch !== undefined && batch.bytes + event.bytes > this.limits.maxBytes) {
      cut.push(this.#take(key, batch))
      batch = undefined
    }
    if (batch === undefined) {
      batch = { key, namespace, stream, events: [], bytes: 0, openedAt: now }
      this.#open.set(key, batch)
    }
    batch.events.push(event)
    batch.bytes += event.bytes
    this.#events++
    if (batch.events.length >= this.limits.maxEvents || batch.bytes >= this.limits.maxBytes) cut.push(this.#take(key, batch))
    return cut
  }

  /** Cut every batch that has waited maxAge by `now`, oldest first. */
  due (now: number): Batch[] {
    const out: Batch[] = []
    for (const [key, batch] of this.#open) {
      if (now - batch.openedAt >= this.limits.maxAgeMs) out.push(this.#take(key, batch))
    }
    return out.sort((a, b) => a.openedAt - b.openedAt)
  }

  /** Cut every open batch (end(), an exit flush). */
  all (): Batch[] {
    const out: Batch[] = []
    for (const [key, batch] of this.#open) out.push(this.#take(key, batch))
    return out.sort((a, b) => a.openedAt - b.openedAt)
  }

  /** When the oldest open batch falls due, or undefined when none is open. */
  nextDue (): number | undefined {
    let first: number | undefined
    for (const batch of this.#open.values()) {
      if (first === undefined || batch.openedAt < first) first = batch.openedAt
    }
    return first === undefined ? undefined : first + this.limits.maxAgeMs
  }

  #take (key: string, batch: Batch): Batch {
    this.#open.delete(key)
    this.#events -= batch.events.length
    return batch
  }
}
