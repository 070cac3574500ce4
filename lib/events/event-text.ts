/**
 * Events as text (spec §13): an event is kept as the JSON text received,
 * with only `@id` and `@time` spliced in, so `2.0` stays `2.0`, `1e3` stays
 * `1e3`, integers above 2^53 stay exact and duplicate keys stay as sent.
 *
 * - skipJsonValue(): a single-pass, non-recursive validator that returns
 *   where a JSON value ends (a put body's event texts are sliced with it).
 * - scanEvent() / stampEventText(): checks the text is one JSON object, finds
 *   its top-level @time/@id members (keys compared after unescaping, as a
 *   JSON parser would), reads @time lexically (only the integer form is a
 *   time: 1.5, 1.0, 1e3, true, "5" are InvalidEventTime, as Kronos does) and
 *   splices the new @id (and @time when absent or null) into the text.
 * - parseJsonText(): a parser with a hook for numbers. parseEvent() uses it
 *   so integers beyond 2^53 come back as exact bigints (others as numbers);
 *   parseJsonLexical() keeps every number as its text (JsonNumber), which is
 *   what infer_schema needs to tell Integer (`2`) from Number (`2.0`, §5.6).
 *
 * Stricter than Kronos's Python parser on purpose: NaN/Infinity, raw control
 * characters in strings and nesting deeper than 1000 are refused
 * (SHOEBOX_INVALID_JSON), so every stored event is plain JSON any peer reads.
 */
import { ShoeboxError } from '../errors.js'
import { checkKronosTime, isKronosTimeInRange, kronosTimeNow, type KronosTime } from './kronos-time.js'
import { newEventId } from './event-id.js'

export const MAX_JSON_DEPTH = 1000

/** A JSON value as parseEvent() returns it: integers beyond 2^53 are bigints. */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue }
export type EventObject = { [key: string]: JsonValue }

/** An @time that is not an integer kronos time in range; `rawValue` is the JSON text as sent. */
export class InvalidEventTimeError extends ShoeboxError {
  readonly rawValue: string
  constructor (rawValue: string, why: string) {
    super('SHOEBOX_INVALID_EVENT_TIME', `invalid @time ${rawValue.length > 80 ? `${rawValue.slice(0, 80)}...` : rawValue}: ${why}`)
    this.name = 'InvalidEventTimeError'
    this.rawValue = rawValue
  }
}

function invalidJson (at: number, why: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_INVALID_JSON', `invalid JSON at character ${at}: ${why}`)
}

function skipWs (s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i)
    if (c === 0x20 || c === 0x0A || c === 0x0D || c === 0x09) i++
    else return i
  }
}

const HEX = /^[0-9a-fA-F]{4}$/

/** `i` is at an opening quote; returns the index after the closing one. */
function skipString (s: string, i: number): number {
  const n = s.length
  i++
  while (i < n) {
    const c = s.charCodeAt(i)
    if (c === 0x22) return i + 1
    if (c === 0x5C) {
      const e = s.charCodeAt(i + 1)
      if (e === 0x75) {
        if (!HEX.test(s.slice(i + 2, i + 6))) throw invalidJson(i, 'bad \\u escape')
        i += 6
      } else if (e === 0x22 || e === 0x5C || e === 0x2F || e === 0x62 || e === 0x66 || e === 0x6E || e === 0x72 || e === 0x74) {
        i += 2
      } else {
        throw invalidJson(i, 'bad escape')
      }
    } else if (c < 0x20) {
      throw invalidJson(i, 'control character in string')
    } else {
      i++
    }
  }
  throw invalidJson(n, 'unterminated string')
}

