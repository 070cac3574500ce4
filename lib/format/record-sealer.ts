/**
 * The record checksums of v2 records an encoder writes into a slab. With
 * the native checksummer (lib/native.ts), records are only noted as they
 * are written and their checksums computed all at once when the slab's
 * bytes are about to leave the encoder (seal()): one native call per slab
 * rather than one per record, because the call itself, not the hashing,
 * was the larger part of a record's checksum. Without it, each record is
 * checksummed as it is noted.
 */
import { checksumRange, type ChecksumAlgorithm } from '../checksum.js'
import type { NativeSeal } from '../native.js'
import { putUint32 } from './metadata-block.js'

const ALGORITHM_ID = { crc32: 1, crc32c: 2 } as const

export class RecordSealer {
  readonly algorithm: ChecksumAlgorithm
  readonly #seal: NativeSeal | null
  /** [start, end) of each record not yet sealed, in the current slab. */
  #ranges = new Uint32Array(2 * 2048)
  #count = 0

  constructor (algorithm: ChecksumAlgorithm, seal: NativeSeal | null) {
    this.algorithm = algorithm
    this.#seal = seal
  }

  /** Which implementation computes the checksums. */
  get batched (): boolean {
    return this.#seal !== null
  }

  /**
   * The record buf[start, end) needs its checksum at buf[end .. end + 4).
   * Every record noted must be in the same slab until seal() is called.
   */
  note (buf: Buffer, start: number, end: number): void {
    if (this.#seal === null) {
      putUint32(buf, end, checksumRange(this.algorithm, buf, start, end))
      return
    }
    let ranges = this.#ranges
    if (2 * this.#count === ranges.length) {
      const grown = new Uint32Array(2 * ranges.length)
      grown.set(ranges)
      this.#ranges = ranges = grown
    }
    ranges[2 * this.#count] = start
    ranges[2 * this.#count + 1] = end
    this.#count++
  }

  /** Store the checksum of every record noted since the last seal; `buf` is their slab. */
  seal (buf: Buffer): void {
    if (this.#count === 0 || this.#seal === null) return
    const count = this.#count
    this.#count = 0
    this.#seal(buf, this.#ranges, count, ALGORITHM_ID[this.algorithm])
  }
}
