/**
 * An S3 bucket (and key prefix) as a Store, on the AWS SDK v3. Every request
 * goes through the SDK's retry strategy (jittered exponential backoff,
 * longer for throttling); reads additionally resume at the byte where a
 * broken body stopped. Failures become StoreErrors naming the store, the
 * operation and the key, with any secret scrubbed from the text.
 *
 * The SDK itself is loaded by the first request, not by this module
 * (s3-client.ts): the constructor only parses the URL, so openStore() stays
 * synchronous and a program that never talks to S3 never loads the SDK.
 */
import { setMaxListeners } from 'node:events'
import { Readable } from 'node:stream'
import type { ListMultipartUploadsCommandOutput, ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3'
import { countTaken, TransferStats, type TransferSnapshot } from '../transfer/stats.js'
import { ShoeboxError } from '../errors.js'
import { checkKey, checkObjectName, joinKey } from './keys.js'
import { resumableRead } from './resumable-read.js'
import type { S3Connection } from './s3-client.js'
import { PartBuffers } from './part-buffers.js'
import { parseS3Url, s3ClientSettings, s3StoreUrl, secretsOf, type S3StoreOptions } from './s3-config.js'
import { withTransfer } from './s3-context.js'
import { S3Writer } from './s3-writer.js'
import { statusOf, storeError, StoreError } from './store-error.js'
import { putThrough, type GetOptions, type ListOptions, type ObjectInfo, type ObjectWriter, type OpenUpload, type PutOptions, type PutResult, type Store, type WriterOptions } from './store.js'

export type { TransferContext, PartChecksum } from './s3-context.js'

/**
 * The controller close() aborts. Every request under way listens to its signal (the SDK's retry adds a listener
 * per request), so more than 10 at once (`shoebox upload --concurrency 16`'s checks) made Node print a
 * MaxListenersExceededWarning on stderr, of a leak that is none: each listener goes with its request.
 */
function closeSignal (): AbortController {
  const controller = new AbortController()
  setMaxListeners(0, controller.signal)
  return controller
}

export class S3Store implements Store {
  readonly url: string
  readonly bucket: string
  readonly prefix: string
  /** Part buffers its finished writers left, for the next (part-buffers.ts). */
  readonly partBuffers = new PartBuffers()
  readonly #options: S3StoreOptions
  readonly #secrets: string[]
  readonly #stats = new TransferStats()
  /** The client and the SDK, once the first request has loaded them. */
  #connection: Promise<S3Connection> | undefined
  /**
   * Aborted by close(): the requests of list, listUploads, stat and delete under way then end. Destroying
   * the client alone does not end them: the SDK takes the closed socket for a broken connection and tries
   * again on a new one, so a read or unpack stopped by Ctrl-C while a server stalled a listing kept the
   * process alive until that server answered. A fresh one serves the requests after close().
   */
  #closing = closeSignal()

  /** The request timeout its client was made with (s3ClientSettings): the S3 writer bounds its destroy() by it. */
  get requestTimeout (): number {
    try {
      return s3ClientSettings(this.#options).requestTimeout
    } catch {
      // Options the client refuses: it is never made, so no request waits.
      return 0
    }
  }

  constructor (url: string, options: S3StoreOptions = {}) {
    const { bucket, prefix } = parseS3Url(url)
    this.bucket = bucket
    this.prefix = prefix
    this.url = s3StoreUrl({ bucket, prefix })
    this.#options = { ...options }
    this.#secrets = secretsOf(options)
  }

  /**
   * The SDK's code and this store's client, loaded and made on first use
   * (s3-client.ts says why). A failed load is not kept, so a later call
   * tries again.
   */
  async connect (): Promise<S3Connection> {
    this.#connection ??= import('./s3-client.js').then((loaded) => {
      const client = loaded.makeS3Client(this.#options)
      loaded.instrument(client, this.#stats)
      return { client, sdk: loaded.sdk }
    })
    this.#connection.catch(() => { this.#connection = undefined })
    return await this.#connection
  }

  /** The S3Client this store sends its requests with (loading the SDK if no request has yet). */
  async client (): Promise<S3Client> {
    return (await this.connect()).client
  }

  /**
   * The full S3 key of a store key to write or delete: a portable key (keys.ts checkKey:
   * no empty, '.' or '..' segment...), so that what shoebox writes any store
   * can hold. One refused names the store, as its other errors do: the key
   * alone said nothing of which bucket.
   */
  objectKey (key: string): string {
    return this.#named(key, checkKey)
  }

  /**
   * The full S3 key of an object to read or stat: any name S3 holds
   * ('e/z//c', 'a/../b', listed by this store or not; keys.ts
   * checkObjectName). A read over a listing that held one failed there, losing
   * the rest of the read.
   */
  #existingKey (key: string): string {
    return this.#named(key, checkObjectName)
  }

  #named (key: string, check: (key: string) => string): string {
    try {
      return joinKey(this.prefix, check(key))
    } catch (err) {
      throw new ShoeboxError('SHOEBOX_BAD_KEY', `${this.url}: ${(err as Error).message}`, { cause: err })
    }
  }


  /** Run a request, turning a failure (loading the SDK's included) into a StoreError. */
  async send<T>(operation: string, key: string | undefined, request: (connection: S3Connection) => Promise<T>): Promise<T> {
    try {
      return await request(await this.connect())
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
    const { stream, stats } = this.openRead(key, options)
    countTaken(stream, stats, () => stream.readableLength)
    return stream
  }

  /**
   * get()'s read, its bytes counted in `stats` as they are fetched, but
   * neither its object nor what a reader that went away left unread
   * (countTaken() does that, on the stream the reader has: get()'s, or the
   * LazyS3Store's around it).
   */
  openRead (key: string, options: GetOptions = {}): { stream: Readable, stats: TransferStats } {
    const stats = this.newStats()
    let objectKey: string
    try {
      objectKey = this.#existingKey(key)
    } catch (err) {
      // As from the file store: a stream that fails, for the consumer's error path.
      return { stream: Readable.from([]).destroy(err as Error), stats }
    }
    const stream = resumableRead(async (start, end, etag, signal) => {
      const range = start === 0 && end === undefined ? undefined : `bytes=${start}-${end === undefined ? '' : end - 1}`
      const out = await (async () => {
        try {
          // Counted against this read's own stats (s3-context.ts).
          const input = withTransfer({ Bucket: this.bucket, Key: objectKey, Range: range, IfMatch: etag }, { stats })
          return await this.send('get', key, async ({ client, sdk }) => {
            const { abortSignal, release } = this.#untilClosed(signal)
            try {
              const got = await client.send(new sdk.GetObjectCommand(input), { abortSignal })
              // The signal holds for the body too: released once it has closed.
              const body = got.Body as { once?: (event: string, listener: () => void) => unknown } | undefined
              if (typeof body?.once === 'function') body.once('close', release)
              else release()
              return got
            } catch (err) {
              release()
              throw err
            }
          })
        } catch (err) {
          // Resuming exactly at the end of the object: nothing left, not an error.
          if ((err as StoreError).status === 416 && start > 0) return { Body: [], ETag: etag, ContentLength: 0 }
          throw err
        }
      })()
      // A resume is pinned by If-Match; a server that ignores it answers with whatever version it now holds, and
      // its bytes spliced on gave the reader the head of one version and the tail of another, unsaid.
      if (start !== (options.range?.start ?? 0) && etag !== undefined && out.ETag !== undefined && out.ETag !== etag) {
        (out.Body as { destroy?: () => void } | undefined)?.destroy?.()
        throw new StoreError('other', this.url, 'get', key, `the object changed while it was read (resumed at byte ${start}, the server answered ETag ${out.ETag}, not ${etag}: it ignored If-Match)`)
      }
      return { body: out.Body as AsyncIterable<Uint8Array>, etag: out.ETag, length: out.ContentLength }
    }, {
      start: options.range?.start,
      end: options.range?.end,
      etag: options.etag,
      onBytes: (n) => { stats.downloadedBytes(n) },
      onResume: () => { stats.retried() }
    })
    return { stream, stats }
  }

  /**
   * A listing's pages hold every key below the prefix with its size: `_options` (depth, want) save nothing here.
   * An answer that is no listing (S3 always names the bucket: a proxy's or portal's HTML page names none), or a
   * page that says the listing goes on without saying from where, is refused: taken as the listing's end, it
   * passed for "no archive matches" or left out every key after the page, unsaid.
   */
  async * list (prefix = '', _options?: ListOptions): AsyncIterable<ObjectInfo> {
    const base = this.prefix === '' ? '' : this.prefix + '/'
    const named = prefix === '' ? undefined : prefix
    let token: string | undefined
    do {
      const request = { Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token }
      const page: ListObjectsV2CommandOutput = await this.send('list', named,
        async ({ client, sdk }) => await client.send(new sdk.ListObjectsV2Command(request), { abortSignal: this.#closing.signal }))
      if (page.Name === undefined) throw this.fail(new Error('the server\'s answer is not a listing (it names no bucket)'), 'list', named)
      if (page.IsTruncated === true && (page.NextContinuationToken === undefined || page.NextContinuationToken === token)) {
        throw this.fail(new Error('the server said its listing goes on but not from where'), 'list', named)
      }
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

  /**
   * ListMultipartUploads, page after page (1000 uploads each), from the key
   * and upload id where the last page stopped. A server that answers it as
   * a listing of objects (an S3 look-alike without it, such as fauxqs) gives
   * back no bucket name, where S3 always names one: taken for "no upload
   * open", that answer would hide every one, so it is refused.
   */
  async * listUploads (prefix = ''): AsyncIterable<OpenUpload> {
    const base = this.prefix === '' ? '' : this.prefix + '/'
    const named = prefix === '' ? undefined : prefix
    let keyMarker: string | undefined
    let uploadIdMarker: string | undefined
    for (;;) {
      const request = { Bucket: this.bucket, Prefix: base + prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }
      let serverSkew: number | undefined
      const page: ListMultipartUploadsCommandOutput = await this.send('list uploads', named, async ({ client, sdk }) => {
        const command = new sdk.ListMultipartUploadsCommand(request)
        // The Date of the answer, for the server's clock (OpenUpload.serverSkew). It has whole seconds: taken as the
        // middle of its second, it is within half a second of the server's clock, plus the answer's way here.
        command.middlewareStack.add((next) => async (args) => {
          const result = await next(args)
          const date = Date.parse((result.response as { headers?: Record<string, string> }).headers?.date ?? '')
          serverSkew = Number.isNaN(date) ? undefined : date + 500 - Date.now()
          return result
        }, { step: 'finalizeRequest', priority: 'low', name: 'shoeboxServerClock' })
        return await client.send(command, { abortSignal: this.#closing.signal })
      })
      if (page.Bucket === undefined) {
        throw new ShoeboxError('SHOEBOX_UNSUPPORTED', `${this.url}: list uploads: the server does not list multipart uploads ` +
          '(its answer to ListMultipartUploads names no bucket; an S3 look-alike without it?)')
      }
      const uploads = page.Uploads ?? []
      for (const upload of uploads) {
        if (upload.Key === undefined || upload.UploadId === undefined || !upload.Key.startsWith(base)) continue
        yield { key: upload.Key.slice(base.length), uploadId: upload.UploadId, initiated: upload.Initiated, ...(serverSkew === undefined ? {} : { serverSkew }) }
      }
      if (page.IsTruncated !== true) return
      // S3 names where to go on; a server that does not, from the last upload listed.
      const last = uploads.at(-1)
      const nextKey = page.NextKeyMarker ?? last?.Key
      const nextId = page.NextUploadIdMarker ?? last?.UploadId
      if (nextKey === undefined || (nextKey === keyMarker && nextId === uploadIdMarker)) {
        throw this.fail(new Error('the server said its listing goes on but not from where'), 'list uploads', named)
      }
      keyMarker = nextKey
      uploadIdMarker = nextId
    }
  }

  async stat (key: string): Promise<ObjectInfo> {
    const request = { Bucket: this.bucket, Key: this.#existingKey(key) }
    const out = await this.send('stat', key, async ({ client, sdk }) => await client.send(new sdk.HeadObjectCommand(request), { abortSignal: this.#closing.signal }))
    // S3 answers every HEAD with a Content-Length. An endpoint that is no S3 server (a web page, a captive portal)
    // answers 200 without one, and taking that as 0 made upload say "stored 0 bytes of 78; the object is left as
    // stored" where nothing was stored: what is known is that the answer could not be read.
    if (out.ContentLength === undefined) {
      throw new StoreError('other', this.url, 'stat', key, `the server's answer (HTTP ${out.$metadata.httpStatusCode ?? '?'}) has no Content-Length, ` +
        'so it is no S3 answer (is the endpoint an S3 server?); whether the object exists is unknown')
    }
    return { key, size: out.ContentLength, mtime: out.LastModified ?? new Date(0), etag: out.ETag ?? '' }
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
    // A change, so a portable key only: a server or proxy that normalised '..' in the URL would delete outside the prefix.
    const request = { Bucket: this.bucket, Key: this.objectKey(key) }
    await this.send('delete', key, async ({ client, sdk }) => await client.send(new sdk.DeleteObjectCommand(request), { abortSignal: this.#closing.signal }))
  }

  async abortUpload (key: string, uploadId: string): Promise<void> {
    // Any key S3 holds, as listUploads() lists it ('e/z//c', 'a/../b'): the upload id pins the upload, so a server or
    // proxy that normalised the key would abort nothing else (NoSuchUpload), unlike a delete.
    const request = { Bucket: this.bucket, Key: this.#existingKey(key), UploadId: uploadId }
    try {
      const { client, sdk } = await this.connect()
      await client.send(new sdk.AbortMultipartUploadCommand(request))
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchUpload' || statusOf(err) === 404) return
      throw this.fail(err, 'abort upload', key)
    }
  }

  stats (): TransferSnapshot {
    return this.#stats.snapshot()
  }

  /**
   * A signal that `signal` (a read dropped by its reader) or close() aborts, and the release of its
   * listeners. A read whose stream never saw its reader go (a source stopped by SIGINT closes the store
   * instead) was left to the client's destroy, which the SDK took for a broken connection and tried again.
   */
  #untilClosed (signal: AbortSignal): { abortSignal: AbortSignal, release: () => void } {
    const closing = this.#closing.signal
    const either = new AbortController()
    const abort = (): void => { either.abort() }
    const release = (): void => {
      signal.removeEventListener('abort', abort)
      closing.removeEventListener('abort', abort)
    }
    if (signal.aborted || closing.aborted) either.abort()
    else {
      signal.addEventListener('abort', abort, { once: true })
      closing.addEventListener('abort', abort, { once: true })
    }
    return { abortSignal: either.signal, release }
  }

  /** Let the kept part buffers go, and release the client's connections if this store made it (a client passed in is the caller's). */
  async close (): Promise<void> {
    this.partBuffers.release()
    this.#closing.abort()
    this.#closing = closeSignal()
    const connection = this.#connection
    if (connection === undefined || this.#options.client !== undefined) return
    const { client } = await connection.catch(() => ({ client: undefined }))
    client?.destroy()
  }
}
