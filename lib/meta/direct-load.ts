/**
 * update's first load: an empty state db filled straight from a history of
 * one file, without the TEMP replay table and its second pass (update.ts),
 * which cost about a third of a first update.
 *
 * Why the result is the same as replaying into the TEMP table and merging
 * every replayed row (Merge.row) in first-appearance order, as long as each
 * unique key is in one row of the file: each history row is then its
 * replayed row (the same cells set, a null cell kept apart from one never
 * set), rows come in first-appearance order, and with no state row before,
 * every merge is an insert of the row's cast cells plus both `__state_`
 * stamps, and no row can be state-missing. Columns are created as Merge
 * creates them: per row, its keys in the order a JS object of the replayed
 * row lists them, each when first met, typed by state.ensureColumn().
 *
 * Anything else gives up, leaving the state db as it was (a savepoint), and
 * update takes the general way: a key met twice (its insert does nothing),
 * an invalid row (it must count as absent from the history, which only the
 * replay table tells), a row the reader skips (its problem is reported
 * once, by the general replay), a column another tool typed otherwise (a
 * rebuild). Secondary indexes are dropped for the load and created again
 * from their own SQL afterwards: SQLite sorts once instead of inserting
 * each row at a random place of each index.
 */
import type { Statement } from 'better-sqlite3'
import { isMetadata, readHistoryBatches, type HistoryCells, type HistoryFile } from './history.js'
import { appliedCells } from './replay-table.js'
import { TABLE, quote, type StateDb } from './state-db.js'
import { keyDict } from '../key-dict.js'
import { type ColumnType, type SqlValue, sqlFromText } from './state-db-values.js'


/** How one kind of row (a header and its `__mmmeta_keys`) is inserted. */
interface Shape {
  /** Header position of each inserted key's cell; -1 for the unique key (the row's uid). */
  positions: number[]
  types: ColumnType[]
  /** Header position of each required key other than the unique key; -1 when the row does not set it. */
  required: number[]
  insert: Statement
}

/** Why the load gave up (update then takes the general way). */
const GIVE_UP = null

/**
 * Load `file` into the empty state db: the number of rows inserted, or null
 * (nothing changed) when the file is not one the direct way covers.
 * `tick` is called once per row.
 */
export async function loadIntoEmptyState (state: StateDb, file: HistoryFile, now: string, tick: () => void): Promise<number | null> {
  let added: number | null = null
  await state.attempt(async () => {
    added = await load(state, file, now, tick)
    return added !== GIVE_UP
  })
  return added
}

async function load (state: StateDb, file: HistoryFile, now: string, tick: () => void): Promise<number | null> {
  const unique = state.schema.unique
  const required = [...new Set(state.schema.required ?? [])].filter((k) => k !== unique)
  const indexes = dropSecondaryIndexes(state)
  let problem = false
  let added = 0
  let header: readonly string[] | null = null
  let shapes = new Map<string | null, Shape | null>()
  const values: SqlValue[] = []
  for await (const batch of readHistoryBatches(file.path, unique, { onProblem: () => { problem = true } })) {
    if (problem) return GIVE_UP
    for (const row of batch) {
      if (row.header !== header) {
        header = row.header
        shapes = new Map()
      }
      let shape = shapes.get(row.listed)
      if (shape === undefined) {
        shape = shapeOf(state, row, required)
        shapes.set(row.listed, shape)
      }
      if (shape === null) return GIVE_UP
      for (const at of shape.required) {
        const cell = at < 0 ? null : row.cells[at] ?? null
        if (cell === null || cell === '') return GIVE_UP
      }
      const { positions, types } = shape
      values.length = positions.length + 2
      for (let i = 0; i < positions.length; i++) {
        const cell = positions[i] < 0 ? row.uid : row.cells[positions[i]] ?? null
        // a string cell is stored as it is (sqlFromText's first rule), without a result object per cell
        if (types[i] === 'string') {
          values[i] = cell
          continue
        }
        const cast = sqlFromText(types[i], cell)
        if (!cast.ok) return GIVE_UP
        values[i] = cast.value
      }
      values[positions.length] = now
      values[positions.length + 1] = now
      if (shape.insert.run(values).changes !== 1) return GIVE_UP
      added++
      tick()
    }
  }
  if (problem) return GIVE_UP
  for (const sql of indexes) state.db.exec(sql)
  return added
}

/**
 * A row kind's keys in Merge's order (a JS object lists integer-like keys
 * first), their columns ensured in that order, and its insert; null when a
 * column would need a rebuild.
 */
function shapeOf (state: StateDb, row: HistoryCells, required: readonly string[]): Shape | null {
  const unique = state.schema.unique
  const cells = appliedCells(row.header, row.keysAt, unique, row.listed)
  const asObject: Record<string, number> = keyDict({ [unique]: -1 })
  for (const [name, at] of cells) asObject[name] = at
  const keys = Object.keys(asObject).filter((k) => isMetadata(k, unique))
  if (keys.some((k) => state.needsRetype(k))) return null
  const types = keys.map((k) => state.ensureColumn(k))
  const columns = [...keys, '__state_added', '__state_last_updated']
  // update's Merge has made the stamp columns already; this is for a caller without one
  for (const stamp of columns.slice(-2)) state.ensureColumn(stamp)
  return {
    positions: keys.map((k) => asObject[k]),
    types,
    required: required.map((k) => cells.get(k) ?? -1),
    insert: state.db.prepare(`INSERT INTO ${TABLE} (${columns.map(quote).join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`)
  }
}

/** Drop the secondary indexes of `files` that are not UNIQUE (a UNIQUE one must refuse a row as it comes): their SQL, to create them again. */
function dropSecondaryIndexes (state: StateDb): string[] {
  const indexes = state.db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL").all(TABLE) as Array<{ name: string, sql: string }>
  const dropped: string[] = []
  for (const { name, sql } of indexes) {
    if (/^\s*CREATE\s+UNIQUE\b/i.test(sql)) continue
    state.db.exec(`DROP INDEX ${quote(name)}`)
    dropped.push(sql)
  }
  return dropped
}
