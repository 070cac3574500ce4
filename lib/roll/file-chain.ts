/**
 * The rolling sink's writing stage: a serial chain of blocks that compresses
 * (gzip or zstd: one independent member/frame per block, started off the main
 * thread as soon as the block is cut, so encoding and compression overlap), writes, fsyncs
 * as the policy says, and seals: fsync, close, link to the final name, fsync
 * the directory, and only then `sealed`. A file is created with its first
 * block, so no file is ever empty. A crash loses at most the blocks not yet
 * written; everything written is recoverable (recover.ts). Every filesystem
 * failure is a SHOEBOX_IO error naming the file or directory, and kept() says
 * what is on disk.
 *
 * A file's bytes go to the disk as it grows: a datasync per SYNC_AHEAD bytes
 * written, started and not awaited (unless fsync is 'never'). The fsync at a
 * seal then has little left to do: a 32 MiB file's took 50-70 ms here, during
 * which the chain, and at the end of a run the whole process, stood still.
 */
import type { Hash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Compression } from '../compress/codecs.js'
import { releaseSlabBytes } from '../format/slab-pool.js'
import { nodeCrypto, syncDir, writeAll } from '../fs/durable.js'
import { orIoError } from '../fs/io-error.js'
import { sealName, tempName } from './names.js'
import type { PlannedFile } from './planner.js'

/** Bytes written to a file between the datasyncs started as it grows (see above). */
const SYNC_AHEAD = 4 * 1024 * 1024

export type FsyncPolicy = 'never' | 'onClose' | 'interval' | 'always'

export interface OpenEvent { path: string, name: string }
export interface FlushEvent { path: string, records: number, totalRecords: number, bytes: number }
export interface SealedEvent {
  path: string
  bytes: number
  records: number
  firstAt: number
  lastAt: number
  sha256: string
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
  unsealed: { path: string, records: number } | null
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
  sealed: (event: SealedEvent) => void
  /** `raw` bytes of `file` were written as `disk` bytes (before any fsync). */
  written: (file: PlannedFile, raw: number, disk: number) => void
  /** A block was written, or the chain failed: writers waiting for room may go on (or fail). */
  progress: () => void
  /** The first failure; the chain writes nothing after it. */
  failed: (err: Error) => void
}

interface DiskFile {
  file: PlannedFile
  tempPath: string
  handle: fs.FileHandle
  hash: Hash
  bytes: number
  records: number
  /** Bytes written since the last datasync started. */
  unsynced: number
  /** The datasync under way, if any: awaited before the next sync, and its failure is the file's (a failed fsync need not fail twice). */
  syncing: Promise<void> | null
}

interface Queued extends BlockToWrite {
  compressed: Promise<Buffer> | null
}

export class FileChain {
  readonly #dir: string
  readonly #fsync: FsyncPolicy
  readonly #compression: Compression | undefined
  readonly #on: ChainListener
  #tail: Promise<void> = Promise.resolve()
  #failed: Error | null = null
  /** The file on disk under its temporary name, if any. */
  #open: DiskFile | null = null
  #pending = 0
  #flushedRecords = 0
  #sealedFiles = 0
  #sealedRecords = 0

  constructor (dir: string, options: { fsync: FsyncPolicy, compression: Compression | undefined }, listener: ChainListener) {
    this.#dir = dir
    this.#fsync = options.fsync
    this.#compression = options.compression
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

  /** Queue a block; compression starts now, the write when the blocks before it are done. */
  push (block: BlockToWrite): void {
    const compression = this.#compression
    const queued: Queued = {
      ...block,
      compressed: compression !== undefined && block.data.length > 0 ? compression.codec.compressBlock(block.data, compression.level, this.#dir) : null
    }
    // A rejected compression is handled where the chain awaits it; don't let it count as unhandled meanwhile.
    queued.compressed?.catch(() => {})
    this.#pending += block.data.length
    this.#tail = this.#tail.then(() => this.#write(queued)).catch((err: Error) => {
      if (this.#failed === null) {
        this.#failed = err
        this.#on.failed(err)
      }
      this.#on.progress()
    })
  }

  /** Write nothing more (the sink was destroyed): the blocks still queued are skipped. */
  stop (err: Error): void {
    this.#failed ??= err
  }

  /** Resolves when every block queued so far is written (or skipped); never rejects. */
  async settled (): Promise<void> {
    await this.#tail
  }

