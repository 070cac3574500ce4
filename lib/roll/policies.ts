/**
 * Roll policies: small objects that decide when the file being written is
 * complete. Combine several; the file rolls when any of them fires.
 */
import { givenValue, invalidOption } from '../errors.js'
import { checkFlag, checkKnownOptions, parseDuration, parseSize } from '../units.js'

/** What a policy sees of the file being written. */
export interface RollFile {
  /** Final name the file will have. */
  readonly name: string
  /** When it was opened, ms since the epoch. */
  readonly openedAt: number
  /** Bytes on disk so far (compressed size when gzip is on; the block in flight is estimated). */
  readonly bytes: number
  /** Archive bytes before compression. */
  readonly rawBytes: number
  readonly records: number
}

export interface RollPolicy {
  /** Called when a file opens. */
  start? (file: RollFile): void
  /** After each record: true to roll now. `now` is ms since the epoch. */
  check (file: RollFile, now: number): boolean
  /**
   * When the file should roll even if nothing more is written (ms since the
   * epoch), for age-like policies: an idle file still rolls on time.
   */
  deadline? (file: RollFile): number | undefined
}

/**
 * The built-in policies (and any of them combined): pure, and monotone for a
 * given `now`: once check() is true after some record, it stays true as the
 * file gains records and bytes. The planner may then look for the record
 * that fires them among many at once (RollPlanner.addRun) instead of asking
 * after each one. A policy of the user's is asked after every record.
 */
const monotone = new WeakSet<RollPolicy>()

/** Is this one of the built-in policies, or a combination of them only (see `monotone`)? */
export function isMonotone (policy: RollPolicy): boolean {
  return monotone.has(policy)
}

/** Frozen: a check() replaced afterwards would no longer be what `monotone` vouches for. */
function builtIn (policy: RollPolicy): RollPolicy {
  Object.freeze(policy)
  monotone.add(policy)
  return policy
}

export function sizePolicy (size: number | string): RollPolicy {
  const limit = parseSize(size, 'roll.size')
  if (limit <= 0) throw invalidOption('roll.size', `must be above 0, got ${givenValue(size)}`)
  return builtIn({ check: (file) => file.bytes >= limit })
}

export function countPolicy (records: number): RollPolicy {
  if (!Number.isInteger(records) || records <= 0) throw invalidOption('roll.records', `must be a positive integer, got ${givenValue(records)}`)
  return builtIn({ check: (file) => file.records >= records })
}

/**
 * Roll after `age`. With `align`, files cover whole clock periods in UTC
 * (age '1h' rolls on the hour; a file opened at 12:40 rolls at 13:00).
 */
export function agePolicy (age: number | string, align = false): RollPolicy {
  const ms = parseDuration(age, 'roll.age')
  if (ms <= 0) throw invalidOption('roll.age', `must be above 0, got ${givenValue(age)}`)
  const deadline = (file: RollFile): number => align
    ? (Math.floor(file.openedAt / ms) + 1) * ms
    : file.openedAt + ms
  return builtIn({
    check: (file, now) => now >= deadline(file),
    deadline
  })
}

/** Rolls when any of the policies fires; the deadline is the earliest. */
export function anyPolicy (given: RollPolicy[]): RollPolicy {
  // A copy: what is monotone is decided once, here.
  const policies = [...given]
  const any: RollPolicy = {
    start (file) {
      for (const p of policies) p.start?.(file)
    },
    check (file, now) {
      for (const p of policies) if (p.check(file, now)) return true
      return false
    },
    deadline (file) {
      let earliest: number | undefined
      for (const p of policies) {
        const d = p.deadline?.(file)
        if (d !== undefined && (earliest === undefined || d < earliest)) earliest = d
      }
      return earliest
    }
  }
  return policies.every(isMonotone) ? builtIn(any) : any
}

export interface RollOptions {
  /** Roll when the file reaches this size, e.g. '100MiB'. */
  size?: number | string
  /** Roll when the file is this old, e.g. '10m'. */
  age?: number | string
  /** Align age rolls to clock boundaries in UTC. Default false. */
  align?: boolean
  /** Roll after this many records. */
  records?: number
  /** A custom policy (an object with check(), and optionally start() and deadline()). */
  policy?: RollPolicy
}

const ROLL_OPTIONS = ['size', 'age', 'align', 'records', 'policy'] as const

/** The policy for a sink's `roll` option; undefined means one file until end(). */
export function rollPolicy (options: RollOptions = {}): RollPolicy | undefined {
  if (options === null || typeof options !== 'object') throw invalidOption('roll', `must be an object such as { size: '100MiB', age: '10m' }, got ${givenValue(options)}`)
  checkKnownOptions(options, ROLL_OPTIONS, 'roll', 'roll.')
  const policies: RollPolicy[] = []
  if (options.size !== undefined) policies.push(sizePolicy(options.size))
  checkFlag(options.align, 'roll.align')
  if (options.age !== undefined) policies.push(agePolicy(options.age, options.align ?? false))
  if (options.records !== undefined) policies.push(countPolicy(options.records))
  if (options.policy !== undefined) {
    if (typeof options.policy?.check !== 'function') throw invalidOption('roll.policy', 'must be an object with a check(file, now) method')
    policies.push(options.policy)
  }
  if (policies.length === 0) return undefined
  return policies.length === 1 ? policies[0] : anyPolicy(policies)
}
