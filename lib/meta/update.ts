/**
 * `update`, the consumer step (spec §4.2): the replayed meta history merged
 * into the state db in ONE transaction, so a killed update leaves the state
 * db as it was (SQLite rolls an unfinished transaction back on the next open).
 *
 * - Rows match on the unique key. Meta columns overwrite the state's columns
 *   of the same name; consumer-only columns (`imported`) are kept.
 * - Values are cast by the explicit types (state-db-values.ts), never by
 *   mmmeta's heuristics: "0012" stays "0012", "inf" is a float. A row whose
 *   required key is missing or whose value does not fit its type is counted
 *   invalid (with its reason) and changes nothing.
 * - Soft deletes: a row the history deleted arrives with `__deleted` and its
 *   reason (`meta-missing`); a state row absent from the history is
 *   soft-deleted with reason `state-missing`. A deleted row that the history
 *   has again (not deleted) is undeleted: mmmeta kept it deleted for good.
 * - Counts as mmmeta reports them: added, updated, deleted, skipped (present
 *   and unchanged), invalid.
 */
import type { Statement } from 'better-sqlite3'
import { isMetadata, type HistoryFile, type HistoryProblem } from './history.js'
import { loadIntoEmptyState } from './direct-load.js'
import { ReplayTable, replayInto } from './replay-table.js'
import { BOOKKEEPING, TABLE, isSqliteError, quote, type StateDb } from './state-db.js'
import { type ColumnType, type SqlValue, sqlFromText, sqlTimestamp } from './state-db-values.js'
import { ShoeboxError } from '../errors.js'
import { keyDict } from '../key-dict.js'
import { CallbackResults } from '../callback-results.js'

/** One replayed history row: column -> cell text, null for an empty cell. */
export type HistoryRow = Readonly<Record<string, string | null>>

export interface UpdateOptions {
  /** Drop every state row and column first (mmmeta's `update --replace`). */
  replace?: boolean
  /**
   * Afterwards keep only the configured keys (all, when no `include` is
   * configured) and columns starting with `_`, re-cast (mmmeta's `--cleanup`).
   */
  cleanup?: boolean
  /** The time stamped on what this run changes (default: now). */
  now?: Date
  /**
   * Called with the number of history rows merged so far, every
   * `progressEvery` rows and at the end (after the commit). What it returns
   * is awaited; a rejection fails the update with its error, rolled back
   * when it comes before the commit.
   */
  onProgress?: (rows: number) => unknown
  /** Default 10000. */
  progressEvery?: number
}

export interface InvalidRow {
  uid: string | null
  reason: string
}

export interface UpdateCounts {
  added: number
  updated: number
  deleted: number
  skipped: number
  invalid: number
}

export interface UpdateResult extends UpdateCounts {
  /** The first 100 invalid rows and why. */
  invalidRows: InvalidRow[]
  /** Columns removed by `cleanup`. */
  dropped: string[]
}

const MAX_INVALID_LISTED = 100

/** Merge replayed history rows into the state db in one transaction. */
export async function mergeHistory (state: StateDb, rows: AsyncIterable<HistoryRow> | Iterable<HistoryRow>, options: UpdateOptions = {}): Promise<UpdateResult> {
  return await inOneTransaction(state, options, async (merge, tick) => {
    if (Symbol.iterator in rows) {
      // Rows already in memory are merged without a turn of the event loop each.
      for (const row of rows) {
        merge.row(row)
        tick()
      }
    } else {
      for await (const row of rows) {
        merge.row(row)
        tick()
      }
    }
    return () => { merge.missing() }
  })
}

export interface MergeFilesOptions extends UpdateOptions {
  /** Told about each history row that could not be applied (file, line, reason); awaited as ReplayOptions.onProblem. */
  onProblem?: (problem: HistoryProblem) => unknown
}

const REPLAY_TABLE = 'shoebox_replay'
/** The TEMP table's page cache (the rest of it lives in its file). */
const TEMP_CACHE_KIB = 32 * 1024
/** The state db's page cache during an update. */
const STATE_CACHE_KIB = 64 * 1024

/**
 * Replay these history files into a TEMP table on the state db's own
 * connection and merge it, all in the one transaction: memory stays
 * SQLite's page cache and a page of rows, however long the history. Rows
 * are merged in the order their keys first appear in the history (as a
 * MetaHistory gave them: new state rows, and so an unordered query, keep
 * that order), and rows the history lacks are found by NOT EXISTS.
 */
