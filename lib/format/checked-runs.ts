/**
 * Which records of a buffer the native part has already checked, for a
 * reader walking it record by record (the decoder, the event store's get).
 *
 * A v2 record's checks (format/v2.ts checkV2: header CRC, size, record
 * checksum) cost one native checksum call per record when done one by one,
 * and that call's crossing costs more than hashing the record. The native
 * checkRun() (native/record_crc.c) checks every whole, sound v2 record from
 * a point on in one call and says where the first other one starts. The
 * records before that are read without being checked again; the one it
 * stopped at is checked by the reader itself, as it always was, so that
 * what is said of a short or damaged record does not depend on the native
 * part being built.
 */
import { nativeRecords, type NativeRecords } from '../native.js'

export type CheckRun = NonNullable<NativeRecords['checkRun']>

/**
 * After checkRun vouched for no record (a v1 record, which it does not
 * check, or one cut by the buffer's end), this many records are checked by
 * the reader before it is asked again: a run of v1 records pays one call
 * per this many.
 */
const BACKOFF = 64

export class CheckedRuns {
  readonly #check: CheckRun | null
  /** Records before this offset of the current buffer are vouched for. */
  #to = 0
  #slow = 0

  /** `check`: the native checkRun; default the native part's, none when it is not built (or null, for tests). */
  constructor (check: CheckRun | null | undefined = nativeRecords()?.checkRun) {
    this.#check = check ?? null
  }

  /** A new buffer: nothing in it is vouched for yet. */
  reset (): void {
    this.#to = 0
    this.#slow = 0
  }

  /**
   * Whether the record at `at` (bytes up to `end` of `buf`) is a whole v2
   * record that passes every check of checkV2 within `maxSize`. False: the
   * caller checks it itself.
   */
  vouched (buf: Uint8Array, at: number, end: number, maxSize: number): boolean {
    if (at < this.#to) return true
    const check = this.#check
    if (check === null) return false
    if (this.#slow > 0) {
      this.#slow--
      return false
    }
    this.#to = check(buf, at, end, maxSize)
    if (this.#to > at) return true
    this.#slow = BACKOFF
    return false
  }
}
