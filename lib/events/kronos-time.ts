/**
 * Kronos time: a signed count of 100 ns ticks since the Unix epoch (UTC).
 *
 * Today's values (~1.7e16) are above 2^53, so a kronos time never passes
 * through a JS number here: it is a bigint inside and exact decimal text on
 * the wire. Conversions are exact wherever the input is (a Date, epoch ms,
 * an ISO string with up to 7 fraction digits, decimal text); finer input is
 * truncated toward zero, as Kronos's own helpers do (they go through floats
 * and can be off by a tick or two; these are not).
 *
 * The valid range is what fits an event id's 60-bit UUID time (spec §3.1):
 * [-0x01B21DD213814000, 2^60 - 0x01B21DD213814000), i.e. 1582-10-15 to
 * about year 5236. Anything outside is refused with
 * SHOEBOX_INVALID_EVENT_TIME, never wrapped.
 */
import { ShoeboxError } from '../errors.js'

/** Kronos time: 100 ns ticks since 1970-01-01T00:00Z. */
export type KronosTime = bigint

/** Ticks from the Gregorian UUID epoch (1582-10-15) to the Unix epoch. */
export const UUID_EPOCH_OFFSET = 0x01B21DD213814000n
/** The smallest valid kronos time (the UUID epoch). */
export const MIN_KRONOS_TIME: KronosTime = -UUID_EPOCH_OFFSET
/** The largest valid kronos time (the last tick a 60-bit UUID time can hold). */
export const MAX_KRONOS_TIME: KronosTime = (1n << 60n) - UUID_EPOCH_OFFSET - 1n

export const TICKS_PER_MS = 10_000n
export const TICKS_PER_SECOND = 10_000_000n
const TICKS_PER_DAY = 86_400n * TICKS_PER_SECOND

/** Whether `t` is a kronos time an event id can carry. */
export function isKronosTimeInRange (t: bigint): boolean {
  return t >= MIN_KRONOS_TIME && t <= MAX_KRONOS_TIME
}

/** `t` itself when in range; SHOEBOX_INVALID_EVENT_TIME naming `what` otherwise. */
export function checkKronosTime (t: bigint, what = 'kronos time'): KronosTime {
  if (isKronosTimeInRange(t)) return t
  throw new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME',
    `${what} ${t} is outside the range an event id can hold [${MIN_KRONOS_TIME}, ${MAX_KRONOS_TIME}]`)
}

/** Now, at the clock's millisecond resolution. */
export function kronosTimeNow (): KronosTime {
  return BigInt(Date.now()) * TICKS_PER_MS
}

/** From a Date (exact: every ms is 10000 ticks). */
export function kronosTimeFromDate (date: Date): KronosTime {
  const ms = date.getTime()
  if (Number.isNaN(ms)) throw new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME', 'invalid Date')
  return checkKronosTime(BigInt(ms) * TICKS_PER_MS)
}

/** From epoch milliseconds: a number (a fractional one read by its decimal text, exact to the tick), a bigint, or decimal text such as '1700000000000.1234'. */
export function kronosTimeFromMs (ms: number | bigint | string): KronosTime {
  if (typeof ms === 'bigint') return checkKronosTime(ms * TICKS_PER_MS)
  const text = typeof ms === 'string' ? ms.trim() : numberText(ms, 'epoch ms')
  return checkKronosTime(scaleDecimal(text, 4, 'epoch ms'))
}

/** From epoch seconds: a number (by its decimal text), a bigint, or decimal text such as '1700000000.1234567'. */
export function kronosTimeFromSeconds (seconds: number | bigint | string): KronosTime {
  if (typeof seconds === 'bigint') return checkKronosTime(seconds * TICKS_PER_SECOND)
  const text = typeof seconds === 'number' ? numberText(seconds, 'epoch seconds') : seconds.trim()
  return checkKronosTime(scaleDecimal(text, 7, 'epoch seconds'))
}

/** Exact decimal text of a kronos time (the wire form). */
export function formatKronosTime (t: KronosTime): string {
  return t.toString()
}

/** From exact decimal integer text ('-12', '17000000000000001'); range-checked. */
export function parseKronosTime (text: string): KronosTime {
  const trimmed = text.trim()
  if (!/^-?\d+$/.test(trimmed)) {
    throw new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME', `not a kronos time (an integer count of 100 ns ticks): '${text}'`)
  }
  return checkKronosTime(BigInt(trimmed))
}

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/

