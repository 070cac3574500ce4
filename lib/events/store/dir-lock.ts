/**
 * One server per data directory: two processes appending to one log and
 * swapping one index would lose events. `serve.pid` names the owner; a
 * file left by a process that is gone (a crash, a kill) is taken over.
 * The shipper's spill takes its directory the same way (`.ship.pid`): two
 * runs replaying one spill would each send its events.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { ShoeboxError } from '../../errors.js'
import { ioError, orIoError } from '../../fs/io-error.js'
import { isAlive } from '../../roll/names.js'

export const LOCK_FILE = 'serve.pid'

/** Take the directory for this process; resolves to the release function. */
export async function lockDir (dir: string, lock: { file: string, what: string, who: string } = { file: LOCK_FILE, what: 'event store', who: 'shoebox serve' }): Promise<() => Promise<void>> {
  const file = path.join(dir, lock.file)
  const mine = `${process.pid}\n`
  try {
    await fs.writeFile(file, mine, { flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(err, 'cannot lock', file)
    const owner = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim())
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new ShoeboxError('SHOEBOX_IO', `${lock.what} ${dir} is in use by process ${owner} (if that is not a ${lock.who}, remove ${file})`)
    }
    await orIoError(fs.writeFile(file, mine), 'cannot lock', file)
  }
  return async () => {
    if (await fs.readFile(file, 'utf8').catch(() => '') === mine) await fs.unlink(file).catch(() => {})
  }
}
