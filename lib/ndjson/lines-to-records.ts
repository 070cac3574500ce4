/**
 * linesToRecords(): a Transform from NDJSON bytes to arrays of records, one
 * record per line. By default a line's bytes are the payload as-is: no
 * parse, no copy (the encoder copies them into its own buffer right away).
 * Parsing happens only when asked to validate or to lift fields into metadata.
 */
import { Transform } from 'readable-stream'
import type { TransformCallback } from 'node:stream'
import { invalidOption, ShoeboxError } from '../errors.js'
import type { Metadata, RecordInput } from '../record.js'
import { DEFAULT_MAX_RECORD_SIZE } from '../format/constants.js'

export type OnInvalid = 'error' | 'skip' | 'end'

export interface LinesToRecordsOptions {
  /** Metadata given to every record. */
  metadata?: Metadata
  /** Metadata keys taken from each line's JSON: key -> dotted field path. Implies parsing. */
  metadataFromFields?: Record<string, string>
  /** Parse each line and check it is JSON. Default false. */
  validate?: boolean
  /**
   * What a line that is not JSON does: 'error' (default) fails the stream;
   * 'skip' drops it and emits `invalid`; 'end' ends the output cleanly before
   * it (everything earlier flows on) and emits `invalid`.
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

export class LinesToRecords extends Transform {
  readonly source: string
  /** Lines read so far (blank lines included). */
  lines = 0
  /** Records produced. */
  records = 0
  /** Invalid lines seen (skipped, or the one that ended the stream). */
  readonly invalid: InvalidLine[] = []
  #metadata: Metadata
  #fields: Array<[string, string[]]>
  #parse: boolean
  #onInvalid: OnInvalid
  #maxLine: number
  #tail: Buffer | null = null
  #ended = false

  constructor (options: LinesToRecordsOptions = {}) {
    super({ writableObjectMode: false, readableObjectMode: true })
    const { metadata = {}, metadataFromFields = {}, validate = false, onInvalid = 'error' } = options
    if (!['error', 'skip', 'end'].includes(onInvalid)) throw invalidOption('onInvalid', `must be 'error', 'skip' or 'end', got ${String(onInvalid)}`)
    this.#metadata = { ...metadata }
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
    const batch: RecordInput[] = []
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
        if (!this.#line(line, batch)) return this.#finish(batch, callback)
      }
      for (;;) {
        const nl = chunk.indexOf(NEWLINE, start)
        if (nl < 0) break
        if (!this.#line(chunk.subarray(start, nl), batch)) return this.#finish(batch, callback)
        start = nl + 1
      }
      if (start < chunk.length) this.#keepTail(chunk.subarray(start))
    } catch (err) {
      if (batch.length > 0) this.push(batch)
      callback(err as Error)
      return
    }
    this.#finish(batch, callback)
  }

  override _flush (callback: TransformCallback): void {
    if (this.#ended) {
      callback()
      return
    }
    const batch: RecordInput[] = []
    try {
      if (this.#tail !== null) this.#line(this.#tail, batch)
    } catch (err) {
      if (batch.length > 0) this.push(batch)
      callback(err as Error)
      return
    }
    this.#tail = null
    this.#finish(batch, callback)
  }

  #finish (batch: RecordInput[], callback: TransformCallback): void {
    if (batch.length > 0) this.push(batch)
    if (this.#ended) this.push(null)
    callback()
  }

  #keepTail (tail: Buffer): void {
    if (tail.length > this.#maxLine) {
      throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `${this.source}: line ${this.lines + 1}: longer than maxLineLength ${this.#maxLine}`)
    }
    // Copy: the chunk may be a view of a buffer its producer reuses.
    this.#tail = Buffer.from(tail)
  }

  /** Handle one line; false when the stream must end here. */
  #line (raw: Buffer, batch: RecordInput[]): boolean {
    this.lines++
    const line = raw.length > 0 && raw[raw.length - 1] === CR ? raw.subarray(0, raw.length - 1) : raw
    if (isBlank(line)) return true
    if (!this.#parse) {
      batch.push({ metadata: this.#metadata, payload: line })
      this.records++
      return true
    }
    let value: unknown
    try {
      value = JSON.parse(line.toString('utf8'))
    } catch (err) {
      return this.#invalid((err as Error).message)
    }
    let metadata = this.#metadata
    if (this.#fields.length > 0) {
      metadata = { ...metadata }
      for (const [key, path] of this.#fields) {
        const field = pick(value, path)
        if (field !== undefined) metadata[key] = typeof field === 'string' ? field : JSON.stringify(field)
      }
    }
    batch.push({ metadata, payload: line })
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

function isBlank (line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
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

export function linesToRecords (options?: LinesToRecordsOptions): LinesToRecords {
  return new LinesToRecords(options)
}
