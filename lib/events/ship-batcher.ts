/**
 * The shipper's batching rule, apart from any I/O: events gather in one open
 * batch per namespace and stream, and a batch is cut when it reaches the
 * event count or byte size, or when its oldest event has waited maxAge.
 * One stream's batches come out in the order its events went in; the shipper
 * applies their answers in that order (ship.ts).
 *
 * A batch is its put body, built in place: each event's text is encoded
 * once, straight into a Buffer that grows by doubling, so shipping an event
 * allocates no per-event object and no second copy of its text (joining
 * strings and encoding the join cost the shipper a few µs an event). Each
 * event keeps only its callback and where its text starts in the body.
 */
import { BatchBody, type IdTail } from './ship-body.js'

type Done = (error: Error | null) => void

/** The key of a namespace and stream; NUL cannot occur in a stream name. (Spill sidecars store it: keep the form.) */
export function streamKey (namespace: string | undefined, stream: string): string {
  return `${namespace ?? ''}\u0000${namespace === undefined ? '-' : '+'}\u0000${stream}`
}

export class Batch {
  /** streamKey(namespace, stream). */
  readonly key: string
  /** Undefined: the request carries no namespace, so the server's default applies (as pykronos does). */
  readonly namespace: string | undefined
  readonly stream: string
  /** When its first event arrived (ms, on the shipper's monotonic clock: performance.now()). */
  readonly openedAt: number
  /** Sum of the events' UTF-8 text bytes (the separators and the envelope not counted). */
  bytes = 0
  /** Each event's callback, in order: null once the server acknowledged it, else why not. */
  readonly dones: Array<Done | undefined> = []
  /** Where each replayed event came from (ship-spill.ts); undefined while the batch holds none. */
  origins: unknown[] | undefined
  /** Each event's `line` as written (ShipItem.line), for reports; undefined while the batch holds none. */
  lines: Array<number | undefined> | undefined
  readonly #body: BatchBody

  /** `capacity`: bytes to reserve for the body at once; `spare`: a buffer to build it in (see BatchBody). */
  constructor (key: string, namespace: string | undefined, stream: string, openedAt: number, capacity?: number, spare?: Buffer) {
    this.key = key
    this.namespace = namespace
    this.stream = stream
    this.openedAt = openedAt
    this.#body = new BatchBody(stream, namespace, capacity, spare)
  }

  /** The body's buffer, for another batch: this batch's body and texts are gone after. */
  release (): Buffer {
    return this.#body.release()
  }

  /** Events in the batch. */
  get count (): number {
    return this.dones.length
  }

  /** Body bytes so far. */
  get bodyLength (): number {
    return this.#body.length
  }

  /** Append an event's text (`tail`: see BatchBody.append); returns its UTF-8 length. */
  append (text: string, tail: string | IdTail | undefined, done: Done | undefined, origin: unknown, line: number | undefined): number {
    const bytes = this.#body.append(text, tail)
    this.#took(bytes, done, origin, line)
    return bytes
  }

  /** Move the last event into `to` (it overflowed this batch's byte limit). */
  moveLastTo (to: Batch): void {
    const i = this.dones.length - 1
    const bytes = to.#body.appendBytes(this.#body.removeLast())
    to.#took(bytes, this.dones[i], this.origins?.[i], this.lines?.[i])
    this.bytes -= bytes
    this.dones.length = i
    if (this.origins !== undefined) this.origins.length = i
    if (this.lines !== undefined) this.lines.length = i
  }

  /** The request body, `{"events": {stream: [...]}}` plus the namespace when set (the batch takes no more events). */
  body (): Buffer {
    return this.#body.seal()
  }

  /** Event i's text (for reports; decoded from the body). */
  text (i: number): string {
    return this.#body.text(i)
  }

  /**
   * Its events as two batches, the first half and the rest, in order, each
   * with its callbacks, origins and lines (for a body the server refused as
   * too large, sent again in parts). The texts are copied as they were sent,
   * @id included, so a part sent again is stored once.
   */
  split (): [Batch, Batch] {
    const half = Math.ceil(this.count / 2)
    return [this.#slice(0, half), this.#slice(half, this.count)]
  }

  #slice (from: number, to: number): Batch {
    const part = new Batch(this.key, this.namespace, this.stream, this.openedAt)
    for (let i = from; i < to; i++) part.#took(part.#body.appendBytes(this.#body.eventBytes(i)), this.dones[i], this.origins?.[i], this.lines?.[i])
    return part
  }

  #took (bytes: number, done: Done | undefined, origin: unknown, line: number | undefined): void {
    this.bytes += bytes
    this.origins = pushSparse(this.origins, this.dones.length, origin)
    this.lines = pushSparse(this.lines, this.dones.length, line)
    this.dones.push(done)
  }
}

/** `list` with `value` appended as the entry at `count`; no array at all until a value is not undefined. */
function pushSparse<T> (list: Array<T | undefined> | undefined, count: number, value: T | undefined): Array<T | undefined> | undefined {
  if (value !== undefined) {
    list ??= new Array<T | undefined>(count).fill(undefined)
    list.push(value)
  } else if (list !== undefined) {
    list.push(undefined)
  }
  return list
}

