/** '100MiB'-style sizes, '10m'-style durations and counts, an S3 endpoint, as options accept them. */
import { givenUrl, givenValue, invalidOption } from './errors.js'

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4
}

/**
 * Bytes from a number or a string such as '100MiB', '1.5GB', '64k' (k/m/g
 * alone are binary), for every option that is a size (roll.size, blockSize,
 * maxRecordSize, maxFrameSize...) and the CLI's size flags: one rule and one
 * wording, with the value quoted as given (givenValue). `least` is the
 * smallest size the option takes. A size past Number.MAX_SAFE_INTEGER
 * ('99999999999999999999', 1e20 to Number()) is refused: no Buffer or file
 * offset is that large, and it would not be exact.
 */
export function parseSize (value: number | string, option = 'size', least = 0): number {
  let bytes: number
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw invalidOption(option, `must be a non-negative number of bytes, got ${givenValue(value)}`)
    bytes = Math.floor(value)
  } else {
    const m = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value) : null
    const unit = m === null ? undefined : SIZE_UNITS[m[2].toLowerCase()]
    if (m === null || unit === undefined) {
      throw invalidOption(option, `expected a size such as 100MiB, 10MB or 4096, got ${givenValue(value)}`)
    }
    bytes = Math.floor(Number(m[1]) * unit)
  }
  if (bytes > Number.MAX_SAFE_INTEGER) throw invalidOption(option, `must be at most ${Number.MAX_SAFE_INTEGER} bytes, got ${givenValue(value)}`)
  if (bytes < least) throw invalidOption(option, `must be at least ${least} ${least === 1 ? 'byte' : 'bytes'}, got ${givenSize(value, bytes)}`)
  return bytes
}

/**
 * A size refused by a bound checked once it is parsed (partSize's 5MiB,
 * maxBody's 256MiB), as the refusal quotes it: what was given, as every
 * refusal quotes it (givenValue), and the bytes it came to when it was
 * written with a unit ('"1KiB" (1024 bytes)'), not the bytes alone, which
 * the user never typed.
 */
export function givenSize (value: unknown, bytes: number): string {
  return typeof value === 'string' && /[a-z]/i.test(value) ? `${givenValue(value)} (${bytes} bytes)` : givenValue(value)
}

/** A duration refused by a bound checked once it is parsed, quoted as givenSize() quotes a size ('"30d" (2592000000 ms)'). */
export function givenDuration (value: unknown, ms: number): string {
  return typeof value === 'string' && /[a-z]/i.test(value) ? `${givenValue(value)} (${ms} ms)` : givenValue(value)
}

/**
 * A size option: parseSize(value) with its default when undefined (not
 * given). null is a value, refused like any other that is not a size: a
 * caller's `null` is a mistake, not a request for the default.
 */
export function sizeOption (value: unknown, fallback: number | string, option: string, least = 0): number {
  return parseSize((value === undefined ? fallback : value) as number | string, option, least)
}

const TIME_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000
}

/**
 * The longest delay setTimeout() and setInterval() take (about 24.8 days). A
 * longer one is taken as 1 ms, with a TimeoutOverflowWarning: a roll age of
 * 30d sealed a file after every record, and a flush interval of 100d flushed
 * every millisecond.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * `ms` for a timer that may as well fire at MAX_TIMER_MS: a flush interval,
 * a poll, a timeout (one of 24.8 days is as good as a longer one). A timer
 * that must not fire before its time (a roll deadline) is chained instead
 * (long-timeout.ts).
 */
export function timerMs (ms: number): number {
  return Math.min(ms, MAX_TIMER_MS)
}

/**
 * Milliseconds from a number or a string such as '10m', '1h', '30s', '250ms',
 * '1h30m'. A bare '0' is 0 (options such as flushInterval take 0 as "off");
 * any other number needs its unit, which is ambiguous without one.
 */
