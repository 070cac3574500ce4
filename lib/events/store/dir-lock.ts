/**
 * One server per data directory: two processes appending to one log and
 * swapping one index would lose events. `serve.pid` names the owner; a
 * file left by a process that is gone (a crash, a kill) is taken over.
 * The shipper's spill takes its directory the same way (`.ship.pid`): two
 * runs replaying one spill would each send its events.
 *
 * Taken atomically: the pid is written whole to a file of this process's
 * own, then linked in (link() fails where the lock exists), and a stale
 * lock is moved aside under a name of this process's own before it is
 * taken, and put back if what moved was not the stale file read. Read,
 * check, overwrite let two processes started together after a crash both
 * take a stale lock (11 of 30 pairs did), and one starting while another
 * had created the file but not yet written its pid take it from a live one.
 */
import { randomBytes } from 'node:crypto'
import { constants as fsConstants } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { ShoeboxError } from '../../errors.js'
import { ioError } from '../../fs/io-error.js'
import { holderAlive, processStart } from '../../process-start.js'

export const LOCK_FILE = 'serve.pid'

/** Tries at taking a lock that others keep moving (each try sees a stale or missing lock); past this, the directory is said busy. */
const TRIES = 20

/**
 * Lock files this process holds with `inProcess`. The pid in the file cannot tell two holders in one
 * process apart: two shippers of one process on one spill directory both took it (a lock with its own
 * pid passes for one left by an earlier holder of this process) and both replayed it, sending every
 * spilled event twice. (The event store's lock leaves that to serve-events.ts, which refuses a second
 * server of a directory; its tests reopen a store they dropped, as a crash would leave it.)
 */
const HELD = new Set<string>()

interface Lock {
  file: string
  what: string
  who: string
  /** One holder in this process too, until released. */
  inProcess?: boolean
}

/** Take the directory for this process; resolves to the release function. */
export async function lockDir (dir: string, lock: Lock = { file: LOCK_FILE, what: 'event store', who: 'shoebox serve' }): Promise<() => Promise<void>> {
  const file = path.join(dir, lock.file)
  // By the directory's real path: through a symlink, the same directory was another.
  const key = path.join(await fs.realpath(dir).catch(() => path.resolve(dir)), lock.file)
  if (lock.inProcess === true) {
    if (HELD.has(key)) throw new ShoeboxError('SHOEBOX_IO', `${lock.what} ${dir} is in use by this process (a ${lock.who} not closed yet: close it first)`)
    HELD.add(key)
  }
  // The pid, and when this process started where that is known (process-start.ts: a pid comes back).
  const start = processStart(process.pid)
  const mine = start === undefined ? `${process.pid}\n` : `${process.pid} ${start}\n`
  let released = false
  const release = async (): Promise<void> => {
    if (released) return
    released = true
    if (await fs.readFile(file, 'utf8').catch(() => '') === mine) await fs.unlink(file).catch(() => {})
    HELD.delete(key)
  }
  // Dot-named: a spill's replay and a store's open pass over dot files.
  const own = path.join(dir, `.${lock.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    await fs.writeFile(own, mine)
  } catch (err) {
    HELD.delete(key)
    // A full disk fails the write after the file was made: it goes too.
    await fs.unlink(own).catch(() => {})
    throw ioError(err, 'cannot lock', file)
  }
  let taken = false
  try {
    for (let i = 0; i < TRIES; i++) {
      try {
        await linkIn(own, file)
        taken = true
        return release
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(err, 'cannot lock', file)
      }
      const seen = await fs.readFile(file, 'utf8').catch(() => undefined)
      // Gone meanwhile (its owner stopped, or another process is taking it over): try again.
      if (seen === undefined) continue
      const [pidText, ownerStart] = seen.trim().split(' ')
      const owner = Number(pidText)
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && holderAlive(owner, ownerStart)) {
        throw new ShoeboxError('SHOEBOX_IO', `${lock.what} ${dir} is in use by process ${owner} (if that is not a ${lock.who}, remove ${file})`)
      }
      await takeStale(file, seen, `${own}.stale`)
    }
    throw new ShoeboxError('SHOEBOX_IO', `${lock.what} ${dir} is being taken by other processes (its lock ${file} kept changing); try again`)
  } finally {
    if (!taken) HELD.delete(key)
    await fs.unlink(own).catch(() => {})
  }
}

/** `from` in place as `to`, failing with EEXIST where `to` exists; where hard links are not supported (vfat, some network shares), an exclusive copy. */
async function linkIn (from: string, to: string): Promise<void> {
  try {
    await fs.link(from, to)
  } catch (err) {
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err
    await fs.copyFile(from, to, fsConstants.COPYFILE_EXCL)
  }
}

/** Remove the stale lock `seen` was read from; if another process took the lock meanwhile, what was moved goes back. */
async function takeStale (file: string, seen: string, aside: string): Promise<void> {
  try {
    await fs.rename(file, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw ioError(err, 'cannot lock', file)
  }
  const moved = await fs.readFile(aside, 'utf8').catch(() => undefined)
  // Another process's lock, taken after the read: back in place (unless yet another took the name meanwhile).
  if (moved !== seen) await linkIn(aside, file).catch(() => {})
  await fs.unlink(aside).catch(() => {})
}
