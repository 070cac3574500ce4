/**
 * rollingSink(): a Writable of records (or of encode()'s output bytes) that
 * writes a series of archive files in a directory.
 *
 * A thin Writable over two parts. On the caller's side, records are encoded
 * into a flush block and the planner (planner.ts) decides after each record
 * whether to cut the block or seal the file, and why; the flush interval and
 * the file's age deadline are timers here that ask it too. Behind it, the
 * file chain (file-chain.ts) compresses, writes, fsyncs and seals, serially.
 * Backpressure: write callbacks wait while more than maxPending raw bytes are
 * buffered or queued.
 */
// node:stream rather than readable-stream here: _construct (async start-up) is typed there.
import fs from 'node:fs/promises'
import { Writable } from 'node:stream'
import type { GzipOptions } from '../compress/gzip.js'
import { compressionOf, type CodecName, type CompressOption, type Compression } from '../compress/codecs.js'
import { invalidOption, reworded, ShoeboxError } from '../errors.js'
import { ArchiveEncoder, encodedRecordEnds, type EncoderOptions } from '../format/encoder.js'
import type { recordEnds } from '../format/walk.js'
import type { RecordInput } from '../record.js'
import { checkFlag, checkKnownOptions, durationOption, oneOf, sizeOption, timerMs } from '../units.js'
import type { longTimeout } from '../long-timeout.js'
import { ensureDir } from '../fs/durable.js'
import { orIoError } from '../fs/io-error.js'
import { plural } from '../plural.js'
import type { AwaitedListeners } from '../stream/awaited-listeners.js'
import type { FileChain, FlushEvent, FsyncPolicy, KeptReport, OpenEvent, SealedEvent } from './file-chain.js'
import type { CutReason, PlannedRun, PlannerOptions, RollPlanner } from './planner.js'
import { rollPolicy, type RollOptions } from './policies.js'
import type { RecoveredFile, SkippedTemp } from './recover.js'
import { checkTemplate, DEFAULT_TEMPLATE } from './template.js'
import type { SealedUploader, UploadErrorEvent, UploadEvent, UploadOptions } from './uploader.js'
import type { openStore } from '../store/open-store.js'
import type { Store } from '../store/store.js'
import type { TransferSnapshot } from '../transfer/stats.js'
import { failsOnListenerRejection } from '../stream/listener-rejections.js'
import { lateEnd, LateWrites } from '../stream/deliver-then-fail.js'

export type { FlushEvent, FsyncPolicy, KeptReport, OpenEvent, SealedEvent }

export interface RollingSinkOptions extends EncoderOptions {
  /** Directory to write into; created if missing. */
  dir: string
  /** File-name template (see template.ts). Default '%Y%m%dT%H%M%S%fZ-{host}-{pid}-{seq}.shoebox'. */
  template?: string
  /** When to start a new file. Default: one file until end(). */
  roll?: RollOptions
  /** Compress each flush block as an independent gzip member; sealed names end in .gz. (compress: 'gzip' says the same.) */
  gzip?: boolean | GzipOptions
  /**
   * Compress each flush block as an independent member/frame of this codec:
   * 'gzip' (.gz), 'zstd' (.zst) or 'none', or { codec, level }. Not with gzip.
   */
  compress?: CompressOption
  /** Flush what is buffered at least this often ('1s', ms). 0 turns the timer off. Default '1s'. */
  flushInterval?: number | string
  /** When to fsync (see README). Default 'onClose'. */
  fsync?: FsyncPolicy
  /** Raw bytes per flush block. Default 1 MiB. */
  blockSize?: number | string
  /** Raw bytes buffered before write callbacks wait (backpressure). Default 8 MiB. */
  maxPending?: number | string
  /** Recover leftover temporary files of dead writers when starting. Default true. */
  recover?: boolean
  /**
   * Hash each file as it is written, for the `sealed` event's `sha256`.
   * Default true; false spares that pass over every byte written (about 5%
   * of a zstd write's CPU), and `sealed` then has no `sha256`.
   */
  sha256?: boolean
  /** The clock, ms since the epoch (tests). Default Date.now. */
  clock?: () => number
  /**
   * Ship each sealed file to a store (see uploader.ts): `upload` events, and
   * `finish` only once every sealed file is uploaded and verified.
   */
  upload?: UploadOptions
}

/**
 * The uploader and the store opener, for a sink with `upload`. They are
 * passed in rather than imported here: a sink without `upload` (a plain
 * `shoebox write`) then loads none of the uploader's and stores' modules,
 * while a refused upload option still throws from the constructor, as every
 * other option does. The package's rollingSink() (index.ts) passes them; so
 * do `shoebox write --to` and pack(), which load them first.
 */
export interface UploadParts {
  SealedUploader: typeof SealedUploader
  openStore: typeof openStore
}

type WriteCallback = (error: Error | null | undefined) => void

const FSYNC_POLICIES: readonly FsyncPolicy[] = ['never', 'onClose', 'interval', 'always']

