/**
 * A single-pass, non-recursive JSON validator and its pieces: where a JSON
 * value ends (skipJsonValue), whether a text is one JSON value
 * (checkJsonText). Strict on purpose: NaN/Infinity, raw control characters
 * in strings and nesting deeper than MAX_JSON_DEPTH are SHOEBOX_INVALID_JSON,
 * naming the character position. parse-json.ts, the events (their text as
 * received, exact big integers) and the metadir's sources build on it.
 */
import { ShoeboxError } from '../errors.js'

export const MAX_JSON_DEPTH = 1000

/** SHOEBOX_INVALID_JSON with where (a character offset) and why, for callers that name lines. */
export class InvalidJsonError extends ShoeboxError {
  readonly offset: number
  readonly why: string
  constructor (offset: number, why: string) {
    super('SHOEBOX_INVALID_JSON', `invalid JSON at character ${offset}: ${why}`)
    this.offset = offset
    this.why = why
  }
}

export function invalidJson (at: number, why: string): InvalidJsonError {
  return new InvalidJsonError(at, why)
}

export function skipWs (s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i)
    if (c === 0x20 || c === 0x0A || c === 0x0D || c === 0x09) i++
    else return i
  }
}

const HEX = /^[0-9a-fA-F]{4}$/

/** `i` is at an opening quote; returns the index after the closing one. */
export function skipString (s: string, i: number): number {
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

export function isDigit (c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

/**
 * `i` is at '-' or a digit; returns the index after the number. With
 * `longIntegers`, the span of an integer literal of 16 or more digits (one
 * that may not fit a double) is appended as start, end.
 */
export function skipNumber (s: string, i: number, longIntegers?: number[]): number {
  const start = i
  if (s.charCodeAt(i) === 0x2D) i++
  if (s.charCodeAt(i) === 0x30) {
    i++
  } else if (isDigit(s.charCodeAt(i))) {
    while (isDigit(s.charCodeAt(i))) i++
  } else {
    throw invalidJson(start, 'bad number')
  }
  const fraction = s.charCodeAt(i) === 0x2E
  if (fraction) {
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
  } else if (longIntegers !== undefined && !fraction && i - start >= 16) {
    longIntegers.push(start, i)
  }
  return i
}

export function skipLiteral (s: string, i: number): number {
  for (const word of ['true', 'false', 'null']) {
    if (s.startsWith(word, i)) return i + word.length
  }
  throw invalidJson(i, `unexpected ${describeAt(s, i)}`)
}

export function describeAt (s: string, i: number): string {
  return i >= s.length ? 'end of text' : `character ${JSON.stringify(s[i])}`
}

/** Past a member's key and colon: `i` at the key's quote, returns the value's start. */
export function skipKeyColon (s: string, i: number): number {
  if (s.charCodeAt(i) !== 0x22) throw invalidJson(i, `expected a key, got ${describeAt(s, i)}`)
  i = skipWs(s, skipString(s, i))
  if (s.charCodeAt(i) !== 0x3A) throw invalidJson(i, `expected ':', got ${describeAt(s, i)}`)
  return skipWs(s, i + 1)
}

/**
 * Validates the JSON value starting at `start` (after optional whitespace)
 * and returns the index just past it. `depth` is the nesting it sits at
 * (for the depth limit). Iterative, so deep input cannot overflow the stack.
 * `longIntegers`, if given, collects the spans of integer literals of 16 or
 * more digits (start, end, start, end...).
 */
export function skipJsonValue (s: string, start: number, depth = 0, longIntegers?: number[]): number {
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
      i = skipNumber(s, i, longIntegers)
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


/** Validates that `text` is one JSON value (whitespace around it allowed). */
export function checkJsonText (text: string): void {
  const end = skipJsonValue(text, 0)
  if (skipWs(text, end) !== text.length) throw invalidJson(skipWs(text, end), 'text after the value')
}

