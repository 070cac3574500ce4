/**
 * The event store's write-ahead log: numbered v2 archive files
 * (`wal/<seq>.shoebox`) that every put and delete is appended to before it
 * is answered. Group commit: appends go out in order, one write at a time,
 * each write taking every append queued behind the one before; as soon as
 * a write is done, an fdatasync of it starts, while earlier ones may still
 * run (up to SYNCS_IN_FLIGHT). A put that arrives during a sync so waits
 * for its own write and sync only, not for the sync in flight first: with
 * one sync at a time that wait was over a quarter of a put's time on the server
 * (bench/RESULTS.md, "Ingest wall time, second timeline").
 *
 * Each sync in flight has a file descriptor of its own, opened on the log
 * file beside the one writes go through. On one descriptor, Linux reports
 * a writeback error to one fsync call only (errseq, per open file): with
 * two syncs in flight on it, the one covering the failed pages could return
 * success while the other took the error. Each descriptor sees every error
 * once, and a descriptor never has two syncs in flight.
 *
 * Appends are settled in log order: an append's `apply` runs once its own
 * sync and every earlier one succeeded, and before any later rotation, so
 * what is in memory always equals what the log files hold. After a failed
 * write or sync every append not yet settled is refused, and nothing more
 * is written: a part of the failed group may be on disk, and replay would
 * read it as stored (the refused put's events, sent again by its client,
 * would then be stored twice) and as belonging to whatever came next.
 * A disk that is full (ENOSPC, EDQUOT) is the one failure the log recovers
 * from by itself: the file is cut back to its last settled append and
 * fsynced, and only then are the unsettled appends refused and later ones
 * taken again, so a collector whose disk filled takes puts once there is
 * room, without a restart, and nothing refused is ever replayed. A failed
 * fsync is never recovered from (after one, the kernel may have dropped the
 * pages it could not write, and marked them clean): every later append is
 * refused until the store is opened again, which replays what is on disk.
 *
 * On open, the files are read back (replay), a chunk at a time, each
 * record handed on with where it ends, so the store can write what it has
 * replayed as runs as it goes; a torn tail (a crash during a write) is cut
 * back to the last whole record, as lib/roll/recover.ts does for rolled
 * files. Data after a damaged stretch is kept, never cut. A file was read
 * whole: replay held every log file's bytes at once, which is not bounded
 * by the memtable's size (a log grows past it while flushes fail, and many
 * logs pile up while flushes fail after each rotation).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { ArchiveDecoder } from '../../format/decoder.js'
import { ensureDir, syncDir, syncFile, writeAll, writevAll } from '../../fs/durable.js'
import { ioError, orIoError } from '../../fs/io-error.js'
import type { ShoeboxRecord } from '../../record.js'
import { ShoeboxError } from '../../errors.js'

interface Pending {
  /** Encoded records, or null for a rotation to a new file. */
  bytes: Buffer | null
  apply: () => void
  resolve: () => void
  reject: (err: Error) => void
}

/** Where a replayed record ends: its log file's number and the byte offset after it. */
export interface LogPosition {
  seq: number
  end: number
}

/** Bytes of a log file read at once in replay (a record larger than this is put together from several). */
const REPLAY_CHUNK = 1024 * 1024

export interface ReplayReport {
  /** Log files read, oldest first. */
  files: string[]
  records: number
  /** Bytes cut from the end of the last file (a torn write). */
  bytesDropped: number
  /** Records lost inside damaged stretches (never silent: reported). */
  damaged: number
  /** Each file damaged inside (not a torn tail): where the damage starts, the bytes skipped, the records replayed from it. */
  damage: Array<{ file: string, offset: number, bytes: number, records: number }>
}

/**
 * fdatasyncs of the log in flight at once, each on its own descriptor. Two:
 * a put arriving during a sync starts its own at once, and two of libuv's
 * four threads stay free for the log's next write and the flush's files.
 */
const SYNCS_IN_FLIGHT = 2

