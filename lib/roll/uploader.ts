/**
 * Shipping sealed archives to a store.
 *
 * The queue is the directory itself: every sealed archive (a non-hidden
 * file) without a `.NAME.uploaded` marker beside it is still to upload, so a
 * restart resumes every pending upload with no other state to keep or
 * corrupt. Each file goes to the key of its own name (a retry after a crash
 * rewrites the same object, never a second one), is verified (its parts'
 * checksums against the bytes read, see part-check.ts, then the stored
 * size), and only then
 * marked done, or deleted when `deleteLocal` asks.
 *
 * A multipart upload in flight is noted in `.NAME.uploading` (its id) the
 * moment the server assigns one, so one left open by a killed process is
 * aborted at the next start.
 *
 * The uploader is given a Store and never closes it: whoever opened it (the
 * rolling sink, from its `upload.to`) does. Tries and pauses come from
 * transfer/retry.ts.
 */
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { codecOfName } from '../compress/codecs.js'
import { invalidOption } from '../errors.js'
import type { StoreOptions } from '../store/open-store.js'
import { StoreError } from '../store/store-error.js'
import type { Store } from '../store/store.js'
import type { TransferSnapshot } from '../transfer/stats.js'
import { parseDuration } from '../units.js'

/** How a SealedUploader ships: everything of UploadOptions but where to. */
export interface UploaderOptions {
  /** Files uploaded at once. Default 2. */
  concurrency?: number
  /** Delete each local file once its upload is verified. Default false (mark it uploaded instead). */
  deleteLocal?: boolean
  /** Tries per file before it is left queued for the next start. Default 3. */
  attempts?: number
  /** Base pause between tries of a file (doubled each time, jittered). Default '1s'. */
  retryDelay?: number | string
  /** Multipart part size and parts in flight per file (S3). Defaults 8 MiB and 4. */
  partSize?: number | string
  queueSize?: number
}

/** A rolling sink's `upload` option: where sealed files go, and how. */
export interface UploadOptions extends UploaderOptions {
  /** Where sealed files go: a store URL ('s3://bucket/prefix', 'file:///dir', a directory) or a Store. */
  to: string | Store
  /** Endpoint, region, credentials... when `to` is a URL. */
  storeOptions?: StoreOptions
}

export interface UploadEvent {
  key: string
  path: string
  bytes: number
  etag: string
  ms: number
}

export interface UploadErrorEvent {
  path: string
  key: string
  error: Error
  attempt: number
  /** False once the file's tries are used up: it stays queued in the directory. */
  willRetry: boolean
}

const UPLOADED = '.uploaded'
const UPLOADING = '.uploading'

export function uploadedMarker (dir: string, name: string): string {
  return path.join(dir, `.${name}${UPLOADED}`)
}

function uploadingMarker (dir: string, name: string): string {
  return path.join(dir, `.${name}${UPLOADING}`)
}

/** Sealed archives of a directory not yet uploaded: non-hidden regular files without a marker. */
export async function pendingUploads (dir: string): Promise<string[]> {
  const entries = await fsp.readdir(dir, { withFileTypes: true })
  const names = new Set(entries.map((e) => e.name))
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.') && !names.has(`.${e.name}${UPLOADED}`))
    .map((e) => e.name)
    .sort()
}

export class SealedUploader extends EventEmitter {
  readonly dir: string
  readonly store: Store
  readonly #options: UploaderOptions
  readonly #concurrency: number
  readonly #attempts: number
  readonly #retryDelay: number
  /** Names waiting, in order, and every name queued or running (no file twice). */
  #queue: string[] = []
  #known = new Set<string>()
  #running = 0
  #writers = new Set<{ destroy: (err?: Error) => void }>()
  #idle: Array<() => void> = []
  #closed = false
  /** Aborted by close(): ends the pauses between tries at once. */
  readonly #stop = new AbortController()
  /** Files whose tries ran out this session, with the last error. */
  readonly failed = new Map<string, Error>()

