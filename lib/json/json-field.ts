/**
 * jsonFieldSpan(): where a field (a path of keys) of a JSON object text is,
 * as the span of its value's text, so that a caller can take the value as
 * written (compact-json.ts) rather than as JSON.parse rounds it. Keys repeat
 * as JSON.parse has them: the last one wins. Only objects are descended
 * into; a path through anything else finds nothing.
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
