/**
 * The archives a glob names, listed through a Store: a local glob is a
 * FileStore at the pattern's literal directory, 's3://bucket/logs/**\/*.gz'
 * the bucket's store with the pattern 'logs/**\/*.gz' over its keys. One
 * lister serves both: it asks the store only for keys under the pattern's
 * literal prefix (so 'logs/2024/**' never reads the rest of the tree or
 * bucket), then matches the rest against keys relative to the store's root
 * (not './'-prefixed joins, the original shoebox's bug). Temporary files of
 * writers (dotfiles) are not matched unless the pattern asks for them, but
 * the lister tells the follow gate about them.
 */
import path from 'node:path'
import { parseTempName } from '../roll/names.js'
import { ShoeboxError } from '../errors.js'
import { FileStore } from '../store/file-store.js'
import { literalPrefix } from '../store/keys.js'
import { isRemote, openStore, type StoreOptions } from '../store/open-store.js'
import type { Store } from '../store/store.js'
import type { ListedFile } from './order.js'

export interface GlobRoot {
  /** Directory to walk, or the store's URL. */
  root: string
  /** Pattern relative to root, '/'-separated. */
  pattern: string
}

/** A glob opened on its store. */
export interface StoreGlob extends GlobRoot {
  store: Store
  /** How events and errors name an object: a local file's path, a remote object's URL. */
  where: (key: string) => string
}

export interface OpenGlobOptions {
  /** Directory relative patterns are resolved against. Default process.cwd(). */
  cwd?: string
  /** For an s3:// pattern: endpoint, region, credentials... (see openStore). */
  storeOptions?: StoreOptions
}

/**
 * The store a pattern reads from and the glob over its keys. Names (keys)
 * are relative to the local glob's literal directory, and to the bucket (or
 * the URL's bucket) for s3://, as positions have always named them.
 */
export function openGlob (pattern: string, options: OpenGlobOptions = {}): StoreGlob {
  if (isRemote(pattern)) {
    const [, scheme, bucket, rest] = /^([^:]+):\/\/([^/]*)\/?(.*)$/.exec(pattern) as RegExpExecArray
    const store = openStore(`${scheme}://${bucket}`, options.storeOptions)
    return { store, root: store.url, pattern: rest === '' ? '**' : rest, where: (key) => `${store.url}/${key}` }
  }
  const glob = splitGlob(localPattern(pattern), options.cwd)
  // Files others named: every name the platform allows is read.
  const store = new FileStore(glob.root, { platformNames: true })
  return { store, ...glob, where: (key) => path.join(store.root, ...key.split('/')) }
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

/** A local path of a 'file://' URL or a plain path. */
export function localPattern (pattern: string): string {
  return pattern.startsWith('file://') ? decodeURIComponent(new URL(pattern).pathname) : pattern
}

/**
 * The objects matching the glob, in the store's (key) order. With `sealing`,
 * also collect the final names of shoebox writers' temporary files
 * ('.<final>~host~pid.part') whose final name matches: a file that appears
 * under such a name was sealed whole by a link.
 */
export async function listGlob (glob: StoreGlob, sealing?: Set<string>): Promise<ListedFile[]> {
  // Loaded here, not at import: a command that lists nothing does not pay for it.
  const { Minimatch } = await import('minimatch')
  // Compiled once, not per key (minimatch() compiles its pattern on every call).
  const matcher = new Minimatch(glob.pattern)
  const out: ListedFile[] = []
  for await (const object of glob.store.list(literalPrefix(glob.pattern))) {
    const name = object.key
    if (sealing !== undefined) {
      const slash = name.lastIndexOf('/') + 1
      const temp = parseTempName(name.slice(slash))
      if (temp !== undefined && matcher.match(name.slice(0, slash) + temp.finalName)) sealing.add(name.slice(0, slash) + temp.finalName)
    }
    if (!matcher.match(name)) continue
    out.push({ name, path: glob.where(name), size: object.size, mtimeMs: object.mtimeMs ?? object.mtime.getTime(), etag: object.etag })
  }
  return out
}

/** The files under a local directory matching a glob (listGlob over a FileStore there). */
export async function listFiles (glob: GlobRoot, sealing?: Set<string>): Promise<ListedFile[]> {
  const store = new FileStore(glob.root, { platformNames: true })
  return await listGlob({ store, ...glob, where: (key) => path.join(store.root, ...key.split('/')) }, sealing)
}

/** A pattern that matches no file (read, ls, unpack): an error unless following, so a typo is never an empty success. */
export function noArchiveMatches (pattern: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_NOT_FOUND', `no archive matches ${pattern}`)
}
