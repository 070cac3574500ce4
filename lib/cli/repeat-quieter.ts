/**
 * A line said again and again is written once per interval: a full disk
 * fails every put, a down store every poll, and a server's stderr must stay
 * readable (and its disk, if stderr goes to a file) while the failure lasts.
 * The next time the line is written it says how many times it was held back.
 */

/** How many distinct lines are remembered; past it the memory starts over (every line is then new). */
const REMEMBERED = 100

export function quietRepeats (write: (line: string) => void, everyMs: number, now: () => number = Date.now): (line: string) => void {
  const seen = new Map<string, { at: number, held: number }>()
  return (line) => {
    const t = now()
    const last = seen.get(line)
    if (last !== undefined && t - last.at < everyMs) {
      last.held++
      return
    }
    if (last === undefined && seen.size >= REMEMBERED) seen.clear()
    const held = last?.held ?? 0
    write(held === 0 ? line : `${line} (${held} more since ${new Date(last?.at ?? t).toISOString()}, not shown)`)
    seen.set(line, { at: t, held: 0 })
  }
}
