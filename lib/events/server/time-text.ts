/**
 * readTime() (event-text.ts) for the put path: an @time value read straight
 * from the body's bytes. Only the integer form is a time (1.5, 1e3, "5",
 * true are InvalidEventTime, as Kronos does), and it must be in the range an
 * event id can hold. Kronos times (~1.7e16) are above 2^53, so the digits
 * are accumulated as two 32-bit words and the bigint is read from an int64
 * slot written with them: one bigint made per event, no string sliced and
 * no BigInt(string) parse.
 */
import { endianness } from 'node:os'
import { InvalidEventTimeError } from '../event-text.js'
import { isKronosTimeInRange, type KronosTime } from '../kronos-time.js'

const SLOT = new BigInt64Array(1)
const WORDS = new Uint32Array(SLOT.buffer)
/** Which word of the slot holds the low 32 bits. */
const LOW = endianness() === 'LE' ? 0 : 1
const TWO_32 = 4294967296

/** The kronos time of the @time value at bytes[start, end) (its JSON text); null for JSON null. */
export function readTimeAt (bytes: Buffer, start: number, end: number): KronosTime | null {
  if (end - start === 4 && bytes[start] === 0x6E && bytes[start + 1] === 0x75 && bytes[start + 2] === 0x6C && bytes[start + 3] === 0x6C) return null
  const negative = bytes[start] === 0x2D
  let i = negative ? start + 1 : start
  if (i === end) throw notInteger(bytes, start, end)
  // The magnitude as hi * 2^32 + lo; past 2^63 it cannot be in range.
  let hi = 0
  let lo = 0
  for (; i < end; i++) {
    const d = bytes[i] - 0x30
    if (d < 0 || d > 9) throw notInteger(bytes, start, end)
    const t = lo * 10 + d
    const carry = Math.floor(t / TWO_32)
    lo = t - carry * TWO_32
    hi = hi * 10 + carry
    if (hi >= 0x80000000) throw outOfRange(bytes, start, end)
  }
  if (negative) {
    // Two's complement of the magnitude.
    hi = (lo === 0 ? -hi : ~hi) >>> 0
    lo = lo === 0 ? 0 : TWO_32 - lo
  }
  WORDS[LOW] = lo
  WORDS[1 - LOW] = hi
  const time = SLOT[0]
  if (!isKronosTimeInRange(time)) throw outOfRange(bytes, start, end)
  return time
}

function notInteger (bytes: Buffer, start: number, end: number): InvalidEventTimeError {
  return new InvalidEventTimeError(bytes.toString('utf8', start, end), 'must be an integer (100 ns ticks since the epoch)')
}

function outOfRange (bytes: Buffer, start: number, end: number): InvalidEventTimeError {
  return new InvalidEventTimeError(bytes.toString('utf8', start, end), 'outside the range an event id can hold')
}
