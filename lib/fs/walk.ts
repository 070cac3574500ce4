/**
 * The names below a directory other programs own and change while it is
 * walked, as a user of find(1) or of a shell's `**` expects them:
 *
 * - A symbolic link is listed where it is (a link to a file reads that file),
 *   but a linked directory is not descended into: a link to '..' or to another
 *   part of the tree would list the same files again. Node's recursive readdir
 *   follows such links, 40 levels deep: every file under a loop was read about
 *   20 times, and two loops listed names until the heap (4 GB) ran out.
 *   The walk's own root may be a link: it is the directory the caller named.
 * - A directory that disappears while the walk goes on (a cleaner, a rename)
 *   holds nothing left to list and is passed over; a recursive readdir failed
 *   on it as a whole, and the store took its ENOENT for "no directory": an
 *   empty listing.
 * - A name that is not valid UTF-8 is listed as it decodes (each bad byte as
 *   U+FFFD), with the bytes that open it: a string path would name no file,
 *   and the file was skipped without a word.
 *
 * Any other failure (a directory that cannot be read) fails the walk; the
 * error carries the directory's name.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'

/** A name found by the walk: '/'-separated and relative to the root, and the path to open it by. */
export interface WalkedName {
  name: string
  /** A Buffer where some part of the name is not UTF-8 (its decoded name opens nothing). */
  path: string | Buffer
}

/** A failure to read a directory of the walk (EACCES...): the errno error, and which directory. */
export interface WalkFailure extends NodeJS.ErrnoException {
  /** The directory, relative to the root ('' for the root itself). */
  dir: string
}

const SEP = Buffer.from(path.sep)

/**
 * Every name below `root` that is not a directory (files, links, and the
 * rest: the caller stats them), at most `depth` segments deep (directories
 * deeper are not read), depth first, in no particular order. A root that
 * does not exist, or is not a directory, has none (ENOENT and ENOTDIR are
 * thrown, for the caller to decide).
 */
export async function walkNames (root: string, depth = Infinity): Promise<WalkedName[]> {
  const out: WalkedName[] = []
  const pending: Array<WalkedName & { depth: number }> = [{ name: '', path: root, depth: 0 }]
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    let entries
    try {
      entries = await fsp.readdir(dir.path, { withFileTypes: true, encoding: 'buffer' })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // Gone, or replaced by a file, since its parent was read: nothing in it to list.
      if (dir.name !== '' && (code === 'ENOENT' || code === 'ENOTDIR')) continue
      throw Object.assign(err as Error, { dir: dir.name })
    }
    for (const entry of entries) {
      const raw = entry.name as unknown as Buffer
      const text = raw.toString()
      // U+FFFD stands for bytes that are not UTF-8, unless the name really holds one (EF BF BD).
      const exact = !text.includes('\uFFFD') || Buffer.from(text).equals(raw)
      const name = dir.name === '' ? text : `${dir.name}/${text}`
      const found = {
        name,
        depth: dir.depth + 1,
        path: exact && typeof dir.path === 'string' ? path.join(dir.path, text) : Buffer.concat([Buffer.from(dir.path), SEP, raw])
      }
      if (!entry.isDirectory()) out.push({ name: found.name, path: found.path })
      else if (found.depth < depth) pending.push(found)
    }
  }
  return out
}
