/**
 * Events as text (spec §13): an event is kept as the JSON text received,
 * with only `@id` and `@time` spliced in, so `2.0` stays `2.0`, `1e3` stays
 * `1e3`, integers above 2^53 stay exact and duplicate keys stay as sent.
 *
 * scanEvent() / stampEventText() check the text is one JSON object (with
 * json-scan.ts's strict validator), find its top-level @time/@id members
 * (keys compared after unescaping, as a JSON parser would), read @time
 * lexically (only the integer form is a time: 1.5, 1.0, 1e3, true, "5" are
 * InvalidEventTime, as Kronos does) and splice the new @id (and @time when
 * absent or null) into the text.
 *
 * Reading events back (parseEvent with exact big integers, parseJsonLexical
 * for infer_schema, stringifyEvent) is event-json.ts; skipJsonValue (to slice
 * a put body's event texts) is json-scan.ts. Both are re-exported here.
 */
import { ShoeboxError } from '../errors.js'
import { checkKronosTime, isKronosTimeInRange, kronosTimeNow, type KronosTime } from './kronos-time.js'
import { newEventId } from './event-id.js'
import { describeAt, invalidJson, isDigit, skipJsonValue, skipNumber, skipString, skipWs } from '../json/json-scan.js'

// The JSON pieces live in ../json/ and event-json.ts; the ones the server uses are exported here too.
export { MAX_JSON_DEPTH, skipJsonValue, checkJsonText } from '../json/json-scan.js'
export {
  JsonNumber, parseEvent, parseJsonLexical, stringifyEvent, type EventObject, type JsonValue, type LexicalJsonValue
} from './event-json.js'

/** An @time that is not an integer kronos time in range; `rawValue` is the JSON text as sent. */
export class InvalidEventTimeError extends ShoeboxError {
  readonly rawValue: string
  constructor (rawValue: string, why: string) {
    super('SHOEBOX_INVALID_EVENT_TIME', `invalid @time ${rawValue.length > 80 ? `${rawValue.slice(0, 80)}...` : rawValue}: ${why}`)
    this.name = 'InvalidEventTimeError'
    this.rawValue = rawValue
  }
}


/** A top-level member's value span. */
export interface MemberSpan { valueStart: number, valueEnd: number }

/**
 * What one walk over an event object finds: where it is, and its top-level
 * @time/@id members (the last of each, and how many there are). Reused from
 * event to event by the server's body walker, so finding them costs no
 * allocation; `all`, when given, also collects every member (scanEvent).
 */
export class EventMembers {
  /** Index just after the opening brace, and the index after the closing one. */
  bodyStart = 0
  end = 0
  /** Whether the object has no members. */
  empty = true
  timeCount = 0
  timeStart = 0
  timeEnd = 0
  idCount = 0
  idStart = 0
  idEnd = 0
}

/**
 * Walks the JSON object at `at` (its '{'), validating it, and records its
 * top-level @time/@id members into `m`; returns the index after its '}'.
 * `depth` is the nesting the object sits at (for the depth limit).
 */
export function walkEventMembers (
  text: string, at: number, depth: number, m: EventMembers, all?: { time: MemberSpan[], id: MemberSpan[] }
): number {
  m.bodyStart = at + 1
  m.timeCount = 0
  m.idCount = 0
  let i = skipWs(text, at + 1)
  m.empty = text.charCodeAt(i) === 0x7D
  if (m.empty) return (m.end = i + 1)
  for (;;) {
    if (text.charCodeAt(i) !== 0x22) throw invalidJson(i, `expected a key, got ${describeAt(text, i)}`)
    const keyEnd = skipString(text, i)
    const which = memberKind(text, i, keyEnd)
    i = skipWs(text, keyEnd)
    if (text.charCodeAt(i) !== 0x3A) throw invalidJson(i, `expected ':', got ${describeAt(text, i)}`)
    const valueStart = skipWs(text, i + 1)
    const valueEnd = skipMemberValue(text, valueStart, depth + 1)
    if (which === TIME) {
      m.timeCount++
      m.timeStart = valueStart
      m.timeEnd = valueEnd
      all?.time.push({ valueStart, valueEnd })
    } else if (which === ID) {
      m.idCount++
      m.idStart = valueStart
      m.idEnd = valueEnd
      all?.id.push({ valueStart, valueEnd })
    }
    i = skipWs(text, valueEnd)
    const d = text.charCodeAt(i)
    if (d === 0x7D) return (m.end = i + 1)
    if (d !== 0x2C) throw invalidJson(i, `expected ',' or '}', got ${describeAt(text, i)}`)
    i = skipWs(text, i + 1)
  }
}

