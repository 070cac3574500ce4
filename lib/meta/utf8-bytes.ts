/**
 * Bytes that must be UTF-8 (metadata files, JSON arrays, history CSVs), checked before
 * they are decoded: a decoder turns each bad byte into U+FFFD without a
 * word, and the value would be stored changed (a Latin-1 'café' as
 * 'caf\uFFFD'). The checks are native (isUtf8); only a failure is looked at
 * byte by byte, to name where (events/utf8-chunks.ts decides, for a whole
 * file as for a stream).
 */
import { BEFORE_CHUNK, Utf8Chunks } from '../events/utf8-chunks.js'

/** The offset of the first byte of `bytes` (not valid UTF-8) that does not decode: the stream check, over one chunk. */
export function firstBadUtf8Byte (bytes: Buffer): number {
  const check = new Utf8StreamCheck()
  const bad = check.check(bytes)
  return bad === -1 ? check.end() : bad
}

/**
 * Chunks of a stream checked as they come: a character split between two
 * chunks is checked whole (events/utf8-chunks.ts, which this counts stream
 * offsets over). check() returns -1, or the offset in the stream of the
 * first byte that is not UTF-8; end() the same for a stream that ends
 * inside a character.
 */
export class Utf8StreamCheck {
  readonly #chunks = new Utf8Chunks()
  /** Bytes checked so far. */
  #offset = 0

  check (chunk: Buffer): number {
    const bad = this.#chunks.check(chunk)
    // A sequence begun in an earlier chunk: it starts with the bytes carried from there.
    if (bad === BEFORE_CHUNK) return this.#offset - this.#chunks.carried.length
    if (bad !== -1) return this.#offset + bad
    this.#offset += chunk.length
    return -1
  }

  end (): number {
    return this.#chunks.unfinished() ? this.#offset - this.#chunks.carried.length : -1
  }
}
