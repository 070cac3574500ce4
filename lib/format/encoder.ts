/**
 * Encodes records into large batched buffers. Records are written straight
 * into a slab; `take()` hands out the bytes written since the last take as a
 * view of the slab, and writing continues after it in the same slab, so a
 * slab is allocated once per `chunkSize` bytes, not once per flush. Bytes
 * leave only complete: with the native part, v2 records are checksummed a
 * slab at a time as they go (RecordSealer).
 *
 * The encoder knows where each record it wrote ends; every buffer it hands
 * out carries that list (encodedRecordEnds()), so a consumer that must cut
 * at record boundaries (the rolling sink) need not walk the headers again.
 * With the native part, frameLines() frames a whole chunk of NDJSON lines
 * in one call (NDJSON's fast path).
 */
import type { ChecksumAlgorithm } from '../checksum.js'
import { invalidOption, ShoeboxError } from '../errors.js'
import { oneOf, sizeOption } from '../units.js'
import { nativeRecords, type NativeRecords } from '../native.js'
import type { Metadata, RecordInput } from '../record.js'
import {
  CONTENT_BYTES, CONTENT_JSON, CONTENT_TEXT, maxRecordSizeOption, V1_HEADER_SIZE, V2_HEADER_SIZE, V2_TRAILER_SIZE
} from './constants.js'
import {
  flattenInto, measureFlat, measureMetadata, metadataBytes, writeMetadata, writeObjectMetadata, type MetadataSize, type MetadataString
} from './metadata-block.js'
import { payloadBound, writePayload, type Payload } from './payload-source.js'
import { RecordSealer } from './record-sealer.js'
import { loneSurrogateReason } from './text.js'
import type { SlabPool } from './slab-pool.js'
import { finishV1, V1_METADATA_OFFSET, v1PayloadStart } from './v1.js'
import { V2_METADATA_OFFSET, v2VersionWord, writeV2Header } from './v2.js'

export type FormatVersion = 'v1' | 'v2'

export interface EncoderOptions {
  /** Record format to write. Default 'v2'. */
  format?: FormatVersion
  /** v2 record checksum. Default 'crc32'; v1 has no checksum, so any other value with format 'v1' is refused. */
  checksum?: ChecksumAlgorithm
  /**
   * Largest record written, in bytes (header, metadata, payload and
   * checksum); a larger one is refused with SHOEBOX_INVALID_RECORD. Default
   * 64 MiB, the readers' default, so that what is written can be read back.
   * Bytes, or a size string ('100MiB') as parseSize() takes it.
   */
  maxRecordSize?: number | string
  /** Target size of each output buffer: bytes or a size string ('4MiB'), at least 64. Default 1 MiB. */
  chunkSize?: number | string
}

/** Constructor settings for shoebox's own modules and tests; not exported from the package. */
export interface EncoderInternals {
  /** The native functions, or null for none (tests compare the encoder with and without them). Default: nativeRecords. */
  native?: NativeRecords | null
  /**
   * Take slabs from this pool and say what was handed out of them, so that
   * they are used again once the bytes are given back (see slab-pool.ts:
   * only for a consumer that gives every byte back). Default: fresh slabs.
   */
  slabs?: SlabPool
}

const DEFAULT_CHUNK = 1024 * 1024

/**
 * Record ends of the buffers encoders handed out, relative to each buffer:
 * kept beside the bytes rather than in them, so that the output stays plain
 * archive bytes for every other consumer. A buffer the encoder did not hand
 * out (a copy, a slice, a user's own) is not here and is walked as before.
 * Weak: the list goes when its buffer does.
 */
const handedOut = new WeakMap<Uint8Array, Uint32Array>()

/** Where each record of `buf` ends, if an ArchiveEncoder handed out exactly this buffer; else undefined. */
export function encodedRecordEnds (buf: Uint8Array): Uint32Array | undefined {
  return handedOut.get(buf)
}

