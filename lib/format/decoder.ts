/**
 * The push-style archive decoder behind decode(): feed it bytes, it calls back
 * with records. Strict mode throws a CorruptArchiveError at the first damage;
 * lenient mode skips damage, resynchronises on the next record that proves
 * itself (a v2 checksum, or a v1 record whose lengths fit exactly), reports
 * each damaged stretch once and goes on.
 */
import { CorruptArchiveError, givenValue, invalidOption, type DamageReason } from '../errors.js'
import { checkDecodeMode, checkFlag } from '../units.js'
import type { ShoeboxRecord } from '../record.js'
import { ChunkQueue } from './chunk-queue.js'
import { rawMetadataAt, readRecord } from './codec.js'
import { readCheckedV2 } from './v2.js'
import { CheckedRuns, type CheckRun } from './checked-runs.js'
import { describeForeignData, FOREIGN_LOOK_BYTES } from './foreign-data.js'
import type { Damage, NeedMore, ReadResult } from './result.js'
import { KeyCache } from './text.js'
import { BAD_MAGIC_DETAIL, MAGIC_BYTES, maxRecordSizeOption, PREAMBLE_SIZE } from './constants.js'
import { mayBeginCompressed } from '../compress/codecs.js'

export type DecodeMode = 'strict' | 'lenient'

export interface DecoderOptions {
  /** 'strict' (default) fails at the first damage; 'lenient' skips it and reports a `corrupt` event. */
  mode?: DecodeMode
  /** Largest record accepted, in bytes or a size string ('100MiB'); guards against corrupt lengths. Default 64 MiB. */
  maxRecordSize?: number | string
  /** Offset of the first input byte within its file (when reading from the middle); offsets reported count from it. Default 0. */
  baseOffset?: number
  /**
   * Give each record `rawMetadata` too: its metadata block's [key, value]
   * pairs as bytes, in order, repeats kept, which encoders write back byte
   * for byte (the `metadata` object cannot hold bytes that are not UTF-8, a
   * repeated key's earlier values, or where array-index keys stood). Default false.
   */
  rawMetadata?: boolean
}

/** One damaged stretch of an archive, reported in lenient mode. */
export interface CorruptInfo {
  /** Byte offset where the damage starts. */
  offset: number
  reason: DamageReason
  detail: string
  /** Bytes skipped before the next good record (or the end). */
  bytesSkipped: number
  /** Set on a zstd frame skipped for its size (over maxFrameSize), not for damage (CorruptArchiveError.frameTooLarge). */
  frameTooLarge?: true
  /**
   * Set on a zstd frame skipped because it needs a zstd dictionary (reason 'unsupported'): sound bytes shoebox
   * cannot read, not damage. Its offset and bytesSkipped are compressed, as for 'bad-compression'.
   */
  needsDictionary?: true
}

export interface DecoderStats {
  records: number
  v1: number
  v2: number
  bytes: number
  corrupt: number
  bytesSkipped: number
}

export interface DecoderEvents {
  record (record: ShoeboxRecord, version: 1 | 2, offset: number, size: number): void
  corrupt (info: CorruptInfo): void
}

export interface DecoderInternals {
  /** The native record check (checked-runs.ts), or null for none (tests compare the decoder with and without it). Default: the native part's. */
  checkRun?: CheckRun | null
}

interface OpenDamage {
  offset: number
  reason: DamageReason
  detail: string
}

export class ArchiveDecoder {
  readonly mode: DecodeMode
  readonly maxRecordSize: number
  readonly rawMetadata: boolean
  readonly stats: DecoderStats = { records: 0, v1: 0, v2: 0, bytes: 0, corrupt: 0, bytesSkipped: 0 }
  #queue: ChunkQueue
  #keys = new KeyCache()
  #events: DecoderEvents
  #needed = PREAMBLE_SIZE
  #discard = 0
  #damage: OpenDamage | null = null
  #scanning = false
  #final = false
  /** Records of the view at hand that the native part has checked already. */
  readonly #checked: CheckedRuns

  constructor (events: DecoderEvents, options: DecoderOptions = {}, internals: DecoderInternals = {}) {
    const { mode = 'strict' } = options
    checkDecodeMode(mode)
    this.mode = mode
    this.maxRecordSize = maxRecordSizeOption(options.maxRecordSize)
    checkFlag(options.rawMetadata, 'rawMetadata')
    this.rawMetadata = options.rawMetadata === true
    this.#queue = new ChunkQueue(baseOffsetOption(options.baseOffset))
    this.#events = events
    this.#checked = new CheckedRuns(internals.checkRun)
  }

  /** Feed bytes. Throws CorruptArchiveError in strict mode. */
  write (chunk: Buffer): void {
    this.#queue.push(chunk)
    this.#process()
  }

