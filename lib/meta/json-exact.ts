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

/**
 * The native parser, when that is provably exact: if JSON.stringify of
 * JSON.parse's result is the text itself, every number in the text is
 * written as String(number) writes it, so none changed. Compact one-line
 * JSON (what JSON.stringify and most NDJSON writers produce) takes this
 * path, ~2x faster than parseJsonText (bench/RESULTS.md, metadir); any
 * other text (spaces, escapes, 1.0, -0, big integers, duplicate keys)
 * returns undefined and goes through the exact parser.
 */
function parseCanonical (body: string): unknown {
  if (body.includes('\n')) return undefined // pretty-printed: never canonical, skip the wasted work
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return undefined // the exact parser words the error
  }
  return value !== null && typeof value === 'object' && JSON.stringify(value) === body ? value : undefined
}

/** Parse one JSON text, numbers kept exact (see above); a leading BOM is skipped. */
export function parseJsonExact (text: string, source = 'JSON'): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  const fast = parseCanonical(body)
  if (fast !== undefined) return fast
  try {
    return parseJsonText(body, exactNumber)
  } catch (err) {
    if (!(err instanceof InvalidJsonError)) throw err
    // An NDJSON line's source names its line already: then only the column is news.
    const before = body.slice(0, err.offset)
    const column = err.offset - before.lastIndexOf('\n')
    const where = body.includes('\n') ? `line ${before.split('\n').length} column ${column}` : `column ${column}`
    throw new ShoeboxError('SHOEBOX_INVALID_JSON', `${source}: ${where}: ${err.why}`, { cause: err })
  }
}