/** What one frameLines() call did. The caller passes one and the encoder fills it in. */
export interface FramedLines {
  /** Input offset after the last line consumed (framed, or skipped as blank). */
  next: number
  /** Lines consumed, blank ones included. */
  lines: number
  /** Records written. */
  records: number
  /**
   * It stopped at a line it leaves to the caller (longer than maxLine, or
   * its record over maxRecordSize), which starts at `next`; false when no
   * complete line is left.
   */
  refused: boolean
}

/** Why the native framer stopped (state[10]; 0 is: no complete line left). */
const STOPPED_SLAB_FULL = 1
const STOPPED_REFUSED = 2
const STOPPED_ENDS_FULL = 3
const ALGORITHM_ID = { crc32: 1, crc32c: 2 } as const

const NO_PAIRS: string[] = []

/**
 * One encoder kept for the life of the process, made with the first one
 * (the smallest chunk: a 64-byte slab) and never used.
 *
 * Why: V8 optimises the per-record path (write, #append, the sealer's note,
 * measureMetadata) for the hidden classes ("maps") of an encoder, its
 * RecordSealer and its metadata-size object, and holds those maps only
 * through the objects that have them. Once every encoder was garbage, a
 * collection freed the maps and threw that code away ("weak objects" in
 * node --trace-deopt), and the next encoder ran cold: interpreted, profiled
 * and optimised again over its first thousands of records. A program that
 * makes an encoder per file or per request, with collections between them,
 * paid that each time, and so did every timed run of bench/codec.js (which
 * collects before each run): 15-35% more CPU per record there (bench/RESULTS.md,
 * Dec 6). This one keeps the maps, and so the code.
 */
let shapeKeeper: ArchiveEncoder | null | undefined

export class ArchiveEncoder {
  readonly format: FormatVersion
  readonly checksum: ChecksumAlgorithm
  readonly chunkSize: number
  readonly maxRecordSize: number
  /** Records given so far (written or refused): the next one's index. */
  #given = 0
  #slab: Buffer
  readonly #slabs: SlabPool | undefined
  #start = 0
  #pos = 0
  #full: Buffer[] = []
  #pendingBytes = 0
  /** Reused for every record: its metadata's size (see measureMetadata). */
  #size: MetadataSize = { pairs: 0, chars: 0, bound: 0 }
  /** Reused for records whose metadata is a list of pairs: flattened, in #flat[0 .. n) (see flattenInto). */
  #flat: MetadataString[] = []
  /** v2 records from #start on may lack their checksums, when #sealer.batched, until #sealPending(). */
  #sealer: RecordSealer
  /** End offsets (in #slab) of the records written since #start, in #ends[0 .. #endCount). */
  #ends = new Uint32Array(4096)
  #endCount = 0
  /** The native line framer, when built (v2 only). */
  readonly #frame: NativeRecords['frameLines']
  /** frameLines()'s arguments and results for the native call (see native/record_crc.c). */
  readonly #frameState = new Uint32Array(12)

  /** `internals` is for shoebox's own modules and tests (see EncoderInternals). */
  constructor (options: EncoderOptions = {}, internals: EncoderInternals = {}) {
    const { format = 'v2', checksum = 'crc32' } = options
    const { native = nativeRecords(), slabs } = internals
    oneOf(format, ['v1', 'v2'], 'format')
    oneOf(checksum, ['crc32', 'crc32c'], 'checksum')
    // Rather than write v1 records without the checksum that was asked for.
    if (format === 'v1' && checksum !== 'crc32') throw invalidOption('checksum', `v1 records carry no checksum; '${checksum}' needs format 'v2'`)
    const chunkSize = sizeOption(options.chunkSize, DEFAULT_CHUNK, 'chunkSize', 64)
    const maxRecordSize = maxRecordSizeOption(options.maxRecordSize)
    this.format = format
    this.checksum = checksum
    this.chunkSize = chunkSize
    this.maxRecordSize = maxRecordSize
    this.#slabs = slabs
    this.#slab = slabs?.take(chunkSize) ?? Buffer.allocUnsafeSlow(chunkSize)
    this.#sealer = new RecordSealer(checksum, format === 'v2' ? native : null)
    this.#frame = format === 'v2' ? native?.frameLines : undefined
    if (shapeKeeper === undefined) {
      shapeKeeper = null // while it is made: its own constructor comes here too
      shapeKeeper = new ArchiveEncoder({ chunkSize: 64 })
    }
  }

