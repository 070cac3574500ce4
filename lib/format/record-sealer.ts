/**
 * What the encoder leaves to be done for a slab's v2 records before their
 * bytes leave it: their checksums and, with the native functions
 * (lib/native.ts), their metadata strings.
 *
 * With the native functions, records are only noted as they are laid out.
 * When the slab's bytes are about to be handed out, seal() writes all of the
 * noted records' metadata strings with one string write and puts each
 * record's share in its place (one native call), then checksums every record
 * (one more). One crossing into native code per slab, where writing each
 * record's strings and checksum as it came cost two per record: that
 * crossing, not the work, was the larger part of both.
 *
 * The strings are laid out as one byte per character, which is what UTF-8
 * gives for ASCII (nearly all metadata). seal() proves it: the bytes the
 * string write produced must equal its characters. When some string was
 * not ASCII, seal() writes nothing and hands the strings back, and the
 * encoder lays those records out again (relayoutV2).
 *
 * Without the native functions, the encoder writes each record's strings
 * itself and note() checksums the record at once.
 */
import { checksumRange, type ChecksumAlgorithm } from '../checksum.js'
import type { NativeRecords } from '../native.js'
import { putUint32 } from './metadata-block.js'

const ALGORITHM_ID = { crc32: 1, crc32c: 2 } as const

/** Metadata text is written to the scratch buffer whenever this many characters are waiting. */
const TEXT_PIECE = 16 * 1024

export class RecordSealer {
  readonly algorithm: ChecksumAlgorithm
  readonly #native: NativeRecords | null
  /** [start, end) of each record noted since the last seal. */
  #ranges = new Uint32Array(2 * 2048)
  #count = 0
  /**
   * The noted records' metadata strings: those not yet written (#text), and
   * where each record's share goes: [offset in all the text, slab offset, length].
   */
  #text = ''
  #moves = new Uint32Array(3 * 2048)
  #textCount = 0
  #textChars = 0
  /** Where the text is written as UTF-8, a piece at a time, before its shares are placed; #written bytes so far. */
  #scratch = Buffer.alloc(0)
  #written = 0
  /** Whether every piece written so far was ASCII (its bytes equal its characters). */
  #ascii = true

  constructor (algorithm: ChecksumAlgorithm, native: NativeRecords | null) {
    this.algorithm = algorithm
    this.#native = native
  }

  /** Whether metadata strings noted since the last seal wait to be written (seal() may then relayout). */
  get hasText (): boolean {
    return this.#textCount > 0
  }

  /** Whether records are sealed a slab at a time (and so whether the encoder may leave their strings to noteText). */
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

  /** A record's metadata strings, joined, go at slab offset `at`, one byte per character (only when batched; see seal()). */
  noteText (at: number, text: string): void {
    if (text.length === 0) return
    if (3 * this.#textCount === this.#moves.length) this.#moves = grow(this.#moves)
    const moves = this.#moves
    const i = 3 * this.#textCount++
    moves[i] = this.#textChars
    moves[i + 1] = at
    moves[i + 2] = text.length
    this.#textChars += text.length
    this.#text += text
    // In pieces: one string for a whole slab would be a large object, old garbage for the collector.
    if (this.#text.length >= TEXT_PIECE) this.#writeText()
  }

  /** Write #text at the end of the scratch buffer (with room for 3 bytes per character, it all fits). */
  #writeText (): void {
    const text = this.#text
    this.#text = ''
    const need = this.#written + 3 * text.length
    if (this.#scratch.length < need) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, 2 * this.#scratch.length))
      this.#scratch.copy(grown, 0, 0, this.#written)
      this.#scratch = grown
    }
    const bytes = this.#scratch.write(text, this.#written, 'utf8')
    this.#written += bytes
    if (bytes !== text.length) this.#ascii = false
  }

  /**
   * Complete every record noted since the last seal; `buf` is their slab.
   * Returns null when done, or, when the strings noted were not all ASCII,
   * those strings joined: nothing has then been written, and the caller
   * must lay the records out again.
   */
  seal (buf: Buffer): string | null {
    const native = this.#native
    if (native === null) return null
    const textCount = this.#textCount
    const count = this.#count
    this.#count = 0
    if (textCount > 0) {
      this.#writeText()
      const ascii = this.#ascii
      const written = this.#written
      this.#textCount = 0
      this.#textChars = 0
      this.#written = 0
      this.#ascii = true
      // Decoding gives back the strings, a lone surrogate as U+FFFD: the same one unit, and what writing it gives.
      if (!ascii) return this.#scratch.toString('utf8', 0, written)
      native.place(buf, this.#scratch, this.#moves, textCount)
    }
    if (count > 0) native.seal(buf, this.#ranges, count, ALGORITHM_ID[this.algorithm])
    return null
  }
}

function grow (table: Uint32Array): Uint32Array<ArrayBuffer> {
  const grown = new Uint32Array(2 * table.length)
  grown.set(table)
  return grown
}
