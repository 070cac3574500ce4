/**
 * Transfer statistics: bytes and objects moved each way, rates over a
 * sliding window, retries, and failures grouped by kind. A stage keeps its
 * own and can feed a parent too (an upload sink feeds its store's), so
 * `stats()` answers for one transfer or for everything a store did.
 */
import type { FailureKind } from './failure-kind.js'
import { plural } from '../plural.js'

export interface DirectionStats {
  bytes: number
  objects: number
  /** Bytes per second over the last `windowMs`, in MB/s (10^6). */
  mbPerSec: number
  /** Since the stats started, in MB/s. */
  averageMbPerSec: number
}

export interface TransferSnapshot {
  uploaded: DirectionStats
  downloaded: DirectionStats
  /** Requests the SDK (or a resuming read) had to repeat. */
  retries: number
  /** Failed attempts, retried or not, by kind. */
  errors: Partial<Record<FailureKind, number>>
  /** Milliseconds since the stats started. */
  elapsedMs: number
  windowMs: number
}

const SLOT_MS = 250

/** Bytes per time slot over a sliding window: O(1) to add, O(slots) to read. */
class RateWindow {
  readonly #slots: Float64Array
  readonly #stamps: Float64Array

  constructor (windowMs: number) {
    const n = Math.max(1, Math.ceil(windowMs / SLOT_MS))
    this.#slots = new Float64Array(n)
    this.#stamps = new Float64Array(n).fill(-1)
  }

  add (bytes: number, now: number): void {
    const slot = Math.floor(now / SLOT_MS)
    const i = slot % this.#slots.length
    if (this.#stamps[i] !== slot) {
      this.#stamps[i] = slot
      this.#slots[i] = 0
    }
    this.#slots[i] += bytes
  }

