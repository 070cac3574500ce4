/**
 * An S3 bucket (and key prefix) as a Store, on the AWS SDK v3. Every request
 * goes through the SDK's retry strategy (jittered exponential backoff,
 * longer for throttling); reads additionally resume at the byte where a
 * broken body stopped. Failures become StoreErrors naming the store, the
 * operation and the key, with any secret scrubbed from the text.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command,
  type ListObjectsV2CommandOutput, type S3Client
} from '@aws-sdk/client-s3'
import { checkKey, joinKey } from './keys.js'
import { resumableRead } from './resumable-read.js'
import { makeS3Client, parseS3Url, secretsOf, type S3StoreOptions } from './s3-config.js'
import { S3Writer } from './s3-writer.js'
import { TransferStats, type TransferSnapshot } from './stats.js'
import { classify, statusOf, storeError, type StoreError } from './store-error.js'
import { putThrough, type GetOptions, type ObjectInfo, type ObjectWriter, type PutOptions, type PutResult, type Store, type WriterOptions } from './store.js'

/** The transfer a request belongs to: the stats it counts against, and who wants to hear of a multipart upload. */
export interface TransferContext {
  stats: TransferStats
  /** Called (synchronously) as soon as the server has given a multipart upload its id. */
  onMultipartUpload?: (uploadId: string) => void
  /** Called for each part (or single PutObject, part 1) the server accepted, with the checksums sent and echoed. */
  onPart?: (part: PartChecksum) => void
}

export interface PartChecksum {
  partNumber: number
  /** The SDK's x-amz-checksum-crc32 of the bytes it sent (base64), if it sent one. */
  sent: string | undefined
  /** The CRC32 the server says it stored (base64), if it says. */
  stored: string | undefined
}

const currentTransfer = new AsyncLocalStorage<TransferContext>()

interface HasMetadata { $metadata?: { attempts?: number }, UploadId?: string, ChecksumCRC32?: string }

interface SignedRequest { headers?: Record<string, string>, query?: Record<string, string | string[] | null> }

const CHECKSUMMED_PUTS = new Set(['UploadPartCommand', 'PutObjectCommand'])

export class S3Store implements Store {
  readonly url: string
  readonly bucket: string
  readonly prefix: string
  readonly client: S3Client
  readonly #ownsClient: boolean
  readonly #secrets: string[]
  readonly #stats = new TransferStats()

