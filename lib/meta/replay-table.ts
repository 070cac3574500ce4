/**
 * The replayed meta db held in a SQLite table rather than in JS memory, so
 * that update and generate run in bounded memory at any history size (a
 * MetaHistory costs ~1.2 KB of heap a row: 1.2 GB at a million).
 *
 * The table lives on a connection the caller owns: update uses a TEMP
 * table on the state db's connection (inside its one transaction), generate
 * a scratch database file (ingest-scratch.ts). One row per unique key
 * (`k`, the primary key); history column i is SQL column `c<i>`, so keys
 * that SQLite would confuse (names differing only in case, "rowid") cannot
 * clash. Cells keep the three states a MetaHistory cell has, with no type
 * affinity on the columns: SQL NULL = never set, the number 0 = set to
 * null (a cell is otherwise always text), text = the value.
 *
 * Rows are read back a page at a time (keyset), so the connection may write
 * between pages (better-sqlite3 allows no statement while one iterates).
 */
import type * as BetterSqlite3 from 'better-sqlite3'
import type { CsvCell } from './csv.js'
import type { MetaRow } from './flatten.js'
import { readHistoryBatches, type HistoryFile, type ReplayOptions } from './history.js'
import { keyDict } from '../key-dict.js'
import { MAX_METADATA_KEYS, tooManyKeys } from './key-limit.js'

type Database = BetterSqlite3.Database
type Statement = BetterSqlite3.Statement

/** What a null cell is stored as (text cells are strings, so a number cannot be mistaken for one). */
const NULL_CELL = 0
const PAGE = 2000

/** A stored row as SELECTed: [k, c1..cN, extras...]. */
export type RawRow = unknown[]

export type ReplayOrder = 'uid' | 'insertion'