/** Written appends of one write, settled once their sync (and every earlier one) succeeded. */
interface Written {
  group: Pending[]
  synced: boolean
  /** Bytes the write added to the file. */
  bytes: number
}

/** One log file: the descriptor writes go through, and those syncs use (none without fsync). */
interface LogFile {
  writer: fs.FileHandle
  syncers: fs.FileHandle[]
}

export class WriteAheadLog {
  readonly dir: string
  #seq: number
  #file: LogFile
  /** Appends (and rotations) not written yet, in order. */
  #queue: Pending[] = []
  /** Written and not settled yet, in log order. */
  #unsettled: Written[] = []
  /** Written, no sync started for them yet. */
  #unsynced: Written[] = []
  /** Sync descriptors with no sync in flight. */
  #idleSyncers: fs.FileHandle[]
  #writing = false
  #rotating = false
  #failed: Error | undefined
  #fsync: boolean
  /** A failure the log does not recover from happened (a failed fsync): appends stay refused. */
  #stuck = false
  /** The current file's length through its last settled append: where a full disk's failed write is cut back to. */
  #settledBytes: number

  private constructor (dir: string, seq: number, file: LogFile, fsync: boolean, size: number) {
    this.dir = dir
    this.#seq = seq
    this.#file = file
    this.#settledBytes = size
    this.#idleSyncers = [...file.syncers]
    this.#fsync = fsync
  }

  /** The file number appends go to now. */
  get seq (): number {
    return this.#seq
  }

  /**
   * Read every log file numbered `from` or above (handing each record to
   * `onRecord`, oldest first; given a position, not the records of its file
   * that end at or before its `end`: already in runs), cut a torn tail, then
   * open the last file for appends (or file `from` when there is none).
   */
  static async open (
    dir: string, start: number | LogPosition, fsync: boolean, onRecord: (record: ShoeboxRecord, at: LogPosition) => Promise<void> | void
  ): Promise<{ log: WriteAheadLog, report: ReplayReport }> {
    const from: LogPosition = typeof start === 'number' ? { seq: start, end: 0 } : start
    await ensureDir(dir)
    const seqs = (await orIoError(fs.readdir(dir), 'cannot list', dir))
      .map((name) => /^(\d{10})\.shoebox$/.exec(name)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b)
    const report: ReplayReport = { files: [], records: 0, bytesDropped: 0, damaged: 0, damage: [] }
    for (const seq of seqs) {
      if (seq < from.seq) {
        // Left by a crash between the index write and the removal: its events are in runs.
        await fs.unlink(path.join(dir, fileName(seq))).catch(() => {})
        continue
      }
      const file = path.join(dir, fileName(seq))
      report.files.push(file)
      await replayLogFile(file, seq, seq === from.seq ? from.end : 0, report, onRecord)
    }
    // Appends continue in the last file (its tail is whole now), or a new one when none is left.
    let seq = Math.max(from.seq, seqs[seqs.length - 1] ?? 0)
    // Unless that is the file the index names a byte of and it ends before that byte (removed, or cut by
    // hand or by a disk): appends there would end at or before it, and the next replay skip them as in runs.
    if (seq === from.seq && from.end > 0) {
      const size = await fs.stat(path.join(dir, fileName(seq))).then((st) => st.size, () => 0)
      if (size < from.end) seq++
    }
    const file = await openLogFile(dir, seq, fsync)
    const size = await fileSize(file, path.join(dir, fileName(seq)))
    return { log: new WriteAheadLog(dir, seq, file, fsync, size), report }
  }

