/**
 * The paths one unpack has taken, so that records agree with each other
 * before any of them is written. Without this an archive holding `fd` (a
 * file) and later `fd/child` let the child's directory win and failed `fd`
 * with a bare EISDIR, or, in the other order, failed the child on a file in
 * the way; which one happened depended on which write ran first, since
 * files are written several at once. Now the later record of such a pair is
 * refused by name (SHOEBOX_BAD_KEY, naming both paths and where each is)
 * before it is written, whatever the order and whatever is on disk.
 *
 * The same path twice (two packs of one tree unpacked together, say) is
 * refused too, unless `overwrite`: then the later record replaces the
 * earlier, just as it would replace a file that was there before.
 *
 * Paths are compared as written in the records (after unpack's checks, so
 * '/'-separated with no '.' or '..'); two that differ only in case or in
 * Unicode normalisation are not caught here on a filesystem that folds
 * them, and end as one file (the later, with overwrite).
 *
 * Memory: one entry per file and per directory restored.
 */
import { ShoeboxError } from '../errors.js'

interface Claim {
  /** The record's path. */
  path: string
  /** Where it came from: archive (and byte offset). */
  where: string
}

export class PathClaims {
  readonly #overwrite: boolean
  /** Files restored (or being restored), by path. */
  readonly #files = new Map<string, Claim>()
  /** Directories needed by those files, by path: the first file that needed each. */
  readonly #dirs = new Map<string, Claim>()

  constructor (overwrite: boolean) {
    this.#overwrite = overwrite
  }

  /**
   * Take `rel` for the record at `where`, or throw SHOEBOX_BAD_KEY if an
   * earlier record conflicts with it. Returns true for a path taken before
   * (allowed only with overwrite): the later record replaces the earlier.
   */
  claim (rel: string, where: string): boolean {
    const refuse = (why: string): ShoeboxError =>
      new ShoeboxError('SHOEBOX_BAD_KEY', `${where}: refusing path ${JSON.stringify(rel)}: ${why}; not written`)
    const below = this.#dirs.get(rel)
    if (below !== undefined) {
      throw refuse(`it is a directory for ${JSON.stringify(below.path)} from ${below.where}, and cannot also be a file`)
    }
    const segments = rel.split('/')
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/')
      const file = this.#files.get(dir)
      if (file !== undefined) {
        throw refuse(`${JSON.stringify(dir)} is a file from ${file.where}, and cannot also be a directory`)
      }
    }
    const earlier = this.#files.get(rel)
    if (earlier !== undefined) {
      if (!this.#overwrite) throw refuse(`the same path is in ${earlier.where} (overwrite lets the later replace the earlier)`)
      this.#files.set(rel, { path: rel, where })
      return true
    }
    const claim = { path: rel, where }
    this.#files.set(rel, claim)
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/')
      if (!this.#dirs.has(dir)) this.#dirs.set(dir, claim)
    }
    return false
  }
}
