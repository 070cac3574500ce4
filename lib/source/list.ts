/**
 * Listing the files a glob names, relative to a root directory. The walk
 * starts at the pattern's longest literal prefix, so 'logs/2024/**' never
 * reads the rest of the tree, and matches against paths relative to the root
 * (not './'-prefixed joins, the original shoebox's bug). Temporary files of
 * writers (dotfiles) are not matched unless the pattern asks for them.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { parseTempName } from '../roll/names.js'
import { ShoeboxError } from '../errors.js'
import type { ListedFile } from './order.js'

export interface GlobRoot {
  /** Directory to walk. */
  root: string
  /** Pattern relative to root, '/'-separated. */
  pattern: string
}

/** Split an (absolute or relative) glob into the directory to walk and the pattern below it. */
export function splitGlob (pattern: string, cwd = process.cwd()): GlobRoot {
  const absolute = path.resolve(cwd, pattern).split(path.sep).join('/')
  const segments = absolute.split('/')
  let literal = 0
  while (literal < segments.length - 1 && !/[*?[\]{}!()+@]/.test(segments[literal])) literal++
  const root = segments.slice(0, literal).join('/') || '/'
  return { root, pattern: segments.slice(literal).join('/') }
}

/**
 * The files matching the glob. With `sealing`, also collect the final names of
 * shoebox writers' temporary files ('.<final>~host~pid.part') whose final name
 * matches: a file that appears under such a name was sealed whole by a link.
 */
export async function listFiles (glob: GlobRoot, sealing?: Set<string>): Promise<ListedFile[]> {
  let entries: string[]
  try {
    entries = await fs.readdir(glob.root, { recursive: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  // Loaded here, not at import: a command that lists nothing does not pay for it.
  const { minimatch } = await import('minimatch')
  const out: ListedFile[] = []
  for (const entry of entries) {
    const name = entry.split(path.sep).join('/')
    if (sealing !== undefined) {
      const slash = name.lastIndexOf('/') + 1
      const temp = parseTempName(name.slice(slash))
      if (temp !== undefined && minimatch(name.slice(0, slash) + temp.finalName, glob.pattern)) sealing.add(name.slice(0, slash) + temp.finalName)
    }
    if (!minimatch(name, glob.pattern)) continue
    const full = path.join(glob.root, entry)
    let stat
    try {
      stat = await fs.stat(full)
    } catch {
      continue // gone between the listing and the stat (a writer sealing, a cleaner)
    }
    if (!stat.isFile()) continue
    out.push({ name, path: full, size: stat.size, mtimeMs: stat.mtimeMs })
  }
  return out
}

/** A pattern that matches no file (read, ls, unpack): an error unless following, so a typo is never an empty success. */
export function noArchiveMatches (pattern: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_NOT_FOUND', `no archive matches ${pattern}`)
}
