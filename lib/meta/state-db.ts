/**
 * The consumer's state db, `_mmmeta/state.db`: SQLite on disk through
 * better-sqlite3 (loaded by the first open, not by importing shoebox), in WAL
 * mode, checkpointed (TRUNCATE) on close so that a copy of `state.db` alone is
 * complete.
 *
 * Table `files` has the configured unique key as its primary key, an index per
 * configured query key, and columns typed from config, never guessed
 * (state-db-values.ts). mmmeta opens the same file: it reads the table
 * through SQLAlchemy, which parses columns by their declared types, so the
 * declared types are dataset's (BIGINT, FLOAT, BOOLEAN, DATETIME, TEXT) and
 * the bookkeeping columns have fixed ones (BOOKKEEPING). The explicit type of
 * every column shoebox created is also recorded in `_shoebox_columns`, a
 * table mmmeta never looks at, so a JSON column (declared TEXT) and a
 * consumer's column created by save() read back as what was written.
 *
 * A table whose primary key is another column (the configured unique key
 * changed), or whose declared types would change the configured values
 * (a BIGINT column for a string key turns "0012" into 12), is rebuilt in one
 * transaction (spec §4.2); rows the new key cannot hold fail it, leaving the
 * table as it was.
 */
import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import path from 'node:path'
import type * as BetterSqlite3 from 'better-sqlite3'
import { ShoeboxError } from '../errors.js'
import { describeIoError, ioError } from '../fs/io-error.js'
import { keyDict } from '../key-dict.js'
import { MMMETA_ROW_ID } from './history.js'
import { SQLITE_MAX_COLUMNS, tooManyKeys } from './key-limit.js'
import { loadSqlite, type SqliteClass } from './sqlite.js'
import {
  type ColumnType, type MetaValue, SQL_TYPE, declaredFits, fromSql, toSql, typeOfDeclared, COLUMN_TYPES
} from './state-db-values.js'

export type Database = BetterSqlite3.Database

/** What the state db needs of the config. */
export interface StateSchema {
  /** The primary key column (config `metadata.unique`). */
  unique: string
  /** Explicit types of the configured keys; keys not listed are strings. */
  types: Readonly<Record<string, ColumnType>>
  /** Keys to index (the configured query keys). */
  indexes: readonly string[]
  /** Keys a row must have, non-empty (unique, file_name and `required`); default just the unique key. */
  required?: readonly string[]
  /** The configured key set (`update --cleanup` keeps these and the columns starting with `_`). */
  keys?: readonly string[]
}

/**
 * How both tools read the bookkeeping columns: timestamps as DATETIME text
 * in UTC, `__deleted` as BOOLEAN 0/1 (dataset reads 1 as True; mmmeta's own
 * BIGINT 1 reads the same), the reason as TEXT.
 */
export const BOOKKEEPING: Readonly<Record<string, ColumnType>> = keyDict<ColumnType>({
  __meta_added: 'timestamp',
  __meta_last_updated: 'timestamp',
  __state_added: 'timestamp',
  __state_last_updated: 'timestamp',
  __seen: 'timestamp',
  __deleted: 'bool',
  __deleted_at: 'timestamp',
  __deleted_reason: 'string'
})

export const TABLE = 'files'
const TYPES_TABLE = '_shoebox_columns'

/** SQLite's case folding of names: ASCII letters only. */
export function asciiLower (name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase())
}

