/**
 * A timeout that may be longer than setTimeout() takes (MAX_TIMER_MS, about
 * 24.8 days; Node takes a longer one as 1 ms): chained, one timer of at most
 * `maxStep` after another, so that it fires once, when the whole time has
 * passed, never at the first step. A roll age of 30d seals its file after
 * 30 days (rolling-sink.ts). A timer that may as well fire at the limit (a
 * flush interval, a poll) takes timerMs() instead (units.ts).
 */
import { MAX_TIMER_MS } from './units.js'

export interface LongTimeoutOptions {
  /** The longest single timer of the chain (from 1; default MAX_TIMER_MS). */
  maxStep?: number
  /** Whether the timer lets the process exit while it waits (Timeout.unref()). */
  unref?: boolean
}

/** Calls `fire` once, `ms` from now; returns the cancel, which stops the chain at any step. */
export function longTimeout (fire: () => void, ms: number, options: LongTimeoutOptions = {}): () => void {
  const { maxStep = MAX_TIMER_MS, unref = false } = options
  let timer: ReturnType<typeof setTimeout>
  const arm = (left: number): void => {
    timer = setTimeout(() => {
      if (left > maxStep) arm(left - maxStep)
      else fire()
    }, Math.min(left, maxStep))
    if (unref) timer.unref()
  }
  arm(ms)
  return () => { clearTimeout(timer) }
}
