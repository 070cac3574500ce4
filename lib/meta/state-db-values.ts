/**
 * Typed values of the state db, one rule per type, never guessed from the
 * text (mmmeta's cast() turns "0012" into 12 and crashes on "inf"; spec §6).
 *
 * - fromText(): a history cell (always text) to the typed JS value, or a
 *   reason it does not fit;
 * - toSql(): a JS value to what SQLite stores for that type;
 * - fromSql(): what SQLite hands back to the JS value.
 *
 * Storage is chosen so mmmeta (SQLAlchemy through dataset) keeps reading a
 * state db shoebox wrote: timestamps are DATETIME text
 * `YYYY-MM-DD HH:MM:SS.ffffff` in UTC (SQLAlchemy's SQLite DATETIME parser
 * accepts nothing else), booleans are BOOLEAN 0/1, ints BIGINT, floats FLOAT,
 * strings and JSON TEXT.
 */

export type ColumnType = 'string' | 'int' | 'float' | 'bool' | 'timestamp' | 'json'

export const COLUMN_TYPES: readonly ColumnType[] = ['string', 'int', 'float', 'bool', 'timestamp', 'json']

/** A typed value as the query API hands it out. */
export type MetaValue = string | number | bigint | boolean | Date | null | JsonValue
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** The declared SQL type shoebox gives each type (mmmeta's dataset names). */
export const SQL_TYPE: Record<ColumnType, string> = {
  string: 'TEXT',
  int: 'BIGINT',
  float: 'FLOAT',
  bool: 'BOOLEAN',
  timestamp: 'DATETIME',
  json: 'TEXT'
}

/**
 * The type a column declared by someone else (mmmeta) holds, by its declared
 * SQL type: what dataset creates (BIGINT, FLOAT, DATETIME, BOOLEAN, TEXT,
 * VARCHAR). Unknown declarations are read as strings.
 */
export function typeOfDeclared (declared: string): ColumnType {
  const d = declared.toUpperCase()
  if (d.includes('INT')) return 'int'
  if (d.includes('FLOA') || d.includes('REAL') || d.includes('DOUB') || d.includes('NUMERIC') || d.includes('DECIMAL')) return 'float'
  if (d.includes('BOOL')) return 'bool'
  if (d.includes('DATE') || d.includes('TIME')) return 'timestamp'
  return 'string'
}

/** True when a column declared `declared` stores values of `type` without changing them. */
export function declaredFits (declared: string, type: ColumnType): boolean {
  const held = typeOfDeclared(declared)
  if (type === 'json') return held === 'string'
  return held === type
}

export type Cast = { ok: true, value: MetaValue } | { ok: false, reason: string }

const INT = /^[+-]?\d+(?:\.0*)?$/
const TRUE = new Set(['true', '1', 'yes', 't', 'y', 'on'])
const FALSE = new Set(['false', '0', 'no', 'f', 'n', 'off'])

/** A history cell to its typed value. null stays null; "" is a value for strings, null for the rest. */
export function fromText (type: ColumnType, text: string | null): Cast {
  if (text === null) return { ok: true, value: null }
  if (type === 'string') return { ok: true, value: text }
  const t = text.trim()
  if (t === '') return { ok: true, value: null }
  switch (type) {
    case 'int': {
      if (!INT.test(t)) return { ok: false, reason: `${JSON.stringify(text)} is not an integer` }
      const digits = t.replace(/\.0*$/, '')
      const big = BigInt(digits)
      if (!fitsInt64(big)) return { ok: false, reason: `${JSON.stringify(text)} is beyond a 64-bit integer` }
      return { ok: true, value: safe(big) }
    }
    case 'float': {
      const special = SPECIAL_FLOATS[t.toLowerCase()]
      if (special !== undefined) return { ok: true, value: special }
      const n = Number(t)
      if (!Number.isFinite(n) || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return { ok: false, reason: `${JSON.stringify(text)} is not a number` }
      return { ok: true, value: n }
    }
    case 'bool': {
      const l = t.toLowerCase()
      if (TRUE.has(l)) return { ok: true, value: true }
      if (FALSE.has(l)) return { ok: true, value: false }
      return { ok: false, reason: `${JSON.stringify(text)} is not a boolean` }
    }
    case 'timestamp': {
      const date = parseTimestamp(t)
      return date === null ? { ok: false, reason: `${JSON.stringify(text)} is not an ISO 8601 timestamp` } : { ok: true, value: date }
    }
    case 'json':
      try {
        return { ok: true, value: JSON.parse(t) as JsonValue }
      } catch {
        return { ok: false, reason: `${JSON.stringify(text)} is not JSON` }
      }
  }
}

export type SqlCast = { ok: true, value: SqlValue } | { ok: false, reason: string }

const SQL_TIMESTAMP = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\.\d{6}$/

/**
 * A history cell straight to what SQLite stores for its type: fromText()
 * then toSql(), with the common cases (strings, integers, timestamps
 * already in `YYYY-MM-DD HH:MM:SS.ffffff` form) without the detour.
 */
export function sqlFromText (type: ColumnType, text: string | null): SqlCast {
  if (text === null) return { ok: true, value: null }
  if (type === 'string') return { ok: true, value: text }
  if (type === 'timestamp') {
    if (text.length === 26 && SQL_TIMESTAMP.test(text) && fieldsInRange(Number(text.slice(0, 4)), Number(text.slice(5, 7)), Number(text.slice(8, 10)), Number(text.slice(11, 13)), Number(text.slice(14, 16)), Number(text.slice(17, 19)))) {
      return { ok: true, value: text[10] === ' ' ? text : text.slice(0, 10) + ' ' + text.slice(11) }
    }
    const value = utcTimestampText(text) ?? exactSqlTimestamp(text)
    if (value !== null) return { ok: true, value }
  }
  if (type === 'int' && CANONICAL_INT.test(text)) return { ok: true, value: Number(text) }
  if (type === 'json') {
    // Checked, then kept as written: a re-stringify would round integers beyond 2^53.
    const cast = fromText(type, text)
    return cast.ok ? { ok: true, value: cast.value === null ? null : text.trim() } : cast
  }
  const cast = fromText(type, text)
  if (!cast.ok) return cast
  return { ok: true, value: toSql(type, cast.value) }
}

/** An integer as JSON writes it, short enough to be exact as a double (15 digits < 2^53); not "-0", which Number() keeps negative. */
const CANONICAL_INT = /^(?:0|-?[1-9]\d{0,14})$/
/** A UTC (or zone-less, read as UTC) ISO 8601 time with an optional fraction: the form publishers write most. */
const UTC_TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z?$/
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * What exactSqlTimestamp() makes of `text`, by slicing instead of
 * through a Date: only when every field is in its range (so no
 * field rolls over into the next; a year before 100, which Date.UTC reads
 * as 19xx, also takes the long way), else null.
 */
function utcTimestampText (text: string): string | null {
  const m = UTC_TIMESTAMP.exec(text)
  if (m === null) return null
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  if (year < 100 || !fieldsInRange(year, month, day, Number(m[4]), Number(m[5]), Number(m[6]))) return null
  const micros = m[7] === undefined ? '000000' : (m[7] + '00000').slice(0, 6)
  return `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}.${micros}`
}

/** A timestamp text's fraction of a second, its digits after the point. */
const FRACTION = /:\d\d\.(\d+)/

/**
 * `text` (any form parseTimestamp() reads) as DATETIME text, microseconds
 * and all: a Date holds milliseconds, and a zone moves a time by whole
 * minutes, so the fraction's 4th to 6th digits are the ones written (later
 * ones are dropped: Python's datetime, so mmmeta's, holds microseconds).
 * null when it is not such a timestamp.
 */
export function exactSqlTimestamp (text: string): string | null {
  const date = parseTimestamp(text)
  if (date === null) return null
  const fraction = FRACTION.exec(text)?.[1] ?? ''
  return sqlTimestamp(date).slice(0, -3) + (fraction + '000000').slice(3, 6)
}

/** Is each field of a date and time in its range (no field would roll over into the next)? */
function fieldsInRange (year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return false
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  return day <= DAYS_IN_MONTH[month - 1] + (leap ? 1 : 0)
}

/** Python's spellings too ('inf', 'nan'), since the history may come from mmmeta. */
const SPECIAL_FLOATS: Record<string, number> = {
  inf: Infinity, '+inf': Infinity, infinity: Infinity, '+infinity': Infinity, '-inf': -Infinity, '-infinity': -Infinity, nan: NaN
}

/** Does SQLite's INTEGER (64 bits, signed) hold it? One beyond failed the bind with a RangeError, ending a whole update. */
function fitsInt64 (big: bigint): boolean {
  return big >= -(2n ** 63n) && big < 2n ** 63n
}

function safe (big: bigint): number | bigint {
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big
}

export type SqlValue = string | number | bigint | null

/** What SQLite stores for a typed value (the value may be a JS value a consumer set). */
export function toSql (type: ColumnType, value: unknown): SqlValue {
  if (value === null || value === undefined) return null
  switch (type) {
    case 'string': return typeof value === 'string' ? value : value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value)
    case 'int':
      if (typeof value === 'bigint') {
        if (!fitsInt64(value)) throw new TypeError(`${value} is beyond a 64-bit integer`)
        return value
      }
      if (typeof value === 'boolean') return value ? 1 : 0
      if (typeof value === 'number' && Number.isInteger(value)) return value
      return textual(type, value)
    case 'float':
      if (typeof value === 'number') return Number.isNaN(value) ? null : value
      if (typeof value === 'bigint') return Number(value)
      return textual(type, value)
    case 'bool':
      if (typeof value === 'boolean') return value ? 1 : 0
      if (typeof value === 'number' || typeof value === 'bigint') return Number(value) === 0 ? 0 : 1
      return textual(type, value)
    case 'timestamp':
      if (value instanceof Date) return sqlTimestamp(datetimeYears(value))
      if (typeof value === 'string') return exactSqlTimestamp(value) ?? textual(type, value)
      if (typeof value === 'number') return sqlTimestamp(datetimeYears(new Date(value)))
      return textual(type, value)
    case 'json':
      return JSON.stringify(value)
  }
}

/**
 * `date` if a DATETIME cell can hold it: years 1 to 9999, Python's datetime's (mmmeta reads the state db with it).
 * Past them toISOString() writes '+010000-01-01' or '-000001-01-01', which mmmeta's next update failed on, and
 * which shoebox read back as text. An invalid Date is refused as toISOString() refused it.
 */
function datetimeYears (date: Date): Date {
  const year = date.getUTCFullYear()
  if (year >= 1 && year <= 9999) return date
  throw new RangeError(Number.isNaN(year) ? 'Invalid time value' : `${date.toISOString()} is outside the years 1 to 9999, which a DATETIME cell holds (mmmeta reads them with Python's datetime)`)
}

/** A string given for a typed column is read as that type's text; a value that does not fit is refused. */
function textual (type: ColumnType, value: unknown): SqlValue {
  const cast = fromText(type, String(value))
  if (!cast.ok) throw new TypeError(cast.reason)
  return toSql(type, cast.value)
}

/** What SQLite handed back (read with safe integers) to the typed value. */
export function fromSql (type: ColumnType, raw: unknown): MetaValue {
  if (raw === null || raw === undefined) return null
  switch (type) {
    case 'string': return typeof raw === 'bigint' ? raw.toString() : String(raw as string)
    case 'int':
      if (typeof raw === 'bigint') return safe(raw)
      if (typeof raw === 'number') return raw
      return lenient(type, raw)
    case 'float':
      if (typeof raw === 'number') return raw
      if (typeof raw === 'bigint') return Number(raw)
      return lenient(type, raw)
    case 'bool':
      if (typeof raw === 'bigint' || typeof raw === 'number') return Number(raw) !== 0
      return lenient(type, raw)
    case 'timestamp':
      if (typeof raw === 'string') return parseTimestamp(raw) ?? raw
      return String(raw)
    case 'json':
      return lenient(type, raw)
  }
}

/** A stored value of another shape (mmmeta wrote it): read by the type's text rule, else handed back as it is. */
function lenient (type: ColumnType, raw: unknown): MetaValue {
  const text = typeof raw === 'bigint' ? raw.toString() : String(raw as string)
  const cast = fromText(type, text)
  return cast.ok ? cast.value : text
}

/** `YYYY-MM-DD HH:MM:SS.ffffff` in UTC: the DATETIME text SQLAlchemy (so mmmeta) reads back. */
export function sqlTimestamp (date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '000')
}

