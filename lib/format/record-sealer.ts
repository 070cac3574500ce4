/**
 * What the encoder leaves to be done for a slab's v2 records before their
 * bytes leave it: their checksums.
 *
 * With the native functions, records are only noted as they are written.
 * When the slab's bytes are about to be handed out, seal() checksums every
 * noted record with one native call. One crossing into native code per
 * slab, where a checksum per record cost one per record: that crossing, not
 * the work, was the larger part of it.
 *
 * Without the native functions, note() checksums the record at once.
 */
import { checksumRange, type ChecksumAlgorithm } from '../checksum.js'
import type { NativeRecords } from '../native.js'
import { putUint32 } from './metadata-block.js'

const ALGORITHM_ID = { crc32: 1, crc32c: 2 } as const

export class RecordSealer {
  readonly algorithm: ChecksumAlgorithm
  readonly #native: NativeRecords | null
  /** [start, end) of each record noted since the last seal. */
  #ranges = new Uint32Array(2 * 2048)
  #count = 0

  constructor (algorithm: ChecksumAlgorithm, native: NativeRecords | null) {
    this.algorithm = algorithm
    this.#native = native
  }

  /** Whether records are sealed a slab at a time (with the native functions) rather than as they are noted. */
  get batched (): boolean {
    return this.#native !== null
  }

  /**
   * The record buf[start, end) needs its checksum at buf[end .. end + 4).
   * Every record noted must be in the same slab until seal() is called.
   */
  note (buf: Buffer, start: number, end: number): void {
    if (this.#native === null) {
      putUint32(buf, end, checksumRange(this.algorithm, buf, start, end))
      return
    }
    if (2 * this.#count === this.#ranges.length) this.#ranges = grow(this.#ranges)
    this.#ranges[2 * this.#count] = start
    this.#ranges[2 * this.#count + 1] = end
    this.#count++
  }

  /** Complete every record noted since the last seal; `buf` is their slab. */
  seal (buf: Buffer): void {
    const native = this.#native
    const count = this.#count
    if (native === null || count === 0) return
    this.#count = 0
    native.seal(buf, this.#ranges, count, ALGORITHM_ID[this.algorithm])
  }
}

function grow (table: Uint32Array): Uint32Array<ArrayBuffer> {
  const grown = new Uint32Array(2 * table.length)
  grown.set(table)
  return grown
}