  /** End of input: whatever is left is a truncated record (strict: error; lenient: reported). */
  end (): void {
    this.#final = true
    this.#process()
    // Input may end inside a record being skipped whole: nothing more to drop.
    this.#discard = 0
    if (this.#damage !== null) this.#closeDamage(this.#queue.offset)
  }

  /**
   * The input after this does not continue the bytes before it (a lenient
   * zstd stage salvaged a damaged frame up to here: stream/content-break.ts):
   * a record held unfinished is truncated here (strict: error; lenient:
   * reported once the next good record is found), and no record skipped
   * whole reaches across into what comes next.
   */
  breakHere (): void {
    this.#final = true
    try {
      this.#process()
    } finally {
      this.#final = false
      this.#discard = 0
    }
  }

  #process (): void {
    const q = this.#queue
    for (;;) {
      if (this.#discard > 0) {
        const n = Math.min(this.#discard, q.length)
        q.consume(n)
        this.#discard -= n
        if (this.#discard > 0) return
      }
      if (this.#final) this.#needed = Math.min(this.#needed, q.length)
      if (q.length === 0) return
      if (q.length < this.#needed) {
        if (!this.#scanning) q.want(this.#needed)
        return
      }
      const view = q.view(this.#final ? q.length : this.#needed, this.#scanning || this.#final)
      const used = this.#decodeView(view, q.offset)
      const take = Math.min(used, q.length)
      q.consume(take)
      this.#discard = used - take
    }
  }

  /**
   * Decode records from `view` (which starts at absolute `base`). Returns the
   * bytes it is done with; sets #needed to what the next attempt requires.
   */
  #decodeView (view: Buffer, base: number): number {
    const end = view.length
    const checked = this.#checked
    checked.reset()
    let at = 0
    while (at < end) {
      this.#scanning = false
      if (this.#damage !== null) {
        const found = view.indexOf(MAGIC_BYTES, at)
        if (found < 0) {
          // Keep the last 3 bytes: a marker may straddle into the next chunk.
          const keep = this.#final ? 0 : Math.min(end - at, MAGIC_BYTES.length - 1)
          this.#needed = keep + 1
          this.#scanning = true
          return end - keep
        }
        at = found
      }
      // A record the native check did not vouch for is checked here, which says what is wrong with it, as always.
      const result: ReadResult = this.#damage === null && checked.vouched(view, at, end, this.maxRecordSize)
        ? readCheckedV2(view, at, this.#keys)
        : readRecord(view, at, end, this.maxRecordSize, this.#damage !== null, this.#keys)
      if (result.kind === 'record') {
        if (this.#damage !== null) this.#closeDamage(base + at)
        const s = this.stats
        s.records++
        s.bytes += result.size
        if (result.version === 1) s.v1++
        else s.v2++
        const record = this.rawMetadata ? { ...result.record, rawMetadata: rawMetadataAt(view, at, result.version) } : result.record
        this.#events.record(record, result.version, base + at, result.size)
        at += result.size
        this.#needed = PREAMBLE_SIZE
        continue
      }
      if (result.kind === 'need' && !this.#final) {
        this.#needed = result.size
        return at
      }
      if (result.kind === 'need' && base + at === 0 && !couldBeArchiveStart(view.subarray(at, end))) {
        // Fewer bytes than a record's preamble, and not the start of one: not an archive, cut short.
        const detail = describeForeignData(view, at, end)
        if (this.mode === 'strict') throw new CorruptArchiveError('bad-magic', 0, BAD_MAGIC_DETAIL + (detail === '' ? `; not an archive (${end - at} bytes, too few for a record, and not the start of one)` : detail))
      }
      const reason: DamageReason = result.kind === 'need' ? 'truncated' : result.reason
      // Not an archive at all? Wait for enough of its start to say what it is (describeForeignData).
      if (reason === 'bad-magic' && base + at === 0 && !this.#final && end - at < FOREIGN_LOOK_BYTES) {
        this.#needed = FOREIGN_LOOK_BYTES
        return at
      }
      let detail = result.kind === 'need'
        ? `input ends after ${end - at} of the ${result.size} bytes the record needs`
        : result.detail
      if (reason === 'bad-magic' && base + at === 0) detail += describeForeignData(view, at, end)
      if (this.mode === 'strict') throw new CorruptArchiveError(reason, base + at, detail)
      if (this.#damage === null) this.#damage = { offset: base + at, reason, detail }
      at += resyncSkip(result)
    }
    this.#needed = PREAMBLE_SIZE
    return at
  }

  #closeDamage (resumeAt: number): void {
    const damage = this.#damage
    if (damage === null) return
    this.#damage = null
    const info: CorruptInfo = { ...damage, bytesSkipped: resumeAt - damage.offset }
    this.stats.corrupt++
    this.stats.bytesSkipped += info.bytesSkipped
    this.#events.corrupt(info)
  }
}

/**
 * How far past a record that could not be read the search for the next one
 * starts. A record that is all there, whose header verified and whose body
 * then failed (record checksum, unknown algorithm or codec, malformed
 * metadata) is skipped whole: its length is proven by the header CRC, and
 * searching inside it would hand out "records" of an archive stored in its
 * payload (pack() stores files, archives among them) as if they were
 * top-level ones; the loss is bounded by maxRecordSize and reported. A
 * length that runs past maxRecordSize or past the end of the input proves
 * nothing (a header with a valid CRC is easy to forge, or to find by chance
 * in a corrupt file), so the search starts at the next byte and the records
 * behind such a header are still found, each proved by its own checksums.
 */
function resyncSkip (result: NeedMore | Damage): number {
  if (result.kind === 'need' || result.reason === 'record-too-large') return 1
  return result.skip || 1
}

/**
 * Could `head`, the whole of an input shorter than a record's preamble, be
 * an archive cut short: the start of a record's magic, or of a gzip
 * member's or zstd frame's (a compressed file cut inside its magic)?
 */
function couldBeArchiveStart (head: Buffer): boolean {
  return MAGIC_BYTES.subarray(0, head.length).equals(head.subarray(0, MAGIC_BYTES.length)) || mayBeginCompressed(head)
}

/** baseOffset, 0 when not given: a whole number of bytes (a string was joined to every offset reported, '10' + 5 as '105'). */
function baseOffsetOption (value: unknown): number {
  if (value === undefined) return 0
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw invalidOption('baseOffset', `must be a whole number of bytes, got ${givenValue(value)}`)
  return value as number
}
