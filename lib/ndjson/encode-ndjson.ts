/**
 * encodeNdjson(): a Transform from NDJSON bytes straight to archive bytes,
 * one record per line. By default a line's bytes are the payload as-is: no
 * parse, and no object or Buffer per line (lines are copied from the input
 * chunk into the output slab). Parsing happens only when asked to validate or
 * to lift fields into metadata. Blank lines are ignored; CRLF is accepted.
 * With the native part built, lines that need no parsing are framed a whole
 * chunk at a time (ArchiveEncoder.frameLines), the same bytes in fewer steps.
 * With `records`, each line is a record as `shoebox read` prints it, written
 * back as that record (record-line.ts).
 */
import { constants as bufferConstants, isUtf8 } from 'node:buffer'
import { failsOnListenerRejection } from '../stream/listener-rejections.js'
// node:stream's Transform, not readable-stream's (the other format stages'): `shoebox write` runs
// nothing else of readable-stream, and loading its ~28 files costs ~30 ms of a write's start-up.
// Node starts with node:stream loaded, so this costs nothing at import.
import { Transform, type TransformCallback } from 'node:stream'
import { checkOptionsObject, checkText, givenValue, invalidOption, ShoeboxError, takesBytes } from '../errors.js'
import { failAfterDelivery, refusesLateWrites } from '../stream/deliver-then-fail.js'
import { LeadingBom } from '../stream/leading-bom.js'
import { setOwnKey } from '../json/own-key.js'
import { compactJson, jsonFieldSpan } from '../json/as-written.js'
import { checkFlag, oneOf, sizeOption } from '../units.js'
import type { Metadata, RecordInput } from '../record.js'
import { CONTENT_JSON, CONTENT_BYTES, V2_HEADER_SIZE, V2_TRAILER_SIZE } from '../format/constants.js'
import { ArchiveEncoder, type EncoderInternals, type EncoderOptions, type FramedLines } from '../format/encoder.js'
import { flattenMetadata, measureFlat, writeMetadata, type MetadataString } from '../format/metadata-block.js'
import { loneSurrogateAt, loneSurrogateReason, metadataStringName } from '../format/text.js'

export type OnInvalid = 'error' | 'skip' | 'end'

export interface EncodeNdjsonOptions extends EncoderOptions {
  /** Metadata given to every record. */
  metadata?: RecordInput['metadata']
  /** Metadata keys taken from each line's JSON: key -> dotted field path. Implies parsing. */
  metadataFromFields?: Record<string, string>
  /** Parse each line and check it is JSON. Default false. */
  validate?: boolean
  /**
   * Each line is a record as `shoebox read` and RecordsToNdjson print it,
   * `{"metadata":...,"payload":...}`, written back as that record: its
   * metadata (an object, or `rawMetadata`'s pairs, base64 included) and its
   * payload's bytes (a JSON payload's text as it stands in the line). A line
   * that is no such record is invalid (see onInvalid). Goes with neither
   * `metadata` nor `metadataFromFields`: the metadata is each line's own.
   * Default false.
   */
  records?: boolean
  /**
   * What a line that is not JSON does (when parsing): 'error' (default) fails
   * the stream; 'skip' drops it and emits `invalid`; 'end' ends the output
   * cleanly before it, everything earlier encoded and flushed, and emits
   * `invalid`. 'end' ends before a line too long too (which otherwise fails
   * the stream), so that a sink downstream keeps the lines before it.
   */
  onInvalid?: OnInvalid
  /**
   * Longest line accepted, in bytes. Default: maxRecordSize less a record's
   * overhead without metadata (64 MiB - 32), so that a line accepted makes a
   * record the readers accept; with metadata, maxRecordSize still applies.
   * With `records`, six times maxRecordSize and 64 KiB (the longest line read
   * prints a record of that size as), at most 2^29 - 24 (V8's longest
   * string); the record a line makes is held to maxRecordSize.
   * Bytes or a size string ('1MiB'), at least 1.
   */
  maxLineLength?: number | string
  /** Name of the input, for messages. Default 'input'. */
  source?: string
}

