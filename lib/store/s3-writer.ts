/**
 * uploadSink() on S3: a Writable streaming into one object, as a multipart
 * upload of its own (not lib-storage's Upload, which copied every part once
 * more to assemble it, kept a fresh part-sized buffer per part, and left the
 * SDK to checksum each part again).
 *
 * - Parts are assembled in place in part-sized buffers that are reused
 *   (the first grows to that size as it fills: a small object takes little):
 *   at most queueSize parts in flight plus the one filling, so memory is
 *   bounded by part size x (queue size + 1), the same pages every part.
 *   A write waits (its callback held) while every slot is busy: real
 *   backpressure. Once done, the writer leaves its part buffers to the
 *   store's next writer (part-buffers.ts), which fills them again instead of
 *   allocating its own.
 * - Each part carries the CRC32 the SDK computes over the body it sends
 *   (x-amz-checksum-crc32), which the server checks against what it
 *   received (S3 and MinIO refuse a part that does not match); the bytes
 *   written are summed apart as they arrive, and the two compared before
 *   `finish` (part-check.ts), so a body changed anywhere after this writer
 *   is caught even by a server that checks nothing. (Handing the SDK our
 *   own CRC32 would save its pass but lose that.) Where the transport
 *   protects the bytes (https) or there is no network (loopback), the
 *   payload is not hashed once more with SHA-256 for the signature
 *   (s3-client.ts, unsignedPayload()).
 * - An object no larger than a part is one PutObject (an empty one too).
 * - Each request is retried by the SDK with jittered backoff. A
 *   CreateMultipartUpload tried more than once may have created an upload
 *   per attempt: the key's uploads begun since are listed and the strays
 *   aborted before the id is told (onMultipartUpload). On a failure
 *   or destroy() the requests in flight are cancelled and the multipart
 *   upload aborted before the stream reports closed, so no orphaned parts
 *   are left to pay for.
 * - The writer is returned at once; _construct() waits for the store's
 *   first request to load the SDK (s3-client.ts), and writes wait for it.
 */
import { setMaxListeners } from 'node:events'
import { Writable } from 'node:stream'
import { isBytes, refuseNotBytes, refusedLateWrite, STORE_HINT } from '../errors.js'
import type { TransferSnapshot, TransferStats } from '../transfer/stats.js'
import type { PartBuffers } from './part-buffers.js'
import { PartCheck } from './part-check.js'
import type { S3Connection } from './s3-client.js'
import { s3WriterSettings } from './s3-config.js'
import { withTransfer, type TransferContext } from './s3-context.js'
import { statusOf, StoreError } from './store-error.js'
import { initiatedLocally, type ObjectWriter, type OpenUpload, type PutResult, type WriterOptions } from './store.js'
import { failsOnListenerRejection } from '../stream/listener-rejections.js'
import { lateEnd } from '../stream/deliver-then-fail.js'

/** What a writer needs of its store (S3Store), named here so the two modules do not import each other. */
export interface S3WriterHost {
  readonly url: string
  readonly bucket: string
  /** Part buffers its finished writers left, for the next. */
  readonly partBuffers: PartBuffers
  connect (): Promise<S3Connection>
  newStats (): TransferStats
  send<T>(operation: string, key: string | undefined, request: (connection: S3Connection) => Promise<T>): Promise<T>
  fail (err: unknown, operation: string, key: string | undefined): StoreError
  delete (key: string): Promise<void>
  listUploads (prefix?: string): AsyncIterable<OpenUpload>
  abortUpload (key: string, uploadId: string): Promise<void>
  /** How long one request may stall (the client's requestTimeout): bounds how long destroy() waits for a create. */
  readonly requestTimeout: number
}

/** S3's limit on the parts of one upload. */
const MAX_PARTS = 10_000

/**
 * How long destroy() waits for the answer of a CreateMultipartUpload under way (or the request timeout if
 * smaller), so as to abort the upload it made, before giving it up: on a server that takes requests and never
 * answers, waiting for every attempt held close (and a pipeline() whose other stage failed) for
 * requestTimeout x maxAttempts, 10 minutes with the defaults.
 */
const CREATE_GRACE_MS = 5000

