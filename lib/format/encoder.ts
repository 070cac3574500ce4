/**
 * Encodes records into large batched buffers. Records are written straight
 * into a slab; `take()` hands out the bytes written since the last take as a
 * view of the slab, and writing continues after it in the same slab, so a
 * slab is allocated once per `chunkSize` bytes, not once per flush.
 */
import type { ChecksumAlgorithm } from '../checksum.js'
import { invalidOption, ShoeboxError } from '../errors.js'
import type { RecordInput } from '../record.js'
import { CONTENT_BYTES, CONTENT_JSON, CONTENT_TEXT, V1_HEADER_SIZE, V2_HEADER_SIZE, V2_TRAILER_SIZE } from './constants.js'
import { flattenMetadata, metadataBound } from './metadata-block.js'
import { payloadBound, type PayloadSource } from './payload-source.js'
import { writeV1 } from './v1.js'
import { writeV2 } from './v2.js'

export type FormatVersion = 'v1' | 'v2'

export interface EncoderOptions {
  /** Record format to write. Default 'v2'. */
  format?: FormatVersion
  /** v2 record checksum. Default 'crc32'. */
  checksum?: ChecksumAlgorithm
  /** Target size of each output buffer in bytes. Default 1 MiB. */
  chunkSize?: number
}

const DEFAULT_CHUNK = 1024 * 1024

export class ArchiveEncoder {
  readonly format: FormatVersion
  readonly checksum: ChecksumAlgorithm
  readonly chunkSize: number
  #slab: Buffer
  #start = 0
  #pos = 0
  #full: Buffer[] = []
  #pendingBytes = 0
  /** Reused for every record: where the payload's bytes come from. */
  #source: PayloadSource = { text: null, bytes: null, start: 0, end: 0 }
  /** Reused for every record: its metadata flattened. */
  #flat: string[] = []

  constructor (options: EncoderOptions = {}) {
    const { format = 'v2', checksum = 'crc32', chunkSize = DEFAULT_CHUNK } = options
    if (format !== 'v1' && format !== 'v2') throw invalidOption('format', `must be 'v1' or 'v2', got ${String(format)}`)
    if (checksum !== 'crc32' && checksum !== 'crc32c') throw invalidOption('checksum', `must be 'crc32' or 'crc32c', got ${String(checksum)}`)
    if (!Number.isInteger(chunkSize) || chunkSize < 64) throw invalidOption('chunkSize', `must be an integer >= 64, got ${String(chunkSize)}`)
    this.format = format
    this.checksum = checksum
    this.chunkSize = chunkSize
    this.#slab = Buffer.allocUnsafeSlow(chunkSize)
  }

  /** Bytes encoded and not yet taken. */
  get pendingBytes (): number {
    return this.#pendingBytes
  }

  /** Append one record. Throws a ShoeboxError (SHOEBOX_INVALID_RECORD) for a record it cannot encode. */
  write (record: RecordInput): void {
    if (record === null || typeof record !== 'object') {
      throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `a record must be an object with a payload, got ${record === null ? 'null' : typeof record}`)
    }
    const flat = flattenMetadata(record.metadata, this.#flat)
    const source = this.#source
    const value = record.payload
    let contentType = CONTENT_BYTES
    source.text = null
    source.bytes = null
    if (Buffer.isBuffer(value)) {
      source.bytes = value
    } else if (typeof value === 'string') {
      source.text = value
      contentType = CONTENT_TEXT
    } else if (value instanceof Uint8Array) {
      source.bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    } else {
      const json = value === undefined ? undefined : JSON.stringify(value)
      if (json === undefined) throw new ShoeboxError('SHOEBOX_INVALID_RECORD', 'payload is not JSON-serialisable')
      source.text = json
      contentType = CONTENT_JSON
    }
    if (source.bytes !== null) {
      source.start = 0
      source.end = source.bytes.length
    }
    this.#append(flat, contentType)
  }

  /**
   * Append one record whose payload is bytes [start, end) of `bytes`, with
   * metadata already flattened to [k1, v1, ...] (see flattenMetadata). The
   * fast path for payloads that arrive as ranges of a larger buffer.
   */
  writeRange (flat: string[], bytes: Buffer, start: number, end: number, contentType = CONTENT_BYTES): void {
    const source = this.#source
    source.text = null
    source.bytes = bytes
    source.start = start
    source.end = end
    this.#append(flat, contentType)
  }

  #append (flat: string[], contentType: number): void {
    const source = this.#source
    const bound = (this.format === 'v2' ? V2_HEADER_SIZE + V2_TRAILER_SIZE : V1_HEADER_SIZE + 4) +
      metadataBound(flat) + payloadBound(source)
    this.#reserve(bound)
    const end = this.format === 'v2'
      ? writeV2(this.#slab, this.#pos, flat, source, this.checksum, contentType)
      : writeV1(this.#slab, this.#pos, flat, source)
    source.bytes = null
    source.text = null
    this.#pendingBytes += end - this.#pos
    this.#pos = end
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
    if (this.#pos > this.#start) {
      out.push(this.#slab.subarray(this.#start, this.#pos))
      this.#start = this.#pos
    }
    this.#full = []
    this.#pendingBytes = 0
    return out
  }

  #reserve (bound: number): void {
    if (this.#slab.length - this.#pos >= bound) return
    if (this.#pos > this.#start) this.#full.push(this.#slab.subarray(this.#start, this.#pos))
    this.#slab = Buffer.allocUnsafeSlow(Math.max(this.chunkSize, bound))
    this.#start = 0
    this.#pos = 0
  }
}

/** Encode records into one Buffer (for small jobs and tests). */
export function encodeRecords (records: Iterable<RecordInput>, options?: EncoderOptions): Buffer {
  const encoder = new ArchiveEncoder(options)
  for (const record of records) encoder.write(record)
  const parts = encoder.take()
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}