  /** Bytes per second over the window (or over the time since `start`, when shorter). */
  rate (now: number, start: number): number {
    const slot = Math.floor(now / SLOT_MS)
    const oldest = slot - this.#slots.length + 1
    let sum = 0
    for (let i = 0; i < this.#slots.length; i++) {
      if (this.#stamps[i] >= oldest) sum += this.#slots[i]
    }
    const spanMs = Math.min(this.#slots.length * SLOT_MS, Math.max(now - start, SLOT_MS))
    return sum / (spanMs / 1000)
  }
}

export class TransferStats {
  readonly windowMs: number
  readonly #parent: TransferStats | undefined
  readonly #clock: () => number
  readonly #start: number
  #up = { bytes: 0, objects: 0 }
  #down = { bytes: 0, objects: 0 }
  #upRate: RateWindow
  #downRate: RateWindow
  #retries = 0
  #errors: Partial<Record<FailureKind, number>> = {}

  constructor (options: { parent?: TransferStats, windowMs?: number, clock?: () => number } = {}) {
    this.windowMs = options.windowMs ?? 10_000
    this.#parent = options.parent
    // Monotonic: on Date.now(), a wall clock stepped back made elapsedMs negative and the average the bytes over 1 ms.
    this.#clock = options.clock ?? (() => performance.now())
    this.#start = this.#clock()
    this.#upRate = new RateWindow(this.windowMs)
    this.#downRate = new RateWindow(this.windowMs)
  }

  uploadedBytes (bytes: number): void {
    if (bytes <= 0) return
    this.#up.bytes += bytes
    this.#upRate.add(bytes, this.#clock())
    this.#parent?.uploadedBytes(bytes)
  }

  uploadedObject (): void {
    this.#up.objects++
    this.#parent?.uploadedObject()
  }

  downloadedBytes (bytes: number): void {
    if (bytes <= 0) return
    this.#down.bytes += bytes
    this.#downRate.add(bytes, this.#clock())
    this.#parent?.downloadedBytes(bytes)
  }

  /**
   * Bytes counted by downloadedBytes that no reader took after all (read
   * ahead, then dropped): out of the totals again. The rate keeps them: they
   * were moved.
   */
  downloadedBytesUnread (bytes: number): void {
    if (bytes <= 0) return
    this.#down.bytes -= bytes
    this.#parent?.downloadedBytesUnread(bytes)
  }

  downloadedObject (): void {
    this.#down.objects++
    this.#parent?.downloadedObject()
  }

  retried (count = 1): void {
    if (count <= 0) return
    this.#retries += count
    this.#parent?.retried(count)
  }

  failed (kind: FailureKind): void {
    this.#errors[kind] = (this.#errors[kind] ?? 0) + 1
    this.#parent?.failed(kind)
  }

  snapshot (): TransferSnapshot {
    const now = this.#clock()
    const seconds = Math.max(now - this.#start, 1) / 1000
    // In MB/s to the byte per second: rounder steps made a slow transfer of small objects "0 B/s".
    const mb = (bytesPerSec: number): number => Math.round(bytesPerSec) / 1e6
    const side = (totals: { bytes: number, objects: number }, rate: RateWindow): DirectionStats => ({
      ...totals, mbPerSec: mb(rate.rate(now, this.#start)), averageMbPerSec: mb(totals.bytes / seconds)
    })
    return {
      uploaded: side(this.#up, this.#upRate),
      downloaded: side(this.#down, this.#downRate),
      retries: this.#retries,
      errors: { ...this.#errors },
      elapsedMs: Math.round(now - this.#start),
      windowMs: this.windowMs
    }
  }
}

/** SI steps of bytes, largest first. */
const STEPS = [[1e9, 'GB'], [1e6, 'MB'], [1e3, 'kB']] as const

/** Bytes in the largest SI unit they fill, one decimal: '24.1 MB', '49.0 kB', '512 B' (a count of small files is not '0.0 MB'). */
/** Bytes in the largest SI unit they fill, one decimal: '950 B', '19.3 kB', '24.1 MB'. */
export function siBytes (bytes: number): string {
  for (const [size, unit] of STEPS) if (bytes >= size) return `${(bytes / size).toFixed(1)} ${unit}`
  return `${Math.round(bytes)} B`
}

/**
 * One line for a terminal or a log: "uploaded 3 objects, 24.1 MB at 80.2 MB/s;
 * 2 retries; errors: throttled 2". Live lines show the window's rate, the
 * final line the average.
 */
export function formatStats (s: TransferSnapshot, which: 'live' | 'final' = 'final'): string {
  const parts: string[] = []
  const side = (verb: string, d: DirectionStats): void => {
    if (d.objects === 0 && d.bytes === 0) return
    const rate = which === 'live' ? d.mbPerSec : d.averageMbPerSec
    parts.push(`${verb} ${plural(d.objects, 'object')}, ${siBytes(d.bytes)} at ${siBytes(rate * 1e6)}/s`)
  }
  side('uploaded', s.uploaded)
  side('downloaded', s.downloaded)
  if (parts.length === 0) parts.push('nothing transferred')
  if (s.retries > 0) parts.push(plural(s.retries, 'retry', 'retries'))
  const errors = Object.entries(s.errors).map(([kind, n]) => `${kind} ${n}`)
  if (errors.length > 0) parts.push(`errors: ${errors.join(', ')}`)
  return parts.join('; ')
}

/** What countTaken() watches: a stream's end, close and buffer, as a Readable has them. */
interface TakenReader {
  once (event: 'end' | 'close', listener: () => void): unknown
  readonly readableEnded: boolean
}

/**
 * Count a read as its reader takes it, as the stores do (file-store.ts,
 * s3-store.ts): `stats` were told each chunk as it was fetched
 * (downloadedBytes); the object is counted once `reader` has ended (taken to
 * its end), and what was fetched but is still buffered when it closes
 * before that (`buffered()`: its own buffer, and any it reads from) is taken
 * back out: a reader that went away (a file read ahead, then dropped) did
 * not download it.
 */
export function countTaken (reader: TakenReader, stats: TransferStats, buffered: () => number): void {
  reader.once('end', () => { stats.downloadedObject() })
  reader.once('close', () => { if (!reader.readableEnded) stats.downloadedBytesUnread(buffered()) })
}
