/**
 * `_mmmeta/config.yml`: mmmeta's keys (metadata.unique, file_name, required,
 * include; remote URL templates) plus shoebox's own, which mmmeta ignores
 * (it reads its config with `.get()` and never rejects a key):
 *
 *   metadata:
 *     unique: content_hash
 *     file_name: _file_name
 *     required: [foreign_id, published_at]
 *     include: [title, "publisher:name"]
 *     types: { published_at: timestamp, pages: int }   # shoebox: explicit types, never guessed
 *     index: [document_type, published_at]              # shoebox: state db keys to index
 *   remote:
 *     url: https://bucket.example/{_file_name}
 *
 * The yaml package is imported on the first load, so importing shoebox stays fast.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { ShoeboxError } from '../errors.js'
import { ioError } from '../fs/io-error.js'
import { firstBadUtf8Byte } from './utf8-bytes.js'
import { keyDict } from '../key-dict.js'

/** Explicit per-key value types (spec §6's guessing is what this replaces). */
export const META_TYPES = ['string', 'int', 'float', 'bool', 'timestamp', 'json'] as const
export type MetaType = typeof META_TYPES[number]

export interface MetaConfig {
  /** The primary key (default `content_hash`). */
  readonly unique: string
  /** The key naming the actual file (default: `unique`). */
  readonly fileName: string
  /** Keys that must be present and non-empty: unique, file_name, then `required`, deduplicated, in that order. */
  readonly required: readonly string[]
  /** `metadata.include` as written, or null when the config has none. */
  readonly include: readonly string[] | null
  /**
   * The keys a record is projected onto (spec §4.1: required ∪ include ∪
   * {unique, file_name}), sorted; null means every key is kept. mmmeta keeps
   * only the unique key when nothing is configured, which surprises everyone
   * (spec §11): shoebox keeps every key unless `metadata.include` is given.
   */
  readonly keys: readonly string[] | null
  /** metadata.types: key -> type; keys not named here are strings. */
  readonly types: Readonly<Record<string, MetaType>>
  /** metadata.index: keys the state db indexes for queries, as written. */
  readonly index: readonly string[]
  /** remote: name -> template over the row (`{key}`). */
  readonly remote: Readonly<Record<string, string>>
}

/** The paths of a metadir whose base (MMMETA / --metadir) is `base`. */
export interface MetaPaths {
  base: string
  metadir: string
  config: string
  db: string
  state: string
  store: string
}

export function metaPaths (base: string): MetaPaths {
  const metadir = path.join(base, '_mmmeta')
  return {
    base,
    metadir,
    config: path.join(metadir, 'config.yml'),
    db: path.join(metadir, 'db'),
    state: path.join(metadir, 'state.db'),
    store: path.join(metadir, '_store')
  }
}

/** The settings under `metadata:`: mmmeta's four, then shoebox's two. */
const METADATA_SETTINGS: readonly string[] = ['unique', 'file_name', 'required', 'include', 'types', 'index']