function isDigit (c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

/** `i` is at '-' or a digit; returns the index after the number. */
function skipNumber (s: string, i: number): number {
  const start = i
  if (s.charCodeAt(i) === 0x2D) i++
  if (s.charCodeAt(i) === 0x30) {
    i++
  } else if (isDigit(s.charCodeAt(i))) {
    while (isDigit(s.charCodeAt(i))) i++
  } else {
    throw invalidJson(start, 'bad number')
  }
  if (s.charCodeAt(i) === 0x2E) {
    i++
    if (!isDigit(s.charCodeAt(i))) throw invalidJson(start, 'bad number')
    while (isDigit(s.charCodeAt(i))) i++
  }
  const e = s.charCodeAt(i)
  if (e === 0x65 || e === 0x45) {
    i++
    const sign = s.charCodeAt(i)
    if (sign === 0x2B || sign === 0x2D) i++
    if (!isDigit(s.charCodeAt(i))) throw invalidJson(start, 'bad number')
    while (isDigit(s.charCodeAt(i))) i++
  }
  return i
}

function skipLiteral (s: string, i: number): number {
  for (const word of ['true', 'false', 'null']) {
    if (s.startsWith(word, i)) return i + word.length
  }
  throw invalidJson(i, `unexpected ${describeAt(s, i)}`)
}

function describeAt (s: string, i: number): string {
  return i >= s.length ? 'end of text' : `character ${JSON.stringify(s[i])}`
}

/** Past a member's key and colon: `i` at the key's quote, returns the value's start. */
function skipKeyColon (s: string, i: number): number {
  if (s.charCodeAt(i) !== 0x22) throw invalidJson(i, `expected a key, got ${describeAt(s, i)}`)
  i = skipWs(s, skipString(s, i))
  if (s.charCodeAt(i) !== 0x3A) throw invalidJson(i, `expected ':', got ${describeAt(s, i)}`)
  return skipWs(s, i + 1)
}

/**
 * Validates the JSON value starting at `start` (after optional whitespace)
 * and returns the index just past it. `depth` is the nesting it sits at
 * (for the depth limit). Iterative, so deep input cannot overflow the stack.
 */
export function skipJsonValue (s: string, start: number, depth = 0): number {
  const closers: number[] = [] // 0x7D '}' or 0x5D ']' per open container
  let i = skipWs(s, start)
  for (;;) {
    // A value starts at i.
    const c = s.charCodeAt(i)
    if (c === 0x7B || c === 0x5B) {
      if (depth + closers.length >= MAX_JSON_DEPTH) throw invalidJson(i, `nested deeper than ${MAX_JSON_DEPTH}`)
      const close = c === 0x7B ? 0x7D : 0x5D
      i = skipWs(s, i + 1)
      if (s.charCodeAt(i) === close) {
        i++
      } else {
        closers.push(close)
        if (close === 0x7D) i = skipKeyColon(s, i)
        continue
      }
    } else if (c === 0x22) {
      i = skipString(s, i)
    } else if (c === 0x2D || isDigit(c)) {
      i = skipNumber(s, i)
    } else {
      i = skipLiteral(s, i)
    }
    // A value ended at i: close containers or move to the next element.
    for (;;) {
      if (closers.length === 0) return i
      i = skipWs(s, i)
      const d = s.charCodeAt(i)
      const close = closers[closers.length - 1]
      if (d === 0x2C) {
        i = skipWs(s, i + 1)
        if (close === 0x7D) i = skipKeyColon(s, i)
        break
      }
      if (d !== close) throw invalidJson(i, `expected ',' or '${String.fromCharCode(close)}', got ${describeAt(s, i)}`)
      closers.pop()
      i++
    }
  }
}

/** A top-level member's value span. */
export interface MemberSpan { valueStart: number, valueEnd: number }

export interface EventScan {
  /** The object's span in the text (outer whitespace excluded). */
  start: number
  end: number
  /** Index just after the opening brace, and whether the object has no members. */
  bodyStart: number
  empty: boolean
  /** Every top-level @time / @id member, in text order (duplicates kept). */
  timeMembers: MemberSpan[]
  idMembers: MemberSpan[]
  /** The effective @time (the last member, as a parser keeps); null when absent or JSON null. */
  time: KronosTime | null
}

/**
 * Checks `text` is one JSON object (whitespace around it allowed) and finds
 * its top-level @time/@id. SHOEBOX_INVALID_JSON for bad JSON,
 * SHOEBOX_INVALID_EVENT for JSON that is not an object, InvalidEventTimeError
 * for an @time that is not an integer in range.
 */
export function scanEvent (text: string): EventScan {
  const start = skipWs(text, 0)
  if (text.charCodeAt(start) !== 0x7B) {
    const end = skipJsonValue(text, start)
    if (skipWs(text, end) !== text.length) throw invalidJson(skipWs(text, end), 'text after the value')
    throw new ShoeboxError('SHOEBOX_INVALID_EVENT', `an event is a JSON object, got ${describeAt(text, start)}`)
  }
  const timeMembers: MemberSpan[] = []
  const idMembers: MemberSpan[] = []
  const bodyStart = start + 1
  let i = skipWs(text, bodyStart)
  const empty = text.charCodeAt(i) === 0x7D
  if (empty) {
    i++
  } else {
    for (;;) {
      if (text.charCodeAt(i) !== 0x22) throw invalidJson(i, `expected a key, got ${describeAt(text, i)}`)
      const keyEnd = skipString(text, i)
      const key = memberKey(text, i, keyEnd)
      i = skipWs(text, keyEnd)
      if (text.charCodeAt(i) !== 0x3A) throw invalidJson(i, `expected ':', got ${describeAt(text, i)}`)
      const valueStart = skipWs(text, i + 1)
      const valueEnd = skipJsonValue(text, valueStart, 1)
      if (key === '@time') timeMembers.push({ valueStart, valueEnd })
      else if (key === '@id') idMembers.push({ valueStart, valueEnd })
      i = skipWs(text, valueEnd)
      const d = text.charCodeAt(i)
      if (d === 0x7D) {
        i++
        break
      }
      if (d !== 0x2C) throw invalidJson(i, `expected ',' or '}', got ${describeAt(text, i)}`)
      i = skipWs(text, i + 1)
    }
  }
  if (skipWs(text, i) !== text.length) throw invalidJson(skipWs(text, i), 'text after the event object')
  const last = timeMembers[timeMembers.length - 1]
  const time = last === undefined ? null : readTime(text.slice(last.valueStart, last.valueEnd))
  return { start, end: i, bodyStart, empty, timeMembers, idMembers, time }
}

/** Only "@time"/"@id" matter, so other keys are not unescaped. */
function memberKey (text: string, quote: number, end: number): string | undefined {
  const raw = text.slice(quote + 1, end - 1)
  if (!raw.includes('\\')) return raw
  const key = JSON.parse(text.slice(quote, end)) as string
  return key
}

/** The kronos time of an @time value's text; null for JSON null. */
export function readTime (raw: string): KronosTime | null {
  if (raw === 'null') return null
  const c = raw.charCodeAt(0)
  if ((c === 0x2D || isDigit(c)) && !/[.eE]/.test(raw)) {
    const t = BigInt(raw)
    if (!isKronosTimeInRange(t)) throw new InvalidEventTimeError(raw, 'outside the range an event id can hold')
    return t
  }
  throw new InvalidEventTimeError(raw, 'must be an integer (100 ns ticks since the epoch)')
}

export interface StampTextOptions {
  /** Set @time to this, replacing what the event has (stamp()'s field/function modes). */
  time?: KronosTime
  /** The @time for an event without one (or with null). Default: now, read at most once per call. */
  defaultTime?: KronosTime | (() => KronosTime)
  /** Makes the @id. Default newEventId (crypto-random, never repeating for one time in this process). */
  newId?: (time: KronosTime) => string
}

export interface StampedEvent {
  /** The event text: as received, with @id (and @time if needed) spliced in; outer whitespace dropped. */
  text: string
  time: KronosTime
  id: string
}

/**
 * Assigns @id (a client's @id is overwritten, as Kronos does) and @time
 * (when absent or null, or when `options.time` is given) and returns the
 * new text. When the event holds several @time or @id members, each is
 * rewritten, so a reader that keeps the first member agrees with one that
 * keeps the last.
 */
export function stampEventText (text: string, options: StampTextOptions = {}): StampedEvent {
  const scan = scanEvent(text)
  let time: KronosTime
  if (options.time !== undefined) time = checkKronosTime(options.time, '@time')
  else if (scan.time !== null) time = scan.time
  else if (typeof options.defaultTime === 'function') time = checkKronosTime(options.defaultTime(), '@time')
  else time = checkKronosTime(options.defaultTime ?? kronosTimeNow(), '@time')
  const id = (options.newId ?? newEventId)(time)
  const timeText = time.toString()
  const idText = `"${id}"`

  const edits: Array<{ start: number, end: number, text: string }> = []
  const rewriteTime = options.time !== undefined || scan.time === null || scan.timeMembers.length > 1
  if (rewriteTime) for (const m of scan.timeMembers) edits.push({ start: m.valueStart, end: m.valueEnd, text: timeText })
  for (const m of scan.idMembers) edits.push({ start: m.valueStart, end: m.valueEnd, text: idText })
  edits.sort((a, b) => a.start - b.start)

  const added: string[] = []
  if (scan.timeMembers.length === 0) added.push(`"@time":${timeText}`)
  if (scan.idMembers.length === 0) added.push(`"@id":${idText}`)
  let out = '{'
  if (added.length > 0) out += added.join(',') + (scan.empty ? '' : ',')
  let at = scan.bodyStart
  for (const e of edits) {
    out += text.slice(at, e.start) + e.text
    at = e.end
  }
  out += text.slice(at, scan.end)
  return { text: out, time, id }
}

/** Validates that `text` is one JSON value (whitespace around it allowed). */
export function checkJsonText (text: string): void {
  const end = skipJsonValue(text, 0)
  if (skipWs(text, end) !== text.length) throw invalidJson(skipWs(text, end), 'text after the value')
}

/** A number kept as its JSON text (parseJsonLexical). */
export class JsonNumber {
  readonly text: string
  constructor (text: string) {
    this.text = text
  }

  /** Integer by lexical form (no '.', no exponent): infer_schema's Integer vs Number. */
  get isInteger (): boolean {
    return !/[.eE]/.test(this.text)
  }

  toJSON (): number {
    return Number(this.text)
  }
}

export type LexicalJsonValue = null | boolean | string | JsonNumber | LexicalJsonValue[] | { [key: string]: LexicalJsonValue }

/**
 * Parses one JSON value, handing each number's text to `number`. Keys
 * repeat as JSON.parse does (the last wins); "__proto__" is an own key.
 */
export function parseJsonText<N> (text: string, number: (raw: string) => N): unknown {
  checkJsonText(text)
  let i = 0
  const value = (): unknown => {
    i = skipWs(text, i)
    const c = text.charCodeAt(i)
    if (c === 0x7B) {
      const obj: Record<string, unknown> = {}
      i = skipWs(text, i + 1)
      if (text.charCodeAt(i) === 0x7D) {
        i++
        return obj
      }
      for (;;) {
        i = skipWs(text, i)
        const keyEnd = skipString(text, i)
        const key = JSON.parse(text.slice(i, keyEnd)) as string
        i = skipWs(text, keyEnd) + 1
        const v = value()
        if (key === '__proto__') Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true })
        else obj[key] = v
        i = skipWs(text, i)
        if (text.charCodeAt(i++) === 0x7D) return obj
      }
    }
    if (c === 0x5B) {
      const arr: unknown[] = []
      i = skipWs(text, i + 1)
      if (text.charCodeAt(i) === 0x5D) {
        i++
        return arr
      }
      for (;;) {
        arr.push(value())
        i = skipWs(text, i)
        if (text.charCodeAt(i++) === 0x5D) return arr
      }
    }
    const start = i
    if (c === 0x22) {
      i = skipString(text, i)
      return JSON.parse(text.slice(start, i)) as string
    }
    if (c === 0x2D || isDigit(c)) {
      i = skipNumber(text, i)
      return number(text.slice(start, i))
    }
    i = skipLiteral(text, i)
    return c === 0x74 ? true : c === 0x66 ? false : null
  }
  return value()
}

