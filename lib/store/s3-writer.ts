/**
 * uploadSink() on S3: a Writable streaming into one object through
 * lib-storage's multipart Upload.
 *
 * - Memory is bounded by part size x queue size: lib-storage pulls from the
 *   body only when a part slot is free, so the body's buffer fills, write()
 *   returns false, and the producer waits (real backpressure).
 * - Each part is a request of its own, retried by the SDK with jittered
 *   backoff; each carries the SDK's CRC32 checksum, and each part is summed
 *   here as bytes pass, so what was stored is checked against what was
 *   written before `finish` (part-check.ts).
 * - An empty stream is one empty PutObject (lib-storage has hung on these).
 * - On an error or destroy() the multipart upload is aborted before the
 *   stream reports closed, so no orphaned parts are left to pay for.
 * - The writer is returned at once; _construct() waits for the store's
 *   first request to load the SDK (s3-client.ts), and writes wait for it.
 */
import { PassThrough, Writable } from 'node:stream'
import type { Upload } from '@aws-sdk/lib-storage'
import type { TransferSnapshot, TransferStats } from '../transfer/stats.js'
import { PartCheck } from './part-check.js'
import type { S3Connection } from './s3-client.js'
import { s3WriterSettings } from './s3-config.js'
import { currentTransfer, type TransferContext } from './s3-context.js'
import { StoreError } from './store-error.js'
import type { ObjectWriter, PutResult, WriterOptions } from './store.js'

/** What a writer needs of its store (S3Store), named here so the two modules do not import each other. */
export interface S3WriterHost {
  readonly url: string
  readonly bucket: string
  connect (): Promise<S3Connection>
  newStats (): TransferStats
  send<T>(operation: string, key: string | undefined, request: (connection: S3Connection) => Promise<T>): Promise<T>
  fail (err: unknown, operation: string, key: string | undefined): StoreError
  delete (key: string): Promise<void>
}

export class S3Writer extends Writable implements ObjectWriter {
  readonly key: string
  readonly partSize: number
  readonly queueSize: number
  result: PutResult | undefined
  readonly #store: S3WriterHost
  #connection: S3Connection | undefined
  readonly #objectKey: string
  readonly #options: WriterOptions
  readonly #stats: TransferStats
  #body: PassThrough | undefined
  #upload: Upload | undefined
  #done: Promise<{ ETag?: string }> | undefined
  #failure: Error | undefined
  /** A write callback held until the body drains (or the upload fails). */
  #waiting: ((err?: Error | null) => void) | undefined
  #bytes = 0
  #confirmed = 0
  readonly #check: PartCheck | undefined
  readonly #transfer: TransferContext

  constructor (store: S3WriterHost, key: string, objectKey: string, options: WriterOptions) {
    super({ highWaterMark: 1024 * 1024 })
    this.#store = store
    this.key = key
    this.#objectKey = objectKey
    this.#options = options
    const { partSize, queueSize, verify } = s3WriterSettings(options)
    this.partSize = partSize
    this.queueSize = queueSize
    this.#stats = store.newStats()
    const check = verify === false ? undefined : new PartCheck(this.partSize, verify)
    this.#check = check
    this.#transfer = {
      stats: this.#stats,
      onMultipartUpload: options.onMultipartUpload,
      onPart: check === undefined ? undefined : (part) => { check.record(part) }
    }
  }

  stats (): TransferSnapshot {
    return this.#stats.snapshot()
  }

  override _construct (callback: (err?: Error | null) => void): void {
    this.#store.connect().then((connection) => {
      this.#connection = connection
      callback()
    }, (err: unknown) => { callback(this.#store.fail(err, 'put', this.key)) })
  }

  #start (): PassThrough {
    const { client, sdk } = this.#connection as S3Connection
    // The body buffers at most 1 MiB beyond the part lib-storage is assembling.
    const body = new PassThrough({ highWaterMark: Math.min(this.partSize, 1024 * 1024) })
    this.#body = body
    const upload = new sdk.Upload({
      client,
      params: {
        Bucket: this.#store.bucket,
        Key: this.#objectKey,
        Body: body,
        ContentType: this.#options.contentType,
        Metadata: this.#options.metadata
      },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false
    })
    this.#upload = upload
    upload.on('httpUploadProgress', (p) => {
      const loaded = p.loaded ?? 0
      if (loaded <= this.#confirmed) return
      this.#stats.uploadedBytes(loaded - this.#confirmed)
      this.#confirmed = loaded
      this.emit('progress', { key: this.key, bytes: loaded })
    })
    this.#done = currentTransfer.run(this.#transfer, async () => await upload.done())
    this.#done.catch((err: unknown) => {
      this.#failure ??= this.#store.fail(err, 'put', this.key)
      const waiting = this.#waiting
      this.#waiting = undefined
      waiting?.(this.#failure)
    })
    return body
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.#failure !== undefined) {
      callback(this.#failure)
      return
    }
    const body = this.#body ?? this.#start()
    this.#bytes += chunk.length
    this.#check?.update(chunk)
    if (body.write(chunk)) {
      callback()
      return
    }
    this.#waiting = callback
    body.once('drain', () => {
      const waiting = this.#waiting
      this.#waiting = undefined
      waiting?.()
    })
  }

  override _final (callback: (err?: Error | null) => void): void {
    this.#finish().then(() => { callback() }, (err: Error) => { callback(err) })
  }

  async #finish (): Promise<void> {
    let etag: string | undefined
    if (this.#body === undefined) {
      // Nothing was written: one empty object, without lib-storage.
      const request = {
        Bucket: this.#store.bucket,
        Key: this.#objectKey,
        Body: Buffer.alloc(0),
        ContentType: this.#options.contentType,
        Metadata: this.#options.metadata
      }
      const out = await currentTransfer.run(this.#transfer, async () =>
        await this.#store.send('put', this.key, async ({ client, sdk }) => await client.send(new sdk.PutObjectCommand(request))))
      etag = out.ETag
    } else {
      this.#body.end()
      try {
        etag = (await this.#done as { ETag?: string }).ETag
      } catch {
        throw this.#failure as Error
      }
      this.#stats.uploadedBytes(this.#bytes - this.#confirmed)
      this.#confirmed = this.#bytes
    }
    etag ??= ''
    await this.#verify(etag)
    this.#stats.uploadedObject()
    this.result = { key: this.key, bytes: this.#bytes, etag }
  }

  /** Is the stored object what was written? If not, it goes. */
  async #verify (etag: string): Promise<void> {
    const why = this.#check?.mismatch(etag)
    if (why === undefined) return
    await this.#store.delete(this.key).catch(() => {})
    throw new StoreError('verify', this.#store.url, 'put', this.key, `${why}; the object was removed`)
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.result !== undefined || this.#upload === undefined) {
      callback(err)
      return
    }
    const upload = this.#upload
    const done = this.#done as Promise<unknown>
    // A failure the upload had already met; not the one destroying the body causes below.
    const failure = this.#failure
    // Ending the body early makes lib-storage stop, abort its upload, and reject.
    this.#body?.destroy()
    const cleanUp = async (): Promise<void> => {
      await done.catch(() => {})
      // lib-storage aborts on failure; make sure even if its own abort failed or raced.
      if (upload.uploadId !== undefined && this.result === undefined) {
        const { client, sdk } = this.#connection as S3Connection
        await client.send(new sdk.AbortMultipartUploadCommand({
          Bucket: this.#store.bucket, Key: this.#objectKey, UploadId: upload.uploadId
        })).catch(() => {})
      }
    }
    cleanUp().then(() => { callback(err ?? failure ?? null) }, () => { callback(err) })
  }
}
