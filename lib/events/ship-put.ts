/**
 * One Kronos put over HTTP, and what its answer means for each event.
 *
 * The body is what pykronos sends (spec §5.2, §8): {"events": {stream: [...]}}
 * plus "namespace" only when one is set, no Content-Type. The answer is read
 * per event: a 200 whose stream reports num_inserted equal to the events
 * sent acknowledges all of them; fewer, a backend failure (-1), or a stream
 * missing from the answer (an invalid name) rejects them with the server's
 * errors; a count above the events sent, or not an integer, does not fit
 * the batch: nothing is acknowledged, nothing sent again (maybe stored).
 * Other answers are failures of the whole request, read by the table the
 * client reads too (answer-kind.ts): 408 (the server timed the request out:
 * shoebox serve does for a body slower than its requestTimeout), 429, 5xx
 * and broken connections are worth another try (Retry-After honoured); a
 * refusal of where the put goes (400 NamespaceMissing, 401, 403, 404, 405, a
 * redirect) is `refused`, and the shipper stops there (ship.ts); any other
 * status (a 400 for the body, 413) rejects its events rather than trying them
 * forever; except that the shipper splits a batch refused with 413 (its
 * `status` says so) and sends the halves, so only an event too large alone
 * is rejected.
 */
import http from 'node:http'
import type https from 'node:https'
import { createRequire } from 'node:module'
import { checkUrlUserinfo, givenUrl, ShoeboxError } from '../errors.js'
import { KEEP_IDS_HEADER } from './kept-event-ids.js'
import type { Batch } from './ship-batcher.js'
import { plural } from '../plural.js'
import { answerDeadline } from './answer-deadline.js'
import { answerKind, MAX_FAILED_ANSWER_BYTES, namespaceMissing, redirectNote } from './answer-kind.js'
import { parseRetryAfter } from './retry-after.js'
import { unaskedEncoding } from './unasked-encoding.js'

/**
 * node:http, or node:https for an https: URL. https (and TLS under it) is
 * loaded only for such a URL: importing shoebox stays about as fast as
 * starting Node.
 */
export function httpFor (url: URL): typeof http | typeof https {
  return url.protocol === 'https:' ? createRequire(import.meta.url)('node:https') as typeof https : http
}

/** A put that got no acknowledgement. */
export class PutError extends ShoeboxError {
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined
  /** Another try may succeed (no event of the request was acknowledged). */
  readonly retryable: boolean
  /** The server refuses where the put goes (answer-kind.ts: its namespace, the URL, the credentials): every other put there too. */
  readonly refused: boolean
  /** Of those, a refusal of the namespace alone (400 NamespaceMissing): puts to another namespace there may pass. */
  readonly namespaceMissing: boolean
  /** The server's Retry-After, in ms, when it sent one. */
  readonly retryAfterMs: number | undefined

  constructor (message: string, options: { status?: number, retryable: boolean, refused?: boolean, namespaceMissing?: boolean, retryAfterMs?: number, cause?: unknown }) {
    super(options.status === 429 || options.status === 503 ? 'SHOEBOX_THROTTLED' : 'SHOEBOX_UNREACHABLE', message, { cause: options.cause })
    this.name = 'PutError'
    this.status = options.status
    this.retryable = options.retryable
    this.refused = options.refused ?? false
    this.namespaceMissing = options.namespaceMissing ?? false
    this.retryAfterMs = options.retryAfterMs
  }
}

/** What a put's answer says of one batch. */
export interface PutOutcome {
  /** Events the server stored (a prefix count is all the protocol gives: the batch's first n). */
  inserted: number
  /** The server's error strings, when it did not store every event. */
  errors: string[]
  /** Bytes of the request body. */
  bytes: number
}

/** The longest Retry-After honoured; a server asking for more is asked again after this. */
const MAX_RETRY_AFTER_MS = 5 * 60_000

/** The URL without user name and password, for messages. */
export function safeUrl (url: URL): string {
  const copy = new URL(url.href)
  copy.username = ''
  copy.password = ''
  return copy.href
}

