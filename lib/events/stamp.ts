/**
 * stamp(): a Transform from events to stamped events, ready to ship: the
 * stream name checked (spec §6.2), `@time` set (kept from the event, or now,
 * or read from a named field, or computed by a function) and a fresh `@id`.
 *
 * In: event objects (bigints allowed), or JSON text (a string, or a Buffer or Uint8Array of its bytes) of
 * one event each. Out: StampedEventRecord { stream, event, time, id, line },
 * `event` being the JSON text as received with @id/@time spliced in (see
 * event-text.ts), so nothing else about the event changes on its way.
 *
 * stampNdjson(): the same from NDJSON bytes, a Duplex built with pumpify over
 * a byte order mark at the start dropped (leading-bom.ts), a UTF-8 check
 * (utf8-line-check.ts), split2 (LF or CRLF lines, blank lines skipped but
 * counted) and stamp.
 *
 * A line longer than maxLineLength (default 64 MiB, far above any event a
 * server takes) is a bad event like any other, named by its line: its bytes
 * are dropped as they come (lines-in-one-chunk.ts), not held, so a file
 * without a newline costs no more memory than one line of that length.
 *
 * A bad event (bad JSON, not valid UTF-8, not an object, bad @time, bad or missing stream)
 * is reported with its line (the n-th chunk for stamp()): by default the
 * stream fails with that ShoeboxError after delivering every good event
 * before it; with `onInvalid: 'event'` an `invalid` event {line, text, error}
 * is emitted and stamping goes on. Good events are never dropped.
 */
import { isUtf8 } from 'node:buffer'
import { createRequire } from 'node:module'
import type { Duplex, TransformCallback } from 'node:stream'
import { Transform } from 'readable-stream'
import { checkCallback, checkOptionsObject, checkText, invalidOption, reworded, ShoeboxError, takesBytes } from '../errors.js'
import { givenSize, oneOf, sizeOption } from '../units.js'
import { failAfterDelivery, refusesLateWrites } from '../stream/deliver-then-fail.js'
import { stripLeadingBom } from '../stream/leading-bom.js'
import {
  kronosTimeFromDate, kronosTimeFromMs, kronosTimeFromSeconds, kronosTimeNow, toKronosTime, type KronosTime
} from './kronos-time.js'
import { checkStreamName } from './stream-name.js'
import { eventBytes, NOT_UTF8_EVENT, notAnEvent, parseEvent, stampEventText, stringifyEvent, type EventObject } from './event-text.js'
import { Utf8LineCheck } from '../ndjson/utf8-line-check.js'
import { LinesInOneChunk, TOO_LONG_LINE } from '../ndjson/lines-in-one-chunk.js'
import { failsOnListenerRejection } from '../stream/listener-rejections.js'

export type TimeValue = KronosTime | Date | number | string

export interface StampOptions {
  /** The stream of every event (or of those without `streamField`). */
  stream?: string
  /** Take the stream name from this field of each event (falls back to `stream`). */
  streamField?: string
  /** Take @time from this field (which stays in the event too). A missing field is an invalid event. */
  timeField?: string
  /**
   * What a number (or integer text; with 'ms' or 's', decimal text too) in
   * `timeField` counts: 'kronos' (100 ns ticks, the default), 'ms' or 's'
   * since the epoch. Other strings are read as ISO 8601; Dates as themselves.
   */
  timeUnit?: 'kronos' | 'ms' | 's'
  /** Compute @time from the event (parsed, big integers as bigint). Wins over timeField. */
  time?: (event: EventObject) => TimeValue
  /** 'error' (default): fail after the good events before; 'event': emit `invalid` and go on. */
  onInvalid?: 'error' | 'event'
  /** The clock for events without @time. Default kronosTimeNow. */
  now?: () => KronosTime
}

export interface StampNdjsonOptions extends StampOptions {
  /**
   * Longest line taken, in bytes (a CR before the newline not counted):
   * bytes or a size string ('1MiB'), 1 to 256 MiB (MAX_LINE_LENGTH_CEILING).
   * Default 64 MiB (DEFAULT_MAX_LINE_LENGTH). A longer line is a bad event,
   * as one of bad JSON is (onInvalid says what then); its bytes are not held.
   */
  maxLineLength?: number | string
}

/** stampNdjson()'s maxLineLength by default: no event a server takes comes near it (shoebox serve's maxEventSize is 1 MiB by default, its bodies 256 MiB at most). */
export const DEFAULT_MAX_LINE_LENGTH = 64 * 1024 * 1024

