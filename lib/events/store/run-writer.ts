/**
 * Writing a run file (run-file.ts describes the layout) from sorted events
 * given in any number of batches, so a compaction of large runs never holds
 * more than a block: records are encoded into ~64 KiB blocks (gzip members
 * when compressed) and appended to the file, which is fsynced when complete.
 *
 * The file is written under its final name, with no temporary name and
 * rename: run files are numbered by the index, and a number the index does
 * not name yet is no reader's (a read takes its runs from the index) and no
 * publisher's (it uploads the index's runs). The index swap that names it is
 * the commit point; the caller fsyncs the runs directory once for all the
 * files of a change before that swap (syncRunsDir), not once per file. A
 * crash before the swap leaves files the index does not list, which the
 * store removes when it opens; a failed change removes its own.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import zlib from 'node:zlib'
import { syncDir, writeAll, writevAll } from '../../fs/durable.js'
import { orIoError } from '../../fs/io-error.js'
import { formatEventId } from '../event-id.js'
import { encodeEventRecords } from './event-records.js'
import { compactRunInfo, type RunInfo } from './run-file.js'
import { bucketOf, type StoredEvent } from './stored-event.js'

export const BLOCK_BYTES = 64 * 1024

/**
 * addBlock(): events waiting for a block, under this size, are encoded with
 * the copied block's events instead of written as a small block; the
 * joined block is cut in two past MAX_JOINED_BYTES. So a block a delete
 * writes (but a run's last) holds at least half a block's bytes, and at
 * most one and a half or one event (by the estimate add() fills blocks by),
 * and a get reads at most about twice the blocks it would in a run written
 * at once, however many deletes cut it.
 */
export const MIN_BLOCK_BYTES = BLOCK_BYTES / 2
const MAX_JOINED_BYTES = BLOCK_BYTES + BLOCK_BYTES / 2

/**
 * Blocks are written to the file this many bytes at a time (one writev):
 * one write per 64 KiB block cost a thread-pool round trip and a syscall
 * each, ~3x the CPU of the same bytes in 1 MiB writes. The index still
 * records every block's offset; only the write is grouped.
 */
const WRITE_BYTES = 1024 * 1024
const MAX_WRITE_BLOCKS = 64

/** Per record, what the size estimate adds to the text: header, metadata, checksum. */
const RECORD_OVERHEAD = 80

export class RunWriter {
  readonly #target: string
  readonly #gzip: boolean
  readonly #fsync: boolean
  readonly #info: RunInfo
  #handle: fs.FileHandle | undefined
  #pending: StoredEvent[] = []
  #pendingBytes = 0
  #last: StoredEvent | undefined
  /** Blocks encoded and not yet written (see WRITE_BYTES), and their size. */
  #unwritten: Buffer[] = []
  #unwrittenBytes = 0

  constructor (dir: string, file: string, ns: string, stream: string, bucket: bigint, options: { gzip: boolean, fsync: boolean }) {
    this.#target = path.join(dir, file)
    this.#gzip = options.gzip
    this.#fsync = options.fsync
    this.#info = { file, ns, stream, bucket: bucket.toString(), minTime: '', maxTime: '', firstId: '', lastId: '', count: 0, bytes: 0, blocks: [] }
    if (options.gzip) this.#info.gzip = true
  }

