/**
 * The archives a glob names, listed through the Store glob.ts opened it on
 * (a FileStore at a local pattern's literal directory, or the bucket's
 * store for s3://). One lister serves both: it asks the store only for keys under the pattern's
 * literal prefix (so 'logs/2024/**' never reads the rest of the tree or
 * bucket), then matches the rest against keys relative to the store's root
 * (not './'-prefixed joins, the original shoebox's bug). Temporary files of
 * writers (dotfiles) are not matched unless the pattern asks for them, but
 * the lister tells the follow gate about them. Empty folder markers ('a/b/')
 * are not archives.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parseTempName } from '../roll/names.js'
import { ShoeboxError } from '../errors.js'
import { FileStore } from '../store/file-store.js'
import { literalPrefix } from '../store/keys.js'
import { isRemote } from '../store/store-url.js'
import { escapeGlob, localPattern, type GlobRoot, type StoreGlob } from './glob.js'
import type { ListOptions } from '../store/store.js'
import type { ListedFile } from './order.js'

export { openGlob, splitGlob, localPattern, type GlobRoot, type StoreGlob, type OpenGlobOptions } from './glob.js'

/**
 * A file of a listing without sizes: its size, mtime and etag where the
 * store gave them anyway (S3, a link), else unknown until it is opened.
 */
export type ListedName = Omit<ListedFile, 'size' | 'mtimeMs'> & { size?: number, mtimeMs?: number }

/**
 * The objects matching the glob, in the store's (key) order. With `sealing`,
 * also collect the final names of shoebox writers' temporary files
 * ('.<final>~host~<writer>.part', roll/names.ts) whose final name matches: a file that appears
 * under such a name was sealed whole by a link. With `sizes` false, the
 * store may leave out what it would look each file up for (ListOptions.sizes);
 * given as a function, only for the keys it says false for (a follower's
 * files that cannot change).
 */
export async function listGlob (glob: StoreGlob, sealing?: Set<string>, sizes?: true): Promise<ListedFile[]>
export async function listGlob (glob: StoreGlob, sealing: Set<string> | undefined, sizes: ListOptions['sizes']): Promise<ListedName[]>
export async function listGlob (glob: StoreGlob, sealing?: Set<string>, sizes: ListOptions['sizes'] = true): Promise<ListedName[]> {
  // Loaded here, not at import: a command that lists nothing does not pay for it.
  const { Minimatch, GLOBSTAR } = await import('minimatch')
  // Compiled once, not per key (minimatch() compiles its pattern on every call).
  const matcher = new Minimatch(glob.pattern)
  const out: ListedName[] = []
  // A pattern with no wildcard that names a prefix of keys (`shoebox read s3://b/events`): with no key of that
  // name, it stands for the objects directly under it, as a local directory does for its files (glob.ts).
  const folder = MAGIC_CHARS.test(glob.pattern) ? undefined : glob.pattern.replace(/\/+$/, '') + '/'
  const inFolderMatcher = folder !== undefined && isRemote(glob.root) ? new Minimatch(escapeGlob(folder) + '*') : undefined
  const inFolderFiles: ListedName[] = []
  // On S3 such a pattern is listed from itself (a key prefix is text): from its parent, 's3://b/events' listed
  // every object of the bucket to find one key. (A directory store lists directories.)
  const prefix = folder !== undefined && isRemote(glob.root) ? glob.pattern : literalPrefix(glob.pattern)
  let inFolder = false
  /** A writer's temporary file whose final name matches: its final name (sealed by a link when it appears). */
  const sealedAs = (name: string): string | undefined => {
    const slash = name.lastIndexOf('/') + 1
    const temp = parseTempName(name.slice(slash))
    return temp !== undefined && matcher.match(name.slice(0, slash) + temp.finalName) ? name.slice(0, slash) + temp.finalName : undefined
  }
  // The store need not look deeper than the pattern reaches ('*.gz' never walks the subdirectories), nor at other files.
  const options = {
    depth: matcher.negate ? Infinity : patternDepth(matcher.set, GLOBSTAR) - (prefix.split('/').length - 1),
    want: (name: string) => matcher.match(name) || (sealing !== undefined && sealedAs(name) !== undefined),
    sizes
  }
  for await (const object of glob.store.list(prefix, options)) {
    const name = object.key
    // A folder marker (an empty 'logs/2024/', as S3 consoles create for a folder) is no archive, as a
    // directory is none: '**' matched it, and the read failed on its key. One that holds bytes is read (and refused).
    if (folder !== undefined && name.startsWith(folder)) inFolder = true
    if (name.endsWith('/') && object.size === 0) continue
    if (sealing !== undefined) {
      const sealed = sealedAs(name)
      if (sealed !== undefined) sealing.add(sealed)
    }
    const listed = { name, path: glob.where(name), size: object.size, mtimeMs: object.mtimeMs ?? object.mtime?.getTime(), etag: object.etag }
    if (inFolderMatcher?.match(name) === true) inFolderFiles.push(listed)
    if (!matcher.match(name)) continue
    out.push(listed)
  }
  if (out.length === 0 && inFolderFiles.length > 0) return inFolderFiles
  if (inFolder && out.length === 0) namesAFolder.add(out)
  return out
}

/** Characters with a meaning in a glob (glob.ts). */
const MAGIC_CHARS = /[*?[\]{}!()+@]/

/** Empty listings whose pattern named a prefix that holds objects (a remote "directory"), for noArchiveMatches(). */
const namesAFolder = new WeakSet<object>()

/** The most segments a key the pattern matches can have (of each of its brace expansions), or Infinity where one has a '**'. */
function patternDepth (set: ReadonlyArray<readonly unknown[]>, globstar: symbol): number {
  let depth = 0
  for (const parts of set) {
    if (parts.includes(globstar)) return Infinity
    depth = Math.max(depth, parts.length)
  }
  return depth
}

/** The files under a local directory matching a glob (listGlob over a FileStore there). */
export async function listFiles (glob: GlobRoot, sealing?: Set<string>): Promise<ListedFile[]> {
  const store = new FileStore(glob.root, { platformNames: true })
  return await listGlob({ store, ...glob, where: (key) => path.join(store.root, ...key.split('/')) }, sealing)
}

/**
 * A pattern that matches no file (read, ls, unpack): an error unless
 * following, so a typo is never an empty success. A local directory given
 * as the pattern stands for the files directly in it (glob.ts): here it
 * held none, and the line says so.
 */
export function noArchiveMatches (pattern: string, listed?: object): ShoeboxError {
  // On S3 too: `shoebox read s3://b/events` matched the key 'events' only, and said nothing of events/'s objects.
  const hint = isLocalDirectory(pattern)
    ? ' (a directory with no files directly in it)'
    : listed !== undefined && namesAFolder.has(listed) ? ' (a prefix with no objects directly under it)' : ''
  return new ShoeboxError('SHOEBOX_NOT_FOUND', `no archive matches ${pattern}${hint}`)
}

function isLocalDirectory (pattern: string): boolean {
  if (isRemote(pattern)) return false
  try {
    return fs.statSync(localPattern(pattern)).isDirectory()
  } catch {
    return false
  }
}
