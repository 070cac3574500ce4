/**
 * A wall clock stepped back, as NTP or a resumed VM steps it: Date.now()
 * reads true the first time, then `ms` behind. Durations counted on it
 * come out negative; those counted on the monotonic clock do not. Put
 * back at the test's end, or earlier with the function returned.
 */
import type { Test } from 'tap'

export function stepWallClockBack (t: Test, ms = 3_600_000): () => void {
  const wallNow = Date.now
  const restore = (): void => { Date.now = wallNow }
  t.teardown(restore)
  let read = false
  Date.now = () => {
    const now = wallNow() - (read ? ms : 0)
    read = true
    return now
  }
  return restore
}

/**
 * A wall clock stepped `ms` ahead (a bad NTP step, a VM restored with a
 * wrong RTC): Date.now() reads `ms` ahead from now on. Put back at the
 * test's end, or earlier with the function returned.
 */
export function stepWallClockAhead (t: Test, ms: number): () => void {
  const wallNow = Date.now
  const restore = (): void => { Date.now = wallNow }
  t.teardown(restore)
  Date.now = () => wallNow() + ms
  return restore
}
