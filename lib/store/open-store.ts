/**
 * A Store from a URL: 's3://bucket/prefix', 'file:///dir', or a bare path
 * (a local directory). Any other scheme is an error that names it.
 */
import path from 'node:path'
import { checkOptionsObject } from '../errors.js'
import { FileStore } from './file-store.js'
import { LazyS3Store } from './lazy-store.js'
import type { S3StoreOptions } from './s3-config.js'
import type { ObjectWriter, Store, WriterOptions } from './store.js'
import { checkStoreUrl, fileUrlPath, schemeOf } from './store-url.js'

export { checkStoreUrl, isRemote, schemeOf } from './store-url.js'

export type StoreOptions = S3StoreOptions

export function openStore (url: string, options: StoreOptions = {}): Store {
  checkOptionsObject(options, 'openStore()')
  checkStoreUrl(url)
  const scheme = schemeOf(url)
  if (scheme === undefined) return new FileStore(path.resolve(url))
  if (scheme === 'file') return new FileStore(fileUrlPath(url))
  // The S3 store's modules load on its first use (lazy-store.ts says why).
  return new LazyS3Store(url, options)
}

/**
 * A Writable into one object of a store (a multipart upload on S3). Takes a
 * Store or a URL (then `key` is relative to it).
 */
export function uploadSink (store: Store | string, key: string, options?: WriterOptions & StoreOptions): ObjectWriter {
  checkOptionsObject(options, 'uploadSink()')
  if (typeof store !== 'string') return store.writer(key, options)
  const opened = openStore(store, options)
  const writer = opened.writer(key, options)
  writer.once('close', () => { void opened.close() })
  return writer
}
