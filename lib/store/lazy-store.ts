/**
 * The store openStore('s3://...') returns: an S3Store whose code (the store,
 * its writer, part checks, resumable reads: five modules) loads on the first
 * call that needs it, not when the package is imported. Importing shoebox
 * must stay about as fast as starting Node (bench/startup.js), and a program
 * that never names an s3:// URL should not pay for them. (The SDK itself
 * loads later still, with the first request: s3-client.ts.)
 *
 * Everything a caller can see stays as the S3Store has it: a bad URL throws
 * here, at once; the async methods wait for the load, then delegate; get()
 * and writer() return their stream at once and refuse a bad key or writer
 * option at once, with the checks the S3Store runs (keys.ts, s3-config.ts);
 * stats() works before the first call (nothing transferred yet). Once
 * loaded, every call goes straight to the S3Store.
 */
import { Readable, Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { S3Client } from '@aws-sdk/client-s3'
import { isBytes, refuseNotBytes, refusedLateWrite, ShoeboxError, STORE_HINT } from '../errors.js'
import { countTaken, TransferStats, type TransferSnapshot } from '../transfer/stats.js'
import { checkKey, checkObjectName } from './keys.js'
import { parseS3Url, s3ClientSettings, s3StoreUrl, s3WriterSettings, type S3StoreOptions } from './s3-config.js'
import type { S3Store } from './s3-store.js'
import type { GetOptions, ListOptions, ObjectInfo, ObjectWriter, OpenUpload, PutOptions, PutResult, Store, WriterOptions } from './store.js'
import { lateEnd } from '../stream/deliver-then-fail.js'

export class LazyS3Store implements Store {
  readonly url: string
  readonly bucket: string
  readonly prefix: string
  /** The URL as given (the S3Store parses it again). */
  readonly #given: string
  readonly #options: S3StoreOptions
  #loading: Promise<S3Store> | undefined
  #store: S3Store | undefined

  constructor (url: string, options: S3StoreOptions = {}) {
    const location = parseS3Url(url)
    this.bucket = location.bucket
    this.prefix = location.prefix
    this.url = s3StoreUrl(location)
    this.#given = url
    this.#options = { ...options }
    // Refused now, as a bad URL is, rather than when the first request makes the client.
    if (options.client === undefined) s3ClientSettings(options)
  }

  /** The S3Store, its modules loaded on the first call. A failed load is not kept, so a later call tries again. */
  async loaded (): Promise<S3Store> {
    this.#loading ??= import('./s3-store.js').then(({ S3Store }) => {
      this.#store = new S3Store(this.#given, this.#options)
      return this.#store
    })
    this.#loading.catch(() => { this.#loading = undefined })
    return await this.#loading
  }

  /** The S3Client this store sends its requests with (loading the SDK if no request has yet). */
  async client (): Promise<S3Client> {
    return await (await this.loaded()).client()
  }

  /**
   * `check(key)`, its refusal naming the store as the S3Store's does (s3-store.ts #named): before the load,
   * `shoebox upload 'a\\b.log' --to s3://...` said only 'key "a\\\\b.log": contains a backslash'.
   */
  #named (key: string, check: (key: string) => string): void {
    try {
      check(key)
    } catch (err) {
      throw new ShoeboxError('SHOEBOX_BAD_KEY', `${this.url}: ${(err as Error).message}`, { cause: err })
    }
  }

  async put (key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<PutResult> {
    return await (await this.loaded()).put(key, body, options)
  }

  writer (key: string, options: WriterOptions = {}): ObjectWriter {
    if (this.#store !== undefined) return this.#store.writer(key, options)
    this.#named(key, checkKey)
    const settings = s3WriterSettings(options)
    return new DeferredWriter(key, settings, async () => (await this.loaded()).writer(key, options))
  }

  get (key: string, options: GetOptions = {}): Readable {
    if (this.#store !== undefined) return this.#store.get(key, options)
    try {
      this.#named(key, checkObjectName)
    } catch (err) {
      // As from the S3Store: a stream that fails, for the consumer's error path.
      return Readable.from([]).destroy(err as Error)
    }
    return new DeferredRead(async () => (await this.loaded()).openRead(key, options))
  }

  async * list (prefix?: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    yield * (await this.loaded()).list(prefix, options)
  }

  async stat (key: string): Promise<ObjectInfo> {
    return await (await this.loaded()).stat(key)
  }

  async exists (key: string): Promise<boolean> {
    return await (await this.loaded()).exists(key)
  }

  async delete (key: string): Promise<void> {
    await (await this.loaded()).delete(key)
  }

  async * listUploads (prefix?: string): AsyncIterable<OpenUpload> {
    yield * (await this.loaded()).listUploads(prefix)
  }

  async abortUpload (key: string, uploadId: string): Promise<void> {
    await (await this.loaded()).abortUpload(key, uploadId)
  }

  stats (): TransferSnapshot {
    return this.#store?.stats() ?? new TransferStats().snapshot()
  }

  /** Release the S3Store's connections; a store never used has none (and loads nothing to close). */
  async close (): Promise<void> {
    const loading = this.#loading
    if (loading === undefined) return
    const store = await loading.catch(() => undefined)
    await store?.close()
  }
}

/**
 * A read asked for before the S3Store has loaded: returned at once, it opens
 * the S3Store's read in _construct and passes its bytes on as they are
 * asked for; destroying it destroys that read at once (even one waiting on
 * the network), as destroying the S3Store's own stream would.
 */
class DeferredRead extends Readable {
  readonly #open: () => Promise<{ stream: Readable, stats: TransferStats }>
  #inner: Readable | undefined

  constructor (open: () => Promise<{ stream: Readable, stats: TransferStats }>) {
    super({ highWaterMark: 1024 * 1024 })
    this.#open = open
  }

  override _construct (callback: (err?: Error | null) => void): void {
    this.#open().then(({ stream: inner, stats }) => {
      this.#inner = inner
      // Counted as this stream is taken, not the inner one: what both buffer when it closes early was never read.
      countTaken(this, stats, () => this.readableLength + inner.readableLength)
      inner.on('data', (chunk: Buffer) => { if (!this.push(chunk)) inner.pause() })
      inner.once('end', () => { this.push(null) })
      inner.once('error', (err: Error) => { this.destroy(err) })
      inner.pause()
      callback()
    }, callback)
  }

  override _read (): void {
    this.#inner?.resume()
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    // Paused first: a resume() asked for by the last read would hand its buffer on, into this destroyed stream, on the next tick.
    this.#inner?.pause()
    this.#inner?.destroy()
    callback(err)
  }
}

