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
 * Memory: one node per path segment of the files restored (shared by paths
 * that share a directory).
 */
import { ShoeboxError } from '../errors.js'

interface Claim {
  /** The record's path. */
  path: string
  /** Where it came from: archive (and byte offset). */
  where: string
}

/**
 * One path segment of the claims: a tree, so that a path of d segments costs
 * d nodes. Keyed by the joined prefixes ('a', 'a/a', 'a/a/a', ...), the
 * claims held the square of a path's length: a 200 KB path of 100,000
 * segments in a hostile archive ran unpack out of memory.
 */
interface Node {
  /** The file restored (or being restored) at this path. */
  file?: Claim
  /** The first file that needed this path as a directory. */
  dirFor?: Claim
  children?: Map<string, Node>
}

export class PathClaims {
  readonly #overwrite: boolean
  readonly #root: Node = {}

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
    const segments = rel.split('/')
    // Checked all the way down before anything is taken: a refused record claims nothing.
    let node: Node | undefined = this.#root
    for (let i = 0; i < segments.length - 1 && node !== undefined; i++) {
      node = node.children?.get(segments[i])
      if (node?.file !== undefined) {
        throw refuse(`${JSON.stringify(segments.slice(0, i + 1).join('/'))} is a file from ${node.file.where}, and cannot also be a directory`)
      }
    }
    const at = node?.children?.get(segments[segments.length - 1])
    if (at?.dirFor !== undefined) {
      throw refuse(`it is a directory for ${JSON.stringify(at.dirFor.path)} from ${at.dirFor.where}, and cannot also be a file`)
    }
    const claim = { path: rel, where }
    if (at?.file !== undefined) {
      if (!this.#overwrite) throw refuse(`the same path is in ${at.file.where} (overwrite lets the later replace the earlier)`)
      at.file = claim
      return true
    }
    node = this.#root
    for (let i = 0; i < segments.length; i++) {
      node.children ??= new Map()
      let child = node.children.get(segments[i])
      if (child === undefined) node.children.set(segments[i], child = {})
      if (i < segments.length - 1) child.dirFor ??= claim
      else child.file = claim
      node = child
    }
    return false
  }
}