/** Integers beyond 2^53 exact as bigint; every other number as a JS number. */
function exactNumber (raw: string): number | bigint {
  const n = Number(raw)
  if (!Number.isSafeInteger(n) && !/[.eE]/.test(raw)) return BigInt(raw)
  return n
}

const LONG_INTEGER = /\d{16}/

/**
 * Parses event text (or any JSON) so integers beyond 2^53 stay exact
 * (bigint); smaller integers and other numbers are JS numbers. Texts
 * without a 16-digit run take JSON.parse's fast path.
 */
export function parseEvent (text: string): JsonValue {
  if (!LONG_INTEGER.test(text)) {
    try {
      return JSON.parse(text) as JsonValue
    } catch {
      checkJsonText(text) // throws SHOEBOX_INVALID_JSON with the position
    }
  }
  return parseJsonText(text, exactNumber) as JsonValue
}

/** Parses JSON keeping every number as its text (JsonNumber). */
export function parseJsonLexical (text: string): LexicalJsonValue {
  return parseJsonText(text, (raw) => new JsonNumber(raw)) as LexicalJsonValue
}

/**
 * JSON text of a value that may hold bigints (written as exact integers)
 * or JsonNumbers (written as their text). Undefined members are left out,
 * as JSON.stringify does.
 */
export function stringifyEvent (value: unknown): string {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof JsonNumber) return value.text
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return stringifyEvent((value as { toJSON: () => unknown }).toJSON())
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === 'function') ? 'null' : stringifyEvent(v)).join(',')}]`
  const parts: string[] = []
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue
    parts.push(`${JSON.stringify(k)}:${stringifyEvent(v)}`)
  }
  return `{${parts.join(',')}}`
}
