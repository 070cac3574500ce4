/**
 * UTF-8 decoding for metadata strings. They are short, and most keys repeat
 * from record to record, so keys go through a KeyCache: comparing a dozen
 * bytes in JS is cheaper than a native decode call (~100 ns of fixed cost).
 */

type Slicer = (this: Buffer, start: number, end: number) => string

// Buffer#utf8Slice skips toString()'s argument checking; fall back if absent.
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: Slicer }).utf8Slice

export function utf8 (buf: Buffer, start: number, end: number): string {
  if (start === end) return ''
  return utf8Slice !== undefined ? utf8Slice.call(buf, start, end) : buf.toString('utf8', start, end)
}

const MAX_CACHED = 64

/** Remembers the string decoded at each key position of the previous record. */
export class KeyCache {
  #bytes: Buffer[] = []
  #strings: string[] = []

  key (index: number, buf: Buffer, start: number, end: number): string {
    const n = end - start
    const cached = this.#bytes[index]
    if (cached !== undefined && cached.length === n) {
      let i = 0
      while (i < n && cached[i] === buf[start + i]) i++
      if (i === n) return this.#strings[index]
    }
    const s = utf8(buf, start, end)
    if (n <= MAX_CACHED && index < MAX_CACHED) {
      this.#bytes[index] = Buffer.from(buf.subarray(start, end))
      this.#strings[index] = s
    }
    return s
  }
}
