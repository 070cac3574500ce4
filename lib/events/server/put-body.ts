/**
 * A put body's bytes walked once, checking it is valid JSON as it goes: where the
 * `namespace` value is, and per stream of `events`, where each element's
 * text is and, for an object, where its top-level @time/@id values are. The
 * events are kept as the text they were sent as (spec §13), so the body is
 * never parsed into objects and written again, and stamping an event is a
 * splice at the spans found here, not a second scan. The walk is on the
 * request's bytes, not a decoded string (json-bytes.ts): spans are byte
 * offsets, and only stream names and keys are decoded.
 */
import { EventMembers } from '../event-text.js'
import { invalidJsonAt, lastString, skipNumber, skipString, skipValue, skipWs, stringAt } from './json-bytes.js'

export interface Span {
  start: number
  end: number
}

/** Slots per element in ElementSpans' table. */
const SLOTS = 10

/**
 * A list's elements, in a flat table of numbers rather than an object per
 * element: per element its span and, when it is a JSON object, what
 * walkEvent() found in it. The lists of one body share one table, of
 * exactly their size (see SlotScratch).
 */
export class ElementSpans {
  readonly #at: Int32Array
  /** Where this list's first element's slots are in #at. */
  readonly #base: number
  readonly length: number

  constructor (table: Int32Array, base: number, length: number) {
    this.#at = table
    this.#base = base
    this.length = length
  }

  start (k: number): number {
    return this.#at[this.#base + k * SLOTS]
  }

  end (k: number): number {
    return this.#at[this.#base + k * SLOTS + 1]
  }

  /** Whether element `k` is a JSON object. */
  isObject (k: number): boolean {
    return this.#at[this.#base + k * SLOTS + 2] >= 0
  }

  /** Element `k`'s members into `m` (an object's only). */
  members (k: number, m: EventMembers): EventMembers {
    const a = this.#at
    const i = this.#base + k * SLOTS
    m.bodyStart = a[i + 2]
    m.end = a[i + 1]
    m.empty = a[i + 3] === 1
    m.timeCount = a[i + 4]
    m.timeStart = a[i + 5]
    m.timeEnd = a[i + 6]
    m.idCount = a[i + 7]
    m.idStart = a[i + 8]
    m.idEnd = a[i + 9]
    return m
  }
}

/**
 * The slots of every list a walk meets, written into one table reused by
 * every walk and copied once, at the walk's end, into a table of exactly
 * their size. An array grown by push() per list cost ~300 bytes of garbage
 * an event (its growth copies), a quarter of what the server allocated.
 * Used within one walkPutBody() call (synchronous) only.
 */
const SCRATCH_SLOTS = SLOTS * 4096
let scratch = new Int32Array(SCRATCH_SLOTS)
let used = 0

/** A new walk: the scratch table is empty (and back to its usual size after a huge body). */
function resetSlots (): void {
  if (scratch.length > 16 * SCRATCH_SLOTS) scratch = new Int32Array(SCRATCH_SLOTS)
  used = 0
}

/** Room for one more element's slots; returns where they go. */
function nextSlots (): number {
  if (used + SLOTS > scratch.length) {
    const bigger = new Int32Array(2 * scratch.length)
    bigger.set(scratch)
    scratch = bigger
  }
  const at = used
  used += SLOTS
  return at
}

function addObject (start: number, m: EventMembers): void {
  const i = nextSlots()
  const t = scratch
  t[i] = start
  t[i + 1] = m.end
  t[i + 2] = m.bodyStart
  t[i + 3] = m.empty ? 1 : 0
  t[i + 4] = m.timeCount
  t[i + 5] = m.timeStart
  t[i + 6] = m.timeEnd
  t[i + 7] = m.idCount
  t[i + 8] = m.idStart
  t[i + 9] = m.idEnd
}

function addOther (start: number, end: number): void {
  const i = nextSlots()
  const t = scratch
  t[i] = start
  t[i + 1] = end
  t[i + 2] = -1
  t.fill(0, i + 3, i + SLOTS)
}

export interface StreamSpan {
  name: string
  /** The value as a whole. */
  value: Span
  /** Its elements when it is a list; undefined for anything else. */
  elements: ElementSpans | undefined
}

export interface PutBody {
  namespace: Span | undefined
  /** The `events` value; undefined when absent. */
  events: Span | undefined
  /** Its members when it is an object (the last of a repeated name wins, as a Python dict's). */
  streams: StreamSpan[] | undefined
}

/**
 * Walks the event object at `at` (its '{'), validating it, and records its
 * top-level @time/@id members into `m` (keys compared after unescaping, as
 * a JSON parser would); returns the index after its '}'. `depth` is the
 * nesting it sits at.
 */
function walkEvent (b: Buffer, at: number, depth: number, m: EventMembers): number {
  m.bodyStart = at + 1
  m.timeCount = 0
  m.idCount = 0
  let i = skipWs(b, at + 1)
  m.empty = b[i] === 0x7D
  if (m.empty) return (m.end = i + 1)
  for (;;) {
    if (b[i] !== 0x22) throw invalidJsonAt(i, 'expected a key')
    const keyEnd = skipString(b, i)
    const which = memberKind(b, i, keyEnd, lastString.escaped)
    i = skipWs(b, keyEnd)
    if (b[i] !== 0x3A) throw invalidJsonAt(i, "expected ':'")
    const valueStart = skipWs(b, i + 1)
    const c = b[valueStart]
    // The scalars most members hold are skipped directly (no container bookkeeping).
    const valueEnd = c === 0x22 ? skipString(b, valueStart) : (c === 0x2D || (c >= 0x30 && c <= 0x39)) ? skipNumber(b, valueStart) : skipValue(b, valueStart, depth + 1)
    if (which === TIME) {
      m.timeCount++
      m.timeStart = valueStart
      m.timeEnd = valueEnd
    } else if (which === ID) {
      m.idCount++
      m.idStart = valueStart
      m.idEnd = valueEnd
    }
    i = skipWs(b, valueEnd)
    const d = b[i]
    if (d === 0x7D) return (m.end = i + 1)
    if (d !== 0x2C) throw invalidJsonAt(i, "expected ',' or '}'")
    i = skipWs(b, i + 1)
  }
}