/** Spare body buffers kept, and the largest kept (a huge event's body is let go). */
const MAX_SPARE = 8
const MAX_SPARE_BYTES = 8 * 1024 * 1024

export interface BatcherLimits {
  maxEvents: number
  maxBytes: number
  maxAgeMs: number
}

export class Batcher {
  readonly limits: BatcherLimits
  /** Open batches by namespace (undefined too), then stream: no key string is built per event. */
  readonly #open = new Map<string | undefined, Map<string, Batch>>()
  /** The body size of each stream's last batch: the next one reserves that much at once. */
  readonly #capacity = new Map<string, number>()
  /** Buffers of acknowledged batches, for the next bodies (a few: one per batch in flight is plenty). */
  readonly #spare: Buffer[] = []
  #events = 0

  constructor (limits: BatcherLimits) {
    this.limits = { ...limits }
  }

  /** Events in open (not yet cut) batches. */
  get events (): number {
    return this.#events
  }

  /**
   * Add an event; the batches this cuts (zero, one or two) are pushed onto
   * `cut`, in order. Returns the event's UTF-8 length.
   */
  add (namespace: string | undefined, stream: string, text: string, tail: string | IdTail | undefined, done: Done | undefined, origin: unknown, line: number | undefined,
    now: number, cut: Batch[]): number {
    let streams = this.#open.get(namespace)
    if (streams === undefined) {
      streams = new Map()
      this.#open.set(namespace, streams)
    }
    let batch = streams.get(stream)
    if (batch === undefined) {
      const key = streamKey(namespace, stream)
      const capacity = this.#capacity.get(key)
      batch = new Batch(key, namespace, stream, now, capacity, this.#spareFor(capacity ?? 0))
      streams.set(stream, batch)
    }
    const bytes = batch.append(text, tail, done, origin, line)
    this.#events++
    // An event that pushed a non-empty batch over the byte limit starts the next one.
    if (batch.count > 1 && batch.bytes > this.limits.maxBytes) {
      const next = new Batch(batch.key, namespace, stream, now)
      batch.moveLastTo(next)
      cut.push(this.#take(streams, batch))
      batch = next
      streams.set(stream, batch)
    }
    if (batch.count >= this.limits.maxEvents || batch.bytes >= this.limits.maxBytes) cut.push(this.#take(streams, batch))
    return bytes
  }

  /**
   * A server refused a batch of `refused` event bytes as too large (413):
   * later batches are cut at half that at most. The limit only shrinks, and
   * never below one event a batch (an event alone is never split). Returns it.
   */
  shrinkBytes (refused: number): number {
    this.limits.maxBytes = Math.max(1, Math.min(this.limits.maxBytes, Math.floor(refused / 2)))
    return this.limits.maxBytes
  }

  /** Cut every batch that has waited maxAge by `now`, oldest first. */
  due (now: number): Batch[] {
    const out: Batch[] = []
    for (const streams of this.#open.values()) {
      for (const batch of streams.values()) {
        if (now - batch.openedAt >= this.limits.maxAgeMs) out.push(this.#take(streams, batch))
      }
    }
    return out.sort((a, b) => a.openedAt - b.openedAt)
  }

  /** Cut every open batch (end(), an exit flush). */
  all (): Batch[] {
    const out: Batch[] = []
    for (const streams of this.#open.values()) {
      for (const batch of streams.values()) out.push(this.#take(streams, batch))
    }
    return out.sort((a, b) => a.openedAt - b.openedAt)
  }

  /** When the oldest open batch falls due, or undefined when none is open. */
  nextDue (): number | undefined {
    let first: number | undefined
    for (const streams of this.#open.values()) {
      for (const batch of streams.values()) {
        if (first === undefined || batch.openedAt < first) first = batch.openedAt
      }
    }
    return first === undefined ? undefined : first + this.limits.maxAgeMs
  }

  /**
   * Keep the buffer of a batch the server acknowledged (its request is
   * over) for a later body; the batch is used no more.
   */
  recycle (batch: Batch): void {
    const buf = batch.release()
    // Only a buffer of its own (never a slice of Node's shared pool).
    if (this.#spare.length < MAX_SPARE && buf.length <= MAX_SPARE_BYTES && buf.length > 0 && buf.byteLength === buf.buffer.byteLength) this.#spare.push(buf)
  }

  /** A spare buffer of at least `bytes`, or undefined. */
  #spareFor (bytes: number): Buffer | undefined {
    const spare = this.#spare
    for (let i = spare.length - 1; i >= 0; i--) {
      const buf = spare[i]
      if (buf.length >= bytes) {
        spare[i] = spare[spare.length - 1]
        spare.pop()
        return buf
      }
    }
    return undefined
  }

  #take (streams: Map<string, Batch>, batch: Batch): Batch {
    // The next batch of the stream starts this big (room for the envelope's end too).
    this.#capacity.set(batch.key, batch.bodyLength + 256)
    streams.delete(batch.stream)
    this.#events -= batch.count
    return batch
  }
}
