/**
 * Version 1: the legacy StackTach shoebox record, byte for byte.
 *
 *   int32 magic | int16 1 | int32 M | int32 P | int32 0 ("EOR") | metadata (M) | payload block (P)
 *   payload block = int32 L | L bytes
 *
 * Little-endian, signed; the metadata count field holds 4n (see metadata-block.ts).
 */
import { ShoeboxError } from '../errors.js'
import { V1_HEADER_SIZE } from './constants.js'
import { readMetadata } from './metadata-block.js'
import type { KeyCache } from './text.js'
import { damage, need, type ReadResult } from './result.js'

const INT32_MAX = 0x7fffffff

/** Where a v1 record's metadata block starts, relative to the record. */
export const V1_METADATA_OFFSET = V1_HEADER_SIZE

/** A v1 payload block starts with the payload's int32 length: the payload itself starts here. */
export function v1PayloadStart (metaEnd: number): number {
  return metaEnd + 4
}

/**
 * Complete a v1 record at `at` whose metadata block (from
 * at + V1_METADATA_OFFSET to metaEnd) and payload (from v1PayloadStart(metaEnd)
 * to payloadEnd) are written: the header and the payload length. Returns the
 * record's end offset.
 */
export function finishV1 (buf: Buffer, at: number, metaEnd: number, payloadEnd: number): number {
  const M = metaEnd - (at + V1_METADATA_OFFSET)
  const payloadLength = payloadEnd - v1PayloadStart(metaEnd)
  const P = 4 + payloadLength
  if (M > INT32_MAX || P > INT32_MAX) {
    throw new ShoeboxError('SHOEBOX_INVALID_RECORD', 'record too large for format v1 (blocks must be < 2 GiB)')
  }
  buf.writeUInt32LE(0x69867884, at)
  buf.writeUInt16LE(1, at + 4)
  buf.writeInt32LE(M, at + 6)
  buf.writeInt32LE(P, at + 10)
  buf.writeInt32LE(0, at + 14)
  buf.writeInt32LE(payloadLength, metaEnd)
  return payloadEnd
}

/**
 * Read a v1 record whose preamble (magic, version 1) starts at `at`; bytes
 * up to `end` are available. `exact` rejects slack bytes that the legacy
 * reader tolerates (used when resynchronising, where plausibility matters).
 */
export function readV1 (buf: Buffer, at: number, end: number, maxSize: number, exact: boolean, keys?: KeyCache): ReadResult {
  if (end - at < V1_HEADER_SIZE) return need(V1_HEADER_SIZE)
  const M = buf.readInt32LE(at + 6)
  const P = buf.readInt32LE(at + 10)
  if (buf.readInt32LE(at + 14) !== 0) return damage('bad-header', 'end-of-record marker is not 0')
  if (M < 4) return damage('bad-header', `metadata length ${M} is below 4`)
  if (P < 4) return damage('bad-header', `payload length ${P} is below 4`)
  const size = V1_HEADER_SIZE + M + P
  if (size > maxSize) return damage('record-too-large', `record of ${size} bytes exceeds maxRecordSize ${maxSize}`)
  if (end - at < size) return need(size)
  const metaStart = at + V1_HEADER_SIZE
  const payloadBlock = metaStart + M
  const metadata = readMetadata(buf, metaStart, payloadBlock, 1, exact, keys)
  if (metadata === undefined) return damage('bad-record', 'metadata block is malformed')
  const L = buf.readInt32LE(payloadBlock)
  if (L < 0 || 4 + L > P || (exact && 4 + L !== P)) return damage('bad-record', `payload length ${L} does not fit its block of ${P}`)
  const payload = buf.subarray(payloadBlock + 4, payloadBlock + 4 + L)
  return { kind: 'record', record: { metadata, payload }, version: 1, size }
}