/** Every option rollingSink() takes (RollingSinkOptions and the encoder's), and `upload`'s (UploadOptions). */
const OPTIONS = [
  'dir', 'template', 'roll', 'gzip', 'compress', 'flushInterval', 'fsync', 'blockSize', 'maxPending', 'recover', 'sha256', 'clock', 'upload',
  'format', 'checksum', 'maxRecordSize', 'chunkSize'
] as const
const UPLOAD_OPTIONS = ['to', 'storeOptions', 'concurrency', 'deleteLocal', 'attempts', 'retryDelay', 'partSize', 'queueSize', 'early'] as const

/**
 * The events' payloads, for listeners in TypeScript (declaration merging:
 * no runtime part). Writable's own `on` names only its own events, so
 * `sink.on('sealed', (file) => ...)` gave `file` the type any. The
 * awaited events' listeners may be async (returning anything). The lint
 * rule below guards against members a class never initialises; these are
 * overloads of methods it inherits.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface RollingSink {
  on (event: 'open', listener: (event: OpenEvent) => void): this
  on (event: 'flush', listener: (event: FlushEvent) => void): this
  on (event: 'sealed', listener: (event: SealedEvent) => unknown): this
  on (event: 'recover', listener: (event: RecoveredFile) => unknown): this
  on (event: 'recoverSkipped', listener: (event: SkippedTemp) => void): this
  on (event: 'upload', listener: (event: UploadEvent) => unknown): this
  on (event: 'uploadError', listener: (event: UploadErrorEvent) => void): this
  on (event: 'error', listener: (err: Error) => void): this
  on (event: 'close' | 'drain' | 'finish', listener: () => void): this
  on (event: string | symbol, listener: (...args: never[]) => void): this
  once (event: 'open', listener: (event: OpenEvent) => void): this
  once (event: 'flush', listener: (event: FlushEvent) => void): this
  once (event: 'sealed', listener: (event: SealedEvent) => unknown): this
  once (event: 'recover', listener: (event: RecoveredFile) => unknown): this
  once (event: 'recoverSkipped', listener: (event: SkippedTemp) => void): this
  once (event: 'upload', listener: (event: UploadEvent) => unknown): this
  once (event: 'uploadError', listener: (event: UploadErrorEvent) => void): this
  once (event: 'error', listener: (err: Error) => void): this
  once (event: 'close' | 'drain' | 'finish', listener: () => void): this
  once (event: string | symbol, listener: (...args: never[]) => void): this
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the interface above types its events
export class RollingSink extends failsOnListenerRejection(Writable) {
  readonly dir: string
  readonly template: string
  /** The gzip level, when the codec is gzip. */
  readonly gzipLevel: number | undefined
  /** The codec and level files are written with; undefined when not compressed. */
  readonly compression: { codec: CodecName, level: number } | undefined
  readonly #compression: Compression | undefined
  readonly fsync: FsyncPolicy
  /** Files recovered when the sink started. */
  recovered: RecoveredFile[] = []
  /** What the planner is made with, by #start (planner.ts loads then). */
  readonly #plannerOptions: PlannerOptions
  #planner: RollPlanner | undefined
  /** planner.ts's isTimed, loaded with it. */
  #isTimed: ((reason: CutReason) => boolean) | undefined
  /** Made by #start (file-chain.ts loads then, not at import); until then nothing is on disk. */
  #chain: FileChain | undefined
  /** slab-pool.ts's joinSlabParts, loaded by #start: a block's parts as one buffer. */
  #joinSlabParts: ((parts: Buffer[]) => Buffer) | undefined
  /** long-timeout.ts's longTimeout, loaded by #start: the open file's age timer. */
  #longTimeout: typeof longTimeout | undefined
  /** walk.ts's recordEnds, loaded by #start, for encode()'s bytes. */
  #recordEnds: typeof recordEnds | undefined
  #encoder: ArchiveEncoder
  /** What the planner's last addRun() did (one object, reused). */
  readonly #run: PlannedRun = { records: 0, reason: null }
  #raw: Buffer[] = []
  /** Records given to the sink so far, in either form: the next one's index. */
  #given = 0
  /** Of those, records given to the encoder (it numbers only these). */
  #encoded = 0
  #maxPending: number
  #waiting: Array<() => void> = []
  #flushInterval: number
  #flushTimer: ReturnType<typeof setInterval> | null = null
  /** Cancels the open file's age timer. */
  #cancelAgeTimer: (() => void) | null = null
  #clock: () => number
  #recover: boolean
  readonly #sha256: boolean
  #failed: Error | null = null
  /** A 'sealed', 'recover' or 'upload' listener failed while records still came: the sink seals what it took, then fails with this. */
  #stopping: Error | null = null
  /** end() was called: _final reports a listener's failure. */
  #ending = false
  /** A write after end(): refused alone, and reported by _final once everything before is sealed (deliver-then-fail.ts). */
  readonly #late: LateWrites
  /** The ratio sample's compression with the file's codec, while it runs (see #seed). */
  #sampling: Promise<void> | null = null
  /** The 'sealed', 'recover' and 'upload' listeners, whose work the sink waits for (awaited-listeners.ts); made by #start. */
  #awaited: AwaitedListeners | undefined
  #started = false
  /** Set once the constructor has checked every option (see _construct). */
  #checked = false
  /** Settles once #start has (see started()). */
  readonly #startup: Promise<void>
  #startupDone: () => void = () => {}
  /** Ships sealed files when `upload` is set. */
  readonly uploader: SealedUploader | undefined
  /** The store opened from `upload.to` when it is a URL (closed with the sink). */
  readonly #uploadStore: Store | undefined
  /** The uploader's and the store's close, once begun (see #closeUploads). */
  #uploadsClosed: Promise<void> | undefined

  constructor (options: RollingSinkOptions, uploadParts?: UploadParts) {
    // A small queue: it fills only while the sink is full (over maxPending), and counts writes, not bytes.
    // A write may be a whole encoded chunk (\`shoebox write\`: ~1 MiB, in an encoder's slab), and 16 of them
    // held at a seal's fsync made the encoder take 2-3 fresh 4 MiB slabs (page faults, ~10 MB of RSS).
    super({ objectMode: true, highWaterMark: 2 })
    this.#startup = new Promise((resolve) => { this.#startupDone = resolve })
    if (options === null || typeof options !== 'object' || typeof options.dir !== 'string' || options.dir === '') {
      throw invalidOption('dir', 'a directory to write into is required')
    }
    checkKnownOptions(options, OPTIONS, 'rollingSink()')
    const { fsync = 'onClose' } = options
    oneOf(fsync, FSYNC_POLICIES, 'fsync')
    this.dir = options.dir
    this.#late = new LateWrites(`rolling sink ${this.dir}`, 'the records written before end() are sealed')
    const compression = compressionOf(options.compress, options.gzip)
    this.#compression = compression
    this.compression = compression === undefined ? undefined : { codec: compression.codec.name, level: compression.level }
    this.gzipLevel = compression?.codec.name === 'gzip' ? compression.level : undefined
    let template = options.template ?? DEFAULT_TEMPLATE
    checkTemplate(template)
    if (compression !== undefined && !template.endsWith(compression.codec.suffix)) template += compression.codec.suffix
    this.template = template
    this.fsync = fsync
    const blockSize = sizeOption(options.blockSize, 1024 * 1024, 'blockSize')
    // The planner estimates compressed sizes with deflate at once; for zstd, level 1's, until the sample
    // compressed with zstd itself comes back (#seed), before the records after it are planned.
    const estimateLevel = compression === undefined ? undefined : this.gzipLevel ?? 1
    this.#plannerOptions = { template, policy: rollPolicy(options.roll), blockSize, gzipLevel: estimateLevel }
    // At least two blocks, so one can be written while the next fills.
    this.#maxPending = Math.max(2 * blockSize, sizeOption(options.maxPending, 8 * 1024 * 1024, 'maxPending'))
    this.#flushInterval = durationOption(options.flushInterval, 1000, 'flushInterval')
    // The size policies count each record's bytes as it is written (pendingBytes: its final size).
    this.#encoder = new ArchiveEncoder({ ...options, chunkSize: Math.max(64, blockSize) })
    this.#clock = options.clock ?? Date.now
    checkFlag(options.recover, 'recover')
    this.#recover = options.recover ?? true
    checkFlag(options.sha256, 'sha256')
    this.#sha256 = options.sha256 ?? true
    if (options.upload !== undefined) {
      // Only a caller inside the package can get here without them (see UploadParts).
      if (uploadParts === undefined) throw invalidOption('upload', 'needs the uploader: use the package\'s rollingSink()')
      // A URL is opened here and closed with the sink; a Store given is the caller's to close.
      if (options.upload !== null && typeof options.upload === 'object') checkKnownOptions(options.upload, UPLOAD_OPTIONS, 'upload', 'upload.')
      const { to, storeOptions } = options.upload
      const opened = typeof to === 'string' ? uploadParts.openStore(to, storeOptions) : undefined
      this.#uploadStore = opened
      let uploader: SealedUploader
      try {
        uploader = new uploadParts.SealedUploader(this.dir, opened ?? to as Store, options.upload)
      } catch (err) {
        // A refused upload option: nobody will close the store opened for it.
        void opened?.close()
        throw err
      }
      uploader.on('upload', (event: UploadEvent) => { this.#listeners.emit(this, 'upload', event, event.path, `the file is uploaded as ${event.key}`) })
      uploader.on('uploadError', (event) => this.emit('uploadError', event))
      this.uploader = uploader
    }
    this.#checked = true
  }

  /** The file chain, which writes, syncs and seals (made as the sink starts: its module loads then). */
  #makeChain (FileChainClass: typeof FileChain): FileChain {
    // The uploader follows each file from its creation (uploader.ts: opened, grew, sealed); the chain has one open at a time.
    let writing = ''
    return new FileChainClass(this.dir, { fsync: this.fsync, compression: this.#compression, sha256: this.#sha256 }, {
      open: (event) => {
        writing = event.path
        this.uploader?.opened(event.path, event.name)
        this.emit('open', event)
      },
      flush: (event) => {
        this.uploader?.grew(event.path, event.bytes)
        this.emit('flush', event)
      },
      sealed: (event) => {
        // A seal that was under way when the sink was discarded (discardSink): the file is not the sink's to report or ship.
        if (discarded.has(this)) return undefined
        this.#listeners.emit(this, 'sealed', event, event.path, 'the file is sealed and kept')
        this.uploader?.sealed(writing, event.path, event.bytes)
        // Too many files' listeners still at work: the chain seals no more (and writes wait) until one is done.
        return this.#listeners.room()
      },
      written: (file, raw, disk) => { this.#plan.written(file, raw, disk) },
      progress: () => { this.#release() },
      failed: (err) => {
        if (this.#failed !== null) return
        this.#failed = err
        this.destroy(err)
      }
    })
  }

  /** The chain and the planner, once #start has made them: writes, the end and the timers all come after that. */
  get #files (): FileChain {
    return this.#chain as FileChain
  }

  /** So are the listeners, and seals and uploads. */
  get #listeners (): AwaitedListeners {
    return this.#awaited as AwaitedListeners
  }

  get #plan (): RollPlanner {
    return this.#planner as RollPlanner
  }

  /** Records written to disk so far (passed a flush point). */
  get flushedRecords (): number {
    return this.#chain?.flushedRecords ?? 0
  }

  override _construct (callback: (error?: Error | null) => void): void {
    // Writable schedules _construct before our constructor's checks run; if one
    // of them threw, nobody holds this stream: create no directory, start nothing.
    if (!this.#checked) {
      this.#startupDone()
      callback()
      return
    }
    this.#start().then(() => {
      this.#startupDone()
      callback()
    }, (err: Error) => {
      this.#startupDone()
      callback(err)
    })
  }

  /**
   * Resolves once the sink has started (its directory made, leftover files
   * recovered, its codec loaded), or failed to start (the stream then
   * errors); never rejects. Records written before are buffered until then.
   * A producer that can wait (`shoebox write`) starts after it: the start's
   * steps each wait for a turn of the event loop, and a producer encoding
   * meanwhile (up to the 16 writes buffered) delayed the first block's
   * compression, with the second core idle, by 40-100 ms.
   */
  async started (): Promise<void> {
    await this.#startup
  }

  async #start (): Promise<void> {
    // Loaded here, not at import: importing the package must stay about as fast as starting Node. The codec
    // loads beside them (zstd: its loader module and native binding, ~4 ms of the main thread) while their
    // files are read on the thread pool: one wait rather than two in a row, before the first block can be
    // compressed. A codec this install cannot load (zstd is optional) fails here, before any file exists.
    const [{ FileChain }, { recordEnds }, { RollPlanner, isTimed }, { joinSlabParts }, { AwaitedListeners }, { longTimeout }] = await Promise.all([
      import('./file-chain.js'), import('../format/walk.js'), import('./planner.js'), import('../format/slab-pool.js'), import('../stream/awaited-listeners.js'),
      import('../long-timeout.js'),
      this.#compression?.codec.ready(this.dir)
    ])
    // Destroyed meanwhile (destroy() at once, a pipeline that failed at once): Node calls _destroy only once this
    // start is over, so it stops itself. Nothing is created: not the directory, not a leftover's recovery.
    if (this.destroyed) return
    this.#awaited = new AwaitedListeners((err) => { this.#listenerFailed(err) })
    this.#joinSlabParts = joinSlabParts
    this.#planner = new RollPlanner(this.#plannerOptions)
    this.#isTimed = isTimed
    this.#longTimeout = longTimeout
    this.#chain = this.#makeChain(FileChain)
    this.#recordEnds = recordEnds
    await ensureDir(this.dir)
    // Destroyed while the directory was made: it stays, empty. Removing it could pull it from under another
    // writer (of this process or another) that found it there meanwhile and is about to open its file in it.
    if (this.destroyed) return
    if (this.#recover && await hasTempFiles(this.dir) && !this.destroyed) await this.#recoverLeftovers()
    // Files sealed before (by a run that stopped or crashed) go first.
    if (this.destroyed) return
    // The queue is every file in the directory: one that is no archive is not this sink's (`shoebox write ~/notes
    // --to s3://... --delete-local` uploaded the user's files and deleted them). Refused before any upload.
    const foreign = await this.uploader?.notArchives() ?? []
    if (foreign.length > 0) {
      const named = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? `, and ${foreign.length - 3} more` : '')
      throw new ShoeboxError('SHOEBOX_IO', `${this.dir} holds files that are no archives (${named}): the uploader would ship every file there, ` +
        'and delete it with deleteLocal; write to a directory of its own (nothing was uploaded)')
    }
    if (this.destroyed) return
    await this.uploader?.resume()
    if (this.destroyed) return
    if (this.#flushInterval > 0) {
      this.#flushTimer = setInterval(() => { this.#cut('timer') }, timerMs(this.#flushInterval))
      this.#flushTimer.unref()
    }
    this.#started = true
  }

  /**
   * Recover the dead writers' leftover files (recover.ts), telling `recover`
   * listeners of each as it is sealed. A destroy() during the recovery stops
   * it after the file at hand: each file is recovered whole or not at all,
   * and those not reached stay as they were, for the next start or `shoebox
   * recover` (the README's "before writing starts": none does).
   */
  async #recoverLeftovers (): Promise<void> {
    // Loaded only when there is something to recover (with its decoder and frame walker: start-up).
    const { recoverDirectory } = await import('./recover.js')
    const stopped = new Error('the rolling sink was destroyed while it recovered')
    try {
      await recoverDirectory(this.dir, {
        // A leftover it read and could not recover here (a zstd file where this install has none; a file that is
        // no archive) was left without a word, and `shoebox write` started as if the directory were clean. Those left
        // alone by rule (a live writer's, another host's) stay unsaid.
        onSkip: (skipped) => { if (skipped.code !== undefined) this.emit('recoverSkipped', skipped) },
        onRecover: (r) => {
          this.recovered.push(r)
          // A recovered file is a sealed file too: its listeners' work (move it, alert) is awaited as a seal's.
          this.#listeners.emit(this, 'recover', r, r.path ?? r.temp, r.path === null ? 'it held no whole record and was removed' : 'the file is recovered, sealed and kept')
          // recoverDirectory() stops where onRecover throws, the files before it recovered.
          if (this.destroyed) throw stopped
        }
      })
    } catch (err) {
      if (err === stopped) return
      // A leftover that cannot be recovered here (a read-only directory: EROFS on its cut or fsync) said only
      // "cannot fsync .part", for a write that had not begun: now also why this sink touched it and what is kept.
      const errno = (err as { cause?: { code?: unknown } }).cause?.code
      if (!(err instanceof ShoeboxError) || err.code !== 'SHOEBOX_IO' || typeof errno !== 'string') throw err
      const before = this.recovered.length === 0 ? '' : `, ${plural(this.recovered.length, 'file')} recovered before it`
      throw reworded(err, `${err.message}; recovering the files an earlier writer left in ${this.dir}, before writing: nothing written, that file left for the next start (or shoebox recover)${before}`)
    }
  }

  /** What is on disk so far (see KeptReport). */
  kept (): KeptReport {
    return this.#chain?.kept(this.#started) ?? { dir: this.dir, started: false, sealedFiles: 0, sealedRecords: 0, unsealed: null }
  }

  /** A write after end() is refused alone: the sink seals what it took, then fails with it (deliver-then-fail.ts). */
  override write (chunk: unknown, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    if (this.#late.refusedWrite(this, encoding, callback)) return false
    return super.write(chunk, encoding as BufferEncoding, callback)
  }

  override end (chunk?: unknown, encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (!lateEnd(this, chunk)) return super.end(chunk as Buffer, encoding as BufferEncoding, callback)
    this.write(chunk)
    return super.end(typeof encoding === 'function' ? encoding : callback)
  }

  override _write (chunk: RecordInput | RecordInput[] | Uint8Array, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const sampling = this.#sampling
    if (sampling !== null) {
      // The records after the ratio sample are planned with its real compressed size (see #seed).
      void sampling.then(() => { this._write(chunk, encoding, callback) })
      return
    }
    if (this.#failed !== null) {
      callback(this.#failed)
      return
    }
    if (this.#stopping !== null) {
      // Not taken: the sink fails once what it took is sealed (#listenerFailed).
      this.#waiting.push(() => { callback(this.#failed) })
      return
    }
    // What of the chunk waits for the ratio sample's compression (see #seed), if any.
    let rest: RecordInput[] | Uint8Array | undefined
    try {
      const now = this.#clock()
      if (Array.isArray(chunk)) {
        for (let i = 0; i < chunk.length && rest === undefined; i++) {
          this.#add(chunk[i], now)
          if (this.#sampling !== null && i + 1 < chunk.length) rest = chunk.slice(i + 1)
        }
      } else {
        rest = this.#add(chunk, now)
      }
    } catch (err) {
      // A refused record fails the sink, but only after the records before it are on disk.
      this.#cut('refused')
      this.#files.settled().then(() => {
        // The sink's own failure: its destroy writes nothing more, leaving the file being written for recovery.
        this.#failed ??= err as Error
        callback(err as Error)
      }, () => {})
      return
    }
    if (rest !== undefined) this._write(rest, encoding, callback) // waits for the sample (above)
    else if (!this.#full()) callback()
    else this.#waiting.push(() => { callback(this.#failed) })
  }

  override _final (callback: (error?: Error | null) => void): void {
    this.#ending = true
    this.#stopTimers()
    this.#cut('end')
    const finished = async (): Promise<void> => {
      await this.#files.settled()
      if (this.#failed !== null) return
      let failure: Error | undefined
      if (this.uploader !== undefined) {
        // Every record is on disk; a file whose upload failed stays queued there for the next start.
        failure = await this.uploader.drain()
        await this.#closeUploads()
      }
      // The listeners' work on the last files (a rename, a move) is part of the sink's: `finish` comes after it.
      await this.#listeners.settled().catch((err: Error) => { failure ??= err })
      if (failure !== undefined) throw failure
    }
    finished().then(() => {
      const late = this.#late.settle()
      callback(this.#failed ?? late)
    }, (err: Error) => {
      this.#late.settle()
      callback(err)
    })
  }

  /**
   * A 'sealed', 'recover' or 'upload' listener failed while the sink runs: it takes no
   * more records, seals the file it was writing (its listeners are called
   * too), waits for the listeners at work, and fails with the error. So every
   * record it took is in a sealed file. After end(), _final reports it.
   */
  #listenerFailed (err: Error): void {
    if (this.#failed !== null || this.#stopping !== null || this.#ending) return
    this.#stopping = err
    this.#stopTimers()
    this.#cut('listener-failed')
    this.#files.settled()
      .then(async () => { await this.#listeners.settled() })
      .catch(() => {})
      .then(() => {
        this.destroy(err)
        this.#release()
      }, () => {})
  }

  /** Transfer statistics of the uploads, when `upload` is set. */
  stats (): TransferSnapshot | undefined {
    return this.uploader?.stats()
  }

  /**
   * Destroyed (by a pipeline whose other stage failed, an abort, the caller):
   * every record the sink took is written out first, the file sealed (synced
   * as the fsync policy says), and only then does the destroy complete, so a
   * pipeline rejects after the records are on disk. Not when the sink itself
   * failed (its disk, a refused record: the chain writes nothing more, and
   * the file being written is left for recovery), nor before it started
   * (nothing taken). A disk that fails during this write-out ends it there:
   * the sink fails with that error, saying what is kept. Nor when its owner
   * discards it (discardSink()).
   */
  override _destroy (err: Error | null, callback: (error: Error | null) => void): void {
    this.#stopTimers()
    const chain = this.#chain
    const discarding = discarded.has(this)
    const writeOut = !discarding && this.#failed === null && chain !== undefined && chain.failure === null
    this.#failed ??= err ?? new Error('rolling sink destroyed')
    // Discarded: no upload starts from here on (the uploader takes no more files once its close begins).
    if (discarding) this.#closeUploads().catch(() => {})
    // A seal waiting for listeners of earlier files goes on; the listeners themselves are not waited for.
    this.#awaited?.stop()
    // (No chain: the sink failed to start, or never did.)
    // (A write-out that throws, which only running out of memory could make it, still lets the destroy complete.)
    Promise.resolve(writeOut ? this.#writeOut(chain, err).catch(() => err) : err)
      .then(async (failure) => {
        chain?.stop(this.#failed as Error)
        // A file still being written (a write-out that failed, a sink that failed) stays a temporary file, for recovery.
        await chain?.close()
        await this.#closeUploads()
        return failure
      })
      .then((failure) => { callback(failure) }, () => { callback(err) })
  }

  /**
   * The destroy's write-out: cut what the sink holds as a last block that
   * seals its file, and wait for the chain to write everything queued. The
   * error the destroy ends with: `err`, or the disk's, which says what is kept.
   */
  async #writeOut (chain: FileChain, err: Error | null): Promise<Error | null> {
    this.#cut('destroyed')
    await chain.settled()
    const failure = chain.failure
    if (failure === null) return err
    if (!(failure instanceof ShoeboxError)) return failure
    const kept = this.kept()
    const unsealed = kept.unsealed === null ? '' : `; ${plural(kept.unsealed.records, 'record')} in ${kept.unsealed.path}, left for recovery`
    const why = err === null ? 'destroy()' : `destroy(${err.message})`
    return reworded(failure, `${failure.message}, writing out the records the rolling sink ${this.dir} had taken when ${why} came; ` +
      `${plural(kept.sealedRecords, 'record')} kept in ${plural(kept.sealedFiles, 'sealed file')}${unsealed}`)
  }

  /** Stop the uploader, and close the store if the sink opened it (a Store given is the caller's). Once: later calls wait for it. */
  async #closeUploads (): Promise<void> {
    this.#uploadsClosed ??= (async () => {
      await this.uploader?.close()
      await this.#uploadStore?.close()
    })()
    await this.#uploadsClosed
  }

  /**
   * Seed the planner's compression ratio with `sample`. gzip: deflate's, at once (the planner decides now).
   * zstd has no synchronous call: the sample is compressed with the file's codec, and the records after it (the
   * rest of the chunk, the next writes) wait for that ratio, which the planner then takes until real blocks come
   * back. (Planned at deflate's ratio, every zstd file of event NDJSON was ~11% under roll.size.) Should the
   * sample fail, so does the first block, and with it the sink.
   */
  #seed (sample: Buffer): void {
    const planner = this.#plan
    const compression = this.#compression
    if (compression === undefined || compression.codec.name === 'gzip') {
      planner.seedRatio(sample)
      return
    }
    planner.awaitRatio()
    const copy = Buffer.from(sample)
    this.#sampling = compression.codec.compressBlock(copy, compression.level, this.dir)
      .then((out) => { planner.sampled(copy.length, out.length) }, () => {})
      .finally(() => { this.#sampling = null })
  }

  /** Take one record, or a chunk of encoded ones: the bytes of those left for after the ratio sample (see #seed), if any. */
  #add (item: RecordInput | Uint8Array, now: number): Uint8Array | undefined {
    if (item instanceof Uint8Array) return this.#addEncoded(item, now)
    const planner = this.#plan
    if (planner.pastDeadline(now)) this.#cut('deadline')
    const file = this.#fileAt(now)
    const before = this.#encoder.pendingBytes
    const index = this.#given++
    try {
      this.#encoder.write(item)
    } catch (err) {
      // The encoder numbers only the records it was given; the sink numbers encoded Buffers' records too.
      if (err instanceof ShoeboxError && index !== this.#encoded) err.message = err.message.replace(/^record \d+:/, `record ${index}:`)
      throw err
    } finally {
      this.#encoded++
    }
    const bytes = this.#encoder.pendingBytes - before
    if (planner.needsRatio(bytes)) {
      const parts = this.#encoder.take()
      for (const part of parts) this.#raw.push(part)
      this.#seed(parts.length === 1 ? parts[0] : Buffer.concat(this.#raw))
    }
    let reason: CutReason | null
    try {
      reason = planner.add(file, bytes, now)
    } catch (err) {
      // A policy of the user's threw (planner.ts, asked()): this record is not written, as a refused one is not; those before it are.
      const parts = this.#encoder.take()
      const pending = parts.length === 1 ? parts[0] : Buffer.concat(parts)
      if (pending.length > bytes) this.#raw.push(pending.subarray(0, pending.length - bytes))
      throw err
    }
    if (reason !== null) this.#cut(reason)
    return undefined
  }

  /**
   * Bytes of whole encoded records (encode()'s output). The planner decides
   * as if asked after every record (RollPlanner.addRun), so a chunk of many
   * records is cut exactly where it says; runs of records between cuts stay
   * one slice. A record over maxRecordSize is refused as the encoder refuses
   * one: the records before it are kept, nothing of it or after it.
   *
   * The sink holds the bytes until their block is cut (up to flushInterval
   * after write() called back), so bytes that are not an encoder's own are
   * copied first: their writer may fill the same buffer again once its write
   * is called back (a reader with one buffer), and the sink would then write
   * the new bytes in place of these. An encoder's own output (encode(),
   * encodeNdjson()), which nobody refills, is taken as it is.
   */
  /**
   * walk.ts's record ends of bytes that are not an encoder's own; bytes that are not whole records
   * (NDJSON piped in where records go, a chunk cut inside a record) refused naming the sink, what it
   * takes and what is kept: the message said neither.
   */
  #walkEncoded (buf: Buffer): number[] {
    try {
      return (this.#recordEnds as typeof recordEnds)(buf)
    } catch (err) {
      if (!(err instanceof ShoeboxError)) throw err
      const given = this.#given
      const kept = given === 0 ? 'nothing came before it' : given === 1 ? 'the record before it is' : `the ${given} records before it are`
      throw reworded(err, `rollingSink(): ${err.message}; the sink takes records, or the bytes encode() and encodeNdjson() give (NDJSON goes through encodeNdjson() first): none of this chunk is written, ${kept}`)
    }
  }

  #addEncoded (bytes: Uint8Array, now: number): Uint8Array | undefined {
    const planner = this.#plan
    // An encoder's own output comes with its record ends; anything else is copied and walked.
    const own = encodedRecordEnds(bytes)
    const buf = own === undefined ? Buffer.from(bytes) : bytes as Buffer
    const ends: ArrayLike<number> = own ?? this.#walkEncoded(buf)
    for (const part of this.#encoder.take()) this.#raw.push(part)
    // The first record over maxRecordSize, if any: the records before it are taken, then it is refused.
    const max = this.#encoder.maxRecordSize
    let over = 0
    for (let prev = 0; over < ends.length && ends[over] - prev <= max; over++) prev = ends[over]
    const run = this.#run
    let segment = 0
    let start = 0
    let i = 0
    while (i < over) {
      if (planner.pastDeadline(now)) {
        if (start > segment) this.#raw.push(buf.subarray(segment, start))
        segment = start
        this.#cut('deadline')
      }
      const file = this.#fileAt(now)
      // One record at a time unless the planner batches (a user's policy; a ratio sample due).
      const batches = planner.batches
      if (!batches && planner.needsRatio(ends[i] - start)) this.#seed(buf.subarray(segment, ends[i]))
      try {
        planner.addRun(file, ends, i, batches ? over : i + 1, start, now, run)
      } catch (err) {
        // A policy of the user's threw (planner.ts, asked()): the records before it are written, as a refused
        // record's are. Its records are asked one at a time, and run.records counts those before the one that threw.
        const taken = run.records
        if (i + taken > 0 && ends[i + taken - 1] > segment) this.#raw.push(buf.subarray(segment, ends[i + taken - 1]))
        this.#given += taken
        throw err
      }
      i += run.records
      this.#given += run.records
      start = ends[i - 1]
      if (run.reason !== null) {
        this.#raw.push(buf.subarray(segment, start))
        segment = start
        this.#cut(run.reason)
      }
      // The ratio sample is being compressed with the file's codec: the records after it wait for its ratio.
      if (this.#sampling !== null && i < ends.length) {
        if (start > segment) this.#raw.push(buf.subarray(segment, start))
        return buf.subarray(start)
      }
    }
    if (over < ends.length) {
      if (start > segment) this.#raw.push(buf.subarray(segment, start))
      const index = this.#given++
      throw new ShoeboxError('SHOEBOX_INVALID_RECORD',
        `record ${index}: ${ends[over] - start} bytes encoded, over maxRecordSize ${max}; not written (the records before it are)`)
    }
    if (segment < buf.length) this.#raw.push(buf.subarray(segment))
    return undefined
  }

  /** The planner's open file, or a new one with its age timer: an idle file still rolls on time. */
  #fileAt (now: number): NonNullable<RollPlanner['file']> {
    const open = this.#plan.file
    if (open !== null) return open
    const file = this.#plan.fileAt(now)
    if (file.deadline !== undefined) this.#armAgeTimer(file, Math.max(0, file.deadline - now))
    return file
  }

  /** Seal `file` in `wait` ms if it is still open: chained past a timer's limit (a roll age of 30d), long-timeout.ts. */
  #armAgeTimer (file: NonNullable<RollPlanner['file']>, wait: number): void {
    this.#cancelAgeTimer = (this.#longTimeout as typeof longTimeout)(() => {
      this.#cancelAgeTimer = null
      if (this.#plan.file === file) this.#cut('deadline')
    }, wait, { unref: true })
  }

  /** End the current flush block for `reason` (see CutReason) and queue it for the chain. */
  #cut (reason: CutReason): void {
    const cut = this.#plan.cut(reason)
    if (cut === null) return
    const parts = this.#raw
    for (const part of this.#encoder.take()) parts.push(part)
    this.#raw = []
    if (cut.seal && this.#cancelAgeTimer !== null) {
      this.#cancelAgeTimer()
      this.#cancelAgeTimer = null
    }
    if (parts.length === 0 && !cut.seal) return
    // Parts it copies are given back at once; the chain gives back the block's own bytes once compressed or
    // written, and an encoder's pooled slab may then be used again (format/slab-pool.ts).
    const data = (this.#joinSlabParts as (parts: Buffer[]) => Buffer)(parts)
    this.#files.push({ file: cut.file, data, records: cut.records, seal: cut.seal, timed: (this.#isTimed as (reason: CutReason) => boolean)(reason) })
  }

  #full (): boolean {
    return this.#files.pending + this.#plan.blockBytes >= this.#maxPending
  }

  #release (): void {
    // (Stopping: writes held are let go, with the error, once the sink fails.)
    if (this.#failed === null && (this.#stopping !== null || this.#full())) return
    const waiting = this.#waiting
    this.#waiting = []
    for (const resume of waiting) resume()
  }

  #stopTimers (): void {
    if (this.#flushTimer !== null) clearInterval(this.#flushTimer)
    this.#cancelAgeTimer?.()
    this.#flushTimer = null
    this.#cancelAgeTimer = null
  }
}

/** Sinks destroyed by discardSink(): their destroy writes nothing out, and tells of and ships no file sealed after it. */
const discarded = new WeakSet<RollingSink>()

/**
 * Destroy `sink` with `err` without the write-out a destroy does (see
 * _destroy): for an owner that is giving the sink's work up, whose records
 * are going nowhere (pack(), failed or aborted, then removes its staging
 * directory). The records the sink holds are dropped; a block being written
 * completes, but the file is not sealed after it and stays a temporary file,
 * for recovery (as when the sink fails by itself); a seal under way finishes
 * on disk, unannounced. No `sealed` event comes after this call, no upload
 * starts, and uploads under way are aborted, as a destroy's are. The sink
 * emits `err`, then `close`. Internal (not in index.ts). A sink already
 * destroyed is left as it is.
 */
export function discardSink (sink: RollingSink, err: Error): void {
  if (sink.destroyed) return
  discarded.add(sink)
  sink.destroy(err)
}

/** Whether `dir` holds a temporary file, of this writer's host or another's (recover.ts decides what to do with it). */
async function hasTempFiles (dir: string): Promise<boolean> {
  const [names, { parseTempName }] = await Promise.all([orIoError(fs.readdir(dir), 'cannot recover', dir), import('./names.js')])
  return names.some((name) => parseTempName(name) !== undefined)
}

/** A rolling sink; with `upload`, `uploadParts` is required (see UploadParts). */
export function rollingSink (options: RollingSinkOptions, uploadParts?: UploadParts): RollingSink {
  return new RollingSink(options, uploadParts)
}
