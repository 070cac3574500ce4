/**
 * The event store behind `shoebox serve`: a small LSM tree on shoebox
 * archives, in one data directory.
 *
 *   wal/<seq>.shoebox   the write-ahead log (write-ahead-log.ts): every put (one
 *                       record per stream, put-records.ts) and delete,
 *                       group-committed and fsynced before it is answered
 *   runs/<seq>.shoebox  sorted runs, one stream and one time bucket each (run-file.ts,
 *                       run-writer.ts), merged by size tier (compaction.ts)
 *   index.json          the runs, the log files they replace, the streams (run-index.ts)
 *   retention-clock.json  the clock of the last retention pass (retention-clock.ts)
 *
 * Puts land in the log and the memtable (memtable.ts); past `memtableSize`
 * the memtable is frozen at a log rotation, written out as runs (RUN_WRITERS
 * files at once, one directory fsync for all), the index swapped, the old
 * log files removed, and the merges that made due swapped in together. A get merges the overlapping runs
 * and the memtables lazily (merge.ts). One log for all streams, not one per
 * stream: a put naming ten streams costs one fsync, not ten.
 *
 * Changes to the set of runs (flush, delete, retention) run one at a time
 * and become visible in one synchronous step, after the new index is
 * durable; a reader takes its snapshot (runs and memtable events) in one
 * synchronous step too, so it sees a delete whole or not at all. Run files
 * a reader still holds are removed when it lets go.
 */
import { constants as fsConstants } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleepFor } from 'node:timers/promises'
import { encodeRecords } from '../../format/encoder.js'
import { ShoeboxError } from '../../errors.js'
import { ensureDir } from '../../fs/durable.js'
import { ioError, orIoError } from '../../fs/io-error.js'
import type { ShoeboxRecord } from '../../record.js'
import { formatEventId, parseEventId } from '../event-id.js'
import { decodePutRecord, encodePutRecords, isPutRecord } from './put-records.js'
import { Memtable, type MemtableSlice } from './memtable.js'
import { PutRows, rowsOf, type PutBatch } from './put-rows.js'
import { inBlocks, mergeLimited } from './merge.js'
import { bucketKey, mergeRuns, pickCompaction, runsByBucket } from './compaction.js'
import { inParallel } from './in-parallel.js'
import { lockDir } from './dir-lock.js'
import type { EventBackend, ReadOptions } from './event-backend.js'
import type { RunPublisher } from './run-publisher.js'
import { eventOf, localReader, readRun, runMayHold, type BlockReader, type RunInfo } from './run-file.js'
import { memtableSource, readLines, runSource } from './read-lines.js'
import { syncRunsDir, writeBucketRuns } from './run-writer.js'
import { applyToIndex, deleteFromRun, holdsAny } from './run-delete.js'
import { INDEX_FILE, loadIndex, runFileName, RunsByStream, saveIndex, type RunIndex } from './run-index.js'
import { compareKeys, lowestTime, type EventRange, type StoredEvent } from './stored-event.js'
import { fileName as logFileName, WriteAheadLog, type LogPosition, type ReplayReport } from './write-ahead-log.js'
import { timerMs } from '../../units.js'
import { RETENTION_CLOCK_FILE, RetentionClock } from './retention-clock.js'
import { kronosTimeToIso } from '../kronos-time.js'
import { doneWritingTemp } from '../../roll/names.js'
import { deadWriterDirs, makeWriterDir } from '../../roll/writer-dir.js'

/** How often a retention held by the clock is said again while it stays held (ms). */
const HELD_TOLD_EVERY_MS = 3_600_000

/** 100 ns ticks per millisecond. */
const TICKS_PER_MS = 10_000n

/**
 * How full (in memtable sizes) the new table may grow while a flush runs
 * before puts wait for the flush: the frozen table and up to 1.5 times its
 * size in the new one, 2.5 tables' worth at most. 2 measured the same ingest
 * but `shoebox serve`'s peak RSS under the 1M benchmark reached 256 MB, over
 * the 250 MB it is held to (bench/RESULTS.md, "Ingest wall time, third pass").
 */
const MEMTABLE_SLACK = 1.5

/**
 * The most events held in memory while flushes fail, in memtable sizes: the
 * frozen tables not yet written as runs and the new one. The peak a flush in
 * progress allows (1 + MEMTABLE_SLACK), so failing flushes cost no more
 * memory than a slow one, whose bound the benchmarks hold to. Without it, a
 * flush that failed (a full disk) left its table in memory and the next table
 * froze beside it: memory grew by a table per memtableSize of puts until a
 * flush succeeded (33 tables after 80 puts in the test).
 */
const MAX_HELD = 1 + MEMTABLE_SLACK

/**
 * After a flush fails, the next attempt waits this long (ms): puts past
 * MAX_HELD wait for it (one attempt for all of them) and the flush timer
 * skips its ticks meanwhile. Each put tried once: a client ignoring
 * Retry-After made one attempt per request, each writing on a full disk
 * until ENOSPC and removing its files. 1 s is the Retry-After the server
 * sends with its 503, so a put waits no longer than its retry would have,
 * and the first put after room is made is taken (within 1 s).
 */
const FLUSH_RETRY_PAUSE_MS = 1000

/**
 * Run files a flush or a compaction writes at once. With one at a time a
 * flush of 10,000 one-event streams waited on its fsyncs one after the
 * other. 8 against 3, interleaved, with puts timed meanwhile: the flush
 * took a median 4.6 s against 6.9 s, and a put during it 1.5 ms against
 * 0.9 ms (the log's writes queue behind the writers' calls in libuv's
 * 4-thread pool; bench/RESULTS.md, "serve: many streams"). The flush is
 * what must keep up with its interval. Each writer holds at most ~1 MiB of
 * blocks (run-writer.ts), so 8 hold ~8 MiB.
 */
const RUN_WRITERS = 8

/** Replaced run files removed at once (#doom): two of the thread pool's four threads stay free for the log's writes. */
const FILE_REMOVERS = 2

/**
 * A store opened only to read: its scratch directory under TMPDIR,
 * `shoebox-read-only-<host>~<writer>~XXXXXX` (roll/writer-dir.ts), so that
 * the next such open removes the one a killed server left, never a live one's.
 */
const SCRATCH = 'shoebox-read-only-'

