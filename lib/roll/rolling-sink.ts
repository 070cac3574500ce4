/**
 * rollingSink(): a Writable of records (or of encode()'s output bytes) that
 * writes a series of archive files in a directory.
 *
 * Two stages. On the caller's side, records are encoded into a flush block
 * and the roll policy is asked after each record; a block is cut when it is
 * full, when the flush interval passes, at a roll, and at end(). Behind it, a
 * serial chain compresses (gzip: one independent member per block, on the
 * threadpool, so encoding and compression overlap), writes, fsyncs as the
 * policy says, and seals: fsync, close, link to the final name, fsync the
 * directory, and only then `close`. A crash loses at most the blocks not yet
 * written; everything written is recoverable (recover.ts).
 */
import { createHash, type Hash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import zlib from 'node:zlib'
// node:stream rather than readable-stream here: _construct (async start-up) is typed there.
import { Writable } from 'node:stream'
import { gzipLevel, gzipMember, type GzipOptions } from '../compress/gzip.js'
import { invalidOption } from '../errors.js'
import { ArchiveEncoder, type EncoderOptions } from '../format/encoder.js'
import { recordEnds } from '../format/walk.js'
import type { RecordInput } from '../record.js'
import { parseDuration, parseSize } from '../units.js'
import { syncDir, writeAll } from '../fs/durable.js'
import { sealName, tempName } from './names.js'
import { rollPolicy, type RollFile, type RollOptions, type RollPolicy } from './policies.js'
import { recoverDirectory, type RecoveredFile } from './recover.js'
import { checkTemplate, DEFAULT_TEMPLATE, expandTemplate } from './template.js'
import { SealedUploader, type UploadOptions } from './uploader.js'
import type { TransferSnapshot } from '../store/stats.js'

export type FsyncPolicy = 'never' | 'onClose' | 'interval' | 'always'

export interface RollingSinkOptions extends EncoderOptions {
  /** Directory to write into; created if missing. */
  dir: string
  /** File-name template (see template.ts). Default '%Y%m%dT%H%M%S%fZ-{host}-{pid}-{seq}.shoebox'. */
  template?: string
  /** When to start a new file. Default: one file until end(). */
  roll?: RollOptions
  /** Compress each flush block as an independent gzip member; sealed names end in .gz. */
  gzip?: boolean | GzipOptions
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
  /** The clock, ms since the epoch (tests). Default Date.now. */
  clock?: () => number
  /**
   * Ship each sealed file to a store (see uploader.ts): `upload` events, and
   * `finish` only once every sealed file is uploaded and verified.
   */
  upload?: UploadOptions
}

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

/** A file as the caller's side sees it (what policies are asked about). */
interface PlannedFile extends RollFile {
  name: string
  openedAt: number
  bytes: number
  rawBytes: number
  records: number
  firstAt: number
  lastAt: number
  /** Raw bytes of this file the writing stage has written. */
  rawOnDisk: number
  /** When the policy says this file must roll even if idle (ms), if it says. */
  deadline: number | undefined
  /** Set by the writing stage once the file exists on disk. */
  disk: DiskFile | null
}

interface DiskFile {
  tempPath: string
  handle: fs.FileHandle
  hash: Hash
  bytes: number
}

interface Block {
  file: PlannedFile
  data: Buffer
  records: number
  compressed: Promise<Buffer> | null
  seal: boolean
  timed: boolean
}

const RATIO_SAMPLE = 64 * 1024
const FSYNC_POLICIES: readonly FsyncPolicy[] = ['never', 'onClose', 'interval', 'always']

export class RollingSink extends Writable {
  readonly dir: string
  readonly template: string
  readonly gzipLevel: number | undefined
  readonly fsync: FsyncPolicy
  /** Files recovered when the sink started. */
  recovered: RecoveredFile[] = []
  /** Records written to disk so far (passed a flush point). */
  flushedRecords = 0
  #policy: RollPolicy | undefined
  #encoder: ArchiveEncoder
  #raw: Buffer[] = []
  #blockBytes = 0
  #blockRecords = 0
  #blockSize: number
  #maxPending: number
  #pending = 0
  #waiting: Array<() => void> = []
  #flushInterval: number
  #flushTimer: ReturnType<typeof setInterval> | null = null
  #ageTimer: ReturnType<typeof setTimeout> | null = null
  #clock: () => number
  #recover: boolean
  #file: PlannedFile | null = null
  #seq = 0
  #ratio = 1
  #ratioSeeded = false
  #rawWritten = 0
  #diskWritten = 0
  #chain: Promise<void> = Promise.resolve()
  #failed: Error | null = null
  /** Set once the constructor has checked every option (see _construct). */
  #checked = false
  /** Ships sealed files when `upload` is set. */
  readonly uploader: SealedUploader | undefined

  constructor (options: RollingSinkOptions) {
    // A small queue: writes may be whole 1 MiB encoded chunks, and maxPending bounds the rest.
    super({ objectMode: true, highWaterMark: 16 })
    if (options === null || typeof options !== 'object' || typeof options.dir !== 'string' || options.dir === '') {
      throw invalidOption('dir', 'a directory to write into is required')
    }
    const { fsync = 'onClose' } = options
    if (!FSYNC_POLICIES.includes(fsync)) throw invalidOption('fsync', `must be one of ${FSYNC_POLICIES.join(', ')}, got ${String(fsync)}`)
    this.dir = options.dir
    this.gzipLevel = gzipLevel(options.gzip)
    let template = options.template ?? DEFAULT_TEMPLATE
    checkTemplate(template)
    if (this.gzipLevel !== undefined && !template.endsWith('.gz')) template += '.gz'
    this.template = template
    this.fsync = fsync
    this.#policy = rollPolicy(options.roll)
    this.#blockSize = parseSize(options.blockSize ?? 1024 * 1024, 'blockSize')
    // At least two blocks, so one can be written while the next fills.
    this.#maxPending = Math.max(2 * this.#blockSize, parseSize(options.maxPending ?? 8 * 1024 * 1024, 'maxPending'))
    this.#flushInterval = parseDuration(options.flushInterval ?? 1000, 'flushInterval')
    // Exact sizes: the size policies count each record's bytes as it is written.
    this.#encoder = new ArchiveEncoder({ ...options, chunkSize: Math.max(64, this.#blockSize) }, { exactSizes: true })
    this.#clock = options.clock ?? Date.now
    this.#recover = options.recover ?? true
    if (options.upload !== undefined) {
      const uploader = new SealedUploader(this.dir, options.upload)
      uploader.on('upload', (event) => this.emit('upload', event))
      uploader.on('uploadError', (event) => this.emit('uploadError', event))
      this.uploader = uploader
    }
    this.#checked = true
  }

  override _construct (callback: (error?: Error | null) => void): void {
    // Writable schedules _construct before our constructor's checks run; if one
    // of them threw, nobody holds this stream: create no directory, start nothing.
    if (!this.#checked) {
      callback()
      return
    }
    this.#start().then(() => { callback() }, (err: Error) => { callback(err) })
  }

  async #start (): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true })
    if (this.#recover) {
      this.recovered = await recoverDirectory(this.dir)
      for (const r of this.recovered) this.emit('recover', r)
    }
    // Files sealed before (by a run that stopped or crashed) go first.
    await this.uploader?.resume()
    if (this.#flushInterval > 0) {
      this.#flushTimer = setInterval(() => { this.#cut(false, true) }, this.#flushInterval)
      this.#flushTimer.unref()
    }
  }

  override _write (chunk: RecordInput | RecordInput[] | Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#failed !== null) {
      callback(this.#failed)
      return
    }
    try {
      const now = this.#clock()
      if (Array.isArray(chunk)) {
        for (let i = 0; i < chunk.length; i++) this.#add(chunk[i], now)
      } else {
        this.#add(chunk, now)
      }
    } catch (err) {
      callback(err as Error)
      return
    }
    if (this.#pending + this.#blockBytes < this.#maxPending) callback()
    else this.#waiting.push(() => { callback(this.#failed) })
  }

  override _final (callback: (error?: Error | null) => void): void {
    this.#stopTimers()
    this.#cut(true, false)
    const uploaded = async (): Promise<void> => {
      await this.#chain
      if (this.#failed !== null || this.uploader === undefined) return
      // Every record is on disk; a file whose upload failed stays queued there for the next start.
      const failure = await this.uploader.drain()
      await this.uploader.close()
      if (failure !== undefined) throw failure
    }
    uploaded().then(() => { callback(this.#failed) }, callback)
  }

  /** Transfer statistics of the uploads, when `upload` is set. */
  stats (): TransferSnapshot | undefined {
    return this.uploader?.stats()
  }

  override _destroy (err: Error | null, callback: (error: Error | null) => void): void {
    this.#stopTimers()
    this.#failed ??= err ?? new Error('rolling sink destroyed')
    // Leave the file being written as it is: a temporary file, recoverable later.
    const file = this.#file?.disk ?? null
    this.#chain.then(() => file?.handle.close(), () => file?.handle.close())
      .then(async () => { await this.uploader?.close() })
      .then(() => { callback(err) }, () => { callback(err) })
  }

  #add (item: RecordInput | Buffer, now: number): void {
    if (Buffer.isBuffer(item)) {
      this.#addEncoded(item, now)
      return
    }
    if (this.#pastDeadline(now)) this.#cut(true, true)
    const file = this.#file ?? this.#plan(now)
    const before = this.#encoder.pendingBytes
    this.#encoder.write(item)
    const bytes = this.#encoder.pendingBytes - before
    if (this.#needsRatio(bytes)) {
      const parts = this.#encoder.take()
      for (const part of parts) this.#raw.push(part)
      this.#seedRatio(parts.length === 1 ? parts[0] : Buffer.concat(this.#raw))
    }
    const action = this.#account(file, bytes, now)
    if (action !== null) this.#cut(action === 'seal', false)
  }

  /**
   * Bytes of whole encoded records (encode()'s output). The policy is still
   * asked after every record, so a chunk of many records is cut exactly
   * where it fires; runs of records between cuts stay one slice.
   */
  #addEncoded (buf: Buffer, now: number): void {
    const ends = recordEnds(buf)
    for (const part of this.#encoder.take()) this.#raw.push(part)
    let segment = 0
    let start = 0
    for (const end of ends) {
      if (this.#pastDeadline(now)) {
        if (start > segment) this.#raw.push(buf.subarray(segment, start))
        segment = start
        this.#cut(true, true)
      }
      const file = this.#file ?? this.#plan(now)
      if (this.#needsRatio(end - start)) this.#seedRatio(buf.subarray(segment, end))
      const action = this.#account(file, end - start, now)
      if (action !== null) {
        this.#raw.push(buf.subarray(segment, end))
        segment = end
        this.#cut(action === 'seal', false)
      }
      start = end
    }
    if (segment < buf.length) this.#raw.push(buf.subarray(segment))
  }

  /**
   * Is the file past its deadline (its timer has not run yet, or the clock is
   * the caller's)? Then it is sealed before the next record, so age rolls
   * keep files within their period.
   */
  #pastDeadline (now: number): boolean {
    return this.#file?.deadline !== undefined && now >= this.#file.deadline
  }

  #needsRatio (bytes: number): boolean {
    return !this.#ratioSeeded && this.gzipLevel !== undefined && this.#blockBytes + bytes >= Math.min(RATIO_SAMPLE, this.#blockSize)
  }

  /** Count one record of `bytes` into the block and the file; what the policy (or a full block) asks for. */
  #account (file: PlannedFile, bytes: number, now: number): 'seal' | 'block' | null {
    this.#blockBytes += bytes
    this.#blockRecords++
    if (file.records === 0) file.firstAt = now
    file.records++
    file.rawBytes += bytes
    file.lastAt = now
    // With gzip, what is not compressed yet is estimated at the ratio seen so far.
    file.bytes = this.gzipLevel === undefined
      ? file.rawBytes
      : (file.disk?.bytes ?? 0) + Math.ceil((file.rawBytes - file.rawOnDisk) * this.#ratio)
    if (this.#policy?.check(file, now) === true) return 'seal'
    return this.#blockBytes >= this.#blockSize ? 'block' : null
  }


  /**
   * Size rolls with gzip need the compression ratio before the first block
   * comes back from the threadpool: compress a sample of the data once.
   */
  #seedRatio (sample: Buffer): void {
    this.#ratioSeeded = true
    this.#ratio = zlib.deflateRawSync(sample, { level: this.gzipLevel }).length / Math.max(1, sample.length)
  }


  #plan (now: number): PlannedFile {
    const seq = this.#seq++
    const file: PlannedFile = {
      name: expandTemplate(this.template, { now, seq }),
      openedAt: now,
      bytes: 0,
      rawBytes: 0,
      records: 0,
      firstAt: now,
      lastAt: now,
      rawOnDisk: 0,
      disk: null,
      deadline: undefined
    }
    this.#file = file
    this.#policy?.start?.(file)
    const deadline = this.#policy?.deadline?.(file)
    file.deadline = deadline
    if (deadline !== undefined) {
      this.#ageTimer = setTimeout(() => {
        this.#ageTimer = null
        if (this.#file === file) this.#cut(true, true)
      }, Math.max(0, deadline - now))
      this.#ageTimer.unref()
    }
    return file
  }

  /** End the current flush block (and with `seal`, the current file). */
  #cut (seal: boolean, timed: boolean): void {
    const file = this.#file
    if (file === null) return
    const parts = this.#raw
    for (const part of this.#encoder.take()) parts.push(part)
    this.#raw = []
    if (parts.length === 0 && !seal) return
    const data = parts.length === 1 ? parts[0] : Buffer.concat(parts)
    const block: Block = {
      file,
      data,
      records: this.#blockRecords,
      compressed: this.gzipLevel !== undefined && data.length > 0 ? gzipMember(data, this.gzipLevel) : null,
      seal,
      timed
    }
    // A rejected compression is handled where the chain awaits it; don't let it count as unhandled meanwhile.
    block.compressed?.catch(() => {})
    this.#pending += data.length
    this.#blockBytes = 0
    this.#blockRecords = 0
    if (seal) {
      this.#file = null
      if (this.#ageTimer !== null) clearTimeout(this.#ageTimer)
      this.#ageTimer = null
    }
    this.#chain = this.#chain.then(() => this.#writeBlock(block)).catch((err: Error) => {
      if (this.#failed === null) {
        this.#failed = err
        this.destroy(err)
      }
      this.#release()
    })
  }

  async #writeBlock (block: Block): Promise<void> {
    if (this.#failed !== null) return
    const { file } = block
    if (block.data.length > 0) {
      const disk = file.disk ?? await this.#open(file)
      const bytes = block.compressed !== null ? await block.compressed : block.data
      await writeAll(disk.handle, bytes)
      disk.hash.update(bytes)
      disk.bytes += bytes.length
      file.rawOnDisk += block.data.length
      this.#rawWritten += block.data.length
      this.#diskWritten += bytes.length
      this.#ratio = this.#diskWritten / this.#rawWritten
      this.#ratioSeeded = true
      if (this.fsync === 'always' || (this.fsync === 'interval' && block.timed)) await disk.handle.sync()
      this.flushedRecords += block.records
      this.#pending -= block.data.length
      this.emit('flush', { path: disk.tempPath, records: block.records, totalRecords: this.flushedRecords, bytes: bytes.length } satisfies FlushEvent)
      this.#release()
    }
    if (block.seal && file.disk !== null) await this.#seal(file, file.disk)
  }

  async #open (file: PlannedFile): Promise<DiskFile> {
    const tempPath = path.join(this.dir, tempName(file.name))
    const handle = await fs.open(tempPath, 'wx')
    // A synced block is only durable if the file's directory entry is too.
    if (this.fsync === 'always' || this.fsync === 'interval') await syncDir(this.dir)
    const disk: DiskFile = { tempPath, handle, hash: createHash('sha256'), bytes: 0 }
    file.disk = disk
    this.emit('open', { path: tempPath, name: file.name } satisfies OpenEvent)
    return disk
  }

  async #seal (file: PlannedFile, disk: DiskFile): Promise<void> {
    if (this.fsync !== 'never') await disk.handle.sync()
    await disk.handle.close()
    const finalPath = await sealName(this.dir, disk.tempPath, file.name)
    if (this.fsync !== 'never') await syncDir(this.dir)
    this.emit('sealed', {
      path: finalPath,
      bytes: disk.bytes,
      records: file.records,
      firstAt: file.firstAt,
      lastAt: file.lastAt,
      sha256: disk.hash.digest('hex')
    } satisfies SealedEvent)
    this.uploader?.enqueue(finalPath)
  }

  #release (): void {
    if (this.#failed === null && this.#pending + this.#blockBytes >= this.#maxPending) return
    const waiting = this.#waiting
    this.#waiting = []
    for (const resume of waiting) resume()
  }

  #stopTimers (): void {
    if (this.#flushTimer !== null) clearInterval(this.#flushTimer)
    if (this.#ageTimer !== null) clearTimeout(this.#ageTimer)
    this.#flushTimer = null
    this.#ageTimer = null
  }
}

export function rollingSink (options: RollingSinkOptions): RollingSink {
  return new RollingSink(options)
}