/** skipJsonValue(), with the scalars most members hold skipped directly (no container bookkeeping). */
function skipMemberValue (text: string, i: number, depth: number): number {
  const c = text.charCodeAt(i)
  if (c === 0x22) return skipString(text, i)
  if (c === 0x2D || isDigit(c)) return skipNumber(text, i)
  return skipJsonValue(text, i, depth)
}

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
  const all = { time: [] as MemberSpan[], id: [] as MemberSpan[] }
  const m = new EventMembers()
  const end = walkEventMembers(text, start, 0, m, all)
  if (skipWs(text, end) !== text.length) throw invalidJson(skipWs(text, end), 'text after the event object')
  const time = m.timeCount === 0 ? null : readTime(text.slice(m.timeStart, m.timeEnd))
  return { start, end, bodyStart: m.bodyStart, empty: m.empty, timeMembers: all.time, idMembers: all.id, time }
}

const OTHER = 0
const TIME = 1
const ID = 2

/** Whether the key at [quote, end) is "@time", "@id" or another; only those two are ever unescaped. */
function memberKind (text: string, quote: number, end: number): number {
  const n = end - quote - 2
  if (text.charCodeAt(quote + 1) === 0x40) {
    if (n === 5 && text.startsWith('time', quote + 2)) return TIME
    if (n === 3 && text.startsWith('id', quote + 2)) return ID
  }
  // An escaped spelling is longer than the plain one, and at most six characters per character.
  if (n < 4 || n > 30) return OTHER
  let escaped = false
  for (let i = quote + 1; i < end - 1 && !escaped; i++) escaped = text.charCodeAt(i) === 0x5C
  if (!escaped) return OTHER
  const key = memberKey(text, quote, end)
  return key === '@time' ? TIME : key === '@id' ? ID : OTHER
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
  if (isIntegerText(raw)) {
    const t = BigInt(raw)
    if (!isKronosTimeInRange(t)) throw new InvalidEventTimeError(raw, TIME_OUT_OF_RANGE)
    return t
  }
  throw new InvalidEventTimeError(raw, TIME_NOT_INTEGER)
}

/** Why an @time is refused (readTime here, readTimeInto for the put path's bytes). */
export const TIME_NOT_INTEGER = 'must be an integer (100 ns ticks since the epoch)'
export const TIME_OUT_OF_RANGE = 'outside the range an event id can hold'

/** Whether a JSON value's text is an integer literal: '-' and digits (a loop, not a regex: one call per event put). */
function isIntegerText (raw: string): boolean {
  let i = raw.charCodeAt(0) === 0x2D ? 1 : 0
  if (i === raw.length) return false
  for (; i < raw.length; i++) if (!isDigit(raw.charCodeAt(i))) return false
  return true
}

export interface StampTextOptions {
  /** Set @time to this, replacing what the event has (stamp()'s field/function modes). */
  time?: KronosTime
  /** The @time for an event without one (or with null). Default: now, read at most once per call. */
  defaultTime?: KronosTime | (() => KronosTime)
  /**
   * Makes the @id. Default newEventId (crypto-random, never repeating for one time in this process).
   * `given` is the JSON text of the event's own (last) @id member, when it has one.
   */
  newId?: (time: KronosTime, given: string | undefined) => string
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
  const given = scan.idMembers[scan.idMembers.length - 1]
  const id = options.newId === undefined ? newEventId(time) : options.newId(time, given === undefined ? undefined : text.slice(given.valueStart, given.valueEnd))
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


/**
 * Why an event given as bytes that are not UTF-8 is refused (stamp(),
 * ship()): decoded, it would hold U+FFFD in place of the bad bytes, an
 * event the sender never wrote.
 */
export const NOT_UTF8_EVENT = 'not valid UTF-8 (left out rather than shipped with U+FFFD in place of its bytes)'

/**
 * An event given as bytes (stamp(), ship()), as a Buffer over the same
 * memory; undefined when it is not. A plain Uint8Array is bytes too:
 * `Readable.fromWeb()`, a web stream's reader and TextEncoder give those, and
 * one was taken for an event object and sent as {"0":123,"1":34,...}.
 */
export function eventBytes (input: unknown): Buffer | undefined {
  if (Buffer.isBuffer(input)) return input
  if (input instanceof Uint8Array) return Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  return undefined
}

/**
 * Why a written value that is neither an event object, its JSON text nor
 * that text's bytes (eventBytes()) is refused (stamp(), ship()); undefined
 * for one that may be an event. Other views of memory (a Uint16Array, a
 * DataView, an ArrayBuffer) were stamped as their indices, or as {}.
 */
export function notAnEvent (input: unknown): string | undefined {
  if (typeof input === 'string' || eventBytes(input) !== undefined) return undefined
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    return `an event is an object or its JSON text, got a ${input.constructor.name}: the bytes of its text come as a Buffer or Uint8Array`
  }
  if (typeof input !== 'object' || input === null) return `an event is an object or its JSON text, got ${input === null ? 'null' : typeof input}`
  return undefined
}
