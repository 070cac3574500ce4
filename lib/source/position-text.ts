/**
 * A record's position as one line of text, for the CLI (`read --from`) and
 * the record index (`meta index` stores it in `_position`):
 *
 *   FILE:OFFSET                  a plain file: the record's byte offset
 *   FILE:OFFSET@MEMBER+SKIP      a gzip member / zstd frame at compressed byte
 *                                MEMBER; the record starts SKIP bytes into its output
 *
 * FILE is the name the archive source gives (relative to the pattern's
 * directory, or the key in the bucket) and may itself hold ':', '@' or '+'
 * (S3 keys often do): the text is read from its end, where only digits and
 * the three separators can be, so every position has exactly one reading.
 */
import { givenValue, ShoeboxError } from '../errors.js'
import type { Position } from '../record.js'

const POSITION = /^(.+):(\d+)(?:@(\d+)\+(\d+))?$/s

/** The text of a position (its file, offset and, if any, member). */
export function formatPosition (position: Position): string {
  const { file, offset, member } = position
  return member === undefined ? `${file}:${offset}` : `${file}:${offset}@${member.offset}+${member.skip}`
}

/**
 * The position a text names. SHOEBOX_INVALID_OPTION when it is not one
 * (`what` names where it came from in the message).
 */
export function parsePositionText (text: string, what = 'position'): Position {
  const m = POSITION.exec(text)
  const numbers = m === null ? [] : [m[2], m[3], m[4]].filter((n) => n !== undefined).map(Number)
  if (m === null || !numbers.every(Number.isSafeInteger)) {
    throw new ShoeboxError('SHOEBOX_INVALID_OPTION', `${what}: must be FILE:OFFSET (or FILE:OFFSET@MEMBER+SKIP in a compressed file), got ${givenValue(text)}`)
  }
  const [offset, memberOffset, skip] = numbers
  if (memberOffset === undefined) return { file: m[1], offset }
  if (skip > offset) throw new ShoeboxError('SHOEBOX_INVALID_OPTION', `${what}: '${text}' skips ${skip} bytes of its member, more than its offset ${offset}`)
  return { file: m[1], offset, member: { offset: memberOffset, skip } }
}
