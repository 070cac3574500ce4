/**
 * JSON text as written, for callers that must not round it through
 * JSON.parse and JSON.stringify (which round an integer past 2^53, make 1e400
 * null, drop a repeated key, move integer-like keys first, and recurse):
 * jsonFieldSpan() finds where a field's value is in an object's text, and
 * compactJson() takes the whitespace out of a text and changes nothing else.
 * Both are non-recursive, so any depth costs no stack.
 */
import { skipJsonValue, skipString, skipWs } from './json-scan.js'

/** skipJsonValue's starting depth that no nesting brings to MAX_JSON_DEPTH. */
const NO_DEPTH_LIMIT = Number.NEGATIVE_INFINITY

export interface JsonSpan {
  start: number
  end: number
}

/**
 * The span of `path` in `s`, a JSON text already validated, or undefined when
 * it has no such field. The scan never recurses, and its depth limit is
 * lifted (the text is valid, and only skipped): a line nested deeper than
 * MAX_JSON_DEPTH anywhere is found in as any other.
 */
export function jsonFieldSpan (s: string, path: readonly string[]): JsonSpan | undefined {
  let span = { start: skipWs(s, 0), end: -1 }
  for (const key of path) {
    if (s.charCodeAt(span.start) !== 0x7B) return undefined
    let found: JsonSpan | undefined
    let i = skipWs(s, span.start + 1)
    while (s.charCodeAt(i) === 0x22) {
      const keyEnd = skipString(s, i)
      const name = JSON.parse(s.slice(i, keyEnd)) as string
      const valueStart = skipWs(s, skipWs(s, keyEnd) + 1)
      const valueEnd = skipJsonValue(s, valueStart, NO_DEPTH_LIMIT)
      if (name === key) found = { start: valueStart, end: valueEnd }
      i = skipWs(s, valueEnd)
      if (s.charCodeAt(i) !== 0x2C) break
      i = skipWs(s, i + 1)
    }
    if (found === undefined) return undefined
    span = found
  }
  if (span.end < 0) span.end = skipJsonValue(s, span.start, NO_DEPTH_LIMIT)
  return span
}

/** s[start, end), a JSON text already validated (json-scan.ts), without whitespace outside its strings. */
export function compactJson (s: string, start = 0, end = s.length): string {
  let out = ''
  let from = start
  let i = start
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c === 0x22) {
      i = skipString(s, i)
    } else if (isWs(c)) {
      out += s.slice(from, i)
      while (i < end && isWs(s.charCodeAt(i))) i++
      from = i
    } else {
      i++
    }
  }
  return out + s.slice(from, end)
}

function isWs (c: number): boolean {
  return c === 0x20 || c === 0x0A || c === 0x0D || c === 0x09
}
