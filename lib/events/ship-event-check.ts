/**
 * The shipper's one-pass check of an event text in its common shape, so
 * the common event costs one walk with no allocation (event-text.ts's
 * scanEvent, plus the @library search and the slices around it, cost the
 * shipper ~3-5 µs an event).
 *
 * The common shape: one JSON object with nothing around it, valid as
 * json-scan.ts's strict validator sees it (no NaN, no raw control
 * characters, nesting up to MAX_JSON_DEPTH), with at most one top-level
 * @time whose value is an integer literal of at most 17 digits (always
 * inside the kronos range, which spans 18 digits either way), at most one
 * top-level @id whose value is a string (a caller's, which the shipper
 * replaces), and no top-level key written with an escape (it could spell
 * @time or @id). Where the @time value and the @id string are is left in
 * quickSpans, so the caller needs no second scan. Anything
 * else, invalid text included, is "not quick": the caller takes the exact
 * path (scanEvent), which decides and names what is wrong. So this check
 * never accepts what that path refuses: test/events/ship-event-check.test.ts
 * compares the two over valid texts and every truncation and mutation of them.
 */
import { MAX_JSON_DEPTH } from '../json/json-scan.js'

/** Not the common shape (or not valid): take the exact path. */
export const NOT_QUICK = -1
/** Bit set when the object has its top-level @time (a valid integer). */
export const HAS_TIME = 1
/** Bit set when some key, at any depth, is "@library" as written (what /"@library"\s*:/ finds). */
export const HAS_LIBRARY = 2
/** Bit set when the object has its top-level @id (a string). */
export const HAS_ID = 4
/** Bits of members that may appear once at the top level in the quick shape. */
const ONCE = HAS_TIME | HAS_ID

/**
 * Where the last quick-checked text's top-level @time value (the digits, sign
 * included) and @id value (the string, quotes included) are: [start, end),
 * valid when its HAS_TIME / HAS_ID bit is set. One object, reused.
 */
export const quickSpans = { timeStart: 0, timeEnd: 0, idStart: 0, idEnd: 0 }

const QUOTE = 0x22
const BACKSLASH = 0x5C
const COMMA = 0x2C
const COLON = 0x3A
const LBRACE = 0x7B
const RBRACE = 0x7D
const LBRACKET = 0x5B
const RBRACKET = 0x5D
const MINUS = 0x2D

/** The closer of each open container; reused (the check is synchronous). */
const closers = new Uint8Array(MAX_JSON_DEPTH + 1)

/** HAS_TIME | HAS_LIBRARY bits, or NOT_QUICK. */
export function quickCheckEvent (text: string): number {
  const n = text.length
  if (n < 2 || text.charCodeAt(0) !== LBRACE || text.charCodeAt(n - 1) !== RBRACE) return NOT_QUICK
  plain = !SPECIAL.test(text)
  let found = 0
  let depth = 0
  let i = 0
  for (;;) {
    // i is at a value.
    const c = text.charCodeAt(i)
    let valueDone = true
    if (c === LBRACE || c === LBRACKET) {
      if (depth >= MAX_JSON_DEPTH) return NOT_QUICK
      const close = c === LBRACE ? RBRACE : RBRACKET
      closers[depth++] = close
      i = skipWs(text, i + 1)
      if (text.charCodeAt(i) === close) {
        i++
        depth--
      } else if (close === RBRACE) {
        i = member(text, i, depth)
        // A second top-level @time or @id: the exact path keeps the last @time and rewrites every @id.
        if (i < 0 || (memberFound & found & ONCE) !== 0) return NOT_QUICK
        found |= memberFound
        valueDone = false
      } else {
        valueDone = false
      }
    } else if (c === QUOTE) {
      i = skipString(text, i)
    } else if (c === MINUS || (c >= 0x30 && c <= 0x39)) {
      i = skipNumber(text, i)
    } else if (c === 0x74 && text.startsWith('true', i)) {
      i += 4
    } else if (c === 0x66 && text.startsWith('false', i)) {
      i += 5
    } else if (c === 0x6E && text.startsWith('null', i)) {
      i += 4
    } else {
      return NOT_QUICK
    }
    if (i < 0) return NOT_QUICK
    if (!valueDone) continue
    // After a value: close containers, or a comma and the next value.
    for (;;) {
      if (depth === 0) return i === n ? found : NOT_QUICK
      i = skipWs(text, i)
      const d = text.charCodeAt(i)
      if (d === closers[depth - 1]) {
        i++
        depth--
        continue
      }
      if (d !== COMMA) return NOT_QUICK
      i = skipWs(text, i + 1)
      if (closers[depth - 1] === RBRACE) {
        i = member(text, i, depth)
        if (i < 0 || (memberFound & found & ONCE) !== 0) return NOT_QUICK
        found |= memberFound
      }
      break
    }
  }
}

/** What the last member() saw (HAS_TIME, HAS_LIBRARY, HAS_ID bits): a module variable, not an object per key. */
let memberFound = 0

/**
 * At a key of an object at `depth`: past the key, the colon and white space,
 * to the value (a top-level @time's value is checked and passed too, up to
 * the next token; a top-level @id's value must be a string, whose span is
 * kept). Returns the index, or -1 for NOT_QUICK.
 */
