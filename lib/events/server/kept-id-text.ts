/**
 * keptEventId() (kept-event-ids.ts) for the put path: the same rule (a
 * plain UUID string, version 1, byte 8 in 0x80..0x8F, the 60-bit time of
 * the event's @time), read straight from the body's bytes at the @id
 * value's span. The general one slices the text twice, runs a regex, strips the
 * dashes into a new string, decodes it as hex and turns the time into a
 * bigint to compare: ~2 µs an event in the server's profile, with the
 * shipper sending an @id with every event. Here the hex digits are decoded
 * by table into the put's id column and its time bytes compared with the
 * time's words (put-rows.ts): no bigint, no string, no Buffer per event.
 * test/events/server/kept-id-text.test.ts checks it against keptEventId().
 */
import { HEX_VALUE } from '../event-id.js'
import { LOW_WORD } from '../store/put-rows.js'
import { uuidTimeHigh, uuidTimeLow } from './time-text.js'

/** Where each byte's two digits start in the quoted text `"8-4-4-4-12"`. */
const DIGITS_AT = [1, 3, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27, 29, 31, 33, 35]
const QUOTED_LENGTH = 38

/** keptIdInto()'s answers: a new id must be made; the id is kept as written; it is kept, written in lower case (upper-case digits were sent). */
export const NOT_KEPT = 0
export const KEPT_AS_WRITTEN = 1
export const KEPT_UPPER_CASE = 2

/**
 * Whether the @id value at bytes[start, end) (its JSON text, quotes
 * included, UTF-8) is an id a server could have made for event `row`'s
 * time (its words in `words`, as PutRows keeps them), and whether its text
 * is the stored one (lower case); its 16 bytes are written at ids[at]
 * either way (scratch when it is refused).
 */
export function keptIdInto (bytes: Buffer, start: number, end: number, words: Uint32Array, row: number, ids: Buffer, at: number): number {
  if (end - start !== QUOTED_LENGTH || bytes[start] !== 0x22 || bytes[end - 1] !== 0x22) return NOT_KEPT
  if (bytes[start + 9] !== 0x2D || bytes[start + 14] !== 0x2D || bytes[start + 19] !== 0x2D || bytes[start + 24] !== 0x2D) return NOT_KEPT
  // Every digit and 'a'-'f' has bit 0x20 set, 'A'-'F' has not: the digits' AND tells the case.
  let lower = 0x20
  for (let i = 0; i < 16; i++) {
    const digit = start + DIGITS_AT[i]
    // A byte of a multi-byte character, or an escape's '\\', is no digit.
    const c1 = bytes[digit]
    const c2 = bytes[digit + 1]
    const hi = HEX_VALUE[c1]
    const lo = HEX_VALUE[c2]
    if (hi < 0 || lo < 0) return NOT_KEPT
    lower &= c1 & c2
    ids[at + i] = (hi << 4) | lo
  }
  if ((ids[at + 6] >> 4) !== 1 || (ids[at + 8] & 0xF0) !== 0x80) return NOT_KEPT
  // The id's 60-bit time (the version nibble aside) must be the event's: bytes 0..3 the
  // low 32 bits, 4..5 the next 16, byte 6's low nibble and byte 7 the top 12.
  const lo = words[2 * row + LOW_WORD]
  const high = uuidTimeHigh(words[2 * row + 1 - LOW_WORD] | 0, lo)
  if (high < 0) return NOT_KEPT
  const ofTime = ids.readUInt32BE(at) === uuidTimeLow(lo) && ids.readUInt16BE(at + 4) === (high & 0xFFFF) && (ids.readUInt16BE(at + 6) & 0x0FFF) === (high >>> 16)
  return !ofTime ? NOT_KEPT : lower !== 0 ? KEPT_AS_WRITTEN : KEPT_UPPER_CASE
}