  /** After stop(): wait for the block in flight, then close the unsealed file, leaving it for recovery. */
  async close (): Promise<void> {
    await this.#tail
    await this.#open?.syncing?.catch(() => {})
    await this.#open?.handle.close().catch(() => {})
  }

  kept (started: boolean): KeptReport {
    const open = this.#open
    return {
      dir: this.#dir,
      started,
      sealedFiles: this.#sealedFiles,
      sealedRecords: this.#sealedRecords,
      unsealed: open === null ? null : { path: open.tempPath, records: open.records }
    }
  }

  async #write (block: Queued): Promise<void> {
    if (this.#failed !== null) return
    const { file } = block
    if (block.data.length > 0) {
      const disk = this.#open ?? await this.#create(file)
      const bytes = block.compressed !== null ? await orIoError(block.compressed, 'cannot compress a block for', disk.tempPath) : block.data
      // The raw bytes are done with once compressed: an encoder's pooled slab may be used again (slab-pool.ts).
      if (block.compressed !== null) releaseSlabBytes(block.data)
      await orIoError(writeAll(disk.handle, bytes), 'cannot write', disk.tempPath)
      disk.hash.update(bytes)
      if (block.compressed === null) releaseSlabBytes(block.data)
      disk.bytes += bytes.length
      disk.unsynced += bytes.length
      this.#on.written(file, block.data.length, bytes.length)
      if (this.#fsync === 'always' || (this.#fsync === 'interval' && block.timed)) {
        await this.#fsyncBeside(disk)
      } else if (this.#fsync !== 'never' && disk.unsynced >= SYNC_AHEAD && disk.syncing === null) {
        disk.unsynced = 0
        const syncing = orIoError(disk.handle.datasync(), 'cannot fsync', disk.tempPath)
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
    if (block.seal && this.#open !== null) await this.#seal(this.#open)
  }

  /**
   * fsync `disk`, beside the datasync started as it grew if one is under way
   * rather than after it: on ext4 both wait for the same journal commit, so
   * the seal at the end of a run waited for two commits, one after the other
   * (tens of ms under load, with nothing else left to do). Either failing
   * fails the file; both have settled when this returns.
   */
  async #fsyncBeside (disk: DiskFile): Promise<void> {
    const syncing = disk.syncing
    disk.syncing = null
    const settled = await Promise.allSettled([syncing, orIoError(disk.handle.sync(), 'cannot fsync', disk.tempPath)])
    for (const result of settled) if (result.status === 'rejected') throw result.reason
  }

  async #create (file: PlannedFile): Promise<DiskFile> {
    const tempPath = path.join(this.#dir, tempName(file.name))
    const handle = await orIoError(fs.open(tempPath, 'wx'), 'cannot create', tempPath)
    // node:crypto (~3-5 ms to load) is required here, not as the sink starts: the first block's compression is
    // under way on the thread pool by now, while before it the second core has nothing to do.
    const disk: DiskFile = { file, tempPath, handle, hash: nodeCrypto().createHash('sha256'), bytes: 0, records: 0, unsynced: 0, syncing: null }
    this.#open = disk
    // A synced block is only durable if the file's directory entry is too.
    if (this.#fsync === 'always' || this.#fsync === 'interval') await orIoError(syncDir(this.#dir), 'cannot fsync directory', this.#dir)
    this.#on.open({ path: tempPath, name: file.name })
    return disk
  }

  async #seal (disk: DiskFile): Promise<void> {
    const { file } = disk
    // (No datasync is started as a file grows with fsync 'never'.)
    if (this.#fsync !== 'never') await this.#fsyncBeside(disk)
    await orIoError(disk.handle.close(), 'cannot close', disk.tempPath)
    const finalPath = await orIoError(sealName(this.#dir, disk.tempPath, file.name), 'cannot seal', disk.tempPath)
    this.#open = null
    this.#sealedFiles++
    this.#sealedRecords += file.records
    if (this.#fsync !== 'never') await orIoError(syncDir(this.#dir), 'cannot fsync directory', this.#dir)
    this.#on.sealed({
      path: finalPath,
      bytes: disk.bytes,
      records: file.records,
      firstAt: file.firstAt,
      lastAt: file.lastAt,
      sha256: disk.hash.digest('hex')
    })
  }
}
