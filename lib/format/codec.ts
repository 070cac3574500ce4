/**
 * The pure record codec: read one record of any version at an offset, or
 * encode records into batched buffers. No streams here; encode.ts and
 * decode.ts wrap this.
 */
import { MAGIC, PREAMBLE_SIZE } from './constants.js'
import { damage, need, type ReadResult } from './result.js'
import type { KeyCache } from './text.js'
import { readV1 } from './v1.js'
import { readV2 } from './v2.js'

/**
 * Read the record starting at `at`, with bytes [at, end) available.
 * "Need more bytes" is a normal answer, never an exception. `keys` (optional)
 * caches metadata keys that repeat from record to record.
 */
export function readRecord (
  buf: Buffer, at: number, end: number, maxSize: number, exact = false, keys?: KeyCache
): ReadResult {
  if (end - at < PREAMBLE_SIZE) return need(PREAMBLE_SIZE)
  if (buf.readUInt32LE(at) !== MAGIC) return damage('bad-magic', 'expected beginning-of-record marker 84 78 86 69')
  const version = buf.readUInt16LE(at + 4)
  if (version === 2) return readV2(buf, at, end, maxSize, keys)
  if (version === 1) return readV1(buf, at, end, maxSize, exact, keys)
  return damage('unknown-version', `record version ${version} is not 1 or 2`)
}
