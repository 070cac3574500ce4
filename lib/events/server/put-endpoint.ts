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
import { parseEventId } from '../event-id.js'
import { checkJsonText, InvalidEventTimeError, parseEvent, stampEventText } from '../event-text.js'
import { isValidStreamName } from '../stream-name.js'
import type { StoredEvent } from '../store/stored-event.js'
import { sendJson } from './envelope.js'
import { attributeError, INVALID_JSON, invalidEventTime, invalidStreamName, keyError, namespaceMissing, notIterable, storageError, tooLarge } from './kronos-errors.js'
import { arrayElements, firstChar, objectMembers, type MemberSpan } from './json-spans.js'
import { BadRequest } from './request-params.js'
import type { ServerContext } from './server-context.js'

interface StreamBatch {
  stream: string
  events: StoredEvent[]
}

export async function handlePut (ctx: ServerContext, text: string, res: ServerResponse, started: bigint): Promise<void> {
  try {
    checkJsonText(text)
  } catch {
    throw new BadRequest([INVALID_JSON])
  }
  if (firstChar(text, 0) !== '{') throw new BadRequest([attributeError(parseEvent(text), 'get')])
  const top = lastByKey(objectMembers(text, 0))
  const eventsSpan = top.get('events')
  if (eventsSpan === undefined) throw new BadRequest([keyError('events')])
  if (firstChar(text, eventsSpan.start) !== '{') {
    throw new BadRequest([attributeError(parseEvent(text.slice(eventsSpan.start, eventsSpan.end)), 'iteritems')])
  }
  const nsSpan = top.get('namespace')
  // A missing namespace is the default; so is null here (Kronos too, for put).
  const ns = nsSpan === undefined ? ctx.defaultNamespace : (parseEvent(text.slice(nsSpan.start, nsSpan.end)) ?? ctx.defaultNamespace)

  const errors: string[] = []
  const batches: StreamBatch[] = []
  for (const member of lastByKey(objectMembers(text, eventsSpan.start)).values()) {
    if (!isValidStreamName(member.key)) {
      errors.push(invalidStreamName(member.key))
      continue
    }
    const elements = streamElements(text, member)
    if (elements.length === 0) continue
    const batch: StreamBatch = { stream: member.key, events: [] }
    batches.push(batch)
    for (const [start, end] of elements) {
      const event = stamp(ctx, text.slice(start, end), errors)
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

/** Duplicate keys: the last wins (as the Python dict did), at the place of the first. */
function lastByKey (members: MemberSpan[]): Map<string, MemberSpan> {
  const map = new Map<string, MemberSpan>()
  for (const m of members) map.set(m.key, m)
  return map
}

/**
 * The elements of a stream's value: a list's items. Python iterated
 * whatever it got: an object's keys and a string's characters (each then
 * refused as an event), and a number or boolean is a TypeError for the
 * whole put.
 */
function streamElements (text: string, member: MemberSpan): Array<[number, number]> {
  const c = firstChar(text, member.start)
  if (c === '[') return arrayElements(text, member.start)
  const value = parseEvent(text.slice(member.start, member.end))
  if (c === '{') return Object.keys(value as object).map(() => [-1, -1])
  if (typeof value === 'string') return [...value].map(() => [-2, -2])
  throw new BadRequest([notIterable(value)])
}

function stamp (ctx: ServerContext, text: string, errors: string[]): StoredEvent | undefined {
  if (text === '') {
    // An object's key or a string's character, which Python tried to use as an event.
    errors.push(attributeError('', 'get'))
    return undefined
  }
  if (firstChar(text, 0) !== '{') {
    errors.push(attributeError(parseEvent(text), 'get'))
    return undefined
  }
  if (Buffer.byteLength(text) > ctx.maxEventSize) {
    errors.push(tooLarge('event', ctx.maxEventSize))
    return undefined
  }
  try {
    const stamped = stampEventText(text)
    return { time: stamped.time, id: parseEventId(stamped.id), body: Buffer.from(stamped.text) }
  } catch (err) {
    if (err instanceof InvalidEventTimeError) errors.push(invalidEventTime(err.rawValue))
    else errors.push(`InvalidEvent(${JSON.stringify((err as Error).message)},)`)
    return undefined
  }
}
