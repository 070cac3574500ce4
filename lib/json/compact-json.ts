/**
 * compactJson(): a JSON text with the whitespace between its tokens taken
 * out, and nothing else changed. Parsing and stringifying again would also
 * compact it, but would change the value on the way: an integer past 2^53
 * rounded, 1e400 made null, a repeated key dropped, integer-like keys moved
 * first. Non-recursive, so any depth costs no stack.
 */
import { skipString } from './json-scan.js'

/** s[start, end), a JSON text already validated (json-scan.ts), without whitespace outside its strings. */
export function compactJson (s: string, start = 0, end = s.length): string {
  let out = ''
  let from = start
  let i = start
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c === 0x22) {
      i = skipString(s, i)
    } else if (c === 0x20 || c === 0x0A || c === 0x0D || c === 0x09) {
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
