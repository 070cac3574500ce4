/**
 * A line said again and again is written once per interval: a full disk
 * fails every put, a down store every poll, and a server's stderr must stay
 * readable (and its disk, if stderr goes to a file) while the failure lasts.
 * The next time the line is written it says how many times it was held back.
 */

/** How many distinct lines are remembered; past it the memory starts over (every line is then new). */
const REMEMBERED = 100

/**
 * `now` measures the interval (monotonic: on the wall clock, one stepped back by NTP held every repeat of a
 * failing server's line for as long as the step); `wallNow` is the time a line says it was last shown.
 */
export function quietRepeats (write: (line: string) => void, everyMs: number, now: () => number = () => performance.now(),
  wallNow: () => number = Date.now): (line: string) => void {
  const seen = new Map<string, { at: number, shownAt: number, held: number }>()
  return (line) => {
    const t = now()
    const last = seen.get(line)
    if (last !== undefined && t - last.at < everyMs) {
      last.held++
      return
    }
    if (last === undefined && seen.size >= REMEMBERED) seen.clear()
    const held = last?.held ?? 0
    const shownAt = wallNow()
    write(held === 0 ? line : `${line} (${held} more since ${new Date(last?.shownAt ?? shownAt).toISOString()}, not shown)`)
    seen.set(line, { at: t, shownAt, held: 0 })
  }
}
