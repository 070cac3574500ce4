/**
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
