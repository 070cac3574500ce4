/**
 * A put body built in place (spec §5.2; what pykronos sends, json.dumps's
 * separators): `{"events": {"<stream>": [<event>, <event>]}}`, plus
 * `, "namespace": "<ns>"` inside the outer object when one is set. Event
 * texts go in as they are (2.0, big integers and key order kept), encoded
 * to UTF-8 once, straight into a Buffer that doubles when full.
 */

import { writeEventIdText } from './event-id.js'

const SEPARATOR = Buffer.from(', ')

/**
 * What the shipper adds to an event: the members written in place of its
 * closing brace, `lead`, the @id (as 36 hex characters from the four id
 * words) and `trail` (which ends with the brace), both as UTF-8 bytes
 * (the shipper encodes its few leads and trails once). Written straight
 * into the body: no string of the id or of the tail is made per event.
 */
export class IdTail {
  /**
   * `time`: the digits of an @time added ('' for none): then `lead` opens
   * that member (`, "@time": `) and `, "@id": "` follows the digits.
   */
  constructor (readonly lead: Buffer, readonly time: string, readonly w0: number, readonly w1: number, readonly w2: number, readonly w3: number,
    readonly trail: Buffer) {}

  /** Its text (for the spill and reports; the body never needs it). */
  toString (): string {
    const id = Buffer.allocUnsafe(36)
    writeEventIdText(id, 0, this.w0, this.w1, this.w2, this.w3)
    const time = this.time === '' ? '' : `${this.time}${TIME_TO_ID.toString('latin1')}`
    return `${this.lead.toString('utf8')}${time}${id.toString('latin1')}${this.trail.toString('utf8')}`
  }
}

/** What follows the digits of an added @time. */
const TIME_TO_ID = Buffer.from(', "@id": "')

const EMPTY = Buffer.alloc(0)
/** The smallest body buffer: a lone small event does not hold a large one. */
const MIN_CAPACITY = 4096

/**
 * A body's memory is its own, never a slice of Node's shared pool: only such
 * a buffer is recycled (Batcher.recycle), and a body in flight must not hold
 * a pool. Buffer.allocUnsafe pools below half of Buffer.poolSize: 4 KiB on
 * Node 20 and 22, where MIN_CAPACITY was never pooled, but 32 KiB on Node 24
 * (its pool is 64 KiB), where every body under that was pooled and none of
 * them recycled.
 */
const ownMemory = (size: number): Buffer => Buffer.allocUnsafeSlow(size)

export class BatchBody {
  /** Room for it is kept free by every append, so sealing never grows the buffer. */
  readonly #suffix: Buffer
  #buf: Buffer
  #length: number
  /** Where each event's text starts; it ends 2 bytes (the separator) before the next one starts. */
  readonly #starts: number[] = []
  /** Where the last event ends once sealed (the suffix follows). */
  #eventsEnd = -1

