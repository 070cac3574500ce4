/**
 * The metadir's typed key-value store, `_mmmeta/_store/`: one plain-text file
 * per key, the value as mmmeta writes it (`str(value)`: True/False, Python's
 * float spellings, ISO timestamps without a zone), so mmmeta's own store
 * reads what shoebox wrote (spec §8).
 *
 * The fixes over mmmeta's store:
 * - types are explicit, never guessed from the text: the type a value was
 *   written with is recorded in `_mmmeta/_store_types/<key>` (outside
 *   `_store/`, which mmmeta lists), so a timestamp reads back as a Date and
 *   "0012" as "0012". A key without a record (mmmeta wrote it) reads as a
 *   string unless the caller names a type;
 * - timestamps are UTC. They are written without a zone (mmmeta compares
 *   them with its naive datetimes, and an aware one would make it fail), and
 *   a time without a zone is read as UTC;
 * - keys are checked (no empty key, '/', '\', NUL, '.' or '..', and no
 *   leading dot, the temporary files' mark) and listed whole: `a.b` is
 *   `a.b`, not `a`;
 * - writes are atomic (temporary file, fsync, rename).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { ShoeboxError } from '../errors.js'
import { ensureDir, writeFileDurably } from '../fs/durable.js'
import { ioError } from '../fs/io-error.js'
import { firstBadUtf8Byte } from './utf8-bytes.js'
import { pythonFloatRepr } from '../json/python-float.js'
import { COLUMN_TYPES, type ColumnType, type MetaValue, exactSqlTimestamp, fromText, typeOfValue } from './state-db-values.js'

export type StoreValueType = ColumnType

/** The key mmmeta touches on every write to the store. */
export const STORE_LAST_UPDATED = 'store_last_updated'
export const STORE_DIR = '_store'
export const STORE_TYPES_DIR = '_store_types'

export function checkStoreKey (key: string): string {
  const bad = (why: string): ShoeboxError => new ShoeboxError('SHOEBOX_BAD_KEY', `store key ${JSON.stringify(key)}: ${why}`)
  if (typeof key !== 'string' || key === '') throw bad('must be a non-empty string')
  if (key.includes('/') || key.includes('\\')) throw bad('must not contain a slash')
  if (key.includes('\0')) throw bad('must not contain NUL')
  if (key.startsWith('.')) throw bad("must not start with '.'")
  return key
}

/** A value as mmmeta's `str(value)` writes it. */
export function storeText (type: StoreValueType, value: unknown): string {
  switch (type) {
    case 'bool':
      if (typeof value !== 'boolean') throw badValue(type, value)
      return value ? 'True' : 'False'
    case 'int':
      if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) return String(value)
      throw badValue(type, value)
    case 'float':
      if (typeof value !== 'number') throw badValue(type, value)
      return pythonFloatRepr(value) // str(float): 1.0, 1e-07, 1e+16, -0.0, inf, nan
    case 'timestamp': {
      if (typeof value === 'string') {
        // Read as the metadir reads a time: no zone is UTC (new Date() took the machine's zone), microseconds kept.
        const exact = exactSqlTimestamp(value)
        if (exact === null) throw badValue(type, value)
        return exact.replace(' ', 'T')
      }
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw badValue(type, value)
      return storeTime(value)
    }
    case 'json':
      return JSON.stringify(value)
    case 'string':
      return String(value)
  }
}

function badValue (type: StoreValueType, value: unknown): ShoeboxError {
  return new ShoeboxError('SHOEBOX_META_VALUE', `store value ${String(value)} is not a ${type}`)
}

/**
 * isoUtc() of a time the store can hold: years 1 to 9999, Python's datetime's (mmmeta reads the store with
 * fromisoformat). Past them toISOString() wrote '+010000-01-01T...', which get() then refused as no timestamp.
 */
function storeTime (date: Date): string {
  const year = date.getUTCFullYear()
  if (year >= 1 && year <= 9999) return isoUtc(date)
  throw new ShoeboxError('SHOEBOX_META_VALUE', Number.isNaN(year)
    ? 'store value Invalid Date is not a timestamp'
    : `store value ${date.toISOString()} is outside the years 1 to 9999, which a stored timestamp holds (mmmeta reads it with Python's datetime)`)
}

/** `YYYY-MM-DDTHH:MM:SS.ffffff` in UTC, without a zone (Python's naive isoformat, read by mmmeta's fromisoformat). */
export function isoUtc (date: Date): string {
  return date.toISOString().replace('Z', '000')
}


export class MetaStore {
  /** The `_mmmeta` directory. */
  readonly dir: string
  readonly #values: string
  readonly #types: string

  constructor (mmmetaDir: string) {
    this.dir = mmmetaDir
    this.#values = path.join(mmmetaDir, STORE_DIR)
    this.#types = path.join(mmmetaDir, STORE_TYPES_DIR)
  }

