/**
 * parseJsonText(): one JSON value parsed after json-scan.ts has validated
 * it, each number's text handed to a callback, so callers decide what a
 * number becomes: a bigint beyond 2^53 (events), its literal text (the
 * events' infer_schema, the metadir's exact values). Node 20's JSON.parse
 * gives a reviver no source text, hence this.
 */
import { checkJsonText, isDigit, skipLiteral, skipNumber, skipString, skipWs } from './json-scan.js'
import { setOwnKey } from './own-key.js'

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
        setOwnKey(obj, key, v)
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
