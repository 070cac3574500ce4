/**
 * Walk the record headers of encoded archive bytes without decoding them:
 * where each whole record of a buffer ends. Used where bytes arrive already
 * encoded (the rolling sink accepts encode()'s output) and must be cut only
 * at record boundaries.
 */
import { ShoeboxError } from '../errors.js'
import { MAGIC, V1_HEADER_SIZE, V2_HEADER_SIZE, V2_TRAILER_SIZE } from './constants.js'

/** End offset of each record in `buf`, which must hold whole records only. */
export function recordEnds (buf: Buffer): number[] {
  const ends: number[] = []
  let at = 0
  while (at < buf.length) {
    if (buf.length - at < 6 || buf.readUInt32LE(at) !== MAGIC) break
    const version = buf.readUInt16LE(at + 4)
    let size = -1
    if (version === 1 && buf.length - at >= V1_HEADER_SIZE) {
      size = V1_HEADER_SIZE + buf.readInt32LE(at + 6) + buf.readInt32LE(at + 10)
    } else if (version === 2 && buf.length - at >= V2_HEADER_SIZE) {
      size = V2_HEADER_SIZE + buf.readUInt16LE(at + 16) + buf.readUInt32LE(at + 8) + buf.readUInt32LE(at + 12) + V2_TRAILER_SIZE
    }
    if (size < V1_HEADER_SIZE || at + size > buf.length) break
    at += size
    ends.push(at)
  }
  if (at !== buf.length) {
    throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `bytes from offset ${at} of a ${buf.length}-byte chunk are not a whole encoded record`)
  }
  return ends
}
