/**
 * Retrying an async operation with exponential backoff: the one loop the
 * sealed-file uploader uses, and the event shipper will.
 *
 * The pause after try n is drawn from [ceiling/2, ceiling], ceiling being
 * baseDelay x 2^(n-1) capped at maxDelay ("equal jitter"): never less than
 * half the planned backoff, so a failing server is not hammered, yet spread
 * out, so many clients that failed together do not come back together.
 *
 * An abort signal ends a pause at once and starts no further try; the
 * operation gets the signal too, to stop what it is doing. Sleep and random
 * are injectable, so tests check every delay without waiting.
 */
import { setTimeout as sleepFor } from 'node:timers/promises'
import { durationOption, positiveCount, timerMs } from '../units.js'

export interface RetryEvent {
  /** The error of the try that failed. */
  error: unknown
  /** That try's number, from 1. */
  attempt: number
  /** The pause before the next try, ms. */
  delayMs: number
}

export interface RetryOptions {
  /** Tries in all, the first included. Default 3. */
  attempts?: number
  /** The pause ceiling after the first try (ms or '1s'); doubled after each further one. Default 1000. */
  baseDelay?: number | string
  /** The largest pause ceiling (ms or '30s'; Infinity for none). Default 30000. */
  maxDelay?: number | string
  /** Stops a pause at once and starts no further try. */
  signal?: AbortSignal
  /** Whether a failure is worth another try. Default: every failure is. */
  retryable?: (error: unknown, attempt: number) => boolean
  /** Called after a failed try that will be retried, before the pause (events, statistics). */
  onRetry?: (event: RetryEvent) => void
  /** Pause for `ms` (tests inject their own). Must reject when `signal` aborts. Default: timers/promises setTimeout. */
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>
  /** A number in [0, 1) (tests inject their own). Default Math.random. */
  random?: () => number
}

/** The pause after failed try `attempt` (1-based): in [ceiling/2, ceiling], ceiling = min(maxDelay, baseDelay x 2^(attempt-1)). */
export function backoffDelay (attempt: number, baseDelay: number, maxDelay: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelay, baseDelay * 2 ** (attempt - 1))
  return ceiling / 2 + random() * ceiling / 2
}

async function defaultSleep (ms: number, signal: AbortSignal | undefined): Promise<void> {
  await sleepFor(timerMs(ms), undefined, { signal })
}

/**
 * Run `operation` until it succeeds, a failure is not retryable, the tries
 * are used up (the last failure is thrown, as it was), or `signal` aborts
 * (its reason is thrown; if a try was running, that try's own error).
 */
export async function retry<T> (operation: (attempt: number, signal: AbortSignal | undefined) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = positiveCount(options.attempts, 3, 'attempts')
  const baseDelay = durationOption(options.baseDelay, 1000, 'baseDelay')
  const maxDelay = options.maxDelay === Infinity ? Infinity : durationOption(options.maxDelay, 30_000, 'maxDelay')
  const { signal } = options
  const sleep = options.sleep ?? defaultSleep
  const random = options.random ?? Math.random
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted()
    try {
      return await operation(attempt, signal)
    } catch (error) {
      if (attempt >= attempts || signal?.aborted === true) throw error
      if (options.retryable !== undefined && !options.retryable(error, attempt)) throw error
      const delayMs = backoffDelay(attempt, baseDelay, maxDelay, random)
      options.onRetry?.({ error, attempt, delayMs })
      await sleep(delayMs, signal)
    }
  }
}
