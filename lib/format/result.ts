/** What reading at one offset found: a record, a need for more bytes, or damage. */
import type { DamageReason } from '../errors.js'
import type { ShoeboxRecord } from '../record.js'

export interface RecordFound {
  readonly kind: 'record'
  readonly record: ShoeboxRecord
  readonly version: 1 | 2
  /** Bytes the record occupies. */
  readonly size: number
}

export interface NeedMore {
  readonly kind: 'need'
  /** Bytes (from the record's start) needed before a decision can be made. */
  readonly size: number
  /** The header has been verified by its checksum (v2): the length is trustworthy. */
  readonly verified: boolean
}

export interface Damage {
  readonly kind: 'damage'
  readonly reason: DamageReason
  readonly detail: string
  /** When the header verified, the damaged record's whole length (skip it whole); else 0. */
  readonly skip: number
}

export type ReadResult = RecordFound | NeedMore | Damage

export function need (size: number, verified = false): NeedMore {
  return { kind: 'need', size, verified }
}

export function damage (reason: DamageReason, detail: string, skip = 0): Damage {
  return { kind: 'damage', reason, detail, skip }
}
