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
 *
 * The one walker of the library: FileStore lists with walkNames() (all at
 * once, then sorted by key); the metadir's sources walk() lazily, each
 * directory in sorted order and with names skipped, as mmmeta's os.walk.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'

/** A name found by the walk. */
export interface WalkedName {
  /** '/'-separated and relative to the root. */
  name: string
  /** Its path as text: the root joined with the decoded names (what a message names). */
  file: string
  /** The path to open it by: a Buffer where some part of the name is not UTF-8 (its decoded name opens nothing). */
  path: string | Buffer
  /** What the directory says it is; a symbolic link is not followed (it may name a file, a directory, or nothing). */
  kind: 'file' | 'symlink' | 'other'
}

/** A failure to read a directory of the walk (EACCES...): the errno error, and which directory. */
export interface WalkFailure extends NodeJS.ErrnoException {
  /** The directory, relative to the root ('' for the root itself). */
  dir: string
}

export interface WalkOptions {
  /** At most this many segments deep: directories deeper are not read. Default: no limit. */
  depth?: number
  /**
   * Each directory's names in code-unit order of their decoded text, a
   * directory's names where its own name sorts (os.walk's order, sorted, as
   * mmmeta lists files); else in the order the directory gives them.
   */
  sorted?: boolean
  /** A name to pass over (a directory with everything under it): its own name, and its path as text. */
  skip?: (name: string, file: string) => boolean
}

const SEP = Buffer.from(path.sep)

interface Pending {
  found: WalkedName
  depth: number
  isDirectory: boolean
}

/**
 * Every name below `root` that is not a directory (files, links, and the
 * rest: the caller stats them), depth first, as the caller reads them: a
 * directory is read when the walk reaches it. A root that does not exist,
 * or is not a directory, has none (ENOENT and ENOTDIR are thrown, for the
 * caller to decide).
 */
export async function * walk (root: string, options: WalkOptions = {}): AsyncGenerator<WalkedName> {
  const { depth = Infinity, sorted = false, skip } = options
  const pending: Pending[] = [{ found: { name: '', file: root, path: root, kind: 'other' }, depth: 0, isDirectory: true }]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (!next.isDirectory) {
      yield next.found
      continue
    }
    const dir = next.found
    let entries
    try {
      entries = await fsp.readdir(dir.path, { withFileTypes: true, encoding: 'buffer' })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      // Gone, or replaced by a file, since its parent was read: nothing in it to list.
      if (dir.name !== '' && (code === 'ENOENT' || code === 'ENOTDIR')) continue
      throw Object.assign(err as Error, { dir: dir.name })
    }
    const named = entries.map((entry) => {
      const raw = entry.name as unknown as Buffer
      return { entry, raw, text: raw.toString() }
    })
    if (sorted) named.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))
    const children: Pending[] = []
    for (const { entry, raw, text } of named) {
      const file = path.join(dir.file, text)
      if (skip?.(text, file) === true) continue
      // U+FFFD stands for bytes that are not UTF-8, unless the name really holds one (EF BF BD).
      const exact = !text.includes('\uFFFD') || Buffer.from(text).equals(raw)
      const found: WalkedName = {
        name: dir.name === '' ? text : `${dir.name}/${text}`,
        file,
        path: exact && typeof dir.path === 'string' ? file : Buffer.concat([Buffer.from(dir.path), SEP, raw]),
        kind: entry.isFile() ? 'file' : entry.isSymbolicLink() ? 'symlink' : 'other'
      }
      const isDirectory = entry.isDirectory()
      if (!isDirectory || next.depth + 1 < depth) children.push({ found, depth: next.depth + 1, isDirectory })
    }
    // Last to first: the stack gives them back in order.
    for (let i = children.length - 1; i >= 0; i--) pending.push(children[i])
  }
}

/** walk()'s names at most `depth` segments deep, all at once, in no particular order. */
export async function walkNames (root: string, depth = Infinity): Promise<WalkedName[]> {
  const out: WalkedName[] = []
  for await (const found of walk(root, { depth })) out.push(found)
  return out
}
