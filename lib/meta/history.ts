/**
 * The meta db: `_mmmeta/db/`, a history of CSV diff files (spec §4.3).
 *
 * Files are `<timestamp>.append` (a diff) and `<timestamp>.squashed` (a full
 * snapshot); history order is file-name order, as mmmeta sorts them. The
 * replay set is the newest `.squashed` and every `.append` after it, applied
 * oldest to newest: a row with a `__mmmeta_keys` cell applies only those keys
 * (plus the unique key), so a key listed with an empty cell becomes null; a
 * row without one applies every column. Rows upsert by the unique key.
 *
 * shoebox names its files in UTC, microseconds always written (mmmeta's
 * isoformat() drops `.000000` and such a file sorted after its second), and
 * never below a name already in db/ (so a diff written after an mmmeta file
 * stamped in a time zone ahead of UTC still replays after it).
 *
 * The replayed state is one MetaHistory: a column table and, per unique
 * key, an array of cells; rows are built as objects only when asked for.
 * That is ~1.2 KB of heap a row, so update, generate and squash replay into
 * a SQLite table instead (replay-table.ts); this one serves dump and the API.
 */
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import { ShoeboxError } from '../errors.js'
import { ioError } from '../fs/io-error.js'
import { CallbackResults } from '../callback-results.js'
import { metaPaths, type MetaConfig } from './config.js'
import { CsvParser, type CsvCell, type CsvRow } from './csv.js'
import type { MetaRow } from './flatten.js'
import { keyDict } from '../key-dict.js'
import { Utf8StreamCheck } from './utf8-bytes.js'

export type HistoryKind = 'append' | 'squashed'

export interface HistoryFile {
  /** The file name in db/. */
  name: string
  /** Its full path. */
  path: string
  kind: HistoryKind
}

/** The bookkeeping column of a diff row naming the keys it changes (comma-joined). */
export const MMMETA_KEYS = '__mmmeta_keys'

/**
 * The row id column mmmeta's tables get from dataset: its squashed snapshots
 * and state dbs carry it beside the metadata, numbering rows. Never a
 * metadata key (unless it is the unique key): update leaves it out, and
 * generate refuses an object bringing a key of that name in any case
 * (mmmeta's dataset matches column names regardless of case, and would write
 * such a key over its row numbers).
 */
export const MMMETA_ROW_ID = 'id'

/** History columns that are not metadata: the diff's list of changed keys, and mmmeta's row id. */
export const NOT_METADATA = new Set([MMMETA_KEYS, MMMETA_ROW_ID])

/** Whether history column `name` is metadata of a metadir whose unique key is `unique` (which may be `id`). */
export function isMetadata (name: string, unique: string): boolean {
  return name === unique || !NOT_METADATA.has(name)
}

/** A history row that could not be applied (no unique value, more cells than the header). */
export interface HistoryProblem {
  file: string
  line: number
  reason: string
}

export interface ReplayOptions {
  /**
   * Told about each row skipped; by default they are skipped silently. What
   * it returns is awaited (before the next rows are read), and a rejection
   * fails the replay with its error.
   */
  onProblem?: (problem: HistoryProblem) => unknown
  /** Stops the replay between two batches of rows (replayInto() rejects with the signal's reason). */
  signal?: AbortSignal
}

function kindOf (name: string): HistoryKind | null {
  // mmmeta's rule is endswith('append') / endswith('squashed'); our temporaries are dot-names ending .tmp
  if (name.startsWith('.')) return null
  if (name.endsWith('append')) return 'append'
  if (name.endsWith('squashed')) return 'squashed'
  return null
}

function byName (a: HistoryFile, b: HistoryFile): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

