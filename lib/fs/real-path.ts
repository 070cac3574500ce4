/**
 * The real path of a directory that may not exist yet: symbolic links (and
 * `..` through them) resolved as far as the path exists, the missing rest
 * appended as given. Two names of one directory compare equal by it, where
 * path.resolve() leaves an alias through a symbolic link looking like
 * another directory (an upload onto its own directory slipped through so,
 * and --delete-local deleted the only copy).
 */
import fs from 'node:fs'
import path from 'node:path'

export function realPathOf (name: string, links = 0): string {
  const absolute = path.resolve(name)
  try {
    return fs.realpathSync(absolute)
  } catch {
    const parent = path.dirname(absolute)
    if (parent === absolute) return absolute
    // A link to a directory not made yet (the sink makes it) names where it points; 40 links deep is a loop (ELOOP).
    const target = links < 40 ? readLink(absolute) : undefined
    if (target !== undefined) return realPathOf(path.resolve(parent, target), links + 1)
    // Missing (or unreadable): its parent's real path and this name.
    return path.join(realPathOf(parent, links), path.basename(absolute))
  }
}

function readLink (name: string): string | undefined {
  try {
    return fs.readlinkSync(name)
  } catch {
    return undefined
  }
}

/**
 * The root of `store` (as given) when it is a directory store whose
 * directory is `dir`, else undefined: another directory, or another kind of
 * store. By real paths, so a second name through a symbolic link is the same
 * directory. A store that keeps its objects in `dir` would take each file
 * there "uploaded" onto itself (its object the file), and with deleteLocal
 * delete the only copy: the uploader and `shoebox upload` refuse that here.
 * The store's `root` is read by shape (a FileStore's), so this module loads
 * no store code.
 */
export function directoryStoreAt (store: object, dir: string): string | undefined {
  const root = (store as { root?: unknown }).root
  return typeof root === 'string' && realPathOf(root) === realPathOf(dir) ? root : undefined
}
