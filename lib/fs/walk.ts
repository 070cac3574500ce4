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
 * - A name whose listing gives no type (some filesystems do not) is asked
 *   for it (lstat, following no link): else a directory there was listed as
 *   'other' and not descended into. One gone before it is asked is passed over.
 *
 * Any other failure (a directory that cannot be read) fails the walk; the
 * error carries the directory's name. `onUnreadable` may decide otherwise
 * (pack() skips such a directory when asked, and says so).
 *
 * The one walker of the library: FileStore lists with walkNames() (all at
 * once, then sorted by key); the metadir's sources walk() lazily, each
 * directory in sorted order and with names skipped, as mmmeta's os.walk;
 * pack() walks sorted, pruning the directories no include glob reaches.
 */
import type { Dirent } from 'node:fs'
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
  /**
   * A name to pass over (a directory with everything under it): its own
   * name, its path as text, and its name from the root ('/'-separated) and
   * whether it is a directory (not a link to one).
   */
  skip?: (name: string, file: string, entry: { name: string, directory: boolean }) => boolean
  /**
   * A directory that cannot be read (the root's `dir` is ''): 'skip' passes
   * over it, 'fail' fails the walk with `failure` (or throw another error).
   * Default: one below the root that is gone (ENOENT, ENOTDIR: removed, or
   * replaced by a file, since its parent was read) is skipped, as it has
   * nothing left to list; any other fails.
   */
  onUnreadable?: (failure: WalkFailure) => 'skip' | 'fail'
  /**
   * The bytes `root` was decoded from, when its text opens nothing (a directory named on the command line
   * whose name is not UTF-8, each bad byte as U+FFFD: fs/undecoded-path.ts). Every name below is opened by its bytes.
   */
  rootPath?: Buffer
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
  const { depth = Infinity, sorted = false, skip, onUnreadable = passOverGone, rootPath = root } = options
  const pending: Pending[] = [{ found: { name: '', file: root, path: rootPath, kind: 'other' }, depth: 0, isDirectory: true }]
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
      const failure: WalkFailure = Object.assign(err as NodeJS.ErrnoException, { dir: dir.name })
      if (onUnreadable(failure) === 'skip') continue
      throw failure
    }
    const named = entries.map((entry) => {
      const raw = entry.name as unknown as Buffer
      return { entry, raw, text: raw.toString() }
    })
    if (sorted) named.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))
    const children: Pending[] = []
    for (const { entry, raw, text } of named) {
      const file = path.join(dir.file, text)
      const name = dir.name === '' ? text : `${dir.name}/${text}`
      // U+FFFD stands for bytes that are not UTF-8, unless the name really holds one (EF BF BD).
      const exact = !text.includes('\uFFFD') || Buffer.from(text).equals(raw)
      const opens = exact && typeof dir.path === 'string' ? file : Buffer.concat([Buffer.from(dir.path), SEP, raw])
      const type = hasType(entry) ? entry : await fsp.lstat(opens).catch(() => undefined)
      if (type === undefined) continue // gone before it was asked
      const isDirectory = type.isDirectory()
      if (skip?.(text, file, { name, directory: isDirectory }) === true) continue
      const found: WalkedName = { name, file, path: opens, kind: type.isFile() ? 'file' : type.isSymbolicLink() ? 'symlink' : 'other' }
      if (!isDirectory || next.depth + 1 < depth) children.push({ found, depth: next.depth + 1, isDirectory })
    }
    // Last to first: the stack gives them back in order.
    for (let i = children.length - 1; i >= 0; i--) pending.push(children[i])
  }
}

/** The default of `onUnreadable`: a directory below the root that is gone has nothing left to list. */
function passOverGone (failure: WalkFailure): 'skip' | 'fail' {
  return failure.dir !== '' && (failure.code === 'ENOENT' || failure.code === 'ENOTDIR') ? 'skip' : 'fail'
}

/** Whether the listing said what `entry` is (DT_UNKNOWN: it says none of these). */
function hasType (entry: Pick<Dirent, 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isFIFO' | 'isSocket' | 'isBlockDevice' | 'isCharacterDevice'>): boolean {
  return entry.isFile() || entry.isDirectory() || entry.isSymbolicLink() || entry.isFIFO() || entry.isSocket() || entry.isBlockDevice() || entry.isCharacterDevice()
}

/** walk()'s names at most `depth` segments deep, all at once, in no particular order. */
export async function walkNames (root: string, depth = Infinity, rootPath?: Buffer): Promise<WalkedName[]> {
  const out: WalkedName[] = []
  for await (const found of walk(root, { depth, rootPath })) out.push(found)
  return out
}
