/**
 * Records to NDJSON text: the form `shoebox decode` and `shoebox read` print,
 * one `{"metadata":{...},"payload":...}` per line (payload parsed when it is
 * JSON, else a string with "payloadEncoding" utf8 or base64), or, with
 * payloadOnly, each payload's raw bytes and a newline.
 */
import { isUtf8 } from 'node:buffer'
import { checkJsonText } from '../json/json-scan.js'
import { compactJson } from '../json/as-written.js'
import { LazyTransform } from '../stream/lazy-transform.js'
import type { TransformCallback } from 'node:stream'
import { checkOptionsObject, ShoeboxError } from '../errors.js'
import type { ShoeboxRecord } from '../record.js'
import { failAfterDelivery, refusesLateWrites } from '../stream/deliver-then-fail.js'
import { checkFlag } from '../units.js'

export interface RecordsToNdjsonOptions {
  /** Each payload's raw bytes and a newline instead of a JSON line. Default false. */
  payloadOnly?: boolean
  /**
   * Every payload so that its bytes come back exactly from the line
   * (encodeNdjson({ records: true })): a JSON payload as written, its
   * whitespace kept, or, when it starts or ends with whitespace or holds a
   * line break, as a string with "payloadEncoding" "utf8". Default false:
   * the whitespace between a JSON payload's tokens is taken out.
   */
  exactPayloads?: boolean
}

/**
 * Records to NDJSON text (or raw payloads and newlines), batched: output goes
 * out in ~256 KiB chunks, or FLUSH_MS after the first record waiting, not
 * once per record. Why a time and not the event loop's next turn: reading
 * many small files, every file took a turn, so nearly every record went out
 * in a write of its own (12,141 writes for 20,000 one-record files). What it
 * costs: a record that comes alone (`read --follow` as a file grows, the first
 * line `read | head -1` waits for) is printed up to FLUSH_MS later.
 */
export class RecordsToNdjson extends refusesLateWrites(LazyTransform, 'RecordsToNdjson') {
  #payloadOnly: boolean
  #exact: RecordJsonOptions
  #parts: Buffer[] = []
  #text = ''
  #size = 0
  #scheduled: ReturnType<typeof setTimeout> | null = null
  /** Records written so far: the next one's index. */
  #given = 0

  constructor (options: RecordsToNdjsonOptions = {}) {
    checkOptionsObject(options, 'RecordsToNdjson')
    // payloadOnly: 'true' (a string) was quietly no (=== true): JSON lines came out where raw payloads were asked for.
    checkFlag(options.payloadOnly, 'payloadOnly')
    checkFlag(options.exactPayloads, 'exactPayloads')
    super({ writableObjectMode: true, readableObjectMode: false })
    this.#payloadOnly = options.payloadOnly === true
    this.#exact = { exactPayloads: options.exactPayloads === true }
  }

