/**
 * What the events of a get answer must be (spec §3.2, §5.3), checked one
 * event at a time as the client takes them: an integer @time within
 * [start_time, end_time], both inclusive (no start_time when a start_id
 * replaces it); an @id after start_id, which is a lower bound in both
 * orders; and each @id's time at or past the one before it in the order
 * asked, and no @id twice in a row.
 *
 * Within one time the order of the ids is the server's: the memcmp rule of
 * spec §3.2 is shoebox serve's and the reference's, but the spec warns that
 * Cassandra's own timeuuid order for equal times may differ, and a real
 * Kronos on Cassandra must not have every get fail at its first tie. So an
 * id at the same time as the last one (or as start_id) passes in either
 * order; one equal to it does not.
 *
 * Why: the client took each line as the next event. A buggy or hostile
 * server, or a proxy replaying a cached answer, fed the consumer events it
 * did not ask for, and a resume (which goes on from the last @id) repeated
 * or skipped events when the order was wrong: a descending get answered in
 * ascending order and broken after 1, 2, 3 yielded 1, 2, 3, 1, 2, 1 and
 * never 4 or 5.
 *
 * Cheap, as the get is the benchmark's hot path: a bigint comparison per
 * bound (an @time above 2^53 is a bigint already) and one digit-by-digit
 * comparison of two id texts (compareEventIdTexts), which also says
 * whether the time is the same as the last one's, as a descending resume
 * needs to know.
 */
import { ShoeboxError } from '../errors.js'
import { plural } from '../plural.js'
import { compareEventIdTexts } from './event-id.js'
import { stringifyEvent } from './event-text.js'
import type { KronosTime } from './kronos-time.js'

export type GetOrder = 'ascending' | 'descending'

/** What one request asked for. */
export interface AskedRange {
  /** Undefined when a start_id replaces it. */
  start: KronosTime | undefined
  end: KronosTime
  startId: string | undefined
}

export class GetAnswerOrder {
  readonly #order: GetOrder
  #asked: AskedRange = { start: undefined, end: 0n, startId: undefined }
  /**
   * The bounds as numbers, for an @time that is one (a safe integer: beyond 2^53 it is a bigint):
   * comparing a number with a bigint is a call into V8's runtime, ~13 ns a comparison, per event.
   * A bound beyond 2^53 is past every such time: infinite here.
   */
  #endNumber = 0
  #startNumber = -Infinity
  /** The last @id taken: the next one must be past it, in this answer or the next (a resume goes on from it). */
  last: string | undefined
  /** Events taken with the time of `last` (a descending resume asks for them again). */
  sameTime = 0

  constructor (order: GetOrder) {
    this.#order = order
  }

  /** The range of the next request (a descending resume narrows end_time). */
  ask (asked: AskedRange): void {
    this.#asked = { ...asked }
    this.#endNumber = asNumberBound(asked.end)
    this.#startNumber = asked.start === undefined ? -Infinity : asNumberBound(asked.start)
  }

  /** Why an event's @time (undefined: it has none) is not one the request asked for; undefined when it is. */
  timeProblem (time: unknown): string | undefined {
    if (typeof time !== 'bigint' && !Number.isInteger(time)) {
      return time === undefined ? '@time is missing' : `@time ${describe(time)} is not an integer`
    }
    const t = time as number | bigint
    const after = typeof t === 'number' ? t > this.#endNumber : t > this.#asked.end
    if (after) return `@time ${t} is after end_time ${this.#asked.end}`
    const before = typeof t === 'number' ? t < this.#startNumber : this.#asked.start !== undefined && t < this.#asked.start
    if (before) return `@time ${t} is before start_time ${String(this.#asked.start)}`
    return undefined
  }

  /** Why `id` (isEventId) cannot come next; undefined when it can, and it is then the last one. */
  take (id: string): string | undefined {
    const last = this.last
    const startId = this.#asked.startId
    // compareEventIdTexts: ±2 when the times differ, ±1 when only the ids of one time do (see the header).
    if (startId !== undefined) {
      const s = compareEventIdTexts(id, startId)
      if (s === 0 || s === -2) return `@id ${id} is not after start_id ${startId}`
    }
    if (last !== undefined) {
      const c = compareEventIdTexts(id, last)
      if (c === 0) return `@id ${id} is the same as the last one (order ${this.#order})`
      if (c === (this.#order === 'ascending' ? -2 : 2)) {
        return `@id ${id} is ${c < 0 ? 'before' : 'after'} the last one, ${last} (order ${this.#order})`
      }
      this.sameTime = c === 1 || c === -1 ? this.sameTime + 1 : 1
    } else {
      this.sameTime = 1
    }
    this.last = id
    return undefined
  }
}

/** A bound as a number compared exactly with safe integers: itself when safe, else ±Infinity. */
function asNumberBound (bound: KronosTime): number {
  const n = Number(bound)
  return Number.isSafeInteger(n) ? n : n > 0 ? Infinity : -Infinity
}

/** The error for an event that is not what was asked: typed, naming the stream and how many events came before it. */
export function unaskedEvent (stream: string, yielded: number, problem: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_INVALID_EVENT', `stream ${stream}, event ${yielded + 1}: ${problem}; ${plural(yielded, 'event')} before it yielded`)
}

/** A value for a message: its JSON, cut short. */
function describe (value: unknown): string {
  const text = stringifyEvent(value)
  return text.length > 40 ? `${text.slice(0, 40)}...` : text
}
