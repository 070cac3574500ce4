/**
 * The rolling sink's decisions, without I/O: which file a record goes to,
 * and after each record whether the flush block is cut or the file sealed,
 * and why. The sink (rolling-sink.ts) feeds it records and clock ticks; the
 * file chain (file-chain.ts) does what it decides and reports back what
 * reached the disk, which is what size policies see with gzip on.
 */
import zlib from 'node:zlib'
import type { RollFile, RollPolicy } from './policies.js'
import { expandTemplate } from './template.js'

/**
 * Why a block is cut:
 * - 'full-block': the block reached blockSize;
 * - 'timer': the flush interval passed;
 * - 'policy': the roll policy fired after a record (the file is sealed);
 * - 'deadline': the file is past its age deadline, seen by its timer or by the next record (sealed);
 * - 'end': end() was called (sealed);
 * - 'refused': a record was refused (over maxRecordSize, not encodable): the
 *   records before it are written, then the sink fails, leaving the file to recovery.
 */
export type CutReason = 'full-block' | 'timer' | 'policy' | 'deadline' | 'end' | 'refused'

const SEALS: Record<CutReason, boolean> = { 'full-block': false, timer: false, policy: true, deadline: true, end: true, refused: false }

/** Cuts the clock asked for: fsync 'interval' syncs after these. */
export function isTimed (reason: CutReason): boolean {
  return reason === 'timer' || reason === 'deadline'
}

/** A file as the caller's side sees it (what policies are asked about). */
export interface PlannedFile extends RollFile {
  name: string
  openedAt: number
  bytes: number
  rawBytes: number
  records: number
  firstAt: number
  lastAt: number
  /** Raw bytes of this file the writing stage has written, and the bytes that became on disk. */
  rawOnDisk: number
  bytesOnDisk: number
  /** When the policy says this file must roll even if idle (ms), if it says. */
  deadline: number | undefined
}

/** A decision to end a flush block of `file` (and with `seal`, the file). */
export interface Cut {
  file: PlannedFile
  /** Records in the block. */
  records: number
  seal: boolean
  reason: CutReason
}

export interface PlannerOptions {
  template: string
  policy: RollPolicy | undefined
  blockSize: number
  /** The gzip level, when files are compressed (size policies then see estimated compressed sizes). */
  gzipLevel: number | undefined
}

/** Raw bytes compressed once to seed the compression ratio. */
const RATIO_SAMPLE = 64 * 1024

export class RollPlanner {
  readonly #template: string
  readonly #policy: RollPolicy | undefined
  readonly #blockSize: number
  readonly #gzipLevel: number | undefined
  #file: PlannedFile | null = null
  #seq = 0
  #blockBytes = 0
  #blockRecords = 0
  #ratio = 1
  #ratioSeeded = false
  #rawWritten = 0
  #diskWritten = 0

  constructor (options: PlannerOptions) {
    this.#template = options.template
    this.#policy = options.policy
    this.#blockSize = options.blockSize
    this.#gzipLevel = options.gzipLevel
  }

  /** The file records go to now, if one is open. */
  get file (): PlannedFile | null {
    return this.#file
  }

  /** Raw bytes in the block not cut yet. */
  get blockBytes (): number {
    return this.#blockBytes
  }

  /**
   * Is the file past its deadline (its timer has not run yet, or the clock is
   * the caller's)? Then it is sealed before the next record, so age rolls
   * keep files within their period.
   */
  pastDeadline (now: number): boolean {
    return this.#file?.deadline !== undefined && now >= this.#file.deadline
  }

  /** The open file, or a new one opened at `now` (its name from the template, its deadline from the policy). */
  fileAt (now: number): PlannedFile {
    if (this.#file !== null) return this.#file
    const seq = this.#seq++
    const file: PlannedFile = {
      name: expandTemplate(this.#template, { now, seq }),
      openedAt: now,
      bytes: 0,
      rawBytes: 0,
      records: 0,
      firstAt: now,
      lastAt: now,
      rawOnDisk: 0,
      bytesOnDisk: 0,
      deadline: undefined
    }
    this.#file = file
    this.#policy?.start?.(file)
    file.deadline = this.#policy?.deadline?.(file)
    return file
  }

  /** With gzip, before the first block comes back: would a record of `bytes` complete the ratio sample? */
  needsRatio (bytes: number): boolean {
    return !this.#ratioSeeded && this.#gzipLevel !== undefined && this.#blockBytes + bytes >= Math.min(RATIO_SAMPLE, this.#blockSize)
  }

  /**
   * Size rolls with gzip need the compression ratio before the first block
   * comes back from the threadpool: compress a sample of the data once.
   */
  seedRatio (sample: Buffer): void {
    this.#ratioSeeded = true
    this.#ratio = zlib.deflateRawSync(sample, { level: this.#gzipLevel }).length / Math.max(1, sample.length)
  }

  /** Count one record of `bytes` into the block and the file; a cut, if the policy or a full block asks for one. */
  add (file: PlannedFile, bytes: number, now: number): 'policy' | 'full-block' | null {
    this.#blockBytes += bytes
    this.#blockRecords++
    if (file.records === 0) file.firstAt = now
    file.records++
    file.rawBytes += bytes
    file.lastAt = now
    // With gzip, what is not compressed yet is estimated at the ratio seen so far.
    file.bytes = this.#gzipLevel === undefined
      ? file.rawBytes
      : file.bytesOnDisk + Math.ceil((file.rawBytes - file.rawOnDisk) * this.#ratio)
    if (this.#policy?.check(file, now) === true) return 'policy'
    return this.#blockBytes >= this.#blockSize ? 'full-block' : null
  }

  /** End the current block for `reason` (sealing the file if the reason does); null when no file is open. */
  cut (reason: CutReason): Cut | null {
    const file = this.#file
    if (file === null) return null
    const cut: Cut = { file, records: this.#blockRecords, seal: SEALS[reason], reason }
    this.#blockBytes = 0
    this.#blockRecords = 0
    if (cut.seal) this.#file = null
    return cut
  }

  /** The writing stage wrote `raw` bytes of `file` as `disk` bytes: what the size estimate learns from. */
  written (file: PlannedFile, raw: number, disk: number): void {
    file.rawOnDisk += raw
    file.bytesOnDisk += disk
    this.#rawWritten += raw
    this.#diskWritten += disk
    this.#ratio = this.#diskWritten / this.#rawWritten
    this.#ratioSeeded = true
  }
}
