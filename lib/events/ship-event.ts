/**
 * What the shipper is given, turned into what it sends: the namespace, the
 * stream and the event's JSON text. An event is `{ stream, event }` (with an
 * optional `namespace`), or a plain event for the shipper's default stream;
 * the event is an object or its JSON text (a string, or a Buffer or
 * Uint8Array of its bytes). Text is kept as given (numbers
 * like 2.0 or integers above 2^53 reach the server unchanged); only
 * `@time` (now, when the event has none, as pykronos does), `@id` (made
 * here, in place of a caller's: see kept-event-ids.ts) and `@library` are
 * added, the latter only when the caller set none (pykronos always
 * overwrites it; a caller's own is kept here).
 */
import { isUtf8 } from 'node:buffer'
import { readFileSync } from 'node:fs'
import { ShoeboxError } from '../errors.js'
import { eventIdWords, newEventId, newEventIdWords, newEventIdWordsFromDecimal } from './event-id.js'
import { eventBytes, NOT_UTF8_EVENT, notAnEvent, scanEvent, stringifyEvent } from './event-text.js'
import { formatKronosTime, kronosTimeNow, type KronosTime } from './kronos-time.js'
import { checkStreamName } from './stream-name.js'
import { IdTail } from './ship-body.js'
import { HAS_ID, HAS_LIBRARY, HAS_TIME, NOT_QUICK, quickCheckEvent, quickSpans, quickTime } from './ship-event-check.js'

/** `{ stream, event }` as written to ship(). */
export interface ShipItem {
  stream: string
  event: object | string
  /** Overrides the shipper's namespace for this event. */
  namespace?: string
  /**
   * Where the caller read the event (stampNdjson() sets its input line):
   * not sent, only given back in the `rejected` and `drop` events, so a
   * report can name the line.
   */
  line?: number
}

/** The `line` a written chunk carries (ShipItem.line), if any. */
export function lineOf (chunk: unknown): number | undefined {
  const line = typeof chunk === 'object' && chunk !== null ? (chunk as { line?: unknown }).line : undefined
  return typeof line === 'number' ? line : undefined
}

export interface PreparedEvent {
  namespace: string | undefined
  stream: string
  text: string
  /**
   * When set, the event sent is `text` with its closing brace replaced by
   * `tail` (the members added, and the brace): written so into the batch,
   * no new string of the whole event is built. preparedText() joins them.
   * The common case, an IdTail, is not even a string (ship-body.ts).
   */
  tail: string | IdTail | undefined
}

/** The whole text of a prepared event. */
export function preparedText (event: PreparedEvent): string {
  return event.tail === undefined ? event.text : event.text.slice(0, -1) + String(event.tail)
}

export interface Library {
  name: string
  version: string
}

let ownVersion: string | undefined

/** `{ name: 'shoebox', version }`, read from package.json once. */
export function shoeboxLibrary (): Library {
  if (ownVersion === undefined) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    ownVersion = pkg.version
  }
  return { name: 'shoebox', version: ownVersion }
}

export interface PrepareDefaults {
  stream: string | undefined
  namespace: string | undefined
  /** The `@library` added to events without one; false adds none. */
  library: Library | false
}

/** An event the shipper refuses before sending: it names what is wrong. */
export function invalidEvent (message: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_INVALID_EVENT', `invalid event: ${message}`)
}

function isItem (chunk: unknown): chunk is ShipItem {
  if (chunk === null || typeof chunk !== 'object' || Array.isArray(chunk) || ArrayBuffer.isView(chunk)) return false
  const item = chunk as Record<string, unknown>
  return typeof item.stream === 'string' && 'event' in item && (typeof item.event === 'string' || (typeof item.event === 'object' && item.event !== null))
}

/**
 * What put() keeps of a chunk: the event as it is at the call. put() returns
 * at once, while the chunk may wait in the stream's buffer (before the
 * shipper has started, behind a blocked write) until prepareEvent() reads
 * it; a caller that fills the same object or Buffer again for its next put,
 * as a logger's caller may, would have that one shipped in its place. So an
 * object event becomes its JSON text now (prepareEvent() would make the same
 * text of it later) and a Buffer a copy; a string cannot change, and a chunk
 * that is no event is left as it is, for prepareEvent() to refuse by name.
 */
export function eventAsPut (chunk: unknown): unknown {
  if (!isItem(chunk)) return eventNow(chunk)
  const event = eventNow(chunk.event)
  return event === chunk.event ? chunk : { ...chunk, event }
}

function eventNow (event: unknown): unknown {
  const bytes = eventBytes(event)
  if (bytes !== undefined) return Buffer.from(bytes)
  if (notAnEvent(event) !== undefined || Array.isArray(event) || isArchiveRecord(event as object)) return event
  try {
    return stringifyEvent(event)
  } catch {
    return event // not JSON (a cycle): refused when prepared, naming why
  }
}

