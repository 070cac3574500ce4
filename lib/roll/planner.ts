/**
 * The rolling sink's decisions, without I/O: which file a record goes to,
 * and after each record whether the flush block is cut or the file sealed,
 * and why. The sink (rolling-sink.ts) feeds it records and clock ticks; the
 * file chain (file-chain.ts) does what it decides and reports back what
 * reached the disk, which is what size policies see with gzip on.
 */
import { nodeZlib } from '../compress/gzip.js'
import { invalidOption } from '../errors.js'
import { isMonotone, type RollFile, type RollPolicy } from './policies.js'
import { expandTemplate } from './template.js'

/**
 * Why a block is cut:
 * - 'full-block': the block reached blockSize;
 * - 'timer': the flush interval passed;
 * - 'policy': the roll policy fired after a record (the file is sealed);
 * - 'deadline': the file is past its age deadline, seen by its timer or by the next record (sealed);
 * - 'end': end() was called (sealed);
 * - 'refused': a record was refused (over maxRecordSize, not encodable): the
 *   records before it are written, then the sink fails, leaving the file to recovery;
 * - 'listener-failed': a 'sealed' or 'upload' listener failed: the sink takes no more
 *   records, and fails once the file is sealed (sealed);
 * - 'destroyed': the sink was destroyed (a pipeline's other stage failed, an
 *   abort): every record it took is written and the file sealed before the
 *   destroy completes (sealed).
 */
export type CutReason = 'full-block' | 'timer' | 'policy' | 'deadline' | 'end' | 'refused' | 'listener-failed' | 'destroyed'

const SEALS: Record<CutReason, boolean> = { 'full-block': false, timer: false, policy: true, deadline: true, end: true, refused: false, 'listener-failed': true, destroyed: true }

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