/**
 * The largest maxLineLength: more than any server takes (shoebox serve's largest --max-body), and less than
 * the longest string V8 makes (0x1fffffe8 characters), which split2 would try for a longer line and crash the
 * process (a 600 MB line did, with an uncaught ERR_STRING_TOO_LONG).
 */
export const MAX_LINE_LENGTH_CEILING = 256 * 1024 * 1024

export interface StampedEventRecord {
  stream: string
  /** The event's JSON text: as received, with @id (and @time if it had none) spliced in. */
  event: string
  time: KronosTime
  id: string
  /** The line (stampNdjson) or the chunk number (stamp), from 1. */
  line: number
}

export interface InvalidEventInfo {
  line: number
  /** The line or event text (up to 1000 characters). */
  text: string
  error: ShoeboxError
}

/** A line of NDJSON with its number (what split2 hands stamp in stampNdjson). */
export class NumberedLine {
  /**
   * notUtf8: the line's bytes were not valid UTF-8 (`text` has U+FFFD in their place). longerThan: the line
   * was longer than this maxLineLength, and its bytes were dropped (`text` is empty).
   */
  constructor (readonly line: number, readonly text: string, readonly notUtf8 = false, readonly longerThan?: number) {}
}

/** Decoding would put U+FFFD in place of the bad bytes, and ship an event the sender never wrote. */
function notUtf8 (): ShoeboxError {
  return new ShoeboxError('SHOEBOX_INVALID_EVENT', NOT_UTF8_EVENT)
}

/** A failure travelling in line with the records (stampNdjson's error mode). */
class InBandFailure {
  constructor (readonly error: ShoeboxError) {}
}

const TIME_UNITS = ['kronos', 'ms', 's']

export class StampStream extends failsOnListenerRejection(refusesLateWrites(Transform, 'stamp()')) {
  readonly #options: StampOptions
  readonly #failInBand: boolean
  readonly #needsObject: boolean
  #count = 0

  constructor (options: StampOptions = {}, failInBand = false) {
    super({ objectMode: true })
    const opts = { ...options }
    if (opts.stream !== undefined) {
      try {
        checkStreamName(opts.stream)
      } catch (err) {
        throw invalidOption('stream', (err as Error).message)
      }
    }
    if (opts.timeUnit !== undefined) oneOf(opts.timeUnit, TIME_UNITS, 'timeUnit')
    if (opts.onInvalid !== undefined) oneOf(opts.onInvalid, ['error', 'event'], 'onInvalid')
    checkCallback(opts.time, 'time')
    // now: 5 failed every event as invalid ('Cannot mix BigInt and other types'), the option never named.
    checkCallback(opts.now, 'now')
    checkText(opts.streamField, 'streamField')
    checkText(opts.timeField, 'timeField')
    this.#options = opts
    this.#failInBand = failInBand
    this.#needsObject = opts.streamField !== undefined || opts.timeField !== undefined || opts.time !== undefined
  }

  override _transform (chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    const numbered = chunk instanceof NumberedLine
    const line = numbered ? chunk.line : ++this.#count
    const input = numbered ? chunk.text : chunk
    let record: StampedEventRecord
    try {
      if (numbered && chunk.longerThan !== undefined) {
        throw new ShoeboxError('SHOEBOX_INVALID_EVENT', `longer than maxLineLength ${chunk.longerThan} bytes (raise maxLineLength)`)
      }
      record = this.#stamp(input, line, numbered && chunk.notUtf8)
    } catch (err) {
      const error = lineError(err, numbered ? 'line' : 'event', line)
      if (this.#options.onInvalid === 'event') {
        this.emit('invalid', { line, text: preview(input), error } satisfies InvalidEventInfo)
        callback()
      } else if (this.#failInBand) {
        // The callback is held: no more input is taken after a failure.
        this.push(new InBandFailure(error))
      } else {
        failAfterDelivery(this, error, callback)
      }
      return
    }
    callback(null, record)
  }

