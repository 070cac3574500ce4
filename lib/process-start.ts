/**
 * Which process a pid names: a pid comes back. A lock that records only its
 * holder's pid (serve.pid, .ship.pid, .publish.lock) was held for good by
 * an unrelated process that got the pid after the holder was killed (a
 * reboot, a kill long ago): `serve` refused to start, `meta generate` waited
 * and failed, each time, until someone removed the file by hand. A lock
 * also records this: the boot and the moment, in clock ticks since boot, at
 * which the process started (Linux's /proc/PID/stat, field 22), which no
 * clock step changes and no later process with the pid shares.
 *
 * A writer's files record it too (a temporary name's writer, roll/names.ts;
 * an upload marker): a killed writer's file whose pid came back was taken
 * for a live writer's for good, never recovered nor removed.
 *
 * Where /proc is not there (macOS, Windows) it is unknown, and a live pid
 * counts as the holder, as before.
 */
import fs from 'node:fs'

/** Where /proc is read from: always '/proc', but for the tests of a system without it (setProcRoot). */
let procRoot = '/proc'
let bootId: string | null | undefined
let own: string | null | undefined

/**
 * For tests only (not exported by the package): read /proc from `root`, a
 * directory with nothing in it or one that is not there standing for a
 * system without /proc. Forgets what was read from the one before.
 */
export function setProcRoot (root: string): void {
  procRoot = root
  bootId = undefined
  own = undefined
}

/** This boot's id (Linux), or null. */
function boot (): string | null {
  if (bootId === undefined) {
    try {
      bootId = fs.readFileSync(`${procRoot}/sys/kernel/random/boot_id`, 'utf8').trim()
    } catch {
      bootId = null
    }
  }
  return bootId
}

/** `<boot id>:<start ticks>` of the running process `pid`, or undefined where that cannot be read (no /proc, no such process). */
export function processStart (pid: number): string | undefined {
  const id = boot()
  if (id === null || id === '') return undefined
  let stat: string
  try {
    stat = fs.readFileSync(`${procRoot}/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2, in parentheses) may hold spaces and parentheses: the fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Field 22 of the line, the 20th after the name (fields 3 on).
  const ticks = fields[19]
  return ticks !== undefined && /^\d+$/.test(ticks) ? `${id}:${ticks}` : undefined
}

/** processStart() of this process (read once: it never changes). */
export function ownStart (): string | undefined {
  own ??= processStart(process.pid) ?? null
  return own ?? undefined
}

/**
 * processStart() as a file name holds it (roll/names.ts): `<ticks>-<the boot
 * id's first 8 hex digits>`. The whole boot id made every temporary name 36
 * characters longer; 8 of its digits tell one boot from another as well.
 */
export function startInName (start: string): string {
  const colon = start.lastIndexOf(':')
  return `${start.slice(colon + 1)}-${start.slice(0, colon).replace(/-/g, '').slice(0, 8)}`
}

/**
 * Is the holder of a lock, or the writer of a file, that recorded `pid` and
 * `start` (processStart() when it began, or its startInName() form in a
 * name; undefined where unknown, or by a version that did not record it)
 * still running on this host? A live pid whose start differs is another
 * process that got the pid since: the holder is gone.
 */
export function holderAlive (pid: number, start: string | undefined): boolean {
  if (!isAlive(pid)) return false
  if (start === undefined || pid === process.pid) return true
  const now = processStart(pid)
  return now === undefined || start === (start.includes(':') ? now : startInName(now))
}

/** True if a process with this pid is running on this host (whichever process that is: see holderAlive). */
export function isAlive (pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
