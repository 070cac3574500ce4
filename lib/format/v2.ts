/**
 * Version 2: the checksummed, resynchronisable successor (docs/FORMAT.md).
 *
 *   0  uint32 magic          84 78 86 69
 *   4  uint16 version        2
 *   6  uint8  checksum       1 = CRC32, 2 = CRC32C (record checksum)
 *   7  uint8  flags          low nibble content type, high nibble codec
 *   8  uint32 M              metadata block length
 *  12  uint32 L              payload length
 *  16  uint16 E              extension area length
 *  18  uint16 reserved       0 (readers ignore)
 *  20  uint32 header CRC32   over bytes 0..19
 *  24  E bytes extension area (TLV; readers skip what they do not know)
 *      M bytes metadata block (count = n pairs)
 *      L bytes payload
 *      uint32 record checksum over every byte from the magic to the payload's end
 */
import { checksumRange, crc32Range, crc32Word, type ChecksumAlgorithm } from '../checksum.js'
import {
  CHECKSUM_CRC32, CHECKSUM_CRC32C, CODEC_NONE, MAGIC,
  V2_HEADER_SIZE, V2_TRAILER_SIZE
} from './constants.js'
import { putUint32, readMetadata, uint32At } from './metadata-block.js'
import type { KeyCache } from './text.js'
import { damage, need, type Damage, type NeedMore, type ReadResult } from './result.js'

const algorithmByte: Record<ChecksumAlgorithm, number> = { crc32: CHECKSUM_CRC32, crc32c: CHECKSUM_CRC32C }

/** The header CRC's state after the magic, the same in every record. */
const AFTER_MAGIC = crc32Word(0xffffffff, MAGIC)

/**
 * The header checksum (CRC32 of bytes 0-19) from the field values, a word at
 * a time: what crc32Range over the written bytes gives, without reading them
 * back. The extension length and reserved field (bytes 16-19) are 0.
 */
function headerCrc (versionWord: number, M: number, L: number): number {
  const state = crc32Word(crc32Word(crc32Word(crc32Word(AFTER_MAGIC, versionWord), M), L), 0)
  return (state ^ 0xffffffff) >>> 0
}

/** Bytes 4-7 of a v2 header as a little-endian word: uint16 version 2, uint8 checksum algorithm, uint8 flags. */
export function v2VersionWord (algorithm: ChecksumAlgorithm, contentType: number): number {
  return (2 | (algorithmByte[algorithm] << 16) | ((contentType | (CODEC_NONE << 4)) << 24)) >>> 0
}

/** Where a v2 record's metadata block starts when writing, relative to the record (no extension area). */
export const V2_METADATA_OFFSET = V2_HEADER_SIZE

/**
 * Write the header of a v2 record at `at` whose metadata block (from
 * at + V2_METADATA_OFFSET to metaEnd) and payload (from metaEnd to
 * payloadEnd) are written, with its header checksum. The record checksum
 * over buf[at, payloadEnd) goes at payloadEnd: the caller computes it
 * (see RecordSealer), so that many records can be checksummed in one go.
 * Returns the record's end offset, after the checksum.
 */
export function writeV2Header (
  buf: Buffer, at: number, metaEnd: number, payloadEnd: number, algorithm: ChecksumAlgorithm, contentType: number
): number {
  const M = metaEnd - (at + V2_METADATA_OFFSET)
  const L = payloadEnd - metaEnd
  const versionWord = v2VersionWord(algorithm, contentType)
  putUint32(buf, at, MAGIC) // four stores: Buffer#copy of the magic bytes goes through argument checks
  putUint32(buf, at + 4, versionWord)
  putUint32(buf, at + 8, M)
  putUint32(buf, at + 12, L)
  putUint32(buf, at + 16, 0) // extension length 0, reserved 0
  putUint32(buf, at + 20, headerCrc(versionWord, M, L))
  return payloadEnd + V2_TRAILER_SIZE
}

/**
 * Check the v2 record whose preamble (magic, version 2) starts at `at`
 * without reading its metadata: header checksum, length, record checksum,
 * codec. Its size when it is whole and sound; else the need or the damage.
 * (A reader that wants only some fields, the event store's get, checks
 * here and reads them itself.)
 */
export function checkV2 (buf: Buffer, at: number, end: number, maxSize: number): number | NeedMore | Damage {
  if (end - at < V2_HEADER_SIZE) return need(V2_HEADER_SIZE)
  if (crc32Range(buf, at, at + 20) !== buf.readUInt32LE(at + 20)) {
    return damage('bad-header', 'header checksum does not match')
  }
  const algorithm = buf[at + 6]
  const flags = buf[at + 7]
  const M = buf.readUInt32LE(at + 8)
  const L = buf.readUInt32LE(at + 12)
  const E = buf.readUInt16LE(at + 16)
  const size = V2_HEADER_SIZE + E + M + L + V2_TRAILER_SIZE
  if (size > maxSize) return damage('record-too-large', `record of ${size} bytes exceeds maxRecordSize ${maxSize}`, size)
  if (end - at < size) return need(size, true)
  const payloadEnd = at + size - V2_TRAILER_SIZE
  if (algorithm !== CHECKSUM_CRC32 && algorithm !== CHECKSUM_CRC32C) {
    return damage('unsupported', `unknown checksum algorithm ${algorithm}`, size)
  }
  const sum = checksumRange(algorithm === CHECKSUM_CRC32 ? 'crc32' : 'crc32c', buf, at, payloadEnd)
  if (sum !== buf.readUInt32LE(payloadEnd)) return damage('bad-checksum', 'record checksum does not match', size)
  if (flags >> 4 !== CODEC_NONE) return damage('unsupported', `unknown payload codec ${flags >> 4}`, size)
  return size
}

/** Where the metadata block of the (checked) v2 record at `at` starts: after the header and the extension area. */
export function v2MetadataStart (buf: Buffer, at: number): number {
  return at + V2_HEADER_SIZE + buf.readUInt16LE(at + 16)
}

/** Read a v2 record whose preamble (magic, version 2) starts at `at`; bytes up to `end` are available. */
export function readV2 (buf: Buffer, at: number, end: number, maxSize: number, keys?: KeyCache): ReadResult {
  const size = checkV2(buf, at, end, maxSize)
  if (typeof size !== 'number') return size
  return readCheckedV2(buf, at, keys)
}

/** The size of the v2 record at `at` that checkV2 (or the native checkRun) passed, from its header. */
export function checkedV2Size (buf: Buffer, at: number): number {
  return V2_HEADER_SIZE + (buf[at + 16] | (buf[at + 17] << 8)) + uint32At(buf, at + 8) + uint32At(buf, at + 12) + V2_TRAILER_SIZE
}

/**
 * Read the v2 record at `at` that checkV2 (or the native checkRun) passed,
 * so whole in `buf`: its metadata and payload, and its size.
 */
export function readCheckedV2 (buf: Buffer, at: number, keys?: KeyCache): ReadResult {
  const metaStart = at + V2_HEADER_SIZE + (buf[at + 16] | (buf[at + 17] << 8))
  const metaEnd = metaStart + uint32At(buf, at + 8)
  const payloadEnd = metaEnd + uint32At(buf, at + 12)
  const size = payloadEnd + V2_TRAILER_SIZE - at
  const metadata = readMetadata(buf, metaStart, metaEnd, 2, true, keys)
  if (metadata === undefined) return damage('bad-record', 'metadata block is malformed', size)
  return { kind: 'record', record: { metadata, payload: buf.subarray(metaEnd, payloadEnd) }, version: 2, size }
}
