/**
 * The metadata block, common to v1 and v2:
 *
 *   int32 count | n x (int32 keyLength, int32 valueLength) | k1 v1 k2 v2 ...
 *
 * v1 stores count = 4n (the legacy quirk: its reader reads count/2 lengths);
 * v2 stores count = n.
 *
 * This module is the one place that knows that layout: the encoder and the
 * readers (v1.ts, v2.ts) measure, write and read blocks only through it.
 */
import type { Metadata, RawMetadata, RecordInput } from '../record.js'
import { ShoeboxError } from '../errors.js'
import { setOwnKey } from '../json/own-key.js'
import { KeyCache, loneSurrogateReason, metadataStringName, utf8 } from './text.js'

export type Pairs = ReadonlyArray<readonly [MetadataString, MetadataString]>

/**
 * A key or value as an encoder takes it in [key, value] pairs: text (written
 * as UTF-8), or bytes written as they are. Bytes are how metadata that is not
 * UTF-8 (legacy shoebox allowed any bytes) is written back unchanged: see
 * decode()'s `rawMetadata`.
 */
export type MetadataString = string | Uint8Array

const hasOwnProperty = Object.prototype.hasOwnProperty

/**
 * Metadata as a flat [k1, v1, k2, v2, ...] list of text, validated (for
 * options such as encodeNdjson()'s `metadata`, which take text only: bytes
 * there are refused). With `into`, that array is emptied and reused.
 */
export function flattenMetadata (metadata: RecordInput['metadata'], into: string[] = []): string[] {
  const flat: MetadataString[] = into
  flat.length = flattenInto(metadata, flat)
  for (let i = 0; i < flat.length; i++) {
    if (typeof flat[i] !== 'string') badPair(flat[i - (i % 2)], i % 2 === 1 ? flat[i] : '')
  }
  return into
}

/**
 * Metadata flattened and validated into flat[0 .. n), returning n: the
 * encoder's path for metadata given as [key, value] pairs (an object goes
 * through measureMetadata instead). Entries past n are stale and the array's
 * length is left alone: truncating it (length = 0) makes V8 drop its backing
 * store, so the next record's pushes would allocate a new one.
 */
export function flattenInto (metadata: RecordInput['metadata'], flat: MetadataString[]): number {
  if (metadata == null) return 0
  let n = 0
  // A Map's entries are [key, value] pairs too, in insertion order.
  if (Array.isArray(metadata) || metadata instanceof Map) {
    for (const pair of metadata as Pairs) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new ShoeboxError('SHOEBOX_INVALID_RECORD', 'metadata pairs must be [key, value] arrays')
      }
      const key: unknown = pair[0]
      const value: unknown = pair[1]
      if (!isMetadataString(key) || !isMetadataString(value)) badPair(key, value)
      flat[n++] = key
      flat[n++] = value
    }
    return n
  }
  if (typeof metadata !== 'object') {
    throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `metadata must be an object, got ${typeof metadata}`)
  }
  const obj = metadata as Metadata
  // for-in with an own-property check visits what Object.keys would, in the same order, without an array.
  // hasOwnProperty.call, not Object.hasOwn: V8 turns this for-in pattern into a check of the object's map
  // (about 40% less time for this loop, measured), where Object.hasOwn stays a call per key.
  for (const key in obj) {
    if (!hasOwnProperty.call(obj, key)) continue
    const value: unknown = obj[key]
    if (typeof value !== 'string') badPair(key, value)
    flat[n++] = key
    flat[n++] = value
  }
  return n
}

/** Text, or (in [key, value] pairs) bytes: a Buffer or other Uint8Array. */
function isMetadataString (s: unknown): s is MetadataString {
  return typeof s === 'string' || s instanceof Uint8Array
}

function badPair (key: unknown, value: unknown): never {
  if (typeof key !== 'string') {
    const given = key instanceof Uint8Array ? 'bytes (which only [key, value] pairs given to an encoder take)' : typeof key
    throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `metadata key must be a string, got ${given}`)
  }
  const given = value instanceof Uint8Array ? 'bytes (which only [key, value] pairs given to an encoder take)' : typeof value
  throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `metadata value of "${key}" must be a string, got ${given}`)
}

/** What measureMetadata finds out about a metadata object. Reused: plain numbers, no per-record garbage. */
export interface MetadataSize {
  pairs: number
  /** Characters (UTF-16 units) in all keys and values. */
  chars: number
  /** Upper bound of the block's size in bytes. */
  bound: number
}