const OTHER = 0
const TIME = 1
const ID = 2

/** Whether the key at [quote, end) is "@time", "@id" or another; an escaped key is decoded to tell. */
function memberKind (b: Buffer, quote: number, end: number, escaped: boolean): number {
  if (escaped) {
    const key = stringAt(b, quote, end)
    return key === '@time' ? TIME : key === '@id' ? ID : OTHER
  }
  if (b[quote + 1] !== 0x40) return OTHER
  const n = end - quote - 2
  if (n === 5 && b[quote + 2] === 0x74 && b[quote + 3] === 0x69 && b[quote + 4] === 0x6D && b[quote + 5] === 0x65) return TIME
  if (n === 3 && b[quote + 2] === 0x69 && b[quote + 3] === 0x64) return ID
  return OTHER
}

/** The first non-whitespace byte at or after `i` (-1 at the end). */
export function firstByte (b: Buffer, i: number): number {
  return b[skipWs(b, i)] ?? -1
}

/**
 * Walk the members of the object at `i` (its '{'), calling `member` with
 * each key and the index of its value; `member` returns the index after the
 * value. Returns the index after the closing '}'.
 */
function walkObject (b: Buffer, i: number, member: (key: string, valueAt: number) => number): number {
  i = skipWs(b, i + 1)
  if (b[i] === 0x7D) return i + 1
  for (;;) {
    if (b[i] !== 0x22) throw invalidJsonAt(i, 'expected a key')
    const keyEnd = skipString(b, i)
    const key = stringAt(b, i, keyEnd)
    i = skipWs(b, keyEnd)
    if (b[i] !== 0x3A) throw invalidJsonAt(i, "expected ':'")
    i = skipWs(b, member(key, skipWs(b, i + 1)))
    const c = b[i]
    if (c === 0x7D) return i + 1
    if (c !== 0x2C) throw invalidJsonAt(i, "expected ',' or '}'")
    i = skipWs(b, i + 1)
  }
}

/** The elements of the list at `i` (its '[') into the scratch slots; returns the index after ']'. */
function walkArray (b: Buffer, i: number, m: EventMembers): number {
  i = skipWs(b, i + 1)
  if (b[i] === 0x5D) return i + 1
  for (;;) {
    let end: number
    if (b[i] === 0x7B) {
      // An event: its members are found now, in the walk that validates it (it sits at depth 2).
      end = walkEvent(b, i, 2, m)
      addObject(i, m)
    } else {
      end = skipValue(b, i, 2)
      addOther(i, end)
    }
    i = skipWs(b, end)
    const c = b[i]
    if (c === 0x5D) return i + 1
    if (c !== 0x2C) throw invalidJsonAt(i, "expected ',' or ']'")
    i = skipWs(b, i + 1)
  }
}

/** A stream's value as the walk found it: a list's elements are slots [base, base + SLOTS * count) (count -1: not a list). */
interface WalkedStream {
  name: string
  value: Span
  base: number
  count: number
}

/** walkPutBody() met more distinct stream names than it was allowed: the walk stops there. */
export class TooManyStreams extends Error {}

/**
 * The spans of a put body (valid UTF-8) whose first non-blank byte is '{';
 * SHOEBOX_INVALID_JSON when it is not valid JSON. TooManyStreams as soon as
 * `events` names more than `maxStreams` distinct streams (before their
 * spans are all kept).
 */
export function walkPutBody (b: Buffer, maxStreams = Infinity): PutBody {
  const body: PutBody = { namespace: undefined, events: undefined, streams: undefined }
  const members = new EventMembers()
  let walked: Map<string, WalkedStream> | undefined
  resetSlots()
  const end = walkObject(b, skipWs(b, 0), (key, at) => {
    if (key === 'events' && b[at] === 0x7B) {
      const streams = walked = new Map<string, WalkedStream>()
      const valueEnd = walkObject(b, at, (name, valueAt) => {
        if (b[valueAt] === 0x5B) {
          const base = used
          const end = walkArray(b, valueAt, members)
          streams.set(name, { name, value: { start: valueAt, end }, base, count: (used - base) / SLOTS })
          if (streams.size > maxStreams) throw new TooManyStreams()
          return end
        }
        const valueEnd = skipValue(b, valueAt, 2)
        streams.set(name, { name, value: { start: valueAt, end: valueEnd }, base: 0, count: -1 })
        if (streams.size > maxStreams) throw new TooManyStreams()
        return valueEnd
      })
      body.events = { start: at, end: valueEnd }
      return valueEnd
    }
    const valueEnd = skipValue(b, at, 1)
    if (key === 'events') {
      body.events = { start: at, end: valueEnd }
      walked = undefined
    } else if (key === 'namespace') {
      body.namespace = { start: at, end: valueEnd }
    }
    return valueEnd
  })
  if (skipWs(b, end) !== b.length) throw invalidJsonAt(skipWs(b, end), 'data after the body')
  if (walked !== undefined) {
    const table = scratch.slice(0, used)
    body.streams = [...walked.values()].map(({ name, value, base, count }) => ({ name, value, elements: count < 0 ? undefined : new ElementSpans(table, base, count) }))
  }
  return body
}