function configError (source: string, message: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_META_CONFIG', `${source}: ${message}`)
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A YAML scalar used as a key name: strings, and numbers/booleans as YAML wrote them (mmmeta would str() them too). */
function keyName (value: unknown, where: string, source: string): string {
  if (typeof value === 'string' && value !== '') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  throw configError(source, `${where} must be a key name, not ${JSON.stringify(value) ?? String(value)}`)
}

/** banal's ensure_list: absent -> [], a scalar -> [scalar]. */
function keyList (value: unknown, where: string, source: string): string[] {
  if (value === undefined || value === null) return []
  const list = Array.isArray(value) ? value : [value]
  return list.map((item, i) => keyName(item, `${where}[${i}]`, source))
}

function uniqueInOrder (keys: Iterable<string>): string[] {
  return [...new Set(keys)]
}

/** Build a config from the parsed YAML document (`undefined`/null: no config file). */
export function metaConfigFrom (doc: unknown, source = 'config.yml'): MetaConfig {
  if (doc !== undefined && doc !== null && !isPlainObject(doc)) throw configError(source, 'must be a mapping')
  const root = (doc ?? {}) as Record<string, unknown>
  const metadata = root.metadata ?? {}
  if (!isPlainObject(metadata)) throw configError(source, 'metadata must be a mapping')
  // A misspelt setting (uniqe, inlcude, type) was ignored without a word: every key kept, values untyped.
  const unknown = Object.keys(metadata).find((key) => !METADATA_SETTINGS.includes(key))
  if (unknown !== undefined) throw configError(source, `metadata.${unknown} is not a setting (one of ${METADATA_SETTINGS.join(', ')})`)
  const remoteDoc = root.remote ?? {}
  if (!isPlainObject(remoteDoc)) throw configError(source, 'remote must be a mapping')

  const unique = metadata.unique === undefined || metadata.unique === null ? 'content_hash' : keyName(metadata.unique, 'metadata.unique', source)
  const fileName = metadata.file_name === undefined || metadata.file_name === null ? unique : keyName(metadata.file_name, 'metadata.file_name', source)
  const required = uniqueInOrder([unique, fileName, ...keyList(metadata.required, 'metadata.required', source)])
  const include = metadata.include === undefined || metadata.include === null ? null : keyList(metadata.include, 'metadata.include', source)
  const keys = include === null ? null : uniqueInOrder([...required, ...include]).sort()

  const typesDoc = metadata.types ?? {}
  if (!isPlainObject(typesDoc)) throw configError(source, 'metadata.types must be a mapping of key: type')
  const types: Record<string, MetaType> = keyDict()
  for (const [key, type] of Object.entries(typesDoc)) {
    if (typeof type !== 'string' || !(META_TYPES as readonly string[]).includes(type)) {
      throw configError(source, `metadata.types.${key}: '${String(type)}' is not a type (one of ${META_TYPES.join(', ')})`)
    }
    types[key] = type as MetaType
  }
  const index = uniqueInOrder(keyList(metadata.index, 'metadata.index', source))

  const remote: Record<string, string> = keyDict()
  for (const [name, template] of Object.entries(remoteDoc)) {
    if (typeof template !== 'string') throw configError(source, `remote.${name} must be a template string`)
    remote[name] = template
  }
  return { unique, fileName, required, include, keys, types, index, remote }
}

/** Parse config.yml text (`source` names it in errors). */
export async function parseMetaConfig (text: string, source = 'config.yml'): Promise<MetaConfig> {
  const { parse } = await import('yaml')
  let doc: unknown
  try {
    doc = parse(text)
  } catch (err) {
    // the yaml package's message goes on with a picture of the line: one line of it is the error's
    const first = (err as Error).message.split('\n')[0].replace(/:$/, '')
    throw new ShoeboxError('SHOEBOX_META_CONFIG', `${source}: not valid YAML: ${first}`, { cause: err })
  }
  return metaConfigFrom(doc, source)
}

/** Load `<base>/_mmmeta/config.yml`; a missing file gives the defaults (as mmmeta). */
export async function loadMetaConfig (base: string): Promise<MetaConfig> {
  const file = metaPaths(base).config
  let bytes: Buffer
  try {
    bytes = await fs.readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return metaConfigFrom(undefined, file)
    throw ioError(err, 'cannot read', file)
  }
  // Decoded, a Latin-1 'café' in include: would name the key 'caf\uFFFD', which no object has: its values dropped without a word.
  const bad = firstBadUtf8Byte(bytes)
  if (bad >= 0) throw configError(file, `not UTF-8 at byte ${bad}`)
  return await parseMetaConfig(bytes.toString('utf8'), file)
}

/**
 * Project a flattened row onto the configured keys (a copy; the row is not
 * changed). With no `include` configured every key is kept.
 */
export function projectRow<V> (config: MetaConfig, row: Readonly<Record<string, V>>): Record<string, V> {
  if (config.keys === null) return keyDict(row)
  const out: Record<string, V> = keyDict()
  for (const key of config.keys) {
    if (Object.prototype.hasOwnProperty.call(row, key)) out[key] = row[key]
  }
  return out
}

/**
 * The required keys a row lacks or has empty (null or ''), in config order.
 * '' counts as missing, as in mmmeta, where it was None.
 */
export function missingKeys (config: MetaConfig, row: Readonly<Record<string, string | null | undefined>>): string[] {
  return config.required.filter((key) => {
    const value = Object.hasOwn(row, key) ? row[key] : undefined
    return value === undefined || value === null || value === ''
  })
}

const PLACEHOLDER = /\{\{|\}\}|\{([^{}]*)\}/g

/**
 * The remote attributes of a row: each `remote` template with `{key}`
 * replaced by the row's value and `{{`/`}}` by a brace, as str.format and
 * the files API's `remote` render it; unlike str.format, flattened keys such
 * as `{publisher:name}` work. A template naming a key the row lacks (or holds
 * null) gives null, where mmmeta raised KeyError: a URL with an empty
 * segment would name another object (`https://bucket/{name}`: the bucket).
 */
export function renderRemote (config: Pick<MetaConfig, 'remote'>, row: Readonly<Record<string, string | null | undefined>>): Record<string, string | null> {
  const out: Record<string, string | null> = keyDict()
  for (const [name, template] of Object.entries(config.remote)) {
    let missing = false
    const text = template.replace(PLACEHOLDER, (match, key: string | undefined) => {
      if (key === undefined) return match[0]
      const value = Object.hasOwn(row, key) ? row[key] : null
      if (value === null || value === undefined) missing = true
      return value ?? ''
    })
    out[name] = missing ? null : text
  }
  return out
}