export async function mergeHistoryFiles (state: StateDb, files: readonly HistoryFile[], options: MergeFilesOptions = {}): Promise<UpdateResult> {
  const { onProblem, ...rest } = options
  const db = state.db
  // temp tables in a file (not RAM), with a bounded cache of their own
  db.pragma('temp_store = FILE')
  db.pragma(`temp.cache_size = ${-TEMP_CACHE_KIB}`)
  // inserts land at random places of the key's and the query keys' indexes: a larger cache for this run
  // (SQLite's default 2 MB re-reads index pages from the OS for nearly every row of a big update)
  const cacheSize = db.pragma('main.cache_size', { simple: true }) as number | bigint
  db.pragma(`main.cache_size = ${-STATE_CACHE_KIB}`)
  const table = new ReplayTable(db, 'temp', REPLAY_TABLE, state.schema.unique, ['invalid'])
  try {
    return await inOneTransaction(state, rest, async (merge, tick, hadRows) => {
      if (!hadRows && files.length === 1) {
        // a first update of one file: straight into files when that is provably the same (direct-load.ts)
        const added = await loadIntoEmptyState(state, files[0], merge.now, tick)
        if (added !== null) {
          merge.counts.added = added
          return () => {}
        }
        tick.restart()
      }
      merge.trackSeen = false
      table.create()
      await replayInto(table, files, { onProblem })
      const mark = db.prepare(`UPDATE ${table.table} SET invalid = 1 WHERE k = ?`)
      for (const raw of table.rows('insertion')) {
        const invalid = merge.counts.invalid
        merge.row(table.toRow(raw))
        // an invalid row counts as not in the history (its state row becomes state-missing), as with mergeHistory
        if (merge.counts.invalid !== invalid) mark.run(raw[0])
        tick()
      }
      return () => { merge.missing(`NOT EXISTS (SELECT 1 FROM ${table.table} r WHERE r.k = f.${quote(state.schema.unique)} AND r.invalid IS NULL)`) }
    })
  } finally {
    table.drop()
    db.pragma(`main.cache_size = ${cacheSize}`)
  }
}

/**
 * Take the state db's write lock (BEGIN IMMEDIATE), waiting as long as the
 * db's busy timeout (10 s by default) for another writer to commit: two
 * `meta update`s at once take turns. One that keeps it longer (a long
 * update, a program holding a transaction open) failed here with SQLite's
 * bare "database is locked", untyped and naming no file.
 */
function beginWriting (state: StateDb): void {
  try {
    state.db.exec('BEGIN IMMEDIATE')
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'SQLITE_BUSY') throw err
    const waited = state.db.pragma('busy_timeout', { simple: true }) as number
    throw new ShoeboxError('SHOEBOX_META_LOCKED', `${state.file}: another process is writing the state db (another meta update?); ` +
      `waited ${waited} ms for it; nothing changed, the state db is as it was (try again once it is done)`, { cause: err })
  }
}

/**
 * Run `body` (which feeds the merge and returns how to find the missing
 * rows) inside BEGIN IMMEDIATE ... COMMIT, rolled back on any error.
 */
async function inOneTransaction (state: StateDb, options: UpdateOptions, body: (merge: Merge, tick: Tick, hadRows: boolean) => Promise<() => void>): Promise<UpdateResult> {
  const every = options.progressEvery ?? 10_000
  const db = state.db
  // the columns this run adds are undone by a rollback: so must be what the StateDb knows of them
  // (else the next update on this handle fails with "no such column")
  const types = state.snapshotTypes()
  let committed = false
  beginWriting(state)
  try {
    if (options.replace === true) state.reset()
    // With no rows before this run, no row can be missing from the history: the final scan is skipped.
    const hadRows = state.db.prepare(`SELECT 1 FROM ${TABLE} LIMIT 1`).get() !== undefined
    const merge = new Merge(state, options.now ?? new Date())
    let n = 0
    // ticks come from synchronous loops over SQLite rows: what onProgress returns is settled before the
    // commit, and a rejection already seen stops the merge at the next report
    const progress = new CallbackResults()
    const tick = Object.assign(() => {
      if (++n % every !== 0) return
      if (progress.failure !== undefined) throw progress.failure
      progress.call(options.onProgress, n)
    }, { restart: () => { n = 0 } })
    const missing = await body(merge, tick, hadRows)
    if (hadRows) missing()
    const keys = state.schema.keys
    const configured = (c: string): boolean => c.startsWith('_') || keys === undefined || keys.includes(c) || c in state.schema.types
    const dropped = options.cleanup === true ? state.cleanup(configured) : []
    await progress.settled()
    db.exec('COMMIT')
    committed = true
    // committed: a rejection of the last report fails the update, whose changes stay
    await options.onProgress?.(n)
    return { ...merge.counts, invalidRows: merge.invalidRows, dropped }
  } catch (err) {
    if (!committed) {
      if (db.inTransaction) db.exec('ROLLBACK')
      state.restoreTypes(types)
      // SQLite's own failure (a full disk: 'database or disk is full') named nothing and did not say the update was undone
      if (isSqliteError(err)) throw new ShoeboxError('SHOEBOX_IO', `${state.file}: cannot update the state db: ${err.message}; rolled back, the state db is as it was`, { cause: err })
    }
    throw err
  }
}


