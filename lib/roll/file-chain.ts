/**
 * The rolling sink's writing stage: a chain of blocks that compresses
 * (gzip or zstd: one independent member/frame per block, started off the main
 * thread as soon as the block is cut, so encoding and compression overlap), writes, fsyncs
 * as the policy says, and seals: fsync, close, link to the final name, fsync
 * the directory, and only then `sealed` (which may ask it to wait: the
 * sink's listeners of earlier files still at work). A file is created with its first
 * block, so no file is ever empty. A crash loses at most the blocks not yet
 * written; everything written is recoverable (recover.ts). Every filesystem
 * failure is a SHOEBOX_IO error naming the file or directory, and kept() says
 * what is on disk.
 *
 * Writes go through the thread pool, one at a time, appended in order: the
 * blocks compressed while a write is out go together in the next one (one
 * writev, as the event log's group commit). The chain does not wait on each
 * block's write: under load a pool write's round trip (a pool thread woken,
 * then the main thread, while compressions hold both cores) took 2-3 ms a
 * block, most of a run's compression phase when blocks waited for it one by
 * one. One write at a time, appended, also means the file never has a hole:
 * what a kill or a failed write leaves is whole blocks and then at most part
 * of one, which recovery cuts. Everything after a write (the hash, `written`,
 * fsyncs, a `flush` per block, the seal) happens block by block, in order,
 * once it is back: a `flush` says its block is in the file, and the blocks
 * after it in the same write may be too.
 *
 * A file's bytes go to the disk as it grows: their writeback is started per
 * SYNC_AHEAD bytes written (fs/writeback.ts: sync_file_range, else a
 * datasync), and not awaited (unless fsync is 'never'). The fsync at a seal
 * then has little left to do: a 32 MiB file's took 50-70 ms here, during
 * which the chain, and at the end of a run the whole process, stood still.
 */
import type { Hash } from 'node:crypto'
import fs from 'node:fs/promises'
import type { Compression } from '../compress/codecs.js'
import { FrameRooms } from '../compress/frame-rooms.js'
import { releaseSlabBytes } from '../format/slab-pool.js'
import { nodeCrypto, syncDir, writevAll } from '../fs/durable.js'
import { ioError, orIoError } from '../fs/io-error.js'
import { startWriteback } from '../fs/writeback.js'
import { createTemp, releaseTemp, sealName } from './names.js'
import type { PlannedFile } from './planner.js'

/** Bytes written to a file between the datasyncs started as it grows (see above). */
const SYNC_AHEAD = 4 * 1024 * 1024

/**
 * Blocks one write carries at most. The blocks queued while a write is out
 * are usually 1-3 (a zstd run of 1 MiB blocks); after a slow seal, a whole
 * file's blocks may be waiting: one write holds at most 8 blocks' bytes, and
 * a destroy() or a failure is still heeded every few blocks, not once a file.
 */
const BLOCKS_PER_WRITE = 8

export type FsyncPolicy = 'never' | 'onClose' | 'interval' | 'always'

export interface OpenEvent { path: string, name: string }
export interface FlushEvent { path: string, records: number, totalRecords: number, bytes: number }
export interface SealedEvent {
  path: string
  bytes: number
  records: number
  firstAt: number
  lastAt: number
  /** The file's SHA-256 (hex), unless the sink was made with `sha256: false`. */
  sha256?: string
}

/**
 * What the sink has left on disk so far, for an error line that says what was
 * kept: sealed files, and the temporary file being written (recovery, at the
 * next start or by `shoebox recover`, seals its flushed records).
 */
export interface KeptReport {
  dir: string
  /** False until the directory exists and leftover files are recovered. */
  started: boolean
  sealedFiles: number
  sealedRecords: number
  /**
   * The temporary file being written: `records` reached it whole (recovery
   * seals them); `inPart` more were in the write that failed part way (a full
   * disk takes what fits), of which recovery keeps those that landed whole.
   */
  unsealed: { path: string, records: number, inPart: number } | null
}