export function parseDuration (value: number | string, option = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value
    throw invalidOption(option, `must be a non-negative number of milliseconds, got ${givenValue(value)}`)
  }
  const text = String(value).trim().toLowerCase()
  if (/^0+(?:\.0+)?$/.test(text)) return 0
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy
  let total = 0
  let matched = 0
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * TIME_UNITS[m[2]]
    matched = re.lastIndex
  }
  if (text === '' || matched !== text.length) {
    const hint = /^\d+(?:\.\d+)?$/.test(text) ? ' (a number other than 0 needs a unit: ms, s, m, h or d)' : ''
    throw invalidOption(option, `expected a duration such as 10m, 1h, 30s or 250ms, got ${givenValue(value)}${hint}`)
  }
  return total
}

/**
 * A yes/no option: true, false, or undefined (its default). Anything else is
 * refused naming the option, rather than read by its truthiness: 'false' and
 * 'no' (from an environment variable, a config file) are truthy, 0 is not.
 */
export function checkFlag (value: unknown, option: string): void {
  if (value !== undefined && typeof value !== 'boolean') throw invalidOption(option, `must be true or false, got ${givenValue(value)}`)
}

/**
 * The `mode` every reader takes, 'strict' (the default: undefined) or
 * 'lenient', checked in one place: decode(), zstdDecompress() and
 * archiveSource() refuse anything else at once, so a mistyped 'LENIENT' is
 * not read as strict without a word.
 */
export function checkDecodeMode (mode: unknown): void {
  if (mode !== undefined) oneOf(mode, ['strict', 'lenient'], 'mode')
}

/**
 * Refuse a key of `options` that is not one of `known`, naming it (with
 * `prefix`, as 'roll.' or 'upload.'): a misspelt option ({ rollSize: '10MB' }
 * for roll.size, upload.deleteLocaly) was ignored, and its default taken
 * silently instead (one file until end(), every file kept).
 */
export function checkKnownOptions (options: object, known: readonly string[], what: string, prefix = ''): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw invalidOption(`${prefix}${key}`, `is not an option of ${what} (those are ${known.join(', ')})`)
  }
}

/**
 * An option that takes one of a few values (format, mode, onInvalid,
 * fsync...): `value` if it is one of `allowed`, else refused naming the
 * option, the values it takes and the value given, in one wording
 * ("must be 'v1' or 'v2', got \"v3\"") wherever the option is.
 */
export function oneOf<T> (value: unknown, allowed: readonly T[], option: string): T {
  if (allowed.includes(value as T)) return value as T
  const names = allowed.map((a) => typeof a === 'string' ? `'${a}'` : String(a))
  const choices = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`
  throw invalidOption(option, `must be ${choices}, got ${givenValue(value)}`)
}

/**
 * A count option (attempts, queueSize, maxSockets...): `value`, or
 * `fallback` when undefined (not given), checked to be an integer from 1;
 * anything else refused naming the option and the value given. null too: a
 * caller's explicit null is a mistake, not a request for the default.
 */
export function positiveCount (value: unknown, fallback: number, option: string): number {
  const n = value === undefined ? fallback : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw invalidOption(option, `must be a positive integer, got ${givenValue(n)}`)
  return n
}

/** A duration option: parseDuration(value) with its default when undefined (not given); null is refused, as in sizeOption(). */
export function durationOption (value: unknown, fallback: number | string, option: string): number {
  return parseDuration((value === undefined ? fallback : value) as number | string, option)
}

/** Whether `text` is an http:// or https:// URL, the only endpoints an S3 client takes. */
export function isHttpUrl (text: string): boolean {
  try {
    return /^https?:$/.test(new URL(text).protocol)
  } catch {
    return false
  }
}

/**
 * An S3 `endpoint` option that is given and is no http(s) URL is refused
 * (SHOEBOX_INVALID_OPTION; a password in it masked): the S3 store's check
 * (s3-config.ts), and the CLI's of --endpoint as it reads its flags
 * (store-options.ts), which loads no store module.
 */
export function checkEndpoint (endpoint: unknown): void {
  if (endpoint !== undefined && (typeof endpoint !== 'string' || !isHttpUrl(endpoint))) {
    throw invalidOption('endpoint', `must be an http:// or https:// URL, got ${givenUrl(endpoint)}`)
  }
}
