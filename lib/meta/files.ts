/**
 * The files API over the state db (spec §7), as a consumer uses it:
 *
 *   for await (const file of md.files.find({ imported: false })) { ...; file.set('imported', true); await file.save() }
 *   pipeline(md.files.find({ document_type: 'contract' }), downloader, ...)
 *
 * find() is a Readable in object mode (so also an async iterable) of
 * MetaFile, read through a connection of its own (save() works while
 * iterating).
 * Soft-deleted rows are hidden unless `{ deleted: true }` (mmmeta handed
 * them out and left the check to every consumer); get(uid) returns a row
 * even when deleted, since it was asked for by name.
 *
 * save() is an upsert of the columns set on the file (mmmeta's was an update,
 * which did nothing for a missing row), stamping `__state_last_updated`.
 * `remote` renders the config's URL templates; a `{publisher:name}`
 * placeholder names the flattened key (mmmeta's str.format read the ':' as
 * a format spec).
 */
import { Readable } from 'node:stream'
import { ShoeboxError, invalidOption } from '../errors.js'
import type { MetaConfig } from './config.js'
import { compileFilter, type Filter } from './query.js'
import { TABLE, isSqliteError, quote, type StateDb } from './state-db.js'
import { limitOption } from './run-options.js'
import { positiveCount } from '../units.js'
import { type ColumnType, type MetaValue, typeOfValue } from './state-db-values.js'
import { keyDict } from '../key-dict.js'

export interface FindOptions {
  /** Include soft-deleted rows (default false). */
  deleted?: boolean
  /** At most this many rows (a whole number; 0 finds none). */
  limit?: number
  /** Sort by this column (ascending); default: the order SQLite finds the rows in. */
  orderBy?: string
  /** Rows read ahead of the consumer (default 64). */
  highWaterMark?: number
}

export type MetaRowValues = Record<string, MetaValue>

export class MetaFile {
  readonly #files: MetaFiles
  readonly #data: MetaRowValues
  readonly #changed = new Set<string>()

  constructor (files: MetaFiles, data: MetaRowValues) {
    this.#files = files
    this.#data = data
  }

