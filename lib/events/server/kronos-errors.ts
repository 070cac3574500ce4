/**
 * The error strings of Kronos's `@errors` lists: Python repr()s of its
 * exceptions, e.g. `InvalidStreamName(u'bad name',)`. Clients show them and
 * recorded exchanges compare them, so they are built here, in one place.
 */
import { parseJsonLexical } from '../event-json.js'
import { numberTextRepr, pythonRepr, pythonStr, pythonTypeName, strRepr } from './python-text.js'

export const INVALID_JSON = 'Request body must be valid JSON.'
export const BLOCKED = 'kronosd is configured to block access to this endpoint.'
export const NOT_FOUND_TEXT = "Four, oh, four :'("

/** An exception's repr with one argument: Name(arg,) */
function repr (name: string, argRepr: string): string {
  return `${name}(${argRepr},)`
}

export function invalidStreamName (name: unknown): string {
  return repr('InvalidStreamName', pythonRepr(name))
}

/** `raw` is the @time value's JSON text as sent (1.5, true, "5"). */
export function invalidEventTime (raw: string): string {
  if (/^-?\d/.test(raw)) return repr('InvalidEventTime', numberTextRepr(raw))
  let value: unknown
  try {
    value = parseJsonLexical(raw) // numbers as their text: [5.0] is a list of a float
  } catch {
    value = raw // not JSON (cannot happen for a validated event): shown as the text
  }
  return repr('InvalidEventTime', pythonRepr(value))
}

/** `ns` as sent: a lexical value (parseJsonLexical) where it may be a number, so that 1.0 is named `1.0`. */
export function namespaceMissing (ns: unknown): string {
  return repr('NamespaceMissing', strRepr(`\`${pythonStr(ns)}\` namespace is not configured`))
}

export function keyError (key: string): string {
  return repr('KeyError', strRepr(key))
}

/** A request sent by a web page whose origin is not in corsOrigins (see cors.ts's unlistedOrigin). */
export function originNotAllowed (origin: string): string {
  return repr('OriginNotAllowed', strRepr(`a request from a web page of ${origin} is refused: that origin is not in the server's CORS origins`))
}

export function methodNotAllowed (method: string): string {
  return `${method} method not allowed`
}

/** What Python says when code calls a dict method on another type (a non-object body or event). */
export function attributeError (value: unknown, attribute: string): string {
  return repr('AttributeError', `"'${pythonTypeName(value)}' object has no attribute '${attribute}'"`)
}

export function notIterable (value: unknown): string {
  return repr('TypeError', `"'${pythonTypeName(value)}' object is not iterable"`)
}

/** long('2.5'), int(None) and friends: a parameter that is not an integer, as Python words it. */
export function invalidInteger (fn: 'long' | 'int', value: unknown): string {
  if (typeof value === 'string') return repr('ValueError', strRepr(`invalid literal for ${fn}() with base 10: ${pythonRepr(value).slice(1)}`))
  return repr('TypeError', strRepr(`${fn}() argument must be a string or a number, not '${pythonTypeName(value)}'`))
}

export function badUuid (): string {
  return repr('ValueError', strRepr('badly formed hexadecimal UUID string'))
}

/** shoebox's own refusals, in the same shape. */
export function tooLarge (what: string, limit: number): string {
  return repr('RequestTooLarge', strRepr(`${what} is larger than ${limit} bytes`))
}

/** A put naming more distinct streams than maxPutStreams (serve-events.ts says why there is a cap). */
export function tooManyStreams (limit: number): string {
  return repr('RequestTooLarge', strRepr(`a put may name at most ${limit} streams; this one names more`))
}

export function storageError (err: unknown): string {
  return repr('StorageError', strRepr((err as Error).message ?? String(err)))
}