  #stamp (input: unknown, line: number, notUtf8Line: boolean): StampedEventRecord {
    const o = this.#options
    const bytes = eventBytes(input)
    if (notUtf8Line || (bytes !== undefined && !isUtf8(bytes))) throw notUtf8()
    // As ship() says it: undefined (or a function) was stringified as null, and refused as 'got character "n"'.
    const refused = notAnEvent(input)
    if (refused !== undefined) throw new ShoeboxError('SHOEBOX_INVALID_EVENT', refused)
    const text = typeof input === 'string'
      ? input
      : bytes !== undefined ? bytes.toString('utf8') : stringifyEvent(input)
    let stream = o.stream
    let time: KronosTime | undefined
    if (this.#needsObject) {
      const event = typeof input === 'object' && input !== null && bytes === undefined && !Array.isArray(input)
        ? input as EventObject
        : parseEvent(text)
      if (typeof event !== 'object' || event === null || Array.isArray(event)) {
        throw new ShoeboxError('SHOEBOX_INVALID_EVENT', 'an event is a JSON object')
      }
      // own members only: an event without "constructor" has no field "constructor"
      const named = o.streamField !== undefined && Object.hasOwn(event, o.streamField) ? event[o.streamField] : undefined
      if (named !== undefined) {
        if (typeof named !== 'string') {
          throw new ShoeboxError('SHOEBOX_INVALID_STREAM_NAME', `field ${JSON.stringify(o.streamField)} is not a string`)
        }
        stream = named
      }
      if (o.time !== undefined) {
        time = timeFrom(o.time(event), 'kronos')
      } else if (o.timeField !== undefined) {
        const value = Object.hasOwn(event, o.timeField) ? event[o.timeField] : undefined
        if (value === undefined || value === null) {
          throw new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME', `no time field ${JSON.stringify(o.timeField)}`)
        }
        time = fieldTime(o.timeField, value, o.timeUnit ?? 'kronos')
      }
    }
    if (stream === undefined) {
      throw new ShoeboxError('SHOEBOX_INVALID_STREAM_NAME',
        o.streamField === undefined ? 'no stream given' : `no field ${JSON.stringify(o.streamField)} and no default stream`)
    }
    checkStreamName(stream)
    const stamped = stampEventText(text, { time, defaultTime: o.now ?? kronosTimeNow })
    return { stream, event: stamped.text, time: stamped.time, id: stamped.id, line }
  }
}

/** timeFrom() for the value of field `name`: its errors name the field, and say what a kronos number must be. */
function fieldTime (name: string, value: unknown, unit: string): KronosTime {
  if (unit === 'kronos' && typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    // An integer written as such is a bigint (parseEvent): this one came with a fraction or an exponent (1.7e16).
    throw new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME',
      `time field ${JSON.stringify(name)}: ${value} is written as a float (with a fraction or an exponent) beyond 2^53, where a float is not exact to the tick; write the time as an integer`)
  }
  if (unit === 'kronos' && typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME',
      `time field ${JSON.stringify(name)}: ${value} is not a whole number of kronos ticks (100 ns since the epoch); for milliseconds or seconds, give the time unit (ms or s)`)
  }
  try {
    return timeFrom(value, unit)
  } catch (err) {
    if (!(err instanceof ShoeboxError)) throw err
    throw reworded(err, `time field ${JSON.stringify(name)}: ${err.message}`)
  }
}

function timeFrom (value: unknown, unit: string): KronosTime {
  if (value instanceof Date) return kronosTimeFromDate(value)
  const integerText = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)
  if (typeof value === 'number' || typeof value === 'bigint' || integerText) {
    const v = integerText ? BigInt((value as string).trim()) : value as number | bigint
    if (unit === 'ms') return kronosTimeFromMs(v)
    if (unit === 's') return kronosTimeFromSeconds(v)
    return toKronosTime(v)
  }
  // Decimal text in ms or s ('1700000000.123', str(time.time()) in a Python log), exact to the tick: it was read as ISO 8601 and refused.
  if (typeof value === 'string' && unit !== 'kronos' && /^\s*-?\d+\.\d+\s*$/.test(value)) {
    return unit === 'ms' ? kronosTimeFromMs(value) : kronosTimeFromSeconds(value)
  }
  if (typeof value === 'string') return toKronosTime(value)
  throw new ShoeboxError('SHOEBOX_INVALID_EVENT_TIME', `not a time: ${stringifyEvent(value)?.slice(0, 80)}`)
}

function lineError (err: unknown, what: string, line: number): ShoeboxError {
  const code = err instanceof ShoeboxError ? err.code : 'SHOEBOX_INVALID_EVENT'
  const message = err instanceof Error ? err.message : String(err)
  return new ShoeboxError(code, `${what} ${line}: ${message}`, { cause: err })
}

