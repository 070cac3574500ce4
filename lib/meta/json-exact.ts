/**
 * JSON.parse that keeps every number's digits: a literal that a JS number
 * would change (12345678901234567890, 1.0, 1e3) comes back as a NumberText
 * holding it, so the meta db stores what the file said. Node 20's JSON.parse
 * gives a reviver no source text, hence this small parser; strings go
 * through JSON.parse itself (escapes are its job). Errors name the source,
 * line and column.
 */
import { ShoeboxError } from '../errors.js'
import { NumberText } from './flatten.js'

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const WHITESPACE = /[ \t\n\r]*/y

class ExactParser {
  pos = 0
  constructor (readonly text: string, readonly source: string) {}

  fail (what: string): never {
    const before = this.text.slice(0, this.pos)
    const line = before.split('\n').length
    const column = this.pos - before.lastIndexOf('\n')
    throw new ShoeboxError('SHOEBOX_INVALID_JSON', `${this.source}: line ${line} column ${column}: ${what}`)
  }

  skip (): void {
    const c = this.text.charCodeAt(this.pos)
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return // most calls find no whitespace
    WHITESPACE.lastIndex = this.pos
    WHITESPACE.exec(this.text)
    this.pos = WHITESPACE.lastIndex
  }

  value (depth: number): unknown {
    if (depth > 512) this.fail('nested too deeply')
    this.skip()
    const c = this.text[this.pos]
    if (c === '{') return this.object(depth)
    if (c === '[') return this.array(depth)
    if (c === '"') return this.string()
    if (c === 't' && this.text.startsWith('true', this.pos)) { this.pos += 4; return true }
    if (c === 'f' && this.text.startsWith('false', this.pos)) { this.pos += 5; return false }
    if (c === 'n' && this.text.startsWith('null', this.pos)) { this.pos += 4; return null }
    NUMBER.lastIndex = this.pos
    const m = NUMBER.exec(this.text)
    if (m === null) this.fail(c === undefined ? 'unexpected end of input' : `unexpected ${JSON.stringify(c)}`)
    this.pos = NUMBER.lastIndex
    const literal = m[0]
    const n = Number(literal)
    return String(n) === literal ? n : new NumberText(literal)
  }

  string (): string {
    const start = this.pos
    let i = start + 1
    let escaped = false
    for (;;) {
      const q = this.text.indexOf('"', i)
      if (q < 0) this.fail('unterminated string')
      let backslashes = 0
      for (let j = q - 1; j > start && this.text.charCodeAt(j) === 92; j--) backslashes++
      if (backslashes > 0) escaped = true
      if (backslashes % 2 === 0) {
        this.pos = q + 1
        break
      }
      i = q + 1
    }
    const raw = this.text.slice(start + 1, this.pos - 1)
    // raw control characters are not JSON: let JSON.parse refuse them
    // eslint-disable-next-line no-control-regex
    if (!escaped && !/[\u0000-\u001f]/.test(raw)) return raw
    try {
      return JSON.parse(this.text.slice(start, this.pos)) as string
    } catch {
      this.pos = start
      return this.fail('bad string')
    }
  }

  array (depth: number): unknown[] {
    this.pos++
    const out: unknown[] = []
    this.skip()
    if (this.text[this.pos] === ']') { this.pos++; return out }
    for (;;) {
      out.push(this.value(depth + 1))
      this.skip()
      const c = this.text[this.pos++]
      if (c === ']') return out
      if (c !== ',') { this.pos--; this.fail("expected ',' or ']'") }
    }
  }

  object (depth: number): Record<string, unknown> {
    this.pos++
    const out: Record<string, unknown> = {}
    this.skip()
    if (this.text[this.pos] === '}') { this.pos++; return out }
    for (;;) {
      this.skip()
      if (this.text[this.pos] !== '"') this.fail('expected a key')
      const key = this.string()
      this.skip()
      if (this.text[this.pos] !== ':') this.fail("expected ':'")
      this.pos++
      const value = this.value(depth + 1)
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
      else out[key] = value
      this.skip()
      const c = this.text[this.pos++]
      if (c === '}') return out
      if (c !== ',') { this.pos--; this.fail("expected ',' or '}'") }
    }
  }
}

/** Parse one JSON text, numbers kept exact (see above). */
export function parseJsonExact (text: string, source = 'JSON'): unknown {
  const parser = new ExactParser(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, source)
  const value = parser.value(0)
  parser.skip()
  if (parser.pos < parser.text.length) parser.fail('unexpected text after the value')
  return value
}
