/**
 * A view of a store under a key prefix: every key given is `prefix/key` in
 * the underlying store, and keys listed or stat'ed come back without the
 * prefix. For a component that names objects by file name (the sealed-file
 * uploader) writing into one folder of a store another component shares
 * (a collector's runs/<id>/ beside the index objects). Closing the view
 * does not close the store: it is its opener's.
 */
import type { Readable } from 'node:stream'
import { ShoeboxError } from '../errors.js'
import type { GetOptions, ListOptions, ObjectInfo, ObjectWriter, OpenUpload, PutOptions, PutResult, Store, WriterOptions } from './store.js'
import type { TransferSnapshot } from '../transfer/stats.js'

export function prefixedStore (store: Store, prefix: string): Store {
  const folder = prefix.replace(/^\/+|\/+$/g, '')
  if (folder === '' || folder.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new ShoeboxError('SHOEBOX_USAGE', `not a key prefix: ${JSON.stringify(prefix)}`)
  }
  const full = (key: string): string => `${folder}/${key}`
  const strip = (info: ObjectInfo): ObjectInfo => ({ ...info, key: info.key.slice(folder.length + 1) })
  return {
    url: `${store.url.replace(/\/+$/, '')}/${folder}`,
    writtenInPlace: store.writtenInPlace,
    async put (key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<PutResult> {
      return { ...await store.put(full(key), body, options), key }
    },
    writer (key: string, options?: WriterOptions): ObjectWriter {
      return store.writer(full(key), options)
    },
    get (key: string, options?: GetOptions): Readable {
      return store.get(full(key), options)
    },
    async * list (listPrefix = '', options: ListOptions = {}): AsyncIterable<ObjectInfo> {
      // The depth counts below the prefix's directory, the same in both stores; the keys `want` sees are this store's.
      const want = options.want
      const inner = { depth: options.depth, want: want === undefined ? undefined : (key: string) => want(key.slice(folder.length + 1)) }
      for await (const info of store.list(full(listPrefix), inner)) yield strip(info)
    },
    async stat (key: string): Promise<ObjectInfo> {
      return strip(await store.stat(full(key)))
    },
    async exists (key: string): Promise<boolean> {
      return await store.exists(full(key))
    },
    async delete (key: string): Promise<void> {
      await store.delete(full(key))
    },
    async * listUploads (listPrefix = ''): AsyncIterable<OpenUpload> {
      for await (const upload of store.listUploads(full(listPrefix))) yield { ...upload, key: upload.key.slice(folder.length + 1) }
    },
    async abortUpload (key: string, uploadId: string): Promise<void> {
      await store.abortUpload(full(key), uploadId)
    },
    stats (): TransferSnapshot {
      return store.stats()
    },
    async close (): Promise<void> {}
  }
}