/**
 * A record read from an archive (archiveSource(), decode()) written where an
 * event goes, replaying archived events: its JSON would be sent, the payload
 * as {"type":"Buffer","data":[...]}. No event has bytes for a value (JSON
 * has none), so a `payload` of bytes marks one.
 */
function isArchiveRecord (event: object): boolean {
  return ArrayBuffer.isView((event as { payload?: unknown }).payload)
}

const ARCHIVE_RECORD = 'an archive record ({ metadata, payload }), not an event: write its payload (the event\'s JSON text) instead'

/** A top-level "@library" key (a nested one counts too: then none is added, which is harmless). */
const LIBRARY_KEY = /"@library"\s*:/

/**
 * Turn one written chunk into what is sent. Refuses (with the core's codes:
 * SHOEBOX_INVALID_STREAM_NAME, _INVALID_JSON, _INVALID_EVENT, _INVALID_EVENT_TIME)
 * what the server would refuse, so a bad event never costs its batch. An
 * event without @time gets now, as pykronos does: a batch that waits for a
 * server (retries, the spill) keeps the time the event happened.
 */
export function prepareEvent (chunk: unknown, defaults: PrepareDefaults, now: () => KronosTime = kronosTimeNow,
  newId: (time: KronosTime) => string = newEventId): PreparedEvent {
  let stream = defaults.stream
  let namespace = defaults.namespace
  let event: unknown = chunk
  if (isItem(chunk)) {
    stream = chunk.stream
    event = chunk.event
    if (chunk.namespace !== undefined) namespace = chunk.namespace
  }
  if (stream === undefined) throw invalidEvent('no stream: write { stream, event }, or give ship() a default stream')
  // A valid name is checked once (streams interleave: checking on a change of name was per event).
  if (!checkedStreams.has(stream)) {
    checkStreamName(stream)
    // Emptied when full, so endless distinct names never grow it.
    if (checkedStreams.size >= 256) checkedStreams.clear()
    checkedStreams.add(stream)
  }
  const bytes = eventBytes(event)
  if (bytes !== undefined) {
    // Decoded, bytes that are not UTF-8 would be shipped with U+FFFD in their place (stamp() refuses them too).
    if (!isUtf8(bytes)) throw invalidEvent(NOT_UTF8_EVENT)
    event = bytes.toString('utf8')
  }
  const refused = notAnEvent(event)
  if (refused !== undefined) throw invalidEvent(refused)
  let text: string
  let hasLibrary: boolean
  if (typeof event === 'string') {
    text = event
    const quick = quickCheckEvent(text)
    if (quick !== NOT_QUICK) return quickPrepared(namespace, stream, text, quick, (quick & HAS_LIBRARY) !== 0, defaults, now, newId)
    hasLibrary = LIBRARY_KEY.test(text)
  } else if (event !== null && typeof event === 'object' && !Array.isArray(event)) {
    if (isArchiveRecord(event)) throw invalidEvent(ARCHIVE_RECORD)
    text = stringifyEvent(event)
    hasLibrary = Object.hasOwn(event, '@library')
    const quick = quickCheckEvent(text)
    if (quick !== NOT_QUICK) return quickPrepared(namespace, stream, text, quick, hasLibrary, defaults, now, newId)
  } else {
    throw invalidEvent('an event is an object or its JSON text, got an array')
  }
  // The exact path: rarer shapes (outer white space, several or null @time, several or non-string
  // @id, escaped keys), and
  // every invalid text, whose error it names.
  const scan = scanEvent(text)
  const time = scan.time ?? now()
  // The @id is made here, once: retries, the spill and the next run send the same one, and
  // shoebox serve keeps it (kept-event-ids.ts), so an event sent twice is stored once.
  const id = newId(time)
  // The caller's own @id (a server replaces it anyway) and "@time": null are rewritten in place
  // (the server would stamp a null time on arrival; it is stamped now), with no second scan.
  const edits: Array<{ start: number, end: number, text: string }> = scan.idMembers.map((m) => ({ start: m.valueStart, end: m.valueEnd, text: `"${id}"` }))
  if (scan.time === null) for (const m of scan.timeMembers) edits.push({ start: m.valueStart, end: m.valueEnd, text: formatKronosTime(time) })
  text = splice(text, scan.start, scan.end, edits)
  const added: string[] = []
  if (scan.timeMembers.length === 0) added.push(`"@time": ${formatKronosTime(time)}`)
  if (scan.idMembers.length === 0) added.push(`"@id": "${id}"`)
  if (!hasLibrary && defaults.library !== false) added.push(libraryMember(defaults.library))
  return { namespace, stream, text: added.length === 0 ? text : addFields(text, added), tail: undefined }
}

/** Stream names checked (valid): events of a few streams, interleaved, check each name once. */
const checkedStreams = new Set<string>()

let memberOf: Library | undefined
let member = ''

/** `"@library": {...}`, made once per library object rather than per event. */
function libraryMember (library: Library): string {
  if (library !== memberOf) {
    member = `"@library": ${JSON.stringify(library)}`
    memberOf = library
  }
  return member
}

