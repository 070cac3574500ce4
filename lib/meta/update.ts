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
import { BOOKKEEPING, TABLE, quote, type StateDb } from './state-db.js'
import { type ColumnType, type MetaValue, fromText, sqlTimestamp } from './state-db-values.js'

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
  /** Called with the number of history rows merged so far, every `progressEvery` rows and at the end. */
  onProgress?: (rows: number) => void
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

/** Columns of the history that are not data: mmmeta's diff marker and its scratch table's auto id. */
const NOT_DATA = new Set(['__mmmeta_keys', 'id'])
const MAX_INVALID_LISTED = 100

/** Merge replayed history rows into the state db in one transaction. */
export async function mergeHistory (state: StateDb, rows: AsyncIterable<HistoryRow> | Iterable<HistoryRow>, options: UpdateOptions = {}): Promise<UpdateResult> {
  const every = options.progressEvery ?? 10_000
  const db = state.db
  db.exec('BEGIN IMMEDIATE')
  try {
    if (options.replace === true) state.reset()
    db.exec('CREATE TEMP TABLE IF NOT EXISTS shoebox_seen (uid PRIMARY KEY) WITHOUT ROWID')
    db.exec('DELETE FROM temp.shoebox_seen')
    const merge = new Merge(state, options.now ?? new Date())
    let n = 0
    for await (const row of rows) {
      merge.row(row)
      if (++n % every === 0) options.onProgress?.(n)
    }
    merge.missing()
    const keys = state.schema.keys
    const configured = (c: string): boolean => c.startsWith('_') || keys === undefined || keys.includes(c) || c in state.schema.types
    const dropped = options.cleanup === true ? state.cleanup(configured) : []
    db.exec('DROP TABLE temp.shoebox_seen')
    db.exec('COMMIT')
    options.onProgress?.(n)
    return { ...merge.counts, invalidRows: merge.invalidRows, dropped }
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK')
    throw err
  }
}

class Merge {
  readonly counts: UpdateCounts = { added: 0, updated: 0, deleted: 0, skipped: 0, invalid: 0 }
  readonly invalidRows: InvalidRow[] = []
  readonly #state: StateDb
  readonly #now: string
  readonly #unique: string
  readonly #required: readonly string[]
  readonly #select
  readonly #seen
  readonly #checked = new Set<string>()
  readonly #statements = new Map<string, Statement>()

  constructor (state: StateDb, now: Date) {
    this.#state = state
    this.#now = sqlTimestamp(now)
    this.#unique = state.schema.unique
    this.#required = [...new Set([this.#unique, ...(state.schema.required ?? [])])]
    this.#select = state.db.prepare(`SELECT * FROM ${TABLE} WHERE ${quote(this.#unique)} = ?`)
    this.#seen = state.db.prepare('INSERT OR IGNORE INTO temp.shoebox_seen (uid) VALUES (?)')
  }