/** A line that was not JSON, or (with onInvalid 'end') too long. */
export interface InvalidLine {
  source: string
  line: number
  message: string
  /** SHOEBOX_INVALID_JSON, or SHOEBOX_INVALID_RECORD for a line too long (onInvalid 'end' only) or, with `records`, no record line. */
  code: 'SHOEBOX_INVALID_JSON' | 'SHOEBOX_INVALID_RECORD'
}

/** What is wrong with a line in `invalid`, for a message: not JSON, no record line (`records`), or (onInvalid 'end') too long. */
export function invalidWhat (bad: InvalidLine): string {
  return bad.code === 'SHOEBOX_INVALID_JSON' ? `invalid JSON: ${bad.message}` : bad.message
}

/** A line refused as a record (too long, or over maxRecordSize with its metadata); with onInvalid 'end' the output ends cleanly before it instead. */
class LineRefused extends ShoeboxError {
  constructor (readonly source: string, readonly line: number, readonly reason: string, cause?: unknown) {
    super('SHOEBOX_INVALID_RECORD', `${source}: line ${line}: ${reason}`, cause === undefined ? undefined : { cause })
  }
}

const NEWLINE = 0x0a
/** Default encoder chunkSize here (see the constructor). */
const SLAB_SIZE = 4 * 1024 * 1024
const EMPTY = Buffer.alloc(0)
/** A v2 record with no metadata and no payload (v1's is smaller): header, metadata count, checksum. */
const EMPTY_RECORD_SIZE = V2_HEADER_SIZE + 4 + V2_TRAILER_SIZE
const CR = 0x0d
/**
 * With `records`, a line is longer than its record: read prints a binary payload or metadata in base64 (4/3 of it)
 * and a text one as a JSON string, where a control character is `\u0001`, six bytes for one. The longest line of a
 * record of maxRecordSize is six times it, plus the fields around it (a "position" names a file): a line shorter
 * than that limit was refused as too long, and a record of the size limit read --exact printed never came back.
 */
const RECORD_LINE_ESCAPE = 6
const RECORD_LINE_FIELDS = 64 * 1024
/** How every line `shoebox read` prints starts (records-to-ndjson.ts): an input starting so is its output. */
const RECORD_LINE_START = Buffer.from('{"metadata":')

/** Objects written here fail the stream with a message that says so (see refuseNotBytes). */
const EncodeNdjsonBase = takesBytes(refusesLateWrites(Transform, 'encodeNdjson()'), 'encodeNdjson()', 'it takes NDJSON lines; encode() takes records')

export class EncodeNdjson extends failsOnListenerRejection(EncodeNdjsonBase) {
  readonly source: string
  /** Lines read so far (blank lines included). */
  lines = 0
  /** Records encoded. */
  records = 0
  /**
   * Set before end() when the input was cut short (a signal), not ended: an
   * unfinished last line, whose end was never read, is no line. It is left
   * out, and bufferedLineBytes keeps its length. (At a real end it is a line.)
   */
  cut = false
  /** Invalid lines seen (skipped, or the one that ended the stream). */
  readonly invalid: InvalidLine[] = []
  #encoder: ArchiveEncoder
  #metadata: Metadata
  #flat: string[]
  #fields: Array<[string, string[]]>
  #parse: boolean
  #records: boolean
  /** record-line.ts, loaded at the first chunk when `records` is set: a plain write or import loads none of it (test/startup-lazy.test.ts). */
  #recordLine: typeof import('./record-line.js') | undefined
  /** The input's first bytes, until they say whether it looks like record lines (see 'recordLines'); null once told. */
  #head: Buffer | null = EMPTY
  #onInvalid: OnInvalid
  #maxLine: number
  /** Whether maxLineLength was an option (else it comes from maxRecordSize, and errors say so). */
  readonly #maxLineGiven: boolean
  /**
   * The pieces of a line that has not ended yet, each copied once (its
   * producer may reuse the chunk), joined once when its newline arrives: a
   * long line costs linear time, and memory of the line plus one chunk.
   */
  #pieces: Buffer[] = []
  #held = 0
  #copied = 0
  #ended = false
  /** Until the input's first bytes are known: a byte order mark there is dropped. */
  #bom: LeadingBom | undefined = new LeadingBom()
  /**
   * The metadata block every line's record carries, laid out once, when
   * lines are framed a chunk at a time: the native framer is built, lines
   * are not parsed, and the metadata is ASCII (not ASCII: the per-line path,
   * kept simple). Null otherwise.
   */
  #block: Buffer | null = null
  #framed: FramedLines = { next: 0, lines: 0, records: 0, refused: false }

