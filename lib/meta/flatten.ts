/**
 * A metadata object as the meta db holds it: one level of `parent:child`
 * keys (`-` becomes `_` in every segment, as mmmeta's flatten_dict does) and
 * every value an exact string, or null.
 *
 * Where mmmeta loses data, this does not (spec §11):
 * - falsy values are values: 0 -> "0", false -> "false", "" -> "", [] -> "[]";
 *   only null/undefined are null;
 * - lists (and objects inside lists) are JSON text, not Python reprs;
 * - numbers keep their digits: a bigint, or a NumberText carrying the literal
 *   of a parser that keeps it (an integer beyond 2^53, "1.0", "1e3"), is
 *   written as that text;
 * - strings are kept byte for byte, unicode and newlines included.
 * Booleans are JSON's `true`/`false` (mmmeta wrote Python's `True`/`False`).
 */
import { ShoeboxError } from '../errors.js'
import { KEY_DICT_PROTOTYPE, keyDict } from '../key-dict.js'

/** A flattened metadata row: key -> exact string, or null. */
export type MetaRow = Record<string, string | null>

/** A JSON number kept as its literal text (so 12345678901234567890 and 1.0 survive). */
export class NumberText {
  readonly text: string
  constructor (text: string) {
    this.text = text
  }

  toString (): string {
    return this.text
  }

  toJSON (): string {
    return this.text
  }
}

/** Segments seen, as metaKeySegment() gives them (objects of one input share a few keys; bounded). */
const segments = new Map<string, string>()
const MAX_SEGMENTS = 4096

/** A key segment as mmmeta stores it: `-` -> `_`. */
export function metaKeySegment (segment: string): string {
  let name = segments.get(segment)
  if (name === undefined) {
    name = segment.includes('-') ? segment.replaceAll('-', '_') : segment
    if (segments.size < MAX_SEGMENTS) segments.set(segment, name)
  }
  return name
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null || proto === KEY_DICT_PROTOTYPE
}

/**
 * `value` as JSON would have it, as the JSON file mmmeta reads would: an
 * object's toJSON() (an ObjectId as its hex, a URL as its href, a Date as
 * its ISO text, or null when invalid), where walking its fields gave the
 * internals of an ObjectId or `{}`. A Map or Set, which JSON writes as `{}`
 * (its entries lost), is refused, and so are bytes (a Buffer's JSON is
 * { type, data }: an archive record's payload, ingested whole). NumberText's toJSON() is its literal,
 * which the callers take directly.
 */
function asJson (value: unknown, where: string): unknown {
  if (typeof value !== 'object' || value === null || value instanceof NumberText) return value
  if (ArrayBuffer.isView(value)) {
    // A Buffer's toJSON() is { type, data }: a record from an archive ingested whole put its payload there.
    throw new ShoeboxError('SHOEBOX_META_INVALID', `${where}: bytes are not a metadata value (JSON has none): give their text; archiveMetadataSource() reads archive records' metadata`)
  }
  if (value instanceof Map || value instanceof Set) {
    throw new ShoeboxError('SHOEBOX_META_INVALID', `${where}: a ${value instanceof Map ? 'Map' : 'Set'} is not a metadata value (as JSON it would be {}, its entries lost): give an object or a list`)
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON
  return typeof toJSON === 'function' ? (toJSON as () => unknown).call(value) : value
}

function numberString (value: number, where: string): string {
  if (!Number.isFinite(value)) throw new ShoeboxError('SHOEBOX_META_INVALID', `${where}: ${String(value)} is not a JSON number`)
  return String(value)
}

/** JSON text of a list or nested value, keeping NumberText and bigint digits exactly. */
export function jsonText (given: unknown, where = 'value'): string {
  const value = asJson(given, where)
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') return numberString(value, where)
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (value instanceof NumberText) return value.text
  if (Array.isArray(value)) return '[' + value.map((item, i) => jsonText(item, `${where}[${i}]`)).join(',') + ']'
  if (typeof value === 'object') {
    const parts: string[] = []
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue
      parts.push(JSON.stringify(key) + ':' + jsonText(item, `${where}.${key}`))
    }
    return '{' + parts.join(',') + '}'
  }
  throw new ShoeboxError('SHOEBOX_META_INVALID', `${where}: a ${typeof value} is not a metadata value`)
}

/** One leaf value as its exact string; null/undefined -> null. */
export function metaValue (given: unknown, where = 'value'): string | null {
  const value = asJson(given, where)
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (typeof value === 'number') return numberString(value, where)
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (value instanceof NumberText) return value.text
  return jsonText(value, where)
}

/**
 * Flatten a metadata object into a new row (the input is not changed). A
 * nested plain object becomes `parent:child` keys; an empty one adds no key
 * (as in mmmeta). Two source keys that flatten to one name (`a-b` and `a_b`)
 * keep the later one, as mmmeta's dict would.
 */
export function flattenMetadata (given: unknown): MetaRow {
  // Bytes first: a Buffer's toJSON() is an object ({ type, data }), which would be taken as metadata.
  if (ArrayBuffer.isView(given)) {
    throw new ShoeboxError('SHOEBOX_META_INVALID', `metadata must be a JSON object, not ${given.byteLength} bytes: NDJSON goes through ndjsonSource()`)
  }
  // An object of a class (a database driver's document) as JSON would have it.
  const object = isPlainObject(given) ? given : asJson(given, 'metadata')
  if (!isPlainObject(object)) {
    const what = Array.isArray(object) ? 'a list' : object === null ? 'null' : typeof object === 'object' ? `an instance of ${describeClass(object)}` : `a ${typeof object}`
    throw new ShoeboxError('SHOEBOX_META_INVALID', `metadata must be a JSON object, not ${what}`)
  }
  const row: MetaRow = keyDict()
  walk(row, object, '')
  return row
}

/** The name of an object's class, for a message. */
function describeClass (object: object): string {
  const name = (object.constructor as { name?: unknown } | undefined)?.name
  return typeof name === 'string' && name !== '' ? name : 'a class'
}

function walk (row: MetaRow, node: Record<string, unknown>, prefix: string): void {
  // Object.keys and a loop, not Object.entries: no [key, value] array per key (this runs for every key of every object)
  const keys = Object.keys(node)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    const given = node[key]
    const name = prefix === '' ? metaKeySegment(key) : prefix + metaKeySegment(key)
    // An object with toJSON() is walked as what it gives (a driver's { $numberDecimal: ... } is keys, as in JSON).
    const value = typeof given === 'object' && given !== null && !isPlainObject(given) ? asJson(given, name) : given
    if (typeof value === 'string') row[name] = value
    else if (isPlainObject(value)) walk(row, value, name + ':')
    else if (value !== undefined) row[name] = metaValue(value, name)
  }
}