/** The put endpoint under a Kronos base URL (a trailing '/' dropped, as pykronos does). */
export function putUrl (base: string): URL {
  let url: URL
  try {
    url = new URL(base)
  } catch {
    throw new ShoeboxError('SHOEBOX_BAD_URL', `not a URL: ${givenUrl(base)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ShoeboxError('SHOEBOX_BAD_URL', `${safeUrl(url)}: only http: and https: are supported`)
  checkUrlUserinfo(url, safeUrl(url))
  url.pathname = url.pathname.replace(/\/+$/, '') + '/1.0/events/put'
  url.search = ''
  url.hash = ''
  return url
}

/** The request body: the event texts as they are, joined as json.dumps would (built in place by the batch). */
export function putBody (batch: Batch): Buffer {
  return batch.body()
}

export interface PutRequestOptions {
  agent: http.Agent
  /** Give up on an answer after this long (ms); a retryable failure. */
  timeoutMs: number
  signal?: AbortSignal | undefined
}

/** POST one batch; resolves to its outcome, rejects with a PutError. */
export async function putBatch (url: URL, batch: Batch, options: PutRequestOptions): Promise<PutOutcome> {
  const body = putBody(batch)
  const where = safeUrl(url)
  const { status, headers, text } = await post(url, body, options, where)
  if (status !== 200) {
    const errors = serverErrors(text)
    const kind = answerKind(status, errors)
    const retryAfterMs = kind === 'transient' ? parseRetryAfter(headers['retry-after'], MAX_RETRY_AFTER_MS) : undefined
    throw new PutError(`${where}: HTTP ${status}${errors.length > 0 ? `: ${errors.join('; ')}` : plainText(text)}${redirectNote(status, headers.location, where)}`,
      { status, retryable: kind === 'transient', refused: kind === 'refused', namespaceMissing: namespaceMissing(errors), retryAfterMs })
  }
  let answer: unknown
  try {
    answer = JSON.parse(text)
  } catch (err) {
    // A 200 we cannot read may still have stored the events: not retried, so never sent twice.
    throw new PutError(`${where}: HTTP 200 with a body that is not JSON (${text.slice(0, 80)})`, { status, retryable: false, cause: err })
  }
  return { ...readAnswer(answer, batch, where), bytes: body.length }
}

/** The per-event meaning of a 200 answer for this batch's stream; a PutError (not retryable) for a count that cannot be. */
export function readAnswer (answer: unknown, batch: Batch, where: string): Omit<PutOutcome, 'bytes'> {
  const sent = batch.count
  const top = isObject(answer) ? answer : {}
  const errors = stringList(top['@errors'])
  const entry = top[batch.stream]
  if (!isObject(entry)) return { inserted: 0, errors: errors.length > 0 ? errors : ['the answer does not list the stream'] }
  let inserted = sent
  const backendErrors: string[] = []
  let backends = 0
  for (const [name, value] of Object.entries(entry)) {
    if (name === '@errors') {
      backendErrors.push(...stringList(value))
      continue
    }
    if (!isObject(value) || typeof value.num_inserted !== 'number') continue
    // More than was sent, or not a count: the answer is not this batch's. Not acknowledged, and not
    // sent again (the server may have stored it): as a 200 whose body is not JSON.
    if (value.num_inserted > sent || !Number.isInteger(value.num_inserted)) {
      throw new PutError(`${where}: HTTP 200 whose answer does not fit the batch: ${name} num_inserted ${value.num_inserted} for ${plural(sent, 'event')} sent`,
        { status: 200, retryable: false })
    }
    backends++
    inserted = Math.min(inserted, Math.max(0, value.num_inserted))
    backendErrors.push(...stringList(value['@errors']).map((e) => `${name}: ${e}`))
  }
  if (backends === 0) inserted = 0
  if (inserted === sent) return { inserted, errors: [] }
  const all = [...backendErrors, ...errors]
  return { inserted, errors: all.length > 0 ? all : [`the server stored ${inserted} of ${plural(sent, 'event')}`] }
}

function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function stringList (value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => typeof v === 'string' ? v : JSON.stringify(v)) : []
}

/** The server's @errors, when the body carries them. */
function serverErrors (text: string): string[] {
  try {
    return stringList((JSON.parse(text) as Record<string, unknown>)['@errors'])
  } catch {
    return []
  }
}

/**
 * ': <its first 200 characters>' for an answer that is short text (Kronos's 404 "Four, oh, four :'(", a proxy's
 * "Unauthorized"), for a failure message; nothing for one that is no such text (a JSON envelope without @errors).
 */
function plainText (text: string): string {
  const said = text.trim().slice(0, 200)
  return said === '' || said.startsWith('{') ? '' : `: ${said}`
}

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  text: string
}

/** Answers above this are not a put's; reading stops there. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024

async function post (url: URL, body: Buffer, options: PutRequestOptions, where: string): Promise<Answer> {
  const { request } = httpFor(url)
  return await new Promise<Answer>((resolve, reject) => {
    /** The answer's status, once its head came: a failure from then on is the answer's. */
    let status: number | undefined
    const failed = (cause: Error): void => {
      // After a 200 the events may be stored: its body breaking or stalling is not retried (never sent twice).
      reject(status === undefined
        ? new PutError(`${where}: request failed: ${cause.message}`, { retryable: true, cause })
        : new PutError(`${where}: answer broken: ${cause.message}`, { status, retryable: status !== 200, cause }))
    }
    const req = request(url, {
      method: 'POST',
      agent: options.agent,
      headers: { 'Content-Length': body.length, [KEEP_IDS_HEADER]: '1' },
      signal: options.signal,
      timeout: options.timeoutMs
    }, (res) => {
      status = res.statusCode ?? 0
      const encoding = unaskedEncoding(res.headers)
      if (status === 200 && encoding !== undefined) {
        res.destroy()
        reject(new PutError(`${where}: HTTP 200 with Content-Encoding ${encoding}, which was not asked for`, { status, retryable: false }))
        return
      }
      // A put's answer is a few hundred bytes: one trickled a byte at a time would hold the batch for ever.
      res.once('close', answerDeadline(options.timeoutMs, (ms) => { req.destroy(new Error(`the answer's body took over ${ms} ms`)) }))
      const parts: Buffer[] = []
      let size = 0
      res.on('data', (part: Buffer) => {
        size += part.length
        if (status !== 200 && size >= MAX_FAILED_ANSWER_BYTES) {
          // A failed answer's first words are all that is wanted (answer-kind.ts): cut there, not read on.
          parts.push(part)
          res.destroy()
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString('utf8').slice(0, MAX_FAILED_ANSWER_BYTES) })
          return
        }
        if (size > MAX_ANSWER_BYTES) {
          res.destroy(new Error(`answer over ${MAX_ANSWER_BYTES} bytes`))
          return
        }
        parts.push(part)
      })
      res.on('error', failed)
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString('utf8') })
      })
    })
    // The socket's idle timeout: no head, or a body that stops, for timeoutMs.
    req.on('timeout', () => {
      req.destroy(new Error(status === undefined ? `no answer within ${options.timeoutMs} ms` : `the answer stalled for ${options.timeoutMs} ms`))
    })
    req.on('error', failed)
    req.end(body)
  })
}