function preview (input: unknown): string {
  const text = typeof input === 'string'
    ? input
    : eventBytes(input)?.toString('utf8') ?? safeStringify(input)
  return text.length > 1000 ? text.slice(0, 1000) : text
}

function safeStringify (value: unknown): string {
  try {
    return stringifyEvent(value)
  } catch {
    return String(value)
  }
}

/** A Transform of events to StampedEventRecords. */
export function stamp (options?: StampOptions): StampStream {
  checkOptionsObject(options, 'stamp()')
  return new StampStream(options)
}

type Split2 = (mapper: (line: string) => unknown) => Duplex
type PumpifyCtor = new (...streams: Duplex[]) => Duplex
let StampNdjsonClass: PumpifyCtor | undefined
let split2: Split2 | undefined

/**
 * Loaded with require on first use, not at import: `import 'shoebox'` stays
 * cheap, and a module without top-level await stays require()-able.
 */
function loadLineStages (): { split: Split2, Ctor: PumpifyCtor } {
  if (StampNdjsonClass === undefined || split2 === undefined) {
    const require = createRequire(import.meta.url)
    split2 = require('split2') as Split2
    const Pumpify = (require('pumpify') as { obj: PumpifyCtor }).obj
    // Objects written here fail the stream naming the mistake (takesBytes), not the process with split2's TypeError.
    StampNdjsonClass = class StampNdjson extends takesBytes(refusesLateWrites(Pumpify, 'stampNdjson()'), 'stampNdjson()', 'it takes NDJSON lines; stamp() takes events') {
      // Failures arrive in line with the records: the error is raised only
      // once the reader has taken every record before it (pumpify would
      // destroy at once and drop what it still buffers).
      override push (chunk: unknown, encoding?: BufferEncoding): boolean {
        if (chunk instanceof InBandFailure) {
          failAfterDelivery(this, chunk.error)
          return false
        }
        return super.push(chunk, encoding)
      }
    }
    // Node's compose(), readable.compose() and Duplex.from() build the composed stream's modes from
    // these, which pumpify's readable-stream 3 does not have: composed, the stage was a byte stream,
    // and its first record failed it with ERR_INVALID_ARG_TYPE. Both sides are object mode (pumpify.obj).
    // (Defined on the prototype: Node's types declare them as properties, which a getter may not override.)
    Object.defineProperties(StampNdjsonClass.prototype, {
      readableObjectMode: { get: () => true, configurable: true },
      writableObjectMode: { get: () => true, configurable: true }
    })
  }
  return { split: split2, Ctor: StampNdjsonClass }
}

/**
 * NDJSON bytes in, StampedEventRecords out (object mode): pumpify over split2
 * and a StampStream. `invalid` events (onInvalid: 'event') are re-emitted on
 * the returned Duplex.
 */
export function stampNdjson (options: StampNdjsonOptions = {}): Duplex {
  checkOptionsObject(options, 'stampNdjson()')
  const maxLine = sizeOption(options.maxLineLength, DEFAULT_MAX_LINE_LENGTH, 'maxLineLength', 1)
  if (maxLine > MAX_LINE_LENGTH_CEILING) {
    throw invalidOption('maxLineLength', `must be at most 256MiB (a line becomes one string, and V8 makes none much longer), got ${givenSize(options.maxLineLength, maxLine)}`)
  }
  const stamper = new StampStream(options, options.onInvalid !== 'event')
  const { split, Ctor } = loadLineStages()
  const check = new Utf8LineCheck()
  let line = 0
  const lines = split((text: string) => {
    line++
    if (text.trim() === '') return undefined
    const notUtf8 = check.badLines.delete(line)
    if (text === TOO_LONG_LINE) return new NumberedLine(line, '', false, maxLine)
    return new NumberedLine(line, text, notUtf8)
  })
  const duplex = new Ctor(stripLeadingBom(), check, new LinesInOneChunk({ longest: maxLine }), lines, stamper)
  stamper.on('invalid', (info: InvalidEventInfo) => { duplex.emit('invalid', info) })
  // Node's autoDestroy, which readable-stream 3 lacks: read to its end and written to its finish, the
  // stage closes. Node's compose() destroys a stage it has not seen close with an AbortError, which
  // pumpify emitted as an 'error' after the end: an unhandled one, killing the process.
  let ended = false
  let finished = false
  const closeWhenDone = (): void => { if (ended && finished) duplex.destroy() }
  duplex.once('end', () => { ended = true; closeWhenDone() })
  duplex.once('finish', () => { finished = true; closeWhenDone() })
  return duplex
}
