/**
 * A run: one stream's events of one time bucket, sorted by (time, id), as a
 * v2 archive (readable by `shoebox decode`: metadata `t` and `id`, payload
 * the event text). The file is cut into blocks of about 64 KiB whose offsets
 * and first times the run index keeps, so a read seeks to the first block
 * that can hold its range and reads only blocks, in either direction: a
 * descending read takes the blocks last to first and reverses each, holding
 * a few blocks per run in memory, never the run. With gzip, each block is its
 * own gzip member (the file is still one gzip file `shoebox decode` reads),
 * so a block is still read alone. Neighbouring blocks are read together
 * (READ_SPAN), so a read holds up to 256 KiB per run, not one block.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import zlib from 'node:zlib'
import { DEFAULT_MAX_RECORD_SIZE } from '../../format/constants.js'
import { readRecord } from '../../format/codec.js'
import { CheckedRuns } from '../../format/checked-runs.js'
import { readCheckedV2 } from '../../format/v2.js'
import { KeyCache } from '../../format/text.js'
import { ShoeboxError } from '../../errors.js'
import { parseEventId } from '../event-id.js'
import { inRange, overlaps, type EventKey, type EventRange, type StoredEvent } from './stored-event.js'

/** What the index knows of a run file. Times are decimal strings (bigints in JSON). */
export interface RunInfo {
  /** File name inside the runs directory (never derived from a stream name). */
  file: string
  ns: string
  stream: string
  bucket: string
  minTime: string
  maxTime: string
  firstId: string
  lastId: string
  count: number
  bytes: number
  /** [byte offset, time of the block's first event] per block. */
  blocks: Array<[number, string]>
  /** Each block is a gzip member. */
  gzip?: boolean
}

/**
 * One copy of each of a few strings that many index entries repeat (a run's
 * bucket, a published run's pack: published-index.ts), kept for the values
 * seen last: emptied once it holds `kept`, so that it stays small.
 */
export class SharedStrings {
  readonly #strings = new Map<string, string>()
  readonly #kept: number

  constructor (kept: number) {
    this.#kept = kept
  }