/** Every history file of db/, in history (name) order; an absent db/ is an empty history. */
export async function listHistoryFiles (base: string): Promise<HistoryFile[]> {
  const db = metaPaths(base).db
  let names: string[]
  try {
    names = await fs.readdir(db)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw ioError(err, 'cannot list', db)
  }
  const files: HistoryFile[] = []
  for (const name of names) {
    const kind = kindOf(name)
    if (kind !== null) files.push({ name, path: path.join(db, name), kind })
  }
  return files.sort(byName)
}

/** The files a replay reads: the newest `.squashed` (if any) and the `.append`s after it, oldest first. */
export function replaySet (files: readonly HistoryFile[]): HistoryFile[] {
  const sorted = [...files].sort(byName)
  let start = 0
  for (let i = sorted.length - 1; i >= 0; i--) {
    if (sorted[i].kind === 'squashed') {
      start = i
      break
    }
  }
  return sorted.slice(start)
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/** Microseconds since the epoch, now (Date has milliseconds; performance.now() adds the rest). */
export function nowMicros (): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000)
}

/**
 * A UTC time as `YYYY-MM-DD HH:MM:SS.ffffff` (`sep` ' '), the form mmmeta's
 * bookkeeping cells take and SQLAlchemy's DATETIME reads back; with sep 'T'
 * it is the form of file names.
 */
export function metaTimestamp (micros: number, sep: ' ' | 'T' = ' '): string {
  const ms = Math.floor(micros / 1000)
  const d = new Date(ms)
  const fraction = micros - Math.floor(micros / 1e6) * 1e6
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}${sep}` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(fraction, 6)}`
}

const NAME_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/

/** The time a history file name carries, read as UTC microseconds, or null. */
function nameMicros (name: string): number | null {
  const m = NAME_TIME.exec(name)
  if (m === null) return null
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])
  return ms * 1000 + (m[7] === undefined ? 0 : Number(m[7].padEnd(6, '0')))
}

/**
 * The name of a new history file: `<UTC now>.<kind>`, or, when a file in db/
 * named by a time already sorts at or after that, the first time that sorts
 * after the last one, so the new file always replays last. (A name without
 * microseconds, as mmmeta writes at .000000, sorts after every name of its
 * second, so the next second is the first after it.) `micros` is the run's
 * time (default now). Names that carry no time are not compared.
 */
export function nextHistoryName (kind: HistoryKind, existing: readonly HistoryFile[], micros = nowMicros()): string {
  const nameAt = (t: number): string => `${metaTimestamp(t, 'T')}.${kind}`
  let last: string | undefined
  let lastMicros = 0
  for (const file of existing) {
    const at = nameMicros(file.name)
    if (at !== null && (last === undefined || file.name > last)) {
      last = file.name
      lastMicros = at
    }
  }
  let name = nameAt(micros)
  if (last === undefined || name > last) return name
  name = nameAt(lastMicros + 1)
  if (name > last) return name
  return nameAt((Math.floor(lastMicros / 1e6) + 1) * 1e6)
}

/** One row of a history file: the cells it applies (already filtered by `__mmmeta_keys`). */
export interface HistoryEntry {
  uid: string
  /** key -> value for the keys this row sets (unique included). */
  values: MetaRow
  file: string
  line: number
}

/** One row of a history file as cells, before the keys it applies are picked. */
export interface HistoryCells {
  /** The file's header (one array per file). */
  header: readonly string[]
  /** Where `__mmmeta_keys` is in the header, or -1. */
  keysAt: number
  uid: string
  /** The row's cells (missing trailing cells are absent: null). */
  cells: readonly CsvCell[]
  /** The row's `__mmmeta_keys` cell when it lists keys, else null (every column applies). */
  listed: string | null
  line: number
}

/**
 * The rows of one history file as cells, a read chunk's worth at a time
 * (no turn of the event loop per row). Read as mmmeta's DictReader: the
 * first row is the header; rows that cannot apply go to onProblem.
 */
