/**
 * Bytes that must be UTF-8 (metadata files, JSON arrays, history CSVs), checked before
 * they are decoded: a decoder turns each bad byte into U+FFFD without a
 * word, and the value would be stored changed (a Latin-1 'café' as
 * 'caf\uFFFD'). The checks are native (isUtf8); only a failure is looked at
 * byte by byte, to name where.
 */
import { isUtf8 } from 'node:buffer'

/** The offset of the first byte of `bytes` (not valid UTF-8) that does not decode. */
export function firstBadUtf8Byte (bytes: Buffer): number {
  // Up to its first U+FFFD the text decodes exactly, so the bytes of that prefix are the offset;
  // a U+FFFD that is really in the bytes (EF BF BD) is passed over.
  const text = bytes.toString()
  let offset = 0
  let from = 0
  for (let at = text.indexOf('\uFFFD'); at !== -1; at = text.indexOf('\uFFFD', at + 1)) {
    offset += Buffer.byteLength(text.slice(from, at))
    if (!(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) return offset
    offset += 3
    from = at + 1
  }
  return offset
}

/**
 * Chunks of a stream checked as they come: a character split between two
 * chunks is checked whole. check() returns -1, or the offset in the stream
 * of the first byte that is not UTF-8; end() the same for a stream that
 * ends inside a character.
 */
export class Utf8StreamCheck {
  /** The bytes of a character the last chunk began. */
  #carry: Buffer = Buffer.alloc(0)
  /** The stream offset of #carry's first byte. */
  #offset = 0

  check (chunk: Buffer): number {
    const bytes = this.#carry.length > 0 ? Buffer.concat([this.#carry, chunk]) : chunk
    const cut = wholeCharactersEnd(bytes)
    const whole = bytes.subarray(0, cut)
    if (!isUtf8(whole)) return this.#offset + firstBadUtf8Byte(whole)
    this.#carry = Buffer.from(bytes.subarray(cut))
    this.#offset += cut
    return -1
  }

  end (): number {
    return this.#carry.length > 0 ? this.#offset : -1
  }
}

/** Where the last character of `bytes` begins when it is cut short (its lead byte wants more), else the length. */
function wholeCharactersEnd (bytes: Buffer): number {
  for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 4); i--) {
    const b = bytes[i]
    if ((b & 0xc0) === 0x80) continue // a continuation byte: the lead is further back
    const wants = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
    return bytes.length - i < wants ? i : bytes.length
  }
  return bytes.length
}
