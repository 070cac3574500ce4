/**
 * A filter object to an SQL condition over the state db's `files` table:
 *
 *   { document_type: 'contract', imported: false, retrieved_at: { gte: date } }
 *
 * A plain value means `eq` (null means `isNull: true`); an object of
 * operators (eq, ne, gt, gte, lt, lte, in, like, isNull) is ANDed. Values are
 * encoded by the column's type, so a Date compares with a timestamp column
 * and `true` with a bool. Two choices a dataset user should know:
 * - `false` on a bool column also matches NULL (never set): `imported: false`
 *   is "not imported yet", which is how consumers use it;
 * - `ne` matches NULL too (SQL's `IS NOT`).
 * A column that does not exist yet (no consumer has saved it) is NULL in
 * every row, so the same filters work on a fresh state db.
 */
import { invalidOption } from '../errors.js'
import { quote, type StateDb } from './state-db.js'
import { type SqlValue, toSql, typeOfValue } from './state-db-values.js'

export type FilterValue = string | number | bigint | boolean | Date | null

export interface FilterOperators {
  eq?: FilterValue
  ne?: FilterValue
  gt?: FilterValue
  gte?: FilterValue
  lt?: FilterValue
  lte?: FilterValue
  in?: readonly FilterValue[]
  like?: string
  isNull?: boolean
}

export type Filter = Readonly<Record<string, FilterValue | FilterOperators>>

export interface Condition {
  sql: string
  params: SqlValue[]
}

const COMPARE: Record<string, string> = { gt: '>', gte: '>=', lt: '<', lte: '<=' }
const OPERATORS = new Set(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'like', 'isNull'])

/** Rows that are not soft-deleted (mmmeta wrote 1 or True; shoebox writes 1). */
export function notDeleted (state: StateDb): string {
  return state.has('__deleted') ? "(__deleted IS NULL OR __deleted IN (0, '0', '', 'False', 'false'))" : '1'
}

/** The condition for `filter` (and, unless `deleted`, only rows not soft-deleted). */
export function compileFilter (state: StateDb, filter: Filter = {}, deleted = false): Condition {
  const parts: string[] = deleted ? [] : [notDeleted(state)]
  const params: SqlValue[] = []
  for (const [column, spec] of Object.entries(filter)) {
    const ops = isOperators(spec) ? spec : { eq: spec }
    const names = Object.keys(ops)
    if (names.length === 0) throw invalidOption(`filter.${column}`, 'has no operator')
    for (const op of names) {
      if (!OPERATORS.has(op)) throw invalidOption(`filter.${column}`, `unknown operator '${op}' (one of ${[...OPERATORS].join(', ')})`)
      const value = (ops as Record<string, unknown>)[op]
      parts.push(condition(state, column, op, value, params))
    }
  }
  return { sql: parts.length === 0 ? '1' : parts.join(' AND '), params }
}

function isOperators (spec: unknown): spec is FilterOperators {
  return spec !== null && typeof spec === 'object' && !(spec instanceof Date)
}

function condition (state: StateDb, column: string, op: string, value: unknown, params: SqlValue[]): string {
  const c = state.has(column) ? quote(column) : 'NULL'
  const encode = (v: unknown): SqlValue => {
    if (state.has(column)) return state.encode(column, v)
    return toSql(typeOfValue(v), v)
  }
  const bool = state.has(column) && state.typeOf(column) === 'bool'
  switch (op) {
    case 'isNull':
      return value === false ? `${c} IS NOT NULL` : `${c} IS NULL`
    case 'eq':
      if (value === null || value === undefined) return `${c} IS NULL`
      if (value === false && (bool || !state.has(column))) return `(${c} = 0 OR ${c} IS NULL)`
      params.push(encode(value))
      return `${c} = ?`
    case 'ne':
      params.push(value === null || value === undefined ? null : encode(value))
      return `${c} IS NOT ?`
    case 'in': {
      if (!Array.isArray(value)) throw invalidOption(`filter.${column}.in`, 'must be an array')
      if (value.length === 0) return '0'
      // One parameter however many values: SQLite takes at most 32766, and a consumer's list of uids to look up
      // can be longer. Compared as the list's own were (the column's affinity applies to json_each's values).
      params.push(`[${value.map((v) => jsonValue(encode(v))).join(',')}]`)
      return `${c} IN (SELECT value FROM json_each(?))`
    }
    case 'like':
      if (typeof value !== 'string') throw invalidOption(`filter.${column}.like`, 'must be a string pattern')
      params.push(value)
      return `${c} LIKE ?`
    default:
      if (value === null || value === undefined) throw invalidOption(`filter.${column}.${op}`, 'needs a value')
      params.push(encode(value))
      return `${c} ${COMPARE[op]} ?`
  }
}

/**
 * An encoded value as JSON text for json_each: a bigint by its digits (JSON.stringify refuses it; read as an
 * integer), an infinity as 9e999 (SQLite reads it as one; JSON.stringify would write null).
 */
function jsonValue (value: SqlValue): string {
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number' && !Number.isNaN(value) && !Number.isFinite(value)) return value > 0 ? '9e999' : '-9e999'
  return JSON.stringify(value)
}