  row (row: HistoryRow): void {
    const uid = row[this.#unique] ?? null
    const missing = this.#required.filter((key) => row[key] === null || row[key] === undefined || row[key] === '')
    if (missing.length > 0) return this.#invalid(uid, `missing keys: ${missing.join(', ')}`)
    const values = new Map<string, MetaValue>()
    const types = new Map<string, ColumnType>()
    for (const [key, text] of Object.entries(row)) {
      if (NOT_DATA.has(key)) continue
      if (!this.#checked.has(key)) this.#check(key)
      const type = this.#state.has(key) ? this.#state.typeOf(key) : this.#state.configuredType(key)
      const cast = fromText(type, text)
      if (!cast.ok) return this.#invalid(uid, `${key}: ${cast.reason} (${type})`)
      values.set(key, cast.value)
      types.set(key, type)
    }
    this.#state.addColumns(types)
    const key = this.#state.encode(this.#unique, values.get(this.#unique))
    this.#seen.run(key)
    const existing = this.#select.get(key) as Record<string, unknown> | undefined
    if (existing === undefined) return this.#insert(values)
    const before = this.#state.decode(existing)
    const changed = new Map<string, MetaValue>()
    for (const [column, value] of values) if (!sameStored(column, before[column] ?? null, value)) changed.set(column, value)
    const wasDeleted = before.__deleted === true
    const isDeleted = values.get('__deleted') === true
    if (wasDeleted && !isDeleted) {
      // Back in the history, not deleted there: undelete (mmmeta left it deleted for good).
      for (const column of ['__deleted', '__deleted_at', '__deleted_reason']) if (before[column] !== null && before[column] !== undefined) changed.set(column, null)
    }
    if (changed.size === 0) {
      this.counts.skipped++
      return
    }
    changed.set('__state_last_updated', this.#now)
    this.#update(key, changed)
    if (isDeleted && !wasDeleted) this.counts.deleted++
    else this.counts.updated++
  }

  /** State rows the history no longer has, not yet deleted: soft-deleted with reason state-missing. */
  missing (): void {
    const u = quote(this.#unique)
    this.#state.addColumns(new Map(['__deleted', '__deleted_at', '__deleted_reason', '__state_last_updated'].map((c) => [c, BOOKKEEPING[c]])))
    const { changes } = this.#state.db.prepare(`UPDATE ${TABLE} SET __deleted = 1, __deleted_at = ?, __deleted_reason = 'state-missing', __state_last_updated = ?
      WHERE ${u} NOT IN (SELECT uid FROM temp.shoebox_seen) AND (__deleted IS NULL OR __deleted IN (0, '0', '', 'False', 'false'))`).run(this.#now, this.#now)
    this.counts.deleted += changes
  }

  /** A history key's column typed otherwise than config says (another tool made it) is re-typed once. */
  #check (key: string): void {
    this.#checked.add(key)
    const wanted = this.#state.configuredType(key)
    if (this.#state.has(key) && this.#state.typeOf(key) !== wanted) this.#state.retype(new Map([[key, wanted]]))
  }

  #insert (values: Map<string, MetaValue>): void {
    const row = new Map<string, unknown>(values)
    row.set('__state_added', this.#now)
    row.set('__state_last_updated', this.#now)
    this.#state.addColumns(new Map([['__state_added', 'timestamp'], ['__state_last_updated', 'timestamp']]))
    const columns = [...row.keys()]
    const sql = `INSERT INTO ${TABLE} (${columns.map(quote).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`
    this.#statement(sql).run(...columns.map((c) => this.#state.encode(c, row.get(c))))
    this.counts.added++
  }

  #update (key: unknown, changed: Map<string, unknown>): void {
    this.#state.addColumns(new Map([...changed.keys()].filter((c) => !this.#state.has(c)).map((c) => [c, this.#state.configuredType(c)])))
    const columns = [...changed.keys()]
    const sql = `UPDATE ${TABLE} SET ${columns.map((c) => `${quote(c)} = ?`).join(', ')} WHERE ${quote(this.#unique)} = ?`
    this.#statement(sql).run(...columns.map((c) => this.#state.encode(c, changed.get(c))), key)
  }

  #statement (sql: string): Statement {
    let statement = this.#statements.get(sql)
    if (statement === undefined) {
      statement = this.#state.db.prepare(sql)
      this.#statements.set(sql, statement)
    }
    return statement
  }

  #invalid (uid: string | null, reason: string): void {
    this.counts.invalid++
    if (this.invalidRows.length < MAX_INVALID_LISTED) this.invalidRows.push({ uid, reason })
  }
}

/** Typed values compared as the db would store them. */
function same (a: MetaValue, b: MetaValue): boolean {
  if (a === b) return true
  if (a === null || b === null) return false
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime()
  if (typeof a === 'object' || typeof b === 'object') return JSON.stringify(a) === JSON.stringify(b)
  if (typeof a === 'string' || typeof b === 'string') return false
  return String(a) === String(b)
}

/** SQLite holds no NaN (it stores NULL), and an unset `__deleted` is not deleted: equal as stored. */
function sameStored (column: string, a: MetaValue, b: MetaValue): boolean {
  if (column === '__deleted') return (a === true) === (b === true)
  if (typeof b === 'number' && Number.isNaN(b)) return a === null
  return same(a, b)
}
