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
 * A multipart upload in flight is noted in `.NAME.uploading`: its intent
 * before it is asked for, its id the moment the server assigns one, so one
 * left open by a killed process is aborted at the next start (by its id, or,
 * killed before the id reached the disk, by listing the key's uploads).
 *
 * The uploader is given a Store and never closes it: whoever opened it (the
 * rolling sink, from its `upload.to`) does. Tries and pauses come from
 * transfer/retry.ts.
 *
 * Its `upload` listeners are awaited as the rolling sink's are
 * (awaited-listeners.ts): drain() resolves once they have settled too, and
 * one that throws or rejects is what drain() resolves with (used on its own;
 * in a rolling sink, the sink's listener only passes the event on to the
 * sink's, which the sink awaits).
 */
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { codecOfName, SNIFF_BYTES, sniffCodec } from '../compress/codecs.js'
import { MAGIC_BYTES } from '../format/constants.js'
import { Fifo } from '../fifo.js'
import { invalidOption, ShoeboxError, untilAborted } from '../errors.js'
import { describeIoError } from '../fs/io-error.js'
import type { StoreOptions } from '../store/open-store.js'
import { StoreError } from '../store/store-error.js'
import { initiatedLocally, type PutResult, type Store, type WriterOptions } from '../store/store.js'
import type { TransferSnapshot } from '../transfer/stats.js'
import { directoryStoreAt } from '../fs/real-path.js'
import { checkFlag, durationOption, positiveCount } from '../units.js'
import { checkPartSize } from '../store/s3-config.js'
import type { AwaitedListeners } from '../stream/awaited-listeners.js'
import type { EarlyUpload } from './early-upload.js'
import type * as UploadMarker from './upload-marker.js'
import type * as TakenKey from './taken-key.js'

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
  /**
   * Upload a file while the rolling sink writes it (its parts as it grows),
   * completing once it is sealed under its planned name. Default true.
   */
  early?: boolean
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
  /** early-upload.ts's class, loaded by resume() (not at import: importing the package stays small). */
  #EarlyUpload: typeof EarlyUpload | undefined
  /** The store's part size: an early upload starts once a file has more (early-upload.ts). */
  readonly #partSize: number
  /** Names waiting, in order, and every name queued or running (no file twice). */
  #queue = new Fifo<string>()
  #known = new Set<string>()
  #running = 0
  #writers = new Set<{ destroy: (err?: Error) => void }>()
  #idle: Array<() => void> = []
  #closed = false
  /** Aborted by close(): ends the pauses between tries at once. */
  readonly #stop = new AbortController()
  /** Files whose tries ran out this session, with the last error. */
  readonly failed = new Map<string, Error>()
  /**
   * Names the store has from this uploader, counted as each put completes, before it is verified: a stop
   * (close()) between the two leaves the object in the store with no `upload` event, and a caller saying
   * what a stop kept (pack) counts these.
   */
  readonly stored = new Set<string>()
  /** Files being written, uploaded as they grow, by temporary path. */
  readonly #growing = new Map<string, EarlyUpload>()
  /** Sealed files whose early upload is completing, by name: their first try awaits it. */
  readonly #sealedEarly = new Map<string, { upload: EarlyUpload, result: Promise<PutResult> }>()
  /** The `upload` listeners, whose work drain() waits for (made with the first upload: its module loads then). */
  #listeners: AwaitedListeners | undefined

  constructor (dir: string, store: Store, options: UploaderOptions = {}) {
    super()
    if (store === null || typeof store !== 'object' || typeof store.writer !== 'function') {
      throw invalidOption('upload.to', 'a store URL or directory is required')
    }
    this.dir = dir
    this.store = store
    this.#options = { ...options }
    this.#concurrency = positiveCount(options.concurrency, 2, 'upload.concurrency')
    this.#attempts = positiveCount(options.attempts, 3, 'upload.attempts')
    this.#retryDelay = durationOption(options.retryDelay, 1000, 'upload.retryDelay')
    // Checked as --part-size is, for every store: a directory store's writer reads no part size, and took any.
    this.#partSize = checkPartSize(options.partSize, 'upload.partSize')
    checkFlag(options.deleteLocal, 'upload.deleteLocal')
    checkFlag(options.early, 'upload.early')
    // A directory store at the files' own directory: each file "uploaded" onto itself (its object the file), and
    // with deleteLocal then deleted, the object with it (shoebox write logs --to logs --delete-local lost every
    // record, exit 0). By the real paths: a second name through a symbolic link is the same directory.
    if (directoryStoreAt(store, dir) !== undefined) {
      throw invalidOption('upload.to', `is the directory the sealed files are in (${dir}): each would be uploaded onto itself${options.deleteLocal === true ? ', and then deleted with it' : ''}; upload to another directory or a store`)
    }
  }

  /**
   * At start: drop markers whose file is gone (aborting the upload an
   * `.uploading` one names) and queue every sealed file not uploaded. A file
   * that is still here has its killed upload aborted when it is shipped
   * again (#uploadOnce), with that upload's retries.
   */
  /**
   * The files resume() would ship that are no archives: neither empty nor beginning as a shoebox, gzip or zstd
   * file. A rolling sink refuses to start in a directory that holds any (rolling-sink.ts); a SealedUploader
   * of your own ships what its directory holds.
   */
  async notArchives (): Promise<string[]> {
    const foreign: string[] = []
    for (const name of await pendingUploads(this.dir)) {
      const head = Buffer.alloc(Math.max(SNIFF_BYTES, MAGIC_BYTES.length))
      let read = 0
      try {
        const handle = await fsp.open(path.join(this.dir, name), 'r')
        try {
          read = (await handle.read(head, 0, head.length, 0)).bytesRead
        } finally {
          await handle.close()
        }
      } catch {
        continue // gone, or unreadable: its upload says so
      }
      const start = head.subarray(0, read)
      if (read > 0 && !start.subarray(0, MAGIC_BYTES.length).equals(MAGIC_BYTES) && sniffCodec(start).name === 'none') foreign.push(name)
    }
    return foreign
  }

  async resume (): Promise<void> {
    const { EarlyUpload } = await import('./early-upload.js')
    this.#EarlyUpload = EarlyUpload
    for (const [name, err] of await this.dropLeftMarkers()) {
      // The store is down (or a marker is stuck): writing must not wait for it. Kept for the next start; finish reports it.
      this.failed.set(name, err)
      this.emit('uploadError', { path: path.join(this.dir, name), key: name, error: err, attempt: 1, willRetry: false } satisfies UploadErrorEvent)
    }
    for (const name of await pendingUploads(this.dir)) this.enqueue(path.join(this.dir, name))
  }

  /**
   * The markers a killed process left for files that are gone: the
   * multipart upload an `.uploading` one names is aborted (or it stays open,
   * and billed, for ever) and the marker removed; an `.uploaded` one is
   * removed. `owns` picks this uploader's names where two share a
   * directory (the event store's publisher: runs and packs, each to its own
   * prefix, so only the right one can abort an upload). Resolves with the
   * names whose abort failed (the store is down) or whose marker could not
   * be removed, their markers kept.
   */
  async dropLeftMarkers (owns: (name: string) => boolean = () => true): Promise<Map<string, Error>> {
    const { parseTempName } = await import('./names.js')
    const entries = await fsp.readdir(this.dir)
    const present = new Set(entries)
    const writing = new Set(entries.map((e) => parseTempName(e)?.finalName))
    const failures = new Map<string, Error>()
    for (const entry of entries) {
      if (!entry.startsWith('.')) continue
      const suffix = entry.endsWith(UPLOADING) ? UPLOADING : entry.endsWith(UPLOADED) ? UPLOADED : undefined
      if (suffix === undefined) continue
      const name = entry.slice(1, -suffix.length)
      // A file still being written (recovery has sealed the dead writers'): a live writer may be uploading it already.
      if (present.has(name) || !owns(name) || (suffix === UPLOADING && writing.has(name))) continue
      try {
        if (suffix === UPLOADED) await removeMarker(path.join(this.dir, entry), `the marker of ${path.join(this.dir, name)}, which is gone`, MARKER_KEPT)
        else await this.#abortNoted(name, MARKER_KEPT)
      } catch (err) {
        failures.set(name, err as Error)
      }
    }
    return failures
  }

  /**
   * Abort the multipart upload that `name`'s `.uploading` marker names (one a
   * killed process left open), then remove the marker. Nothing to do without
   * a marker; a marker torn by the crash names no upload it could abort (the
   * lifecycle rule's case) and is just removed. Throws if the abort fails,
   * keeping the marker. A live uploader's upload (upload-marker.ts) is left
   * alone, marker and all: returns who has it.
   */
  async #abortNoted (name: string, kept = NOTHING_UPLOADED): Promise<string | undefined> {
    const marker = uploadingMarker(this.dir, name)
    let text: string
    try {
      text = await fsp.readFile(marker, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const checked = Date.now()
    const noted = (await uploadMarker()).parseUploading(text)
    if (noted?.live === true) return noted.owner
    // Read while an upload of this process was live, and ended since: its marker went first (see uploadEnded), so
    // one still here is not that upload's. (Synchronous: nothing of this process runs between the two looks.)
    if (!fs.existsSync(marker)) return undefined
    if (noted?.uploadId !== undefined) await this.store.abortUpload(noted.key, noted.uploadId)
    else if (noted?.since !== undefined) await this.#abortUnnoted(noted.key, noted.since, checked)
    await removeMarker(marker, `the upload marker of ${path.join(this.dir, name)}, whose upload is over`, kept)
    return undefined
  }

  /**
   * A note of intent without an id (upload-marker.ts): its process died
   * between asking for the upload and noting its id, so any upload of that
   * exact key the server began from the note on, and before the process was
   * found dead (`checked`), may be its, open for good. Those are aborted.
   * The server's times are taken to our clock by the skew its answer shows
   * (OpenUpload.serverSkew); they may be whole seconds, so the note's second
   * counts whole. A server that does not list uploads leaves
   * the note advice only (README, Guarantees): it is removed as a torn one is.
   */
  async #abortUnnoted (key: string, since: number, checked: number): Promise<void> {
    const from = Math.floor(since / 1000) * 1000
    const begun: string[] = []
    try {
      for await (const upload of this.store.listUploads(key)) {
        // By our clock, as `since` and `checked` are: Initiated moved by the server's skew (a clock off from the
        // server's by more than the note's second missed the dead process's upload, or took a later one).
        const at = initiatedLocally(upload)
        if (upload.key === key && at !== undefined && at >= from && at <= checked) begun.push(upload.uploadId)
      }
    } catch (err) {
      if ((err as { code?: unknown }).code === 'SHOEBOX_UNSUPPORTED') return
      throw err
    }
    for (const uploadId of begun) await this.store.abortUpload(key, uploadId)
  }

  /** Queue a sealed file (a path in the directory). */
  enqueue (file: string): void {
    const name = path.basename(file)
    if (this.#closed || this.#known.has(name)) return
    this.#known.add(name)
    this.#queue.push(name)
    this.#pump()
  }

  /**
   * The rolling sink created `tempPath`, to be sealed as `name`: upload it as
   * it grows (early-upload.ts; after resume(), which loads it). Not when the name is already taken here (the
   * file will be sealed under another) or has an upload noted (one a crash
   * left, still to abort).
   */
  opened (tempPath: string, name: string): void {
    // From the first file on: its first part loads the store (the SDK, on S3) while the write goes on, and the
    // server's share of the work overlaps the write instead of following it. (Held back until a sealed file had
    // loaded the store while every read made a fresh buffer and the SDK's load doubled its CPU: then the write's
    // full collections multiplied; bench/RESULTS.md, "zstd to S3, third pass".)
    const Early = this.#EarlyUpload
    if (Early === undefined || this.#closed || this.#options.early === false || this.#known.has(name) || this.#growing.has(tempPath)) return
    if (fs.existsSync(path.join(this.dir, name)) || fs.existsSync(uploadingMarker(this.dir, name))) return
    // Two parts in flight at most: the file is on disk, so parts are read when a slot is free rather than held
    // in memory ahead of a slow server (the queue size counts against the write's own memory here).
    const queueSize = Math.min(2, this.#options.queueSize ?? 2)
    this.#growing.set(tempPath, new Early(this.store, tempPath, name, uploadingMarker(this.dir, name), { ...this.#writerOptions(name), queueSize, startAt: this.#partSize }))
  }

  /** `bytes` more bytes of `tempPath` are written (and synced as the sink's fsync policy asks). */
  grew (tempPath: string, bytes: number): void {
    this.#growing.get(tempPath)?.grew(bytes)
  }

  /**
   * `tempPath` is sealed as `file`, `bytes` long: its early upload completes
   * now (the file's first try waits for it), or, sealed under another name,
   * is aborted; either way the file is queued as any sealed file.
   */
  sealed (tempPath: string, file: string, bytes: number): void {
    const upload = this.#growing.get(tempPath)
    this.#growing.delete(tempPath)
    // An upload that never began (the file stayed under a part) leaves the sealed file to the usual path.
    if (upload?.begun === true) {
      if (!this.#closed && path.join(this.dir, upload.name) === file) {
        const result = this.#completeEarly(upload, bytes)
        result.catch(() => {})
        this.#sealedEarly.set(upload.name, { upload, result })
      } else {
        void upload.abandon()
      }
    }
    this.enqueue(file)
  }

  /**
   * Complete the early upload of a file sealed under its name, unless the store holds an object there already
   * (taken-key.ts): that is another file's (this one's first put is this very upload), and is not replaced.
   * Any failure gives the upload up (its multipart upload aborted), as a failed part does.
   */
  async #completeEarly (upload: EarlyUpload, bytes: number): Promise<PutResult> {
    let taken: boolean
    try {
      const { storedAt } = await takenKey()
      // A close() (a signal) does not wait for it, as for the verifying stat.
      taken = await untilAborted(storedAt(this.store, upload.name), this.#stop.signal) !== undefined
    } catch (err) {
      await upload.abandon()
      throw err
    }
    if (taken) {
      await upload.abandon()
      throw new KeyTaken()
    }
    return await upload.result(bytes)
  }

  /** Files queued or uploading. */
  get pending (): number {
    return this.#queue.length + this.#running
  }

  /**
   * Wait until nothing is queued or running and every `upload` listener has
   * settled; resolves with the last failure if a file was left behind, else
   * with the first listener's throw or rejection since the drain() before
   * (SHOEBOX_LISTENER_FAILED naming the file), if any. Once reported, a
   * listener's failure is forgotten: every later drain() reported the first
   * one again, and never a later one.
   */
  async drain (): Promise<Error | undefined> {
    if (this.pending > 0) await new Promise<void>((resolve) => { this.#idle.push(resolve) })
    const listenerFailure = await this.#listeners?.take()
    const failures = [...this.failed.values()]
    return failures.length === 0 ? listenerFailure : failures[failures.length - 1]
  }

  stats (): TransferSnapshot {
    return this.store.stats()
  }

  /** Stop: uploads in flight are aborted (their files stay queued in the directory). The store stays open: it is the caller's. */
  async close (): Promise<void> {
    this.#closed = true
    this.#stop.abort()
    // An upload waiting for room among the listeners ends (the listeners still running are left to finish).
    this.#listeners?.stop()
    this.#queue.clear()
    for (const writer of this.#writers) writer.destroy()
    const early = [...this.#growing.values(), ...[...this.#sealedEarly.values()].map((e) => e.upload)]
    this.#growing.clear()
    this.#sealedEarly.clear()
    await Promise.all(early.map(async (upload) => { await upload.abandon() }))
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
      const [{ retry }, { AwaitedListeners }] = await Promise.all([import('../transfer/retry.js'), import('../stream/awaited-listeners.js')])
      const listeners = this.#listeners ??= new AwaitedListeners()
      const uploaded = await retry(async (n) => {
        attempt = n
        return await this.#uploadOnce(name, file)
      }, {
        attempts: this.#attempts,
        baseDelay: this.#retryDelay,
        maxDelay: Infinity,
        signal: this.#stop.signal,
        retryable: (err) => !isGone(err) && !(err instanceof UploadedElsewhere) && !(err instanceof MarkerFailed) && !(err instanceof SetAside),
        onRetry: ({ error }) => {
          this.emit('uploadError', { path: file, key: name, error: error as Error, attempt, willRetry: true } satisfies UploadErrorEvent)
        }
      })
      this.failed.delete(name)
      // Too many files' listeners still at work: this one's wait (each slot's in turn: one woken may find none free).
      for (let room = listeners.room(); room !== undefined; room = listeners.room()) await room
      // After the retries: a listener that threw there failed the try, and the file was uploaded again. drain() reports it.
      listeners.emit(this, 'upload', uploaded, file, `the file is uploaded as ${name}`)
    } catch (err) {
      // Uploaded and removed by another writer sharing the directory, or being uploaded by one; or renamed and
      // queued under another name (its key taken in the store); or stopped by close().
      if (isGone(err) || err instanceof UploadedElsewhere || err instanceof SetAside || this.#closed) return
      const error = err as Error
      this.emit('uploadError', { path: file, key: name, error, attempt, willRetry: false } satisfies UploadErrorEvent)
      this.failed.set(name, error)
    }
  }

  #writerOptions (name: string): WriterOptions {
    return { partSize: this.#options.partSize, queueSize: this.#options.queueSize, contentType: codecOfName(name).contentType }
  }

  /** One try: upload `name`, verify it, mark it done (or delete it); what its `upload` event says. */
  async #uploadOnce (name: string, file: string): Promise<UploadEvent> {
    const early = this.#sealedEarly.get(name)
    this.#sealedEarly.delete(name)
    // Monotonic, as early uploads' start: on Date.now(), a wall clock stepped back during the upload made its ms negative.
    const started = early?.upload.started ?? performance.now()
    const size = (await fsp.stat(file)).size
    // A failed early upload is this try's failure: the next try uploads the sealed file. One whose key the store
    // holds already (another file's object) is given up, and the file goes under another name.
    const result = early !== undefined
      ? await early.result.catch(async (err: unknown) => { throw err instanceof KeyTaken ? await this.#setAside(name, file) : err })
      : await this.#uploadFile(name, file, size)
    // A writer destroyed while it completed (close(): a pack or write stopped by a signal) settles as ended, with
    // no result. Looked up in the store all the same, a server that stalled the put stalled that stat too, and
    // the stop waited for it.
    if ((result as PutResult | undefined) === undefined) throw new StoreError('other', this.store.url, 'upload', name, 'the upload was stopped')
    this.stored.add(name)
    // A close() (a signal) does not wait for it: on a server that stalls it, the stop would wait as long.
    const stored = await untilAborted(this.store.stat(name), this.#stop.signal)
    if (stored.size !== size || result.bytes !== size) {
      throw new StoreError('verify', this.store.url, 'upload', name,
        `stored ${stored.size} bytes, sent ${result.bytes}, the file has ${size}`)
    }
    if (this.#options.deleteLocal === true) {
      await fsp.unlink(file)
    } else {
      const marker = uploadedMarker(this.dir, name)
      const temp = `${marker}.tmp`
      try {
        await fsp.writeFile(temp, JSON.stringify({ key: name, etag: result.etag, bytes: size, at: new Date().toISOString() }) + '\n')
        await fsp.rename(temp, marker)
      } catch (err) {
        // A full or read-only directory: said as what it is (the raw "ENOSPC: ..., write" read as a failed upload),
        // and not tried again: each try uploaded the whole file again only to meet the same disk.
        await fsp.unlink(temp).catch(() => {})
        throw new MarkerFailed('SHOEBOX_IO', `${file} is uploaded as ${name}, but its marker ${marker} cannot be written: ${describeIoError(err)}; ` +
          'the next run uploads it again', { cause: err })
      }
    }
    return { key: name, path: file, bytes: size, etag: result.etag, ms: Math.round(performance.now() - started) }
  }

  /**
   * Move `file` (sealed as `name`, whose key the store holds: another file's object) to the next alternative
   * name free both here and in the store, as sealName picks one for a name taken on disk, and queue it there.
   * Always throws: SetAside once it is moved.
   */
  async #setAside (name: string, file: string): Promise<never> {
    const [{ alternativeName }, { moveNoReplace }, { storedAt }] = await Promise.all([import('./names.js'), import('../fs/link.js'), takenKey()])
    for (let n = 1; n <= MAX_ALTERNATIVES; n++) {
      const candidate = alternativeName(name, n)
      if (await untilAborted(storedAt(this.store, candidate), this.#stop.signal) !== undefined) continue
      const moved = path.join(this.dir, candidate)
      if (await moveNoReplace(file, moved)) {
        this.enqueue(moved)
        throw new SetAside(`${file} is queued as ${moved}: the store holds another file's object as ${name}`)
      }
    }
    throw new ShoeboxError('SHOEBOX_IO', `${file} is not uploaded: the store holds other files' objects as ${name} and its next ${MAX_ALTERNATIVES} alternatives; ` +
      'the file is kept, queued for the next run (rename it, or give the template {host}, {pid} and the time)')
  }

  /** Upload a sealed file whole (`sealedSize` bytes), unless its key holds another file's object (then it is set aside). */
  async #uploadFile (name: string, file: string, sealedSize: number): Promise<PutResult> {
    // An upload of this file that a killed process left open goes first; its id would be overwritten below.
    // One a live uploader sharing the directory has in flight is its: waited for (not a try), then the file
    // is done if that uploader marked it uploaded, else uploaded here (it abandoned or failed its upload:
    // an early upload of a file sealed under another name, as two writers of one template do).
    while (await this.#abortNoted(name) !== undefined) {
      const { setTimeout: sleep } = await import('node:timers/promises')
      await sleep(Math.max(this.#retryDelay, 50), undefined, { signal: this.#stop.signal })
    }
    if (fs.existsSync(uploadedMarker(this.dir, name))) throw new UploadedElsewhere(`${file} was uploaded by another uploader`)
    // The store may hold this name from another file (taken-key.ts); a copy of this one is its own earlier put.
    // A close() (a signal) does not wait for the look-up, as for the verifying stat.
    const { holdsCopyOf, storedAt } = await takenKey()
    const there = await untilAborted(storedAt(this.store, name), this.#stop.signal)
    if (there !== undefined && !this.stored.has(name) && !await untilAborted(holdsCopyOf(this.store, name, there, file, sealedSize), this.#stop.signal)) {
      await this.#setAside(name, file)
    }
    const marker = uploadingMarker(this.dir, name)
    let noted: string | undefined
    const [{ GrowingFile }, { noteIntent, noteUpload, uploadEnded }] = await Promise.all([import('./growing-file.js'), uploadMarker()])
    const { fd, size } = await openToRead(file)
    // More than a part is a multipart upload: its intent is on disk before it is asked for, so that one created
    // by a server whose answer never reached this process (killed meanwhile) is still found at the next start.
    let intent: string | undefined
    // A marker that cannot be written (a full or read-only directory) fails the upload before any part is sent:
    // said as the marker's failure, not the store's ('put NAME: read-only file system'), and not tried again.
    const unwritten = (err: unknown): MarkerFailed => new MarkerFailed('SHOEBOX_IO', `cannot write ${marker}, the upload marker of ${file}: ` +
      `${describeIoError(err)}; ${NOTHING_UPLOADED}`, { cause: err })
    try {
      intent = size > this.#partSize ? noteIntent(marker, name) : undefined
    } catch (err) {
      fs.closeSync(fd)
      throw unwritten(err)
    }
    let markerFailure: MarkerFailed | undefined
    const writer = this.store.writer(name, {
      ...this.#writerOptions(name),
      // Synchronous on purpose: the id is on disk before any part is sent.
      onMultipartUpload: (uploadId) => {
        noted = uploadId
        try {
          noteUpload(marker, name, uploadId)
        } catch (err) {
          // The writer fails with it, and aborts the upload it made.
          throw (markerFailure = unwritten(err))
        }
      }
    })
    // The sealed file as a file that has stopped growing: read into two reused buffers (growing-file.ts says why).
    const copy = new GrowingFile(file, fd, writer)
    this.#writers.add(copy)
    try {
      copy.end(size)
      await copy.done.catch((err: unknown) => { throw markerFailure ?? err })
      // The writer has completed its multipart upload (or aborted it, failing above, the marker kept) by now.
      await removeMarker(marker, `the upload marker of ${file}, uploaded as ${name}`, UPLOADED_AGAIN)
    } finally {
      this.#writers.delete(copy)
      // Only once the marker is gone: an uploader of this process reading it meanwhile would take it for a dead one's.
      uploadEnded(noted)
      uploadEnded(intent)
    }
    return writer.result as PutResult
  }
}

/** A descriptor of `file` and its size (the raw fs error, ENOENT included, if it cannot be opened). */
async function openToRead (file: string): Promise<{ fd: number, size: number }> {
  const fd = await new Promise<number>((resolve, reject) => { fs.open(file, 'r', (err, fd) => { if (err === null) resolve(fd); else reject(err) }) })
  return await new Promise((resolve, reject) => {
    fs.fstat(fd, (err, stats) => {
      if (err === null) resolve({ fd, size: stats.size })
      else fs.close(fd, () => { reject(err) })
    })
  })
}

/** taken-key.ts, loaded with the first upload (as upload-marker.ts): not at `import 'shoebox'`. */
async function takenKey (): Promise<typeof TakenKey> {
  return await import('./taken-key.js')
}

/** upload-marker.ts, loaded with the first upload (as names.ts, which it imports): not at `import 'shoebox'`. */
async function uploadMarker (): Promise<typeof UploadMarker> {
  return await import('./upload-marker.js')
}

/** A try that found the file's multipart upload in flight in a live uploader sharing the directory. */
class UploadedElsewhere extends Error {}

/**
 * A marker beside the file could not be written or removed (a full or read-only directory): its `.uploaded`
 * one (the file is in the store), or its `.uploading` one. Not retried: each try would meet the same disk.
 */
class MarkerFailed extends ShoeboxError {}

/**
 * Remove `marker` (`what` says whose, for the message). One that cannot be (a directory remounted read-only)
 * fails the try, naming it: a raw "EROFS: ..., unlink" read as a failed upload. The file stays queued, and the
 * next run that can remove the marker goes on from there (an upload it names is over: its abort is a no-op).
 */
export async function removeMarker (marker: string, what: string, kept: string): Promise<void> {
  try {
    await fsp.rm(marker, { force: true })
  } catch (err) {
    throw new MarkerFailed('SHOEBOX_IO', `cannot remove ${marker}, ${what}: ${describeIoError(err)}; ${kept}`, { cause: err })
  }
}

/** What a marker's failure keeps, said in its message. */
const NOTHING_UPLOADED = 'nothing uploaded'
export const UPLOADED_AGAIN = 'the next run that can remove it uploads the file again'
const MARKER_KEPT = 'it stays for the next start'

/** An early upload not completed: the store holds an object under its key already. */
class KeyTaken extends Error {}

/** A file moved to another name (its key held another file's object) and queued under it: this name's upload ends quietly. */
class SetAside extends Error {}

/** Alternative names tried for a file whose key is taken in the store before it is left queued. */
const MAX_ALTERNATIVES = 1000

function isGone (err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}