/**
 * ISO 8601 (a 'T' or a space; an optional fraction of up to 9 digits, an
 * optional 'Z' or offset) or a bare date. A time without a zone is UTC: that is
 * how shoebox writes them, and mmmeta's naive local times cannot be placed
 * in any zone better. null when it is not such a timestamp.
 */
export function parseTimestamp (text: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim())
  if (m === null) return null
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m
  // Out of range is not a time ('2025-02-30', '24:00'), whatever the zone: Date.UTC would roll it over.
  if (!fieldsInRange(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s))) return null
  const ms = Number((frac + '000').slice(0, 3))
  const utc = new Date(Date.UTC(2000, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms))
  utc.setUTCFullYear(Number(y)) // Date.UTC reads years 0-99 as 1900-1999
  let time = utc.getTime()
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    const hours = Number(digits.slice(0, 2))
    const minutes = Number(digits.slice(2))
    if (hours > 23 || minutes > 59) return null
    time -= sign * (hours * 60 + minutes) * 60_000
  }
  const date = new Date(time)
  return Number.isNaN(date.getTime()) ? null : date
}

/** The column type a consumer's JS value gets when it creates a column (save() of a new key). */
export function typeOfValue (value: unknown): ColumnType {
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'bigint') return 'int'
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float'
  if (value instanceof Date) return 'timestamp'
  if (value !== null && typeof value === 'object') return 'json'
  return 'string'
}
