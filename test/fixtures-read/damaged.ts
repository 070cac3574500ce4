/** Archives with one byte damaged inside a known record, for the read-path failure tests. */
import { ArchiveDecoder, CorruptArchiveError, encodeRecords, type ShoeboxErrorCode } from '../../lib/index.js'
import { recordEnds } from '../../lib/format/walk.js'

export interface DamagedArchive {
  bytes: Buffer
  /** Index of the damaged record: strict readers deliver exactly the records before it. */
  index: number
  /** Byte offset where that record starts: the offset the damage error names. */
  offset: number
  /** The error code strict decoding fails with. */
  code: ShoeboxErrorCode
}

/** `payloads` as an archive with the byte at `at` inverted. */
export function damagedArchive (payloads: string[], at: number): DamagedArchive {
  const bytes = encodeRecords(payloads.map((payload) => ({ payload })))
  const ends = recordEnds(bytes)
  const index = ends.findIndex((end) => end > at)
  if (index < 0) throw new Error(`byte ${at} is past the archive's ${bytes.length} bytes`)
  const offset = index === 0 ? 0 : ends[index - 1]
  bytes[at] ^= 0xff
  let code: ShoeboxErrorCode | undefined
  try {
    new ArchiveDecoder({ record () {}, corrupt () {} }, { mode: 'strict' }).write(bytes)
  } catch (err) {
    if (!(err instanceof CorruptArchiveError) || err.offset !== offset) throw err
    code = err.code
  }
  if (code === undefined) throw new Error(`damage at byte ${at} went unnoticed`)
  return { bytes, index, offset, code }
}
