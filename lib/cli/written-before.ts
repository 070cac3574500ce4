/**
 * What a strict `read` or `decode` kept when damage stopped it, said on its
 * one error line (every error says what was kept): the records written before
 * the damage, and, when files came before the damaged one, how many of them
 * were read whole and how many records of the damaged one were written. Both
 * commands read their files in order and stop at the first damage, so the
 * files before it are exactly those read whole.
 */
import { CorruptArchiveError, reworded } from '../errors.js'
import { plural } from '../plural.js'

export interface WrittenBefore {
  /** Records written to stdout, all files together. */
  records: number
  /** Files read to their end before the damaged one. */
  filesWhole: number
  /** Of `records`, those of the damaged file. */
  recordsOfThisFile: number
}

/** `failure`, when it is damage, with what was written before it added to its message; any other failure as it is. */
export function withWrittenBefore (failure: unknown, written: WrittenBefore): unknown {
  if (!(failure instanceof CorruptArchiveError)) return failure
  const { records, filesWhole, recordsOfThisFile } = written
  const files = filesWhole === 0
    ? ''
    : ` (${plural(filesWhole, 'file')} before this one read whole, then ${plural(recordsOfThisFile, 'record')} of this one)`
  return reworded(failure, `${failure.message}; ${plural(records, 'record')} ${records === 1 ? 'was' : 'were'} written before it${files}`)
}
