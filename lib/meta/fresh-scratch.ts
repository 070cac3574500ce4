/**
 * generate's working copy when the meta db is empty (a fresh metadir): there
 * is no history to replay or to diff against, so every row is new, and the
 * `.append` holds each row's last values. Only an object naming a uid twice
 * in one run needs the row it made before; so a row is stored once, as one
 * encoded text, in a WITHOUT ROWID table keyed by the uid, and written back
 * in uid order (SQLite's: UTF-8 bytes, as ingest-scratch.ts's ReplayTable
 * orders them) straight into CSV lines. Same file, same sweep, same
 * disposability as ingest-scratch.ts (`_mmmeta/.replay.<random>.tmp`, no
 * journal, never committed, removed at the end).
 *
 * A row is stored as its shape (the list of keys holding a value, in the
 * object's order, numbered in memory: most objects of a run share a few) and
 * those values joined by U+0000 (split() reads them back faster than
 * JSON.parse); a row of a shape beyond the first MAX_SHAPES, or with a value
 * holding U+0000, is stored inline as JSON of its keys and values, so memory
 * stays bounded whatever the input. Null cells are not stored: a new row's diff lists only
 * the keys with a value.
 */
import fs from 'node:fs/promises'
import type BetterSqlite3 from 'better-sqlite3'
import { formatCsvCell } from './csv.js'
import { createScratchDb } from './ingest-scratch.js'
import type { MetaRow } from './flatten.js'
import { keyDict } from '../key-dict.js'

/** Shapes numbered in memory; rows of any further shape carry their keys. */
const MAX_SHAPES = 4096
/** Between the values of a row of a numbered shape (a row with a value holding it is stored inline, as JSON). */
const SEPARATOR = '\u0000'
/** A stored row's shape column when the keys travel with the values. */
const INLINE = -1

/** Rows per insert statement. */
const BATCH = 64
const NONE: readonly Duplicate[] = []

/** An object add() did not store: its uid was stored already. */
export interface Duplicate {
  uid: string
  row: MetaRow
  reason: string | null
}

interface Queued extends Duplicate {
  shape: number
  text: string
}

/** One stored row as read back: its uid, its keys (in stored order) and their values. */
export interface FreshRow {
  uid: string
  /** The shape number (>= 0), or -1 when `keys` are the row's own. */
  shape: number
  keys: readonly string[]
  values: readonly string[]
}

export class FreshScratch {
  readonly file: string
  readonly unique: string
  readonly #db: BetterSqlite3.Database
  readonly #insert: BetterSqlite3.Statement
  readonly #insertMany: BetterSqlite3.Statement
  readonly #selectSeq: BetterSqlite3.Statement
  readonly #update: BetterSqlite3.Statement
  readonly #select: BetterSqlite3.Statement
  readonly #shapeIds = new Map<string, number>()
  readonly #shapes: string[][] = []
  /** Stored rows of each shape, so the header lists only keys some final row has. */
  readonly #shapeRows: number[] = []
  /** Stored rows holding each key, for the rows with inline keys. */
  readonly #inlineKeyRows = new Map<string, number>()
  #rows = 0
  /** The next insert's parameters (k, s, v, q per row) and its objects, kept until then. */
  #params: unknown[] = []
  #queued: Queued[] = []
  #seq = 0
  /** The scan rows() has open, if any. */
  #scan: IterableIterator<unknown> | undefined
  /** The shape of the last row encoded (its keys, its number). */
  #last: string[] | null = null
  #lastShape = 0

  private constructor (file: string, db: BetterSqlite3.Database, unique: string) {
    this.file = file
    this.unique = unique
    this.#db = db
    // q: the object's number in the run, telling an inserted row from one stored before (see flush())
    db.exec('CREATE TABLE fresh (k TEXT NOT NULL PRIMARY KEY, s INTEGER NOT NULL, v TEXT NOT NULL, q INTEGER NOT NULL) WITHOUT ROWID')
    this.#insert = db.prepare('INSERT OR IGNORE INTO fresh (k, s, v, q) VALUES (?, ?, ?, ?)')
    this.#insertMany = db.prepare(`INSERT OR IGNORE INTO fresh (k, s, v, q) VALUES (?, ?, ?, ?)${', (?, ?, ?, ?)'.repeat(BATCH - 1)}`)
    this.#selectSeq = db.prepare('SELECT q FROM fresh WHERE k = ?').pluck(true)
    this.#update = db.prepare('UPDATE fresh SET s = ?, v = ? WHERE k = ?')
    this.#select = db.prepare('SELECT s, v FROM fresh WHERE k = ?').raw(true)
  }

