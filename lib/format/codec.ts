/**
 * The pure record codec: read one record of any version at an offset, or
 * encode records into batched buffers. No streams here; encode.ts and
 * decode.ts wrap this.
 */
import { BAD_MAGIC_DETAIL, MAGIC, PREAMBLE_SIZE } from './constants.js'
import { damage, need, type ReadResult } from './result.js'
import type { KeyCache } from './text.js'
import { readRawMetadata } from './metadata-block.js'
import type { RawMetadata } from '../record.js'
import { readV1, V1_METADATA_OFFSET } from './v1.js'
import { readV2, v2MetadataStart } from './v2.js'

/**
 * Read the record starting at `at`, with bytes [at, end) available.
 * "Need more bytes" is a normal answer, never an exception. `keys` (optional)
 * caches metadata keys that repeat from record to record.
 */
export function readRecord (
  buf: Buffer, at: number, end: number, maxSize: number, exact = false, keys?: KeyCache
): ReadResult {
  if (end - at < PREAMBLE_SIZE) return need(PREAMBLE_SIZE)
  if (buf.readUInt32LE(at) !== MAGIC) return damage('bad-magic', BAD_MAGIC_DETAIL)
  const version = buf.readUInt16LE(at + 4)
  if (version === 2) return readV2(buf, at, end, maxSize, keys)
  if (version === 1) return readV1(buf, at, end, maxSize, exact, keys)
  return damage('unknown-version', `record version ${version} is not 1 or 2`)
}

/**
 * The metadata of the record at `at`, which readRecord (or readCheckedV2)
 * has just read whole, as its block holds it: [key, value] pairs of bytes
 * (decode()'s `rawMetadata`).
 */
export function rawMetadataAt (buf: Buffer, at: number, version: 1 | 2): RawMetadata {
  return readRawMetadata(buf, version === 1 ? at + V1_METADATA_OFFSET : v2MetadataStart(buf, at), version)
}
