/**
 * The FILE arguments of decode, verify and upload as the files they stand
 * for. A directory stands for the files directly in it, as it does for read,
 * ls and unpack (source/glob.ts): its listing through its store (writers'
 * temporary dotfiles left out), in natural name order, each named as
 * DIR/NAME. A file named twice (`a.shoebox ./a.shoebox`, or a file and its
 * directory, as `logs logs/*` expands) is taken once, where first named:
 * decode printed its records twice, and upload refused it as two files of
 * one name. '-' (stdin) stays, once: a second read of stdin reads nothing.
 */
import fs from 'node:fs'
import path from 'node:path'
import { usage } from './io.js'

/**
 * A directory with no file directly in it stays as itself, and is said in its turn when it is opened (`DIR: is a
 * directory with no files directly in it`), as a missing file is: verify's line for it among the others', the
 * files before it decoded or uploaded. An empty argument is a usage error.
 */
export async function filesOfArguments (names: string[]): Promise<string[]> {
  const files: string[] = []
  const seen = new Set<string>()
  const take = (file: string): void => {
    const identity = file === '-' ? file : path.resolve(file)
    if (seen.has(identity)) return
    seen.add(identity)
    files.push(file)
  }
  for (const name of names) {
    // An unset shell variable ("$LOG"): it named no file, and Node's line was 'cannot read : no such file'.
    if (name === '') throw usage("'' names no file (an empty argument: an unset shell variable?)")
    if (name === '-' || !isDirectory(name)) {
      take(name)
      continue
    }
    // Loaded for a directory only: files named one by one (verify of thousands) list nothing.
    const [{ listGlob, openGlob }, { comparator }] = await Promise.all([import('../source/list.js'), import('../source/order.js')])
    const { store, ...glob } = openGlob(name)
    try {
      const listed = (await listGlob({ store, ...glob })).sort(comparator('name'))
      if (listed.length === 0) take(name)
      for (const file of listed) take(path.join(name, ...file.name.split('/')))
    } finally {
      await store.close()
    }
  }
  return files
}

/** One stat per argument; a name that cannot be looked at (missing, unreadable) is said when it is opened, as before. */
function isDirectory (name: string): boolean {
  try {
    return fs.statSync(name, { throwIfNoEntry: false })?.isDirectory() === true
  } catch {
    return false
  }
}
