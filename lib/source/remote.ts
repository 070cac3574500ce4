/**
 * Globs over a store: 's3://bucket/logs/**\/*.gz' is the bucket's store and
 * the pattern 'logs/**\/*.gz' over its keys. Listing asks only for keys under
 * the pattern's literal prefix ('logs/'), then matches the rest, as the
 * local walk starts at the literal directory.
 */
import { literalPrefix } from '../store/keys.js'
import { openStore, type StoreOptions } from '../store/open-store.js'
import type { Store } from '../store/store.js'
import type { ListedFile } from './order.js'

export interface StoreGlob {
  store: Store
  /** Pattern over keys, relative to the store's root. */
  pattern: string
}

export function openStoreGlob (pattern: string, options?: StoreOptions): StoreGlob {
  const [, scheme, bucket, rest] = /^([^:]+):\/\/([^/]*)\/?(.*)$/.exec(pattern) as RegExpExecArray
  return { store: openStore(`${scheme}://${bucket}`, options), pattern: rest === '' ? '**' : rest }
}

export async function listObjects (glob: StoreGlob): Promise<ListedFile[]> {
  const { store, pattern } = glob
  // Loaded here, not at import: a command that lists nothing does not pay for it.
  const { minimatch } = await import('minimatch')
  const out: ListedFile[] = []
  for await (const object of store.list(literalPrefix(pattern))) {
    if (!minimatch(object.key, pattern)) continue
    out.push({ name: object.key, path: `${store.url}/${object.key}`, size: object.size, mtimeMs: object.mtime.getTime(), etag: object.etag })
  }
  return out
}

/** A local path of a 'file://' URL or a plain path. */
export function localPattern (pattern: string): string {
  return pattern.startsWith('file://') ? decodeURIComponent(new URL(pattern).pathname) : pattern
}