/**
 * The first part's buffer when the first write is smaller: it doubles as it
 * fills, up to the part size. V8 counts a part-sized buffer (8 MiB by
 * default) against its heap, and uploading many small files, each with one
 * of its own, spent a quarter of its time in the garbage collector. A first
 * write this big or bigger (a file read in 1 MiB chunks, a rolling sink's
 * blocks) gets a part-sized buffer at once, sparing the copies and the
 * garbage of growing. A part handed out is always whole, so the buffers
 * parts are sent from and reused are part-sized.
 */
const FIRST_BUFFER = 64 * 1024

/** `full` (every byte of it filled) copied into a buffer twice its size, at most `max`. */
function grown (full: Buffer, max: number): Buffer {
  const bigger = Buffer.allocUnsafeSlow(Math.min(max, 2 * full.length))
  full.copy(bigger)
  return bigger
}

interface CompletedPart { PartNumber: number, ETag: string, ChecksumCRC32?: string }

export class S3Writer extends failsOnListenerRejection(Writable) implements ObjectWriter {
  readonly key: string
  readonly partSize: number
  readonly queueSize: number
  result: PutResult | undefined
  readonly #store: S3WriterHost
  #connection: S3Connection | undefined
  readonly #objectKey: string
  readonly #options: WriterOptions
  readonly #stats: TransferStats
  /** Whether the SDK adds a CRC32 to each part (the client's requestChecksumCalculation; WHEN_SUPPORTED by default), so the upload is created for them. */
  #checksums = true
  /** The part being filled, and how far. */
  #fill: Buffer | undefined
  #filled = 0
  /** Part buffers whose request is done, to fill again. */
  readonly #spare: Buffer[] = []
  /** Set once the last part is handed out: a part's buffer then goes to the store's next writer as its request settles. */
  #lastPartOut = false
  /** Parts handed out so far (the last one's number). */
  #parts = 0
  readonly #inFlight = new Set<Promise<void>>()
  readonly #completed: CompletedPart[] = []
  #uploadId: Promise<string> | undefined
  /** The id once the server has given it (what an abort needs). */
  #knownUploadId: string | undefined
  /** The first failure of any part or request; every later write and the end report it. */
  #failure: Error | undefined
  /**
   * Cancels the requests in flight on destroy(). Each part in flight listens to it: a queueSize over 10 made Node
   * warn on stderr of a listener leak that is none (setMaxListeners in the constructor).
   */
  readonly #abort = new AbortController()
  /**
   * Cancels the CreateMultipartUpload, which #abort does not (its answer has the id that aborts the upload), once
   * destroy() has waited CREATE_GRACE_MS for it.
   */
  readonly #createAbort = new AbortController()
  /** destroy() was called: the create starts no new attempt (the SDK's retries), only the one under way may finish. */
  #stopping = false
  /** The CreateMultipartUpload request itself (without the listing of strays after it), for destroy() to wait on. */
  #creating: Promise<unknown> | undefined
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
    setMaxListeners(0, this.#abort.signal)
    this.#stats = store.newStats()
    const check = verify === false ? undefined : new PartCheck(this.partSize, verify)
    this.#check = check
    this.#transfer = {
      stats: this.#stats,
      // Not from the request's middleware: told by #startUpload, once the uploads a retried create left are gone.
      onMultipartUpload: undefined,
      onPart: check === undefined ? undefined : (part) => { check.record(part) }
    }
  }

  stats (): TransferSnapshot {
    return this.#stats.snapshot()
  }

  override _construct (callback: (err?: Error | null) => void): void {
    this.#store.connect().then(async (connection) => {
      this.#connection = connection
      // A client given by the caller may predate the setting (SDKs before 3.729 sent no checksum unasked).
      const calculation = (connection.client.config as { requestChecksumCalculation?: () => Promise<string> }).requestChecksumCalculation
      this.#checksums = typeof calculation === 'function' && await calculation() === 'WHEN_SUPPORTED'
      callback()
    }).catch((err: unknown) => { callback(this.#store.fail(err, 'put', this.key)) })
  }

  /**
   * Anything but bytes is refused by failing the writer (see refuseNotBytes): Node's ERR_INVALID_ARG_TYPE thrown
   * from write() left the writer open, its temporary file and handle with it, and inside a pipe it was taken
   * for the source's failure ('cannot read FILE: The "chunk" argument must be ...').
   */
  override write (chunk: unknown, encoding?: BufferEncoding | ((err?: Error | null) => void), callback?: (err?: Error | null) => void): boolean {
    if (refusedLateWrite(this, `the writer of key "${this.key}"`, encoding, callback)) return false
    if (isBytes(chunk)) return super.write(chunk, encoding as BufferEncoding, callback)
    return refuseNotBytes(this, `the writer of key "${this.key}"`, chunk, STORE_HINT, encoding, callback)
  }

  /** end(chunk) after end(): refused as a late write() is (Node's end() writes it, answering ERR_STREAM_WRITE_AFTER_END). */
  override end (chunk?: unknown, encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (!lateEnd(this, chunk)) return super.end(chunk, encoding as BufferEncoding, callback)
    this.write(chunk)
    return this
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#take(chunk).then(() => { callback() }, callback)
  }

  /** Copy `chunk` into parts, handing each full one out once a byte of the next is here (a part that turns out last may be a PutObject). */
  async #take (chunk: Buffer): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure
    this.#bytes += chunk.length
    this.#check?.update(chunk)
    let at = 0
    while (at < chunk.length) {
      if (this.#filled === this.partSize) await this.#handOut()
      // Small first: only an object that starts with a small write may stay small (a file or a stream of blocks does not).
      this.#fill ??= this.#spare.pop() ?? this.#store.partBuffers.take(this.partSize) ??
        Buffer.allocUnsafeSlow(chunk.length - at < FIRST_BUFFER ? Math.min(this.partSize, FIRST_BUFFER) : this.partSize)
      if (this.#filled === this.#fill.length) this.#fill = grown(this.#fill, this.partSize)
      const n = chunk.copy(this.#fill, this.#filled, at)
      this.#filled += n
      at += n
    }
  }

  /** Send the part filled so far, once a slot is free; rejects with the upload's failure. */
  async #handOut (): Promise<void> {
    while (this.#inFlight.size >= this.queueSize && this.#failure === undefined) await Promise.race(this.#inFlight)
    if (this.#failure !== undefined) throw this.#failure
    const buffer = this.#fill as Buffer
    const length = this.#filled
    this.#fill = undefined
    this.#filled = 0
    const number = ++this.#parts
    if (number > MAX_PARTS) throw this.#fail(new Error(`more than ${MAX_PARTS} parts of ${this.partSize} bytes: use a larger partSize`))
    const sending: Promise<void> = this.#sendPart(number, buffer.subarray(0, length)).then(() => {
      this.#inFlight.delete(sending)
      if (this.#lastPartOut) this.#store.partBuffers.give([buffer], this.partSize, this.queueSize + 1)
      else this.#spare.push(buffer)
    }, (err: unknown) => {
      this.#inFlight.delete(sending)
      this.#fail(err)
    })
    this.#inFlight.add(sending)
  }

  #fail (err: unknown): Error {
    this.#failure ??= err instanceof StoreError ? err : this.#store.fail(err, 'put', this.key)
    return this.#failure
  }

  /** A request of this writer's transfer (counted, its parts reported), cancelled by `signal` (destroy()'s by default). */
  async #send<T>(command: (sdk: S3Connection['sdk']) => object, signal = this.#abort.signal): Promise<T> {
    const { client, sdk } = this.#connection as S3Connection
    const request = command(sdk) as Parameters<typeof client.send>[0]
    withTransfer(request.input as object, this.#transfer)
    return await client.send(request, { abortSignal: signal }) as T
  }

  async #startUpload (): Promise<string> {
    const request = {
      Bucket: this.#store.bucket,
      Key: this.#objectKey,
      ContentType: this.#options.contentType,
      Metadata: this.#options.metadata,
      ChecksumAlgorithm: this.#checksums ? 'CRC32' as const : undefined
    }
    const began = Date.now()
    let out: { UploadId?: string, $metadata?: { attempts?: number } }
    try {
      // Not cancelled by destroy(): the server may have made the upload already, and its answer is the only sure
      // way to learn the id that aborts it (cancelled, the upload stayed open for good, known to no one).
      // destroy() waits for it, as it waits for the abort, for a grace (CREATE_GRACE_MS) and no new attempt.
      this.#creating = this.#send((sdk) => {
        const command = new sdk.CreateMultipartUploadCommand(request)
        // Inside the SDK's retry loop (its step, lower priority), so run once per attempt.
        command.middlewareStack.add((next) => async (args) => {
          if (this.#stopping) throw new Error('the writer was destroyed: no new attempt of the create')
          return await next(args)
        }, { step: 'finalizeRequest', priority: 'low', name: 'shoeboxNoAttemptAfterDestroy' })
        return command
      }, this.#createAbort.signal)
      out = await this.#creating as typeof out
    } catch (err) {
      // Every attempt failed, but one may have reached the server (an answer lost on the way). Not when
      // destroy() gave the create up: that server does not answer, and its listing would hold close as long.
      if (!this.#createAbort.signal.aborted) await this.#abortStrays(began, undefined)
      throw err
    }
    if (out.UploadId === undefined) throw new Error('the server gave the multipart upload no id')
    this.#knownUploadId = out.UploadId
    if ((out.$metadata?.attempts ?? 1) > 1) await this.#abortStrays(began, out.UploadId)
    this.#options.onMultipartUpload?.(out.UploadId)
    return out.UploadId
  }

  /**
   * The SDK tried the create more than once: an attempt whose answer was lost
   * (a dropped connection, a reset, a 5xx from a proxy after the server had
   * acted) may have created an upload whose id nobody has, open and billed for
   * good. This key's uploads begun since `began` (the server's times may be
   * whole seconds: from the start of that second), other than `keep`, are
   * those: aborted. Another writer of the very same key that began within
   * that second would lose its upload too; a key has one writer here (a file's
   * name, an object put). Best effort: a server that does not list uploads,
   * or fails to, leaves them (README, Guarantees).
   */
  async #abortStrays (began: number, keep: string | undefined): Promise<void> {
    const from = Math.floor(began / 1000) * 1000
    try {
      const strays: string[] = []
      for await (const upload of this.#store.listUploads(this.key)) {
        // By our clock, as `began` is (the server's Initiated moved by its skew).
        const at = initiatedLocally(upload)
        if (upload.key === this.key && upload.uploadId !== keep && at !== undefined && at >= from) strays.push(upload.uploadId)
      }
      for (const uploadId of strays) await this.#store.abortUpload(this.key, uploadId)
    } catch {
      // Not the write's failure: the stray stays open, as it did before (`shoebox multipart` lists it).
    }
  }

  async #sendPart (number: number, body: Buffer): Promise<void> {
    this.#uploadId ??= this.#startUpload()
    const uploadId = await this.#uploadId
    const request = { Bucket: this.#store.bucket, Key: this.#objectKey, UploadId: uploadId, PartNumber: number, Body: body }
    const out = await this.#send<{ ETag?: string, ChecksumCRC32?: string }>((sdk) => new sdk.UploadPartCommand(request))
    if (out.ETag === undefined) throw new Error(`the server gave part ${number} no ETag`)
    // As lib-storage did: a part's checksum goes into the completion only where the server returned one.
    this.#completed.push({ PartNumber: number, ETag: out.ETag, ...(out.ChecksumCRC32 !== undefined ? { ChecksumCRC32: out.ChecksumCRC32 } : {}) })
    this.#confirm(body.length)
  }

  #confirm (bytes: number): void {
    this.#confirmed += bytes
    this.#stats.uploadedBytes(bytes)
    this.emit('progress', { key: this.key, bytes: this.#confirmed })
  }

  override _final (callback: (err?: Error | null) => void): void {
    this.#finish().then(() => { callback() }, (err: Error) => { callback(err) })
  }

  async #finish (): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure
    const etag = this.#parts === 0 ? await this.#putWhole() : await this.#complete()
    // Every request has settled: nothing sends from the buffers any more (a PutObject's, or any left).
    this.#giveBuffers()
    await this.#verify(etag)
    this.#stats.uploadedObject()
    this.result = { key: this.key, bytes: this.#bytes, etag }
  }

  /** Leave the spare part buffers (and the one filling) to the store's next writer: only those no request of this writer still sends from. */
  #giveBuffers (): void {
    const buffers = this.#spare.splice(0)
    if (this.#fill !== undefined) buffers.push(this.#fill)
    this.#fill = undefined
    this.#filled = 0
    this.#store.partBuffers.give(buffers, this.partSize, this.queueSize + 1)
  }

  /** Everything fit in one part: one PutObject (an empty object too). */
  async #putWhole (): Promise<string> {
    const body = this.#fill === undefined ? Buffer.alloc(0) : this.#fill.subarray(0, this.#filled)
    const request = {
      Bucket: this.#store.bucket,
      Key: this.#objectKey,
      Body: body,
      ContentType: this.#options.contentType,
      Metadata: this.#options.metadata
    }
    let out: { ETag?: string }
    try {
      out = await this.#send((sdk) => new sdk.PutObjectCommand(request))
    } catch (err) {
      throw this.#fail(err)
    }
    this.#confirm(body.length)
    return out.ETag ?? ''
  }

  async #complete (): Promise<string> {
    if (this.#filled > 0) await this.#handOut()
    // Nothing more to fill: the store's next writer (often the next file's, already under way) may have the
    // buffers no request sends from now, and each of the others once its request has settled.
    this.#lastPartOut = true
    this.#giveBuffers()
    while (this.#inFlight.size > 0) await Promise.race(this.#inFlight)
    if (this.#failure !== undefined) throw this.#failure
    const parts = this.#completed.sort((a, b) => a.PartNumber - b.PartNumber)
    const request = {
      Bucket: this.#store.bucket,
      Key: this.#objectKey,
      UploadId: await this.#uploadId as string,
      MultipartUpload: { Parts: parts }
    }
    try {
      const out = await this.#send<{ ETag?: string }>((sdk) => new sdk.CompleteMultipartUploadCommand(request))
      this.#knownUploadId = undefined
      return out.ETag ?? ''
    } catch (err) {
      throw this.#fail(err)
    }
  }

  /** Is the stored object what was written? If not, it goes. */
  async #verify (etag: string): Promise<void> {
    const why = this.#check?.mismatch(etag)
    if (why === undefined) return
    await this.#store.delete(this.key).catch(() => {})
    throw new StoreError('verify', this.#store.url, 'put', this.key, `${why}; the object was removed`)
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.result !== undefined || this.#uploadId === undefined) {
      this.#abort.abort()
      callback(err)
      return
    }
    // A failure the upload had already met; not the cancellations that follow.
    const failure = this.#failure
    this.#failure ??= new StoreError('other', this.#store.url, 'put', this.key, 'the upload was stopped')
    this.#stopping = true
    this.#abort.abort()
    const cleanUp = async (): Promise<void> => {
      const settled = Promise.allSettled([...this.#inFlight, this.#uploadId])
      const grace = Math.min(CREATE_GRACE_MS, this.#store.requestTimeout)
      let timer: NodeJS.Timeout | undefined
      const gaveUp = await Promise.race([
        settled.then(() => false),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(true) }, grace) })
      ])
      clearTimeout(timer)
      if (gaveUp) {
        // The create ends at once, cancelled. Not waiting for the rest: a listing of strays (a create that failed
        // just before) on a server that does not answer is the store's request, ended by its close().
        this.#createAbort.abort()
        await Promise.allSettled([this.#creating])
      }
      this.#giveBuffers()
      const uploadId = this.#knownUploadId
      if (uploadId === undefined) {
        if (gaveUp) {
          // Said where it is seen: the error close reports, else a 'warning' (a plain destroy() reports no error).
          const said = `its CreateMultipartUpload had no answer within ${grace / 1000} s of destroy() and was given up: ` +
            `the upload it may have made stays open (shoebox multipart ${this.#store.url} lists it)`
          const reported = err ?? failure
          if (reported instanceof Error) reported.message += `; ${said}`
          else this.emit('warning', new StoreError('other', this.#store.url, 'put', this.key, said))
        }
        return
      }
      // Its own request, not cancelled by the signal above.
      const { client, sdk } = this.#connection as S3Connection
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.#store.bucket, Key: this.#objectKey, UploadId: uploadId }))
        .catch((abortErr: unknown) => {
          // Left open (a policy that refuses the parts often refuses their abort too): the error says so, and where
          // it is found, where it said nothing and the upload stayed open unseen.
          const status = statusOf(abortErr)
          const e = abortErr as { name?: string, Code?: string }
          if (e.name === 'NoSuchUpload' || status === 404) return
          const reported = err ?? failure
          const why = `${e.Code ?? e.name ?? 'Error'}${status === undefined ? '' : `, HTTP ${status}`}`
          if (reported instanceof Error) {
            reported.message += `; its multipart upload ${uploadId} could not be aborted (${why}) and stays open (shoebox multipart ${this.#store.url} lists it)`
          }
        })
    }
    cleanUp().then(() => { callback(err ?? failure ?? null) }, () => { callback(err) })
  }
}