  /**
   * `capacity`: the bytes to start with (the shipper gives the last body's
   * size of the stream: no regrowing per batch). `spare`: a released body's
   * buffer to write into, when it is large enough.
   */
  constructor (stream: string, namespace: string | undefined, capacity = MIN_CAPACITY, spare?: Buffer) {
    const prefix = `{"events": {${JSON.stringify(stream)}: [`
    this.#suffix = Buffer.from(namespace === undefined ? ']}}' : `]}, "namespace": ${JSON.stringify(namespace)}}`)
    const size = Math.max(MIN_CAPACITY, capacity, Buffer.byteLength(prefix) + this.#suffix.length + 64)
    this.#buf = spare !== undefined && spare.length >= size ? spare : ownMemory(size)
    this.#length = this.#buf.write(prefix, 0)
  }

  /**
   * Give up the buffer (for the next body to reuse: a body per batch of
   * fresh external memory made V8 run full GCs); the body is empty and
   * takes nothing more after.
   */
  release (): Buffer {
    const buf = this.#buf
    this.#buf = EMPTY
    this.#length = 0
    this.#starts.length = 0
    this.#eventsEnd = 0
    return buf
  }

  /**
   * Append an event's text (with `tail` in place of its closing brace, when
   * given: see PreparedEvent.tail); returns its UTF-8 length.
   */
  append (text: string, tail?: string | IdTail): number {
    this.#writable()
    const idTail = tail instanceof IdTail ? tail : undefined
    const tailText = typeof tail === 'string' ? tail : undefined
    // UTF-8 takes at most 3 bytes per UTF-16 unit: with that much room, write() cannot truncate.
    // Only when that bound does not fit is the exact length counted (a huge event reserves no 3x).
    const tailBytes = idTail !== undefined ? idTail.lead.length + idTail.time.length + TIME_TO_ID.length + 36 + idTail.trail.length : 0
    let room = (text.length + (tailText === undefined ? 0 : tailText.length)) * 3 + tailBytes
    if (this.#length + 2 + room + this.#suffix.length > this.#buf.length) {
      room = Buffer.byteLength(text) + (tailText === undefined ? 0 : Buffer.byteLength(tailText)) + tailBytes
    }
    this.#reserve(2 + room)
    const buf = this.#buf
    let at = this.#length
    if (this.#starts.length > 0) {
      buf[at++] = 0x2C
      buf[at++] = 0x20
    }
    const start = at
    this.#starts.push(start)
    at += buf.write(text, start)
    // The text ends with '}' (one byte): the tail replaces it.
    if (idTail !== undefined) {
      at = copyInto(buf, at - 1, idTail.lead)
      const time = idTail.time
      if (time !== '') {
        // ASCII digits (and a sign).
        for (let i = 0; i < time.length; i++) buf[at++] = time.charCodeAt(i)
        at = copyInto(buf, at, TIME_TO_ID)
      }
      at = writeEventIdText(buf, at, idTail.w0, idTail.w1, idTail.w2, idTail.w3)
      at = copyInto(buf, at, idTail.trail)
    } else if (tailText !== undefined) {
      at += buf.write(tailText, at - 1) - 1
    }
    this.#length = at
    return at - start
  }

  /** Append an event's text as UTF-8 bytes; returns their length. */
  appendBytes (bytes: Uint8Array): number {
    this.#writable()
    this.#reserve(2 + bytes.length)
    if (this.#starts.length > 0) this.#length += SEPARATOR.copy(this.#buf, this.#length)
    this.#starts.push(this.#length)
    this.#buf.set(bytes, this.#length)
    this.#length += bytes.length
    return bytes.length
  }

  /** Take the last event out; returns a copy of its bytes. */
  removeLast (): Buffer {
    this.#writable()
    const start = this.#starts.pop()
    if (start === undefined) throw new Error('BatchBody.removeLast: no event')
    const bytes = Buffer.from(this.#buf.subarray(start, this.#length))
    this.#length = this.#starts.length === 0 ? start : start - SEPARATOR.length
    return bytes
  }

  /** Bytes so far. */
  get length (): number {
    return this.#length
  }

  /** The finished body (the suffix written the first time); no event can be added after. */
  seal (): Buffer {
    if (this.#eventsEnd < 0) {
      this.#eventsEnd = this.#length
      this.#reserve(0)
      this.#length += this.#suffix.copy(this.#buf, this.#length)
    }
    return this.#buf.subarray(0, this.#length)
  }

  /** Event i's text, decoded from the body. */
  text (i: number): string {
    return this.eventBytes(i).toString('utf8')
  }

  /** Event i's text as the UTF-8 bytes in the body (a view: valid until the body is released). */
  eventBytes (i: number): Buffer {
    const start = this.#starts[i]
    if (start === undefined) throw new RangeError(`no event ${i} in the batch`)
    const end = i + 1 < this.#starts.length ? this.#starts[i + 1] - SEPARATOR.length : this.#eventsEnd < 0 ? this.#length : this.#eventsEnd
    return this.#buf.subarray(start, end)
  }

  #writable (): void {
    if (this.#eventsEnd >= 0) throw new Error('BatchBody: sealed')
  }

  /** Make room for `more` bytes and the suffix. */
  #reserve (more: number): void {
    const need = this.#length + more + this.#suffix.length
    if (need <= this.#buf.length) return
    const grown = ownMemory(Math.max(need, this.#buf.length * 2))
    this.#buf.copy(grown, 0, 0, this.#length)
    this.#buf = grown
  }
}

/** `bytes` into `buf` at `at` (short: a loop beats a native copy's call); returns the index after. */
function copyInto (buf: Buffer, at: number, bytes: Buffer): number {
  const n = bytes.length
  if (n > 64) return at + bytes.copy(buf, at)
  for (let i = 0; i < n; i++) buf[at + i] = bytes[i]
  return at + n
}
