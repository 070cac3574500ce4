/**
 * A put body walked once, checking it is valid JSON as it goes: where the
 * `namespace` value is, and per stream of `events`, where each element's
 * text is. The events are kept as the text they were sent as (spec §13), so
 * the body is never parsed into objects and written again; each element is
 * skipped here once and scanned once more when it is stamped. Values are
 * skipped with the events core's skipJsonValue().
 */
import { ShoeboxError } from '../../errors.js'
import { skipJsonValue } from '../event-text.js'

export interface Span {
  start: number
  end: number
}

export interface StreamSpan {
  name: string
  /** The value as a whole. */
  value: Span
  /** Its elements when it is a list; undefined for anything else. */
  elements: Span[] | undefined
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
function walkArray (s: string, i: number): { elements: Span[], end: number } {
  const elements: Span[] = []
  i = skipWs(s, i + 1)
  if (s.charCodeAt(i) === 0x5d) return { elements, end: i + 1 }
  for (;;) {
    const end = skipJsonValue(s, i, 2)
    elements.push({ start: i, end })
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
  const end = walkObject(s, skipWs(s, 0), (key, at) => {
    if (key === 'events' && s.charCodeAt(at) === 0x7b) {
      const streams = new Map<string, StreamSpan>()
      const valueEnd = walkObject(s, at, (name, valueAt) => {
        if (s.charCodeAt(valueAt) === 0x5b) {
          const { elements, end } = walkArray(s, valueAt)
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
