/**
 * The metadata block, common to v1 and v2:
 *
 *   int32 count | n x (int32 keyLength, int32 valueLength) | k1 v1 k2 v2 ...
 *
 * v1 stores count = 4n (the legacy quirk: its reader reads count/2 lengths);
 * v2 stores count = n.
 */
import type { Metadata, RecordInput } from '../record.js'
import { ShoeboxError } from '../errors.js'
import { KeyCache, utf8 } from './text.js'

export type Pairs = ReadonlyArray<readonly [string, string]>

/**
 * Metadata as a flat [k1, v1, k2, v2, ...] list, validated. With `into`, that
 * array is emptied and reused (the encoder's hot path allocates nothing).
 */
export function flattenMetadata (metadata: RecordInput['metadata'], into: string[] = []): string[] {
  const flat = into
  flat.length = 0
  if (metadata == null) return flat
  if (Array.isArray(metadata)) {
    for (const pair of metadata as Pairs) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new ShoeboxError('SHOEBOX_INVALID_RECORD', 'metadata pairs must be [key, value] arrays')
      }
      pushPair(flat, pair[0], pair[1])
    }
    return flat
  }
  if (typeof metadata !== 'object') {
    throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `metadata must be an object, got ${typeof metadata}`)
  }
  const obj = metadata as Metadata
  // for-in with an own-property check visits what Object.keys would, in the same order, without an array.
  for (const key in obj) {
    if (Object.hasOwn(obj, key)) pushPair(flat, key, obj[key])
  }
  return flat
}

function pushPair (flat: string[], key: unknown, value: unknown): void {
  if (typeof key !== 'string') {
    throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `metadata key must be a string, got ${typeof key}`)
  }
  if (typeof value !== 'string') {
    throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `metadata value of "${key}" must be a string, got ${typeof value}`)
  }
  flat.push(key, value)
}

/** Upper bound of the block's size in bytes (UTF-8 is at most 3 bytes per UTF-16 unit). */
export function metadataBound (flat: string[]): number {
  let n = 4 + 4 * flat.length
  for (let i = 0; i < flat.length; i++) n += flat[i].length * 3
  return n
}

/** Little-endian uint32 store without Buffer.writeUInt32LE's range checks (hot path; values are known to fit). */
export function putUint32 (buf: Buffer, at: number, value: number): void {
  buf[at] = value
  buf[at + 1] = value >>> 8
  buf[at + 2] = value >>> 16
  buf[at + 3] = value >>> 24
}

/**
 * Write a string as UTF-8 at `at`; returns its byte length. Short ASCII
 * strings (most metadata) are copied in JS: Buffer#write costs a native call
 * whose fixed overhead dominates a dozen bytes.
 */
function writeString (buf: Buffer, at: number, s: string): number {
  const n = s.length
  if (n <= 64) {
    let i = 0
    for (; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) break
      buf[at + i] = c
    }
    if (i === n) return n
  }
  return buf.write(s, at)
}

/** Write the block at `at`; returns its end offset. */
export function writeMetadata (buf: Buffer, at: number, flat: string[], countMultiplier: number): number {
  const table = at + 4
  let pos = table + 4 * flat.length
  for (let i = 0; i < flat.length; i++) {
    const len = writeString(buf, pos, flat[i])
    putUint32(buf, table + 4 * i, len)
    pos += len
  }
  putUint32(buf, at, (flat.length / 2) * countMultiplier)
  return pos
}

/** Little-endian int32 read without Buffer's range checks (the caller has checked the bounds). */
function int32 (buf: Buffer, at: number): number {
  return buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)
}

/**
 * Parse a block occupying [start, end). v1 reads count/2 lengths (legacy);
 * v2 reads 2 * count. With `exact`, bytes after the strings are an error (the
 * legacy reader ignores them). Returns undefined when the block is malformed.
 */
export function readMetadata (
  buf: Buffer, start: number, end: number, version: 1 | 2, exact: boolean, keys?: KeyCache
): Metadata | undefined {
  if (end - start < 4) return undefined
  const count = int32(buf, start)
  if (count < 0) return undefined
  const lengths = version === 1 ? Math.floor(count / 2) : count * 2
  if (lengths % 2 !== 0) return undefined
  const table = start + 4
  let pos = table + 4 * lengths
  if (pos > end) return undefined
  const metadata: Metadata = {}
  for (let i = 0; i < lengths; i += 2) {
    const klen = int32(buf, table + 4 * i)
    const vlen = int32(buf, table + 4 * i + 4)
    if (klen < 0 || vlen < 0 || pos + klen + vlen > end) return undefined
    const key = keys !== undefined ? keys.key(i, buf, pos, pos + klen) : utf8(buf, pos, pos + klen)
    pos += klen
    const value = utf8(buf, pos, pos + vlen)
    // Assigning to "__proto__" would set the prototype (and drop a string): define it as an own key.
    if (key === '__proto__') Object.defineProperty(metadata, key, { value, enumerable: true, writable: true, configurable: true })
    else metadata[key] = value
    pos += vlen
  }
  if (exact && pos !== end) return undefined
  return metadata
}
