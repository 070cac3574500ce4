/**
 * What one metadata object does to the row it names (metaIngest's rule, in
 * one place for both of generate's working copies: the replayed history,
 * ingest-scratch.ts, and the empty one, fresh-scratch.ts): the keys it sets,
 * the keys that differ from before, and whether the row is added, updated,
 * soft-deleted or left as it was.
 *
 * - a key the row had (with a value) that the object lacks is set to null (a
 *   removed key propagates), bookkeeping keys (`__*`) aside;
 * - `deleteReason` (ensureFiles' `original-missing`) soft-deletes a row not
 *   deleted yet; an object naming a deleted row without one undeletes it;
 * - `__meta_last_updated` is the run's time on every change, and
 *   `__meta_added` on a new row.
 */
import type { MetaRow } from './flatten.js'
import { keyDict } from '../key-dict.js'

export const DELETED = '__deleted'
export const DELETED_AT = '__deleted_at'
export const DELETED_REASON = '__deleted_reason'
export const ADDED = '__meta_added'
export const LAST_UPDATED = '__meta_last_updated'

/** The history's own keys: never in an object, so never "removed" from one. (A user key may start with `__` too.) */
const BOOKKEEPING_KEYS: ReadonlySet<string> = new Set([DELETED, DELETED_AT, DELETED_REASON, ADDED, LAST_UPDATED])

export type MergeOutcome = 'added' | 'updated' | 'deleted' | 'skipped'

export interface MergedObject {
  /** The keys to set (null: set to null); the row's other keys keep their values. Empty when skipped. */
  values: MetaRow
  /** The keys whose value differs from `current`, bookkeeping times aside ([] for a new row). */
  changed: string[]
  outcome: MergeOutcome
}

export function isDeleted (value: string | null | undefined): boolean {
  return value !== undefined && value !== null && value !== '' && value !== '0' && value.toLowerCase() !== 'false'
}

/**
 * Merge `row` (flattened, projected, valid) into `current` (the row's keys
 * as stored, null included; undefined: no such row yet) at time `ts`.
 * Neither argument is changed.
 */
export function mergeObject (current: MetaRow | undefined, row: MetaRow, deleteReason: string | null, ts: string): MergedObject {
  const values: MetaRow = keyDict(row)
  if (current !== undefined) {
    for (const key of Object.keys(current)) {
      if (!BOOKKEEPING_KEYS.has(key) && !Object.hasOwn(values, key) && current[key] !== null) values[key] = null // a removed key
    }
  }
  const wasDeleted = current !== undefined && isDeleted(current[DELETED])
  if (deleteReason !== null) {
    if (!wasDeleted) {
      values[DELETED] = '1'
      values[DELETED_AT] = ts
      values[DELETED_REASON] = deleteReason
    }
  } else if (wasDeleted) {
    values[DELETED] = null
    values[DELETED_AT] = null
    values[DELETED_REASON] = null
  }
  const changed = current === undefined ? [] : Object.keys(values).filter((key) => ((Object.hasOwn(current, key) ? current[key] : null) ?? null) !== values[key])
  if (current !== undefined && changed.length === 0) return { values: keyDict(), changed, outcome: 'skipped' }
  values[LAST_UPDATED] = ts
  let outcome: MergeOutcome
  if (current === undefined) {
    values[ADDED] = ts
    outcome = 'added'
  } else if (isDeleted(values[DELETED]) && !wasDeleted) {
    outcome = 'deleted'
  } else {
    outcome = 'updated'
  }
  return { values, changed, outcome }
}