  /** Bytes encoded and not yet taken. */
  get pendingBytes (): number {
    return this.#pendingBytes
  }

  /** Append one record. Throws a ShoeboxError (SHOEBOX_INVALID_RECORD) for a record it cannot encode. */
  write (record: RecordInput): void {
    this.#given++
    if (record === null || typeof record !== 'object' || ArrayBuffer.isView(record)) throw this.#refused(notARecord(record))
    const value = record.payload
    let payload: Payload
    let contentType = CONTENT_BYTES
    if (Buffer.isBuffer(value)) {
      payload = value
    } else if (typeof value === 'string') {
      // Written as UTF-8, a lone surrogate would come back as U+FFFD (for a one-byte string, no scan).
      if (!value.isWellFormed()) throw this.#refused(`payload has ${loneSurrogateReason(value)}`)
      payload = value
      contentType = CONTENT_TEXT
    } else if (ArrayBuffer.isView(value)) {
      // Any view's bytes (a Uint8Array, a Float64Array, a DataView), not its JSON ({"0":...} or {}).
      payload = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    } else if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
      // What fetch's arrayBuffer() gives: its bytes; JSON.stringify would write {} and lose them.
      payload = Buffer.from(value)
    } else {
      let json: string | undefined
      try {
        json = value === undefined ? undefined : JSON.stringify(value)
      } catch (err) {
        // A cycle, a BigInt: JSON.stringify's own TypeError, first line ("Converting circular structure to JSON").
        throw this.#refused(`payload is not JSON-serialisable (${(err as Error).message.split('\n')[0]})`)
      }
      if (json === undefined) throw this.#refused(value === undefined ? noPayload(record) : `payload is not JSON-serialisable (${typeof value})`)
      // What JSON text loses silently, looked for only where the text shows it can be: a Map, a
      // RegExp, an Error is written as {} (so only a text with {} in it is walked). NaN or Infinity
      // is refused as the payload itself; nested, it is written as null, as JSON.stringify writes it:
      // finding it would mean walking every payload that holds a null, which events often do
      // (a second pass over each: 30-60% more CPU per record in encode() of such objects).
      if (json.includes('{}')) {
        const lost = lostInJson(value)
        if (lost !== undefined) throw this.#refused(lost)
      } else if (typeof value === 'number' && json === 'null') {
        throw this.#refused(`payload is ${String(value)}, which JSON writes as null`)
      }
      payload = json
      contentType = CONTENT_JSON
    }
    const end = typeof payload === 'string' ? 0 : payload.length
    const metadata = record.metadata
    if (metadata != null && typeof metadata === 'object' && !Array.isArray(metadata)) {
      // The usual form, written straight from the object (see measureMetadata).
      this.#measure(metadata as Metadata)
      // A Map has no own keys for that path to see: its entries go as pairs (below) rather than be lost.
      // Asked only of metadata without keys, so the usual form pays nothing for it.
      if (this.#size.pairs > 0 || !(metadata instanceof Map)) {
        this.#append(metadata as Metadata, NO_PAIRS, this.#size, payload, 0, end, contentType)
        return
      }
    }
    const flat = this.#flat
    const count = this.#flatten(metadata, flat)
    this.#append(null, flat, measureFlat(flat, count, this.#size), payload, 0, end, contentType)
  }

  /** measureMetadata, its refusal naming the record as the encoder's own do. */
  #measure (metadata: Metadata): void {
    try {
      measureMetadata(metadata, this.#size)
    } catch (err) {
      throw this.#refusedBy(err)
    }
  }

  /** flattenInto, its refusal naming the record. */
  #flatten (metadata: RecordInput['metadata'], flat: MetadataString[]): number {
    try {
      return flattenInto(metadata, flat)
    } catch (err) {
      throw this.#refusedBy(err)
    }
  }

  /**
   * Append one record whose payload is bytes [start, end) of `bytes`, with
   * metadata already flattened to [k1, v1, ...] (see flattenMetadata). The
   * fast path for payloads that arrive as ranges of a larger buffer.
   */
  writeRange (flat: readonly MetadataString[], bytes: Buffer, start: number, end: number, contentType = CONTENT_BYTES): void {
    this.#given++
    this.#append(null, flat, measureFlat(flat, flat.length, this.#size), bytes, start, end, contentType)
  }

  /**
   * Write one record: its metadata is `metadata` (an object measured into
   * `size`) or, when that is null, flat[0 .. 2 * size.pairs); its payload is
   * `payload` (bytes [start, end) of a Buffer).
   */
  #append (
    metadata: Metadata | null, flat: readonly MetadataString[], size: MetadataSize,
    payload: Payload, start: number, end: number, contentType: number
  ): void {
    const v2 = this.format === 'v2'
    const bound = (v2 ? V2_HEADER_SIZE + V2_TRAILER_SIZE : V1_HEADER_SIZE + 4) + size.bound + payloadBound(payload, start, end)
    // One comparison per record; the exact size is worked out only when the bound is over the limit.
    if (bound > this.maxRecordSize) this.#checkSize(metadata, flat, size, payload, start, end)
    this.#reserve(bound)
    const buf = this.#slab
    const at = this.#pos
    const metaStart = at + (v2 ? V2_METADATA_OFFSET : V1_METADATA_OFFSET)
    let metaEnd: number
    try {
      // These refuse a lone surrogate themselves, where they find a string not ASCII.
      const version = v2 ? 2 : 1
      metaEnd = metadata !== null
        ? writeObjectMetadata(buf, metaStart, metadata, size, version)
        : writeMetadata(buf, metaStart, flat, version, 2 * size.pairs)
    } catch (err) {
      // Nothing of the record is kept: #pos has not moved, and the sealer has not noted it.
      throw this.#refusedBy(err)
    }
    const payloadStart = v2 ? metaEnd : v1PayloadStart(metaEnd)
    const payloadEnd = payloadStart + writePayload(buf, payloadStart, payload, start, end)
    let recordEnd: number
    if (v2) {
      recordEnd = writeV2Header(buf, at, metaEnd, payloadEnd, this.checksum, contentType)
      this.#sealer.note(buf, at, payloadEnd)
    } else {
      recordEnd = finishV1(buf, at, metaEnd, payloadEnd)
    }
    this.#pendingBytes += recordEnd - at
    this.#pos = recordEnd
    if (this.#endCount === this.#ends.length) this.#ends = grow(this.#ends)
    this.#ends[this.#endCount++] = recordEnd
  }

  /** Whether frameLines() can frame lines: the native framer is built (v2 only). */
  get canFrameLines (): boolean {
    return this.#frame !== undefined
  }

  /**
   * NDJSON's fast path (see encode-ndjson.ts, whose line rules it follows):
   * every complete line of bytes[start, end) as one v2 record whose metadata
   * block is `block` (laid out once by writeMetadata, the same for every
   * line) and whose payload is the line, in one native call per slab. Stops
   * at the end of the last complete line, or before a line longer than
   * `maxLine` or whose record is over maxRecordSize, which it leaves to the
   * caller (see FramedLines). Only when canFrameLines says so.
   */
  frameLines (block: Buffer, contentType: number, bytes: Buffer, start: number, end: number, maxLine: number, out: FramedLines): void {
    const frame = this.#frame
    if (frame === undefined) throw new Error('frameLines() without canFrameLines')
    const state = this.#frameState
    state[0] = start
    state[1] = end
    state[4] = Math.min(maxLine, 0xffffffff)
    state[5] = Math.min(this.maxRecordSize, 0xffffffff)
    state[6] = v2VersionWord(this.checksum, contentType)
    state[7] = ALGORITHM_ID[this.checksum]
    out.lines = 0
    out.records = 0
    for (;;) {
      const at = this.#pos
      state[2] = at
      state[3] = this.#slab.length
      frame(bytes, this.#slab, block, this.#ends.subarray(this.#endCount), state)
      const records = state[9]
      this.#endCount += records
      this.#given += records
      this.#pendingBytes += state[2] - at
      this.#pos = state[2]
      out.lines += state[8]
      out.records += records
      const stopped = state[10]
      if (stopped === STOPPED_SLAB_FULL) this.#reserve(state[11])
      else if (stopped === STOPPED_ENDS_FULL) this.#ends = grow(this.#ends)
      else {
        out.next = state[0]
        out.refused = stopped === STOPPED_REFUSED
        return
      }
    }
  }

  /** Refuse, before writing any of it, a record whose exact size is over maxRecordSize. */
  #checkSize (metadata: Metadata | null, flat: readonly MetadataString[], size: MetadataSize, payload: Payload, start: number, end: number): void {
    const exact = (this.format === 'v2' ? V2_HEADER_SIZE + V2_TRAILER_SIZE : V1_HEADER_SIZE + 4) +
      metadataBytes(metadata, flat, size) + (typeof payload === 'string' ? Buffer.byteLength(payload) : end - start)
    if (exact > this.maxRecordSize) throw this.#refused(`${exact} bytes encoded, over maxRecordSize ${this.maxRecordSize}`)
  }

  /** The record just given cannot be encoded: nothing of it is written, and the encoder goes on. */
  #refused (reason: string): ShoeboxError {
    return new ShoeboxError('SHOEBOX_INVALID_RECORD', `record ${this.#given - 1}: ${reason}; not written (the records before it are)`)
  }

  /** A refusal from the metadata checks, as #refused; anything else as it is. */
  #refusedBy (err: unknown): unknown {
    return err instanceof ShoeboxError && err.code === 'SHOEBOX_INVALID_RECORD' ? this.#refused(err.message) : err
  }

  /** Whether some buffer is full (takeFull() has something to give). */
  get hasFull (): boolean {
    return this.#full.length > 0
  }

  /** Only the buffers that are full (about chunkSize each); the partly filled one stays. */
  takeFull (): Buffer[] {
    const out = this.#full
    this.#full = []
    for (const buf of out) this.#pendingBytes -= buf.length
    return out
  }

  /** The bytes encoded since the last take, as a list of buffers (possibly empty). */
  take (): Buffer[] {
    const out = this.#full
    if (this.#pos > this.#start) out.push(this.#sealPending())
    this.#full = []
    this.#pendingBytes = 0
    return out
  }

  /** The records from #start to #pos, completed (see RecordSealer), as they leave the encoder. */
  #sealPending (): Buffer {
    const from = this.#start
    const to = this.#pos
    this.#sealer.seal(this.#slab)
    const count = this.#endCount
    this.#endCount = 0
    this.#start = to
    const piece = this.#slab.subarray(from, to)
    const ends = new Uint32Array(count)
    const written = this.#ends
    for (let i = 0; i < count; i++) ends[i] = written[i] - from
    handedOut.set(piece, ends)
    this.#slabs?.handedOut(this.#slab, piece.length)
    return piece
  }

  #reserve (bound: number): void {
    if (this.#slab.length - this.#pos >= bound) return
    if (this.#pos > this.#start) this.#full.push(this.#sealPending())
    const size = Math.max(this.chunkSize, bound)
    if (this.#slabs === undefined) {
      this.#slab = Buffer.allocUnsafeSlow(size)
    } else {
      this.#slabs.retire(this.#slab)
      this.#slab = this.#slabs.take(size)
    }
    this.#start = 0
    this.#pos = 0
  }
}

