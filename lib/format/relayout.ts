/**
 * The way back when a slab's deferred metadata strings were not all ASCII
 * (see RecordSealer): v2 records laid out with one byte per character of
 * metadata, their strings not yet written, are written again into a new
 * buffer with each string as UTF-8, the payload copied over and the
 * checksums computed. Rare (metadata is nearly always ASCII) and so kept
 * simple: record by record.
 */
import { checksumRange, type ChecksumAlgorithm } from '../checksum.js'
import { V2_TRAILER_SIZE } from './constants.js'
import { putUint32, splitLaidOut, writeMetadata } from './metadata-block.js'
import { V2_METADATA_OFFSET, writeV2Header } from './v2.js'

/**
 * The records in slab[from, to), laid out by the encoder's deferred path,
 * with `text` (their metadata strings, joined in record order) written in:
 * a new buffer of complete records.
 */
export function relayoutV2 (slab: Buffer, from: number, to: number, text: string, algorithm: ChecksumAlgorithm): Buffer {
  // Each character was given one byte; UTF-8 needs at most three.
  const out = Buffer.allocUnsafe(to - from + 2 * text.length)
  const flat: string[] = []
  let textAt = 0
  let w = 0
  for (let at = from; at < to;) {
    const M = slab.readUInt32LE(at + 8)
    const L = slab.readUInt32LE(at + 12)
    const contentType = slab[at + 7] & 0x0f
    const metaStart = at + V2_METADATA_OFFSET
    textAt = splitLaidOut(slab, metaStart, text, textAt, flat)
    const payloadStart = metaStart + M
    const metaEnd = writeMetadata(out, w + V2_METADATA_OFFSET, flat, 2)
    out.set(slab.subarray(payloadStart, payloadStart + L), metaEnd)
    const payloadEnd = metaEnd + L
    const recordEnd = writeV2Header(out, w, metaEnd, payloadEnd, algorithm, contentType)
    putUint32(out, payloadEnd, checksumRange(algorithm, out, w, payloadEnd))
    w = recordEnd
    at = payloadStart + L + V2_TRAILER_SIZE
  }
  return out.subarray(0, w)
}