/** Counts a merged row (progress every `progressEvery`); restart() after an attempt that was given up. */
type Tick = (() => void) & { restart: () => void }

const DELETED_COLUMNS = ['__deleted', '__deleted_at', '__deleted_reason']

/**
 * The merge works on values as SQLite stores them (sqlFromText), so a row
 * costs one cast per cell and one or two statements, and nothing is
 * decoded into JS objects to be compared.
 */
class Merge {
  readonly counts: UpdateCounts = { added: 0, updated: 0, deleted: 0, skipped: 0, invalid: 0 }
  readonly invalidRows: InvalidRow[] = []
  readonly #state: StateDb
  /** The time stamped on what this run changes, as stored. */
  readonly now: string
  readonly #unique: string
  readonly #required: readonly string[]
  readonly #select: Statement
  /** The columns #select returns, read again after a column is added (see #existing). */
  #selectColumns: string[] | null = null
  /** The unique keys the history has (kept as the SQL values of the key), for missing() without SQL. */
  readonly #seen = new Set<string>()
  /** Off when missing() is given SQL instead. */
  trackSeen = true
  /** History key -> its column type, once checked against the table. */
  readonly #types = new Map<string, ColumnType>()
  /** Statements by the columns they write (joined by NUL), so a row's SQL is built once per shape. */
  readonly #statements = new Map<string, Statement>()
  #expectKnown = false

  constructor (state: StateDb, now: Date) {
    this.#state = state
    this.now = sqlTimestamp(now)
    this.#unique = state.schema.unique
    this.#required = [...new Set([this.#unique, ...(state.schema.required ?? [])])]
    state.addColumns(new Map(['__state_added', '__state_last_updated', ...DELETED_COLUMNS].map((c) => [c, BOOKKEEPING[c]])))
    this.#select = state.db.prepare(`SELECT * FROM ${TABLE} WHERE ${quote(this.#unique)} = ?`).raw(true)
  }