/** A block to write: raw archive bytes of `file`, and whether the file ends with it. */
export interface BlockToWrite {
  file: PlannedFile
  data: Buffer
  records: number
  seal: boolean
  /** Cut by the clock (fsync 'interval' syncs after these). */
  timed: boolean
}

/** What the chain tells the sink. */
export interface ChainListener {
  open: (event: OpenEvent) => void
  flush: (event: FlushEvent) => void
  /** A promise when the chain is to seal no more until it settles (the sink's listeners of earlier files are still at work). */
  sealed: (event: SealedEvent) => Promise<void> | void
  /** `raw` bytes of `file` were written as `disk` bytes (before any fsync). */
  written: (file: PlannedFile, raw: number, disk: number) => void
  /** A block was written, or the chain failed: writers waiting for room may go on (or fail). */
  progress: () => void
  /** The first failure; the chain writes nothing after it. */
  failed: (err: Error) => void
}

interface DiskFile {
  file: PlannedFile
  /** The name it is sealed under: the planned one, or its alternative when another writer of this process had that (createTemp). */
  name: string
  tempPath: string
  handle: fs.FileHandle
  /** Its key among the temporary files this process holds (names.ts), released once sealed or closed. */
  key: string
  /** Null when the sink does not hash its files. */
  hash: Hash | null
  bytes: number
  records: number
  /** Records of the block a failed write left in part (see KeptReport). */
  inPart: number
  /** Bytes written since the last writeback started (the last `unsynced` of its `bytes`). */
  unsynced: number
  /** The writeback under way, if any: awaited before the next sync, and its failure is the file's (a failed fsync need not fail twice). */
  syncing: Promise<void> | null
}

interface Queued extends BlockToWrite {
  compressed: Promise<Buffer> | null
  /** What goes to the file once known: the compressed bytes when done, or the raw block. */
  bytes: Buffer | null
}

export class FileChain {
  readonly #dir: string
  readonly #fsync: FsyncPolicy
  readonly #compression: Compression | undefined
  readonly #sha256: boolean
  /** Rooms the frames are compressed into, each given back once written (frame-rooms.ts). */
  readonly #rooms = new FrameRooms()
  readonly #on: ChainListener
  /** Blocks not yet written, in order. */
  #queue: Queued[] = []
  /** The loop writing them, while there are any (drain()). */
  #writing: Promise<void> | null = null
  #failed: Error | null = null
  /** The file on disk under its temporary name, if any. */
  #open: DiskFile | null = null
  #pending = 0
  #flushedRecords = 0
  #sealedFiles = 0
  #sealedRecords = 0

  constructor (dir: string, options: { fsync: FsyncPolicy, compression: Compression | undefined, sha256: boolean }, listener: ChainListener) {
    this.#dir = dir
    this.#fsync = options.fsync
    this.#compression = options.compression
    this.#sha256 = options.sha256
    this.#on = listener
  }

  /** Raw bytes queued and not yet written (what backpressure counts). */
  get pending (): number {
    return this.#pending
  }

  /** Records written to disk so far. */
  get flushedRecords (): number {
    return this.#flushedRecords
  }