  constructor (url: string, options: S3StoreOptions = {}) {
    const { bucket, prefix } = parseS3Url(url)
    this.bucket = bucket
    this.prefix = prefix
    this.url = prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`
    this.client = makeS3Client(options)
    this.#ownsClient = options.client === undefined
    this.#secrets = secretsOf(options)
    this.#countAttempts()
  }

  /** Retries and failed attempts, counted where the SDK makes them. */
  #countAttempts (): void {
    const stack = this.client.middlewareStack
    const stats = (): TransferStats => currentTransfer.getStore()?.stats ?? this.#stats
    // Outermost: the whole request, however many attempts it took.
    stack.add((next, context) => async (args) => {
      try {
        const out = await next(args)
        const output = out.output as HasMetadata
        stats().retried((output.$metadata?.attempts ?? 1) - 1)
        if (context.commandName === 'CreateMultipartUploadCommand' && output.UploadId !== undefined) {
          currentTransfer.getStore()?.onMultipartUpload?.(output.UploadId)
        }
        return out
      } catch (err) {
        stats().retried(((err as HasMetadata).$metadata?.attempts ?? 1) - 1)
        throw err
      }
    }, { step: 'initialize', name: 'shoeboxCountRetries', override: true })
    // Innermost: once per attempt.
    stack.add((next) => async (args) => {
      try {
        return await next(args)
      } catch (err) {
        // A missing object asked about is an answer, not a failure.
        const kind = classify(err)
        if (kind !== 'not-found') stats().failed(kind)
        throw err
      }
    }, { step: 'deserialize', priority: 'high', name: 'shoeboxCountFailures', override: true }) // outside the deserializer, to see the S3 errors it throws
    // After the SDK has checksummed a part (build step): what it sent, and what the server answered.
    stack.add((next, context) => async (args) => {
      const onPart = currentTransfer.getStore()?.onPart
      if (onPart === undefined || !CHECKSUMMED_PUTS.has(context.commandName ?? '')) return await next(args)
      const request = args.request as SignedRequest
      const sent = request.headers?.['x-amz-checksum-crc32']
      const out = await next(args)
      onPart({ partNumber: Number(request.query?.partNumber ?? 1), sent, stored: (out.output as HasMetadata).ChecksumCRC32 })
      return out
    }, { step: 'finalizeRequest', priority: 'low', name: 'shoeboxPartChecksums', override: true })
  }

  /** The full S3 key of a store key. */
  objectKey (key: string): string {
    return joinKey(this.prefix, checkKey(key))
  }

  /** Run `fn` with its requests counted against a transfer's own stats. */
  runCounted<T>(transfer: TransferContext, fn: () => T): T {
    return currentTransfer.run(transfer, fn)
  }

  /** Run a request, turning a failure into a StoreError. */
  async send<T>(operation: string, key: string | undefined, request: (client: S3Client) => Promise<T>): Promise<T> {
    try {
      return await request(this.client)
    } catch (err) {
      throw this.fail(err, operation, key)
    }
  }

  fail (err: unknown, operation: string, key: string | undefined): StoreError {
    return storeError(err, this.url, operation, key, this.#secrets)
  }

  newStats (): TransferStats {
    return new TransferStats({ parent: this.#stats })
  }

  async put (key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<PutResult> {
    return await putThrough(this.writer(key, options), body)
  }

  writer (key: string, options: WriterOptions = {}): ObjectWriter {
    return new S3Writer(this, key, this.objectKey(key), options)
  }

  get (key: string, options: GetOptions = {}): Readable {
    let objectKey: string
    try {
      objectKey = this.objectKey(key)
    } catch (err) {
      // As from the file store: a stream that fails, for the consumer's error path.
      return Readable.from([]).destroy(err as Error)
    }
    const stats = this.newStats()
    return resumableRead(async (start, end, etag) => {
      const range = start === 0 && end === undefined ? undefined : `bytes=${start}-${end === undefined ? '' : end - 1}`
      const command = new GetObjectCommand({ Bucket: this.bucket, Key: objectKey, Range: range, IfMatch: etag })
      const out = await this.runCounted({ stats }, async () => {
        try {
          return await this.send('get', key, async (c) => await c.send(command))
        } catch (err) {
          // Resuming exactly at the end of the object: nothing left, not an error.
          if ((err as StoreError).status === 416 && start > 0) return { Body: [], ETag: etag, ContentLength: 0 }
          throw err
        }
      })
      return { body: out.Body as AsyncIterable<Uint8Array>, etag: out.ETag, length: out.ContentLength }
    }, {
      start: options.range?.start,
      end: options.range?.end,
      etag: options.etag,
      onBytes: (n) => { stats.downloadedBytes(n) },
      onResume: () => { stats.retried() },
      onEnd: () => { stats.downloadedObject() }
    })
  }

  async * list (prefix = ''): AsyncIterable<ObjectInfo> {
    const base = this.prefix === '' ? '' : this.prefix + '/'
    let token: string | undefined
    do {
      const command = new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token })
      const page: ListObjectsV2CommandOutput = await this.send('list', prefix === '' ? undefined : prefix, async (c) => await c.send(command))
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined || !item.Key.startsWith(base)) continue
        yield {
          key: item.Key.slice(base.length),
          size: item.Size ?? 0,
          mtime: item.LastModified ?? new Date(0),
          etag: item.ETag ?? ''
        }
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  async stat (key: string): Promise<ObjectInfo> {
    const command = new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) })
    const out = await this.send('stat', key, async (c) => await c.send(command))
    return { key, size: out.ContentLength ?? 0, mtime: out.LastModified ?? new Date(0), etag: out.ETag ?? '' }
  }

  async exists (key: string): Promise<boolean> {
    try {
      await this.stat(key)
      return true
    } catch (err) {
      if ((err as StoreError).kind === 'not-found') return false
      throw err
    }
  }

  async delete (key: string): Promise<void> {
    const command = new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) })
    await this.send('delete', key, async (c) => await c.send(command))
  }

  async abortUpload (key: string, uploadId: string): Promise<void> {
    const command = new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.objectKey(key), UploadId: uploadId })
    try {
      await this.client.send(command)
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchUpload' || statusOf(err) === 404) return
      throw this.fail(err, 'abort upload', key)
    }
  }

  stats (): TransferSnapshot {
    return this.#stats.snapshot()
  }

  async close (): Promise<void> {
    if (this.#ownsClient) this.client.destroy()
  }
}