function grow (table: Uint32Array): Uint32Array<ArrayBuffer> {
  const grown = new Uint32Array(2 * table.length)
  grown.set(table)
  return grown
}

/**
 * Encode records into one Buffer (for small jobs and tests). The Buffer is a
 * copy of just its bytes, never a view of the encoder's slab (chunkSize, 1 MiB
 * by default): a view keeps the whole slab alive as long as the caller keeps
 * it, and 100,000 kept one-record results held ~100 GiB, which V8 collected
 * over and over (a test building a file a record per call took 73 s).
 */
export function encodeRecords (records: Iterable<RecordInput>, options?: EncoderOptions): Buffer {
  const encoder = new ArchiveEncoder(options)
  for (const record of records) encoder.write(record)
  return Buffer.concat(encoder.take())
}

/**
 * Not an object, or bytes: what was given, and where it goes instead. Bytes
 * (a file or a response piped into encode()) have keys "0", "1"... that
 * would say nothing; the usual mistake is NDJSON, which encodeNdjson() takes.
 */
function notARecord (record: unknown): string {
  const what = 'a record must be an object with a payload'
  if (ArrayBuffer.isView(record)) {
    return `${what}, got ${record.byteLength} bytes (a ${Buffer.isBuffer(record) ? 'Buffer' : record.constructor.name}): NDJSON bytes go through encodeNdjson()`
  }
  if (typeof record === 'string') return `${what}, got a string: a text payload goes as { payload: text }, NDJSON text through encodeNdjson()`
  return `${what}, got ${record === null ? 'null' : typeof record}`
}

