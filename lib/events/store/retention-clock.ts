/**
 * Whether the wall clock may be trusted to expire events by: retention drops
 * the buckets older than now minus the retention, so a clock years ahead (a
 * bad NTP step, a VM restored with a wrong RTC) dropped every bucket at the
 * server's start, silently.
 *
 * The clock is judged against the last retention pass that ran: its wall
 * clock is kept in RETENTION_CLOCK_FILE in the data directory. A clock ahead
 * of that by more than the retention, plus the real time that passed since
 * when this process saw it (the monotonic clock, which no wall clock step
 * moves), is held implausible: such a pass could drop events that the last
 * pass kept as well within the retention, and a server kept off that long is
 * the rarer case. A held pass drops nothing and is said (once until a pass
 * runs again); the pass runs again once the clock comes back within bounds,
 * or when the operator says the clock is right (`trustClock`, --trust-clock).
 * A clock behind the last pass is not held: it drops less than that pass did
 * (and the time kept stays the later one).
 *
 * While passes are held, the time kept advances by the monotonic clock only,
 * so a clock put right in the meantime is within bounds, and a wrong one
 * stays out of them however long the server runs.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { writeFileDurably } from '../../fs/durable.js'

/** The wall clock (epoch ms) of the last retention pass, kept in the data directory. */
export const RETENTION_CLOCK_FILE = 'retention-clock.json'

/** The time kept is written again once it moved this far (ms): a pass runs after every flush, the file is written at most about hourly. */
const REWRITE_AFTER_MS = 3_600_000

/** What a pass is told: run with the clock, or hold, with the time the store expected. */
export type ClockVerdict =
  | { run: true }
  | { run: false, expectedMs: number, since: 'last pass' | 'newest event' }

/** The wall clock a pass ran by (or the newest event standing for one), and performance.now() then when this process saw it. */
interface LastPass { wallMs: number, mono: number | undefined, since: 'last pass' | 'newest event' }

export class RetentionClock {
  readonly #file: string
  readonly #retentionMs: number
  readonly #fsync: boolean
  /** The last pass that ran (advanced by the monotonic clock while passes are held). */
  #last: LastPass | undefined
  #writtenMs: number | undefined
  #trustNext: boolean

  private constructor (dir: string, retentionMs: number, fsync: boolean, trustClock: boolean) {
    this.#file = path.join(dir, RETENTION_CLOCK_FILE)
    this.#retentionMs = retentionMs
    this.#fsync = fsync
    this.#trustNext = trustClock
  }

  /**
   * The clock of a store's data directory. Without a file (a store older
   * than it, or one that ran without retention since, which removes it:
   * forget()), the newest event in the store's runs stands for the last
   * pass, when there is one.
   */
  static async load (dir: string, retentionMs: number, options: { fsync: boolean, trustClock: boolean, newestEventMs: number | undefined }): Promise<RetentionClock> {
    const clock = new RetentionClock(dir, retentionMs, options.fsync, options.trustClock)
    const kept = await readKept(clock.#file)
    if (kept !== undefined) {
      clock.#last = { wallMs: kept, mono: undefined, since: 'last pass' }
      clock.#writtenMs = kept
    } else if (options.newestEventMs !== undefined) {
      clock.#last = { wallMs: options.newestEventMs, mono: undefined, since: 'newest event' }
    }
    return clock
  }

  /** Remove the kept time (a store opened without retention): what it says goes stale while no pass runs. */
  static async forget (dir: string): Promise<void> {
    await fs.unlink(path.join(dir, RETENTION_CLOCK_FILE)).catch(() => {})
  }

  /** Whether a pass may drop by `nowMs`. */
  judge (nowMs: number, mono = performance.now()): ClockVerdict {
    const last = this.#last
    if (last === undefined || this.#trustNext) return { run: true }
    const expectedMs = this.#expected(last, mono)
    if (nowMs - expectedMs <= this.#retentionMs) return { run: true }
    return { run: false, expectedMs, since: last.since }
  }

  /**
   * A pass ran by `nowMs`: the next is judged from it, or from the time
   * expected when the clock is behind that. Kept as the later: a clock stepped
   * back and then put right again would otherwise be held as far ahead.
   */
  async ran (nowMs: number, mono = performance.now()): Promise<void> {
    const last = this.#last
    const wallMs = last === undefined || this.#trustNext ? nowMs : Math.max(nowMs, this.#expected(last, mono))
    this.#trustNext = false
    this.#last = { wallMs, mono, since: 'last pass' }
    await this.#keep(wallMs)
  }

  /** A pass was held: the time kept advances by the real time that passed only. */
  async held (expectedMs: number, mono = performance.now()): Promise<void> {
    const since = this.#last?.since ?? 'last pass'
    this.#last = { wallMs: expectedMs, mono, since }
    if (since === 'last pass') await this.#keep(expectedMs)
  }

  /** The time `last` and the real time since (none known across a restart) say it is now. */
  #expected (last: LastPass, mono: number): number {
    return last.wallMs + (last.mono === undefined ? 0 : Math.max(0, mono - last.mono))
  }

  async #keep (wallMs: number): Promise<void> {
    const written = this.#writtenMs
    // Written once it moved on by an hour (or back, after trustClock).
    if (written !== undefined && wallMs >= written && wallMs - written < REWRITE_AFTER_MS) return
    await writeFileDurably(this.#file, JSON.stringify({ lastPass: new Date(wallMs).toISOString(), ms: wallMs }) + '\n', { fsync: this.#fsync })
    this.#writtenMs = wallMs
  }
}

/** The kept time, or undefined for a file missing or not as written (it is written again by the next pass). */
async function readKept (file: string): Promise<number | undefined> {
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  if (text === undefined) return undefined
  try {
    const ms = (JSON.parse(text) as { ms?: unknown }).ms
    return typeof ms === 'number' && Number.isFinite(ms) ? ms : undefined
  } catch {
    return undefined
  }
}
