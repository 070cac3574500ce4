/**
 * A record line, as `shoebox read` and `decode` print one (records-to-ndjson.ts), taken back into the record it
 * was: encodeNdjson({ records: true }) and `write --records` / `encode --records`, so that `shoebox read A |
 * shoebox write B --records` copies records, not lines.
 *
 *   {"metadata":{"k":"v",...} | [["k","v"],...], "metadataEncoding":"base64"?,
 *    "payload":<JSON> | "<text>", "payloadEncoding":"utf8"|"base64"?, "position":{...}?}
 *
 * A payload without "payloadEncoding" is JSON, and its bytes are its text in the line exactly as it stands (not
 * parsed and written again: 9007199254740993, 1e400, a repeated key and the spaces `read --exact` keeps all stay as
 * they are). "position" says where the record was read; it is not part of the record and is passed over. Pure: a
 * line in, a record's parts out, or a RecordLineError saying what is wrong with it.
 */
import type { MetadataString } from '../format/metadata-block.js'
import { loneSurrogateReason } from '../format/text.js'
import { InvalidJsonError, skipJsonValue, skipKeyColon, skipString, skipWs, describeAt, invalidJson } from '../json/json-scan.js'

/** What a record line holds: metadata flattened [k1, v1, ...] (text, or bytes from base64), and the payload's bytes. */
export interface RecordLine {
  flat: MetadataString[]
  payload: Buffer
}

/**
 * A line that is JSON but no record line, or JSON whose record cannot be written as it says (base64 that is not
 * base64, a text with a lone surrogate). `json` is set when the line is no JSON at all (SHOEBOX_INVALID_JSON).
 */
export class RecordLineError extends Error {
  constructor (readonly reason: string, readonly json: boolean) {
    super(reason)
  }
}

/** What a record line has, for the message refusing one that is not. */
const SHAPE = 'a record line is {"metadata":...,"payload":...} as shoebox read prints it'
const FIELDS = new Set(['metadata', 'metadataEncoding', 'payload', 'payloadEncoding', 'position'])
/** Each field's value is checked from depth 0, as read checked the payload it printed (see parse()). */
const PAYLOAD_DEPTH = 0

/** The record a line (UTF-8 text, already checked as such) stands for; throws RecordLineError. */
export function parseRecordLine (text: string): RecordLine {
  try {
    return parse(text)
  } catch (err) {
    if (err instanceof InvalidJsonError) throw new RecordLineError(err.message, true)
    throw err
  }
}

function parse (text: string): RecordLine {
  let i = skipWs(text, 0)
  if (text.charCodeAt(i) !== 0x7B) {
    // Is it JSON at all? Its own refusal names the character; a JSON value that is no object is no record line.
    checkWhole(text)
    throw new RecordLineError(`${SHAPE}, got a JSON ${kindAt(text, i)}`, false)
  }
  const spans = new Map<string, [number, number]>()
  i = skipWs(text, i + 1)
  if (text.charCodeAt(i) !== 0x7D) {
    for (;;) {
      const start = skipKeyColon(text, i)
      const key = JSON.parse(text.slice(i, skipString(text, i))) as string
      // The payload is scanned from depth 0: read prints a payload nested up to the limit as JSON, and the line's
      // own object around it must not make it one level too deep to take back.
      const end = skipJsonValue(text, start, PAYLOAD_DEPTH)
      if (!FIELDS.has(key)) throw new RecordLineError(`a record line has no field ${JSON.stringify(key)} (only "metadata" and "payload", and "metadataEncoding", "payloadEncoding" and "position" as shoebox read prints them)`, false)
      if (spans.has(key)) throw new RecordLineError(`field ${JSON.stringify(key)} given twice`, false)
      spans.set(key, [start, end])
      i = skipWs(text, end)
      const c = text.charCodeAt(i)
      if (c === 0x7D) break
      if (c !== 0x2C) throw invalidJson(i, `expected ',' or '}', got ${describeAt(text, i)}`)
      i = skipWs(text, i + 1)
    }
  }
  i = skipWs(text, i + 1)
  if (i !== text.length) throw invalidJson(i, 'text after the value')
  const payloadSpan = spans.get('payload')
  if (payloadSpan === undefined) throw new RecordLineError(`${SHAPE}; this one has no "payload"`, false)
  const metadataEncoding = encodingOf(text, spans.get('metadataEncoding'), 'metadataEncoding', ['base64'])
  const payloadEncoding = encodingOf(text, spans.get('payloadEncoding'), 'payloadEncoding', ['utf8', 'base64'])
  return { flat: metadataOf(text, spans.get('metadata'), metadataEncoding), payload: payloadOf(text, payloadSpan, payloadEncoding) }
}

function checkWhole (text: string): void {
  const end = skipJsonValue(text, 0)
  if (skipWs(text, end) !== text.length) throw invalidJson(skipWs(text, end), 'text after the value')
}

function kindAt (text: string, i: number): string {
  const c = text.charCodeAt(i)
  return c === 0x5B ? 'array' : c === 0x22 ? 'string' : c === 0x74 || c === 0x66 ? 'boolean' : c === 0x6E ? 'null' : 'number'
}