export interface EventStoreOptions {
  /** The data directory (created if missing). */
  dir: string
  /** Memtable size that triggers a flush to run files, in bytes. Default 16 MiB. */
  memtableSize?: number
  /** Width of a time bucket in ms (one run per stream and bucket per flush). Default one day. */
  bucketMs?: number
  /** Drop whole buckets whose events are all older than this many ms (checked at open, after flushes and hourly). */
  retentionMs?: number
  /**
   * Retention drops by the wall clock even if it is more than the retention ahead of the last retention pass
   * (retention-clock.ts): the operator says the clock is right. Only the first pass is told so; later ones are
   * judged from it. Default false: such a pass drops nothing and is told to onError.
   */
  trustClock?: boolean
  /** fsync the log and the files (default true; false only for tests and benchmarks that say so). */
  fsync?: boolean
  /** Compress run files (one gzip member per block). Default false. */
  gzip?: boolean
  /**
   * Flush the memtable at least this often, in ms (a collector's events reach the shared store), and try a failed
   * flush again as often (at most once a second). Default: only by size, and a failed flush is tried again every
   * second until one succeeds.
   */
  flushIntervalMs?: number
  /** Upload runs and the index after every change of runs (a collector on a shared store). */
  publisher?: RunPublisher
  /** Told of each failure the store carries on past (a flush, a publish, retention, a put's log append); also kept in lastError. */
  onError?: (err: Error) => void
  /**
   * Open the directory only to read it as it is, for a store on a read-only
   * mount (a snapshot, an NFS export, a `:ro` volume): no lock taken (nothing
   * can write there), nothing cleaned up or expired, the log's events
   * replayed and never written there; puts and deletes are refused. What
   * the log holds past a memtable's worth is written as sorted runs in a
   * scratch directory (`scratchDir`), read as the data directory's runs are
   * and removed at close(): held in memory, a log of 1M events took 184 MB.
   */
  readOnly?: boolean
  /**
   * Where a store opened only to read writes its scratch runs (a directory
   * `shoebox-read-only-<host>~<pid>-<start>~XXXXXX` made in it, only once the
   * log's events fill a memtable; one a killed process left is removed at the
   * next such open). Default os.tmpdir() (TMPDIR).
   */
  scratchDir?: string
}

export interface EventStoreStats {
  /** Run files opened by reads since the store opened. */
  runFilesOpened: number
  runs: number
  memtableBytes: number
  /** Bytes of the frozen memtables not yet written as runs (one while a flush runs; more while flushes fail). */
  frozenBytes: number
  flushes: number
  /** Flushes that failed (a full disk): at most one a second while they fail (FLUSH_RETRY_PAUSE_MS). */
  failedFlushes: number
  /** Merges of runs (compaction.ts). */
  compactions: number
  /** Writes of index.json since the store opened: one per flush, one for a flush's compactions, one per delete or expiry that changed runs. */
  indexWrites: number
  replay: ReplayReport
}

export type { ReadOptions }

export class EventStore implements EventBackend {
  readonly dir: string
  readonly #runsDir: string
  readonly #memtableSize: number
  readonly #bucket: bigint
  readonly #retention: bigint | undefined
  readonly #retentionMs: number | undefined
  readonly #trustClock: boolean
  /** Judges the wall clock before retention drops by it (undefined without retention). */
  #clock: RetentionClock | undefined
  /** When a held retention pass was last said (performance.now()): said again hourly while passes stay held. */
  #heldToldAt: number | undefined
  readonly #fsync: boolean
  readonly #gzip: boolean
  readonly #publisher: RunPublisher | undefined
  readonly #flushIntervalMs: number | undefined
  readonly #onError: ((err: Error) => void) | undefined
  /** Opened only to read (options.readOnly): a read-only mount. */
  readonly readOnly: boolean
  /** The flush timer (#flushTick) and its period: see #setFlushTimer. */
  #flushTimer: { timer: NodeJS.Timeout, ms: number } | undefined
  #wal!: WriteAheadLog
  #index!: RunIndex
  #memtable = new Memtable()
  #frozen: Memtable[] = []
  /** The first log file after the latest rotation: what the index may say once the frozen tables are runs. */
  #frozenUpTo = 0
  #streams = new Map<string, Set<string>>()
  #exclusive: Promise<void> = Promise.resolve()
  #readers = new Map<string, number>()
  #doomed = new Set<string>()
  /** The background flush in progress, if any; resolves to its failure, or undefined once the tables are runs. */
  #flushing: Promise<Error | undefined> | undefined
  /**
   * Why the last flush failed, while none has succeeded since (then puts are
   * held to MAX_HELD, #roomToHold), and when (performance.now()): the next attempt
   * waits FLUSH_RETRY_PAUSE_MS from then. Monotonic: on Date.now(), a wall clock
   * stepped back (NTP, a resumed VM) after a failure held every attempt, and the
   * tables, for as long as the step.
   */
  #flushFailure: Error | undefined
  #flushFailedAt = 0
  /** The attempt puts past MAX_HELD wait for while the pause after a failed flush runs (#flushAgain). */
  #flushRetry: Promise<Error | undefined> | undefined
  #closing = false
  #timer: NodeJS.Timeout | undefined
  #unlock: (() => Promise<void>) | undefined
  #stats: EventStoreStats = { runFilesOpened: 0, runs: 0, memtableBytes: 0, frozenBytes: 0, flushes: 0, failedFlushes: 0, compactions: 0, indexWrites: 0, replay: { files: [], records: 0, bytesDropped: 0, damaged: 0, damage: [] } }
  /** The last publish to the shared store failed: the flush timer tries again, even with no new events. */
  #publishFailed = false
  /** The publish running in the background, if any, and whether the runs changed since it began. */
  #publishing: Promise<void> | undefined
  #publishAgain = false
  /** The index's runs by namespace and stream, made once per index (run-index.ts). */
  #byStream: { index: RunIndex, runs: RunsByStream<RunInfo> } | undefined
  /** The last background flush failure (the log still holds those events). */
  lastError: Error | undefined
  /** Opened only to read: where scratch runs go (options.scratchDir), the directory made there once one is written, and their files. */
  readonly #scratchParent: string
  #scratch: string | undefined
  readonly #scratchRuns = new Set<string>()
  /** Writing scratch runs failed: the rest of the log stays in memory, as it did before scratch runs. */
  #scratchFailed = false

  private constructor (options: EventStoreOptions) {
    this.dir = options.dir
    this.#runsDir = path.join(options.dir, 'runs')
    this.#memtableSize = options.memtableSize ?? 16 * 1024 * 1024
    this.#bucket = BigInt(Math.max(1, Math.floor(options.bucketMs ?? 86_400_000))) * TICKS_PER_MS
    this.#retentionMs = options.retentionMs === undefined ? undefined : Math.floor(options.retentionMs)
    this.#retention = this.#retentionMs === undefined ? undefined : BigInt(this.#retentionMs) * TICKS_PER_MS
    this.#trustClock = options.trustClock ?? false
    this.#fsync = options.fsync ?? true
    this.#gzip = options.gzip ?? false
    this.#publisher = options.publisher
    this.#flushIntervalMs = options.flushIntervalMs
    this.#onError = options.onError
    this.readOnly = options.readOnly === true
    this.#scratchParent = options.scratchDir ?? os.tmpdir()
  }

  get #runOptions (): { gzip: boolean, fsync: boolean } {
    return { gzip: this.#gzip, fsync: this.#fsync }
  }

  static async open (options: EventStoreOptions): Promise<EventStore> {
    const store = new EventStore({ ...options })
    await store.#open()
    return store
  }

