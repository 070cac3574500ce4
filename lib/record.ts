/** The record: what every shoebox stage reads and writes. */

/** String keys to string values. Key order is kept as written. */
export type Metadata = Record<string, string>

/**
 * Where a record's gzip member is, so an index can fetch the record with one
 * ranged read: read the compressed file from `offset`, gunzip that one
 * member, and the record starts `skip` bytes into its output.
 */
export interface MemberPosition {
  /** Byte offset of the member's header in the compressed file. */
  offset: number
  /** Decompressed bytes of that member before the record's first byte. */
  skip: number
}

/** Finds the gzip member holding a decompressed offset (gunzipMembers()'s `members`; decode() reads it). */
export interface MemberLookup {
  at (offset: number): MemberPosition | undefined
}

/**
 * A member (gzip) or frame (zstd) whole: what a damage report names, so that
 * the damaged stretches a reader finds in one zstd frame can be told as one.
 */
export interface MemberSpan {
  /** Compressed offset of its first byte in the file. */
  offset: number
  /** Its compressed length, when known as it is added (a zstd frame walked whole); undefined for a gzip member or a salvaged zstd frame. */
  length: number | undefined
  /** Decompressed offset of its first content byte. */
  start: number
}

/** Finds the member (frame) holding a decompressed offset, whole (decode()'s `frames`). */
export interface SpanLookup {
  span (offset: number): MemberSpan | undefined
}

/**
 * Where a record sits: its file and the byte offset of its first byte (in the
 * decompressed stream for .gz). In a gzip file read with gunzipMembers(),
 * also the gzip member it starts in (a record spanning two members, possible
 * in gzip files not written by shoebox, names the first).
 */
export interface Position {
  file: string
  offset: number
  member?: MemberPosition
}

/**
 * A record's metadata exactly as its archive holds it (decode()'s and
 * archiveSource()'s `rawMetadata: true`): [key, value] pairs of bytes, in
 * their order on disk, a key held twice listed twice. Encoders take it back
 * as it is, so it rewrites the block byte for byte; the `metadata` object
 * cannot always (see the README's "Records").
 */
export type RawMetadata = Array<[Buffer, Buffer]>

/** A record as decoders hand it out. */
export interface ShoeboxRecord {
  metadata: Metadata
  payload: Buffer
  /** Present when the reader was asked for rawMetadata: the metadata block's pairs as bytes, as stored. */
  rawMetadata?: RawMetadata
  /** Present when the reader was asked for positions. */
  position?: Position
}

/**
 * What encoders accept. Metadata may also be a list of [key, value] pairs
 * or a Map, which keep an exact on-disk order even for integer-like keys (a
 * plain object lists those first) and may name a key more than once; in
 * pairs a key or value may be bytes (a Buffer or other Uint8Array), written
 * as they are, so a decoded record's `rawMetadata` is written back
 * unchanged. The payload may be a Buffer (written as is), any other
 * ArrayBuffer view or an ArrayBuffer (their bytes), a string (UTF-8) or any
 * JSON-serialisable value.
 */
export interface RecordInput {
  metadata?: Metadata | ReadonlyArray<readonly [string | Uint8Array, string | Uint8Array]> | ReadonlyMap<string, string>
  payload: unknown
}

/** Parse a record's payload as JSON. */
export function payloadJson<T = unknown> (record: ShoeboxRecord): T {
  return JSON.parse(record.payload.toString('utf8')) as T
}

/** A record's payload as UTF-8 text. */
export function payloadText (record: ShoeboxRecord): string {
  return record.payload.toString('utf8')
}