  constructor (dir: string, store: Store, options: UploaderOptions = {}) {
    super()
    if (store === null || typeof store !== 'object' || typeof store.writer !== 'function') {
      throw invalidOption('upload.to', 'a store URL or directory is required')
    }
    this.dir = dir
    this.store = store
    this.#options = { ...options }
    this.#concurrency = options.concurrency ?? 2
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) throw invalidOption('upload.concurrency', 'must be a positive integer')
    this.#attempts = options.attempts ?? 3
    if (!Number.isInteger(this.#attempts) || this.#attempts < 1) throw invalidOption('upload.attempts', 'must be a positive integer')
    this.#retryDelay = parseDuration(options.retryDelay ?? 1000, 'upload.retryDelay')
  }

  /**
   * At start: drop markers whose file is gone (aborting the upload an
   * `.uploading` one names) and queue every sealed file not uploaded. A file
   * that is still here has its killed upload aborted when it is shipped
   * again (#uploadOnce), with that upload's retries.
   */
  async resume (): Promise<void> {
    const entries = await fsp.readdir(this.dir)
    const present = new Set(entries)
    for (const entry of entries) {
      if (!entry.startsWith('.')) continue
      if (entry.endsWith(UPLOADING) && !present.has(entry.slice(1, -UPLOADING.length))) {
        const name = entry.slice(1, -UPLOADING.length)
        try {
          await this.#abortNoted(name)
        } catch (err) {
          // The store is down: writing must not wait for it. Keep the marker for the next start; finish reports it.
          this.failed.set(name, err as Error)
          this.emit('uploadError', { path: path.join(this.dir, name), key: name, error: err as Error, attempt: 1, willRetry: false } satisfies UploadErrorEvent)
        }
      } else if (entry.endsWith(UPLOADED) && !present.has(entry.slice(1, -UPLOADED.length))) {
        await fsp.rm(path.join(this.dir, entry), { force: true })
      }
    }
    for (const name of await pendingUploads(this.dir)) this.enqueue(path.join(this.dir, name))
  }

  /**
   * Abort the multipart upload that `name`'s `.uploading` marker names (one a
   * killed process left open), then remove the marker. Nothing to do without
   * a marker; a marker torn by the crash names no upload it could abort (the
   * lifecycle rule's case) and is just removed. Throws if the abort fails,
   * keeping the marker.
   */
  async #abortNoted (name: string): Promise<void> {
    const marker = uploadingMarker(this.dir, name)
    let text: string
    try {
      text = await fsp.readFile(marker, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    const noted = parseUploading(text)
    if (noted !== undefined) await this.store.abortUpload(noted.key, noted.uploadId)
    await fsp.rm(marker, { force: true })
  }

  /** Queue a sealed file (a path in the directory). */
  enqueue (file: string): void {
    const name = path.basename(file)
    if (this.#closed || this.#known.has(name)) return
    this.#known.add(name)
    this.#queue.push(name)
    this.#pump()
  }

  /** Files queued or uploading. */
  get pending (): number {
    return this.#queue.length + this.#running
  }

  /** Wait until nothing is queued or running; resolves with the last failure if a file was left behind. */
  async drain (): Promise<Error | undefined> {
    if (this.pending > 0) await new Promise<void>((resolve) => { this.#idle.push(resolve) })
    const failures = [...this.failed.values()]
    return failures.length === 0 ? undefined : failures[failures.length - 1]
  }

  stats (): TransferSnapshot {
    return this.store.stats()
  }

  /** Stop: uploads in flight are aborted (their files stay queued in the directory). The store stays open: it is the caller's. */
  async close (): Promise<void> {
    this.#closed = true
    this.#stop.abort()
    this.#queue = []
    for (const writer of this.#writers) writer.destroy()
    if (this.#running > 0) await new Promise<void>((resolve) => { this.#idle.push(resolve) })
  }

  #pump (): void {
    while (!this.#closed && this.#running < this.#concurrency && this.#queue.length > 0) {
      const name = this.#queue.shift() as string
      this.#running++
      this.#ship(name).finally(() => {
        this.#running--
        this.#known.delete(name)
        this.#pump()
        if (this.pending === 0) {
          const idle = this.#idle
          this.#idle = []
          for (const resolve of idle) resolve()
        }
      }).catch(() => {})
    }
  }

  /** Upload one file, with tries and pauses; never throws (failures are events). */
  async #ship (name: string): Promise<void> {
    const file = path.join(this.dir, name)
    let attempt = 0
    try {
      // Loaded with the first upload, not when the package is imported (bench/startup.js).
      const { retry } = await import('../transfer/retry.js')
      await retry(async (n) => {
        attempt = n
        await this.#uploadOnce(name, file)
      }, {
        attempts: this.#attempts,
        baseDelay: this.#retryDelay,
        maxDelay: Infinity,
        signal: this.#stop.signal,
        retryable: (err) => !isGone(err),
        onRetry: ({ error }) => {
          this.emit('uploadError', { path: file, key: name, error: error as Error, attempt, willRetry: true } satisfies UploadErrorEvent)
        }
      })
      this.failed.delete(name)
    } catch (err) {
      // Uploaded and removed by another writer sharing the directory; or stopped by close().
      if (isGone(err) || this.#closed) return
      const error = err as Error
      this.emit('uploadError', { path: file, key: name, error, attempt, willRetry: false } satisfies UploadErrorEvent)
      this.failed.set(name, error)
    }
  }

  async #uploadOnce (name: string, file: string): Promise<void> {
    const started = Date.now()
    const size = (await fsp.stat(file)).size
    // An upload of this file that a killed process left open goes first; its id would be overwritten below.
    await this.#abortNoted(name)
    const noteUpload = uploadingMarker(this.dir, name)
    const writer = this.store.writer(name, {
      partSize: this.#options.partSize,
      queueSize: this.#options.queueSize,
      contentType: codecOfName(name).contentType,
      // Synchronous on purpose: the id is on disk before any part is sent.
      onMultipartUpload: (uploadId) => { fs.writeFileSync(noteUpload, JSON.stringify({ key: name, uploadId })) }
    })
    this.#writers.add(writer)
    try {
      await pipeline(fs.createReadStream(file, { highWaterMark: 1024 * 1024 }), writer)
    } finally {
      this.#writers.delete(writer)
    }
    // The writer has aborted or completed its multipart upload either way by now.
    await fsp.rm(noteUpload, { force: true })
    const result = writer.result as NonNullable<typeof writer.result>
    const stored = await this.store.stat(name)
    if (stored.size !== size || result.bytes !== size) {
      throw new StoreError('verify', this.store.url, 'upload', name,
        `stored ${stored.size} bytes, sent ${result.bytes}, the file has ${size}`)
    }
    if (this.#options.deleteLocal === true) {
      await fsp.unlink(file)
    } else {
      const marker = uploadedMarker(this.dir, name)
      const temp = `${marker}.tmp`
      await fsp.writeFile(temp, JSON.stringify({ key: name, etag: result.etag, bytes: size, at: new Date().toISOString() }) + '\n')
      await fsp.rename(temp, marker)
    }
    this.emit('upload', { key: name, path: file, bytes: size, etag: result.etag, ms: Date.now() - started } satisfies UploadEvent)
  }
}

function isGone (err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

function parseUploading (text: string): { key: string, uploadId: string } | undefined {
  try {
    const noted = JSON.parse(text) as { key?: unknown, uploadId?: unknown }
    if (typeof noted.key === 'string' && typeof noted.uploadId === 'string') return { key: noted.key, uploadId: noted.uploadId }
    return undefined
  } catch {
    return undefined
  }
}
