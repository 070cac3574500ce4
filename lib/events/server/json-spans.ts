/**
 * Where the members of an already validated JSON object (or the elements of
 * an array) are in its text: a put keeps each event as the text it was sent
 * as (spec §13), so the body is walked, never parsed into objects and
 * written again. The value scanner is the events core's skipJsonValue().
 */
import { skipJsonValue } from '../event-text.js'

export interface MemberSpan {
  key: string
  start: number
  end: number
}

function skipWs (s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i)
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break
    i++
  }
  return i
}

/** The first non-whitespace character at or after `i` (to tell objects and arrays apart). */
export function firstChar (s: string, start: number): string {
  return s[skipWs(s, start)] ?? ''
}

/** The members of the object whose '{' is at or after `start` (valid JSON), in text order. */
export function objectMembers (s: string, start: number): MemberSpan[] {
  const out: MemberSpan[] = []
  let i = skipWs(s, start) + 1
  i = skipWs(s, i)
  if (s.charCodeAt(i) === 0x7d) return out
  for (;;) {
    const keyEnd = skipJsonValue(s, i)
    const key = JSON.parse(s.slice(i, keyEnd)) as string
    const valueStart = skipWs(s, skipWs(s, keyEnd) + 1)
    const valueEnd = skipJsonValue(s, valueStart, 1)
    out.push({ key, start: valueStart, end: valueEnd })
    i = skipWs(s, valueEnd)
    if (s.charCodeAt(i) !== 0x2c) return out
    i = skipWs(s, i + 1)
  }
}

/** The elements of the array whose '[' is at or after `start` (valid JSON), as [start, end) spans. */
export function arrayElements (s: string, start: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let i = skipWs(s, skipWs(s, start) + 1)
  if (s.charCodeAt(i) === 0x5d) return out
  for (;;) {
    const end = skipJsonValue(s, i, 1)
    out.push([i, end])
    i = skipWs(s, end)
    if (s.charCodeAt(i) !== 0x2c) return out
    i = skipWs(s, i + 1)
  }
}