  /** `internals` is for shoebox's own modules and tests (see EncoderInternals). */
  constructor (options: EncodeNdjsonOptions = {}, internals?: EncoderInternals) {
    super({ writableObjectMode: false, readableObjectMode: false })
    const { metadata = {}, metadataFromFields = {}, validate = false, records = false, onInvalid = 'error' } = options
    oneOf(onInvalid, ['error', 'skip', 'end'], 'onInvalid')
    // validate: 'false' (a string) was read by its truthiness, as yes: every line parsed, and one that was no JSON failed the stream.
    checkFlag(validate, 'validate')
    checkFlag(records, 'records')
    // A number or an object here was put in every error as it printed ('[object Object]: line 3: ...').
    checkText(options.source, 'source')
    this.#metadata = metadataObject(metadata)
    this.#flat = flattenMetadata(this.#metadata)
    checkMetadataOption(this.#flat)
    this.#fields = fieldPaths(metadataFromFields)
    // Each record's metadata is its line's: more from options would change the records it copies.
    if (records && this.#flat.length > 0) throw invalidOption('metadata', 'does not go with records: true (each record keeps the metadata its line gives)')
    if (records && this.#fields.length > 0) throw invalidOption('metadataFromFields', 'does not go with records: true (each record keeps the metadata its line gives)')
    this.#records = records
    this.#parse = validate || records || this.#fields.length > 0
    // Lines framed a chunk at a time (when the encoder can), with one metadata block for all.
    const frame = !this.#parse && this.#flat.every(isAscii)
    // Slabs several flush blocks long: the rolling sink's blocks are then mostly views of one slab
    // (one piece per chunk, handed out one after another), joined without a copy.
    const encoderOptions = { ...options, chunkSize: options.chunkSize === undefined ? SLAB_SIZE : options.chunkSize }
    this.#encoder = new ArchiveEncoder(encoderOptions, internals)
    this.#onInvalid = onInvalid
    this.#maxLine = sizeOption(options.maxLineLength, defaultMaxLine(this.#encoder.maxRecordSize, records), 'maxLineLength', 1)
    this.#maxLineGiven = options.maxLineLength !== undefined
    this.source = options.source ?? 'input'
    if (frame && this.#encoder.canFrameLines) {
      const size = measureFlat(this.#flat, this.#flat.length, { pairs: 0, chars: 0, bound: 0 })
      const block = Buffer.alloc(size.bound)
      this.#block = block.subarray(0, writeMetadata(block, 0, this.#flat, 2))
    }
  }

  /** Bytes of an unfinished line held until its newline (or the end) arrives. */
  get bufferedLineBytes (): number {
    return this.#held
  }

  /** Bytes copied to hold and join lines that span chunks (at most twice their length). */
  get lineBytesCopied (): number {
    return this.#copied
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#records && this.#recordLine === undefined) {
      import('./record-line.js').then((recordLine) => {
        this.#recordLine = recordLine
        this._transform(chunk, _encoding, callback)
      }, (err: unknown) => { callback(err as Error) })
      return
    }
    if (this.#ended) {
      callback()
      return
    }
    if (this.#bom !== undefined) {
      chunk = this.#bom.strip(chunk)
      if (this.#bom.decided) this.#bom = undefined
      if (chunk.length === 0) {
        callback()
        return
      }
    }
    if (this.#head !== null) this.#sniff(chunk)
    let start = 0
    try {
      if (this.#held > 0) {
        const nl = chunk.indexOf(NEWLINE)
        if (nl < 0) {
          this.#hold(chunk, 0)
          callback()
          return
        }
        const line = this.#join(chunk, nl)
        start = nl + 1
        if (!this.#line(line, 0, line.length)) return this.#finish(callback)
      }
      for (;;) {
        if (this.#block !== null && this.#encoder.canFrameLines) start = this.#frameLines(chunk, start)
        const nl = chunk.indexOf(NEWLINE, start)
        if (nl < 0) break
        if (!this.#line(chunk, start, nl)) return this.#finish(callback)
        start = nl + 1
      }
      if (start < chunk.length) this.#hold(chunk, start)
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
      // An input of only the start of a byte order mark: those bytes are its last line.
      const rest = this.#bom?.end()
      this.#bom = undefined
      if (rest !== undefined && rest.length > 0) this.#hold(rest, 0)
      if (this.#held > 0 && !this.cut) {
        const line = this.#join(EMPTY, 0)
        this.#line(line, 0, line.length)
      }
    } catch (err) {
      this.#fail(err as Error, callback)
      return
    }
    this.#finish(callback)
  }

  /**
   * Whether the input starts as `shoebox read`'s output does, `{"metadata":`: then, without `records`, each
   * record's payload is a whole record line, its metadata lost, which is rarely what was meant. Said once, as the
   * event 'recordLines' { source }, for a command to say; never a failure (such lines may be meant as payloads).
   */
  #sniff (chunk: Buffer): void {
    const head = Buffer.concat([this.#head as Buffer, chunk.subarray(0, RECORD_LINE_START.length)])
    const n = Math.min(head.length, RECORD_LINE_START.length)
    const looks = head.subarray(0, n).equals(RECORD_LINE_START.subarray(0, n))
    this.#head = looks && n < RECORD_LINE_START.length ? head : null
    if (looks && this.#head === null && !this.#records) this.emit('recordLines', { source: this.source })
  }

  /** Push what is encoded; after an 'end' stop, end the output. */
  #finish (callback: TransformCallback): void {
    for (const buf of this.#encoder.take()) this.push(buf)
    if (this.#ended) this.push(null)
    callback()
  }

  /** Lines before the bad one still go out before the error (or, for a line too long with 'end', before the end). */
  #fail (err: Error, callback: TransformCallback): void {
    if (err instanceof LineRefused && this.#onInvalid === 'end') {
      this.#pieces = []
      this.#held = 0
      this.#endBefore({ source: err.source, line: err.line, message: err.reason, code: 'SHOEBOX_INVALID_RECORD' })
      this.#finish(callback)
      return
    }
    for (const buf of this.#encoder.take()) this.push(buf)
    failAfterDelivery(this, err, callback)
  }

  /**
   * Hold chunk[start..] as part of the unfinished line. Fails before copying
   * once the line is longer than allowed (one byte more may be a CR, which
   * is not part of the line), so nothing beyond the limit is ever held.
   */
  #hold (chunk: Buffer, start: number): void {
    const held = this.#held + chunk.length - start
    if (held > this.#maxLine + 1) throw this.#tooLong(this.lines + 1)
    this.#pieces.push(Buffer.from(chunk.subarray(start)))
    this.#held = held
    this.#copied += chunk.length - start
  }

  /** The held pieces and chunk[0, end) as one line, copied once; nothing is held after. */
  #join (chunk: Buffer, end: number): Buffer {
    const pieces = this.#pieces
    const length = this.#held + end
    this.#pieces = []
    this.#held = 0
    if (length > this.#maxLine + 1) throw this.#tooLong(this.lines + 1)
    if (end === 0 && pieces.length === 1) return pieces[0] // already a copy of its own
    if (end > 0) pieces.push(chunk.subarray(0, end))
    this.#copied += length
    return Buffer.concat(pieces, length)
  }

  #tooLong (line: number): LineRefused {
    // By default the limit comes from maxRecordSize: name that, not an option the user never set (the CLI says its flag).
    const limit = this.#maxLineGiven
      ? `maxLineLength ${this.#maxLine}`
      : this.#records
        ? `${this.#maxLine} bytes, the longest line a record of maxRecordSize ${this.#encoder.maxRecordSize} is printed as (raise maxRecordSize)`
        : `${this.#maxLine} bytes, the longest line a record of maxRecordSize ${this.#encoder.maxRecordSize} holds (raise maxRecordSize)`
    return new LineRefused(this.source, line, `longer than ${limit}`)
  }

  /**
   * Frame the complete lines of chunk[start..] a chunk at a time; returns
   * where it stopped: after the last complete line, or at a line it leaves
   * to #line (which refuses it, naming it).
   */
  #frameLines (chunk: Buffer, start: number): number {
    const framed = this.#framed
    this.#encoder.frameLines(this.#block as Buffer, CONTENT_BYTES, chunk, start, chunk.length, this.#maxLine, framed)
    this.lines += framed.lines
    this.records += framed.records
    return framed.next
  }

  /** Encode the line buf[start, end); false when the stream must end here. */
  #line (buf: Buffer, start: number, end: number): boolean {
    this.lines++
    if (end > start && buf[end - 1] === CR) end--
    if (isBlank(buf, start, end)) return true
    if (end - start > this.#maxLine) throw this.#tooLong(this.lines)
    if (!this.#parse) {
      this.#write(this.#flat, buf, start, end, CONTENT_BYTES)
      return true
    }
    // toString() would turn bytes that are not UTF-8 into U+FFFD and JSON.parse would accept them.
    if (!isUtf8(buf.subarray(start, end))) return this.#invalid('not valid UTF-8')
    const text = buf.toString('utf8', start, end)
    if (this.#records) return this.#record(text)
    try {
      JSON.parse(text)
    } catch (err) {
      return this.#invalid((err as Error).message)
    }
    let flat = this.#flat
    if (this.#fields.length > 0) {
      const metadata = { ...this.#metadata }
      for (const [key, path] of this.#fields) {
        let field: string | undefined
        try {
          field = fieldText(text, path)
        } catch (err) {
          return this.#invalid(`field ${path.join('.')}: ${(err as Error).message}`)
        }
        if (field !== undefined) setOwnKey(metadata, key, field)
      }
      flat = flattenMetadata(metadata)
    }
    this.#write(flat, buf, start, end, CONTENT_JSON)
    return true
  }

  /** A record line (`records`) written back as the record it says. */
  #record (text: string): boolean {
    const { parseRecordLine, RecordLineError, recordLineCode } = this.#recordLine as typeof import('./record-line.js')
    let record
    try {
      record = parseRecordLine(text)
    } catch (err) {
      if (!(err instanceof RecordLineError)) throw err
      return this.#invalid(err.reason, recordLineCode(err))
    }
    // Bytes, as encode() writes a decoded record (its payload a Buffer): the content type is a hint readers do not
    // give back (docs/FORMAT.md), and bytes is what `shoebox encode` and `write` give a line, so that the copy of an
    // archive they wrote is that archive, byte for byte.
    this.#write(record.flat, record.payload, 0, record.payload.length, CONTENT_BYTES)
    return true
  }

  /** Encode one line's record; a record the encoder refuses (over maxRecordSize) fails naming the line. */
  #write (flat: readonly MetadataString[], buf: Buffer, start: number, end: number, contentType: number): void {
    try {
      this.#encoder.writeRange(flat, buf, start, end, contentType)
    } catch (err) {
      throw new LineRefused(this.source, this.lines, (err as Error).message, err)
    }
    this.records++
  }

  #invalid (message: string, code: InvalidLine['code'] = 'SHOEBOX_INVALID_JSON'): boolean {
    const info: InvalidLine = { source: this.source, line: this.lines, message, code }
    if (this.#onInvalid === 'error') {
      throw new ShoeboxError(code, `${info.source}: line ${info.line}: ${invalidWhat(info)}`)
    }
    if (this.#onInvalid === 'skip') {
      this.invalid.push(info)
      this.emit('invalid', info)
      return true
    }
    this.#endBefore(info)
    return false
  }

  /** onInvalid 'end': the output ends before this line. */
  #endBefore (info: InvalidLine): void {
    this.invalid.push(info)
    this.emit('invalid', info)
    this.#ended = true
  }
}

/**
 * maxLineLength's default: a line's bytes are a record's payload, so the record's size less its overhead; with
 * `records`, the longest line a record of maxRecordSize is printed as (RECORD_LINE_ESCAPE), and at most the longest
 * string V8 makes of it (a line is parsed as one). Either way the record a line makes is then held to maxRecordSize.
 */
function defaultMaxLine (maxRecordSize: number, records: boolean): number {
  if (!records) return Math.max(1, maxRecordSize - EMPTY_RECORD_SIZE)
  return Math.min(RECORD_LINE_ESCAPE * maxRecordSize + RECORD_LINE_FIELDS, bufferConstants.MAX_STRING_LENGTH)
}

function isAscii (text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text)
}

function isBlank (buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i]
    if (c !== 0x20 && c !== 0x09 && c !== CR) return false
  }
  return true
}

/**
 * A field of a line's JSON as metadata text: a string as itself, any other
 * value as its JSON text as written (whitespace aside), not parsed and
 * stringified again, which rounded 9007199254740993 and made 1e400 "null"
 * (and overflowed the stack on a deeply nested value). A line's own keys
 * only: one without "constructor" has no field "constructor". Throws for a
 * string with a lone surrogate (\ud800), which metadata, being UTF-8, would
 * hold as U+FFFD.
 */
function fieldText (text: string, path: string[]): string | undefined {
  const span = jsonFieldSpan(text, path)
  if (span === undefined) return undefined
  if (text.charCodeAt(span.start) !== 0x22) return compactJson(text, span.start, span.end)
  const value = JSON.parse(text.slice(span.start, span.end)) as string
  if (loneSurrogateAt(value) >= 0) throw new ShoeboxError('SHOEBOX_INVALID_JSON', `its text has ${loneSurrogateReason(value)}`)
  return value
}

export function encodeNdjson (options?: EncodeNdjsonOptions): EncodeNdjson {
  checkOptionsObject(options, 'encodeNdjson()')
  return new EncodeNdjson(options)
}

/**
 * The `metadata` option as an object. An object, [key, value] pairs or a Map
 * (as a record's metadata may be); anything else is refused: it was spread
 * into an object, so a string gave every record the keys '0', '1'... of its
 * characters, and a Map gave none of its entries.
 */
function metadataObject (metadata: unknown): Metadata {
  if (Array.isArray(metadata) || metadata instanceof Map) {
    const flat = flattenMetadata(metadata as Map<string, string>)
    const object: Metadata = {}
    for (let i = 0; i < flat.length; i += 2) setOwnKey(object, flat[i], flat[i + 1])
    return object
  }
  if (metadata === null || typeof metadata !== 'object') {
    throw invalidOption('metadata', `must be an object of string values, got ${givenValue(metadata)}`)
  }
  return { ...metadata as Metadata }
}

/** The `metadata` option's strings (flattened), refused at once for a lone surrogate, as encode() refuses a record's. */
function checkMetadataOption (flat: string[]): void {
  for (let i = 0; i < flat.length; i++) {
    if (loneSurrogateAt(flat[i]) >= 0) {
      const name = metadataStringName(flat[i - (i % 2)], i % 2 === 1).replace(/^metadata /, '')
      throw invalidOption('metadata', `${name} has ${loneSurrogateReason(flat[i])}`)
    }
  }
}

/** The `metadataFromFields` option's paths, checked: a string given for the object was taken as no field at all. */
function fieldPaths (fields: unknown): Array<[string, string[]]> {
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
    throw invalidOption('metadataFromFields', `must be an object of { key: 'dotted.path' }, got ${givenValue(fields)}`)
  }
  return Object.entries(fields).map(([key, path]) => {
    if (typeof path !== 'string' || path === '') throw invalidOption(`metadataFromFields.${key}`, `must be a field's dotted path, got ${givenValue(path)}`)
    return [key, path.split('.')]
  })
}