  /** Queue a block; compression starts now, the write once it and the blocks before it are done. */
  push (block: BlockToWrite): void {
    const compression = this.#compression
    const compressed = compression !== undefined && block.data.length > 0 ? compression.codec.compressBlock(block.data, compression.level, this.#dir, this.#rooms) : null
    const queued: Queued = { ...block, compressed, bytes: compressed === null ? block.data : null }
    // Done: it may go out with the write after the one in flight. A rejected compression is handled where
    // the chain awaits it; don't let it count as unhandled meanwhile.
    compressed?.then((bytes) => {
      queued.bytes = bytes
      // The raw bytes are done with once compressed (the backend no longer reads them), not once written: an
      // encoder's pooled slab may be used again (slab-pool.ts) while the compressed bytes wait for a write
      // or a seal's fsync, instead of a fresh one taken meanwhile. Once: a promise fulfils once.
      releaseSlabBytes(block.data)
    }, () => {})
    this.#pending += block.data.length
    this.#queue.push(queued)
    this.#writing ??= this.#drain()
  }

  /** The chain's failure (a write, fsync or seal that failed; or stop()'s error), null while it works. */
  get failure (): Error | null {
    return this.#failed
  }

  /** Write nothing more (the sink failed, or was discarded): the blocks still queued are skipped, and a file not yet sealed stays unsealed. */
  stop (err: Error): void {
    this.#failed ??= err
  }

  /** Resolves when every block queued so far is written (or skipped); never rejects. */
  async settled (): Promise<void> {
    await this.#writing
  }

  /** After stop() or a failure: wait for the block in flight, then close the unsealed file (if any), leaving it for recovery. */
  async close (): Promise<void> {
    await this.#writing
    await this.#open?.syncing?.catch(() => {})
    await this.#open?.handle.close().catch(() => {})
    if (this.#open !== null) releaseTemp(this.#open.key)
  }

  kept (started: boolean): KeptReport {
    const open = this.#open
    return {
      dir: this.#dir,
      started,
      sealedFiles: this.#sealedFiles,
      sealedRecords: this.#sealedRecords,
      unsealed: open === null ? null : { path: open.tempPath, records: open.records, inPart: open.inPart }
    }
  }

  /** Write the queued blocks until none are left; the first failure fails the chain, and the rest are skipped. */
  async #drain (): Promise<void> {
    // A tick first: push() stores this loop as #writing, and only then may the loop end and clear it.
    await undefined
    try {
      while (this.#queue.length > 0 && this.#failed === null) await this.#writeNext()
    } catch (err) {
      if (this.#failed === null) {
        this.#failed = err as Error
        this.#on.failed(err as Error)
      }
      this.#on.progress()
    }
    if (this.#failed !== null) this.#queue = []
    this.#writing = null
  }

  /**
   * Write the first queued block, and with it those behind it already
   * compressed, in one write; then account for each, in order, as if it had
   * had its own write. A batch ends at a seal, at a block an fsync follows,
   * before an empty block, and at BLOCKS_PER_WRITE.
   */
  async #writeNext (): Promise<void> {
    const head = this.#queue[0]
    if (head.data.length === 0) {
      this.#queue.shift()
      if (head.seal && this.#open !== null && this.#failed === null) await this.#seal(this.#open)
      return
    }
    const disk = this.#open ?? await this.#create(head.file)
    head.bytes ??= await orIoError(head.compressed as Promise<Buffer>, 'cannot compress a block for', disk.tempPath)
    let n = 1
    while (n < BLOCKS_PER_WRITE && n < this.#queue.length && !this.#endsBatch(this.#queue[n - 1]) && this.#queue[n].bytes !== null && this.#queue[n].data.length > 0) n++
    const batch = this.#queue.splice(0, n)
    let written = 0
    let failure: Error | null = null
    await writevAll(disk.handle, batch.map((block) => block.bytes as Buffer), (bytes) => { written += bytes })
      .catch((err: unknown) => { failure = ioError(err, 'cannot write', disk.tempPath) })
    // On a failure, the blocks before it that reached the file whole count as written (and flushed).
    for (const block of batch) {
      const length = (block.bytes as Buffer).length
      if (failure !== null && written < length) {
        if (written > 0) disk.inPart = block.records
        break
      }
      written -= length
      await this.#wrote(disk, block)
    }
    if (failure !== null) throw failure
    // Stopped while it was written (a discarded sink): the file is not sealed, and stays for recovery as a failed one does.
    if (batch[n - 1].seal && this.#failed === null) await this.#seal(disk)
  }

  /** Whether the block is the last of its write: an fsync or a seal comes after it. */
  #endsBatch (block: Queued): boolean {
    return block.seal || this.#syncsAfter(block)
  }

  #syncsAfter (block: Queued): boolean {
    return this.#fsync === 'always' || (this.#fsync === 'interval' && block.timed)
  }

  /** `block` is in the file: hash it, say what it became, sync as the policy says, and `flush` it. */
  async #wrote (disk: DiskFile, block: Queued): Promise<void> {
    const bytes = block.bytes as Buffer
    disk.hash?.update(bytes)
    // In the file and hashed: nothing reads these bytes again. An uncompressed block goes back to its slab (a
    // compressed one's raw bytes went back once compressed, in push()); a frame, to its room (frame-rooms.ts).
    if (block.compressed === null) releaseSlabBytes(block.data)
    else FrameRooms.giveBack(bytes)
    disk.bytes += bytes.length
    disk.unsynced += bytes.length
    this.#on.written(block.file, block.data.length, bytes.length)
    if (this.#syncsAfter(block)) {
      await this.#fsyncBeside(disk)
    } else if (this.#fsync !== 'never' && disk.unsynced >= SYNC_AHEAD && disk.syncing === null) {
      const syncing = orIoError(startWriteback(disk.handle, disk.bytes - disk.unsynced, disk.unsynced), 'cannot fsync', disk.tempPath)
      disk.unsynced = 0
      disk.syncing = syncing
      // Done: the next may start. Failed: kept, for the next sync or the seal to report.
      syncing.then(() => { if (disk.syncing === syncing) disk.syncing = null }, () => {})
    }
    disk.records += block.records
    this.#flushedRecords += block.records
    this.#pending -= block.data.length
    this.#on.flush({ path: disk.tempPath, records: block.records, totalRecords: this.#flushedRecords, bytes: bytes.length })
    this.#on.progress()
  }

  /**
   * fsync `disk`, beside the writeback started as it grew if one is under
   * way rather than after it: where that is a datasync (writeback.ts), on
   * ext4 both wait for the same journal commit, so the seal at the end of a
   * run waited for two commits, one after the other (tens of ms under load,
   * with nothing else left to do). Either failing fails the file; both have
   * settled when this returns.
   */
  async #fsyncBeside (disk: DiskFile): Promise<void> {
    const syncing = disk.syncing
    disk.syncing = null
    const settled = await Promise.allSettled([syncing, orIoError(disk.handle.sync(), 'cannot fsync', disk.tempPath)])
    for (const result of settled) if (result.status === 'rejected') throw result.reason
  }

  async #create (file: PlannedFile): Promise<DiskFile> {
    const { handle, tempPath, name, key } = await createTemp(this.#dir, file.name)
    // node:crypto (~3-5 ms to load) is required here, not as the sink starts: the first block's compression is
    // under way on the thread pool by now, while before it the second core has nothing to do.
    const disk: DiskFile = { file, name, tempPath, handle, key, hash: this.#sha256 ? nodeCrypto().createHash('sha256') : null, bytes: 0, records: 0, inPart: 0, unsynced: 0, syncing: null }
    this.#open = disk
    // A synced block is only durable if the file's directory entry is too.
    if (this.#fsync === 'always' || this.#fsync === 'interval') await orIoError(syncDir(this.#dir), 'cannot fsync directory', this.#dir)
    this.#on.open({ path: tempPath, name })
    return disk
  }

  async #seal (disk: DiskFile): Promise<void> {
    const { file } = disk
    // (No datasync is started as a file grows with fsync 'never'.)
    if (this.#fsync !== 'never') await this.#fsyncBeside(disk)
    let finalPath: string
    try {
      await orIoError(disk.handle.close(), 'cannot close', disk.tempPath)
      finalPath = await orIoError(sealName(this.#dir, disk.tempPath, disk.name), 'cannot seal', disk.tempPath)
    } finally {
      // Held until it has its name: this process's recovery would take a closed temporary file for a dead writer's.
      releaseTemp(disk.key)
    }
    this.#open = null
    this.#sealedFiles++
    this.#sealedRecords += file.records
    if (this.#fsync !== 'never') await orIoError(syncDir(this.#dir), 'cannot fsync directory', this.#dir)
    const room = this.#on.sealed({
      path: finalPath,
      bytes: disk.bytes,
      records: file.records,
      firstAt: file.firstAt,
      lastAt: file.lastAt,
      ...disk.hash !== null && { sha256: disk.hash.digest('hex') }
    })
    if (room instanceof Promise) await room
  }
}