export function quote (name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

interface ColumnInfo {
  name: string
  type: string
  pk: number
}

export class StateDb {
  readonly file: string
  readonly #db: Database
  readonly schema: StateSchema
  /** Column name -> explicit type, for every column of `files`. */
  #types = new Map<string, ColumnType>()
  #closed = false
  readonly #readers = new Set<Database>()
  /**
   * Opened read-only because the state db is on a read-only mount
   * (openStateDb's readOnlyMount): nothing can write it, and a write is
   * refused by name rather than with SQLite's "attempt to write a readonly database".
   */
  readonly readOnlyMount: boolean
  /** What find()'s reader connections open: the file, or its immutable URI on a read-only mount. */
  readonly #readerName: string

  constructor (file: string, db: Database, schema: StateSchema, readOnly?: { readerName: string }) {
    this.file = file
    this.#db = db
    this.schema = schema
    this.readOnlyMount = readOnly !== undefined
    this.#readerName = readOnly?.readerName ?? file
  }

  /** Refuse `action` (a save, an update) on a state db opened read-only from a read-only mount; `kept` says what is unchanged. */
  checkWritable (action: string, kept: string): void {
    if (this.readOnlyMount) {
      throw new ShoeboxError('SHOEBOX_IO', `${this.file}: cannot ${action}: its directory is on a read-only mount (read-only file system, EROFS), where the state db is only read; ${kept}`)
    }
  }

  /**
   * The connection. Once closed, every use (a find(), a save(), update())
   * is a SHOEBOX_USAGE error naming the file, rather than better-sqlite3's
   * TypeError "The database connection is not open", which names nothing.
   */
  get db (): Database {
    if (this.#closed) throw new ShoeboxError('SHOEBOX_USAGE', `the state db ${this.file} is closed (its metadir's close() was called): open the metadir again to use it`)
    return this.#db
  }

  /** Every column of `files`, in table order. */
  columns (): string[] {
    return [...this.#types.keys()]
  }

  has (column: string): boolean {
    return this.#types.has(column)
  }

  typeOf (column: string): ColumnType {
    return this.#types.get(column) ?? this.schema.types[column] ?? BOOKKEEPING[column] ?? 'string'
  }

  /** The type a column gets when created: config, then bookkeeping, then `fallback`. */
  configuredType (column: string, fallback: ColumnType = 'string'): ColumnType {
    return this.#wanted(column) ?? fallback
  }

  /** The type config asks for: a listed type, a bookkeeping column's, string for any other configured key; else none. */
  #wanted (column: string): ColumnType | undefined {
    const s = this.schema
    const listed = s.types[column] ?? BOOKKEEPING[column]
    if (listed !== undefined) return listed
    const configured = column === s.unique || s.indexes.includes(column) || (s.required ?? []).includes(column) || (s.keys ?? []).includes(column)
    return configured ? 'string' : undefined
  }

  /**
   * Give columns new types (a history key whose column another tool typed
   * otherwise, e.g. a key config leaves a string in mmmeta's BIGINT column):
   * the table is rebuilt with the values re-cast, inside the caller's
   * transaction if there is one.
   */
  retype (changes: ReadonlyMap<string, ColumnType>): void {
    const before = new Map(this.#types)
    for (const [name, type] of changes) this.#types.set(name, type)
    this.#rebuild(this.#tableInfo(), before)
    for (const [name, type] of changes) this.#recordType(name, type)
  }

  /**
   * The type a history key's column holds (config's, else string): the
   * column created when missing, re-typed (the table rebuilt) when another
   * tool typed it otherwise (a string key in mmmeta's BIGINT column).
   */
  ensureColumn (key: string): ColumnType {
    const wanted = this.configuredType(key)
    if (!this.has(key)) this.addColumns(new Map([[key, wanted]]))
    else if (this.typeOf(key) !== wanted) this.retype(new Map([[key, wanted]]))
    return wanted
  }

  /** True when ensureColumn(key) would rebuild the table. */
  needsRetype (key: string): boolean {
    return this.has(key) && this.typeOf(key) !== this.configuredType(key)
  }

  /**
   * Run `attempt` inside a savepoint of the open transaction: what it did is
   * kept when it resolves true, and rolled back (rows, columns, the types
   * recorded for them, here and in `_shoebox_columns`) when it resolves
   * false or throws.
   */
  async attempt (attempt: () => Promise<boolean>): Promise<boolean> {
    const types = new Map(this.#types)
    this.db.exec('SAVEPOINT shoebox_attempt')
    let kept = false
    try {
      kept = await attempt()
      return kept
    } finally {
      // after an error SQLite may have rolled the whole transaction back already: then there is no savepoint left
      if (this.db.inTransaction) {
        if (!kept) this.db.exec('ROLLBACK TO shoebox_attempt')
        this.db.exec('RELEASE shoebox_attempt')
      }
      if (!kept) this.#types = types
    }
  }

  /** The columns' types as they are, for restoreTypes() after a ROLLBACK (which undoes ALTER TABLE too). */
  snapshotTypes (): ReadonlyMap<string, ColumnType> {
    return new Map(this.#types)
  }

  /** Back to what snapshotTypes() gave, once the transaction that changed the columns is rolled back. */
  restoreTypes (types: ReadonlyMap<string, ColumnType>): void {
    this.#types = new Map(types)
  }

  /** Add the columns that are missing (types recorded), in one go. */
  addColumns (wanted: ReadonlyMap<string, ColumnType>): void {
    if ([...wanted.keys()].every((name) => this.#types.has(name))) return
    this.#learnColumnsAdded()
    // Checked before the first ALTER: none of them is added rather than some (and SQLite's raw error).
    const added = [...wanted.keys()].filter((name) => !this.#types.has(name)).length
    if (this.#types.size + added > SQLITE_MAX_COLUMNS) {
      throw tooManyKeys(`the state db ${this.file}`, `${this.#types.size + added}`, `its ${TABLE} table is unchanged`)
    }
    this.#checkNames([...wanted.keys()].filter((name) => !this.#types.has(name)))
    for (const [name, type] of wanted) {
      if (this.#types.has(name)) continue
      this.db.prepare(`ALTER TABLE ${TABLE} ADD COLUMN ${quote(name)} ${SQL_TYPE[type]}`).run()
      this.#recordType(name, type)
    }
  }

  /**
   * Refuse names SQLite cannot hold as columns of their own, before the
   * first ALTER: it compares column names without regard to ASCII case
   * (keys "A" and "a" are one column: its raw "duplicate column name: a"),
   * and a NUL ends a name ("unrecognized token"). Both failed every
   * update of the metadir with SQLite's words alone.
   */
  #checkNames (added: readonly string[]): void {
    const folded = new Map<string, string>()
    for (const name of this.#types.keys()) folded.set(asciiLower(name), name)
    for (const name of added) {
      const kept = `the state db ${this.file} is unchanged`
      if (name === MMMETA_ROW_ID && name !== this.schema.unique) {
        // Every read of the state db leaves mmmeta's row id out (decodeCells): a value saved there would never be seen
        throw new ShoeboxError('SHOEBOX_META_SCHEMA', `key "${MMMETA_ROW_ID}" is the row id column mmmeta adds to its tables, which every read of the state db leaves out; ${kept}. Rename the key`)
      }
      if (name.includes('\0')) {
        throw new ShoeboxError('SHOEBOX_META_SCHEMA', `key ${JSON.stringify(name)} holds a NUL character, which no SQLite column name can; ${kept}. Rename the key, or leave it out with metadata.include in _mmmeta/config.yml`)
      }
      const other = folded.get(asciiLower(name))
      if (other !== undefined) {
        throw new ShoeboxError('SHOEBOX_META_SCHEMA', `keys ${JSON.stringify(other)} and ${JSON.stringify(name)} differ only in case, and SQLite takes them as one column of ${TABLE}; ${kept}. Rename one, or keep one with metadata.include in _mmmeta/config.yml`)
      }
      folded.set(asciiLower(name), name)
    }
  }

  /**
   * Columns another process added since this one read the table (two
   * `meta update`s at once on a new state db: the second, once it had the
   * write lock, added __state_added again and failed with SQLite's
   * "duplicate column name"). Taken with the type that process recorded.
   * Called inside the write transaction, so what it sees stays true.
   */
  #learnColumnsAdded (): void {
    const recorded = this.#recordedTypes()
    for (const column of this.#tableInfo()) {
      if (!this.#types.has(column.name)) this.#types.set(column.name, this.#typeOfExisting(column, recorded.get(column.name)))
    }
  }

  /** The column types recorded in the types table (an unknown type is left out). */
  #recordedTypes (): Map<string, ColumnType> {
    const recorded = new Map<string, ColumnType>()
    for (const { name, type } of this.db.prepare(`SELECT name, type FROM ${TYPES_TABLE}`).all() as Array<{ name: string, type: string }>) {
      if ((COLUMN_TYPES as readonly string[]).includes(type)) recorded.set(name, type as ColumnType)
    }
    return recorded
  }

  #recordType (name: string, type: ColumnType): void {
    this.db.prepare(`INSERT INTO ${TYPES_TABLE} (name, type) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET type = excluded.type`).run(name, type)
    this.#types.set(name, type)
  }

  /** A raw row (read with safe integers) to typed values; mmmeta's spurious `id` left out. */
  decode (raw: Record<string, unknown>): Record<string, MetaValue> {
    return this.decodeCells(Object.values(raw), Object.keys(raw))
  }

  /**
   * A row read with `.raw(true)` (its cells, in the order of `columns`) to
   * typed values. Rows are read raw because better-sqlite3's row objects
   * drop a column named `__proto__`.
   */
  decodeCells (cells: readonly unknown[], columns: readonly string[]): Record<string, MetaValue> {
    const row: Record<string, MetaValue> = keyDict()
    for (let i = 0; i < columns.length; i++) {
      const key = columns[i]
      if (key === MMMETA_ROW_ID && key !== this.schema.unique) continue
      row[key] = fromSql(this.typeOf(key), cells[i])
    }
    return row
  }

  /** A value for a column, as SQLite stores it; a value that does not fit its type throws SHOEBOX_META_VALUE. */
  encode (column: string, value: unknown): string | number | bigint | null {
    try {
      return toSql(this.typeOf(column), value)
    } catch (err) {
      throw new ShoeboxError('SHOEBOX_META_VALUE', `${this.file}: column ${column} (${this.typeOf(column)}): ${(err as Error).message}`)
    }
  }

  count (): number {
    return Number((this.db.prepare(`SELECT count(*) AS n FROM ${TABLE}`).get() as { n: number | bigint }).n)
  }

  /**
   * Set up `files` for the schema: create, migrate, add columns and indexes,
   * in one transaction. Deferred first, so an open that changes nothing takes
   * no lock (a query while another process updates); one that must write and
   * meets another writer waits its turn as an immediate transaction.
   */
  prepare (): void {
    try {
      this.db.transaction(() => { this.#prepare() }).deferred()
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY') !== true) throw err
      this.#types = new Map()
      this.db.transaction(() => { this.#prepare() }).immediate()
    }
  }

  /**
   * prepare() for a state db opened read-only: the columns' types learnt
   * from the table as it is (config's where the declaration holds it, else
   * the recorded type, else the declared one), nothing created or migrated.
   */
  prepareReadOnly (): void {
    const names = this.#schemaNames()
    if (!names.has(TABLE)) {
      throw new ShoeboxError('SHOEBOX_IO', `${this.file}: the state db has no ${TABLE} table yet (no meta update has run on it), and on a read-only mount none can be made; nothing read`)
    }
    const recorded = names.has(TYPES_TABLE) ? this.#recordedTypes() : new Map<string, ColumnType>()
    for (const column of this.#tableInfo()) this.#types.set(column.name, this.#typeOfExisting(column, recorded.get(column.name)))
  }

  /** Names of the tables and indexes there are (CREATE ... IF NOT EXISTS would take the write lock even when they exist). */
  #schemaNames (): Set<string> {
    return new Set((this.db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')").all() as Array<{ name: string }>).map((r) => r.name))
  }

  #prepare (): void {
    if (!this.#schemaNames().has(TYPES_TABLE)) this.db.exec(`CREATE TABLE ${TYPES_TABLE} (name TEXT PRIMARY KEY NOT NULL, type TEXT NOT NULL)`)
    const recorded = this.#recordedTypes()
    let info = this.#tableInfo()
    if (info.length === 0) {
      const unique = this.schema.unique
      const type = this.configuredType(unique)
      this.db.exec(`CREATE TABLE ${TABLE} (${quote(unique)} ${SQL_TYPE[type]} NOT NULL PRIMARY KEY)`)
      info = this.#tableInfo()
    }
    for (const column of info) this.#types.set(column.name, this.#typeOfExisting(column, recorded.get(column.name)))
    if (this.#needsRebuild(info)) {
      const before = new Map(this.#types)
      for (const c of info) {
        const wanted = this.#wanted(c.name)
        if (wanted !== undefined) this.#types.set(c.name, wanted)
      }
      this.#rebuild(info, before)
      info = this.#tableInfo()
    }
    for (const [name, type] of this.#types) if (recorded.get(name) !== type) this.#recordType(name, type)
    const wanted = new Map<string, ColumnType>()
    for (const key of [...Object.keys(this.schema.types), ...this.schema.indexes]) wanted.set(key, this.configuredType(key))
    this.addColumns(wanted)
    this.#createIndexes()
  }

  /** An index per configured query key that is a column (a rebuild drops them with the old table). */
  #createIndexes (): void {
    const names = this.#schemaNames()
    for (const key of this.schema.indexes) {
      const name = `ix_${TABLE}_${key}`
      if (key !== this.schema.unique && this.#types.has(key) && !names.has(name)) this.db.exec(`CREATE INDEX ${quote(name)} ON ${TABLE} (${quote(key)})`)
    }
  }

  /** An existing column's type: config's if the declaration holds it, else the one recorded when it was made, else its declaration's. */
  #typeOfExisting (column: ColumnInfo, recorded: ColumnType | undefined): ColumnType {
    const configured = this.#wanted(column.name)
    if (configured !== undefined && declaredFits(column.type, configured)) return configured
    if (recorded !== undefined && declaredFits(column.type, recorded)) return recorded
    return typeOfDeclared(column.type)
  }

  #tableInfo (): ColumnInfo[] {
    return this.db.prepare(`PRAGMA table_info(${TABLE})`).all() as ColumnInfo[]
  }

  #needsRebuild (info: ColumnInfo[]): boolean {
    const pk = info.filter((c) => c.pk > 0).map((c) => c.name)
    if (pk.length !== 1 || pk[0] !== this.schema.unique) return true
    return info.some((c) => {
      const configured = this.#wanted(c.name)
      return configured !== undefined && !declaredFits(c.type, configured)
    })
  }

  /** Drop every row and column (`update --replace`), leaving `files` as a new db has it. */
  reset (): void {
    this.db.exec(`DROP TABLE IF EXISTS ${TABLE}`)
    this.db.exec(`DELETE FROM ${TYPES_TABLE}`)
    this.#types = new Map()
    this.#prepare()
  }

  /** Rebuild `files` keeping only the columns `keep` accepts (and the unique key), values re-cast by their types (`update --cleanup`). */
  cleanup (keep: (column: string) => boolean): string[] {
    const info = this.#tableInfo()
    const dropped = info.map((c) => c.name).filter((name) => name !== this.schema.unique && !keep(name))
    this.#rebuild(info.filter((c) => !dropped.includes(c.name)))
    this.db.prepare(`DELETE FROM ${TYPES_TABLE} WHERE name IN (SELECT value FROM json_each(?))`).run(JSON.stringify(dropped))
    for (const name of dropped) this.#types.delete(name)
    return dropped
  }

  /**
   * Copy `files` into a table with the configured key and types (the
   * columns of `info`), in one transaction: values are re-read by their new
   * types (a value that does not fit is kept as it was stored: SQLite holds
   * it, and nothing is lost).
   */
  #rebuild (info: ColumnInfo[], oldTypes: ReadonlyMap<string, ColumnType> = this.#types): void {
    const unique = this.schema.unique
    const columns = [unique, ...info.map((c) => c.name).filter((name) => name !== unique)]
    if (!this.#types.has(unique)) this.#types.set(unique, this.configuredType(unique))
    const target = `${TABLE}__shoebox_rebuild`
    const definitions = columns.map((name) => `${quote(name)} ${SQL_TYPE[this.typeOf(name)]}${name === unique ? ' NOT NULL PRIMARY KEY' : ''}`)
    const rebuild = this.db.transaction(() => {
      this.db.exec(`DROP TABLE IF EXISTS ${quote(target)}`)
      this.db.exec(`CREATE TABLE ${quote(target)} (${definitions.join(', ')})`)
      const insert = this.db.prepare(`INSERT INTO ${quote(target)} (${columns.map(quote).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`)
      let n = 0
      for (const raw of this.#pages()) {
        n++
        const values = columns.map((name) => {
          const stored = raw[name] ?? null
          const value = fromSql(oldTypes.get(name) ?? 'string', stored)
          try {
            return toSql(this.typeOf(name), value)
          } catch {
            return typeof stored === 'boolean' ? Number(stored) : stored as string | number | bigint | null
          }
        })
        if (values[0] === null) {
          throw new ShoeboxError('SHOEBOX_META_SCHEMA', `${this.file}: cannot make ${unique} the primary key of ${TABLE}: row ${n} has no ${unique}; the table is unchanged`)
        }
        try {
          insert.run(...values)
        } catch (err) {
          if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT') === true) {
            throw new ShoeboxError('SHOEBOX_META_SCHEMA', `${this.file}: cannot make ${unique} the primary key of ${TABLE}: ${JSON.stringify(values[0])} is not unique; the table is unchanged`, { cause: err })
          }
          throw err
        }
      }
      this.db.exec(`DROP TABLE ${TABLE}`)
      this.db.exec(`ALTER TABLE ${quote(target)} RENAME TO ${TABLE}`)
      this.#createIndexes()
    })
    try {
      rebuild()
    } catch (err) {
      this.#types = new Map(oldTypes)
      throw err
    }
  }

  /** Every row of `files`, a page at a time by rowid (the connection can write between pages, not during an iteration). */
  * #pages (): Generator<Record<string, unknown>> {
    const page = this.db.prepare(`SELECT rowid AS "__shoebox_rowid", * FROM ${TABLE} WHERE rowid > ? ORDER BY rowid LIMIT 5000`)
    let after: bigint | number = -1
    for (;;) {
      const rows = page.all(after) as Array<Record<string, unknown>>
      if (rows.length === 0) return
      for (const row of rows) {
        after = row.__shoebox_rowid as bigint
        yield row
      }
    }
  }

  /**
   * A read-only connection to the same file: a find() reads through one, so
   * its one statement streams from a snapshot while this connection writes
   * (save() during an iteration). Closed by the caller, or by close().
   */
  openReader (): Database {
    const Sqlite = this.db.constructor as new (file: string, options: { readonly: boolean, fileMustExist: boolean }) => Database
    const reader = new Sqlite(this.#readerName, { readonly: true, fileMustExist: true })
    reader.defaultSafeIntegers(true)
    this.#readers.add(reader)
    return reader
  }

  closeReader (reader: Database): void {
    this.#readers.delete(reader)
    if (reader.open) reader.close()
  }

  /** Checkpoint the WAL into the file and truncate it, then close: the file alone is then the whole db. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    for (const reader of this.#readers) this.closeReader(reader)
    try {
      if (!this.#db.readonly) this.#db.pragma('wal_checkpoint(TRUNCATE)')
    } catch (err) {
      // A full disk: SQLite's bare 'database or disk is full' named nothing, and after an update's counts read as a lost update.
      throw new ShoeboxError('SHOEBOX_IO', `${this.file}: cannot checkpoint the state db: ${(err as Error).message}; everything committed is kept (in its -wal file, which the next open reads)`, { cause: err })
    } finally {
      this.#db.close()
    }
  }
}

/** SQLite's own failure (better-sqlite3's SqliteError: SQLITE_FULL on a full disk...), to be said with the state db's name. */
export function isSqliteError (err: unknown): err is Error {
  const code = (err as { code?: unknown } | null)?.code
  return err instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_')
}

export interface OpenStateOptions {
  /** Wait this long for another writer's lock (default 10 s). */
  timeoutMs?: number
  /**
   * The state db's directory is on a read-only mount (onReadOnlyMount()):
   * open it read-only, as SQLite reads a db nothing can write
   * (openOnReadOnlyMount), and set nothing up.
   */
  readOnlyMount?: boolean
}

/** Open (creating if needed) the state db at `file` and set `files` up for `schema`. */
export async function openStateDb (file: string, schema: StateSchema, options: OpenStateOptions = {}): Promise<StateDb> {
  const { Sqlite, uriFilenames } = await loadSqlite()
  schema = { ...schema, types: keyDict(schema.types), indexes: [...schema.indexes] }
  if (options.readOnlyMount === true) return await openOnReadOnlyMount(Sqlite, uriFilenames, file, schema)
  let db: Database
  try {
    db = new Sqlite(file, { timeout: options.timeoutMs ?? 10_000 })
  } catch (err) {
    throw await whyUnopened(err, file) ?? ioError(err, 'cannot open state db', file)
  }
  const state = new StateDb(file, db, schema)
  try {
    db.pragma('journal_mode = WAL')
    db.defaultSafeIntegers(true)
    state.prepare()
  } catch (err) {
    db.close()
    if (err instanceof ShoeboxError) throw err
    throw await whyUnopened(err, file) ?? new ShoeboxError('SHOEBOX_IO', `${file}: cannot open the state db: ${(err as Error).message}`, { cause: err })
  }
  return state
}

/**
 * The state db on a read-only mount. In WAL mode SQLite makes `-shm` beside
 * the db even to read it, which a read-only mount refuses; it reads a db
 * nothing writes by URI with `immutable=1` (no locks, no -shm), but then
 * ignores the -wal, so that changes committed and not checkpointed into the
 * db (a snapshot taken while a writer had it open) would be silently missed:
 * - no -wal, or an empty one (the db closed cleanly: close() checkpoints
 *   it): immutable, the db is all there is;
 * - a -wal holding frames: read through it, read-only, which SQLite can do
 *   when the -shm is there too (it rebuilds the index of the WAL in memory);
 *   without one that fails, and the open is refused naming the -wal;
 * - a rollback journal left by a transaction not finished (a db mmmeta made,
 *   not in WAL mode): refused naming it, as nothing can roll it back here.
 */
async function openOnReadOnlyMount (Sqlite: SqliteClass, uriFilenames: boolean, file: string, schema: StateSchema): Promise<StateDb> {
  const sizeOf = async (name: string): Promise<number> => {
    try {
      return (await stat(name)).size
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
      throw ioError(err, 'cannot read', name)
    }
  }
  const onMount = 'its directory is on a read-only mount (read-only file system, EROFS)'
  try {
    await stat(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, 'cannot read the state db', file)
    throw new ShoeboxError('SHOEBOX_IO', `${file}: no state db here, and ${onMount}, where none can be made; nothing read`, { cause: err })
  }
  const journal = await sizeOf(`${file}-journal`)
  if (journal > 0) {
    throw new ShoeboxError('SHOEBOX_IO', `${file}-journal: a transaction not finished left ${journal} bytes of rollback journal beside the state db, and ${onMount}, where SQLite can neither roll it back nor read around it: open the metadir once where it can be written (any shoebox meta command does it); nothing read`)
  }
  const wal = await sizeOf(`${file}-wal`)
  let name = file
  if (wal === 0) {
    if (!uriFilenames) {
      throw new ShoeboxError('SHOEBOX_IO', `${file}: cannot open the state db: ${onMount}, where SQLite reads a WAL-mode db only as immutable, by a URI filename, and better-sqlite3 was loaded before shoebox without them: start node with SQLITE_USE_URI=1; nothing read`)
    }
    name = `file:${file.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}?immutable=1`
  }
  let db: Database | undefined
  try {
    db = new Sqlite(name, { readonly: true, fileMustExist: true })
    db.defaultSafeIntegers(true)
    const state = new StateDb(file, db, schema, { readerName: name })
    state.prepareReadOnly()
    return state
  } catch (err) {
    db?.close()
    if (err instanceof ShoeboxError) throw err
    if (wal > 0 && String((err as { code?: unknown }).code).startsWith('SQLITE_CANTOPEN')) {
      throw new ShoeboxError('SHOEBOX_IO', `${file}-wal: ${wal} bytes of changes not checkpointed into the state db, and ${onMount}, where SQLite reads them only with ${file}-shm beside them, which is not there; read alone, ${file} would miss them. Open the metadir once where it can be written (any shoebox meta command checkpoints it on close), or copy its _mmmeta/ somewhere writable; nothing read`, { cause: err })
    }
    throw new ShoeboxError('SHOEBOX_IO', `${file}: cannot open the state db (${onMount}, opened read-only): ${(err as Error).message}`, { cause: err })
  }
}

/**
 * SQLite's "unable to open database file" (or "attempt to write a readonly database") for a state db in a
 * directory this process cannot write (a read-only mount, EROFS, or permission bits, EACCES): in WAL mode SQLite
 * must create state.db-shm beside it, even to read. Said in the errno's words, naming the file or directory
 * refused, rather than SQLite's bare words that said neither; undefined for any other failure.
 */
async function whyUnopened (err: unknown, file: string): Promise<ShoeboxError | undefined> {
  const code = String((err as { code?: unknown } | null)?.code)
  // Extended codes too: SQLITE_READONLY_DIRECTORY, SQLITE_CANTOPEN_...
  if (!code.startsWith('SQLITE_CANTOPEN') && !code.startsWith('SQLITE_READONLY')) return undefined
  for (const target of [path.dirname(file), file]) {
    try {
      await access(target, constants.W_OK)
    } catch (why) {
      if ((why as NodeJS.ErrnoException).code === 'ENOENT') continue
      return new ShoeboxError('SHOEBOX_IO', `${file}: cannot open the state db: ${target === file ? '' : `its directory ${target}: `}${describeIoError(why)}; the state db is as it was`, { cause: err })
    }
  }
  return undefined
}