  /** The value of `key` (undefined if there is none), read as `type`, else as the type it was written with, else as a string. */
  async get (key: string, type?: StoreValueType): Promise<MetaValue | undefined> {
    const text = await this.#read(path.join(this.#values, checkStoreKey(key)))
    if (text === undefined) return undefined
    const as = type ?? await this.typeOf(key) ?? 'string'
    const cast = fromText(as, as === 'string' ? text.trim() : text)
    if (!cast.ok) throw new ShoeboxError('SHOEBOX_META_VALUE', `store key ${key} in ${this.#values}: ${cast.reason} (${as})`)
    return cast.value
  }

  /** The text stored under `key`, trimmed (undefined if there is none): a timestamp's microseconds, which its Date drops. */
  async textOf (key: string): Promise<string | undefined> {
    return (await this.#read(path.join(this.#values, checkStoreKey(key))))?.trim()
  }

  /** The type `key` was written with, if shoebox wrote it. */
  async typeOf (key: string): Promise<StoreValueType | undefined> {
    const recorded = (await this.#read(path.join(this.#types, checkStoreKey(key))))?.trim()
    return (COLUMN_TYPES as readonly string[]).includes(recorded ?? '') ? recorded as StoreValueType : undefined
  }

  /** Write `value` under `key` (typed by `type`, else by its JS type), then touch store_last_updated as mmmeta does. */
  async set (key: string, value: unknown, type?: StoreValueType): Promise<void> {
    checkStoreKey(key)
    if (value === null || value === undefined) throw badValue(type ?? 'string', value)
    const as = type ?? typeOfValue(value)
    await this.#write(key, storeText(as, value), as)
    if (key !== STORE_LAST_UPDATED) await this.#write(STORE_LAST_UPDATED, isoUtc(new Date()), 'timestamp')
  }

  /** Write the time now (UTC) under `key` and store_last_updated; returns it. */
  async touch (key: string, now = new Date()): Promise<Date> {
    checkStoreKey(key)
    const text = storeTime(now)
    await this.#write(key, text, 'timestamp')
    if (key !== STORE_LAST_UPDATED) await this.#write(STORE_LAST_UPDATED, text, 'timestamp')
    return now
  }

  /**
   * touch() with a time already written out (isoUtc's form: a generate's
   * microseconds, the same as its history file's name), recorded as a
   * timestamp as touch() records it, so it reads back as a Date.
   */
  async touchText (key: string, stamp: string, options: { fsync?: boolean } = {}): Promise<void> {
    checkStoreKey(key)
    await this.#write(key, stamp, 'timestamp', options.fsync)
    if (key !== STORE_LAST_UPDATED) await this.#write(STORE_LAST_UPDATED, stamp, 'timestamp', options.fsync)
  }

  /** Remove `key`; removing a missing key is not an error. */
  async delete (key: string): Promise<void> {
    checkStoreKey(key)
    for (const file of [path.join(this.#values, key), path.join(this.#types, key)]) {
      await fs.unlink(file).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw ioError(err, 'cannot delete store key', file)
      })
    }
  }

  /** Every key, whole (dots and all), sorted. */
  async keys (): Promise<string[]> {
    let names: string[]
    try {
      names = await fs.readdir(this.#values)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw ioError(err, 'cannot list the store', this.#values)
    }
    return names.filter((name) => !name.startsWith('.')).sort()
  }

  /** Every key and its value, sorted by key. */
  async entries (): Promise<Array<[string, MetaValue]>> {
    const out: Array<[string, MetaValue]> = []
    for (const key of await this.keys()) {
      const value = await this.get(key).catch(async () => (await this.#read(path.join(this.#values, key)))?.trim())
      if (value !== undefined) out.push([key, value])
    }
    return out
  }

  async #write (key: string, text: string, type: StoreValueType, fsync = true): Promise<void> {
    for (const [dir, data] of [[this.#values, text], [this.#types, type]]) {
      await ensureDir(dir)
      const file = path.join(dir, key)
      await writeFileDurably(file, data, { fsync }).catch((err: unknown) => { throw ioError(err, 'cannot write', file) })
    }
  }

  async #read (file: string): Promise<string | undefined> {
    let bytes: Buffer
    try {
      bytes = await fs.readFile(file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw ioError(err, 'cannot read', file)
    }
    // mmmeta writes str(value) in the machine's encoding (cp1252 on Windows): decoded, 'café' read as 'caf\uFFFD'
    const bad = firstBadUtf8Byte(bytes)
    if (bad >= 0) throw new ShoeboxError('SHOEBOX_META_VALUE', `${file}: not UTF-8 at byte ${bad}; not read`)
    return bytes.toString('utf8')
  }
}