/**
 * A quick-checked text (one object, nothing around it, a valid @time or
 * none, one string @id or none) given its @id, with what it lacks added as
 * a tail (see PreparedEvent.tail): the same text the exact path makes,
 * without building it. The @time and a caller's @id are found where the
 * check left them (quickSpans): no second scan.
 */
function quickPrepared (namespace: string | undefined, stream: string, text: string, quick: number, hasLibrary: boolean,
  defaults: PrepareDefaults, now: () => KronosTime, newId: (time: KronosTime) => string): PreparedEvent {
  const hasTime = (quick & HAS_TIME) !== 0
  const hasId = (quick & HAS_ID) !== 0
  const library = !hasLibrary && defaults.library !== false ? libraryMember(defaults.library) : ''
  const empty = text.length === 2
  const before = text.charCodeAt(text.length - 2)
  // White space before the closing brace is trimmed by addFields (rare: a new string then).
  const spaced = !empty && (before === 0x20 || before === 0x0A || before === 0x0D || before === 0x09)
  if (newId === newEventId && !hasId && !spaced) {
    // The common case: the @id goes into the body as words (IdTail), no bigint and no string made.
    let timeText: string | undefined
    if (hasTime) {
      if (!quickDecimalTime(text)) newEventIdWords(quickTime(text))
    } else if (now === kronosTimeNow) {
      // Now, from the clock's ms (ms * 10^4 ticks; its text is the ms and four zeros).
      const ms = Date.now()
      newEventIdWordsFromDecimal(Math.floor(ms / 100_000), (ms % 100_000) * 10_000)
      timeText = `${ms}0000`
    } else {
      const time = now()
      newEventIdWords(time)
      timeText = formatKronosTime(time)
    }
    const lead = timeText === undefined ? (empty ? ID_LEAD : SEPARATED_ID_LEAD) : (empty ? TIME_LEAD : SEPARATED_TIME_LEAD)
    return { namespace, stream, text, tail: new IdTail(lead, timeText ?? '', eventIdWords[0], eventIdWords[1], eventIdWords[2], eventIdWords[3], idTrail(library)) }
  }
  const time = hasTime ? quickTime(text) : now()
  const id = newId(time)
  // A caller's own @id is replaced in place, as the exact path does (a new string, for this rarer input).
  if (hasId) text = `${text.slice(0, quickSpans.idStart)}"${id}"${text.slice(quickSpans.idEnd)}`
  let added = hasTime ? '' : `"@time": ${formatKronosTime(time)}`
  if (!hasId) added = added === '' ? `"@id": "${id}"` : `${added}, "@id": "${id}"`
  if (library !== '') added = added === '' ? library : `${added}, ${library}`
  if (added === '') return { namespace, stream, text, tail: undefined }
  if (spaced) return { namespace, stream, text: addFields(text, [added]), tail: undefined }
  return { namespace, stream, text, tail: `${empty ? '' : ', '}${added}}` }
}

const ID_LEAD = Buffer.from('"@id": "')
const SEPARATED_ID_LEAD = Buffer.from(', "@id": "')
const TIME_LEAD = Buffer.from('"@time": ')
const SEPARATED_TIME_LEAD = Buffer.from(', "@time": ')
let trailOf = ''
let trail = Buffer.from('"}')

/** What follows the @id, as UTF-8: its closing quote, the library member when one is added, the brace. */
function idTrail (library: string): Buffer {
  if (library !== trailOf) {
    trailOf = library
    trail = Buffer.from(library === '' ? '"}' : `", ${library}}`)
  }
  return trail
}

/**
 * Make the @id of the text quickCheckEvent() last saw with HAS_TIME from
 * its @time digits, with no bigint: false (nothing made) for a negative
 * time, which takes the bigint way.
 */
function quickDecimalTime (text: string): boolean {
  let i = quickSpans.timeStart
  if (text.charCodeAt(i) === 0x2D) return false
  const end = quickSpans.timeEnd
  // At most 17 digits: the last 9 and the rest, each exact as a number.
  const split = Math.max(i, end - 9)
  let high = 0
  for (; i < split; i++) high = high * 10 + text.charCodeAt(i) - 0x30
  let low = 0
  for (; i < end; i++) low = low * 10 + text.charCodeAt(i) - 0x30
  newEventIdWordsFromDecimal(high, low)
  return true
}

/** text[start, end) with the edits (spans in text, in any order) applied. */
function splice (text: string, start: number, end: number, edits: Array<{ start: number, end: number, text: string }>): string {
  if (edits.length === 0) return text.slice(start, end)
  edits.sort((a, b) => a.start - b.start)
  let out = ''
  let at = start
  for (const e of edits) {
    out += text.slice(at, e.start) + e.text
    at = e.end
  }
  return out + text.slice(at, end)
}

/** Splice members in as the object's last ones, leaving the rest of the text as it is. */
function addFields (text: string, members: string[]): string {
  const body = text.slice(1, -1).trim()
  return `{${body}${body === '' ? '' : ', '}${members.join(', ')}}`
}