/**
 * The encoder's path for metadata given as an object (the usual form):
 * validate it, count its pairs and bound its block's size, so that
 * writeObjectMetadata can then write the block straight from the object.
 * Two passes over the object and nothing stored per record, rather than
 * flattening each record's strings into an array first and going over that:
 * measured 7-10% faster overall (medians of interleaved runs).
 */
export function measureMetadata (metadata: Metadata, size: MetadataSize): void {
  let pairs = 0
  let chars = 0
  for (const key in metadata) {
    if (!hasOwnProperty.call(metadata, key)) continue
    const value: unknown = metadata[key]
    if (typeof value !== 'string') badPair(key, value)
    pairs++
    chars += key.length + value.length
  }
  size.pairs = pairs
  size.chars = chars
  size.bound = 4 + 8 * pairs + 3 * chars // UTF-8 is at most 3 bytes per UTF-16 unit
}

/** Measure metadata given as flat[0 .. count) into `size`, as measureMetadata does for an object. */
export function measureFlat (flat: readonly MetadataString[], count: number, size: MetadataSize): MetadataSize {
  let chars = 0
  for (let i = 0; i < count; i++) chars += flat[i].length
  size.pairs = count / 2
  size.chars = chars
  size.bound = 4 + 4 * count + 3 * chars // UTF-8 is at most 3 bytes per UTF-16 unit
  return size
}

/**
 * The exact size in bytes of the block of a measured metadata object, or,
 * when `metadata` is null, of flat[0 .. 2 * size.pairs). Costs a UTF-8 count
 * per string: for when the bound is not enough (a record near maxRecordSize).
 */
export function metadataBytes (metadata: Metadata | null, flat: readonly MetadataString[], size: MetadataSize): number {
  let bytes = 4 + 8 * size.pairs
  if (metadata !== null) {
    for (const key in metadata) {
      if (hasOwnProperty.call(metadata, key)) bytes += Buffer.byteLength(key) + Buffer.byteLength(metadata[key])
    }
  } else {
    for (let i = 0; i < 2 * size.pairs; i++) bytes += stringBytes(flat[i])
  }
  return bytes
}

/** The bytes a key or value takes in a block. */
function stringBytes (s: MetadataString): number {
  return typeof s === 'string' ? Buffer.byteLength(s) : s.byteLength
}

/** Where the strings of a block at `at` with `pairs` pairs start (after the count and the length table). */
function metadataStringsAt (at: number, pairs: number): number {
  return at + 4 + 8 * pairs
}

/** The count field: n pairs, stored as 4n by v1 (see the top of this module). */
function putCount (buf: Buffer, at: number, pairs: number, version: 1 | 2): void {
  putUint32(buf, at, version === 1 ? 4 * pairs : pairs)
}

/**
 * Write the block of a metadata object measured by measureMetadata at `at`;
 * returns its end offset. Throws if the object no longer matches what was
 * measured (a getter that answers differently the second time), rather than
 * write past the room reserved for it.
 *
 * A record's metadata is typically a hundred-odd characters in a few short
 * strings, written one at a time by writeString: nothing is allocated on the
 * JS heap per record. Joining a record's strings for one native write (as
 * the encoder once did, then a slab's strings at once with a native copy
 * into place) cost about the same in all but left ~370 bytes of young
 * garbage per record, which grew V8's young generation in a program holding
 * many records (bench/RESULTS.md, Dec 6, "the encoder's per-record garbage").
 */
export function writeObjectMetadata (
  buf: Buffer, at: number, metadata: Metadata, size: MetadataSize, version: 1 | 2
): number {
  putCount(buf, at, size.pairs, version)
  return writeObjectStrings(buf, at + 4, metadata, size.pairs, at + size.bound)
}

/**
 * The strings of a measured metadata object one at a time from
 * table + 8 * pairs, their lengths into the table; returns the end. Checks
 * the object against the measure as writeObjectMetadata does.
 */
function writeObjectStrings (buf: Buffer, table: number, metadata: Metadata, pairs: number, limit: number): number {
  let pos = table + 8 * pairs
  let i = 0
  for (const key in metadata) {
    if (!hasOwnProperty.call(metadata, key)) continue
    const value: unknown = metadata[key]
    if (typeof value !== 'string' || i === pairs || pos + 3 * (key.length + value.length) > limit) throw metadataChanged()
    const keyLength = writeString(buf, pos, key)
    if (keyLength < 0) throw notUtf8(key, key, false)
    putUint32(buf, table + 8 * i, keyLength)
    pos += keyLength
    const valueLength = writeString(buf, pos, value)
    if (valueLength < 0) throw notUtf8(value, key, true)
    putUint32(buf, table + 8 * i + 4, valueLength)
    pos += valueLength
    i++
  }
  if (i !== pairs) throw metadataChanged()
  return pos
}