  /**
   * Read the log files open() would replay, handing each record to
   * `onRecord` as it does, and write nothing: no torn tail cut (its bytes are
   * counted in bytesDropped, not read), no file removed, none opened for
   * appends. For a store on a read-only mount.
   */
  static async replay (
    dir: string, start: LogPosition, onRecord: (record: ShoeboxRecord, at: LogPosition) => Promise<void> | void
  ): Promise<ReplayReport> {
    const report: ReplayReport = { files: [], records: 0, bytesDropped: 0, damaged: 0, damage: [] }
    let names: string[]
    try {
      names = await fs.readdir(dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return report
      throw ioError(err, 'cannot list', dir)
    }
    const seqs = names.map((name) => /^(\d{10})\.shoebox$/.exec(name)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b)
    for (const seq of seqs.filter((seq) => seq >= start.seq)) {
      const file = path.join(dir, fileName(seq))
      report.files.push(file)
      await replayLogFile(file, seq, seq === start.seq ? start.end : 0, report, onRecord, false)
    }
    return report
  }

  /** Append `bytes` (whole records); resolves once they are durable and `apply` has run. */
  append (bytes: Buffer, apply: () => void): Promise<void> {
    return this.#enqueue(bytes, apply)
  }

  /**
   * Switch to a new file after every append queued so far; `apply` runs at
   * that point (the store freezes its memtable there). Resolves to the
   * first file number whose records came after `apply`; rejects, without
   * running `apply`, when the next file cannot be opened (appends go on in
   * the current one).
   */
  async rotate (apply: () => void): Promise<number> {
    await this.#enqueue(null, apply)
    return this.#seq
  }

  /** Remove the files numbered below `seq` (their records are in run files now). */
  async removeBefore (seq: number): Promise<void> {
    for (const name of await fs.readdir(this.dir)) {
      const m = /^(\d{10})\.shoebox$/.exec(name)
      if (m !== null && Number(m[1]) < seq) await fs.unlink(path.join(this.dir, name)).catch(() => {})
    }
  }

  /** Wait for queued appends, then close the file. */
  async close (): Promise<void> {
    await this.#enqueue(Buffer.alloc(0), () => {}).catch(() => {})
    // For good: a full disk's recovery still under way must not open it again.
    this.#stuck = true
    this.#failed ??= new ShoeboxError('SHOEBOX_IO', `event log ${this.dir} is closed`)
    await closeLogFile(this.#file)
  }

  #enqueue (bytes: Buffer | null, apply: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#failed !== undefined) {
        reject(this.#failed)
        return
      }
      this.#queue.push({ bytes, apply, resolve, reject })
      this.#advance()
    })
  }

  /**
   * Start what can start now: the next write (none in progress, no rotation
   * ahead of it), a sync of what is written (a sync descriptor idle), or a
   * rotation (once everything before it is settled).
   */
  #advance (): void {
    if (this.#failed !== undefined || this.#rotating) return
    const head = this.#queue[0]
    if (head !== undefined && head.bytes !== null && !this.#writing) {
      // Everything queued up to the next rotation goes out in one write.
      let n = 1
      while (n < this.#queue.length && this.#queue[n].bytes !== null) n++
      const group = this.#queue.splice(0, n)
      this.#writing = true
      this.#write(group).then((bytes) => {
        this.#writing = false
        if (this.#failed !== undefined) {
          // A sync failed while this group was being written: it is refused with the rest.
          for (const p of group) p.reject(this.#failed)
          return
        }
        const written = { group, synced: false, bytes }
        this.#unsettled.push(written)
        this.#unsynced.push(written)
        this.#advance()
      }, (err: unknown) => {
        this.#writing = false
        this.#fail(err, group, isDiskFull(err))
      })
    }
    if (this.#unsynced.length > 0 && (!this.#fsync || this.#idleSyncers.length > 0)) {
      // One sync covers every write finished before it starts.
      const covered = this.#unsynced.splice(0)
      this.#sync().then(() => {
        for (const w of covered) w.synced = true
        this.#settle()
        this.#advance()
      }, (err: unknown) => { this.#fail(err, []) })
    }
    if (head !== undefined && head.bytes === null && !this.#writing && this.#unsettled.length === 0) {
      this.#queue.shift()
      this.#rotating = true
      this.#switchFile().then(() => {
        this.#rotating = false
        head.apply()
        head.resolve()
        this.#advance()
      }, (err: unknown) => {
        // The next file could not be opened (EMFILE when something took every
        // descriptor, a full disk): nothing was written and the current file
        // is as it was, so only the rotation is refused, and appends go on in
        // that file. Refusing every later append, as after a failed write,
        // stopped the store taking puts until a restart.
        this.#rotating = false
        head.reject(err as Error)
        this.#advance()
      })
    }
  }

  /** Settle, in log order, the appends whose sync and every earlier one succeeded. */
  #settle (): void {
    while (this.#unsettled.length > 0 && this.#unsettled[0].synced) {
      const written = this.#unsettled.shift() as Written
      this.#settledBytes += written.bytes
      for (const p of written.group) {
        p.apply()
        p.resolve()
      }
    }
  }

  /**
   * A write, sync or rotation failed: `group` and everything not settled yet
   * is refused, and so is every later append; unless `recoverable` (a full
   * disk) and the file can be cut back to its last settled append, after
   * which appends are taken again.
   */
  #fail (err: unknown, group: Pending[], recoverable = false): void {
    // A failure that is not recovered from also stops a recovery under way.
    if (!recoverable) this.#stuck = true
    if (this.#failed !== undefined) {
      for (const p of group) p.reject(this.#failed)
      return
    }
    const failed = ioError(err, 'cannot append to event log', path.join(this.dir, fileName(this.#seq)))
    this.#failed = failed
    const refused = [...group, ...this.#unsettled.splice(0).flatMap((w) => w.group), ...this.#queue.splice(0)]
    this.#unsynced = []
    const refuse = (): void => { for (const p of refused) p.reject(failed) }
    if (!recoverable) {
      refuse()
      return
    }
    // Refused only once what they may have left on disk is gone: a crash before the cut
    // answers nothing, and after it replays nothing of theirs.
    this.#cutBack().then(() => {
      if (this.#failed === failed && !this.#stuck) this.#failed = undefined
      refuse()
      this.#advance()
    }, () => { refuse() })
  }

  /** Cut the current file back to its last settled append (a full disk's partial write), durably. */
  async #cutBack (): Promise<void> {
    const writer = this.#file.writer
    await writer.truncate(this.#settledBytes)
    if (this.#fsync) await writer.sync()
  }

  /** Write the group's appends; resolves to the bytes written. */
  async #write (group: Pending[]): Promise<number> {
    const parts = group.map((p) => p.bytes as Buffer).filter((b) => b.length > 0)
    if (parts.length === 0) return 0
    // One writev for the group: no copy of the queued puts into one buffer first.
    if (parts.length === 1) await writeAll(this.#file.writer, parts[0])
    else await writevAll(this.#file.writer, parts)
    return parts.reduce((n, b) => n + b.length, 0)
  }

  async #sync (): Promise<void> {
    if (!this.#fsync) return
    const syncer = this.#idleSyncers.pop() as fs.FileHandle
    try {
      await syncer.datasync()
    } finally {
      this.#idleSyncers.push(syncer)
    }
  }

  /** Fails only in opening the next file (and reading its size), before anything changed. */
  async #switchFile (): Promise<void> {
    const next = await openLogFile(this.dir, this.#seq + 1, this.#fsync)
    // A rotation that failed after creating the file before may have left it there, empty.
    const size = await fileSize(next, path.join(this.dir, fileName(this.#seq + 1))).catch(async (err: unknown) => {
      await closeLogFile(next)
      throw err
    })
    await closeLogFile(this.#file)
    this.#file = next
    this.#idleSyncers = [...next.syncers]
    this.#seq++
    this.#settledBytes = size
  }
}

export function fileName (seq: number): string {
  return `${String(seq).padStart(10, '0')}.shoebox`
}

async function openLogFile (dir: string, seq: number, fsync: boolean): Promise<LogFile> {
  const file = path.join(dir, fileName(seq))
  const writer = await orIoError(fs.open(file, 'a'), 'cannot open event log', file)
  const syncers: fs.FileHandle[] = []
  try {
    // 'r+', not 'r': Windows flushes only a handle opened for writing. Nothing writes through them.
    if (fsync) for (let i = 0; i < SYNCS_IN_FLIGHT; i++) syncers.push(await orIoError(fs.open(file, 'r+'), 'cannot open event log', file))
    // The new name must survive a crash before anything acknowledged is in it.
    if (fsync) await orIoError(syncDir(dir), 'cannot fsync directory', dir)
  } catch (err) {
    await closeLogFile({ writer, syncers })
    throw err
  }
  return { writer, syncers }
}

async function fileSize (file: LogFile, name: string): Promise<number> {
  return (await orIoError(file.writer.stat(), 'cannot stat event log', name)).size
}

/** The disk (or the user's quota) is full: the one failure of a write the log recovers from. */
function isDiskFull (err: unknown): boolean {
  // A write's own errno error (writeAll/writevAll do not wrap it).
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

async function closeLogFile (file: LogFile): Promise<void> {
  for (const handle of [file.writer, ...file.syncers]) await handle.close().catch(() => {})
}

/**
 * Hand the records of one log file that end after `skipTo` to `onRecord`,
 * reading REPLAY_CHUNK bytes at a time (each chunk a buffer of its own:
 * the records handed on keep pointing into it); a torn tail is cut off the
 * file (and fsynced).
 */
async function replayLogFile (
  file: string, seq: number, skipTo: number, report: ReplayReport, onRecord: (record: ShoeboxRecord, at: LogPosition) => Promise<void> | void, cutTornTail = true
): Promise<void> {
  const handle = await orIoError(fs.open(file, 'r'), 'cannot read event log', file)
  let size: number
  let end = 0
  let damaged = 0
  let skipped = 0
  let replayed = 0
  let damageAt = -1
  try {
    size = (await orIoError(handle.stat(), 'cannot read event log', file)).size
    let ready: Array<{ record: ShoeboxRecord, end: number }> = []
    const decoder = new ArchiveDecoder({
      record (record, _version, offset, recordSize) {
        ready.push({ record, end: offset + recordSize })
        if (damageAt < 0) end = offset + recordSize
        else end = -1
      },
      corrupt (info) {
        if (damageAt < 0) damageAt = info.offset
        damaged++
        skipped += info.bytesSkipped
      }
    }, { mode: 'lenient', maxRecordSize: Math.max(size, 64) })
    const handOn = async (): Promise<void> => {
      const records = ready
      ready = []
      for (const r of records) {
        if (r.end <= skipTo) continue
        await onRecord(r.record, { seq, end: r.end })
        report.records++
        replayed++
      }
    }
    for (let at = 0; at < size;) {
      // allocUnsafeSlow: allocUnsafe cuts one under half of Buffer.poolSize (a small log) from Node's
      // shared pool, which the memtable would keep whole until its flush.
      const chunk = Buffer.allocUnsafeSlow(Math.min(REPLAY_CHUNK, size - at))
      const { bytesRead } = await orIoError(handle.read(chunk, 0, chunk.length, at), 'cannot read event log', file)
      if (bytesRead === 0) break
      at += bytesRead
      decoder.write(chunk.subarray(0, bytesRead))
      await handOn()
    }
    decoder.end()
    await handOn()
  } finally {
    await handle.close()
  }
  if (end >= 0 && end < size) {
    // Only a torn tail: nothing readable follows, so cutting loses nothing acknowledged.
    damaged = 0
    report.bytesDropped += size - end
    if (cutTornTail) {
      await orIoError(fs.truncate(file, end), 'cannot truncate event log', file)
      await orIoError(syncFile(file), 'cannot fsync', file)
    }
  }
  report.damaged += damaged
  if (damaged > 0) report.damage.push({ file, offset: damageAt, bytes: skipped, records: replayed })
}
