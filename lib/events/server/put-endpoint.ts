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
import type { ServerResponse } from 'node:http'
import { formatEventId, newEventIdBytes } from '../event-id.js'
import { InvalidEventTimeError, parseEvent, stampEventText } from '../event-text.js'
import { KEEP_IDS_HEADER, keptEventId } from '../kept-event-ids.js'
import { isValidStreamName } from '../stream-name.js'
import type { StoredEvent } from '../store/stored-event.js'
import { sendJson } from './envelope.js'
import { attributeError, INVALID_JSON, invalidEventTime, invalidStreamName, keyError, namespaceMissing, notIterable, storageError, tooLarge } from './kronos-errors.js'
import { firstChar, walkPutBody, type PutBody, type Span, type StreamSpan } from './put-body.js'
import { BadRequest } from './request-params.js'
import type { ServerContext } from './server-context.js'

interface StreamBatch {
  stream: string
  events: StoredEvent[]
}

export async function handlePut (ctx: ServerContext, text: string, res: ServerResponse, started: bigint): Promise<void> {
  if (firstChar(text, 0) !== '{') {
    let value: unknown
    try {
      value = parseEvent(text)
    } catch {
      throw new BadRequest([INVALID_JSON])
    }
    throw new BadRequest([attributeError(value, 'get')])
  }
  let body: PutBody
  try {
    body = walkPutBody(text)
  } catch {
    throw new BadRequest([INVALID_JSON])
  }
  if (body.events === undefined) throw new BadRequest([keyError('events')])
  if (body.streams === undefined) throw new BadRequest([attributeError(parseEvent(slice(text, body.events)), 'iteritems')])
  // A missing namespace is the default; so is null here (Kronos too, for put).
  const ns = body.namespace === undefined ? ctx.defaultNamespace : (parseEvent(slice(text, body.namespace)) ?? ctx.defaultNamespace)

  const errors: string[] = []
  const batches: StreamBatch[] = []
  // shoebox's shipper sends @ids to keep, so that a put sent again after a lost answer is stored once (kept-event-ids.ts).
  const keepIds = res.req?.headers[KEEP_IDS_HEADER] === '1'
  for (const stream of body.streams) {
    if (!isValidStreamName(stream.name)) {
      errors.push(invalidStreamName(stream.name))
      continue
    }
    const elements = streamElements(text, stream)
    if (elements.length === 0) continue
    const batch: StreamBatch = { stream: stream.name, events: [] }
    batches.push(batch)
    for (const element of elements) {
      const event = element === undefined ? refuse(errors, '') : stamp(ctx, slice(text, element), errors, keepIds)
      if (event !== undefined) batch.events.push(event)
    }
  }
  if (batches.length > 0 && (typeof ns !== 'string' || !ctx.namespaces.has(ns))) throw new BadRequest([namespaceMissing(ns)])

  const answer: Record<string, unknown> = {}
  let status = 200
  try {
    await ctx.store.put(ns as string, batches)
    for (const b of batches) answer[b.stream] = { [ctx.backend]: { num_inserted: b.events.length } }
  } catch (err) {
    status = 503
    res.setHeader('Retry-After', '1')
    for (const b of batches) answer[b.stream] = { [ctx.backend]: { num_inserted: -1, '@errors': [storageError(err)] } }
  }
  answer['@success'] = errors.length === 0 && status === 200
  if (errors.length > 0) answer['@errors'] = errors
  sendJson(res, status, answer, started)
}

function slice (text: string, span: Span): string {
  return text.slice(span.start, span.end)
}

/**
 * The elements of a stream's value: a list's items. Python iterated
 * whatever it got: an object's keys and a string's characters (each then
 * refused as an event: undefined here), and a number or boolean is a
 * TypeError for the whole put.
 */
function streamElements (text: string, stream: StreamSpan): Array<Span | undefined> {
  if (stream.elements !== undefined) return stream.elements
  const value = parseEvent(slice(text, stream.value))
  if (value !== null && typeof value === 'object') return Object.keys(value).map(() => undefined)
  if (typeof value === 'string') return [...value].map(() => undefined)
  throw new BadRequest([notIterable(value)])
}

/** An element Python would have called .get() on, refused (a string here: an object's key or a string's character). */
function refuse (errors: string[], value: unknown): undefined {
  errors.push(attributeError(value, 'get'))
  return undefined
}

function stamp (ctx: ServerContext, text: string, errors: string[], keepIds: boolean): StoredEvent | undefined {
  if (firstChar(text, 0) !== '{') return refuse(errors, parseEvent(text))
  if (Buffer.byteLength(text) > ctx.maxEventSize) {
    errors.push(tooLarge('event', ctx.maxEventSize))
    return undefined
  }
  try {
    // The id's bytes are kept as made: no text round trip per event.
    let id: Buffer = Buffer.alloc(0)
    const stamped = stampEventText(text, { newId: (time, given) => formatEventId(id = (keepIds ? keptEventId(given, time) : undefined) ?? newEventIdBytes(time)) })
    return { time: stamped.time, id, idText: stamped.id, body: Buffer.from(stamped.text) }
  } catch (err) {
    if (err instanceof InvalidEventTimeError) errors.push(invalidEventTime(err.rawValue))
    else errors.push(`InvalidEvent(${JSON.stringify((err as Error).message)},)`)
    return undefined
  }
}
