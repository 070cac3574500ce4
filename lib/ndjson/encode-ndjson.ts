/**
 * encodeNdjson(): a Transform from NDJSON bytes straight to archive bytes,
 * one record per line. By default a line's bytes are the payload as-is: no
 * parse, and no object or Buffer per line (lines are copied from the input
 * chunk into the output slab). Parsing happens only when asked to validate or
 * to lift fields into metadata. Blank lines are ignored; CRLF is accepted.
 */
import { Transform } from 'readable-stream'
import type { TransformCallback } from 'node:stream'
import { invalidOption, ShoeboxError } from '../errors.js'
import { failAfterDelivery } from '../stream/deliver-then-fail.js'
import type { Metadata } from '../record.js'
import { CONTENT_JSON, CONTENT_BYTES, DEFAULT_MAX_RECORD_SIZE } from '../format/constants.js'
import { ArchiveEncoder, type EncoderOptions } from '../format/encoder.js'
import { flattenMetadata } from '../format/metadata-block.js'

export type OnInvalid = 'error' | 'skip' | 'end'

export interface EncodeNdjsonOptions extends EncoderOptions {
  /** Metadata given to every record. */
  metadata?: Metadata
  /** Metadata keys taken from each line's JSON: key -> dotted field path. Implies parsing. */
  metadataFromFields?: Record<string, string>
  /** Parse each line and check it is JSON. Default false. */
  validate?: boolean
  /**
   * What a line that is not JSON does (when parsing): 'error' (default) fails
   * the stream; 'skip' drops it and emits `invalid`; 'end' ends the output
   * cleanly before it, everything earlier encoded and flushed, and emits `invalid`.
   */
  onInvalid?: OnInvalid
  /** Longest line accepted, in bytes. Default 64 MiB. */
  maxLineLength?: number
  /** Name of the input, for messages. Default 'input'. */
  source?: string
}

/** A line that was not JSON. */
export interface InvalidLine {
  source: string
  line: number
  message: string
}

const NEWLINE = 0x0a
const CR = 0x0d

export class EncodeNdjson extends Transform {
  readonly source: string
  /** Lines read so far (blank lines included). */
  lines = 0
  /** Records encoded. */
  records = 0
  /** Invalid lines seen (skipped, or the one that ended the stream). */
  readonly invalid: InvalidLine[] = []
  #encoder: ArchiveEncoder
  #metadata: Metadata
  #flat: string[]
  #fields: Array<[string, string[]]>
  #parse: boolean
  #onInvalid: OnInvalid
  #maxLine: number
  #tail: Buffer | null = null
  #ended = false

  constructor (options: EncodeNdjsonOptions = {}) {
    super({ writableObjectMode: false, readableObjectMode: false })
    const { metadata = {}, metadataFromFields = {}, validate = false, onInvalid = 'error' } = options
    if (!['error', 'skip', 'end'].includes(onInvalid)) throw invalidOption('onInvalid', `must be 'error', 'skip' or 'end', got ${String(onInvalid)}`)
    this.#encoder = new ArchiveEncoder(options)
    this.#metadata = { ...metadata }
    this.#flat = flattenMetadata(this.#metadata)
    this.#fields = Object.entries(metadataFromFields).map(([key, path]) => [key, path.split('.')])
    this.#parse = validate || this.#fields.length > 0
    this.#onInvalid = onInvalid
    this.#maxLine = options.maxLineLength ?? DEFAULT_MAX_RECORD_SIZE
    this.source = options.source ?? 'input'
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#ended) {
      callback()
      return
    }
    let start = 0
    try {
      if (this.#tail !== null) {
        const nl = chunk.indexOf(NEWLINE)
        if (nl < 0) {
          this.#keepTail(Buffer.concat([this.#tail, chunk]))
          callback()
          return
        }
        const line = Buffer.concat([this.#tail, chunk.subarray(0, nl)])
        this.#tail = null
        start = nl + 1
        if (!this.#line(line, 0, line.length)) return this.#finish(callback)
      }
      for (;;) {
        const nl = chunk.indexOf(NEWLINE, start)
        if (nl < 0) break
        if (!this.#line(chunk, start, nl)) return this.#finish(callback)
        start = nl + 1
      }
      if (start < chunk.length) this.#keepTail(chunk.subarray(start))
    } catch (err) {
      this.#fail(err as Error, callback)
      return
    }
    this.#finish(callback)
  }

  override _flush (callback: TransformCallback): void {
    if (this.#ended) {
      callback()
      return
    }
    try {
      if (this.#tail !== null) this.#line(this.#tail, 0, this.#tail.length)
    } catch (err) {
      this.#fail(err as Error, callback)
      return
    }
    this.#tail = null
    this.#finish(callback)
  }

  /** Push what is encoded; after an 'end' stop, end the output. */
  #finish (callback: TransformCallback): void {
    for (const buf of this.#encoder.take()) this.push(buf)
    if (this.#ended) this.push(null)
    callback()
  }

  /** Lines before the bad one still go out before the error. */
  #fail (err: Error, callback: TransformCallback): void {
    for (const buf of this.#encoder.take()) this.push(buf)
    failAfterDelivery(this, err, callback)
  }

  #keepTail (tail: Buffer): void {
    if (tail.length > this.#maxLine) {
      throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `${this.source}: line ${this.lines + 1}: longer than maxLineLength ${this.#maxLine}`)
    }
    // Copy: the chunk may be a view of a buffer its producer reuses.
    this.#tail = Buffer.from(tail)
  }

  /** Encode the line buf[start, end); false when the stream must end here. */
  #line (buf: Buffer, start: number, end: number): boolean {
    this.lines++
    if (end > start && buf[end - 1] === CR) end--
    if (isBlank(buf, start, end)) return true
    if (end - start > this.#maxLine) {
      throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `${this.source}: line ${this.lines}: longer than maxLineLength ${this.#maxLine}`)
    }
    if (!this.#parse) {
      this.#encoder.writeRange(this.#flat, buf, start, end, CONTENT_BYTES)
      this.records++
      return true
    }
    let value: unknown
    try {
      value = JSON.parse(buf.toString('utf8', start, end))
    } catch (err) {
      return this.#invalid((err as Error).message)
    }
    let flat = this.#flat
    if (this.#fields.length > 0) {
      const metadata = { ...this.#metadata }
      for (const [key, path] of this.#fields) {
        const field = pick(value, path)
        if (field !== undefined) metadata[key] = typeof field === 'string' ? field : JSON.stringify(field)
      }
      flat = flattenMetadata(metadata)
    }
    this.#encoder.writeRange(flat, buf, start, end, CONTENT_JSON)
    this.records++
    return true
  }

  #invalid (message: string): boolean {
    const info: InvalidLine = { source: this.source, line: this.lines, message }
    if (this.#onInvalid === 'error') {
      throw new ShoeboxError('SHOEBOX_INVALID_JSON', `${info.source}: line ${info.line}: invalid JSON: ${message}`)
    }
    this.invalid.push(info)
    this.emit('invalid', info)
    if (this.#onInvalid === 'skip') return true
    this.#ended = true
    return false
  }
}

function isBlank (buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i]
    if (c !== 0x20 && c !== 0x09 && c !== CR) return false
  }
  return true
}

function pick (value: unknown, path: string[]): unknown {
  let v = value
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[key]
  }
  return v
}

export function encodeNdjson (options?: EncodeNdjsonOptions): EncodeNdjson {
  return new EncodeNdjson(options)
}