  override _transform (record: ShoeboxRecord, _encoding: BufferEncoding, callback: TransformCallback): void {
    const index = this.#given++
    const refused = notARecord(record)
    if (refused !== undefined) {
      // Thrown from here, Node's TypeError left through the writer (a pipe's 'data' handler: an uncaught
      // exception): the stream fails instead, once the lines before it are out.
      this.#out()
      failAfterDelivery(this, new ShoeboxError('SHOEBOX_INVALID_RECORD', `RecordsToNdjson: record ${index}: ${refused}; not written (the records before it are)`), callback)
      return
    }
    if (this.#payloadOnly) {
      this.#parts.push(record.payload, NEWLINE)
      this.#size += record.payload.length + 1
    } else {
      const line = recordJson(record, this.#exact) + '\n'
      this.#text += line
      this.#size += line.length
    }
    if (this.#size >= BATCH) this.#out()
    else this.#scheduled ??= setTimeout(() => { this.#out() }, FLUSH_MS)
    callback()
  }

  override _flush (callback: TransformCallback): void {
    this.#out()
    callback()
  }

  override _destroy (err: Error | null, callback: (error: Error | null) => void): void {
    if (this.#scheduled !== null) clearTimeout(this.#scheduled)
    callback(err)
  }

  #out (): void {
    if (this.#scheduled !== null) clearTimeout(this.#scheduled)
    this.#scheduled = null
    if (this.destroyed || this.#size === 0) return
    this.push(this.#payloadOnly ? Buffer.concat(this.#parts, this.#size) : this.#text)
    this.#parts = []
    this.#text = ''
    this.#size = 0
  }
}

/**
 * Why `record` is not one as decode() and archiveSource() give them (metadata
 * an object, or none; payload a Buffer), or undefined. A record made in code
 * with a string payload is the usual one: encode() takes it, this does not.
 */
function notARecord (record: unknown): string | undefined {
  const what = 'a record is an object with a Buffer payload'
  if (ArrayBuffer.isView(record)) return `${what}, got ${record.byteLength} bytes: archive bytes go through decode() first`
  if (record === null || typeof record !== 'object') return `${what}, got ${record === null ? 'null' : typeof record}`
  const { payload, metadata } = record as { payload?: unknown, metadata?: unknown }
  if (!Buffer.isBuffer(payload)) {
    const got = payload === null ? 'null' : ArrayBuffer.isView(payload) ? payload.constructor.name : typeof payload
    return `its payload must be a Buffer (as decode() and archiveSource() give), got ${got}`
  }
  if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
    return `its metadata must be an object, got ${metadata === null ? 'null' : Array.isArray(metadata) ? 'an array' : typeof metadata}`
  }
  const { rawMetadata } = record as { rawMetadata?: unknown }
  if (rawMetadata !== undefined && !isRawMetadata(rawMetadata)) {
    return 'its rawMetadata must be [key, value] pairs of Buffers, as decode({ rawMetadata: true }) gives'
  }
  return undefined
}

function isRawMetadata (raw: unknown): boolean {
  return Array.isArray(raw) && raw.every((pair) => Array.isArray(pair) && pair.length === 2 && Buffer.isBuffer(pair[0]) && Buffer.isBuffer(pair[1]))
}

const BATCH = 256 * 1024
/** The longest a record waits for others to go out with (see RecordsToNdjson). */
export const FLUSH_MS = 10
const NEWLINE = Buffer.from('\n')

export interface RecordJsonOptions {
  /** See RecordsToNdjsonOptions.exactPayloads. */
  exactPayloads?: boolean
}

/**
 * One record as a JSON line; a record's position, when it has one, comes
 * along. A JSON payload goes in as written, less the whitespace between its
 * tokens (which may be newlines): parsed and stringified again, 9007199254740993
 * printed as 9007199254740992, 1e400 as null, and of a repeated key only the last.
 * With exactPayloads its whitespace stays, unless the line could not hold it
 * as it is (below).
 */
export function recordJson (record: ShoeboxRecord, options: RecordJsonOptions = {}): string {
  const { payload, position } = record
  // A record made in code may have none; the line has {} (JSON.stringify(undefined) would make it no JSON).
  const metadata = metadataJson(record)
  if (!isUtf8(payload)) {
    return `{"metadata":${metadata},"payload":${JSON.stringify(payload.toString('base64'))},"payloadEncoding":"base64"${positionJson(position)}}`
  }
  const text = payload.toString('utf8')
  try {
    checkJsonText(text)
  } catch {
    return `{"metadata":${metadata},"payload":${JSON.stringify(text)},"payloadEncoding":"utf8"${positionJson(position)}}`
  }
  if (options.exactPayloads === true && !fitsAsWritten(text)) {
    return `{"metadata":${metadata},"payload":${JSON.stringify(text)},"payloadEncoding":"utf8"${positionJson(position)}}`
  }
  return `{"metadata":${metadata},"payload":${options.exactPayloads === true ? text : compactJson(text)}${positionJson(position)}}`
}

/**
 * Whether a JSON text can stand in a line as it is and be taken back byte for byte: no line break (which would
 * end the line; JSON holds one only as whitespace, never raw in a string), and no whitespace before or after its
 * value, which a reader of the line cannot tell from the line's own.
 */
function fitsAsWritten (text: string): boolean {
  return !isJsonSpace(text.charCodeAt(0)) && !isJsonSpace(text.charCodeAt(text.length - 1)) && !text.includes('\n') && !text.includes('\r')
}

function isJsonSpace (c: number): boolean {
  return c === 0x20 || c === 0x0A || c === 0x0D || c === 0x09
}

function positionJson (position: ShoeboxRecord['position']): string {
  return position === undefined ? '' : `,"position":${JSON.stringify(position)}`
}

/**
 * The line's metadata: the object, or, for a record read with `rawMetadata`,
 * its pairs as stored, `[["k","v"],...]` in their order, a repeated key
 * repeated; when any of them is not UTF-8 (which text would turn into
 * U+FFFD), every one is base64 and `"metadataEncoding":"base64"` follows, as
 * `"payloadEncoding"` does for a payload.
 */
function metadataJson (record: ShoeboxRecord): string {
  const raw = record.rawMetadata
  if (raw === undefined) return JSON.stringify(record.metadata ?? {})
  const text = raw.every(([key, value]) => isUtf8(key) && isUtf8(value))
  const encoding: BufferEncoding = text ? 'utf8' : 'base64'
  const pairs = JSON.stringify(raw.map(([key, value]) => [key.toString(encoding), value.toString(encoding)]))
  return text ? pairs : `${pairs},"metadataEncoding":"base64"`
}