  /** Create the scratch file in `<base>/_mmmeta/`. */
  static async open (base: string, unique: string): Promise<FreshScratch> {
    const { file, db } = await createScratchDb(base)
    try {
      return new FreshScratch(file, db, unique)
    } catch (err) {
      db.close()
      await fs.unlink(file).catch(() => {})
      throw err
    }
  }

  /** Rows stored. */
  get count (): number {
    return this.#rows
  }

  /**
   * Store row `uid`: the keys with a value of `row` overlaid with `extra`
   * (the unique key aside), unless `uid` is stored already. Rows are
   * inserted BATCH at a time (one statement); returns the objects of the
   * batch just inserted whose uid was stored already (before, or earlier in
   * the batch), in their order: nothing of them is stored, the caller merges
   * them (get(), replace()). `reason` is passed back with them.
   */
  add (uid: string, row: MetaRow, extra: MetaRow | undefined, reason: string | null): readonly Duplicate[] {
    const [shape, text] = this.#encode(row, extra)
    this.#params.push(uid, shape, text, this.#seq++)
    this.#queued.push({ uid, row, reason, shape, text })
    return this.#queued.length >= BATCH ? this.flush() : NONE
  }

  /** Insert the rows add() holds; returns the duplicates among them (see add()). */
  flush (): readonly Duplicate[] {
    const queued = this.#queued
    const params = this.#params
    if (queued.length === 0) return NONE
    this.#queued = []
    this.#params = []
    let inserted = 0
    if (queued.length === BATCH) inserted = this.#insertMany.run(params).changes
    else for (let i = 0; i < params.length; i += 4) inserted += this.#insert.run(params[i], params[i + 1], params[i + 2], params[i + 3]).changes
    this.#rows += inserted
    const duplicates: Duplicate[] = []
    for (let i = 0; i < queued.length; i++) {
      const { shape, text } = queued[i]
      // all inserted (the usual case), or: this row's number stored under its uid
      if (inserted === queued.length || this.#selectSeq.get(queued[i].uid) === params[i * 4 + 3]) this.#count(shape, text, 1)
      else duplicates.push(queued[i])
    }
    return duplicates
  }

  /** The stored row `uid` (the unique key and the keys with a value), or undefined. */
  get (uid: string): MetaRow | undefined {
    const stored = this.#select.get(uid) as [number, string] | undefined
    if (stored === undefined) return undefined
    const { keys, values } = this.#decode(stored[0], stored[1])
    const row: MetaRow = keyDict({ [this.unique]: uid })
    for (let i = 0; i < keys.length; i++) row[keys[i]] = values[i]
    return row
  }

  /** Store `row` as row `uid` (stored already; see get()) in place of what it was. */
  replace (uid: string, row: MetaRow): void {
    const old = this.#select.get(uid) as [number, string]
    this.#count(old[0], old[1], -1)
    const [shape, text] = this.#encode(row)
    this.#update.run(shape, text, uid)
    this.#count(shape, text, 1)
  }

  /** The keys (the unique key aside) holding a value in some stored row, unsorted. */
  keys (): string[] {
    const keys = new Set<string>()
    for (let id = 0; id < this.#shapes.length; id++) if (this.#shapeRows[id] > 0) for (const key of this.#shapes[id]) keys.add(key)
    for (const [key, rows] of this.#inlineKeyRows) if (rows > 0) keys.add(key)
    return [...keys]
  }

  /** Every stored row in uid order (the scratch db is read only from here on). */
  * rows (): Generator<FreshRow> {
    const scan = this.#db.prepare('SELECT k, s, v FROM fresh ORDER BY k').raw(true)
    const rows = scan.iterate() as IterableIterator<[string, number, string]>
    this.#scan = rows
    try {
      for (const [uid, shape, text] of rows) {
        const { keys, values } = this.#decode(shape, text)
        yield { uid, shape, keys, values }
      }
    } finally {
      this.#scan = undefined
    }
  }

  /**
   * The `.append` rows of this run under `header` (the unique key, the
   * sorted keys(), `__mmmeta_keys`), as CSV lines: each row's keys with a
   * value, `__mmmeta_keys` listing them sorted, as ingest.ts writes a new
   * row's diff. Each shape's line is laid out once (template()).
   */
  * diffLines (header: readonly string[]): Generator<string> {
    const at = new Map(header.map((key, i) => [key, i]))
    const templates: Array<LineTemplate | null | undefined> = []
    for (const row of this.rows()) {
      let template = row.shape === INLINE ? undefined : templates[row.shape]
      if (template === undefined) {
        template = lineTemplate(header.length, at, row.keys)
        if (row.shape !== INLINE) templates[row.shape] = template
      }
      if (template === null) continue
      const { texts, slots } = template
      let line = formatCsvCell(row.uid) + texts[0]
      for (let i = 0; i < slots.length; i++) line += formatCsvCell(row.values[slots[i]]) + texts[i + 1]
      yield line
    }
  }

  /** Close and remove the file (nothing of it is kept). */
  async close (): Promise<void> {
    // a scan still open (the run destroyed while writing) would keep the connection busy: end it first
    this.#scan?.return?.()
    if (this.#db.open) this.#db.close()
    await fs.unlink(this.file).catch(() => {})
  }

  /** The shape number and stored text of `row` overlaid with `extra` (keys with a value, the unique key aside). */
  #encode (row: MetaRow, extra?: MetaRow): [number, string] {
    const values: string[] = []
    // most rows have the shape of the row before: compare with it before building a key list
    const last = this.#last
    let keys: string[] | null = last === null ? [] : null
    let joinable = true
    const add = (key: string, value: string): void => {
      if (keys === null && last?.[values.length] !== key) keys = (last as string[]).slice(0, values.length)
      keys?.push(key)
      values.push(value)
      if (value.includes(SEPARATOR)) joinable = false
    }
    for (const key in row) {
      const value = row[key]
      if (value === null || key === this.unique || (extra !== undefined && Object.hasOwn(extra, key))) continue
      add(key, value)
    }
    if (extra !== undefined) {
      for (const key in extra) {
        const value = extra[key]
        if (value !== null && key !== this.unique) add(key, value)
      }
    }
    if (keys === null && values.length === (last as string[]).length && joinable) return [this.#lastShape, values.join(SEPARATOR)]
    keys ??= (last as string[]).slice(0, values.length)
    const signature = JSON.stringify(keys)
    let shape = this.#shapeIds.get(signature)
    if (shape === undefined && this.#shapes.length < MAX_SHAPES) {
      shape = this.#shapes.length
      this.#shapeIds.set(signature, shape)
      this.#shapes.push(keys)
      this.#shapeRows.push(0)
    }
    if (shape === undefined || !joinable) return [INLINE, JSON.stringify([keys, values])]
    this.#last = keys
    this.#lastShape = shape
    return [shape, values.join(SEPARATOR)]
  }

  #decode (shape: number, text: string): { keys: readonly string[], values: readonly string[] } {
    if (shape === INLINE) {
      const [keys, values] = JSON.parse(text) as [string[], string[]]
      return { keys, values }
    }
    const keys = this.#shapes[shape]
    return { keys, values: keys.length === 0 ? [] : text.split(SEPARATOR) }
  }

  #count (shape: number, text: string, delta: number): void {
    if (shape !== INLINE) {
      this.#shapeRows[shape] += delta
      return
    }
    for (const key of (JSON.parse(text) as [string[], string[]])[0]) this.#inlineKeyRows.set(key, (this.#inlineKeyRows.get(key) ?? 0) + delta)
  }
}

/** A CSV line of one shape: texts[0], value slots[0], texts[1], ..., the last text (ending `\r\n`); after the uid. */
interface LineTemplate {
  texts: string[]
  slots: number[]
}

/**
 * Lay out the line of a row with `keys` (values in that order) as
 * ingest.ts's diff does: cells null, the uid first, each key's value in its
 * header column, the sorted keys joined with `,` last. Null when the row
 * lists no key (no line, as there).
 */
function lineTemplate (width: number, at: ReadonlyMap<string, number>, keys: readonly string[]): LineTemplate | null {
  if (keys.length === 0) return null
  const order = keys.map((key, i) => ({ key, i })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  // a cell: the uid (-2), a value (its index in the row's values), a fixed text (-1), or empty (null)
  const slots: Array<number | null> = new Array<number | null>(width).fill(null)
  slots[0] = -2
  for (const { key, i } of order) slots[at.get(key) as number] = i
  slots[width - 1] = -1
  const last = formatCsvCell(order.map(({ key }) => key).join(','))
  const texts: string[] = []
  const valueSlots: number[] = []
  let text = ''
  for (let c = 1; c < width; c++) {
    text += ','
    const slot = slots[c]
    if (slot === null) continue
    if (slot === -1) text += last
    else if (slot === -2) throw new Error('unreachable: the uid has column 0 only')
    else {
      texts.push(text)
      valueSlots.push(slot)
      text = ''
    }
  }
  texts.push(text + '\r\n')
  return { texts, slots: valueSlots }
}