/**
 * A record with no payload key is most often a bare object written where a
 * record ({ payload, metadata? }) goes: say so, with the keys it has.
 */
function noPayload (record: object): string {
  if (Object.hasOwn(record, 'payload')) return 'payload is undefined'
  const keys = Object.keys(record)
  const shown = keys.slice(0, 5).map((k) => JSON.stringify(k)).join(', ') + (keys.length > 5 ? ', ...' : '')
  return `a record must be an object with a payload ({ payload, metadata? }), got ${keys.length === 0 ? 'an empty object' : `an object with keys ${shown}`}`
}

/**
 * Where `value` (whose JSON text has a {} in it) holds what JSON.stringify
 * writes as {} and so loses without a word: a Map or a Set, or any other
 * object with no own keys that is not a plain one (a RegExp, an Error, a
 * WeakMap). Undefined when it holds none (the {} was an empty object, or
 * inside a string). Walked as JSON.stringify walks it (own enumerable keys;
 * a value with toJSON is what that gives, as a Date is its ISO text; a boxed
 * number, string or boolean its value), without recursion: the value may be
 * as deep as JSON allows. An undefined property is left out, as JSON does:
 * read back, it is undefined still.
 */
function lostInJson (value: unknown): string | undefined {
  const stack: Array<[unknown, string]> = [[value, 'payload']]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [v, path] = next
    if (v === null || typeof v !== 'object' || typeof (v as { toJSON?: unknown }).toJSON === 'function') continue
    if (v instanceof Number || v instanceof String || v instanceof Boolean) continue
    if (v instanceof Map) return `${path} is a Map, which JSON writes as {} (its entries lost): give Object.fromEntries(map) or [...map]`
    if (v instanceof Set) return `${path} is a Set, which JSON writes as {} (its values lost): give [...set]`
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`])
    } else {
      const keys = Object.keys(v)
      if (keys.length === 0 && !isPlainObject(v)) return writtenAsEmpty(v, path)
      for (let i = keys.length - 1; i >= 0; i--) stack.push([(v as Record<string, unknown>)[keys[i]], `${path}.${keys[i]}`])
    }
  }
  return undefined
}

function isPlainObject (v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** Why an object that is not a plain one, with no own keys, is lost as {}: its kind named ('a RegExp', 'an Error'). */
function writtenAsEmpty (v: object, path: string): string {
  if (v instanceof Error) return `${path} is an Error, which JSON writes as {} (its message lost): give { message: err.message }`
  const kind = Object.prototype.toString.call(v).slice(8, -1)
  const name = kind === 'Object' && typeof v.constructor?.name === 'string' && v.constructor.name !== '' ? v.constructor.name : kind
  return `${path} is ${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}, which JSON writes as {} (nothing of it kept)`
}