export async function * readHistoryBatches (file: string, unique: string, options: ReplayOptions = {}): AsyncGenerator<HistoryCells[]> {
  let header: string[] | null = null
  let keysAt = -1
  let uniqueAt = -1
  const parser = new CsvParser(file)
  const decoder = new StringDecoder('utf8')
  const utf8 = new Utf8StreamCheck()
  const notUtf8 = (offset: number): ShoeboxError => new ShoeboxError('SHOEBOX_META_HISTORY',
    `${file}: byte ${offset} is not valid UTF-8 (written in another encoding?); decoded, its values would be stored changed`)
  const input = createReadStream(file, { highWaterMark: 256 * 1024 })
  // the parse loop cannot await: what onProblem returns is settled before its batch is given out
  const problems = new CallbackResults()
  const take = (rows: readonly CsvRow[]): HistoryCells[] => {
    const out: HistoryCells[] = []
    for (const { cells, line } of rows) {
      if (header === null) {
        header = cells.map((c) => c ?? '')
        keysAt = header.lastIndexOf(MMMETA_KEYS)
        uniqueAt = header.lastIndexOf(unique)
        if (uniqueAt < 0) {
          throw new ShoeboxError('SHOEBOX_META_HISTORY', `${file}: line ${line}: no '${unique}' column (the unique key) in the header`)
        }
        continue
      }
      if (cells.length > header.length) {
        problems.call(options.onProblem, { file, line, reason: `${cells.length} cells for ${header.length} columns` })
        continue
      }
      const uid = cells[uniqueAt] ?? null
      if (uid === null || uid === '') {
        problems.call(options.onProblem, { file, line, reason: `no value for the unique key '${unique}'` })
        continue
      }
      const listed = keysAt >= 0 ? cells[keysAt] ?? null : null
      out.push({ header, keysAt, uid, cells, listed: listed === '' ? null : listed, line })
    }
    return out
  }
  try {
    try {
      for await (const chunk of input) {
        const bad = utf8.check(chunk as Buffer)
        if (bad >= 0) throw notUtf8(bad)
        const batch = take(parser.push(decoder.write(chunk as Buffer)))
        if (problems.waiting) await problems.settled()
        if (batch.length > 0) yield batch
      }
    } catch (err) {
      // onProblem's own rejection is the replay's error, as it is
      if (err instanceof ShoeboxError || err === problems.failure) throw err
      throw ioError(err, 'cannot read', file)
    }
    if (utf8.end() >= 0) throw notUtf8(utf8.end())
    const rest = decoder.end()
    const last = take([...(rest.length > 0 ? parser.push(rest) : []), ...parser.end()])
    if (problems.waiting) await problems.settled()
    if (last.length > 0) yield last
  } finally {
    input.destroy()
  }
}

/**
 * The rows of one history file, each with the keys it applies. Read as
 * mmmeta's DictReader: the first row is the header; missing trailing cells
 * are null. Rows that cannot apply go to onProblem.
 */
export async function * readHistoryFile (file: string, unique: string, options: ReplayOptions = {}): AsyncGenerator<HistoryEntry> {
  for await (const batch of readHistoryBatches(file, unique, options)) {
    for (const { header, keysAt, uid, cells, listed, line } of batch) {
      const values: MetaRow = keyDict()
      if (listed !== null) {
        const wanted = new Set(listed.split(','))
        for (let i = 0; i < header.length; i++) {
          if (i === keysAt || !wanted.has(header[i])) continue
          values[header[i]] = cells[i] ?? null
        }
      } else {
        for (let i = 0; i < header.length; i++) {
          if (i !== keysAt) values[header[i]] = cells[i] ?? null
        }
      }
      values[unique] = uid
      yield { uid, values, file, line }
    }
  }
}

/**
 * The replayed meta db: unique key -> row. Cells are held in arrays over one
 * column table; `undefined` in a row means the key was never set for it
 * (written as an empty cell, like null).
 */
export class MetaHistory {
  readonly unique: string
  readonly #columns: string[] = []
  readonly #columnAt = new Map<string, number>()
  readonly #rows = new Map<string, Array<string | null | undefined>>()

