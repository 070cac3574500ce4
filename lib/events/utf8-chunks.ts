/**
 * Whether a stream of byte chunks is valid UTF-8, a character split across
 * chunks allowed, and where the first bad byte is. StringDecoder turns bad
 * bytes into U+FFFD without a word: a get would yield an event the server
 * never stored (shoebox serve refuses a body that is not UTF-8; the shipper
 * refuses such lines too, ndjson/utf8-line-check.ts).
 *
 * A chunk costs one isUtf8() (simdutf); only a chunk that fails it is
 * looked at closer: one that ends inside a character, or continues one, is
 * checked as isUtf8() of its whole characters plus a few bytes by hand; the
 * byte-by-byte walk runs only to find where bad bytes are.
 */
import { isUtf8 } from 'node:buffer'

/** check(): the bad sequence began in an earlier chunk (the unfinished character it left). */
export const BEFORE_CHUNK = -2

export class Utf8Chunks {
  /** The bytes of a character the last chunk left unfinished (at most 3). */
  #carry: Buffer = Buffer.alloc(0)

  /** The bytes of a character the last chunk checked left unfinished (empty when none). */
  get carried (): Buffer {
    return this.#carry
  }

  /** -1 when the chunk is valid so far, else the offset of its first bad byte, or BEFORE_CHUNK. */
  check (chunk: Buffer): number {
    if (this.#carry.length === 0 && isUtf8(chunk)) return -1
    let from = 0
    if (this.#carry.length > 0) {
      const joined = Buffer.concat([this.#carry, chunk.subarray(0, 3)])
      const end = sequenceEnd(joined, 0, joined.length)
      if (end === BAD) return BEFORE_CHUNK
      if (end === UNFINISHED) {
        this.#carry = joined
        return -1
      }
      from = end - this.#carry.length
      this.#carry = Buffer.alloc(0)
    }
    const whole = wholeEnd(chunk, from)
    if (!isUtf8(chunk.subarray(from, whole))) {
      for (let i = from; i < whole;) {
        const end = sequenceEnd(chunk, i, whole)
        if (end < 0) return i
        i = end
      }
    }
    // Copied: the chunk's memory may be reused once it is handled.
    this.#carry = Buffer.from(chunk.subarray(whole))
    return -1
  }

  /** Whether the stream ended inside a character (its last line is then not UTF-8). */
  unfinished (): boolean {
    return this.#carry.length > 0
  }
}

const BAD = -1
const UNFINISHED = -2

/** The end of the UTF-8 sequence at b[i] (to is where the bytes stop), BAD, or UNFINISHED when it runs past `to`. */
function sequenceEnd (b: Uint8Array, i: number, to: number): number {
  const c = b[i]
  if (c < 0x80) return i + 1
  let n: number
  let lo = 0x80
  let hi = 0xBF
  // The second byte's range excludes overlong forms, surrogates and code points past U+10FFFF.
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3
    if (c === 0xE0) lo = 0xA0
    else if (c === 0xED) hi = 0x9F
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4
    if (c === 0xF0) lo = 0x90
    else if (c === 0xF4) hi = 0x8F
  } else {
    return BAD
  }
  for (let k = 1; k < n; k++) {
    if (i + k >= to) return UNFINISHED
    const d = b[i + k]
    if (d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xBF)) return BAD
  }
  return i + n
}

/** Where the chunk's whole characters end: before a valid start of a character the chunk does not finish. */
function wholeEnd (chunk: Uint8Array, from: number): number {
  for (let i = chunk.length - 1; i >= from && i >= chunk.length - 3; i--) {
    const c = chunk[i]
    if (c < 0x80) break
    if (c >= 0xC0) return sequenceEnd(chunk, i, chunk.length) === UNFINISHED ? i : chunk.length
  }
  return chunk.length
}
