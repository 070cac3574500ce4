/**
 * What the shipper is given, turned into what it sends: the namespace, the
 * stream and the event's JSON text. An event is `{ stream, event }` (with an
 * optional `namespace`), or a plain event for the shipper's default stream;
 * the event is an object or its JSON text. Text is kept as given (numbers
 * like 2.0 or integers above 2^53 reach the server unchanged); only
 * `@library` is added, and only when the caller set none (pykronos always
 * overwrites it; a caller's own is kept here).
 */
import { readFileSync } from 'node:fs'
import { ShoeboxError } from '../errors.js'

/** `{ stream, event }` as written to ship(). */
export interface ShipItem {
  stream: string
  event: object | string
  /** Overrides the shipper's namespace for this event. */
  namespace?: string
}

export interface PreparedEvent {
  namespace: string | undefined
  stream: string
  text: string
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
  return new ShoeboxError('SHOEBOX_EVENT_REJECTED', `invalid event: ${message}`)
}

function isItem (chunk: unknown): chunk is ShipItem {
  if (chunk === null || typeof chunk !== 'object' || Array.isArray(chunk) || Buffer.isBuffer(chunk)) return false
  const item = chunk as Record<string, unknown>
  return typeof item.stream === 'string' && 'event' in item && (typeof item.event === 'string' || (typeof item.event === 'object' && item.event !== null))
}

/** Turn one written chunk into what is sent; throws invalidEvent() for what the server would refuse. */
export function prepareEvent (chunk: unknown, defaults: PrepareDefaults): PreparedEvent {
  let stream = defaults.stream
  let namespace = defaults.namespace
  let event: unknown = chunk
  if (isItem(chunk)) {
    stream = chunk.stream
    event = chunk.event
    if (chunk.namespace !== undefined) namespace = chunk.namespace
  }
  if (stream === undefined) throw invalidEvent('no stream: write { stream, event }, or give ship() a default stream')
  if (Buffer.isBuffer(event)) event = event.toString('utf8')
  let text: string
  let hasLibrary: boolean
  if (typeof event === 'string') {
    text = event.trim()
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw invalidEvent(`not JSON: ${text.slice(0, 60)}`)
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidEvent(`not a JSON object: ${text.slice(0, 60)}`)
    hasLibrary = Object.hasOwn(parsed, '@library')
  } else if (event !== null && typeof event === 'object' && !Array.isArray(event)) {
    text = JSON.stringify(event)
    hasLibrary = Object.hasOwn(event, '@library')
  } else {
    throw invalidEvent(`an event is an object or its JSON text, got ${event === null ? 'null' : typeof event}`)
  }
  if (!hasLibrary && defaults.library !== false) text = addField(text, '@library', JSON.stringify(defaults.library))
  return { namespace, stream, text }
}

/** Splice `"name": value` in as the object's last field, leaving the rest of the text as it is. */
function addField (text: string, name: string, value: string): string {
  const close = text.lastIndexOf('}')
  const body = text.slice(1, close).trim()
  return `{${body}${body === '' ? '' : ', '}${JSON.stringify(name)}: ${value}}`
}