  constructor (unique: string) {
    this.unique = unique
    this.#column(unique)
  }

  #column (key: string): number {
    let at = this.#columnAt.get(key)
    if (at === undefined) {
      at = this.#columns.length
      this.#columns.push(key)
      this.#columnAt.set(key, at)
    }
    return at
  }

  /** Every column any row has set, sorted (the unique key first). */
  columns (): string[] {
    const rest = this.#columns.filter((c) => c !== this.unique).sort()
    return [this.unique, ...rest]
  }

  get size (): number {
    return this.#rows.size
  }

  has (uid: string): boolean {
    return this.#rows.has(uid)
  }

  /** Upsert: set these keys of the row `uid` (created if new); other keys keep their values. */
  apply (uid: string, values: Readonly<MetaRow>): void {
    let cells = this.#rows.get(uid)
    if (cells === undefined) {
      cells = []
      this.#rows.set(uid, cells)
    }
    for (const key in values) cells[this.#column(key)] = values[key]
    cells[0] = uid
  }

  /** One row as an object of the keys it has set (null included), or undefined. */
  get (uid: string): MetaRow | undefined {
    const cells = this.#rows.get(uid)
    return cells === undefined ? undefined : this.#object(cells)
  }

  /** One value: a string, null, or undefined when never set (or no such row). */
  value (uid: string, key: string): string | null | undefined {
    const at = this.#columnAt.get(key)
    return at === undefined ? undefined : this.#rows.get(uid)?.[at]
  }

  /** The keys row `uid` has set (null values included), in column order; [] for no such row. */
  keysOf (uid: string): string[] {
    const cells = this.#rows.get(uid)
    const keys: string[] = []
    if (cells !== undefined) for (let i = 0; i < cells.length; i++) if (cells[i] !== undefined) keys.push(this.#columns[i])
    return keys
  }

  delete (uid: string): boolean {
    return this.#rows.delete(uid)
  }

  uids (): IterableIterator<string> {
    return this.#rows.keys()
  }

  /** Every row, in the order the unique keys first appeared. */
  * rows (): Generator<MetaRow> {
    for (const cells of this.#rows.values()) yield this.#object(cells)
  }

  /** Every row's cells in the order of `columns` (null for unset), for writing a snapshot. */
  * cellRows (columns: readonly string[]): Generator<Array<string | null>> {
    const at = columns.map((c) => this.#columnAt.get(c))
    for (const cells of this.#rows.values()) yield at.map((i) => (i === undefined ? null : cells[i] ?? null))
  }

  #object (cells: ReadonlyArray<string | null | undefined>): MetaRow {
    const row: MetaRow = keyDict()
    for (let i = 0; i < cells.length; i++) {
      const value = cells[i]
      if (value !== undefined) row[this.#columns[i]] = value
    }
    return row
  }
}

/** Replay these files (in this order) into a new MetaHistory. */
export async function replayFiles (files: readonly HistoryFile[], unique: string, options: ReplayOptions = {}): Promise<MetaHistory> {
  const history = new MetaHistory(unique)
  for (const file of files) {
    for await (const entry of readHistoryFile(file.path, unique, options)) history.apply(entry.uid, entry.values)
  }
  return history
}

/** The current meta db of the metadir at `base`: its replay set, replayed. */
export async function loadHistory (base: string, config: Pick<MetaConfig, 'unique'>, options: ReplayOptions = {}): Promise<MetaHistory> {
  return await replayFiles(replaySet(await listHistoryFiles(base)), config.unique, options)
}

/** The final rows of the meta db, as an async iterable (replayed in memory first: the last file wins). */
export async function * historyRows (base: string, config: Pick<MetaConfig, 'unique'>, options: ReplayOptions = {}): AsyncGenerator<MetaRow> {
  const history = await loadHistory(base, config, options)
  yield * history.rows()
}
