/**
 * Parsing event JSON without losing what JSON.parse loses: parseEvent()
 * keeps integers beyond 2^53 exact (bigint), parseJsonLexical() keeps every
 * number as its text (JsonNumber; infer_schema tells Integer `2` from Number
 * `2.0` by it, spec §5.6), and stringifyEvent() writes either back.
 */
import { ShoeboxError } from '../errors.js'
import { checkJsonText, invalidJson, skipJsonValue, skipWs } from '../json/json-scan.js'
import { setOwnKey } from '../json/own-key.js'
import { parseJsonText } from '../json/parse-json.js'

/** A JSON value as parseEvent() returns it: integers beyond 2^53 are bigints. */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue }
export type EventObject = { [key: string]: JsonValue }

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

/** Integers beyond 2^53 exact as bigint; every other number as a JS number. */
function exactNumber (raw: string): number | bigint {
  const n = Number(raw)
  if (!Number.isSafeInteger(n) && !/[.eE]/.test(raw)) return BigInt(raw)
  return n
}

const LONG_INTEGER = /\d{16}/

/**
 * Parses event text (or any JSON) so integers beyond 2^53 stay exact
 * (bigint); smaller integers and other numbers are JS numbers.
 *
 * Fast, because every Kronos event has one such integer (@time, ~1.7e16):
 * text without a backslash (most events) takes markLongIntegers() below;
 * other text without a 16-digit run goes to JSON.parse; otherwise one
 * validating scan finds the long integer literals. Either way those beyond
 * 2^53 are swapped for marker strings ("\u0000" + index; no decoded string
 * can start with NUL unless the text spells \u0000, which takes the exact
 * parser) and JSON.parse does the rest; the markers are then replaced by
 * bigints.
 */
export function parseEvent (text: string): JsonValue {
  const timeFirst = parseTimeFirst(text)
  if (timeFirst !== undefined) return timeFirst
  const fast = text.includes('\\') ? undefined : markLongIntegers(text)
  if (fast !== undefined) {
    let value: JsonValue
    try {
      value = JSON.parse(fast.marked) as JsonValue
    } catch {
      checkJsonText(text) // throws SHOEBOX_INVALID_JSON with the position
      throw invalidJson(0, 'not JSON') // unreachable: the marked text is valid when the text is
    }
    return fast.bigs.length === 0 ? value : restoreBigints(value, fast.bigs)
  }
  if (!LONG_INTEGER.test(text)) {
    try {
      return JSON.parse(text) as JsonValue
    } catch {
      checkJsonText(text) // throws SHOEBOX_INVALID_JSON with the position
    }
  }
  if (text.includes('\\u0000')) return parseJsonText(text, exactNumber) as JsonValue
  const spans: number[] = []
  const end = skipJsonValue(text, 0, 0, spans)
  if (skipWs(text, end) !== text.length) throw invalidJson(skipWs(text, end), 'text after the value')
  const bigs: bigint[] = []
  let marked = ''
  let at = 0
  for (let k = 0; k < spans.length; k += 2) {
    const raw = text.slice(spans[k], spans[k + 1])
    if (Number.isSafeInteger(Number(raw))) continue
    marked += `${text.slice(at, spans[k])}"\\u0000${bigs.length}"`
    at = spans[k + 1]
    bigs.push(BigInt(raw))
  }
  if (bigs.length === 0) return JSON.parse(text) as JsonValue
  const value = JSON.parse(marked + text.slice(at)) as JsonValue
  return restoreBigints(value, bigs)
}

const TIME_FIRST = '{"@time":'
/** A `\u00XX` escape of a character of "@time": a key spelled with one may be a second @time. */
const ESCAPED_TIME_CHAR = /\\u00(?:40|74|69|6[dD]|65)/

/**
 * The fastest path of parseEvent(), for event text as `shoebox serve` and
 * ship() write it: `{"@time":` first (the server stamps it there; ship()
 * sends it there), a number, a comma, and no other @time key and no other
 * integer beyond 2^53 anywhere. JSON.parse reads the text as it is, then
 * @time is put back from its literal. The check for other long integers
 * walks the parsed value (any literal beyond 2^53 parses to a number that
 * is not a safe integer); finding one, or anything else out of the
 * ordinary, gives undefined: the general paths below decide.
 */
function parseTimeFirst (text: string): JsonValue | undefined {
  if (!text.startsWith(TIME_FIRST)) return undefined
  // When @time's value is a number (the only case kept here), it ends at the first comma:
  // found by indexOf, not by a loop over its digits (charCodeAt per digit costs ~0.1 µs).
  const comma = text.indexOf(',', TIME_FIRST.length)
  if (comma === -1) return undefined
  // A second @time key (a duplicate wins in JSON.parse) is for the general paths, spelled
  // plainly or with escapes. '@time' rather than '"@time"': V8 searches a pattern of 7 or
  // more characters with a table it builds per call (~0.25 µs an event), a shorter one by
  // its rare first character. Escapes of @, t, i, m, e are \u00xx only (\t is a tab).
  if (text.indexOf('@time', comma) !== -1) return undefined
  if (text.indexOf('\\', comma) !== -1 && ESCAPED_TIME_CHAR.test(text)) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined // the general paths report where
  }
  const event = value as Record<string, JsonValue>
  const time = event['@time']
  if (typeof time !== 'number') return undefined
  for (const key in event) if (key !== '@time' && hasUnsafeInteger(event[key])) return undefined
  if (!Number.isSafeInteger(time)) {
    // Rounded, or not an integer (1.5, 1e20: JS numbers, as the general paths keep them). BigInt
    // takes exactly an integer literal with the JSON whitespace around it, and throws otherwise.
    try {
      event['@time'] = BigInt(text.slice(TIME_FIRST.length, comma))
    } catch {
      return undefined
    }
  }
  return event
}

