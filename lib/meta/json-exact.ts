/**
 * JSON.parse that keeps every number's digits: a literal that a JS number
 * would change (12345678901234567890, 1.0, 1e3) comes back as a NumberText
 * holding it, so the meta db stores what the file said. The parsing is
 * lib/json/'s (shared with the events); this adds the metadir's number rule
 * and errors that name the source, line and column.
 */
import { ShoeboxError } from '../errors.js'
import { InvalidJsonError } from '../json/json-scan.js'
import { parseJsonText } from '../json/parse-json.js'
import { NumberText } from './flatten.js'

function exactNumber (literal: string): number | NumberText {
  const n = Number(literal)
  return String(n) === literal ? n : new NumberText(literal)
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const MINUS = 0x2d

function isNumberChar (c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === MINUS
}

/**
 * Whether every number literal of `text`, a valid JSON text, is written as
 * String(Number(literal)) writes it (then JSON.parse changed none). One pass
 * that skips strings (a `"` after an odd run of backslashes is inside one)
 * and looks only at the literals between them: an integer of up to 15 digits
 * (not -0) is always exact, anything else is checked as exactNumber() does.
 */
export function numbersAreCanonical (text: string): boolean {
  const n = text.length
  let i = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      let q = text.indexOf('"', i + 1)
      while (text.charCodeAt(q - 1) === BACKSLASH) {
        let b = q - 2
        while (text.charCodeAt(b) === BACKSLASH) b--
        if ((q - 1 - b) % 2 === 0) break // an even run: the backslashes escape each other
        q = text.indexOf('"', q + 1)
      }
      i = q + 1
      continue
    }
    if (c === MINUS || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1
      let plain = true // digits only (after a minus)
      while (end < n) {
        const d = text.charCodeAt(end)
        if (!isNumberChar(d)) break
        if (d < 0x30 || d > 0x39) plain = false
        end++
      }
      const digits = c === MINUS ? end - i - 1 : end - i
      const short = plain && digits <= 15 && !(c === MINUS && text.charCodeAt(i + 1) === 0x30)
      if (!short) {
        const literal = text.slice(i, end)
        if (String(Number(literal)) !== literal) return false
      }
      i = end
      continue
    }
    i++ // structure, whitespace, the letters of true/false/null
  }
  return true
}

/**
 * The native parser, when that is provably exact: JSON.parse, kept when
 * every number in the text is canonical (numbersAreCanonical), so none
 * changed; ~2x faster than parseJsonText (bench/RESULTS.md, metadir). Any
 * other text (1.0, -0, 1e3, big integers) returns undefined and goes
 * through the exact parser. Spaces, escapes and repeated keys are no
 * reason to: JSON.parse reads them as the exact parser does (the last of a
 * repeated key wins, `__proto__` is an own key).
 */
function parseCanonical (body: string): unknown {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return undefined // the exact parser words the error
  }
  return value !== null && typeof value === 'object' && numbersAreCanonical(body) ? value : undefined
}

/**
 * Parse one JSON text, numbers kept exact (see above); a leading BOM is
 * skipped. `source` opens the error's message; without it the message is
 * the place and the reason alone (for a caller that names the source
 * itself, as an UnreadableMetadata's origin does).
 */
export function parseJsonExact (text: string, source?: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  const fast = parseCanonical(body)
  if (fast !== undefined) return fast
  try {
    return parseJsonText(body, exactNumber)
  } catch (err) {
    if (!(err instanceof InvalidJsonError)) throw err
    // One line of text (an NDJSON line) needs only its column.
    const before = body.slice(0, err.offset)
    const column = err.offset - before.lastIndexOf('\n')
    const where = body.includes('\n') ? `line ${before.split('\n').length} column ${column}` : `column ${column}`
    throw new ShoeboxError('SHOEBOX_INVALID_JSON', `${source === undefined ? '' : `${source}: `}${where}: ${err.why}`, { cause: err })
  }
}