/** What RollPlanner.addRun() did: records counted, and the cut the last of them asks for (null: none). */
export interface PlannedRun {
  records: number
  reason: 'policy' | 'full-block' | null
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
  /** The policy may be asked about many records at once (see addRun). */
  readonly #monotone: boolean
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
    this.#monotone = options.policy === undefined || isMonotone(options.policy)
  }

  /** The policy's check(): true to seal (its throw refused as asked() says). */
  #check (file: PlannedFile, now: number): boolean {
    const policy = this.#policy as RollPolicy
    return asked('check()', () => policy.check(file, now)) === true
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
    const policy = this.#policy
    if (policy?.start !== undefined) asked('start()', () => { policy.start?.(file) })
    if (policy?.deadline !== undefined) file.deadline = asked('deadline()', () => policy.deadline?.(file))
    return file
  }

  /** With gzip, before the first block comes back: would a record of `bytes` complete the ratio sample? */
  needsRatio (bytes: number): boolean {
    return !this.#ratioSeeded && this.#gzipLevel !== undefined && this.#blockBytes + bytes >= Math.min(RATIO_SAMPLE, this.#blockSize)
  }

  /**
   * Whether addRun() may count many records in one call: the policy is
   * monotone, and no ratio sample is due (until one is, with compression,
   * needsRatio is asked before each record). Otherwise the caller checks
   * pastDeadline and needsRatio before each record, and calls addRun() for one.
   */
  get batches (): boolean {
    return this.#monotone && (this.#ratioSeeded || this.#gzipLevel === undefined)
  }

  /**
   * Size rolls with gzip need the compression ratio before the first block
   * comes back from the threadpool: compress a sample of the data once.
   * (node:zlib, ~3 ms of start-up, is required here: a write of less than a
   * sample never loads it.)
   */
  seedRatio (sample: Buffer): void {
    this.#ratioSeeded = true
    this.#ratio = nodeZlib().deflateRawSync(sample, { level: this.#gzipLevel }).length / Math.max(1, sample.length)
  }

  /**
   * The ratio sample is being compressed by a codec with no synchronous call
   * (zstd): its ratio comes through sampled(), and nothing is planned until
   * then (the sink holds the records after the sample). Meanwhile the estimate
   * is the plain size. Deflating the sample as well only to replace its ratio
   * cost ~1 ms of a zstd write's start, node:zlib's load included.
   */
  awaitRatio (): void {
    this.#ratioSeeded = true
    this.#ratio = 1
  }

  /** Count one record of `bytes` into the block and the file; a cut, if the policy or a full block asks for one. */
  add (file: PlannedFile, bytes: number, now: number): 'policy' | 'full-block' | null {
    const { firstAt, lastAt, bytes: estimated } = file
    this.#blockBytes += bytes
    this.#blockRecords++
    if (file.records === 0) file.firstAt = now
    file.records++
    file.rawBytes += bytes
    file.lastAt = now
    file.bytes = this.#estimate(file)
    if (this.#policy !== undefined) {
      try {
        if (this.#check(file, now)) return 'policy'
      } catch (err) {
        // Refused (asked()): not counted, as it is not written.
        file.records--
        file.rawBytes -= bytes
        file.firstAt = firstAt
        file.lastAt = lastAt
        file.bytes = estimated
        this.#blockBytes -= bytes
        this.#blockRecords--
        throw err
      }
    }
    return this.#blockBytes >= this.#blockSize ? 'full-block' : null
  }

  /**
   * add() for records from..to-1 of a chunk, whose record i ends at byte
   * ends[i] and record `from` starts at byte `start`: counts them up to and
   * including the first one that asks for a cut, and says how many it
   * counted (run.records) and why it stopped (run.reason; null: all counted,
   * no cut). The same state and decisions as add() called for each record
   * at the same `now`. With the built-in policies, which are monotone (see
   * policies.ts), the record that fires is found by bisection, asking the
   * policy about a few records instead of each of ~1,700 a 1 MiB block of
   * event NDJSON holds (the per-record loop was ~20 ms of `shoebox write`'s
   * main thread for 200 MB); a policy of the user's is asked after every
   * record, as add() does (see batches).
   */
  addRun (file: PlannedFile, ends: ArrayLike<number>, from: number, to: number, start: number, now: number, run: PlannedRun): void {
    if (!this.#monotone) {
      let prev = start
      for (let i = from; i < to; i++) {
        // A policy that throws (asked()): the records before this one are counted, for the sink to write.
        run.records = i - from
        const reason = this.add(file, ends[i] - prev, now)
        prev = ends[i]
        if (reason !== null) {
          run.records = i + 1 - from
          run.reason = reason
          return
        }
      }
      run.records = to - from
      run.reason = null
      return
    }
    const records = file.records
    const rawBytes = file.rawBytes
    const firstAt = records === 0 ? now : file.firstAt
    // The state after the first n records of the run, and whether a cut is asked for there (monotone in n).
    const after = (n: number): 'policy' | 'full-block' | null => {
      const bytes = ends[from + n - 1] - start
      file.records = records + n
      file.rawBytes = rawBytes + bytes
      file.firstAt = firstAt
      file.lastAt = now
      file.bytes = this.#estimate(file)
      if (this.#policy !== undefined && this.#check(file, now)) return 'policy'
      return this.#blockBytes + bytes >= this.#blockSize ? 'full-block' : null
    }
    let count = to - from
    let reason = count > 0 ? after(count) : null
    if (reason !== null) {
      // The first n that asks for a cut: after(high) asks, after(low) does not (n = 0: nothing counted asks nothing).
      let low = 0
      let high = count
      while (high - low > 1) {
        const mid = (low + high) >>> 1
        if (after(mid) !== null) high = mid
        else low = mid
      }
      count = high
      reason = after(count)
    }
    if (count > 0) this.#blockBytes += ends[from + count - 1] - start
    this.#blockRecords += count
    run.records = count
    run.reason = reason
  }

  /** The file's size as policies see it: with compression, what is not compressed yet is estimated at the ratio seen so far. */
  #estimate (file: PlannedFile): number {
    return this.#gzipLevel === undefined
      ? file.rawBytes
      : file.bytesOnDisk + Math.ceil((file.rawBytes - file.rawOnDisk) * this.#ratio)
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

  /** The ratio sample (seedRatio's) compressed with the file's own codec: `raw` bytes as `disk`. Taken until a block is written. */
  sampled (raw: number, disk: number): void {
    if (this.#rawWritten === 0 && raw > 0) this.#ratio = disk / raw
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

/**
 * A policy's function (a custom roll.policy's check(), start() or
 * deadline()) that throws is refused as the option it came in, its message
 * kept: it was an internal error with a stack trace. The sink fails as for a
 * refused record, after the records before it are written.
 */
function asked<T> (what: string, call: () => T): T {
  try {
    return call()
  } catch (err) {
    const refused = invalidOption('roll.policy', `its ${what} threw: ${err instanceof Error ? err.message : String(err)}`)
    refused.cause = err
    throw refused
  }
}
