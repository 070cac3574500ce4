/**
 * Metadata strings and UTF-8. Decoding: they are short, and most keys repeat
 * from record to record, so keys go through a KeyCache: comparing a dozen
 * bytes in JS is cheaper than a native decode call (~100 ns of fixed cost).
 * Encoding: a string UTF-8 cannot hold (a lone surrogate, below) is refused,
 * in the same words wherever it is met.
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

/*
 * A lone surrogate: a UTF-16 unit of a JS string that is half of a pair
 * without its other half ('\ud800'). UTF-8 cannot hold it: written, it
 * becomes U+FFFD, and the text read back is not the text given. Every
 * entry point that takes metadata or text payloads (encode(), encodeNdjson()'s
 * metadata and its fields) refuses such a string with these words, rather
 * than change it silently.
 */

declare global {
  interface String {
    /** ES2024 (Node 20 has it): false when the string holds a lone surrogate. For a one-byte string, true at once. */
    isWellFormed: () => boolean
  }
}

/** A surrogate not part of a pair: in a /u pattern, a pair is one code point and does not match. */
const LONE_SURROGATE = /\p{Cs}/u

/** Where `text`'s first lone surrogate is, or -1 when it has none. */
export function loneSurrogateAt (text: string): number {
  if (text.isWellFormed()) return -1
  return LONE_SURROGATE.exec(text)?.index ?? -1
}

/**
 * What is wrong with `text`, which has a lone surrogate, for an error
 * message: the unit as a \u escape (the message itself must stay UTF-8
 * text) and where it is.
 */
export function loneSurrogateReason (text: string): string {
  const at = loneSurrogateAt(text)
  const unit = text.charCodeAt(at).toString(16)
  return `a lone surrogate (\\u${unit} at character ${at}), which UTF-8 cannot hold (it would be written as U+FFFD)`
}

/** The name of a metadata string as messages give it: `key "k"`, or `value of "k"`, quoted as JSON (a lone surrogate as its escape). */
export function metadataStringName (key: string, isValue: boolean): string {
  return `metadata ${isValue ? 'value of' : 'key'} ${JSON.stringify(key)}`
}