function metadataChanged (): ShoeboxError {
  return new ShoeboxError('SHOEBOX_INVALID_RECORD', 'metadata changed while the record was being encoded')
}

/** Little-endian uint32 store without Buffer.writeUInt32LE's range checks (hot path; values are known to fit). */
export function putUint32 (buf: Buffer, at: number, value: number): void {
  buf[at] = value
  buf[at + 1] = value >>> 8
  buf[at + 2] = value >>> 16
  buf[at + 3] = value >>> 24
}

/**
 * Write a string as UTF-8 at `at`; returns its byte length, or -1 when it
 * has a lone surrogate (see text.ts: written as U+FFFD, which the
 * caller refuses). Short ASCII strings are copied in JS, a unit at a time,
 * allocating nothing: Buffer#write costs a native call (~80 ns here) whose
 * fixed cost is more than copying a few dozen characters. Longer strings,
 * and any with a unit past ASCII, go to Buffer#write, from the start.
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
  const written = buf.write(s, at)
  // As many bytes as units: all ASCII, nothing to look for. Otherwise it may hold a lone surrogate.
  return written === n || s.isWellFormed() ? written : -1
}

/** A metadata string with a lone surrogate (`key`'s key itself, or its value), refused. */
function notUtf8 (s: string, key: MetadataString, isValue: boolean): ShoeboxError {
  const name = typeof key === 'string' ? metadataStringName(key, isValue) : `metadata value of the key given as bytes ${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex')}`
  return new ShoeboxError('SHOEBOX_INVALID_RECORD', `${name} has ${loneSurrogateReason(s)}`)
}

/** Write a key or value given as bytes at `at`, as they are; returns its length. */
function writeBytes (buf: Buffer, at: number, bytes: Uint8Array): number {
  buf.set(bytes, at)
  return bytes.byteLength
}

/**
 * Write the block of flat[0 .. count) at `at`; returns its end offset (for
 * metadata given as [key, value] pairs, and for writeRange). String by
 * string, each with its own UTF-8 length in the table, as
 * writeObjectMetadata does.
 */
export function writeMetadata (buf: Buffer, at: number, flat: readonly MetadataString[], version: 1 | 2, count = flat.length): number {
  putCount(buf, at, count / 2, version)
  let pos = metadataStringsAt(at, count / 2)
  for (let i = 0; i < count; i++) {
    const s = flat[i]
    const len = typeof s === 'string' ? writeString(buf, pos, s) : writeBytes(buf, pos, s)
    if (len < 0) throw notUtf8(s as string, flat[i - (i % 2)], i % 2 === 1)
    putUint32(buf, at + 4 + 4 * i, len)
    pos += len
  }
  return pos
}

/** Little-endian int32 read without Buffer's range checks (the caller has checked the bounds). */
function int32 (buf: Buffer, at: number): number {
  return buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)
}

/** Little-endian uint32 read without Buffer's range checks (the caller has checked the bounds). */
export function uint32At (buf: Buffer, at: number): number {
  return int32(buf, at) >>> 0
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
    setOwnKey(metadata, key, value)
    pos += vlen
  }
  if (exact && pos !== end) return undefined
  return metadata
}

/**
 * The pairs of a block occupying [start, end) that readMetadata has read,
 * exactly as stored: in their order, a key held twice twice, each key and
 * value its bytes (views of `buf`, not copies). What decode()'s
 * `rawMetadata` gives: the metadata object cannot hold bytes that are not
 * UTF-8 (they read as U+FFFD), nor a key's earlier values, nor the order of
 * array-index keys (JavaScript lists those first).
 */
export function readRawMetadata (buf: Buffer, start: number, version: 1 | 2): RawMetadata {
  const count = int32(buf, start)
  const pairs = (version === 1 ? Math.floor(count / 2) : count * 2) / 2
  const table = start + 4
  let pos = table + 8 * pairs
  const raw: RawMetadata = new Array<[Buffer, Buffer]>(pairs)
  for (let i = 0; i < pairs; i++) {
    const keyEnd = pos + int32(buf, table + 8 * i)
    const valueEnd = keyEnd + int32(buf, table + 8 * i + 4)
    raw[i] = [buf.subarray(pos, keyEnd), buf.subarray(keyEnd, valueEnd)]
    pos = valueEnd
  }
  return raw
}