  row (row: HistoryRow): void {
    const uid = row[this.#unique] ?? null
    for (const key of this.#required) {
      const v = row[key]
      if (v === null || v === undefined || v === '') {
        return this.#invalid(uid, `missing keys: ${this.#required.filter((k) => row[k] === null || row[k] === undefined || row[k] === '').join(', ')}`)
      }
    }
    const columns: string[] = []
    const values: SqlValue[] = []
    for (const key in row) {
      if (!isMetadata(key, this.#unique)) continue
      const type = this.#types.get(key) ?? this.#column(key)
      const cast = sqlFromText(type, row[key])
      if (!cast.ok) return this.#invalid(uid, `${key}: ${cast.reason} (${type})`)
      columns.push(key)
      values.push(cast.value)
    }
    const key = values[columns.indexOf(this.#unique)]
    if (this.trackSeen) this.#seen.add(String(key))
    // A first update is mostly new rows, a later one mostly known rows: try what the previous row needed first.
    let existing = this.#expectKnown ? this.#existing(key) : undefined
    if (existing === undefined) {
      columns.push('__state_added', '__state_last_updated')
      values.push(this.now, this.now)
      if (this.#insert(columns, values)) {
        this.#expectKnown = false
        this.counts.added++
        return
      }
      columns.length -= 2
      values.length -= 2
      existing = this.#existing(key) as Record<string, unknown>
    }
    this.#expectKnown = true
    const setColumns: string[] = []
    const setValues: SqlValue[] = []
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i]
      if (!sameSql(column, existing[column] ?? null, values[i])) {
        setColumns.push(column)
        setValues.push(values[i])
      }
    }
    const wasDeleted = isDeletedSql(existing.__deleted)
    const isDeleted = isDeletedSql(values[columns.indexOf('__deleted')])
    if (wasDeleted && !isDeleted) {
      // Back in the history, not deleted there: undelete (mmmeta left it deleted for good).
      for (const column of DELETED_COLUMNS) {
        if (existing[column] !== null && existing[column] !== undefined && !setColumns.includes(column)) {
          setColumns.push(column)
          setValues.push(null)
        }
      }
    }
    if (setColumns.length === 0) {
      this.counts.skipped++
      return
    }
    setColumns.push('__state_last_updated')
    setValues.push(this.now)
    this.#update(key, setColumns, setValues)
    if (isDeleted && !wasDeleted) this.counts.deleted++
    else this.counts.updated++
  }

  /**
   * State rows the history no longer has, not yet deleted: soft-deleted with
   * reason state-missing. `absent`: SQL over `f` (the state row), true when
   * the history lacks it; without it, the Set of the uids merged decides.
   */
  missing (absent?: string): void {
    const u = quote(this.#unique)
    const where = absent === undefined ? '' : ` AND ${absent}`
    const live = this.#state.db.prepare(`SELECT f.rowid AS r, f.${u} AS uid, f.__deleted AS d FROM ${TABLE} f WHERE f.rowid > ?${where} ORDER BY f.rowid LIMIT 5000`)
    const mark = this.#state.db.prepare(`UPDATE ${TABLE} SET __deleted = 1, __deleted_at = ?, __deleted_reason = 'state-missing', __state_last_updated = ? WHERE rowid = ?`)
    let after: unknown = -1
    for (;;) {
      const page = live.all(after) as Array<{ r: bigint, uid: unknown, d: unknown }>
      if (page.length === 0) break
      // marked a page at a time (the rowid order is unchanged by it), so no list of them is held
      for (const { r, uid, d } of page) {
        if (isDeletedSql(d) || (absent === undefined && this.#seen.has(String(uid)))) continue
        mark.run(this.now, this.now, r)
        this.counts.deleted++
      }
      after = page[page.length - 1].r
    }
  }

  /**
   * The stored row of `key` by column name, or undefined. Read raw, because
   * better-sqlite3's row objects drop a column named `__proto__`.
   */
  #existing (key: SqlValue): Record<string, unknown> | undefined {
    const cells = this.#select.get(key) as unknown[] | undefined
    if (cells === undefined) return undefined
    const columns = this.#selectColumns ??= this.#select.columns().map((c) => c.name)
    const row = keyDict<unknown>()
    for (let i = 0; i < columns.length; i++) row[columns[i]] = cells[i]
    return row
  }

  /** A history key's type: its column's (re-typed once if config says otherwise, e.g. a string key in mmmeta's BIGINT column), created if missing. */
  #column (key: string): ColumnType {
    this.#selectColumns = null
    const wanted = this.#state.ensureColumn(key)
    this.#types.set(key, wanted)
    return wanted
  }

  /** Insert unless the key exists; true if inserted. */
  #insert (columns: string[], values: SqlValue[]): boolean {
    const statement = this.#statement('i\0' + columns.join('\0'), () =>
      `INSERT INTO ${TABLE} (${columns.map(quote).join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`)
    return statement.run(...values).changes === 1
  }

  #update (key: SqlValue, columns: string[], values: SqlValue[]): void {
    const statement = this.#statement('u\0' + columns.join('\0'), () =>
      `UPDATE ${TABLE} SET ${columns.map((c) => `${quote(c)} = ?`).join(', ')} WHERE ${quote(this.#unique)} = ?`)
    statement.run(...values, key)
  }

  #statement (shape: string, sql: () => string): Statement {
    let statement = this.#statements.get(shape)
    if (statement === undefined) {
      statement = this.#state.db.prepare(sql())
      this.#statements.set(shape, statement)
    }
    return statement
  }

  #invalid (uid: string | null, reason: string): void {
    this.counts.invalid++
    if (this.invalidRows.length < MAX_INVALID_LISTED) this.invalidRows.push({ uid, reason })
  }
}

/** mmmeta wrote 1 or True, shoebox writes 1. */
function isDeletedSql (value: unknown): boolean {
  return value === 1 || value === 1n || value === '1' || value === 'True' || value === 'true'
}

/** Two stored values equal as SQLite holds them (an integer may come back as a bigint); an unset `__deleted` is not deleted. */
function sameSql (column: string, a: unknown, b: SqlValue): boolean {
  if (a === b) return true
  if (column === '__deleted') return isDeletedSql(a) === isDeletedSql(b)
  if (a === null || b === null) return false
  if (typeof a === 'bigint' || typeof b === 'bigint') return typeof a !== 'string' && typeof b !== 'string' && String(a) === String(b)
  return false
}