/** An encoding field's value, one of `allowed`, or undefined when the line has none. */
function encodingOf (text: string, span: [number, number] | undefined, field: string, allowed: string[]): string | undefined {
  if (span === undefined) return undefined
  const value = JSON.parse(text.slice(span[0], span[1])) as unknown
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new RecordLineError(`"${field}" must be ${allowed.map((a) => JSON.stringify(a)).join(' or ')}, got ${text.slice(span[0], span[1])}`, false)
  }
  return value
}

/**
 * The metadata, flattened in the line's order: an object of strings (a key at most once: an object holds one
 * value per key, and the pairs form says a key twice), or [key, value] pairs as `--raw-metadata` prints them,
 * text, or base64 with "metadataEncoding":"base64". None is no metadata.
 */
function metadataOf (text: string, span: [number, number] | undefined, encoding: string | undefined): MetadataString[] {
  if (span === undefined) {
    if (encoding !== undefined) throw new RecordLineError('"metadataEncoding" without "metadata"', false)
    return []
  }
  const c = text.charCodeAt(span[0])
  if (c === 0x7B) {
    if (encoding !== undefined) throw new RecordLineError('"metadataEncoding":"base64" goes with metadata as [key, value] pairs (--raw-metadata), not an object', false)
    return objectPairs(text, span[0])
  }
  if (c !== 0x5B) throw new RecordLineError(`"metadata" must be an object of strings or [key, value] pairs, got a ${kindAt(text, span[0])}`, false)
  const pairs = JSON.parse(text.slice(span[0], span[1])) as unknown[]
  const flat: MetadataString[] = []
  for (const [index, pair] of pairs.entries()) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new RecordLineError(`"metadata" pair ${index} must be [key, value], two strings, got ${JSON.stringify(pair)}`, false)
    }
    for (const [n, s] of (pair as string[]).entries()) {
      const what = `"metadata" pair ${index}'s ${n === 0 ? 'key' : 'value'}`
      flat.push(encoding === 'base64' ? base64(s, what) : wellFormed(s, what))
    }
  }
  return flat
}

/** An object's members in the line's order (JSON.parse would put the keys that are array indices first). */
function objectPairs (text: string, start: number): string[] {
  const flat: string[] = []
  const seen = new Set<string>()
  let i = skipWs(text, start + 1)
  if (text.charCodeAt(i) === 0x7D) return flat
  for (;;) {
    const keyEnd = skipString(text, i)
    const key = JSON.parse(text.slice(i, keyEnd)) as string
    const valueStart = skipKeyColon(text, i)
    const valueEnd = skipJsonValue(text, valueStart)
    if (text.charCodeAt(valueStart) !== 0x22) {
      throw new RecordLineError(`"metadata" value of ${JSON.stringify(key)} must be a string, got ${text.slice(valueStart, Math.min(valueEnd, valueStart + 40))}`, false)
    }
    if (seen.has(key)) {
      throw new RecordLineError(`"metadata" has the key ${JSON.stringify(key)} twice (an object holds one value a key; --raw-metadata's [key, value] pairs can say it twice)`, false)
    }
    seen.add(key)
    flat.push(wellFormed(key, `"metadata" key ${JSON.stringify(key)}`), wellFormed(JSON.parse(text.slice(valueStart, valueEnd)) as string, `"metadata" value of ${JSON.stringify(key)}`))
    i = skipWs(text, valueEnd)
    if (text.charCodeAt(i) === 0x7D) return flat
    i = skipWs(text, i + 1)
  }
}

/** The payload's bytes: its JSON text as it stands in the line, or the string it is, as UTF-8 or from base64. */
function payloadOf (text: string, [start, end]: [number, number], encoding: string | undefined): Buffer {
  if (encoding === undefined) return Buffer.from(text.slice(start, end), 'utf8')
  if (text.charCodeAt(start) !== 0x22) throw new RecordLineError(`with "payloadEncoding":"${encoding}", "payload" must be a string, got a JSON ${kindAt(text, start)}`, false)
  const value = JSON.parse(text.slice(start, end)) as string
  if (encoding === 'base64') return base64(value, '"payload"')
  return Buffer.from(wellFormed(value, '"payload"'), 'utf8')
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Bytes from base64 as read prints it (padded, no spaces); Buffer.from would pass over what is not base64, and lose it. */
function base64 (s: string, what: string): Buffer {
  const bytes = Buffer.from(s, 'base64')
  if (!BASE64.test(s) || bytes.toString('base64') !== s) throw new RecordLineError(`${what} is not base64: ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}...` : s)}`, false)
  return bytes
}

/** A string UTF-8 can hold: one with a lone surrogate escape ("\ud800") would be written as U+FFFD, not as given. */
function wellFormed (s: string, what: string): string {
  if (!s.isWellFormed()) throw new RecordLineError(`${what} has ${loneSurrogateReason(s)}`, false)
  return s
}

/** For messages: the ShoeboxError code of a line refused here. */
export function recordLineCode (err: RecordLineError): 'SHOEBOX_INVALID_JSON' | 'SHOEBOX_INVALID_RECORD' {
  return err.json ? 'SHOEBOX_INVALID_JSON' : 'SHOEBOX_INVALID_RECORD'
}
