/**
 * A Store from a URL: 's3://bucket/prefix', 'file:///dir', or a bare path
 * (a local directory). Any other scheme is an error that names it.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ShoeboxError } from '../errors.js'
import { FileStore } from './file-store.js'
import { LazyS3Store } from './lazy-store.js'
import type { S3StoreOptions } from './s3-config.js'
import type { ObjectWriter, Store, WriterOptions } from './store.js'

export type StoreOptions = S3StoreOptions

/** The scheme of a URL-like string ('s3', 'file'), or undefined for a plain path. */
export function schemeOf (url: string): string | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)
  return m === null ? undefined : m[1].toLowerCase()
}

export function isRemote (url: string): boolean {
  const scheme = schemeOf(url)
  return scheme !== undefined && scheme !== 'file'
}

export function openStore (url: string, options: StoreOptions = {}): Store {
  if (typeof url !== 'string' || url === '') throw new ShoeboxError('SHOEBOX_BAD_URL', 'a store URL or directory is required')
  const scheme = schemeOf(url)
  if (scheme === undefined) return new FileStore(path.resolve(url))
  if (scheme === 'file') return new FileStore(fileURLToPath(url))
  // The S3 store's modules load on its first use (lazy-store.ts says why).
  if (scheme === 's3') return new LazyS3Store(url, options)
  throw new ShoeboxError('SHOEBOX_BAD_URL', `unknown store URL scheme '${scheme}://' in ${url.replace(/\/\/[^/@]*@/, '//')} (known: s3://, file://, or a directory)`)
}

/**
 * A Writable into one object of a store (a multipart upload on S3). Takes a
 * Store or a URL (then `key` is relative to it).
 */
export function uploadSink (store: Store | string, key: string, options?: WriterOptions & StoreOptions): ObjectWriter {
  if (typeof store !== 'string') return store.writer(key, options)
  const opened = openStore(store, options)
  const writer = opened.writer(key, options)
  writer.once('close', () => { void opened.close() })
  return writer
}
