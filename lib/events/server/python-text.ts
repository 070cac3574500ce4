/**
 * Text the way Kronos's Python 2 server writes it, since clients and
 * recorded exchanges see it: JSON as `json.dumps` does by default
 * (separators ", " and ": ", non-ASCII as \uXXXX) and exception arguments
 * as `repr()` does (u'...' strings, True/False/None, 1.0 for floats).
 * Values named in errors come from parseJsonLexical(), so a JsonNumber
 * keeps the float/int distinction (5.0 is a float) that JSON.parse loses.
 *
 * Integers are Python ints or longs as ujson 1.33 (Kronos's parser) makes
 * them: a long from 2^31 on, either sign (its decoder's `intValue >> 31`),
 * though a 64-bit Python's int would hold more. So repr() of 2147483648 is
 * `2147483648L` and its type is 'long' (every Kronos time is one).
 */
import { JsonNumber } from '../event-json.js'
import { pythonFloatRepr as floatRepr } from '../../json/python-float.js'

/** JSON with Python's default separators and ASCII-only output (the envelope, counts, schemas). */
export function pythonJson (value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (typeof value === 'string') return asciiString(value)
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`
  const parts: string[] = []
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v !== undefined) parts.push(`${asciiString(k)}: ${pythonJson(v)}`)
  }
  return `{${parts.join(', ')}}`
}

const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' }

function asciiString (s: string): string {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const short = SHORT_ESCAPES[c]
    if (short !== undefined) out += short
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`
    else out += s[i]
  }
  return out + '"'
}

/** Python 2's repr() of a JSON value (strings are unicode: u'...'). */
export function pythonRepr (value: unknown): string {
  if (value === null || value === undefined) return 'None'
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  if (typeof value === 'bigint') return integerRepr(value)
  if (typeof value === 'number') return Number.isInteger(value) ? integerRepr(BigInt(value)) : floatRepr(value)
  if (typeof value === 'string') return unicodeRepr(value)
  if (value instanceof JsonNumber) return numberTextRepr(value.text)
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`
  return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${unicodeRepr(k)}: ${pythonRepr(v)}`).join(', ')}}`
}

/** repr() of a JSON number given as its text: an integer as Python reads it (-0 is 0; 2147483648L), a float as Python prints it (1.0, 1000.0, 1e+16). */
export function numberTextRepr (text: string): string {
  if (!/[.eE]/.test(text)) return integerRepr(BigInt(text))
  return floatRepr(Number(text))
}

const INT32_LIMIT = 2n ** 31n

/** Whether ujson gives this integer to Python as a long (see the top of this file). */
function isPythonLong (n: bigint): boolean {
  return n >= INT32_LIMIT || n <= -INT32_LIMIT
}

function integerRepr (n: bigint): string {
  return isPythonLong(n) ? `${n}L` : n.toString()
}

/** The integer a JSON value is (a JsonNumber without '.' or exponent too); undefined for any other value. */
function integerOf (value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : undefined
  if (value instanceof JsonNumber) return value.isInteger ? BigInt(value.text) : undefined
  return undefined
}

/**
 * Python 2's str() of a JSON value, as '%s' formats it into a message
 * (NamespaceMissing's): as repr(), except that an integer has no L (a long
 * inside a list still has: str() of a list is the repr() of its items), and
 * a float of more than 12 digits is shown as repr() has it, where str()
 * would round it (a namespace no client sends).
 */
export function pythonStr (value: unknown): string {
  if (typeof value === 'string') return value
  const integer = integerOf(value)
  return integer === undefined ? pythonRepr(value) : integer.toString()
}

/** repr() of a Python 2 unicode string. */
export function unicodeRepr (s: string): string {
  return 'u' + byteishRepr(s)
}

/** repr() of a Python 2 str (ASCII text, as Kronos's own messages are). */
export function strRepr (s: string): string {
  return byteishRepr(s)
}

function byteishRepr (s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'"
  let out = quote
  for (const ch of s) {
    const c = ch.codePointAt(0) as number
    if (ch === quote || ch === '\\') out += '\\' + ch
    else if (c === 0x0a) out += '\\n'
    else if (c === 0x0d) out += '\\r'
    else if (c === 0x09) out += '\\t'
    else if (c < 0x20 || (c >= 0x7f && c <= 0xff)) out += `\\x${c.toString(16).padStart(2, '0')}`
    else if (c > 0xffff) out += `\\U${c.toString(16).padStart(8, '0')}`
    else if (c > 0xff) out += `\\u${c.toString(16).padStart(4, '0')}`
    else out += ch
  }
  return out + quote
}

/** Python's name for a JSON value's type (in AttributeError/TypeError texts). */
export function pythonTypeName (value: unknown): string {
  if (value === null || value === undefined) return 'NoneType'
  if (typeof value === 'boolean') return 'bool'
  const integer = integerOf(value)
  if (integer !== undefined) return isPythonLong(integer) ? 'long' : 'int'
  if (typeof value === 'number' || value instanceof JsonNumber) return 'float'
  if (typeof value === 'string') return 'unicode'
  if (Array.isArray(value)) return 'list'
  return 'dict'
}
