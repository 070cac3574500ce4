/**
 * The options of a meta run (metaIngest(), squashHistory(), a metadir's
 * update() and files.find()) that the house helpers do not cover, checked
 * where each enters, before a lock is taken or a file written. Each came
 * through unchecked: lockWait '10s' made the lock's deadline a string (a
 * held lock was waited for for ever), micros NaN named a history file
 * 'NaN-NaN-NaNTNaN...', find()'s limit 'x' failed inside SQLite ("no such
 * column: NaN"), update()'s now 'yesterday' as "date.toISOString is not a
 * function".
 */
import { givenValue, invalidOption } from '../errors.js'
import { checkFlag, durationOption, positiveCount } from '../units.js'
import type { UpdateOptions } from './update.js'

/** How long a publisher waits for another's lock, in ms: a duration ('30s' or ms), 60 s when not given. */
export function lockWaitOption (value: unknown): number {
  return durationOption(value, 60_000, 'lockWait')
}

/**
 * A run's time in µs since the epoch, or undefined (not given: the time of
 * the write). Names history files: a whole number from 0 (a safe integer
 * reaches the year 2255, so a name's year keeps its four digits).
 */
export function microsOption (value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw invalidOption('micros', `must be microseconds since 1970 (a whole number, at most ${Number.MAX_SAFE_INTEGER}), got ${givenValue(value)}`)
  }
  return value as number
}

/** A metadir's update() options: `now` a Date that is a time (not new Date('x')), progressEvery a count, the flags yes or no. */
export function checkUpdateOptions (options: UpdateOptions): void {
  const now: unknown = options.now
  if (now !== undefined && !(now instanceof Date)) throw invalidOption('now', `must be a Date, got ${givenValue(now)}`)
  if (now instanceof Date && Number.isNaN(now.getTime())) throw invalidOption('now', 'must be a Date, got Invalid Date')
  if (now instanceof Date && (now.getUTCFullYear() < 1 || now.getUTCFullYear() > 9999)) {
    throw invalidOption('now', `must be a time in the years 1 to 9999 (a DATETIME cell holds no other), got ${now.toISOString()}`)
  }
  if (options.progressEvery !== undefined) positiveCount(options.progressEvery, 1, 'progressEvery')
  for (const flag of ['replace', 'cleanup'] as const) checkFlag(options[flag], flag)
}

/** find()'s `limit`: a whole number of rows (0 finds none), or undefined for no limit. */
export function limitOption (value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalidOption('limit', `must be a whole number, got ${givenValue(value)}`)
  return value as number
}