function member (text: string, i: number, depth: number): number {
  memberFound = 0
  if (text.charCodeAt(i) !== QUOTE) return -1
  const keyStart = i + 1
  const end = skipString(text, i)
  if (end < 0) return -1
  const keyLength = end - 1 - keyStart
  if (text.charCodeAt(keyStart) === 0x40) {
    if (keyLength === 8 && text.startsWith('@library', keyStart)) memberFound = HAS_LIBRARY
    else if (depth === 1 && keyLength === 5 && text.startsWith('@time', keyStart)) memberFound = HAS_TIME
    else if (depth === 1 && keyLength === 3 && text.startsWith('@id', keyStart)) memberFound = HAS_ID
  }
  if (depth === 1 && escaped) return -1
  i = skipWs(text, end)
  if (text.charCodeAt(i) !== COLON) return -1
  i = skipWs(text, i + 1)
  if (memberFound === HAS_TIME) return timeValue(text, i)
  if (memberFound === HAS_ID) {
    // Left in place (it is a value, skipped by the caller); another kind of @id takes the exact path.
    if (text.charCodeAt(i) !== QUOTE) return -1
    const idEnd = skipString(text, i)
    if (idEnd < 0) return -1
    quickSpans.idStart = i
    quickSpans.idEnd = idEnd
  }
  return i
}

/** An integer literal of 1-17 digits (optionally negative), left in place (it is a value); -1 otherwise. */
function timeValue (text: string, i: number): number {
  let j = i
  if (text.charCodeAt(j) === MINUS) j++
  const first = j
  while (j < text.length) {
    const c = text.charCodeAt(j)
    if (c < 0x30 || c > 0x39) break
    j++
  }
  const digits = j - first
  if (digits === 0 || digits > 17 || (digits > 1 && text.charCodeAt(first) === 0x30)) return -1
  const c = text.charCodeAt(j)
  if (c === 0x2E || c === 0x65 || c === 0x45) return -1
  quickSpans.timeStart = i
  quickSpans.timeEnd = j
  return i
}

/**
 * The @time of the text quickCheckEvent() last saw with HAS_TIME, read from
 * its digits in place (no slice): at most 17 digits, as two parts each
 * exact as a double.
 */
export function quickTime (text: string): bigint {
  let i = quickSpans.timeStart
  const end = quickSpans.timeEnd
  const negative = text.charCodeAt(i) === MINUS
  if (negative) i++
  const split = Math.max(i, end - 9)
  let high = 0
  for (; i < split; i++) high = high * 10 + text.charCodeAt(i) - 0x30
  let low = 0
  for (; i < end; i++) low = low * 10 + text.charCodeAt(i) - 0x30
  const t = high === 0 ? BigInt(low) : BigInt(high) * 1_000_000_000n + BigInt(low)
  return negative ? -t : t
}

function skipWs (s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i)
    if (c === 0x20 || c === 0x0A || c === 0x0D || c === 0x09) i++
    else return i
  }
}

function isHex (c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

/** Whether the last skipString() met an escape. */
let escaped = false

/** A backslash or a raw control character anywhere in the text. */
// eslint-disable-next-line no-control-regex -- raw control characters are what it looks for
const SPECIAL = /[\u0000-\u001f\\]/
/**
 * The text being checked has neither (most events): each of its strings
 * ends at the next quote, found by indexOf rather than a loop over its
 * characters (one native scan of the text for both is cheaper).
 */
let plain = false

/** At an opening quote; the index past the closing one, or -1. */
function skipString (s: string, i: number): number {
  escaped = false
  if (plain) {
    const quote = s.indexOf('"', i + 1)
    return quote < 0 ? -1 : quote + 1
  }
  const n = s.length
  i++
  while (i < n) {
    const c = s.charCodeAt(i)
    if (c === QUOTE) return i + 1
    if (c === BACKSLASH) {
      escaped = true
      const e = s.charCodeAt(i + 1)
      if (e === 0x75) {
        if (!(isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5)))) return -1
        i += 6
      } else if (e === QUOTE || e === BACKSLASH || e === 0x2F || e === 0x62 || e === 0x66 || e === 0x6E || e === 0x72 || e === 0x74) {
        i += 2
      } else {
        return -1
      }
    } else if (c < 0x20) {
      return -1
    } else {
      i++
    }
  }
  return -1
}

function isDigit (c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

/** At '-' or a digit; the index past the number, or -1. */
function skipNumber (s: string, i: number): number {
  if (s.charCodeAt(i) === MINUS) i++
  if (s.charCodeAt(i) === 0x30) i++
  else if (isDigit(s.charCodeAt(i))) while (isDigit(s.charCodeAt(i))) i++
  else return -1
  if (s.charCodeAt(i) === 0x2E) {
    i++
    if (!isDigit(s.charCodeAt(i))) return -1
    while (isDigit(s.charCodeAt(i))) i++
  }
  const e = s.charCodeAt(i)
  if (e === 0x65 || e === 0x45) {
    i++
    const sign = s.charCodeAt(i)
    if (sign === 0x2B || sign === MINUS) i++
    if (!isDigit(s.charCodeAt(i))) return -1
    while (isDigit(s.charCodeAt(i))) i++
  }
  return i
}
