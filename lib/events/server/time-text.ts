/**
 * readTime() (event-text.ts) for the put path: an @time value read straight
 * from the body's bytes into a put's time column (put-rows.ts). Only the
 * integer form is a time (1.5, 1e3, "5", true are InvalidEventTime, as
 * Kronos does), and it must be in the range an event id can hold. Kronos
 * times (~1.7e16) are above 2^53, so the digits are accumulated as two
 * 32-bit words and written as the int64's words: no string sliced, no
 * BigInt(string) parse, no bigint made.
 */
import { InvalidEventTimeError, TIME_NOT_INTEGER, TIME_OUT_OF_RANGE } from '../event-text.js'
import { LOW_WORD } from '../store/put-rows.js'

const TWO_32 = 4294967296
/** UUID_EPOCH_OFFSET (kronos-time.ts) as words: 0x01B21DD2_13814000. */
const OFFSET_HIGH = 0x01B21DD2
const OFFSET_LOW = 0x13814000

/**
 * The @time value at bytes[start, end) (its JSON text) into `words` as
 * event `row`'s int64 (see PutRows.words); false for JSON null (nothing
 * written). Throws InvalidEventTimeError.
 */
export function readTimeInto (bytes: Buffer, start: number, end: number, words: Uint32Array, row: number): boolean {
  if (end - start === 4 && bytes[start] === 0x6E && bytes[start + 1] === 0x75 && bytes[start + 2] === 0x6C && bytes[start + 3] === 0x6C) return false
  const negative = bytes[start] === 0x2D
  let i = negative ? start + 1 : start
  if (i === end) throw notInteger(bytes, start, end)
  // The magnitude as hi * 2^32 + lo; past 2^63 it cannot be in range. Its first 15 digits
  // are exact in one number (below 2^53), so only the digits after them (a Kronos time has
  // 17) cost a split into words each.
  let head = 0
  for (const headEnd = Math.min(end, i + 15); i < headEnd; i++) {
    const d = bytes[i] - 0x30
    if (d < 0 || d > 9) throw notInteger(bytes, start, end)
    head = head * 10 + d
  }
  let hi = Math.floor(head / TWO_32)
  let lo = head - hi * TWO_32
  for (; i < end; i++) {
    const d = bytes[i] - 0x30
    if (d < 0 || d > 9) throw notInteger(bytes, start, end)
    const t = lo * 10 + d
    const carry = Math.floor(t / TWO_32)
    lo = t - carry * TWO_32
    hi = hi * 10 + carry
    if (hi >= 0x80000000) throw outOfRange(bytes, start, end)
  }
  if (negative && (hi !== 0 || lo !== 0)) {
    // Two's complement of the magnitude.
    hi = lo === 0 ? -hi : -hi - 1
    lo = lo === 0 ? 0 : TWO_32 - lo
  }
  // In range: the UUID time (time + offset) is in [0, 2^60).
  if (uuidTimeHigh(hi, lo) < 0) throw outOfRange(bytes, start, end)
  words[2 * row + LOW_WORD] = lo
  words[2 * row + 1 - LOW_WORD] = hi
  return true
}

/**
 * The high 28 bits of the 60-bit UUID time of the kronos time whose words
 * are `hi` (signed) and `lo`; -1 when that time is outside [0, 2^60).
 * The low 32 bits are uuidTimeLow().
 */
export function uuidTimeHigh (hi: number, lo: number): number {
  const high = hi + OFFSET_HIGH + (lo + OFFSET_LOW >= TWO_32 ? 1 : 0)
  return high < 0 || high >= 0x10000000 ? -1 : high
}

export function uuidTimeLow (lo: number): number {
  const low = lo + OFFSET_LOW
  return low >= TWO_32 ? low - TWO_32 : low
}

function notInteger (bytes: Buffer, start: number, end: number): InvalidEventTimeError {
  return new InvalidEventTimeError(bytes.toString('utf8', start, end), TIME_NOT_INTEGER)
}

function outOfRange (bytes: Buffer, start: number, end: number): InvalidEventTimeError {
  return new InvalidEventTimeError(bytes.toString('utf8', start, end), TIME_OUT_OF_RANGE)
}