/** Does `value` hold a number JSON.parse may have rounded (an integer beyond 2^53)? */
function hasUnsafeInteger (value: JsonValue): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value)
  if (value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasUnsafeInteger(value[i])) return true
    return false
  }
  for (const key in value) if (hasUnsafeInteger(value[key])) return true
  return false
}

const DIGIT_RUN = /\d{16,}/g
const INTEGER = /^-?(?:0|[1-9]\d*)$/

/** Is c a character of a JSON number literal (digits, sign, point, exponent)? */
function isNumberChar (c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2D || c === 0x2B || c === 0x2E || c === 0x65 || c === 0x45
}

/**
 * The fast path of parseEvent() for text without backslashes (most event
 * text): with no escapes, a position is inside a string exactly when an odd
 * number of '"' come before it, so a regex finds the long digit runs and
 * counting quotes tells literals from string contents, instead of
 * json-scan.ts's validating walk over every character (~3 µs of a 300-byte
 * event). JSON.parse of the marked text still validates all of it: a marker
 * only replaces an integer literal in value position (followed by ',', '}',
 * ']' or the end, never ':'), so the marked text is valid exactly when the
 * text is. Undefined (take the validating scan) for anything else.
 */
function markLongIntegers (text: string): { marked: string, bigs: bigint[] } | undefined {
  const bigs: bigint[] = []
  let marked = ''
  let at = 0
  let quotes = 0
  let counted = 0
  DIGIT_RUN.lastIndex = 0
  for (let m = DIGIT_RUN.exec(text); m !== null; m = DIGIT_RUN.exec(text)) {
    for (let q = text.indexOf('"', counted); q !== -1 && q < m.index; q = text.indexOf('"', q + 1)) quotes++
    counted = m.index
    if (quotes % 2 === 1) continue // inside a string
    let start = m.index
    while (start > 0 && isNumberChar(text.charCodeAt(start - 1))) start--
    const runEnd = DIGIT_RUN.lastIndex
    let end = runEnd
    while (end < text.length && isNumberChar(text.charCodeAt(end))) end++
    DIGIT_RUN.lastIndex = end
    // The common case, a plain run of digits after ':' / ',' / '[', needs no second look.
    const plain = start === m.index && end === runEnd && text.charCodeAt(start) !== 0x30
    const raw = text.slice(start, end)
    if (!plain) {
      if (/[.eE]/.test(raw)) continue // a float stays a JS number
      if (!INTEGER.test(raw)) return undefined
    }
    if (Number.isSafeInteger(Number(raw))) continue
    let next = end
    while (next < text.length && (text.charCodeAt(next) === 0x20 || text.charCodeAt(next) === 0x0A || text.charCodeAt(next) === 0x0D || text.charCodeAt(next) === 0x09)) next++
    if (next < text.length && !(text[next] === ',' || text[next] === '}' || text[next] === ']')) return undefined
    marked += `${text.slice(at, start)}"\\u0000${bigs.length}"`
    at = end
    bigs.push(BigInt(raw))
  }
  return { marked: marked + text.slice(at), bigs }
}

function markerIndex (v: unknown): number {
  return typeof v === 'string' && v.charCodeAt(0) === 0 ? Number(v.slice(1)) : -1
}

/** Puts the bigints back where their markers are: the top level first (where @time is), deeper only if needed. */
function restoreBigints (value: JsonValue, bigs: bigint[]): JsonValue {
  const top = markerIndex(value)
  if (top >= 0) return bigs[top]
  if (value === null || typeof value !== 'object') return value
  let left = bigs.length
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const m = markerIndex(value[i])
      if (m >= 0) {
        value[i] = bigs[m]
        left--
      }
    }
  } else {
    for (const k in value) {
      const m = markerIndex(value[k])
      if (m < 0) continue
      setOwnKey(value, k, bigs[m])
      left--
    }
  }
  // Duplicate keys may have dropped markers, so `left` is an upper bound: walk on while any may remain.
  if (left > 0) {
    const children = Array.isArray(value) ? value : Object.values(value)
    for (const v of children) if (v !== null && typeof v === 'object') restoreBigints(v, bigs)
  }
  return value
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
  try {
    return stringifyValue(value)
  } catch (err) {
    // A value that holds itself recurses until the stack runs out (JSON.stringify would throw its own TypeError).
    // V8's 'Maximum call stack size exceeded' is a RangeError with no code: its words are all that tell it from
    // another RangeError (an invalid string length), so they are matched.
    if (err instanceof RangeError && /call stack/.test(err.message)) {
      throw new ShoeboxError('SHOEBOX_INVALID_EVENT', 'invalid event: not JSON-serialisable (it holds itself, or nests too deeply)', { cause: err })
    }
    throw err
  }
}

function stringifyValue (value: unknown): string {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof JsonNumber) return value.text
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return stringifyValue((value as { toJSON: () => unknown }).toJSON())
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === 'function') ? 'null' : stringifyValue(v)).join(',')}]`
  const parts: string[] = []
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue
    parts.push(`${JSON.stringify(k)}:${stringifyValue(v)}`)
  }
  return `{${parts.join(',')}}`
}