  /** The row's typed values (a copy). */
  get data (): MetaRowValues {
    return keyDict(this.#data)
  }

  get uid (): string {
    return String(this.#data[this.#files.config.unique])
  }

  /** The actual file's name: the file_name key, else the uid. */
  get name (): string {
    const name = this.#data[this.#files.config.fileName]
    return name === null || name === undefined ? this.uid : String(name)
  }

  get deleted (): boolean {
    return this.#data.__deleted === true
  }

  /** The config's remote templates rendered over this row, e.g. `file.remote.url`. */
  get remote (): Record<string, string> {
    const out: Record<string, string> = keyDict()
    for (const [name, template] of Object.entries(this.#files.config.remote)) out[name] = renderTemplate(template, this.#data, `remote.${name}`)
    return out
  }

  get (key: string): MetaValue | undefined {
    return Object.hasOwn(this.#data, key) ? this.#data[key] : undefined
  }

  /** Set a local value (a consumer column such as `imported`); save() writes it. */
  set (key: string, value: MetaValue): this {
    if (key === this.#files.config.unique) throw new ShoeboxError('SHOEBOX_INVALID_OPTION', `cannot change the unique key ${key} of ${this.uid}`)
    this.#data[key] = value
    this.#changed.add(key)
    return this
  }

  update (values: Readonly<Record<string, MetaValue>>): this {
    for (const [key, value] of Object.entries(values)) this.set(key, value)
    return this
  }

  /** Write the values set since the last save (an upsert by uid), stamping __state_last_updated. */
  async save (): Promise<void> {
    const now = new Date()
    const values = new Map<string, MetaValue>([...this.#changed].map((k) => [k, this.#data[k] ?? null]))
    values.set('__state_last_updated', now)
    this.#files.upsert(this.#data[this.#files.config.unique], values)
    this.#data.__state_last_updated = now
    this.#changed.clear()
  }

  toJSON (): MetaRowValues {
    return this.data
  }
}

/** What find() returns: a Readable of MetaFile, typed so that `for await` gives MetaFile (Readable's iterator gives `any`). */
export interface MetaFileStream extends Readable {
  [Symbol.asyncIterator] (): NodeJS.AsyncIterator<MetaFile>
}

export class MetaFiles {
  readonly state: StateDb
  readonly config: MetaConfig

  constructor (state: StateDb, config: MetaConfig) {
    this.state = state
    this.config = config
  }

  /**
   * Rows matching `filter`, as a Readable of MetaFile (also an async
   * iterable), in the order SQLite finds them (an index's order for an
   * indexed key, else the order rows were added) or by `orderBy`. One
   * statement on a read-only connection of its own streams them from a
   * snapshot, so a query by an indexed key starts at once however many rows
   * match, and save() works while iterating.
   */
  find (filter: Filter = {}, options: FindOptions = {}): MetaFileStream {
    const condition = compileFilter(this.state, filter, options.deleted === true)
    if (options.orderBy !== undefined && !this.state.has(options.orderBy)) throw invalidOption('orderBy', `no column '${options.orderBy}' in ${this.state.file}`)
    const order = options.orderBy === undefined ? '' : ` ORDER BY ${quote(options.orderBy)}`
    const rowLimit = limitOption(options.limit)
    const highWaterMark = positiveCount(options.highWaterMark, 64, 'highWaterMark')
    const limit = rowLimit === undefined ? '' : ` LIMIT ${rowLimit}`
    const sql = `SELECT * FROM ${TABLE} WHERE ${condition.sql}${order}${limit}`
    const rows = async function * (this: MetaFiles): AsyncGenerator<MetaFile> {
      const reader = this.state.openReader()
      try {
        const statement = reader.prepare(sql).raw(true)
        const columns = statement.columns().map((c) => c.name)
        for (const cells of statement.iterate(...condition.params) as IterableIterator<unknown[]>) {
          yield new MetaFile(this, this.state.decodeCells(cells, columns))
        }
      } finally {
        this.state.closeReader(reader)
      }
    }
    return Readable.from(rows.call(this), { objectMode: true, highWaterMark }) as MetaFileStream
  }

  /** How many rows match (soft-deleted ones only with `deleted`). */
  count (filter: Filter = {}, options: Pick<FindOptions, 'deleted'> = {}): number {
    const condition = compileFilter(this.state, filter, options.deleted === true)
    const row = this.state.db.prepare(`SELECT count(*) AS n FROM ${TABLE} WHERE ${condition.sql}`).get(...condition.params) as { n: bigint | number }
    return Number(row.n)
  }

  /** The row with this uid, deleted or not, or undefined. */
  get (uid: string): MetaFile | undefined {
    const statement = this.state.db.prepare(`SELECT * FROM ${TABLE} WHERE ${quote(this.config.unique)} = ?`).raw(true)
    const cells = statement.get(this.state.encode(this.config.unique, uid)) as unknown[] | undefined
    return cells === undefined ? undefined : new MetaFile(this, this.state.decodeCells(cells, statement.columns().map((c) => c.name)))
  }

  /** Upsert `values` into the row `uid`, adding (typed) columns the state db lacks. */
  upsert (uid: MetaValue, values: ReadonlyMap<string, MetaValue>): void {
    this.state.checkWritable(`save ${this.config.unique} ${String(uid)}`, 'the row is as it was')
    const added = new Map<string, ColumnType>()
    for (const [key, value] of values) if (!this.state.has(key)) added.set(key, this.state.configuredType(key, value === null ? 'string' : typeOfValue(value)))
    const write = this.state.db.transaction(() => {
      this.state.addColumns(added)
      const columns = [this.config.unique, ...values.keys()]
      const encoded = [this.state.encode(this.config.unique, uid), ...[...values].map(([k, v]) => this.state.encode(k, v))]
      const set = [...values.keys()].map((k) => `${quote(k)} = excluded.${quote(k)}`).join(', ')
      this.state.db.prepare(`INSERT INTO ${TABLE} (${columns.map(quote).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})
        ON CONFLICT(${quote(this.config.unique)}) DO UPDATE SET ${set}`).run(...encoded)
    })
    // A rollback undoes the columns added too: the handle must forget them (it kept them, and every later save
    // or query of such a key failed with "no such column").
    const types = this.state.snapshotTypes()
    try {
      write()
    } catch (err) {
      this.state.restoreTypes(types)
      if (isSqliteError(err)) {
        throw new ShoeboxError('SHOEBOX_IO', `${this.state.file}: cannot save ${this.config.unique} ${String(uid)}: ${err.message}; the row is as it was`, { cause: err })
      }
      throw err
    }
  }
}

/**
 * `{key}` replaced by the row's value of key (the whole text between the
 * braces is the key, so `{publisher:name}` works), `{{` and `}}` are braces.
 * A key the row lacks (or holds null) is an error naming the template.
 */
export function renderTemplate (template: string, row: Readonly<Record<string, MetaValue | undefined>>, where = 'template'): string {
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (match, key: string | undefined) => {
    if (match === '{{') return '{'
    if (match === '}}') return '}'
    const value = row[key as string]
    if (value === null || value === undefined) {
      throw new ShoeboxError('SHOEBOX_META_CONFIG', `${where} ${JSON.stringify(template)}: the row has no value for {${String(key)}}`)
    }
    if (value instanceof Date) return value.toISOString()
    return typeof value === 'object' ? JSON.stringify(value) : String(value)
  })
}

/**
 * JSON text of typed values: Dates as ISO 8601 UTC, integers beyond 2^53
 * written exactly as numbers (JSON.stringify refuses bigint).
 */
export function metaJson (value: unknown): string {
  const marked = JSON.stringify(value, (_key, v: unknown) => typeof v === 'bigint' ? `\u0000big:${v.toString()}` : v)
  return marked.replace(/"\\u0000big:(-?\d+)"/g, '$1')
}
