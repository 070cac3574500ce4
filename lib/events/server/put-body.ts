/**
 * A put body walked once, checking it is valid JSON as it goes: where the
 * `namespace` value is, and per stream of `events`, where each element's
 * text is and, for an object, where its top-level @time/@id values are. The
 * events are kept as the text they were sent as (spec §13), so the body is
 * never parsed into objects and written again, and stamping an event is a
 * splice at the spans found here, not a second scan. Values are skipped with
 * the events core's skipJsonValue(), objects walked with walkEventMembers().
 */
import { ShoeboxError } from '../../errors.js'
import { EventMembers, isPlainJsonText, skipJsonValue, walkEventMembers } from '../event-text.js'

export interface Span {
  start: number
  end: number
}

/** Slots per element in ElementSpans' list. */
const SLOTS = 10

/**
 * A list's elements, in one flat list of numbers rather than an object per
 * element: per element its span and, when it is a JSON object, what
 * walkEventMembers() found in it.
 */
export class ElementSpans {
  readonly #at: number[] = []

  get length (): number {
    return this.#at.length / SLOTS
  }

  start (k: number): number {
    return this.#at[k * SLOTS]
  }

  end (k: number): number {
    return this.#at[k * SLOTS + 1]
  }

  /** Whether element `k` is a JSON object. */
  isObject (k: number): boolean {
    return this.#at[k * SLOTS + 2] >= 0
  }

  /** Element `k`'s members into `m` (an object's only). */
  members (k: number, m: EventMembers): EventMembers {
    const a = this.#at
    const i = k * SLOTS
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

  addObject (start: number, m: EventMembers): void {
    this.#at.push(start, m.end, m.bodyStart, m.empty ? 1 : 0, m.timeCount, m.timeStart, m.timeEnd, m.idCount, m.idStart, m.idEnd)
  }

  addOther (start: number, end: number): void {
    this.#at.push(start, end, -1, 0, 0, 0, 0, 0, 0, 0)
  }
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

function invalid (at: number, why: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_INVALID_JSON', `invalid JSON at character ${at}: ${why}`)
}

function skipWs (s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i)
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
    else return i
  }
}

/** The first non-whitespace character at or after `i` ('' at the end). */
export function firstChar (s: string, i: number): string {
  return s[skipWs(s, i)] ?? ''
}

/**
 * Walk the members of the object at `i` (its '{'), calling `member` with
 * each key and the index of its value; `member` returns the index after the
 * value. Returns the index after the closing '}'.
 */
function walkObject (s: string, i: number, member: (key: string, valueAt: number) => number): number {
  i = skipWs(s, i + 1)
  if (s.charCodeAt(i) === 0x7d) return i + 1
  for (;;) {
    if (s.charCodeAt(i) !== 0x22) throw invalid(i, 'expected a key')
    const keyEnd = skipJsonValue(s, i, 1)
    const key = JSON.parse(s.slice(i, keyEnd)) as string
    i = skipWs(s, keyEnd)
    if (s.charCodeAt(i) !== 0x3a) throw invalid(i, "expected ':'")
    i = skipWs(s, member(key, skipWs(s, i + 1)))
    const c = s.charCodeAt(i)
    if (c === 0x7d) return i + 1
    if (c !== 0x2c) throw invalid(i, "expected ',' or '}'")
    i = skipWs(s, i + 1)
  }
}

/** The elements of the list at `i` (its '['); returns them and the index after ']'. */
function walkArray (s: string, i: number, m: EventMembers, plain: boolean): { elements: ElementSpans, end: number } {
  const elements = new ElementSpans()
  i = skipWs(s, i + 1)
  if (s.charCodeAt(i) === 0x5d) return { elements, end: i + 1 }
  for (;;) {
    let end: number
    if (s.charCodeAt(i) === 0x7b) {
      // An event: its members are found now, in the walk that validates it (it sits at depth 2).
      end = walkEventMembers(s, i, 2, m, undefined, plain)
      elements.addObject(i, m)
    } else {
      end = skipJsonValue(s, i, 2)
      elements.addOther(i, end)
    }
    i = skipWs(s, end)
    const c = s.charCodeAt(i)
    if (c === 0x5d) return { elements, end: i + 1 }
    if (c !== 0x2c) throw invalid(i, "expected ',' or ']'")
    i = skipWs(s, i + 1)
  }
}

/** The spans of a put body whose first character is '{'; SHOEBOX_INVALID_JSON when it is not valid JSON. */
export function walkPutBody (s: string): PutBody {
  const body: PutBody = { namespace: undefined, events: undefined, streams: undefined }
  const members = new EventMembers()
  const plain = isPlainJsonText(s)
  const end = walkObject(s, skipWs(s, 0), (key, at) => {
    if (key === 'events' && s.charCodeAt(at) === 0x7b) {
      const streams = new Map<string, StreamSpan>()
      const valueEnd = walkObject(s, at, (name, valueAt) => {
        if (s.charCodeAt(valueAt) === 0x5b) {
          const { elements, end } = walkArray(s, valueAt, members, plain)
          streams.set(name, { name, value: { start: valueAt, end }, elements })
          return end
        }
        const valueEnd = skipJsonValue(s, valueAt, 2)
        streams.set(name, { name, value: { start: valueAt, end: valueEnd }, elements: undefined })
        return valueEnd
      })
      body.events = { start: at, end: valueEnd }
      body.streams = [...streams.values()]
      return valueEnd
    }
    const valueEnd = skipJsonValue(s, at, 1)
    if (key === 'events') {
      body.events = { start: at, end: valueEnd }
      body.streams = undefined
    } else if (key === 'namespace') {
      body.namespace = { start: at, end: valueEnd }
    }
    return valueEnd
  })
  if (skipWs(s, end) !== s.length) throw invalid(skipWs(s, end), 'text after the body')
  return body
}
