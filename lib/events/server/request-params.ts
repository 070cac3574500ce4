/**
 * Parameters of the POST endpoints as Kronos reads them: the body is one JSON
 * object (integers beyond 2^53 exact), times and limits go through Python's
 * long() (integers, integer strings, floats truncated, booleans as 0/1), a
 * missing required key is a KeyError, and every refusal is a 400 with
 * Kronos's error shape (never a 500, which Kronos gave for get and streams).
 */
import { eventIdTime, parseEventId } from '../event-id.js'
import { parseEvent, parseJsonLexical, type JsonValue } from '../event-text.js'
import { isValidStreamName } from '../stream-name.js'
import type { EventRange } from '../store/stored-event.js'
import { badUuid, INVALID_JSON, attributeError, invalidInteger, invalidStreamName, keyError, namespaceMissing } from './kronos-errors.js'

export type BodyObject = { [key: string]: JsonValue }

/** A refusal: status, errors, and which envelope keys Kronos sends with it. */
export class BadRequest extends Error {
  readonly status: number
  readonly errors: string[]
  /** Kronos sends no `@took` (get's InvalidStreamName). */
  readonly noTook: boolean
  /** Kronos sends no `@success` (delete's InvalidStreamName). */
  readonly noSuccess: boolean

  constructor (errors: string[], options: { status?: number, noTook?: boolean, noSuccess?: boolean } = {}) {
    super(errors.join('; '))
    this.status = options.status ?? 400
    this.errors = errors
    this.noTook = options.noTook ?? false
    this.noSuccess = options.noSuccess ?? false
  }
}

/** Each body's text, for a refusal that names one of its members as sent (see memberAsSent). */
const bodyTexts = new WeakMap<BodyObject, string>()

/** The body as a JSON object; invalid or empty JSON and non-objects are 400s as in Kronos. */
export function bodyObject (text: string): BodyObject {
  let value: JsonValue
  try {
    value = parseEvent(text)
  } catch {
    throw new BadRequest([INVALID_JSON])
  }
  // named by its Python type, read again with numbers as text (1.0 is a float)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new BadRequest([attributeError(parseJsonLexical(text), 'get')])
  bodyTexts.set(value, text)
  return value
}

/**
 * Member `key` of a body with its numbers as their text, for the message
 * refusing it: parseEvent() makes `"stream": 1.0` the number 1, which
 * Python names 1.0 (a float) and ujson read 2147483648 as a long (L).
 */
function memberAsSent (body: BodyObject, key: string): unknown {
  const value = body[key]
  const text = bodyTexts.get(body)
  if (text === undefined || value === null || (typeof value !== 'object' && typeof value !== 'number')) return value
  return (parseJsonLexical(text) as Record<string, unknown>)[key]
}

export function required (body: BodyObject, key: string): JsonValue {
  if (!Object.hasOwn(body, key)) throw new BadRequest([keyError(key)])
  return body[key]
}

/**
 * Python 2's long() (int() for `limit`): integers, integer strings
 * (whitespace around allowed), floats truncated, booleans. long() also takes
 * a string with Python 2's long suffix, "10L" (what repr() of a long gives a
 * Python 2 client); int() does not.
 */
export function long (fn: 'long' | 'int', value: JsonValue): bigint {
  if (typeof value === 'bigint') return value
  if (typeof value === 'boolean') return value ? 1n : 0n
  if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.trunc(value))
  if (typeof value === 'string') {
    const digits = (fn === 'long' ? /^\s*([+-]?\d+)[lL]?\s*$/ : /^\s*([+-]?\d+)\s*$/).exec(value)
    if (digits !== null) return BigInt(digits[1])
  }
  throw new BadRequest([invalidInteger(fn, value)])
}

/** `stream`, valid per §6.2; `shape` says which envelope keys the refusal carries. */
export function streamParam (body: BodyObject, shape: { noTook?: boolean, noSuccess?: boolean }): string {
  const stream = body.stream
  if (!isValidStreamName(stream)) throw new BadRequest([invalidStreamName(memberAsSent(body, 'stream') ?? null)], shape)
  return stream
}

/** Whether Python reads the JSON value as false (`x or default` takes the default): null, "", 0, false, [] and {}. */
export function pythonFalsy (value: JsonValue | undefined): boolean {
  if (value === undefined || value === null || value === '' || value === false || value === 0 || value === 0n) return true
  if (Array.isArray(value)) return value.length === 0
  return typeof value === 'object' && Object.keys(value).length === 0
}

export function namespaceParam (body: BodyObject, namespaces: ReadonlySet<string>, fallback: string): string {
  // `namespace: null` means the default everywhere (Kronos only did so for put and infer_schema).
  const ns = body.namespace ?? fallback
  if (typeof ns !== 'string' || !namespaces.has(ns)) throw new BadRequest([namespaceMissing(typeof ns === 'string' ? ns : memberAsSent(body, 'namespace'))])
  return ns
}

/** The range of a get or delete: [start_time, end_time] inclusive, or after start_id (exclusive). */
export function rangeParams (body: BodyObject): EventRange {
  const to = long('long', required(body, 'end_time'))
  const from = body.start_time === undefined ? 0n : long('long', body.start_time)
  const range: EventRange = { from, to }
  const startId = body.start_id
  // Python truthiness (Kronos's `if start_id:`): "", 0, null, false, [] and {} all mean "no start_id".
  if (!pythonFalsy(startId)) {
    if (typeof startId !== 'string') throw new BadRequest([badUuid()])
    const id = pythonUuid(startId)
    if (id === undefined) throw new BadRequest([badUuid()])
    range.after = { time: eventIdTime(id), id }
  }
  return range
}

/**
 * The 16 bytes of a UUID in any form Python's uuid.UUID(hex) reads (spec
 * §3.1: any parseable UUID string is a start_id): "urn:" and "uuid:" taken
 * out, braces stripped from the ends, dashes dropped, then 32 hex digits in
 * either case. A client may send `uuid.hex` or `urn:uuid:...`, not only the
 * canonical form an @id has.
 */
function pythonUuid (text: string): Buffer | undefined {
  let hex = text.replaceAll('urn:', '').replaceAll('uuid:', '')
  hex = hex.replace(/^[{}]+|[{}]+$/g, '').replaceAll('-', '')
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) return undefined
  return parseEventId(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`)
}
