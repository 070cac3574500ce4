/**
 * The JSON scanner of json-scan.ts, over a request body's bytes instead of
 * its decoded text: where a value ends, checking it is valid JSON as it
 * goes (same grammar, same depth limit). A put body is walked here as read
 * from the socket, so it is never decoded into one large string (which cost
 * a UTF-8 pass, a regex pass and an old-space string per put); only the
 * small spans that need a string (stream names, values named in errors) are
 * decoded.
 *
 * The bytes must be valid UTF-8 (the caller checks, isUtf8): then every
 * byte >= 0x80 belongs to a character inside a string, since JSON's
 * structure is ASCII, and a string is skipped byte by byte without decoding
 * (indexing a Buffer costs ~1.2 ns a byte here, charCodeAt ~2.1 ns). Offsets
 * in errors are byte offsets.
 */
import { ShoeboxError } from '../../errors.js'
import { MAX_JSON_DEPTH } from '../../json/json-scan.js'

export function invalidJsonAt (at: number, why: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_INVALID_JSON', `invalid JSON at byte ${at}: ${why}`)
}

/** Per byte inside a string: 0 goes on, 1 is the closing quote, 2 a backslash, 3 a control character. */
const IN_STRING = new Uint8Array(256)
for (let c = 0; c < 0x20; c++) IN_STRING[c] = 3
IN_STRING[0x22] = 1
IN_STRING[0x5C] = 2

/** Hex digits (for \u escapes). */
const IS_HEX = new Uint8Array(256)
for (const c of Buffer.from('0123456789abcdefABCDEF', 'latin1')) IS_HEX[c] = 1

/** Whether the last string skipString() skipped held an escape (its text differs from its bytes): read right after it. */
export const lastString = { escaped: false }

export function skipWs (b: Buffer, i: number): number {
  for (;;) {
    const c = b[i]
    if (c === 0x20 || c === 0x0A || c === 0x0D || c === 0x09) i++
    else return i
  }
}

/** `i` is at an opening quote; returns the index after the closing one. */
export function skipString (b: Buffer, i: number): number {
  const n = b.length
  let escaped = false
  i++
  while (i < n) {
    const kind = IN_STRING[b[i]]
    if (kind === 0) {
      i++
    } else if (kind === 1) {
      lastString.escaped = escaped
      return i + 1
    } else if (kind === 2) {
      escaped = true
      const e = b[i + 1]
      if (e === 0x75) {
        if (i + 6 > n || IS_HEX[b[i + 2]] === 0 || IS_HEX[b[i + 3]] === 0 || IS_HEX[b[i + 4]] === 0 || IS_HEX[b[i + 5]] === 0) throw invalidJsonAt(i, 'bad \\u escape')
        i += 6
      } else if (e === 0x22 || e === 0x5C || e === 0x2F || e === 0x62 || e === 0x66 || e === 0x6E || e === 0x72 || e === 0x74) {
        i += 2
      } else {
        throw invalidJsonAt(i, 'bad escape')
      }
    } else {
      throw invalidJsonAt(i, 'control character in string')
    }
  }
  throw invalidJsonAt(n, 'unterminated string')
}

function isDigit (c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

/** `i` is at '-' or a digit; returns the index after the number. */
export function skipNumber (b: Buffer, i: number): number {
  const start = i
  if (b[i] === 0x2D) i++
  if (b[i] === 0x30) {
    i++
  } else if (isDigit(b[i])) {
    while (isDigit(b[i])) i++
  } else {
    throw invalidJsonAt(start, 'bad number')
  }
  if (b[i] === 0x2E) {
    i++
    if (!isDigit(b[i])) throw invalidJsonAt(start, 'bad number')
    while (isDigit(b[i])) i++
  }
  const e = b[i]
  if (e === 0x65 || e === 0x45) {
    i++
    const sign = b[i]
    if (sign === 0x2B || sign === 0x2D) i++
    if (!isDigit(b[i])) throw invalidJsonAt(start, 'bad number')
    while (isDigit(b[i])) i++
  }
  return i
}

const LITERALS = ['true', 'false', 'null'].map((w) => Buffer.from(w, 'latin1'))

function skipLiteral (b: Buffer, i: number): number {
  for (const word of LITERALS) {
    if (i + word.length <= b.length && b.compare(word, 0, word.length, i, i + word.length) === 0) return i + word.length
  }
  throw invalidJsonAt(i, i >= b.length ? 'unexpected end' : `unexpected byte 0x${b[i].toString(16)}`)
}

/** Past a member's key and colon: `i` at the key's quote, returns the value's start. */
function skipKeyColon (b: Buffer, i: number): number {
  if (b[i] !== 0x22) throw invalidJsonAt(i, 'expected a key')
  i = skipWs(b, skipString(b, i))
  if (b[i] !== 0x3A) throw invalidJsonAt(i, "expected ':'")
  return skipWs(b, i + 1)
}

/**
 * The closing bytes of the containers skipValue() is inside, innermost last:
 * one array for every call (skipValue is synchronous and never re-entered), so
 * an event's nested objects (`"viewport":{"w":1760,"h":990}`) cost no
 * allocation each.
 */
const closers = new Uint8Array(MAX_JSON_DEPTH)

/**
 * Validates the JSON value at `start` (after optional whitespace) and
 * returns the index just past it; `depth` is the nesting it sits at.
 * Iterative, as skipJsonValue() is, so deep input cannot overflow the stack.
 */
export function skipValue (b: Buffer, start: number, depth: number): number {
  let open = 0
  let i = skipWs(b, start)
  for (;;) {
    const c = b[i]
    if (c === 0x7B || c === 0x5B) {
      if (depth + open >= MAX_JSON_DEPTH) throw invalidJsonAt(i, `nested deeper than ${MAX_JSON_DEPTH}`)
      const close = c === 0x7B ? 0x7D : 0x5D
      i = skipWs(b, i + 1)
      if (b[i] === close) {
        i++
      } else {
        closers[open++] = close
        if (close === 0x7D) i = skipKeyColon(b, i)
        continue
      }
    } else if (c === 0x22) {
      i = skipString(b, i)
    } else if (c === 0x2D || isDigit(c)) {
      i = skipNumber(b, i)
    } else {
      i = skipLiteral(b, i)
    }
    for (;;) {
      if (open === 0) return i
      i = skipWs(b, i)
      const d = b[i]
      const close = closers[open - 1]
      if (d === 0x2C) {
        i = skipWs(b, i + 1)
        if (close === 0x7D) i = skipKeyColon(b, i)
        break
      }
      if (d !== close) throw invalidJsonAt(i, `expected ',' or '${String.fromCharCode(close)}'`)
      open--
      i++
    }
  }
}

/** The string at [quote, end) (a JSON string's bytes, quotes included) as a string. */
export function stringAt (b: Buffer, quote: number, end: number): string {
  return JSON.parse(b.toString('utf8', quote, end)) as string
}