/**
 * A writer asked for before the S3Store has loaded: returned at once (its
 * options already checked), it opens the S3Store's writer in _construct and
 * passes every write, the end and a destroy through to it. Writes wait for
 * the load as the S3 writer's own writes wait for the SDK.
 */
class DeferredWriter extends Writable implements ObjectWriter {
  readonly key: string
  readonly partSize: number
  readonly queueSize: number
  result: PutResult | undefined
  readonly #open: () => Promise<ObjectWriter>
  #inner: ObjectWriter | undefined

  constructor (key: string, settings: { partSize: number, queueSize: number }, open: () => Promise<ObjectWriter>) {
    // Each write is passed on and called back by the inner writer, whose own buffer bounds memory.
    super({ highWaterMark: 1024 * 1024 })
    this.key = key
    this.partSize = settings.partSize
    this.queueSize = settings.queueSize
    this.#open = open
  }

  stats (): TransferSnapshot {
    return this.#inner?.stats() ?? new TransferStats().snapshot()
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

  override _construct (callback: (err?: Error | null) => void): void {
    this.#open().then((inner) => {
      this.#inner = inner
      inner.on('progress', (progress) => this.emit('progress', progress))
      // The S3 writer's word that a plain destroy() left its upload perhaps open (s3-writer.ts).
      inner.on('warning', (warning: Error) => this.emit('warning', warning))
      inner.on('error', (err: Error) => { this.destroy(err) })
      callback()
    }, callback)
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    (this.#inner as ObjectWriter).write(chunk, callback)
  }

  override _final (callback: (err?: Error | null) => void): void {
    const inner = this.#inner as ObjectWriter
    inner.end()
    // `finish` only once the store has confirmed the object, as the inner writer's.
    finished(inner).then(() => {
      this.result = inner.result
      callback()
    }, callback)
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    const inner = this.#inner
    if (inner === undefined || inner.closed) {
      callback(err)
      return
    }
    // Before completion the inner writer aborts its upload; this one reports closed once that is done.
    inner.once('close', () => { callback(err) })
    inner.destroy(err ?? undefined)
  }
}