  async #open (): Promise<void> {
    if (this.readOnly) {
      await this.#openToRead()
      return
    }
    await ensureDir(this.#runsDir)
    this.#unlock = await lockDir(this.dir)
    this.#index = await loadIndex(this.dir)
    for (const [ns, names] of Object.entries(this.#index.streams)) for (const name of names) this.#known(ns, name)
    // Run files not in the index were written by a flush, merge or delete that crashed before its index
    // swap (run files are written under their final names: run-writer.ts), or are older versions' temporary files,
    // or a collector's pack files a crash left (run-pack.ts: the next publish makes them again).
    // The scale-out uploader's markers stay: the publisher's first publish drops those of gone files, and an
    // `.uploading` one names a multipart upload that only it can abort (run-publisher.ts, #abortLeftUploads()).
    const listed = new Set(this.#index.runs.map((r) => r.file))
    for (const name of await fs.readdir(this.#runsDir)) {
      if (!listed.has(name) && !isUploaderMarker(name)) await fs.unlink(path.join(this.#runsDir, name)).catch(() => {})
    }
    // An index (or retention clock) write that crashed before its rename leaves its temporary file.
    for (const name of await fs.readdir(this.dir)) {
      if ((name.startsWith(`.${INDEX_FILE}.`) || name.startsWith(`.${RETENTION_CLOCK_FILE}.`)) && name.endsWith('.tmp')) await fs.unlink(path.join(this.dir, name)).catch(() => {})
    }
    const from = { seq: this.#index.walSeq, end: this.#index.walOffset ?? 0 }
    const { log, report } = await WriteAheadLog.open(path.join(this.dir, 'wal'), from, this.#fsync, async (record, at) => {
      await this.#replay(record)
      // After a flush that failed, the rest of the replay goes to memory (#flushReplayed).
      if (this.#memtableFull() && this.#flushFailure === undefined) await this.#flushReplayed(at)
    })
    this.#wal = log
    this.#replayed(report)
    if (this.#retentionMs === undefined) await RetentionClock.forget(this.dir)
    else this.#clock = await RetentionClock.load(this.dir, this.#retentionMs, { fsync: this.#fsync, trustClock: this.#trustClock, newestEventMs: this.#newestRunEventMs() })
    await this.dropExpired()
    this.#requestPublish()
    await this.#published()
    this.#setFlushTimer()
    if (this.#retention !== undefined) {
      this.#timer = setInterval(() => { this.dropExpired().catch((err: Error) => { this.#failed(err) }) }, 3_600_000)
      this.#timer.unref()
    }
  }

  /**
   * The store as it is on a read-only mount: its index, and its log replayed
   * (the events acknowledged and not yet in runs are answered too), a
   * memtable's worth in memory and the rest as scratch runs (#spillReplayed).
   * A delete in the log is applied to those; the data directory's runs
   * it covers were rewritten when it was made, unless the process stopped
   * in between: then they would need rewriting here, and serving them as
   * they are would answer the deleted events, so the open is refused,
   * naming the log file.
   */
  async #openToRead (): Promise<void> {
    // A server killed outright (SIGKILL, the OOM killer) left its scratch runs: nothing else would remove them.
    for (const dead of await deadWriterDirs(this.#scratchParent, SCRATCH)) await fs.rm(dead, { recursive: true, force: true }).catch(() => {})
    this.#index = await loadIndex(this.dir)
    await this.#checkRunsReadable()
    for (const [ns, names] of Object.entries(this.#index.streams)) for (const name of names) this.#known(ns, name)
    const wal = path.join(this.dir, 'wal')
    const from = { seq: this.#index.walSeq, end: this.#index.walOffset ?? 0 }
    // A refused open leaves no scratch directory behind.
    this.#replayed(await WriteAheadLog.replay(wal, from, async (record, at) => {
      const m = record.metadata
      if (m.op === 'delete') {
        const range = rangeOf(m)
        this.#memtable.remove(m.ns, m.s, new Set(this.#memtable.select(m.ns, m.s, range)))
        let applied = true
        for (const run of this.#streamRuns(m.ns, m.s)) {
          if (!runMayHold(run, m.ns, m.s, range)) continue
          // A scratch run holds events replayed before the delete: they go, as the memtable's do.
          if (this.#scratchRuns.has(run.file)) await this.#deleteFromScratchRun(run, range)
          else if (await holdsAny(run, range, localReader(this.#runsDir, run))) applied = false
        }
        if (applied) return
        throw new ShoeboxError('SHOEBOX_IO', `event log ${path.join(wal, logFileName(at.seq))}: a delete of stream ${m.s} (namespace ${m.ns}) not yet applied to the run files, ` +
          `and ${this.dir} is on a read-only mount (read-only file system, EROFS), where it cannot be: served as they are, the runs would still answer the deleted events. ` +
          'Start a server once where the directory can be written (it applies the delete), then serve it read-only')
      }
      await this.#replay(record)
      if (this.#memtableFull() && !this.#scratchFailed) await this.#spillReplayed()
    }).catch(async (err: unknown) => {
      await this.#removeScratch()
      throw err
    }))
  }

  /**
   * A store opened only to read: its memtable of replayed events, once full,
   * written as runs in the scratch directory (made now, the first time),
   * which reads then use as they use the data directory's runs. Without it,
   * every event of the log stayed in memory (with the replay's chunks their
   * texts point into): 184 MB for a log of 1M events, 146 MB (bench/RESULTS.md,
   * "A read-only mount's log"). When the scratch directory cannot be written
   * (a read-only TMPDIR, a full disk), the rest of the log is held in memory,
   * as before, and that is said.
   */
  async #spillReplayed (): Promise<void> {
    const table = this.#memtable
    this.#memtable = new Memtable()
    const index: RunIndex = { ...this.#index, runs: [...this.#index.runs] }
    const firstSeq = index.runSeq
    let dir = this.#scratch
    try {
      if (dir === undefined) {
        dir = await orIoError(makeWriterDir(this.#scratchParent, SCRATCH), 'cannot make a scratch directory in', this.#scratchParent)
        this.#scratch = dir
      }
      const scratch = dir
      // Nothing durable: the scratch runs are made again from the log at the next start.
      const written = await inParallel(table.streams(), RUN_WRITERS, async ({ ns, stream, batches }) =>
        await writeBucketRuns(scratch, () => runFileName(index.runSeq++, false), ns, stream, this.#bucket, batches, { gzip: false, fsync: false }))
      for (const runs of written) for (const run of runs) index.runs.push(run)
    } catch (err) {
      if (dir !== undefined) for (let seq = firstSeq; seq < index.runSeq; seq++) await fs.unlink(path.join(dir, runFileName(seq, false))).catch(() => {})
      this.#memtable = table
      this.#scratchFailed = true
      this.#failed(new ShoeboxError(err instanceof ShoeboxError ? err.code : 'SHOEBOX_IO',
        `${(err as Error).message}; event store ${this.dir} is opened only to read: the rest of its write-ahead log is held in memory`, { cause: err }))
      return
    }
    for (const run of index.runs.slice(this.#index.runs.length)) this.#scratchRuns.add(run.file)
    this.#index = index
  }

  /** The scratch directory, if one was made, removed (at close, or when the open is refused). */
  async #removeScratch (): Promise<void> {
    if (this.#scratch === undefined) return
    await fs.rm(this.#scratch, { recursive: true, force: true })
    doneWritingTemp(this.#scratch)
  }

  /** A delete replayed in a store opened only to read, applied to one of its scratch runs. */
  async #deleteFromScratchRun (run: RunInfo, range: EventRange): Promise<void> {
    const dir = this.#scratch as string
    const file = runFileName(this.#index.runSeq, false)
    const after = await deleteFromRun(dir, run, range, file, { gzip: false, fsync: false })
    if (after.kind === 'untouched') return
    const index: RunIndex = { ...this.#index, runs: [...this.#index.runs] }
    applyToIndex(index, run, after)
    if (after.kind === 'rewritten') this.#scratchRuns.add(after.run.file)
    this.#index = index
    this.#scratchRuns.delete(run.file)
    await fs.unlink(path.join(dir, run.file)).catch(() => {})
  }

  /** The directory a run's file is in: the data directory's runs/, or the scratch directory of a store opened only to read. */
  #dirOf (run: RunInfo): string {
    return this.#scratch !== undefined && this.#scratchRuns.has(run.file) ? this.#scratch : this.#runsDir
  }

  /**
   * Refuse the open, naming it, when a run file the index names cannot be
   * read (permission bits, EACCES; a runs/ directory that cannot be searched):
   * served, every get of its stream answered a 500 naming the file to the
   * client, and the operator saw nothing. A reader serves every stream or
   * says at start which file it cannot read, as `shoebox read` and pack do
   * (one access() per run, 16 at a time).
   */
  async #checkRunsReadable (): Promise<void> {
    await inParallel(this.#index.runs, 16, async (run) => {
      const file = path.join(this.#runsDir, run.file)
      await fs.access(file, fsConstants.R_OK).catch((err: unknown) => {
        throw ioError(err, 'cannot read run file', `${file} (stream ${run.stream}, namespace ${run.ns})`)
      })
    })
  }

  /** The replay's report kept; damage inside the log (a torn tail is only an unanswered put, cut quietly): acknowledged puts are lost, said. */
  #replayed (report: ReplayReport): void {
    this.#stats.replay = report
    for (const d of report.damage) {
      this.#failed(new ShoeboxError('SHOEBOX_BAD_RECORD', `write-ahead log ${d.file}: damaged at byte ${d.offset}, ${d.bytes} bytes skipped: the events logged there are lost; ${d.records} records before and after it replayed`))
    }
  }

  /** Refuse a change to a store opened only to read. */
  #checkWritable (change: string): void {
    if (this.readOnly) throw new ShoeboxError('SHOEBOX_USAGE', `event store ${this.dir} is opened only to read (a read-only mount): it takes no ${change}`)
  }

  async #replay (record: ShoeboxRecord): Promise<void> {
    const m = record.metadata
    if (m.op === 'delete') {
      const range = rangeOf(m)
      const victims = new Set(this.#memtable.select(m.ns, m.s, range))
      this.#memtable.remove(m.ns, m.s, victims)
      // Runs are older than any log record replayed: applying the delete again is exact. A run
      // it cannot read (damaged) keeps its events, and is said: failing here failed every start.
      const rewritten = await this.#rewriteRuns(m.ns, m.s, range, (run, err) => {
        this.#failed(new ShoeboxError('SHOEBOX_BAD_RECORD',
          `replaying the delete of stream ${m.s} (namespace ${m.ns}) from ${range.from} to ${range.to}: ${err.message}; that run keeps its events in the range, the store opens without it`, { cause: err }))
      })
      if (rewritten.changed) {
        await this.#saveIndex(rewritten.index)
        this.#index = rewritten.index
        for (const file of rewritten.removed) await fs.unlink(path.join(this.#runsDir, file)).catch(() => {})
      }
      return
    }
    // A put record (put-records.ts) holds a put's events of one stream; an older log, one event a record.
    const events = isPutRecord(m) ? decodePutRecord(m, record.payload) : [eventOf({ t: m.t, id: m.id }, record.payload)]
    this.#memtable.add(m.ns, m.s, PutRows.fromEvents(events))
    this.#known(m.ns, m.s)
  }

  /**
   * During replay, a memtable full of replayed events is written as runs at
   * once, with an index saying the log up to `at` is in them: the logs to
   * replay can hold far more than a memtable (flushes that failed, one after
   * each rotation, or a log that grew while rotations failed), and were all
   * replayed into one memtable before the first flush. Safe mid-file too:
   * a delete replayed later is applied to runs holding only events before
   * it, as replay always did, and a restart replays from `at` on.
   */
  async #flushReplayed (at: LogPosition): Promise<void> {
    const table = this.#memtable
    this.#frozen.push(table)
    this.#memtable = new Memtable()
    let added: RunInfo[]
    try {
      added = await this.#writeFrozen(at)
    } catch (err) {
      // A full disk must not stop every start: the rest is replayed into memory, as before, and said.
      // That is bounded: the log past the index holds only what the writing process held in memory (its
      // memtable and frozen tables), and puts hold that to MAX_HELD tables and a put or two while flushes
      // fail (test/events/store-replay.test.ts restarts a store four times so). A log from before that
      // bound (a4a4083) can hold more, but no more than the process that wrote it held.
      this.#frozen = this.#frozen.filter((t) => t !== table)
      this.#memtable = table
      // And puts past MAX_HELD are refused until a flush succeeds: the replay may already hold more.
      this.#flushFailedNow(err as Error)
      this.#failed(new ShoeboxError(err instanceof ShoeboxError ? err.code : 'SHOEBOX_IO',
        `${(err as Error).message}; the replay of the write-ahead log goes on in memory (its events stay in the log, flushed with the next)`, { cause: err }))
      return
    }
    await this.#compact(added).catch((err: Error) => { this.#failed(err) })
  }

  /** Store events (already stamped); resolves once they are durable. */
  async put (ns: string, batches: readonly PutBatch[]): Promise<void> {
    this.#checkWritable('puts')
    const groups = batches.map((b) => ({ stream: b.stream, rows: rowsOf(b) }))
    const records = encodePutRecords(ns, groups)
    if (records.length === 0) return
    // Backpressure: while a flush writes the frozen table out (and compacts), puts go on
    // into the new table up to MEMTABLE_SLACK tables' worth, then wait for the flush: at
    // most 1 + MEMTABLE_SLACK tables are held. Waiting already at one full table stalled
    // 3-9% of puts for a whole flush (0.2-1.1 s) and the server sat idle meanwhile.
    while (this.#flushing !== undefined && this.#memtable.bytes >= this.#memtableSize * MEMTABLE_SLACK) await this.#flushing
    await this.#roomToHold()
    try {
      await this.#wal.append(records, () => {
        for (const { stream, rows } of groups) {
          this.#memtable.add(ns, stream, rows)
          if (rows.count > 0) this.#known(ns, stream)
        }
      })
    } catch (err) {
      // The put is refused (its caller answers 503); whoever runs the store is told too, or a full disk
      // refuses every put while nothing but the clients knows.
      this.#failed(err as Error)
      throw err
    }
    if (this.#memtableFull() && this.#flushDue()) this.#scheduleFlush()
  }

  /**
   * Memory is bounded whatever the disk does: while flushes fail and
   * MAX_HELD memtables' worth are held, a put waits for a flush (the one
   * running, or the next attempt: #flushAgain) and is refused when it fails
   * too, before its log append, so nothing of it is stored.
   * SHOEBOX_THROTTLED, as a server's 503 is to a client: the same put is
   * taken once a flush succeeds (room on the disk), without a restart.
   * (While flushes succeed, the wait in put() holds the same bound.)
   */
  async #roomToHold (): Promise<void> {
    while (this.#flushFailure !== undefined && this.#overfull()) {
      const failure = await this.#flushAgain()
      if (failure !== undefined && this.#flushFailure !== undefined && this.#overfull()) {
        throw new ShoeboxError('SHOEBOX_THROTTLED',
          `event store ${this.dir} cannot write its memtables as runs (${failure.message}), and holds ${this.#heldBytes()} bytes of events in memory, ` +
          `the most it holds (${MAX_HELD} memtables of ${this.#memtableSize} bytes); this put is refused, nothing of it stored: ` +
          `the acknowledged events are kept (in the write-ahead log ${path.join(this.dir, 'wal')} and in memory), and puts are taken again once a flush succeeds`,
          { cause: failure })
      }
    }
  }

  /**
   * The flush attempt a put past MAX_HELD waits for: the one running, else
   * one started now, or, while the pause after the last failure runs, one
   * started when it ends, shared by every put arriving meanwhile. Resolves
   * to its failure, or undefined once the tables are runs.
   */
  async #flushAgain (): Promise<Error | undefined> {
    if (this.#flushing !== undefined) return await this.#flushing
    // A flush succeeded meanwhile (a flush tick's): nothing to try again.
    if (this.#flushFailure === undefined) return undefined
    const pause = this.#flushFailedAt + FLUSH_RETRY_PAUSE_MS - performance.now()
    if (pause <= 0) {
      this.#scheduleFlush()
      return await this.#flushing
    }
    const failedAt = this.#flushFailedAt
    this.#flushRetry ??= sleepFor(pause).then(async () => {
      this.#flushRetry = undefined
      // An attempt made meanwhile (a flush tick) that failed is the one waited for, not a reason to wait again.
      if (this.#flushing === undefined && this.#flushFailure !== undefined && this.#flushFailedAt !== failedAt) return this.#flushFailure
      return await this.#flushAgain()
    })
    return await this.#flushRetry
  }

  /** A flush may start: none failed since the last success, or the pause after the failure is over. */
  #flushDue (): boolean {
    return this.#flushFailure === undefined || performance.now() >= this.#flushFailedAt + FLUSH_RETRY_PAUSE_MS
  }

  #flushFailedNow (err: Error): void {
    this.#flushFailure = err
    this.#flushFailedAt = performance.now()
    this.#stats.failedFlushes++
    this.#setFlushTimer()
  }

  /**
   * The flush timer ticks (#flushTick) every flushIntervalMs when it is set (a
   * collector: its events reach the shared store in time), and otherwise
   * every FLUSH_RETRY_PAUSE_MS while flushes fail, so that the tables held
   * are written once the disk has room: without it a local store (`shoebox
   * serve --data`) tried again only at its next put, however long that took.
   * None once closing. Called when the period may have changed: at open, and
   * when a flush fails or succeeds.
   */
  #setFlushTimer (): void {
    const byInterval = this.#flushIntervalMs !== undefined && this.#flushIntervalMs > 0 ? this.#flushIntervalMs : undefined
    const ms = this.#closing ? undefined : byInterval ?? (this.#flushFailure !== undefined ? FLUSH_RETRY_PAUSE_MS : undefined)
    if (this.#flushTimer?.ms === ms) return
    if (this.#flushTimer !== undefined) clearInterval(this.#flushTimer.timer)
    this.#flushTimer = undefined
    if (ms === undefined) return
    const timer = setInterval(() => { this.#flushTick() }, timerMs(ms))
    timer.unref()
    this.#flushTimer = { timer, ms }
  }

  /** The events held reach MAX_HELD memtables' worth (and are some: with memtableSize 0, an empty store is not full). */
  #overfull (): boolean {
    const held = this.#heldBytes()
    return held > 0 && held >= this.#memtableSize * MAX_HELD
  }

  /** Bytes of events in memory only: the memtable and the frozen tables not yet runs. */
  #heldBytes (): number {
    return this.#memtable.bytes + this.#frozenBytes()
  }

  /** Time to flush: the table holds events (with memtableSize 0 an empty one was "full": a flush loop for ever) and reached its size. */
  #memtableFull (): boolean {
    return !this.#memtable.empty && this.#memtable.bytes >= this.#memtableSize
  }

  /**
   * The stream's events in the range, in (time, id) order (or its reverse),
   * at most `limit`, in batches. The snapshot is taken now, synchronously.
   */
  readBatches (ns: string, stream: string, range: EventRange, options: ReadOptions = {}): AsyncGenerator<StoredEvent[]> {
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER
    const descending = options.descending === true
    if (limit <= 0 || lowestTime(range) > range.to) return empty()
    const { runs, slices } = this.#snapshot(ns, stream, range)
    return this.#readSnapshot(runs, slices, range, descending, limit)
  }

  /**
   * The texts of readBatches()'s events, in batches, as a get sends them:
   * runs and memtable slices that overlap no other source are read without
   * a merge or an event object per event (read-lines.ts). The snapshot is
   * taken now, synchronously.
   */
  readLines (ns: string, stream: string, range: EventRange, options: ReadOptions = {}): AsyncGenerator<Buffer[]> {
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER
    const descending = options.descending === true
    if (limit <= 0 || lowestTime(range) > range.to) return empty()
    const { runs, slices } = this.#snapshot(ns, stream, range)
    return this.#readLinesSnapshot(runs, slices, range, descending, limit)
  }

  async * #readLinesSnapshot (runs: RunInfo[], slices: MemtableSlice[], range: EventRange, descending: boolean, limit: number): AsyncGenerator<Buffer[]> {
    try {
      const sources = [
        ...runs.map((run) => runSource(run, range, descending, this.#countedOpen(run))),
        ...slices.map((slice) => memtableSource(slice, descending))
      ]
      yield * readLines(sources, descending, limit)
    } finally {
      for (const r of runs) this.#release(r.file)
    }
  }

  #countedOpen (run: RunInfo): () => Promise<BlockReader> {
    const open = localReader(this.#dirOf(run), run)
    return async () => {
      this.#stats.runFilesOpened++
      return await open()
    }
  }

  /**
   * What a read of the range sees, taken now: the runs that can hold its
   * events (kept from deletion until #release) and the memtables' slices
   * (their slots in range, 4 bytes an event: events are made as the read
   * goes, so a get that is never read holds no event objects).
   */
  #snapshot (ns: string, stream: string, range: EventRange): { runs: RunInfo[], slices: MemtableSlice[] } {
    const runs = this.#streamRuns(ns, stream).filter((r) => runMayHold(r, ns, stream, range))
    const slices: MemtableSlice[] = []
    for (const table of [this.#memtable, ...this.#frozen]) {
      const slice = table.slice(ns, stream, range)
      if (slice !== undefined) slices.push(slice)
    }
    for (const r of runs) this.#readers.set(r.file, (this.#readers.get(r.file) ?? 0) + 1)
    return { runs, slices }
  }

  /** readBatches(), one event at a time (the snapshot is taken now too). */
  read (ns: string, stream: string, range: EventRange, options: ReadOptions = {}): AsyncGenerator<StoredEvent> {
    return flatten(this.readBatches(ns, stream, range, options))
  }

  async * #readSnapshot (runs: RunInfo[], slices: MemtableSlice[], range: EventRange, descending: boolean, limit: number): AsyncGenerator<StoredEvent[]> {
    try {
      const sources: Array<AsyncIterator<StoredEvent[]>> = [
        ...runs.map((run) => this.#countedRun(run, range, descending)),
        ...slices.map((slice) => slice.blocks(descending))
      ]
      yield * mergeLimited(sources, compareKeys, descending, limit)
    } finally {
      for (const r of runs) this.#release(r.file)
    }
  }

  async * #countedRun (run: RunInfo, range: EventRange, descending: boolean): AsyncGenerator<StoredEvent[]> {
    this.#stats.runFilesOpened++
    yield * readRun(this.#dirOf(run), run, range, descending)
  }

  /** Remove the stream's events in the range; resolves to how many were removed, once that is durable. */
  async delete (ns: string, stream: string, range: EventRange): Promise<number> {
    this.#checkWritable('deletes')
    if (lowestTime(range) > range.to) return 0
    return await this.#serially(async () => {
      let victims: Array<[Memtable, Set<StoredEvent>]> = []
      const record = encodeRecords([{ metadata: deleteMetadata(ns, stream, range), payload: '' }])
      // The memtable events it removes are exactly those before it in the log (replay does the same).
      await this.#wal.append(record, () => {
        victims = [this.#memtable, ...this.#frozen].map((table) => [table, new Set(table.select(ns, stream, range))])
      })
      const count = await this.#countDistinct(ns, stream, range, victims.map(([, events]) => [...events]))
      const rewritten = await this.#rewriteRuns(ns, stream, range)
      if (rewritten.changed) await this.#saveIndex(rewritten.index)
      // One synchronous step: readers see none of the delete, or all of it.
      this.#index = rewritten.index
      for (const [table, events] of victims) table.remove(ns, stream, events)
      const removing = this.#doom(rewritten.removed)
      if (rewritten.changed) this.#requestPublish()
      await removing
      return count
    })
  }

  /**
   * How many events a get of the range returns now (Kronos's num_deleted, spec §5.4): copies
   * of one (time, @id) key count once, as a get returns them once, though data written before
   * the store kept one event per key can hold them in several runs, twice in one run, or in a
   * run and the memtable. A lazy merge, not a set of keys: memory stays one block per run.
   */
  async #countDistinct (ns: string, stream: string, range: EventRange, memtableLists: StoredEvent[][]): Promise<number> {
    const runs = this.#streamRuns(ns, stream).filter((r) => runMayHold(r, ns, stream, range))
    const sources: Array<AsyncIterator<StoredEvent[]>> = [
      ...runs.map((run) => readRun(this.#runsDir, run, range, false)),
      ...memtableLists.filter((l) => l.length > 0).map((list) => inBlocks(list.sort(compareKeys)))
    ]
    let count = 0
    for await (const batch of mergeLimited(sources, compareKeys, false, Number.MAX_SAFE_INTEGER)) count += batch.length
    return count
  }

  /**
   * The stream's runs without the range's events (an index copy and durable run files; nothing visible changes yet).
   * With `onDamaged`, a run that cannot be read (SHOEBOX_BAD_RECORD) is told to it and left as it is; else it fails the rewrite.
   */
  async #rewriteRuns (ns: string, stream: string, range: EventRange, onDamaged?: (run: RunInfo, err: ShoeboxError) => void): Promise<{ index: RunIndex, removed: string[], changed: boolean }> {
    const index: RunIndex = { ...this.#index, runs: [...this.#index.runs] }
    const removed: string[] = []
    const firstSeq = index.runSeq
    try {
      for (const run of this.#streamRuns(ns, stream)) {
        if (!runMayHold(run, ns, stream, range)) continue
        // The number is taken only for a file kept (deleteFromRun removes a file it does not return; #removeRunFiles, those taken).
        const file = runFileName(index.runSeq, this.#gzip)
        let after
        try {
          after = await deleteFromRun(this.#runsDir, run, range, file, this.#runOptions)
        } catch (err) {
          if (onDamaged === undefined || !(err instanceof ShoeboxError) || err.code !== 'SHOEBOX_BAD_RECORD') throw err
          onDamaged(run, err)
          continue
        }
        if (after.kind === 'untouched') continue
        applyToIndex(index, run, after)
        removed.push(run.file)
      }
      if (index.runSeq > firstSeq) await syncRunsDir(this.#runsDir, this.#fsync)
    } catch (err) {
      await this.#removeRunFiles(firstSeq, index.runSeq)
      throw err
    }
    return { index, removed, changed: removed.length > 0 }
  }

  /** Stream names of the namespace that were ever put to, sorted. */
  streams (ns: string): string[] {
    return [...(this.#streams.get(ns) ?? [])].sort()
  }

  /**
   * Write the memtable out as runs and swap the index; the log files it
   * replaces are removed. A collector's flush resolves once the runs are
   * published too (or the publish failed: lastError).
   */
  async flush (): Promise<void> {
    // Opened only to read: the replayed events stay in memory, the log on disk keeps them.
    if (this.readOnly) return
    await this.#flushRuns()
    await this.#published()
  }

  /** flush() without waiting for the publish (a background flush: the puts waiting for it do not wait for the shared store). */
  async #flushRuns (): Promise<void> {
    await this.#serially(async () => {
      let added: RunInfo[] | undefined
      try {
        if (!this.#memtable.empty) {
          this.#frozenUpTo = await this.#wal.rotate(() => {
            this.#frozen.push(this.#memtable)
            this.#memtable = new Memtable()
          })
        }
        // A rotation starts a new file: every record of the ones before it is in the frozen tables.
        if (this.#frozen.length > 0) added = await this.#writeFrozen({ seq: this.#frozenUpTo, end: 0 })
      } catch (err) {
        // A rotation or a run write that failed leaves the tables held in memory.
        this.#flushFailedNow(err as Error)
        throw err
      }
      this.#flushFailure = undefined
      this.#setFlushTimer()
      if (added === undefined) return
      await this.#wal.removeBefore(this.#index.walSeq)
      await this.#compact(added)
      this.#requestPublish()
    })
    await this.dropExpired()
  }

  /**
   * Write the frozen tables as runs and swap in the index that names them
   * and says the log up to `upTo` is in runs; resolves to the runs added.
   */
  async #writeFrozen (upTo: LogPosition): Promise<RunInfo[]> {
    const frozen = [...this.#frozen]
    const index: RunIndex = { ...this.#index, walSeq: upTo.seq, runs: [...this.#index.runs] }
    if (upTo.end > 0) index.walOffset = upTo.end
    else delete index.walOffset
    // RUN_WRITERS streams written at once, each fsynced; one fsync of the directory for all, then the swap.
    const firstSeq = index.runSeq
    const nextFile = (): string => runFileName(index.runSeq++, this.#gzip)
    try {
      for (const table of frozen) {
        const written = await inParallel(table.streams(), RUN_WRITERS, async ({ ns, stream, batches }) =>
          await writeBucketRuns(this.#runsDir, nextFile, ns, stream, this.#bucket, batches, this.#runOptions))
        for (const runs of written) index.runs.push(...runs)
      }
      await syncRunsDir(this.#runsDir, this.#fsync)
    } catch (err) {
      await this.#removeRunFiles(firstSeq, index.runSeq)
      throw err
    }
    const added = index.runs.slice(this.#index.runs.length)
    index.streams = Object.fromEntries([...this.#streams].map(([ns, names]) => [ns, [...names]]))
    await this.#saveIndex(index)
    this.#index = index
    this.#frozen = this.#frozen.filter((t) => !frozen.includes(t))
    this.#stats.flushes++
    return added
  }

  /**
   * Merge the runs of the buckets the flush added to while a tier is full
   * (under #serially), all in one index swap: the buckets' runs found in one
   * pass over the index, the buckets merged RUN_WRITERS at a time (each
   * merge one block per run in memory), one directory fsync, one saveIndex.
   * Each merge was its own swap: once a tier filled, 10,000 streams rewrote
   * a 2.5 MB index.json 10,000 times.
   */
  async #compact (added: readonly RunInfo[]): Promise<void> {
    const groups = runsByBucket(this.#index.runs, new Set(added.map(bucketKey)))
    const index: RunIndex = { ...this.#index }
    const firstSeq = index.runSeq
    const replaced = new Set<string>()
    const merged: RunInfo[] = []
    try {
      await inParallel(groups.values(), RUN_WRITERS, async (runs) => {
        // A merged run may complete a higher tier and be merged again, before any index names it.
        for (let picked = pickCompaction(runs); picked !== undefined; picked = pickCompaction(runs)) {
          const run = await mergeRuns(this.#runsDir, runFileName(index.runSeq++, this.#gzip), picked, this.#runOptions)
          for (const r of picked) replaced.add(r.file)
          runs.splice(0, runs.length, ...runs.filter((r) => !replaced.has(r.file)), run)
          merged.push(run)
        }
      })
      if (merged.length === 0) return
      await syncRunsDir(this.#runsDir, this.#fsync)
    } catch (err) {
      await this.#removeRunFiles(firstSeq, index.runSeq)
      throw err
    }
    index.runs = [...this.#index.runs, ...merged].filter((r) => !replaced.has(r.file))
    await this.#saveIndex(index)
    this.#index = index
    this.#stats.compactions += merged.length
    await this.#doom([...replaced])
  }

  /** Write the index (the commit point of a change of runs); counted in stats().indexWrites. */
  async #saveIndex (index: RunIndex): Promise<void> {
    await saveIndex(this.dir, index, this.#fsync)
    this.#stats.indexWrites++
  }

  /** Remove the run files numbered from `first` to before `end`: written by a change that failed before its index swap, so no index names them. */
  async #removeRunFiles (first: number, end: number): Promise<void> {
    for (let seq = first; seq < end; seq++) await fs.unlink(path.join(this.#runsDir, runFileName(seq, this.#gzip))).catch(() => {})
  }

  /** The index's runs of one stream, in index order. */
  #streamRuns (ns: string, stream: string): readonly RunInfo[] {
    if (this.#byStream?.index !== this.#index) this.#byStream = { index: this.#index, runs: new RunsByStream(this.#index.runs, (run) => run) }
    return this.#byStream.runs.of(ns, stream)
  }

  /**
   * Drop whole buckets older than the retention (none without one); resolves to the runs dropped. Not while the
   * wall clock is implausibly far ahead (retention-clock.ts): then nothing is dropped, and that is told to onError.
   */
  async dropExpired (nowMs = Date.now()): Promise<number> {
    const retention = this.#retention
    const clock = this.#clock
    // A read-only mount's store never loads its clock, and drops nothing.
    if (retention === undefined || clock === undefined || this.readOnly) return 0
    return await this.#serially(async () => {
      const verdict = clock.judge(nowMs)
      if (!verdict.run) {
        await clock.held(verdict.expectedMs)
        this.#tellHeld(nowMs, verdict.expectedMs, verdict.since)
        return 0
      }
      await clock.ran(nowMs)
      this.#heldToldAt = undefined
      const cutoff = BigInt(nowMs) * TICKS_PER_MS - retention
      const expired = new Set(this.#index.runs.filter((r) => BigInt(r.bucket) + this.#bucket <= cutoff))
      if (expired.size === 0) return 0
      const index: RunIndex = { ...this.#index, runs: this.#index.runs.filter((r) => !expired.has(r)) }
      await this.#saveIndex(index)
      this.#index = index
      const removing = this.#doom([...expired].map((r) => r.file))
      this.#requestPublish()
      await removing
      return expired.size
    })
  }

  /** One line, once until a pass runs again: a retention pass held for a clock far ahead, and what it kept. */
  #tellHeld (nowMs: number, expectedMs: number, since: 'last pass' | 'newest event'): void {
    // Once, then hourly while it lasts: a log read days later shows it, and a full disk is not its first sign.
    const now = performance.now()
    if (this.#heldToldAt !== undefined && now - this.#heldToldAt < HELD_TOLD_EVERY_MS) return
    this.#heldToldAt = now
    const retentionMs = this.#retentionMs as number
    const newest = this.#newestRunEventMs()
    const would = this.#index.runs.filter((r) => BigInt(r.bucket) + this.#bucket <= BigInt(nowMs) * TICKS_PER_MS - (this.#retention as bigint)).length
    const iso = (ms: number): string => new Date(ms).toISOString()
    const against = since === 'last pass' ? `the last retention pass and the time run since (${iso(expectedMs)})` : `the newest event (${iso(expectedMs)})`
    this.#failed(new ShoeboxError('SHOEBOX_CLOCK_AHEAD',
      `${this.dir}: retention held: the clock says ${iso(nowMs)}, ${days(nowMs - expectedMs)} after ${against}, more than the retention (${days(retentionMs)}); ` +
      `newest event ${newest === undefined ? 'none in runs' : kronosTimeToIso(BigInt(newest) * TICKS_PER_MS)}; nothing dropped, ${would} of ${this.#index.runs.length} runs kept that the clock would expire; ` +
      'retention runs again once the clock is back within the retention, or start with --trust-clock (trustClock) if the clock is right'))
  }

  /** The time of the newest event in the runs (epoch ms), if any: what stands for the last retention pass in a store that kept none. */
  #newestRunEventMs (): number | undefined {
    let newest: bigint | undefined
    for (const run of this.#index.runs) {
      const t = BigInt(run.maxTime)
      if (newest === undefined || t > newest) newest = t
    }
    return newest === undefined ? undefined : Number(newest / TICKS_PER_MS)
  }

  stats (): EventStoreStats {
    return { ...this.#stats, runs: this.#index.runs.length, memtableBytes: this.#memtable.bytes, frozenBytes: this.#frozenBytes() }
  }

  /**
   * Flush the memtable and close the log. Everything acknowledged was durable
   * already: if the last flush fails (a full disk), the store still closes,
   * and then rejects saying so; its events are in the log, replayed on the next open.
   */
  async close (): Promise<void> {
    this.#closing = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    if (this.readOnly) {
      await this.#removeScratch()
      return
    }
    this.#setFlushTimer()
    const flushFailed = await this.flush().then(() => undefined, (err: Error) => err)
    await this.#serially(async () => { await this.#wal.close() })
    await this.#unlock?.()
    if (flushFailed !== undefined) {
      const code = flushFailed instanceof ShoeboxError ? flushFailed.code : 'SHOEBOX_IO'
      throw new ShoeboxError(code, `${flushFailed.message}; the last flush failed: the acknowledged events not yet in run files stay in the write-ahead log ${path.join(this.dir, 'wal')}, replayed on the next start`, { cause: flushFailed })
    }
  }

  /**
   * Hand the runs to the publisher in the background. Not under #serially,
   * and not awaited by the flushes puts wait for: with every write to S3
   * answered after 2 s, 30 puts of 22 KB took 42 s (worst 8.5 s) while each
   * flush waited for its upload, 1.3 s since (bench/RESULTS.md, "Scale-out:
   * a collector's puts while S3 answers slowly"). One publish at a time;
   * changes made while one runs are published by one more after it, with
   * the index of then. A failure is kept in lastError and tried again by the
   * next change or flush tick.
   */
  #requestPublish (): void {
    const publisher = this.#publisher
    if (publisher === undefined) return
    if (this.#publishing !== undefined) {
      this.#publishAgain = true
      return
    }
    this.#publishing = this.#publishLatest(publisher).finally(() => {
      this.#publishing = undefined
      // Asked for between the loop's last check and now.
      if (this.#publishAgain) this.#requestPublish()
    })
  }

  async #publishLatest (publisher: RunPublisher): Promise<void> {
    do {
      this.#publishAgain = false
      const index = this.#index
      // Held as a get holds them: a merge or retention meanwhile does not remove a file under its upload.
      const files = index.runs.map((r) => r.file)
      for (const file of files) this.#readers.set(file, (this.#readers.get(file) ?? 0) + 1)
      try {
        await publisher.publish(index)
        this.#publishFailed = false
      } catch (err) {
        this.#publishFailed = true
        this.#failed(err as Error)
      } finally {
        for (const file of files) this.#release(file)
      }
    } while (this.#publishAgain)
  }

  /** Resolves once no publish runs or is wanted. */
  async #published (): Promise<void> {
    while (this.#publishing !== undefined) await this.#publishing
  }

  /**
   * Every flush interval: flush what the memtable and the frozen tables a
   * failed flush left hold (which publishes; not while the pause after the
   * failure runs), or else publish again after a failed publish (unless one
   * runs). Without the second, runs flushed while the shared store was down
   * stayed local (and invisible to readers) until the next put, or for ever
   * if the puts had stopped; without the frozen tables, so did the events of
   * a failed flush once the disk had room again, in memory and the log.
   * Or else, once an object whose runs all left the index is due to go
   * (the publisher's sweepAfterMs), sweep: only a publish swept, so a
   * collector that took no more events kept the objects its last merge
   * replaced for ever.
   */
  #flushTick (): void {
    if (!this.#memtable.empty || this.#frozen.length > 0) {
      if (this.#flushDue()) this.#scheduleFlush()
    } else if (this.#publishing !== undefined) {
      // A publish runs: it sweeps, or a failed one is tried again by a later tick.
    } else if (this.#publishFailed) {
      this.#requestPublish()
    } else if ((this.#publisher?.sweepDueAt() ?? Infinity) <= performance.now()) {
      this.#requestSweep()
    }
  }

  /**
   * The publisher's sweep, in the place of a publish (one at a time, as
   * publishes are); a change meanwhile is published after it. A failure is
   * kept in lastError, and the next tick tries again.
   */
  #requestSweep (): void {
    const publisher = this.#publisher
    if (publisher === undefined || this.#publishing !== undefined) return
    this.#publishing = publisher.sweep().catch((err: Error) => { this.#failed(err) }).finally(() => {
      this.#publishing = undefined
      if (this.#publishAgain) this.#requestPublish()
    })
  }

  #scheduleFlush (): void {
    if (this.#flushing !== undefined) return
    this.#flushing = this.#flushRuns().then(() => undefined, (err: Error) => {
      this.#failed(err)
      return err
    }).then((failure) => {
      this.#flushing = undefined
      // The table that filled while this flush ran is next, without waiting for another put;
      // after a failure, a put (a full table, or past MAX_HELD) or a flush tick tries again once FLUSH_RETRY_PAUSE_MS is over (no loop of failing flushes).
      if (failure === undefined && this.#memtableFull() && !this.#closing) this.#scheduleFlush()
      return failure
    })
  }

  /** Background work failed; the store carries on (what failed is tried again, see the callers). */
  #failed (err: Error): void {
    this.lastError = err
    this.#onError?.(err)
  }

  #frozenBytes (): number {
    let bytes = 0
    for (const table of this.#frozen) bytes += table.bytes
    return bytes
  }

  #known (ns: string, stream: string): void {
    let names = this.#streams.get(ns)
    if (names === undefined) this.#streams.set(ns, names = new Set())
    names.add(stream)
  }

  #serially<T> (work: () => Promise<T>): Promise<T> {
    const result = this.#exclusive.then(work)
    this.#exclusive = result.then(() => {}, () => {})
    return result
  }

  /**
   * Remove replaced run files: those a reader holds when it lets go (marked
   * now, synchronously), the others now, FILE_REMOVERS at a time. Not all
   * at once: a flush's 10,000 merges replaced 40,000 files, and 40,000
   * unlinks queued in the thread pool at once held the log's writes behind
   * them (the next put took 3.5 s; bench/RESULTS.md, "serve: many streams").
   */
  async #doom (files: string[]): Promise<void> {
    const free = files.filter((file) => {
      if ((this.#readers.get(file) ?? 0) === 0) return true
      this.#doomed.add(file)
      return false
    })
    await inParallel(free, FILE_REMOVERS, async (file) => { await fs.unlink(path.join(this.#runsDir, file)).catch(() => {}) })
  }

  #release (file: string): void {
    const n = (this.#readers.get(file) ?? 1) - 1
    if (n > 0) {
      this.#readers.set(file, n)
      return
    }
    this.#readers.delete(file)
    if (this.#doomed.delete(file)) void fs.unlink(path.join(this.#runsDir, file)).catch(() => {})
  }
}

function deleteMetadata (ns: string, stream: string, range: EventRange): Array<[string, string]> {
  const m: Array<[string, string]> = [['op', 'delete'], ['ns', ns], ['s', stream], ['from', range.from.toString()], ['to', range.to.toString()]]
  if (range.after !== undefined) m.push(['afterT', range.after.time.toString()], ['after', formatEventId(range.after.id)])
  return m
}

function rangeOf (m: Record<string, string>): EventRange {
  const range: EventRange = { from: BigInt(m.from), to: BigInt(m.to) }
  if (m.after !== undefined) range.after = { time: BigInt(m.afterT), id: parseEventId(m.after) }
  return range
}

async function * empty<T> (): AsyncGenerator<T> {}

async function * flatten<T> (batches: AsyncGenerator<T[]>): AsyncGenerator<T> {
  for await (const batch of batches) yield * batch
}

/** `.NAME.uploaded` / `.NAME.uploading`: the sealed-file uploader's markers beside a run file. */
function isUploaderMarker (name: string): boolean {
  return name.startsWith('.') && (name.endsWith('.uploaded') || name.endsWith('.uploading'))
}

/** `ms` as days, to a tenth: a clock step is told in days. */
function days (ms: number): string {
  return `${(ms / 86_400_000).toFixed(ms < 864_000_000 ? 1 : 0)}d`
}
