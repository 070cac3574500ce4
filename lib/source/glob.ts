/**
 * A glob opened on the Store it reads from: a local glob is a FileStore at
 * the pattern's literal directory, 's3://bucket/logs/**\/*.gz' the bucket's
 * store with the pattern 'logs/**\/*.gz' over its keys. Synchronous, for
 * archiveSource()'s constructor; listing (list.ts) is loaded when a source
 * starts reading, not when the package is imported.
 */
import fs from 'node:fs'
import path from 'node:path'
import { FileStore } from '../store/file-store.js'
import { isRemote, openStore, type StoreOptions } from '../store/open-store.js'
import type { Store } from '../store/store.js'

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
  const glob = splitGlob(directoryAsItsFiles(localPattern(pattern), options.cwd), options.cwd)
  // Files others named: every name the platform allows is read.
  const store = new FileStore(glob.root, { platformNames: true })
  return { store, ...glob, where: (key) => path.join(store.root, ...key.split('/')) }
}

/** Characters with a meaning in a glob; a backslash before one (or before a backslash) makes it literal. */
const MAGIC = /[*?[\]{}!()+@]/
const ESCAPED = /\\([*?[\]{}!()+@\\])/g

/** `text` as a glob that matches exactly it, e.g. a directory named 'backup (1)'. */
export function escapeGlob (text: string): string {
  return text.replace(/[*?[\]{}!()+@\\]/g, '\\$&')
}

/** Split an (absolute or relative) glob into the directory to walk and the pattern below it. */
export function splitGlob (pattern: string, cwd = process.cwd()): GlobRoot {
  const absolute = path.resolve(cwd, pattern).split(path.sep).join('/')
  const segments = absolute.split('/')
  let literal = 0
  while (literal < segments.length - 1 && !MAGIC.test(segments[literal].replace(ESCAPED, ''))) literal++
  // The directory's real name: escaped characters as themselves.
  const root = segments.slice(0, literal).map((s) => s.replace(ESCAPED, '$1')).join('/') || '/'
  return { root, pattern: segments.slice(literal).join('/') }
}

/**
 * A local pattern that names a directory (no wildcard) as the glob of the
 * files directly in it: `shoebox read logs` after `shoebox write logs`
 * reads what the writer sealed there, as `ls logs` lists a directory. A
 * directory is never an archive, so as a glob it could only match nothing.
 */
function directoryAsItsFiles (pattern: string, cwd = process.cwd()): string {
  // The path as given ('logs [1]' names that directory, not a glob), or with its escapes read ('logs \[1\]').
  const names = MAGIC.test(pattern.replace(ESCAPED, '')) ? [pattern] : [pattern, pattern.replace(ESCAPED, '$1')]
  for (const name of names) {
    const dir = path.resolve(cwd, name)
    if (isDirectory(dir)) return escapeGlob(dir.split(path.sep).join('/')).replace(/\/+$/, '') + '/*'
  }
  return pattern
}

function isDirectory (file: string): boolean {
  try {
    return fs.statSync(file).isDirectory()
  } catch {
    return false
  }
}

/** A local path of a 'file://' URL or a plain path. */
export function localPattern (pattern: string): string {
  return pattern.startsWith('file://') ? decodeURIComponent(new URL(pattern).pathname) : pattern
}
