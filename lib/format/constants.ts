/** Facts shared by every version of the record format (docs/FORMAT.md). */
import { sizeOption } from '../units.js'

/** The beginning-of-record magic as a little-endian uint32: bytes 84 78 86 69. */
export const MAGIC = 0x69867884
export const MAGIC_BYTES = Buffer.from([0x84, 0x78, 0x86, 0x69])

/** What a bad magic is said as (readRecord's bad-magic detail). */
export const BAD_MAGIC_DETAIL = 'expected beginning-of-record marker 84 78 86 69'

/** magic (4) + version (2): the same in every version. */
export const PREAMBLE_SIZE = 6

export const V1_HEADER_SIZE = 18
export const V2_HEADER_SIZE = 24
export const V2_TRAILER_SIZE = 4

/** v2 checksum algorithm byte. */
export const CHECKSUM_CRC32 = 1
export const CHECKSUM_CRC32C = 2

/** v2 flags byte: low nibble is the payload content type, high nibble the payload codec. */
export const CONTENT_BYTES = 0
export const CONTENT_JSON = 1
export const CONTENT_TEXT = 2
export const CODEC_NONE = 0

/**
 * The largest record, in bytes, for writers and readers alike (a writer
 * refuses what a reader with the same limit would refuse); for readers, the
 * guard against a corrupt length asking for gigabytes.
 */
export const DEFAULT_MAX_RECORD_SIZE = 64 * 1024 * 1024

/** The smallest maxRecordSize allowed: an empty v1 record (18-byte header, 4-byte metadata count, 4-byte payload length). */
export const MIN_MAX_RECORD_SIZE = 26

/**
 * The maxRecordSize option in bytes: a size as parseSize() takes it (1024,
 * '100MiB'), no smaller than the smallest record, DEFAULT_MAX_RECORD_SIZE
 * when not given; the same rule for writers and readers.
 */
export function maxRecordSizeOption (value: unknown): number {
  return sizeOption(value, DEFAULT_MAX_RECORD_SIZE, 'maxRecordSize', MIN_MAX_RECORD_SIZE)
}
