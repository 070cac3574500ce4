/**
 * archiveSource(): one Readable of records across every archive a glob
 * matches, in order (natural by name by default, which for the default
 * templates is write order), gzip or plain, v1 or v2, strict or lenient.
 * With `from`, it continues exactly after a saved position; with `follow`,
 * it keeps watching for newly sealed files, like `tail -F`, until destroyed.
 *
 * The listeners of its own events (`file`, `fileEnd`, `skipped`, `corrupt`)
 * are awaited (stream/awaited-listeners.ts): one that notes a file as read
 * in a database was still at work on the last file when the stream ended,
 * and `await pipeline(source, ...)` resolved first. The stream ends once
 * they have settled; a throw or rejection stops the read and fails the
 * stream (SHOEBOX_LISTENER_FAILED naming the file) after the records read
 * before it; the next file waits while MAX_RUNNING files' listeners are at work.
 */
import { type Duplex, Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { SNIFF_BYTES, sniffCodec, type CodecName } from '../compress/codecs.js'
import { openAt } from '../compress/gzip.js'
import { memberStart } from '../compress/member-map.js'
import type { OpenAtZstdOptions } from '../compress/open-at.js'
import { GunzipStage, gunzipMembers } from '../compress/member-gunzip.js'
import type { peekHead } from '../compress/peek.js'
import { maxFrameSizeOption } from '../compress/zstd.js'
import { zstdDecompress, ZstdDecompressStage, type ZstdCorruptInfo } from '../compress/zstd-decompress.js'
import { checkOptionsObject, checkSignal, CorruptArchiveError, givenValue, invalidOption, reasonIn, ShoeboxError, type ShoeboxErrorCode } from '../errors.js'
import { ioError } from '../fs/io-error.js'
import { failAfterDelivery, feed } from '../stream/deliver-then-fail.js'
import type { AwaitedListeners } from '../stream/awaited-listeners.js'
import { decode, WholeDecoder, type DecodedCorruptInfo, type DecodeStream } from '../format/decode.js'
import type { DecodeMode } from '../format/decoder.js'
import type { Position, ShoeboxRecord } from '../record.js'
import type { StoreOptions } from '../store/open-store.js'
import { StoreError } from '../store/store-error.js'
import type { WholeObject } from '../store/store.js'
import type { TransferSnapshot } from '../transfer/stats.js'
import { checkDecodeMode, checkFlag, durationOption, timerMs } from '../units.js'
import { openGlob, type GlobRoot, type StoreGlob } from './glob.js'
import { comparator, naturalCompare, type FileOrder, type ListedFile } from './order.js'
import type { FollowGate } from './follow.js'
import type * as Lister from './list.js'
import type { ListedName } from './list.js'
import type { FetchRecords } from './fetch-records.js'
import type { ReadAhead } from './read-ahead.js'
import { maxRecordSizeOption } from '../format/constants.js'
import { failsOnListenerRejection } from '../stream/listener-rejections.js'

export interface ArchiveSourceOptions {
  /** Directory relative patterns are resolved against. Default process.cwd(). */
  cwd?: string
  /** 'name' (natural, default), 'mtime', or a comparator of {name, path, size, mtimeMs}. */
  order?: FileOrder
  /** 'strict' (default) or 'lenient', as in decode(). */
  mode?: DecodeMode
  /** Largest record read, as in decode(): bytes or a size string ('100MiB'). Default 64 MiB. */
  maxRecordSize?: number | string
  /** Most content one zstd frame may hold before it is decompressed, as in zstdDecompress(): bytes or a size string. Default 256 MiB. */
  maxFrameSize?: number | string
  /**
   * true: give each record a `position` {file, offset, member?}; implied by `from`.
   * An array of positions: exactly those records, in that order, each read
   * with ranged reads (fetch-records.ts); `from`, `follow` and `order` do not apply.
   */
  positions?: boolean | readonly Position[]
  /** Continue right after this position (a record's `position`). */
  from?: Position
  /**
   * Give each record `rawMetadata` too, as decode() does: its metadata as
   * stored, [key, value] pairs of bytes that encoders write back unchanged.
   * Not with a list of `positions`. Default false.
   */
  rawMetadata?: boolean
  /** Keep watching for new files until destroyed. Default false. */
  follow?: boolean
  /** How often `follow` looks for new files. Default '1s'. */
  pollInterval?: number | string
  /**
   * A pattern that matches no file fails the stream (SHOEBOX_NOT_FOUND, "no
   * archive matches PATTERN") unless following; `true` makes it an empty stream. Default false.
   */
  allowEmpty?: boolean
  /** For an s3:// pattern: endpoint, region, credentials... (see openStore). */
  storeOptions?: StoreOptions
  /** Aborting it destroys the stream with an AbortError (Node's Readable option), as destroy() would. */
  signal?: AbortSignal
}

/**
 * Payload bytes of records read ahead of the reader before reading stops for
 * room, whatever the highWaterMark (1024 records) says: a reader that stalls
 * over records of megabytes (pack()'s files) held up to 1024 of them.
 */
const HELD_BYTES = 16 * 1024 * 1024

export interface FileEvent { path: string, name: string }
export interface FileEndEvent { path: string, name: string, records: number }
export interface SkippedEvent {
  path: string
  name: string
  reason: string
  /** Why it could not be read, when that is an error's: SHOEBOX_UNSUPPORTED (zstd where this install has none). */
  code?: ShoeboxErrorCode
}

/** A listing that failed while following, and the pause before the next (listFailed). */
export interface ListFailedEvent {
  /** The pattern listed. */
  path: string
  error: Error
  /** Ms until the next listing. */
  retryMs: number
}

/**
 * The store failures a followed read outlives: a connection lost or refused, a
 * timeout, a throttling or failing server (past the store's own retries). A
 * missing bucket, refused credentials and the like fail it at once: waiting
 * does not heal them.
 */
const TRANSIENT_LISTING: ReadonlySet<string> = new Set(['network', 'unreachable', 'throttled', 'server'])

/** The longest pause between listings that keep failing: the pause doubles from pollInterval (at least 1 s) up to this. */
const MAX_LIST_PAUSE = 30_000

/**
 * The pause before the next listing of a follow after `failures` listings in
 * a row failed (1 for the first): pollInterval (at least 1 s), doubling with
 * each further failure, at most MAX_LIST_PAUSE (30 s, as the README says).
 */
export function listRetryPause (pollIntervalMs: number, failures: number): number {
  return Math.min(MAX_LIST_PAUSE, Math.max(pollIntervalMs, 1000) * 2 ** (failures - 1))
}

/** What a listener's failure leaves, for its error. */
const LISTENER_KEPT = 'the records read before it are delivered'

/**
 * The records a `from` position names are not there (its file is not listed, or it points past the file's end):
 * SHOEBOX_NOT_FOUND, the message beginning `from: `, the option's name. `detail` is the rest, for a caller that
 * knows the option by another name (the CLI's `--from`).
 */
export class PositionNotFoundError extends ShoeboxError {
  readonly detail: string

  constructor (detail: string) {
    super('SHOEBOX_NOT_FOUND', `from: ${detail}`)
    this.detail = detail
  }
}

/** A `corrupt` event (lenient): a damaged stretch of the file at `path`, as decode() or the zstd stage report it. */
export type SourceCorruptEvent = (DecodedCorruptInfo | (ZstdCorruptInfo & { file: string })) & { path: string }

/**
 * Records and the events' payloads, for TypeScript (declaration merging: no
 * runtime part). Readable's own types give `any` for each record of a `for
 * await` and for every listener's argument. The lint rule below guards
 * against members a class never initialises; these are overloads of
 * methods it inherits.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface ArchiveSource {
  [Symbol.asyncIterator] (): NodeJS.AsyncIterator<ShoeboxRecord>
  on (event: 'data', listener: (record: ShoeboxRecord) => void): this
  on (event: 'file', listener: (event: FileEvent) => unknown): this
  on (event: 'fileEnd', listener: (event: FileEndEvent) => unknown): this
  on (event: 'skipped', listener: (event: SkippedEvent) => unknown): this
  on (event: 'listFailed', listener: (event: ListFailedEvent) => unknown): this
  on (event: 'corrupt', listener: (event: SourceCorruptEvent) => unknown): this
  on (event: 'error', listener: (err: Error) => void): this
  on (event: 'close' | 'end' | 'pause' | 'readable' | 'resume', listener: () => void): this
  on (event: string | symbol, listener: (...args: never[]) => void): this
  once (event: 'data', listener: (record: ShoeboxRecord) => void): this
  once (event: 'file', listener: (event: FileEvent) => unknown): this
  once (event: 'fileEnd', listener: (event: FileEndEvent) => unknown): this
  once (event: 'skipped', listener: (event: SkippedEvent) => unknown): this
  once (event: 'listFailed', listener: (event: ListFailedEvent) => unknown): this
  once (event: 'corrupt', listener: (event: SourceCorruptEvent) => unknown): this
  once (event: 'error', listener: (err: Error) => void): this
  once (event: 'close' | 'end' | 'pause' | 'readable' | 'resume', listener: () => void): this
  once (event: string | symbol, listener: (...args: never[]) => void): this
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the interface above types its records and events
export class ArchiveSource extends failsOnListenerRejection(Readable) {
  readonly glob: GlobRoot
  /** The pattern as given, for errors. */
  readonly #pattern: string
  #options: ArchiveSourceOptions
  /** maxRecordSize and maxFrameSize in bytes (the options may be strings). */
  readonly #maxRecordSize: number
  readonly #maxFrameSize: number
  #compare: (a: ListedName, b: ListedName) => number
  /**
   * Whether the listing must give sizes and mtimes: following (the gate
   * compares them), from a position (its offset is checked against its
   * file's size) or in an order other than by name. Else no file is stat'ed
   * to list it (a FileStore): each is sized when it is opened.
   */
  #sized = true
  #positions: boolean
  #resume: (() => void) | null = null
  /** Payload bytes of the records in the stream's buffer (pushed, not yet read): see HELD_BYTES. */
  #heldBytes = 0
  #started = false
  #done = new Set<string>()
  /** The listing of the file `from` names, once seen (its mtime places it for order 'mtime'). */
  #fromFile: ListedName | undefined
  /**
   * Following from a position: the names of the first listing ordered before the position's file (read before the
   * position was taken), dropped as they are passed. Only those are skipped: a file listed first later is new,
   * though its name may sort before (a writer whose clock stepped back names its next files so), and was skipped
   * for good. A name a later listing lacks is dropped too (#forgetGone): a file that comes under it is new.
   */
  #readBefore: Set<string> | undefined
  #pollInterval: number
  /** The store the files come from (a FileStore for a local pattern) and the glob over its keys. */
  readonly #glob: StoreGlob
  /** The file being read: its input and its decoder. */
  #current: { input: Readable, decoder: DecodeStream } | null = null
  #stopped = false
  /** The read failed (#readFailed): its error is the stream's, once the listeners at work have settled. */
  #readFailure = false
  /** Ends the wait between two listings of `follow` early (stop, destroy). */
  #wake: (() => void) | null = null
  /** Following files others write in place: which are complete and stable, and which to read again (made by #load). */
  #gate: FollowGate | null = null
  /** Set by #load: the lister and peek.ts, which only reading needs. */
  #lister: typeof Lister | undefined
  #peekHead: typeof peekHead | undefined
  /** With `positions: [...]`: those positions (checked, copied), fetched by fetch-records.ts instead of reading files whole. */
  readonly #fetch: Position[] | undefined
  /** Following: the compressed offsets of the zstd frames skipped as damage in each file, so that a read again reports none twice. */
  readonly #skippedFrames = new Map<string, Set<number>>()
  /** The listeners of `file`, `fileEnd`, `skipped` and `corrupt`, whose work the end waits for (made by #load). */
  #listeners: AwaitedListeners | undefined
  /** The next files to be read whole, opened while the current one is decoded (read-ahead.ts; made by #load). */
  #ahead: ReadAhead<ListedName, Readable | Promise<WholeObject | Readable>> | undefined
  /** The largest file read whole (read-ahead.ts's READ_AHEAD_BYTES; set by #load, which loads that module). */
  #wholeBytes = 0

  constructor (pattern: string, options: ArchiveSourceOptions = {}) {
    // Taken and read by nothing: a reader that aborted kept reading, and a followed one never ended.
    checkSignal(options.signal)
    // A fetch by positions reads one record per request: fewer held ahead of the reader.
    super({ objectMode: true, highWaterMark: Array.isArray(options.positions) ? 16 : 1024, signal: options.signal })
    if (typeof pattern !== 'string' || pattern === '') throw invalidOption('pattern', 'a glob is required')
    checkDecodeMode(options.mode)
    // Sizes in bytes from here on: a string ('100MiB') is read once, and a bad one refused before any file is read.
    this.#maxRecordSize = maxRecordSizeOption(options.maxRecordSize)
    this.#maxFrameSize = maxFrameSizeOption(options.maxFrameSize)
    checkFlag(options.follow, 'follow')
    const { positions } = options
    if (positions !== undefined && typeof positions !== 'boolean' && !Array.isArray(positions)) {
      // positions: 'yes' gave records without positions, and an index built from them had none.
      throw invalidOption('positions', `must be true, false or a list of positions, got ${givenValue(positions)}`)
    }
    checkFlag(options.allowEmpty, 'allowEmpty')
    checkFlag(options.rawMetadata, 'rawMetadata')
    if (options.rawMetadata === true && Array.isArray(positions)) {
      // Fetched records come through readRecord alone (fetch-records.ts): refused, rather than given without it.
      throw invalidOption('rawMetadata', 'is not available with a list of positions (records fetched one by one): read the files instead')
    }
    // A number or a URL here threw Node's ERR_INVALID_ARG_TYPE from path.resolve, naming "paths[0]".
    if (options.cwd !== undefined && typeof options.cwd !== 'string') throw invalidOption('cwd', `must be a directory path (a string), got ${givenValue(options.cwd)}`)
    this.#fetch = Array.isArray(options.positions) ? checkPositions(options.positions, options) : undefined
    if (this.#fetch !== undefined) {
      // order and pollInterval do not apply, and are not read.
      this.#glob = openGlob(pattern, options)
      this.glob = { root: this.#glob.root, pattern: this.#glob.pattern }
      this.#pattern = pattern
      this.#options = { ...options }
      this.#compare = byName
      this.#positions = true
      this.#pollInterval = 0
      return
    }
    if (options.from !== undefined && (typeof options.from.file !== 'string' || !Number.isInteger(options.from.offset))) {
      throw invalidOption('from', 'must be a position {file, offset} taken from a record')
    }
    if (options.from !== undefined) memberStart(options.from) // a malformed member fails here, at once
    this.#glob = openGlob(pattern, options)
    this.glob = { root: this.#glob.root, pattern: this.#glob.pattern }
    this.#pattern = pattern
    this.#options = { ...options }
    const compare = comparator(options.order)
    this.#sized = options.follow === true || options.from !== undefined || (options.order !== undefined && options.order !== 'name')
    this.#compare = this.#sized ? (a, b) => compare(sized(a), sized(b)) : byName
    this.#positions = options.positions === true || options.from !== undefined
    this.#pollInterval = durationOption(options.pollInterval, 1000, 'pollInterval')
  }

  /**
   * The modules only reading needs, loaded as it starts rather than when the
   * package is imported (importing shoebox must stay about as fast as
   * starting Node: bench/startup.js, test/startup-lazy.test.ts).
   */
  async #load (): Promise<void> {
    const [lister, peek, { AwaitedListeners }, { ReadAhead, READ_AHEAD_BYTES }] = await Promise.all([
      import('./list.js'), import('../compress/peek.js'), import('../stream/awaited-listeners.js'), import('./read-ahead.js')
    ])
    this.#wholeBytes = READ_AHEAD_BYTES
    // Where the store reads files whole in batches, files are opened ahead that many at a time.
    this.#ahead = new ReadAhead<ListedName, Readable | Promise<WholeObject | Readable>>((file) => this.#openWhole(file) ?? this.#open(file, 0), this.#glob.store.wholeReadsTogether)
    this.#lister = lister
    this.#peekHead = peek.peekHead
    this.#listeners = new AwaitedListeners((err) => { this.#listenerFailed(err) })
    // S3 objects appear whole; local files may be written while listed.
    if (this.#options.follow === true && this.#glob.store.writtenInPlace === true) {
      const { FollowGate } = await import('./follow.js')
      this.#gate = new FollowGate(this.#pollInterval)
    }
  }

  /**
   * A record leaves the buffer (Node's own reads for 'data' and for-await come
   * here too): its bytes no longer count against HELD_BYTES, and reading held
   * back for them goes on once under it (_read is not called again meanwhile),
   * and under the highWaterMark in records too: resumed while the buffer was
   * full, each record read let a whole next file's records in (a file read
   * whole hands them all over), and a slow reader over many small files had
   * nearly all of them waiting (3926 records of 100 files of 40, for 1024).
   */
  override read (size?: number): ShoeboxRecord | null {
    const record = super.read(size) as ShoeboxRecord | null
    if (record !== null) {
      if (this.#heldBytes > 0) this.#heldBytes = Math.max(0, this.#heldBytes - record.payload.length)
      // Checked at every read, not only while bytes are held: the reads that take the buffer under the
      // highWaterMark may be of records without payload, and _read may not come (see _read).
      if (this.#heldBytes <= HELD_BYTES && this.readableLength < this.readableHighWaterMark) this.#resumeReading()
    }
    return record
  }

  #resumeReading (): void {
    const resume = this.#resume
    this.#resume = null
    resume?.()
  }

  override _read (): void {
    // Node asks for more while fewer than highWaterMark records wait; over HELD_BYTES, read() resumes instead.
    if (this.#heldBytes > HELD_BYTES) return
    this.#resumeReading()
    if (this.#started) return
    this.#started = true
    // Files opened ahead and not read (the read failed, or a listing's files were all passed by) are closed.
    this.#run().finally(() => { this.#ahead?.clear() }).then(() => {
      if (!this.#stopped && !this.destroyed) this.#end()
    }, (err: Error) => {
      if (!this.#stopped && !this.destroyed) this.#readFailed(err)
    })
  }

  /**
   * End the stream cleanly: no record is pushed after this call, the records
   * already buffered are still delivered, then 'end'. The current file's input
   * is closed. For a consumer that has seen enough (a signal); destroy() would
   * drop the buffered records.
   */
  stop (): void {
    if (this.#stopped || this.destroyed) return
    this.#stopped = true
    this.#started = true
    this.#closeCurrent()
    // Called from a listener, the emit calling it has not yet kept what the listeners before it returned.
    queueMicrotask(() => { this.#end() })
  }

  /** End the stream once the listeners called so far have settled (at once when none is at work). */
  #end (): void {
    const listeners = this.#listeners
    if (listeners === undefined || !listeners.waiting) {
      this.push(null)
      return
    }
    listeners.settled().then(() => { if (!this.destroyed) this.push(null) }, (err: Error) => { failAfterDelivery(this, err) })
  }

  /** Call `name`'s listeners (as emit() would), their work awaited before the stream ends. */
  #tell<Event extends { path: string }> (name: string, event: Event): void {
    (this.#listeners as AwaitedListeners).emit(this, name, event, event.path, LISTENER_KEPT)
  }

  /**
   * Damage or a failed read: nothing is read after it; once the listeners at work on the files before it
   * have settled, the records buffered go out, then the error. The stream failed at once, and `await
   * pipeline(source, ...)` rejected while a 'fileEnd' listener was still noting the last good file as read:
   * a process exiting then lost the note. A listener that fails meanwhile is dropped: the read's error is reported.
   */
  #readFailed (err: Error): void {
    this.#stopped = true
    this.#readFailure = true
    const listeners = this.#listeners
    if (listeners === undefined || !listeners.waiting) {
      failAfterDelivery(this, err)
      return
    }
    listeners.settled().catch(() => {}).then(() => { failAfterDelivery(this, err) }, () => {})
  }

  /** A listener threw or rejected: no record is pushed after this, the ones buffered go out, then the error. */
  #listenerFailed (err: Error): void {
    if (this.destroyed || this.#readFailure) return
    this.#stopped = true
    this.#closeCurrent()
    failAfterDelivery(this, err)
  }

  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    // A read waiting for the listeners to make room goes on (to stop); the listeners themselves are not waited for.
    this.#listeners?.stop()
    this.#closeCurrent()
    void this.#glob.store.close()
    callback(err)
  }

  /** Close the file being read and wake the reading loop wherever it waits, so it sees the stop. */
  #closeCurrent (): void {
    const current = this.#current
    this.#current = null
    current?.decoder.destroy()
    current?.input.destroy()
    this.#ahead?.clear()
    this.#resume = null
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  /** Transfer statistics of the source's store (bytes and objects read; for S3 also retries, errors). */
  stats (): TransferSnapshot {
    return this.#glob.store.stats()
  }

  /**
   * Following: what the follower keeps per file, counted: the names read,
   * of them those kept as read (may change) and as final (FollowGate), the
   * files waiting to be stable, the writers' temporary files seen (sealing),
   * and the files with damaged zstd frames skipped (a store whose objects
   * appear whole, S3, has no gate: names alone). For tests; undefined until
   * the read starts, and when not following.
   */
  get followKept (): { names: number, read: number, final: number, waiting: number, sealing: number, skippedFrames: number } | undefined {
    if (this.#options.follow !== true || this.#lister === undefined) return undefined
    const kept = this.#gate?.kept ?? { read: 0, final: 0, waiting: 0, sealing: 0 }
    return { names: this.#done.size, ...kept, skippedFrames: this.#skippedFrames.size }
  }

  /** Following: the files to stat when listing (FollowGate.mayChange), made once. */
  readonly #mayChange = (name: string): boolean => (this.#gate as FollowGate).mayChange(name)

  async #list (): Promise<ListedName[]> {
    const gate = this.#gate
    return await (this.#lister as typeof Lister).listGlob(this.#glob, gate?.listing(), gate === null ? this.#sized : this.#mayChange)
  }

  /**
   * The bytes of a file from `start` (S3: a resumable ranged GET). Pinned to
   * the listed version where objects appear whole; a local file may still
   * grow, and is read as it is (the follow gate reads it again if it changes).
   */
  #open (file: ListedName, start: number, end?: number): Readable {
    const etag = this.#glob.store.writtenInPlace === true ? undefined : file.etag
    return this.#glob.store.get(file.name, { range: { start, end }, etag })
  }

  /**
   * The bytes of a small file, whole, in one read (a FileStore's getWhole()),
   * or undefined where its store reads no object whole or it is too big to
   * hold. Not while following: a file there may still be growing, and is read
   * as a stream (the follow gate reads it again as it grows).
   */
  #openWhole (file: ListedName): Promise<WholeObject | Readable> | undefined {
    const store = this.#glob.store
    if (store.getWhole === undefined || this.#options.follow === true || (file.size ?? 0) > this.#wholeBytes) return undefined
    return store.getWhole(file.name, { size: file.size, etag: store.writtenInPlace === true ? undefined : file.etag })
  }

  /** The codec of `file`, by its magic bytes: one small ranged read (needed only where reading does not start at 0). */
  async #codecOf (file: ListedName): Promise<CodecName> {
    const chunks: Buffer[] = []
    for await (const chunk of this.#open(file, 0, SNIFF_BYTES)) chunks.push(chunk as Buffer)
    return sniffCodec(Buffer.concat(chunks)).name
  }

  async #run (): Promise<void> {
    if (this.#fetch !== undefined) {
      const { fetchPositions } = await import('./fetch-records.js')
      await fetchPositions(this.#glob, this.#pattern, this.#fetch, this.#maxRecordSize, this.#maxFrameSize, async (record) => await this.#deliver(record))
      return
    }
    await this.#load()
    const from = this.#options.from
    let listFailures = 0
    for (let first = true; ; first = false) {
      let listed: ListedName[]
      try {
        listed = await this.#list()
      } catch (err) {
        // A follow is a long tail: a listing lost to a network blip is tried again after a pause, said
        // (listFailed). Not the first: a read that never listed (a wrong endpoint) fails at once.
        if (first || this.#options.follow !== true || !(err instanceof StoreError) || !TRANSIENT_LISTING.has(err.kind)) throw err
        const retryMs = listRetryPause(this.#pollInterval, ++listFailures)
        this.#tell('listFailed', { path: this.#pattern, error: err, retryMs } satisfies ListFailedEvent)
        await this.#pause(retryMs)
        if (this.destroyed || this.#stopped) return
        continue
      }
      listFailures = 0
      const listedAt = Date.now()
      if (this.destroyed || this.#stopped) return
      if (first && listed.length === 0 && this.#options.follow !== true && this.#options.allowEmpty !== true) {
        throw (this.#lister as typeof Lister).noArchiveMatches(this.#pattern, listed)
      }
      if (from !== undefined && first) {
        // A position names a file already read: one not listed (mistyped, or gone) would otherwise
        // silently skip every file ordered before it, with 'mtime' order every file for good.
        this.#fromFile = listed.find((f) => f.name === from.file)
        if (this.#fromFile === undefined) {
          throw new PositionNotFoundError(`no archive named ${from.file} matches ${this.#pattern} (a position names its file relative to ${this.#glob.root}, as positions print it)`)
        }
        if (this.#options.follow === true) this.#readBefore = new Set(listed.filter((f) => this.#before(f, from)).map((f) => f.name))
      }
      const gate = this.#gate
      let waiting = false
      // A file read before is listed again only to tell whether it changed (listed without a size where it cannot: FollowGate).
      let known = 0
      let waited = 0
      const files = listed.filter((f) => {
        if (!this.#done.has(f.name)) {
          if (gate?.waiting(f.name) === true) waited++
          return true
        }
        known++
        return gate?.changed(f) ?? false
      }).sort(this.#compare)
      // Following, names read (or waited on) before that this listing lacks were deleted: forgotten (on S3 too, whose
      // objects expire: a follower of months kept every key it ever read, and an object put again under a deleted
      // key was never read). Counted, so an idle poll pays no more than it did: a listing's names are unique, so
      // all are listed when the counts agree.
      if (this.#options.follow === true) this.#forgetGone(listed, gate, known < this.#done.size || waited < (gate?.waitingCount ?? 0))
      // Not held through the pause below: a follower of many files held a second copy of every name and path meanwhile.
      listed = []
      for (const [index, file] of files.entries()) {
        // Too many files' listeners still at work: the next file waits for one (destroy() ends the wait).
        const room = this.#listeners?.room()
        if (room !== undefined) await room
        if (this.destroyed || this.#stopped) return
        if (gate !== null && !gate.ready(sized(file), listedAt)) {
          waiting = true
          // Files are read in order: one still being written holds back those after it,
          // except one already read that is changing again.
          if (gate.reread(file.name)) continue
          break
        }
        this.#done.add(file.name)
        if (from !== undefined && (this.#readBefore === undefined ? this.#before(file, from) : this.#readBefore.delete(file.name))) continue
        // Following, whether and where a file is read is decided as its turn comes (the gate): none is opened ahead.
        const upcoming = gate === null ? this.#wholeReads(files, index + 1, from) : []
        await this.#readFile(file, from !== undefined && file.name === from.file ? from : undefined, upcoming)
      }
      if (this.#options.follow !== true || this.destroyed || this.#stopped) return
      await this.#pause(waiting && gate !== null ? gate.settle : this.#pollInterval)
    }
  }

  /**
   * Following: forget the files read whose names `listed` lacks (deleted, as
   * an uploader's --delete-local deletes what it shipped, or as an S3
   * lifecycle rule expires objects). A file that comes under such a name
   * later is new, and read whole: a sealed file read to its end is never
   * stat'ed again (an S3 object read is never looked at again), so one
   * deleted and sealed again under its name was not read, and a follower of
   * a directory cleaned behind it kept every name it ever read.
   */
  #forgetGone (listed: readonly ListedName[], gate: FollowGate | null, someWent: boolean): void {
    let names: Set<string> | undefined
    const isListed = (name: string): boolean => {
      if (names === undefined) {
        names = new Set<string>()
        for (const file of listed) names.add(file.name)
      }
      return names.has(name)
    }
    // Sealing names and files waiting: few, and none when idle.
    gate?.listed(isListed)
    // Files before `from`'s not passed yet (the first listing waited on one), deleted before their turn: a
    // file that comes under such a name later is new, and read, not skipped as read before the position.
    if (this.#readBefore !== undefined) for (const name of this.#readBefore) if (!isListed(name)) this.#readBefore.delete(name)
    if (!someWent) return
    for (const name of this.#done) {
      if (isListed(name)) continue
      this.#done.delete(name)
      this.#skippedFrames.delete(name)
      gate?.gone(name)
    }
  }

  /** Wait `ms` between two listings of a follow (stop() and destroy() end it early). */
  async #pause (ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null
        resolve()
      }, timerMs(ms))
      this.#wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  /** The files from files[start] on that will be read whole (not `from`'s, nor those before it), lazily: the read-ahead takes a few. */
  * #wholeReads (files: ListedName[], start: number, from: Position | undefined): Generator<ListedName> {
    for (let i = start; i < files.length; i++) {
      const file = files[i]
      if (from === undefined || (file.name !== from.file && !this.#before(file, from))) yield file
    }
  }

  /** Push a fetched record; resolves once there is room for more: false when the stream has stopped or been destroyed. */
  async #deliver (record: ShoeboxRecord): Promise<boolean> {
    if (this.destroyed || this.#stopped) return false
    if (!this.push(record)) await this.#room()
    return !this.destroyed && !this.#stopped
  }

  /** Resolves once the reader has room for more (_read, or read() under HELD_BYTES), or the stream stops or is destroyed. */
  async #room (): Promise<void> {
    if (this.destroyed || this.#stopped) return
    // _read resumes it; stop() and destroy() wake it (#closeCurrent).
    await new Promise<void>((resolve) => {
      this.#resume = resolve
      this.#wake = resolve
    })
    this.#wake = null
  }

  /** Does `file` come before the file of `from` (and so is already read)? */
  #before (file: ListedName, from: Position): boolean {
    if (file.name === from.file || this.#fromFile === undefined) return false
    return this.#compare(file, this.#fromFile) < 0
  }

  /**
   * The decompressed bytes of `file` from where reading it starts, and that
   * start's offset. A plain file seeks straight to the saved record; a gzip
   * file to the member the position names (one ranged read from there: the
   * members before it are never fetched), or from its start for a position
   * without a member (unless `plain` says the file is not gzip).
   */
  async #openFile (file: ListedName, from: Position | undefined, plain: boolean): Promise<OpenedFile> {
    const after = from?.offset ?? -1
    const member = from === undefined ? undefined : memberStart(from)
    if (member !== undefined) {
      // A member at or past the end would be reported as damage, and skipped when lenient.
      const { size } = sized(file)
      if (member.compressed >= size) {
        throw new PositionNotFoundError(`${file.path}: the member (gzip member or zstd frame) at compressed byte ${member.compressed} is past the end of the file (${size} bytes)`)
      }
      // The member's own first bytes say gzip or zstd: no second request. When they say neither (the file
      // has changed since), the file's first bytes do, so that the damage names the file's codec.
      const { head, stream } = await (this.#peekHead as typeof peekHead)(this.#open(file, member.compressed), SNIFF_BYTES)
      const codec = sniffCodec(head).name === 'none' ? await this.#codecOf(file) : sniffCodec(head).name
      const opened = await openAt(from as Position, () => stream, codec === 'zstd' ? 'zstd' : 'gzip', this.#zstdOptions)
      return { input: opened.stream, stages: [], bytes: opened.stream, start: opened.baseOffset, size }
    }
    const compressed = after >= 0 && !plain && await this.#codecOf(file) !== 'none'
    // A position past the end would read nothing from this file and say nothing.
    if (after >= 0 && !compressed && after > sized(file).size) throw pastEnd(file, after, sized(file).size)
    const start = after >= 0 && !compressed ? after : 0
    // The codec is read from the file's own first bytes (no second request). The
    // decompressors know their members/frames: with positions, a compressed record's
    // position also names its member (one ranged read fetches it later).
    const opened = start === 0 ? this.#ahead?.take(file) ?? this.#openWhole(file) ?? this.#open(file, 0) : this.#open(file, start)
    let input: Readable
    let codec: CodecName
    // The file's size: the listing's, or found now (a listing without sizes, #sized, reads from the start).
    let size = file.size
    const got = opened instanceof Promise ? await opened : opened
    // A stream opened ahead (a file grown since listed) that failed meanwhile: its 'error' event has gone by.
    if (got instanceof Readable && got.errored !== null) throw got.errored
    if (!(got instanceof Readable)) {
      // Read whole: a plain file is decoded in one call (WholeDecoder), with no stream.
      const whole = got.take()
      size ??= whole.length
      codec = sniffCodec(whole).name
      if (codec === 'none') return { whole, start, size }
      input = Readable.from([whole], { objectMode: false })
    } else {
      // Streamed (too big to read whole, or grown since it was sized): looked up where no listing sized it.
      size ??= (await this.#glob.store.stat(file.name)).size
      const peeked = await (this.#peekHead as typeof peekHead)(got, SNIFF_BYTES)
      input = peeked.stream
      codec = sniffCodec(peeked.head).name
    }
    // A plain file goes to the decoder as it is: a stage passing its bytes through cost every file of a
    // read of thousands of small ones a stream, its listeners and a hop per chunk.
    if (start === 0 && codec === 'none') return { input, stages: [], bytes: input, start, size }
    const bytes = start === 0 && codec === 'zstd'
      ? zstdDecompress({ ...this.#zstdOptions, file: file.path })
      : gunzipMembers({ members: this.#tracking }) // gzip, and plain bytes after a position passed through
    return { input, stages: [bytes], bytes, start, size }
  }

  /**
   * How a zstd file is decompressed: lenient skips a damaged frame alone (its
   * 'corrupt' is reported by #readFile) and goes on at the next, which gzip,
   * with no sync marker, cannot. Following, the file may still be growing: a
   * torn last frame is read again when it grows, never skipped as damage.
   */
  get #zstdOptions (): OpenAtZstdOptions {
    return { maxFrameSize: this.#maxFrameSize, mode: this.#options.mode, growing: this.#gate !== null }
  }

  /** Positions are needed: asked for, or following (a changed file is read again from its last record). */
  get #tracking (): boolean {
    return this.#positions || this.#gate !== null
  }

  /**
   * Where reading `file` continues: after the last record an earlier read of
   * this followed file delivered (`followed`: that record is read again and
   * must be the same), else after `from` if it names this file. A followed
   * file now shorter than that record was replaced: read whole.
   */
  #resumeAt (file: ListedName, from: Position | undefined): { position: Position | undefined, plain: boolean, followed: boolean } {
    const last = this.#gate?.resumeAt(file.name)
    if (last === undefined) return { position: from, plain: false, followed: false }
    const { size } = sized(file)
    const shrunk = last.member === undefined ? last.offset > size : last.member.offset >= size
    // The gate's positions name a member in every gzip file: one without is of a plain file.
    return { position: shrunk ? undefined : last, plain: last.member === undefined, followed: !shrunk }
  }

  /**
   * Is this damage (lenient, following) maybe the file's tail still being
   * written: after a record, running to the end of the bytes read, in a file
   * no shoebox writer sealed? A record being written after damage is
   * swallowed by it until it is whole, so the stretch was reported at once,
   * too long, and again (its own length) when the file grew and was read
   * again from the record before it. Held back, it is reported once a
   * record follows it; a file that never grows past it is never reported,
   * as a cut-short tail is not.
   */
  #growingTail (info: DecodedCorruptInfo, gate: FollowGate, name: string, records: number, end: number): boolean {
    return records > 0 && info.offset + info.bytesSkipped >= end && !gate.sealed(name)
  }

  /** A followed file was replaced under its name since it was read: read the new one whole. */
  async #readReplaced (file: ListedName): Promise<void> {
    this.#gate?.forget(file.name)
    await this.#readFile(file, undefined)
  }

  /**
   * Read one file; after `from` (a position in it), only the records after
   * that one. The `upcoming` files (to be read whole next) are opened ahead
   * once this one's 'file' is told: a file deleted by then fails the read
   * naming it, as it did when files were opened in their turn.
   */
  async #readFile (file: ListedName, from: Position | undefined, upcoming: Iterable<ListedName> = []): Promise<void> {
    const { name } = file
    this.#tell('file', { path: file.path, name } satisfies FileEvent)
    this.#ahead?.ahead(upcoming)
    const resume = this.#resumeAt(file, from)
    const after = resume.position?.offset ?? -1
    let opened: OpenedFile
    try {
      opened = await this.#openFile(file, resume.position, resume.plain)
    } catch (err) {
      // Following a directory others clean up (an uploader deleting what it shipped), or a bucket whose objects
      // expire: a file deleted between its listing and its opening has nothing left to read, which fails no
      // follow. Said, and read if it comes back.
      if (this.#options.follow === true && err instanceof StoreError && err.kind === 'not-found') {
        this.#gate?.forget(name)
        this.#done.delete(name)
        this.#tell('skipped', { path: file.path, name, reason: 'deleted before it could be read' } satisfies SkippedEvent)
        return
      }
      throw err
    }
    const { start } = opened
    const streamed = 'whole' in opened ? undefined : opened
    const whole = 'whole' in opened ? opened.whole : undefined
    if (this.destroyed || this.#stopped) {
      streamed?.input.destroy()
      return
    }
    const bytes = streamed?.bytes
    const decodeOptions = {
      mode: this.#options.mode,
      maxRecordSize: this.#maxRecordSize,
      file: name,
      positions: this.#tracking,
      members: this.#tracking && (bytes instanceof GunzipStage || bytes instanceof ZstdDecompressStage) ? bytes.members : undefined,
      // Damage in a zstd file names its frame: a damaged frame that still decompresses may hold many stretches.
      frames: bytes instanceof ZstdDecompressStage ? bytes.members : undefined,
      baseOffset: start,
      rawMetadata: this.#options.rawMetadata
    }
    // A plain file read whole is decoded in one call, by the same decoder and with the same handlers as a stream.
    const decoder = streamed === undefined
      ? new WholeDecoder(decodeOptions, { record: (record) => { onRecord(record) }, corrupt: (info) => { onCorrupt(info) } })
      : decode(decodeOptions)
    const gate = this.#gate
    // The last record delivered from this file, where a followed file that changes is read again from.
    let last: ShoeboxRecord | undefined
    // Read again from its last delivered record, a followed file must still hold that record there:
    // if not, it was replaced under its name, and this read stops to read it whole.
    let verified = !resume.followed
    let replaced = false
    // `from` in a compressed file: its member is decoded from its start, the records numbered from offset - skip.
    // An offset and a skip that disagree numbered them all wrong, without a word (the saved record came again,
    // 5 bytes off; or the records after it with offsets off): the record the position names must be found there.
    const named = !resume.followed && resume.position?.member !== undefined ? resume.position : undefined
    let found = named === undefined
    const noRecord = (): ShoeboxError => {
      const { file: given, offset, member } = named as Position & { member: { offset: number, skip: number } }
      return invalidOption('from', `${given}:${offset}@${member.offset}+${member.skip} names no record: none starts ${member.skip} bytes into the member at compressed byte ${member.offset} of ${file.path} (its offset and skip disagree, or the file changed since)`)
    }
    let damaged = false
    let skippedFile = false
    let truncated = false
    const onCorrupt = (info: DecodedCorruptInfo): void => {
      // Read again from a record's member, or from a position in it: damage before that record was read (and
      // reported) by the read that delivered it. A followed gzip file's was reported again at every growth.
      if (info.offset < after) return
      if (gate !== null && (info.reason === 'truncated' || this.#growingTail(info, gate, name, decoder.stats.records, decompressed))) {
        // Followed: the file may still be growing; it is read again when it changes.
        truncated = true
        return
      }
      damaged = true
      if (info.offset === 0 && decoder.stats.records === 0 && info.bytesSkipped === opened.size) {
        skippedFile = true
        return
      }
      this.#tell('corrupt', { ...info, path: file.path })
    }
    // A lenient zstd stage skips a damaged frame and goes on at the next: its offset is compressed.
    // A followed file is read again from its last record as it grows, which may come before a frame
    // skipped last time: each is reported once (a read from the file's start begins afresh).
    if (!resume.followed) this.#skippedFrames.delete(name)
    if (bytes instanceof ZstdDecompressStage) {
      bytes.on('corrupt', (info: ZstdCorruptInfo) => {
        if (gate !== null) {
          const skipped = this.#skippedFrames.get(name) ?? new Set<number>()
          if (skipped.has(info.offset)) return
          this.#skippedFrames.set(name, skipped.add(info.offset))
        }
        this.#tell('corrupt', { ...info, file: name, path: file.path })
      })
    }
    // The bytes read from this file (decompressed), to tell a position past its end.
    let decompressed = start + (whole?.length ?? 0)
    if (after >= 0 || gate !== null) bytes?.on('data', (chunk: Buffer) => { decompressed += chunk.length })
    let count = 0
    // Set when the reader has no room: a stream pauses until it has; a file read whole hands over all its
    // records, then the read waits for room before the next file.
    let full = false
    // What a reader's own 'data' listener threw, from inside push(): its failure, not this file's.
    let readerThrew: unknown
    const onRecord = (record: ShoeboxRecord): void => {
      if (this.#stopped || replaced) return
      const at = record.position?.offset
      if (!verified && at !== undefined && at >= after) {
        verified = at === after && (gate as FollowGate).isLast(name, record)
        if (!verified) {
          replaced = true
          if (!(decoder instanceof WholeDecoder)) decoder.destroy()
          streamed?.input.destroy()
          return
        }
      }
      if (!found && at !== undefined && at >= after) {
        found = at === after
        if (!found) {
          if (!(decoder instanceof WholeDecoder)) decoder.destroy(noRecord())
          streamed?.input.destroy()
          return
        }
      }
      if (at !== undefined && at <= after) return
      count++
      last = record
      const buffered = this.readableLength
      let room: boolean
      try {
        room = this.push(this.#positions ? record : withoutPosition(record))
      } catch (err) {
        readerThrew = err
        throw err
      }
      // Counted only when it waits in the buffer (a flowing reader with none waiting is handed it at once).
      if (this.readableLength > buffered) this.#heldBytes += record.payload.length
      if (!room || this.#heldBytes > HELD_BYTES) {
        full = true
        if (decoder instanceof WholeDecoder) return
        decoder.pause()
        this.#resume = () => { decoder.resume() }
      }
    }
    try {
      if (decoder instanceof WholeDecoder) {
        decoder.decode(whole as Buffer)
        if (full) await this.#room()
        if (this.destroyed) return
      } else {
        decoder.on('corrupt', onCorrupt)
        // Failures of the input or of gzip reach the decoder after the records it already holds.
        feed((streamed as StreamedFile).input, ...(streamed as StreamedFile).stages, decoder)
        // 'data' with pause/resume rather than for-await: no promise per record.
        decoder.on('data', onRecord)
        this.#current = { input: (streamed as StreamedFile).input, decoder }
        // Done when the decoder's output has ended, not when its input has: under
        // backpressure records may still wait in it, and must come before the next file's.
        // A failure comes only after the decoder has handed over every record before it.
        await finished(decoder)
      }
    } catch (err) {
      if (this.destroyed || this.#stopped) return
      // Damage or an early end before the record it resumes at: the bytes there are not the file read before.
      if (!verified) return await this.#readReplaced(file)
      if (gate !== null && err instanceof CorruptArchiveError && err.cutShort) {
        // Followed, and cut short (mid-record, or inside the last gzip member or zstd frame, whose whole
        // blocks' records came through). Read again from the last record delivered, which may be one of
        // those: none twice, none skipped.
        gate.read(sized(file), last, 'cut-short')
        return
      }
      if (err instanceof ShoeboxError && err.code === 'SHOEBOX_UNSUPPORTED' && this.#options.mode === 'lenient') {
        // zstd where this install has none: nothing of this file can be read, but the files after it can (as ls and
        // verify go on past it).
        this.#tell('skipped', { path: file.path, name, reason: reasonIn(err, file.path), code: err.code } satisfies SkippedEvent)
        return
      }
      if (err instanceof CorruptArchiveError && err.reason === 'bad-compression' && this.#options.mode === 'lenient') {
        // The records before the damage came through; report the rest of the file as skipped and go on
        // (gzip; a zstd stage skips a damaged frame itself, and fails only where no frame starts at a position).
        this.#tell('corrupt', { file: name, path: file.path, offset: err.offset, reason: err.reason, detail: err.detail, bytesSkipped: opened.size - err.offset })
        return
      }
      if (err instanceof CorruptArchiveError) throw err.inFile(file.path)
      // A reader's error with a code of its own (a database's ECONNREFUSED) was reported as 'cannot read FILE'.
      if (err === readerThrew) throw err
      if (!(err instanceof ShoeboxError) && typeof (err as NodeJS.ErrnoException).code === 'string') throw ioError(err, 'cannot read', file.path)
      throw err
    } finally {
      if (this.#current?.decoder === decoder) this.#current = null
    }
    if (this.#stopped) return
    if (!verified) return await this.#readReplaced(file)
    gate?.read(sized(file), last, truncated ? 'cut-short' : 'to-end')
    if (truncated) return
    if (decompressed < after) throw pastEnd(file, after, decompressed)
    if (!found) throw noRecord()
    if (skippedFile && damaged) {
      this.#tell('skipped', { path: file.path, name, reason: 'not an archive' } satisfies SkippedEvent)
      return
    }
    this.#tell('fileEnd', { path: file.path, name, records: count } satisfies FileEndEvent)
  }
}

/**
 * A file opened for reading: its bytes, the stages that decompress them, and
 * the decompressed offset they start at; or a plain file's bytes, read whole.
 */
type OpenedFile = StreamedFile | WholeFile

interface StreamedFile {
  input: Readable
  stages: Duplex[]
  /** The decompressed bytes: the last stage, or the input itself. */
  bytes: Readable
  start: number
  /** The file's size: listed, or found as it was opened. */
  size: number
}

interface WholeFile {
  /** The plain file's bytes from `start` to its end. */
  whole: Buffer
  start: number
  size: number
}

/** Files in name order (natural): all the default order needs of a listing. */
function byName (a: ListedName, b: ListedName): number {
  return naturalCompare(a.name, b.name)
}

/** A file of a listing with sizes: the only kind there is where one is needed (ArchiveSource's #sized). */
function sized (file: ListedName): ListedFile {
  if (file.size === undefined || file.mtimeMs === undefined) throw new Error(`shoebox: ${file.path} was listed without its size, which is needed here`)
  return file as ListedFile
}

/** A position beyond what the file holds: the records it meant are not there. */
function pastEnd (file: ListedName, offset: number, size: number): ShoeboxError {
  return new PositionNotFoundError(`${file.path}: offset ${offset} is past the end of the archive (${size} bytes)`)
}

/**
 * `positions: [...]`, checked at once (a malformed position fails here, not
 * after the records before it), and copied, with the reading options that
 * cannot apply refused rather than ignored.
 */
function checkPositions (positions: readonly Position[], options: ArchiveSourceOptions): Position[] {
  for (const key of ['from', 'follow'] as const) {
    const value = (options as Record<string, unknown>)[key]
    if (value !== undefined && value !== false) throw invalidOption(key, 'does not apply with positions: [...] (those records are read, nothing else)')
  }
  const copied = positions.map((p: Position, i) => {
    if (typeof p !== 'object' || p === null || typeof p.file !== 'string' || p.file === '' || !Number.isSafeInteger(p.offset) || p.offset < 0) {
      throw invalidOption(`positions[${i}]`, `must be a position {file, offset, member?} taken from a record, got ${JSON.stringify(p)}`)
    }
    memberStart(p)
    return p.member === undefined ? { file: p.file, offset: p.offset } : { file: p.file, offset: p.offset, member: { offset: p.member.offset, skip: p.member.skip } }
  })
  return copied
}

export function archiveSource (pattern: string, options: ArchiveSourceOptions & { positions: readonly Position[] }): FetchRecords
export function archiveSource (pattern: string, options?: ArchiveSourceOptions): ArchiveSource
export function archiveSource (pattern: string, options?: ArchiveSourceOptions): ArchiveSource | FetchRecords {
  checkOptionsObject(options, 'archiveSource()')
  return new ArchiveSource(pattern, options)
}

/** A record without the position the decoder tracked (to resume) but the reader did not ask for. */
function withoutPosition (record: ShoeboxRecord): ShoeboxRecord {
  const { metadata, payload, rawMetadata } = record
  return rawMetadata === undefined ? { metadata, payload } : { metadata, payload, rawMetadata }
}
