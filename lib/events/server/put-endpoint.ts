/**
 * POST /1.0/events/put (spec §5.2): per stream, validate the name, stamp
 * each event (@id always assigned, @time when absent or null) keeping its
 * text as sent, store every valid event, and answer with per-stream counts.
 * Invalid events are reported in `@errors` and the rest are stored
 * (partial success, `@success` false), as Kronos does.
 *
 * The answer comes only once the events are durable (the store's log is
 * fsynced, group-committed with other requests). When the store cannot
 * write, the counts are -1 as in Kronos, but the status is 503 with
 * Retry-After, not 200: nothing of the put is acknowledged, and shippers
 * retry a 503 without having to read the body.
 */
import { isAscii, isUtf8 } from 'node:buffer'
import type { ServerResponse } from 'node:http'
import { InvalidEventTimeError, JsonNumber, parseJsonLexical } from '../event-text.js'
import { keyDict } from '../../key-dict.js'
import { KEEP_IDS_HEADER } from '../kept-event-ids.js'
import { isValidStreamName } from '../stream-name.js'
import { PutRows } from '../store/put-rows.js'
import { sendJson } from './envelope.js'
import { attributeError, INVALID_JSON, invalidEventTime, invalidStreamName, keyError, namespaceMissing, notIterable, storageError, tooLarge, tooManyStreams } from './kronos-errors.js'
import { firstByte, TooManyStreams, walkPutBody, type ElementSpans, type PutBody, type Span, type StreamSpan } from './put-body.js'
import { PutStamper } from './put-stamper.js'
import { BadRequest } from './request-params.js'
import type { ServerContext } from './server-context.js'

interface StreamBatch {
  stream: string
  rows: PutRows
}

/** `bytes` is the request body as read: it is walked as bytes, never decoded whole. */
export async function handlePut (ctx: ServerContext, bytes: Buffer, res: ServerResponse, started: bigint): Promise<void> {
  // ujson, Kronos's parser, refuses invalid UTF-8; an ASCII body needs no check (one native pass each).
  if (!isAscii(bytes) && !isUtf8(bytes)) throw new BadRequest([INVALID_JSON])
  if (firstByte(bytes, 0) !== 0x7B) {
    let value: unknown
    try {
      value = parseJsonLexical(bytes.toString('utf8'))
    } catch {
      throw new BadRequest([INVALID_JSON])
    }
    throw new BadRequest([attributeError(value, 'get')])
  }
  let body: PutBody
  try {
    body = walkPutBody(bytes, ctx.maxPutStreams)
  } catch (err) {
    // Refused whole, as a body over --max-body is (413). shoebox's shipper names one stream a put.
    if (err instanceof TooManyStreams) throw new BadRequest([tooManyStreams(ctx.maxPutStreams)], { status: 413 })
    throw new BadRequest([INVALID_JSON])
  }
  if (body.events === undefined) throw new BadRequest([keyError('events')])
  if (body.streams === undefined) throw new BadRequest([attributeError(parseJsonLexical(slice(bytes, body.events)), 'iteritems')])
  // A missing namespace is the default; so is null here (Kronos too, for put).
  // Numbers as their text: a refusal names `1.0` as sent (parseEvent would make it 1).
  const ns = body.namespace === undefined ? ctx.defaultNamespace : (parseJsonLexical(slice(bytes, body.namespace)) ?? ctx.defaultNamespace)

  const errors: string[] = []
  const batches: StreamBatch[] = []
  // shoebox's shipper sends @ids to keep, so that a put sent again after a lost answer is stored once (kept-event-ids.ts).
  const keepIds = res.req?.headers[KEEP_IDS_HEADER] === '1'
  const stamper = new PutStamper(bytes, keepIds)
  for (const stream of body.streams) {
    if (!isValidStreamName(stream.name)) {
      errors.push(invalidStreamName(stream.name))
      continue
    }
    const elements = stream.elements
    if (elements === undefined) {
      // Not a list: each of what Python would have iterated is refused (or the whole put is).
      const count = otherElements(bytes, stream)
      if (count > 0) batches.push({ stream: stream.name, rows: new PutRows(0) })
      for (let k = 0; k < count; k++) refuse(errors, '')
      continue
    }
    if (elements.length === 0) continue
    const rows = new PutRows(elements.length)
    batches.push({ stream: stream.name, rows })
    for (let k = 0; k < elements.length; k++) stamp(ctx, stamper, bytes, elements, k, rows, errors)
  }
  stamper.finish()
  if (batches.length > 0 && (typeof ns !== 'string' || !ctx.namespaces.has(ns))) throw new BadRequest([namespaceMissing(ns)])

  // a stream may be named `__proto__` or `constructor`: `answer[name] =` must still make it a key
  const answer: Record<string, unknown> = keyDict()
  let status = 200
  try {
    await ctx.store.put(ns as string, batches)
    for (const b of batches) answer[b.stream] = { [ctx.backend]: { num_inserted: b.rows.count } }
  } catch (err) {
    status = 503
    res.setHeader('Retry-After', '1')
    for (const b of batches) answer[b.stream] = { [ctx.backend]: { num_inserted: -1, '@errors': [storageError(err)] } }
  }
  answer['@success'] = errors.length === 0 && status === 200
  if (errors.length > 0) answer['@errors'] = errors
  sendJson(res, status, answer, started)
}

function slice (bytes: Buffer, span: Span): string {
  return bytes.toString('utf8', span.start, span.end)
}

/**
 * How many elements a stream's value that is not a list has: Python
 * iterated whatever it got, an object's keys and a string's characters
 * (each then refused as an event), and a number or boolean is a TypeError
 * for the whole put.
 */
function otherElements (bytes: Buffer, stream: StreamSpan): number {
  const value = parseJsonLexical(slice(bytes, stream.value))
  if (value !== null && typeof value === 'object' && !(value instanceof JsonNumber)) return Object.keys(value).length
  if (typeof value === 'string') return [...value].length
  throw new BadRequest([notIterable(value)])
}

/** An element Python would have called .get() on, refused (a string here: an object's key or a string's character). */
function refuse (errors: string[], value: unknown): undefined {
  errors.push(attributeError(value, 'get'))
  return undefined
}

/** Element `k` stamped into the next row of `rows`, or its error in `errors`. */
function stamp (ctx: ServerContext, stamper: PutStamper, bytes: Buffer, elements: ElementSpans, k: number, rows: PutRows, errors: string[]): void {
  if (!elements.isObject(k)) {
    refuse(errors, parseJsonLexical(bytes.toString('utf8', elements.start(k), elements.end(k))))
    return
  }
  if (stamper.byteLength(elements, k) > ctx.maxEventSize) {
    errors.push(tooLarge('event', ctx.maxEventSize))
    return
  }
  try {
    stamper.add(elements, k, rows)
  } catch (err) {
    if (err instanceof InvalidEventTimeError) errors.push(invalidEventTime(err.rawValue))
    else errors.push(`InvalidEvent(${JSON.stringify((err as Error).message)},)`)
  }
}