/**
 * From an ISO 8601 date or date-time: 'YYYY-MM-DD', optional 'Thh:mm',
 * ':ss', a fraction of any length (beyond 7 digits truncated), and an offset
 * ('Z', '+hh:mm', '+hhmm', '+hh'). No offset means UTC, as in Kronos.
 */
export function kronosTimeFromIso (text: string): KronosTime {
  const m = ISO_RE.exec(text.trim())
  const bad = (why: string): ShoeboxError =>
    new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME', `not an ISO 8601 time (${why}): '${text}'`)
  if (m === null) throw bad('expected YYYY-MM-DD[Thh:mm[:ss[.fffffff]]][Z|+hh:mm]')
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)]
  if (month < 1 || month > 12) throw bad('month out of range')
  if (day < 1 || day > daysInMonth(year, month)) throw bad('day out of range')
  if (hour > 23 || minute > 59 || second > 59) throw bad('time of day out of range')
  let offsetMinutes = 0
  if (m[9] !== undefined) {
    const oh = Number(m[10])
    const om = Number(m[11] ?? 0)
    if (oh > 23 || om > 59) throw bad('offset out of range')
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om)
  }
  const fraction = (m[7] ?? '').slice(0, 7).padEnd(7, '0')
  const seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
  return checkKronosTime(BigInt(seconds) * TICKS_PER_SECOND + BigInt(fraction), 'ISO time')
}

/** The Date holding `t` (floored to the millisecond, the most a Date holds). */
export function kronosTimeToDate (t: KronosTime): Date {
  return new Date(kronosTimeToMs(t))
}

/** Epoch milliseconds, floored (sub-ms ticks dropped toward minus infinity). */
export function kronosTimeToMs (t: KronosTime): number {
  return Number(floorDiv(t, TICKS_PER_MS))
}

/** ISO 8601 UTC with all seven 100 ns digits: '2026-12-03T10:45:00.1234567Z'. */
export function kronosTimeToIso (t: KronosTime): string {
  checkKronosTime(t)
  const days = floorDiv(t, TICKS_PER_DAY)
  const inDay = t - days * TICKS_PER_DAY
  const [y, mo, d] = civilFromDays(Number(days))
  const secs = Number(inDay / TICKS_PER_SECOND)
  const frac = (inDay % TICKS_PER_SECOND).toString().padStart(7, '0')
  const hh = Math.floor(secs / 3600)
  const mm = Math.floor(secs / 60) % 60
  const ss = secs % 60
  return `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}.${frac}Z`
}

/**
 * Any of the accepted spellings: a bigint (ticks), an integer number
 * (ticks; must be a safe integer, or it was already rounded), a Date,
 * integer text (ticks) or ISO text. What `--from`/`--to` and get() take.
 */
export function toKronosTime (value: KronosTime | number | string | Date): KronosTime {
  if (typeof value === 'bigint') return checkKronosTime(value)
  if (value instanceof Date) return kronosTimeFromDate(value)
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME',
        `kronos time ${value} is not a safe integer; pass a bigint or decimal text so no tick is lost`)
    }
    return checkKronosTime(BigInt(value))
  }
  if (/^\s*-?\d+\s*$/.test(value)) return parseKronosTime(value)
  return kronosTimeFromIso(value)
}

function numberText (n: number, what: string): string {
  if (!Number.isFinite(n)) throw new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME', `${what} must be finite, got ${n}`)
  return String(n)
}

/**
 * Decimal text (optional sign, fraction, exponent) times 10^scale, as a
 * bigint truncated toward zero. Exact: no float arithmetic.
 */
function scaleDecimal (text: string, scale: number, what: string): bigint {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text)
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) {
    throw new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME', `${what}: not a decimal number: '${text}'`)
  }
  const digits = m[2] + (m[3] ?? '')
  const exponent = scale + Number(m[4] ?? 0) - (m[3] ?? '').length
  if (exponent > 40) throw new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME', `${what} out of range: '${text}'`)
  let magnitude: bigint
  if (exponent >= 0) {
    magnitude = BigInt(digits) * 10n ** BigInt(exponent)
  } else {
    const keep = digits.length + exponent
    magnitude = keep <= 0 ? 0n : BigInt(digits.slice(0, keep))
  }
  return m[1] === '-' ? -magnitude : magnitude
}

function floorDiv (a: bigint, b: bigint): bigint {
  const q = a / b
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q
}

function pad (n: number, width: number): string {
  return String(n).padStart(width, '0')
}

function isLeap (y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
}

function daysInMonth (y: number, m: number): number {
  return [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
function daysFromCivil (year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

function civilFromDays (days: number): [number, number, number] {
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d]
}