function quote (name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

export class ReplayTable {
  readonly unique: string
  readonly #db: Database
  /** Qualified, quoted: `temp."shoebox_replay"`. */
  readonly #table: string
  readonly #extras: readonly string[]
  /** History column names by index; 0 is the unique key (SQL column k). */
  readonly #names: string[]
  readonly #at = new Map<string, number>()
  readonly #statements = new Map<string, Statement>()
  /** Names the metadata in the error when it has more keys than a metadir can hold (key-limit.ts). */
  readonly #what: string

  /** `extras`: SQL columns of the caller's own (not history columns), read back after the cells. */
  constructor (db: Database, schema: string, name: string, unique: string, extras: readonly string[] = [], what = 'the metadata') {
    this.#db = db
    this.#what = what
    this.#table = `${schema}.${quote(name)}`
    this.unique = unique
    this.#extras = [...extras]
    this.#names = [unique]
    this.#at.set(unique, 0)
  }

  get db (): Database {
    return this.#db
  }

  /** The qualified table name, for the caller's own SQL. */
  get table (): string {
    return this.#table
  }

  /** (Re)create the table, empty. */
  create (): void {
    this.#db.exec(`DROP TABLE IF EXISTS ${this.#table}`)
    const extras = this.#extras.map((e) => `, ${quote(e)}`).join('')
    this.#db.exec(`CREATE TABLE ${this.#table} (k TEXT NOT NULL PRIMARY KEY${extras})`)
    this.#statements.clear()
  }

  drop (): void {
    this.#db.exec(`DROP TABLE IF EXISTS ${this.#table}`)
  }

  /** The index of a history column, added to the table when new. */
  column (name: string): number {
    let at = this.#at.get(name)
    if (at === undefined) {
      at = this.#names.length
      // Before SQLite's own limit (a raw "too many columns"), and at the limit a state db can hold.
      if (at >= MAX_METADATA_KEYS) throw tooManyKeys(this.#what, `more than ${MAX_METADATA_KEYS}`, 'nothing was written')
      this.#db.exec(`ALTER TABLE ${this.#table} ADD COLUMN c${at}`)
      this.#names.push(name)
      this.#at.set(name, at)
      // statements listing every column must be prepared again
      for (const key of [...this.#statements.keys()]) if (key.startsWith('*')) this.#statements.delete(key)
    }
    return at
  }

  /** Every column any row has set, sorted (the unique key first), as MetaHistory.columns(). */
  columns (): string[] {
    return [this.unique, ...this.#names.slice(1).sort()]
  }

  count (): number {
    const row = this.#db.prepare(`SELECT count(*) FROM ${this.#table}`).raw(true).get() as [number | bigint]
    return Number(row[0])
  }

  /**
   * Upsert: set the history columns `cols` (indexes from column()) of row
   * `uid` to `values` (created if new; other columns keep theirs), and the
   * extra columns `extraNames` to `extraValues`.
   */
  upsert (uid: string, cols: readonly number[], values: readonly CsvCell[], extraNames: readonly string[] = [], extraValues: readonly unknown[] = []): void {
    const shape = `u${cols.join(',')}|${extraNames.join(',')}`
    let statement = this.#statements.get(shape)
    if (statement === undefined) {
      const names = [...cols.map((c) => `c${c}`), ...extraNames.map(quote)]
      const set = names.map((n) => `${n} = excluded.${n}`).join(', ')
      statement = this.#db.prepare(`INSERT INTO ${this.#table} (k${names.map((n) => ', ' + n).join('')}) VALUES (?${', ?'.repeat(names.length)}) ` +
        (names.length === 0 ? 'ON CONFLICT(k) DO NOTHING' : `ON CONFLICT(k) DO UPDATE SET ${set}`))
      this.#statements.set(shape, statement)
    }
    const args: unknown[] = [uid]
    for (const value of values) args.push(value ?? NULL_CELL)
    for (const value of extraValues) args.push(value)
    statement.run(...args)
  }

  /** Set one extra column of row `uid`. */
  setExtra (uid: string, extra: string, value: unknown): void {
    this.#statement(`x${extra}`, () => `UPDATE ${this.#table} SET ${quote(extra)} = ? WHERE k = ?`).run(value, uid)
  }

  /** The stored row of `uid` ([k, c1..cN, extras...]) or undefined. */
  get (uid: string): RawRow | undefined {
    return this.#statement('*get', () => `SELECT ${this.#selectList()} FROM ${this.#table} WHERE k = ?`).get(uid) as RawRow | undefined
  }

  /** A stored row as an object of the keys it has set (null included), as MetaHistory.get(). */
  toRow (raw: RawRow): MetaRow {
    const row: MetaRow = keyDict()
    const n = this.#names.length
    for (let i = 0; i < n; i++) {
      const value = raw[i]
      if (value === null || value === undefined) continue
      row[this.#names[i]] = typeof value === 'string' ? value : null
    }
    return row
  }

  /** One cell of a stored row: a string, null, or undefined when never set. */
  cell (raw: RawRow, name: string): string | null | undefined {
    const at = this.#at.get(name)
    if (at === undefined) return undefined
    const value = raw[at]
    return value === null || value === undefined ? undefined : typeof value === 'string' ? value : null
  }

  /** An extra column's value in a stored row. */
  extra (raw: RawRow, name: string): unknown {
    return raw[this.#names.length + this.#extras.indexOf(name)]
  }

  /** The history keys a stored row has set (null included), in column order. */
  keysOf (raw: RawRow): string[] {
    const keys: string[] = []
    for (let i = 0; i < this.#names.length; i++) if (raw[i] !== null && raw[i] !== undefined) keys.push(this.#names[i])
    return keys
  }

  /** The history columns (the unique key aside) holding a value (text) in any row `where` selects: one scan inside SQLite. */
  textColumns (where: string): string[] {
    if (this.#names.length === 1) return []
    const flags = this.#names.slice(1).map((_, i) => `max(typeof(c${i + 1}) = 'text')`).join(', ')
    const row = this.#db.prepare(`SELECT ${flags} FROM ${this.#table} WHERE ${where}`).raw(true).get() as unknown[]
    return this.#names.slice(1).filter((_, i) => row[i] === 1 || row[i] === 1n)
  }

  /**
   * Every stored row, by unique key (SQLite's order: UTF-8 bytes, i.e. code
   * points, as Python sorts) or in the order the keys were first stored, a
   * page at a time. `where` filters (SQL over the columns and extras).
   */
  * rows (order: ReplayOrder, where = ''): Generator<RawRow> {
    const by = order === 'uid' ? 'k' : 'rowid'
    const filter = where === '' ? '' : `(${where}) AND `
    const names = this.#selectList()
    const first = this.#db.prepare(`SELECT ${names}, ${by} FROM ${this.#table} ${where === '' ? '' : `WHERE ${where}`} ORDER BY ${by} LIMIT ${PAGE}`).raw(true)
    const next = this.#db.prepare(`SELECT ${names}, ${by} FROM ${this.#table} WHERE ${filter}${by} > ? ORDER BY ${by} LIMIT ${PAGE}`).raw(true)
    let page = first.all() as RawRow[]
    while (page.length > 0) {
      const last = page[page.length - 1]
      const after = last[last.length - 1]
      for (const raw of page) yield raw
      if (page.length < PAGE) return
      page = next.all(after) as RawRow[]
    }
  }

  #selectList (): string {
    return ['k', ...this.#names.slice(1).map((_, i) => `c${i + 1}`), ...this.#extras.map(quote)].join(', ')
  }

  #statement (key: string, sql: () => string): Statement {
    let statement = this.#statements.get(key)
    if (statement === undefined) {
      statement = this.#db.prepare(sql())
      if (key.startsWith('*')) statement.raw(true)
      this.#statements.set(key, statement)
    }
    return statement
  }
}

interface Shape {
  /** Header positions of the cells applied. */
  positions: number[]
  /** Their table columns. */
  cols: number[]
}

/**
 * Which cells of a history row apply (its `__mmmeta_keys`, or all), the
 * unique key aside: name -> header position, in the order they are applied.
 * A repeated header name: the last wins. (Also update's direct load, so
 * both read a row the same way.)
 */
export function appliedCells (header: readonly string[], keysAt: number, unique: string, listed: string | null): Map<string, number> {
  const wanted = listed === null ? null : new Set(listed.split(','))
  const byName = new Map<string, number>()
  for (let i = 0; i < header.length; i++) {
    if (i === keysAt || header[i] === unique || (wanted !== null && !wanted.has(header[i]))) continue
    byName.delete(header[i])
    byName.set(header[i], i)
  }
  return byName
}

function shapeOf (table: ReplayTable, header: readonly string[], keysAt: number, listed: string | null): Shape {
  const byName = appliedCells(header, keysAt, table.unique, listed)
  const positions = [...byName.values()]
  return { positions, cols: [...byName.keys()].map((name) => table.column(name)) }
}

/** Replay these history files (in this order) into `table`, as replayFiles() does into a MetaHistory. */
export async function replayInto (table: ReplayTable, files: readonly HistoryFile[], options: ReplayOptions = {}): Promise<void> {
  const values: CsvCell[] = []
  for (const file of files) {
    let header: readonly string[] | null = null
    let shapes = new Map<string | null, Shape>()
    for await (const batch of readHistoryBatches(file.path, table.unique, options)) {
      // A long history takes a while to replay: a squash stopped meanwhile (Ctrl-C) stops here, not at its end.
      if (options.signal?.aborted === true) throw options.signal.reason
      for (const row of batch) {
        if (row.header !== header) {
          header = row.header
          shapes = new Map()
        }
        let shape = shapes.get(row.listed)
        if (shape === undefined) {
          shape = shapeOf(table, row.header, row.keysAt, row.listed)
          shapes.set(row.listed, shape)
        }
        values.length = shape.positions.length
        for (let i = 0; i < shape.positions.length; i++) values[i] = row.cells[shape.positions[i]] ?? null
        table.upsert(row.uid, shape.cols, values)
      }
    }
  }
}