  /** Add events that sort after every event added before. */
  async add (events: readonly StoredEvent[]): Promise<void> {
    for (const e of events) {
      if (this.#info.count++ === 0) {
        this.#info.minTime = e.time.toString()
        this.#info.firstId = e.idText ?? formatEventId(e.id)
      }
      this.#pending.push(e)
      this.#pendingBytes += e.body.length + RECORD_OVERHEAD
      if (this.#pendingBytes >= BLOCK_BYTES) await this.#writeBlock()
    }
  }

  /**
   * Add a block of another run as it is (a gzip member if this run is
   * compressed, plain records if not), holding `events` (its events, sorted
   * after every event added before): a delete copies the blocks its range
   * misses instead of encoding (and gzipping) their events again.
   *
   * Events added before and not yet written (what a delete kept of the
   * blocks it cut) go out first as a block of their own, unless they are
   * under MIN_BLOCK_BYTES: then they and this block's events are encoded as
   * one block (two when that passes MAX_JOINED_BYTES). Written alone, they
   * left a small block in the run at nearly every delete, which nothing
   * repacked (compaction concatenates disjoint runs block for block), so a
   * run deleted from often became mostly small blocks and a get read many
   * more of them than it needed.
   */
  async addBlock (packed: Buffer, events: readonly StoredEvent[]): Promise<void> {
    if (this.#pending.length > 0) {
      if (this.#pendingBytes < MIN_BLOCK_BYTES) {
        await this.#join(events)
        return
      }
      await this.#writeBlock()
    }
    if (this.#info.count === 0) {
      this.#info.minTime = events[0].time.toString()
      this.#info.firstId = events[0].idText ?? formatEventId(events[0].id)
    }
    this.#info.count += events.length
    this.#handle ??= await openRunFile(this.#target)
    await this.#append(packed, events[0], events[events.length - 1])
  }

  /** The pending events and `events` (which follow them) as one block, or two of about half each past MAX_JOINED_BYTES. */
  async #join (events: readonly StoredEvent[]): Promise<void> {
    for (const e of events) {
      this.#pending.push(e)
      this.#pendingBytes += e.body.length + RECORD_OVERHEAD
    }
    this.#info.count += events.length
    if (this.#pendingBytes > MAX_JOINED_BYTES) {
      const all = this.#pending
      let cut = 0
      for (let bytes = 0; cut < all.length - 1 && bytes < this.#pendingBytes / 2; cut++) bytes += all[cut].body.length + RECORD_OVERHEAD
      this.#pending = all.slice(0, cut)
      await this.#writeBlock()
      this.#pending = all.slice(cut)
    }
    await this.#writeBlock()
  }

  /** Write the rest and fsync (not the directory: syncRunsDir); resolves to what the index keeps. */
  async finish (): Promise<RunInfo> {
    if (this.#pending.length > 0) await this.#writeBlock()
    await this.#writeOut()
    const last = this.#last
    if (this.#handle === undefined || last === undefined) throw new Error('a run needs at least one event')
    this.#info.maxTime = last.time.toString()
    this.#info.lastId = last.idText ?? formatEventId(last.id)
    try {
      if (this.#fsync) await orIoError(this.#handle.sync(), 'cannot fsync event run', this.#target)
      await this.#handle.close()
    } catch (err) {
      await this.abort()
      throw err
    }
    return compactRunInfo(this.#info)
  }

  /** Remove the file (a failed flush or compaction). */
  async abort (): Promise<void> {
    await this.#handle?.close().catch(() => {})
    await fs.unlink(this.#target).catch(() => {})
  }

  async #writeBlock (): Promise<void> {
    const events = this.#pending
    this.#pending = []
    this.#pendingBytes = 0
    const records = encodeEventRecords([{ prefix: [], events }])
    const block = this.#gzip ? zlib.gzipSync(records) : records
    this.#handle ??= await openRunFile(this.#target)
    await this.#append(block, events[0], events[events.length - 1])
  }

  /** Index a block of the file (its offset and first time) and queue its bytes. */
  async #append (block: Buffer, first: StoredEvent, last: StoredEvent): Promise<void> {
    this.#info.blocks.push([this.#info.bytes, first.time.toString()])
    this.#unwritten.push(block)
    this.#unwrittenBytes += block.length
    this.#info.bytes += block.length
    this.#last = last
    // Gzip blocks can be tiny: a cap on their count keeps a writev far below IOV_MAX.
    if (this.#unwrittenBytes >= WRITE_BYTES || this.#unwritten.length >= MAX_WRITE_BLOCKS) await this.#writeOut()
  }

  async #writeOut (): Promise<void> {
    const blocks = this.#unwritten
    if (blocks.length === 0 || this.#handle === undefined) return
    this.#unwritten = []
    this.#unwrittenBytes = 0
    // A full disk names the run file it could not write (the events stay in the write-ahead log).
    await orIoError(blocks.length === 1 ? writeAll(this.#handle, blocks[0]) : writevAll(this.#handle, blocks), 'cannot write event run', this.#target)
  }
}

/**
 * Create (or truncate) a run file under its final name. Not 'wx': a file of a
 * number the index does not name is what a failed change left behind (its
 * removal is best effort), never a live run, and must not block the change
 * that takes the number next.
 */
export async function openRunFile (file: string): Promise<fs.FileHandle> {
  return await orIoError(fs.open(file, 'w'), 'cannot create event run', file)
}

/** After a change's run files are written and fsynced, before the index swap that names them: one fsync of the directory for all of them. */
export async function syncRunsDir (dir: string, fsync: boolean): Promise<void> {
  if (fsync) await orIoError(syncDir(dir), 'cannot fsync event runs directory', dir)
}

/** Write sorted events as one run file (fsynced; the directory is the caller's, syncRunsDir) and describe it. */
export async function writeRun (
  dir: string, file: string, ns: string, stream: string, bucket: bigint, events: readonly StoredEvent[], options: { gzip: boolean, fsync: boolean }
): Promise<RunInfo> {
  const writer = new RunWriter(dir, file, ns, stream, bucket, options)
  try {
    await writer.add(events)
  } catch (err) {
    await writer.abort()
    throw err
  }
  return await writer.finish()
}

/**
 * Write one stream's sorted events, given in batches, as one run per time
 * bucket (of `width` ticks); `nextFile` names each run. Only the batch at
 * hand and one block are held, never the stream.
 */
export async function writeBucketRuns (
  dir: string, nextFile: () => string, ns: string, stream: string, width: bigint, batches: Iterable<readonly StoredEvent[]>, options: { gzip: boolean, fsync: boolean }
): Promise<RunInfo[]> {
  const runs: RunInfo[] = []
  let writer: RunWriter | undefined
  let end = 0n
  try {
    for (const batch of batches) {
      let start = 0
      while (start < batch.length) {
        if (writer === undefined || batch[start].time >= end) {
          if (writer !== undefined) runs.push(await writer.finish())
          const bucket = bucketOf(batch[start].time, width)
          end = bucket + width
          writer = new RunWriter(dir, nextFile(), ns, stream, bucket, options)
        }
        let stop = start + 1
        while (stop < batch.length && batch[stop].time < end) stop++
        await writer.add(start === 0 && stop === batch.length ? batch : batch.slice(start, stop))
        start = stop
      }
    }
    if (writer !== undefined) runs.push(await writer.finish())
  } catch (err) {
    await writer?.abort()
    throw err
  }
  return runs
}