  /** The copy of `text` kept (`text` itself if none was). */
  of (text: string): string {
    const kept = this.#strings.get(text)
    if (kept !== undefined) return kept
    if (this.#strings.size >= this.#kept) this.#strings.clear()
    this.#strings.set(text, text)
    return text
  }
}

/**
 * Buckets of the runs compacted. The run before has another bucket as often
 * as not (an index lists a stream's runs one after another once they are
 * merged, and a shared store's view does), yet a store holds few (days).
 */
const buckets = new SharedStrings(4096)

/**
 * The run's index entry as the store keeps it in memory for as long as the
 * run lives: the strings it repeats shared (a one-event run's maxTime is its
 * minTime, its first block's time too, its lastId its firstId; runs of one
 * bucket its one string) and its block list sized exactly (one pushed to grew room for
 * 17). A flush of 50,000 one-event streams kept ~800 bytes of heap per run,
 * for good; 160 of them were copies of one decimal time (bench/RESULTS.md,
 * "serve: a put naming many streams"). Values are unchanged (index.json the same).
 */
export function compactRunInfo (run: RunInfo): RunInfo {
  run.bucket = buckets.of(run.bucket)
  if (run.maxTime === run.minTime) run.maxTime = run.minTime
  if (run.lastId === run.firstId) run.lastId = run.firstId
  const first = run.blocks[0]
  if (first !== undefined && first[1] === run.minTime) first[1] = run.minTime
  run.blocks = run.blocks.slice()
  return run
}

/** Can the run hold events of the stream in the range (by its index entry)? What every read and delete selects runs by. */
export function runMayHold (run: RunInfo, ns: string, stream: string, range: EventRange): boolean {
  return run.ns === ns && run.stream === stream && overlaps(BigInt(run.minTime), BigInt(run.maxTime), range)
}

/** The run's lowest key (its first event's), from the index. */
export function firstKey (run: RunInfo): EventKey {
  return { time: BigInt(run.minTime), id: parseEventId(run.firstId) }
}

/** The run's highest key (its last event's), from the index. */
export function lastKey (run: RunInfo): EventKey {
  return { time: BigInt(run.maxTime), id: parseEventId(run.lastId) }
}

/** A stored record back as an event (run files and the log share this layout). */
export function eventOf (metadata: Record<string, string>, payload: Buffer): StoredEvent {
  return { time: BigInt(metadata.t), id: parseEventId(metadata.id), idText: metadata.id, body: payload }
}

/** Reads bytes [start, end) of a run file: a local file, or an object in a store (remote-runs.ts). */
export interface BlockReader {
  /** The file or object, for messages. */
  readonly name: string
  read (start: number, end: number): Promise<Buffer>
  close (): Promise<void>
}

/**
 * The run's events in the range, in order, one block's worth at a time.
 * The reader is made (a file opened) only when the first block is wanted.
 */
export async function * readRunBlocks (run: RunInfo, range: EventRange, descending: boolean, open: () => Promise<BlockReader>): AsyncGenerator<StoredEvent[]> {
  for await (const { bytes, name, offset } of readBlockBytes(run, range, descending, open)) {
    const events = parseBlock(bytes, name, offset).filter((e) => inRange(e, range))
    if (descending) events.reverse()
    yield events
  }
}

/** One block of a run as read: its record bytes (gunzipped), its number, where it starts in the file. */
export interface BlockBytes {
  bytes: Buffer
  /** The block as it is in the file (a gzip member when the run is compressed). */
  packed: Buffer
  index: number
  offset: number
  /** The file or object, for messages. */
  name: string
}

/**
 * The blocks of the run that can hold events of the range, in order (last
 * to first when descending), as record bytes. The reader is made (a file
 * opened) only when the first block is wanted.
 */
export async function * readBlockBytes (run: RunInfo, range: EventRange, descending: boolean, open: () => Promise<BlockReader>): AsyncGenerator<BlockBytes> {
  const low = range.after === undefined ? range.from : range.after.time
  // Events equal to a block's first time may end the block before it: start one block earlier.
  let first = 0
  while (first + 1 < run.blocks.length && BigInt(run.blocks[first + 1][1]) < low) first++
  let last = first
  while (last + 1 < run.blocks.length && BigInt(run.blocks[last + 1][1]) <= range.to) last++
  const reader = await open()
  try {
    // Neighbouring blocks are read together, up to READ_SPAN bytes: one read
    // (a syscall through the thread pool, or a ranged GET) per 64 KiB block
    // cost the server more than parsing the block's records.
    const step = descending ? -1 : 1
    for (let i = descending ? last : first; descending ? i >= first : i <= last;) {
      let j = i
      while ((descending ? j - 1 >= first : j + 1 <= last) && spanBytes(run, Math.min(i, j + step), Math.max(i, j + step)) <= READ_SPAN) j += step
      const lo = Math.min(i, j)
      const hi = Math.max(i, j)
      const spanStart = run.blocks[lo][0]
      const spanEnd = blockEnd(run, hi)
      const buf = await reader.read(spanStart, spanEnd)
      if (buf.length !== spanEnd - spanStart) throw damaged(reader.name, spanStart + buf.length, 'shorter than its index says')
      for (let k = i; descending ? k >= j : k <= j; k += step) {
        const start = run.blocks[k][0]
        const block = buf.subarray(start - spanStart, blockEnd(run, k) - spanStart)
        yield { bytes: unpack(run, block, reader.name, start), packed: block, index: k, offset: start, name: reader.name }
      }
      i = j + step
    }
  } finally {
    await reader.close()
  }
}

/** Bytes read at once from a run (several blocks; one block if it is larger). */
const READ_SPAN = 256 * 1024

function blockEnd (run: RunInfo, i: number): number {
  return i + 1 < run.blocks.length ? run.blocks[i + 1][0] : run.bytes
}

/** Bytes of blocks lo..hi (inclusive). */
function spanBytes (run: RunInfo, lo: number, hi: number): number {
  return blockEnd(run, hi) - run.blocks[lo][0]
}

/** A local run file's events in the range (readRunBlocks over the file). */
export async function * readRun (dir: string, run: RunInfo, range: EventRange, descending: boolean): AsyncGenerator<StoredEvent[]> {
  yield * readRunBlocks(run, range, descending, localReader(dir, run))
}

/** Opens the run's local file for readRunBlocks() and the like. */
export function localReader (dir: string, run: RunInfo): () => Promise<BlockReader> {
  const file = path.join(dir, run.file)
  return async () => {
    const handle = await fs.open(file, 'r')
    return {
      name: file,
      async read (start, end) {
        const buf = Buffer.allocUnsafe(end - start)
        const { bytesRead } = await handle.read(buf, 0, buf.length, start)
        return buf.subarray(0, bytesRead)
      },
      async close () { await handle.close() }
    }
  }
}

/** A block's record bytes (gunzipped when the run is compressed). */
function unpack (run: RunInfo, block: Buffer, file: string, offset: number): Buffer {
  if (run.gzip !== true) return block
  try {
    return zlib.gunzipSync(block)
  } catch (err) {
    throw damaged(file, offset, `gzip member: ${(err as Error).message}`)
  }
}

/**
 * Every record of a run has the keys `t` and `id`: a cache compares their
 * bytes instead of decoding two strings per record. Shared by all reads
 * (used synchronously, and only a cache).
 */
const keys = new KeyCache()

/** A block's records checked in one native call where the native part is built (used synchronously, as `keys`). */
const checked = new CheckedRuns()

/** A block's events (its record bytes, checked), in file order. */
export function parseBlock (buf: Buffer, file: string, base: number): StoredEvent[] {
  const out: StoredEvent[] = []
  let at = 0
  checked.reset()
  while (at < buf.length) {
    const result = checked.vouched(buf, at, buf.length, DEFAULT_MAX_RECORD_SIZE)
      ? readCheckedV2(buf, at, keys)
      : readRecord(buf, at, buf.length, DEFAULT_MAX_RECORD_SIZE, false, keys)
    if (result.kind !== 'record') throw damaged(file, base + at, result.kind === 'need' ? 'truncated record' : result.detail)
    out.push(eventOf(result.record.metadata, result.record.payload))
    at += result.size
  }
  return out
}

export function damaged (file: string, offset: number, detail: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_BAD_RECORD', `event run ${file}: at byte ${offset}: ${detail}`)
}
