/**
 * kronos(url, { namespace }): a client for any server speaking the Kronos
 * HTTP protocol (a real Kronos, or `shoebox serve`).
 *
 * - get(stream, start, end, { order, limit, startId }) streams events
 *   (client-get.ts: resumes after a broken connection in both orders and
 *   never yields more than `limit`);
 * - delete(), streams(), inferSchema(), index() answer one JSON object (or
 *   the list of stream names), retried as a whole: each is idempotent.
 *
 * Times are anything toKronosTime() takes: bigint ticks, a safe integer,
 * integer or ISO text, a Date. Errors are ShoeboxErrors (KronosError, with
 * the HTTP status and @errors) naming the URL without credentials. One
 * keep-alive pool per client; close() ends its idle connections.
 */
import { setTimeout as sleepFor } from 'node:timers/promises'
import { checkOptionsObject, givenValue, invalidOption } from '../errors.js'
import { retry } from '../transfer/retry.js'
import { checkKnownOptions, durationOption, oneOf, positiveCount, timerMs } from '../units.js'
import { isEventId } from './event-id.js'
import type { EventObject, JsonValue } from './event-text.js'
import { formatKronosTime, toKronosTime, type KronosTime } from './kronos-time.js'
import { checkNamespaceOption, checkStreamName, isValidStreamName } from './stream-name.js'
import { isRetryable, KronosError, makeTarget, requestJson, send, readText, statusError, type KronosTarget } from './client-request.js'
import { KronosGetStream, type RetryPolicy } from './client-get.js'
import { checkNamespace, mayBeUnknownNamespace } from './namespace-check.js'

export type TimeInput = KronosTime | number | string | Date

export interface KronosClientOptions {
  /** The namespace of every call that names none. Default: the server's default (the key is left out). */
  namespace?: string
  /** Tries per call, the first included. Default 10 (pykronos gives up after 10 errors). */
  attempts?: number
  /** First backoff ceiling (ms or '100ms'), doubled per try. Default 100. */
  baseDelay?: number | string
  /** Largest backoff ceiling. Default '5s'. */
  maxDelay?: number | string
  /** A request with no byte for this long is broken (and retried). Default '60s'. */
  timeout?: number | string
  /** Connections kept per client. Default 8. */
  maxSockets?: number
}

export interface KronosGetOptions {
  /** Default 'ascending'. */
  order?: 'ascending' | 'descending'
  /** At most this many events in all, retries included. Default: no limit. */
  limit?: number
  /** Start strictly after this id (replaces `start`). */
  startId?: string
  namespace?: string
  /** 'object' (default): parsed events, big integers as bigint. 'text': each event's line as received. */
  format?: 'object' | 'text'
}

export interface KronosDeleteOptions {
  /** Delete strictly after this id (replaces `start`). */
  startId?: string
  namespace?: string
}

export type KronosAnswer = { [key: string]: JsonValue }

const CLIENT_OPTIONS: ReadonlyArray<keyof KronosClientOptions> = ['namespace', 'attempts', 'baseDelay', 'maxDelay', 'timeout', 'maxSockets']
const GET_OPTIONS: ReadonlyArray<keyof KronosGetOptions> = ['order', 'limit', 'startId', 'namespace', 'format']
const DELETE_OPTIONS: ReadonlyArray<keyof KronosDeleteOptions> = ['startId', 'namespace']
const NAMESPACE_ONLY: readonly string[] = ['namespace']

/**
 * A call's options: an object (or none) of `known` keys. A misspelt one ({ attempt: 3 }, { limt: 5 }) was
 * ignored and its default taken without a word (10 tries; every event of the range).
 */
function checkCallOptions (options: object, known: readonly string[], what: string): void {
  checkOptionsObject(options, what)
  checkKnownOptions(options, known, what)
}

export class KronosClient {
  readonly url: string
  readonly namespace: string | undefined
  readonly #target: KronosTarget
  readonly #retry: RetryPolicy

  constructor (url: string | URL, options: KronosClientOptions = {}) {
    const opts = { ...options }
    checkKnownOptions(opts, CLIENT_OPTIONS, 'kronos()')
    const attempts = positiveCount(opts.attempts, 10, 'attempts')
    const maxSockets = positiveCount(opts.maxSockets, 8, 'maxSockets')
    this.#retry = { attempts, baseDelay: durationOption(opts.baseDelay, 100, 'baseDelay'), maxDelay: durationOption(opts.maxDelay, 5000, 'maxDelay') }
    this.#target = makeTarget(url, { timeoutMs: durationOption(opts.timeout, 60_000, 'timeout'), maxSockets })
    this.url = this.#target.shown
    checkNamespaceOption(opts.namespace)
    this.namespace = opts.namespace
  }

  /** The events of `stream` with start <= @time <= end (or after startId), streamed: objects, or with format 'text' their lines. */
  get (stream: string, start: TimeInput, end: TimeInput, options: KronosGetOptions & { format: 'text' }): KronosGetStream<string>
  get (stream: string, start: TimeInput, end: TimeInput, options?: KronosGetOptions & { format?: 'object' }): KronosGetStream<EventObject>
  get (stream: string, start: TimeInput, end: TimeInput, options?: KronosGetOptions): KronosGetStream
  get (stream: string, start: TimeInput, end: TimeInput, options: KronosGetOptions = {}): KronosGetStream {
    checkCallOptions(options, GET_OPTIONS, 'get()')
    checkStreamName(stream)
    const order = options.order === undefined ? 'ascending' : options.order
    oneOf(order, ['ascending', 'descending'], 'order')
    const limit = options.limit
    if (limit !== undefined && (!Number.isSafeInteger(limit))) throw invalidOption('limit', `must be an integer, got ${givenValue(limit)}`)
    const format = options.format === undefined ? 'object' : options.format
    oneOf(format, ['object', 'text'], 'format')
    return new KronosGetStream(this.#target, {
      stream,
      start: toKronosTime(start),
      end: toKronosTime(end),
      order,
      limit: limit === undefined ? undefined : Math.max(0, limit),
      startId: checkStartId(options.startId),
      namespace: options.namespace ?? this.namespace,
      format
    }, this.#retry)
  }

  /** Deletes start <= @time <= end (or after startId); the server's answer ({ [stream]: { backend: { num_deleted } } }). */
  async delete (stream: string, start: TimeInput, end: TimeInput, options: KronosDeleteOptions = {}): Promise<KronosAnswer> {
    checkCallOptions(options, DELETE_OPTIONS, 'delete()')
    checkStreamName(stream)
    const startId = checkStartId(options.startId)
    let body = `{"stream":${JSON.stringify(stream)}`
    body += startId === undefined ? `,"start_time":${formatKronosTime(toKronosTime(start))}` : `,"start_id":${JSON.stringify(startId)}`
    body += `,"end_time":${formatKronosTime(toKronosTime(end))}${this.#namespaceMember(options.namespace)}}`
    return await this.#json('POST', '/1.0/events/delete', body)
  }

  /** The stream names of a namespace, in the server's order. */
  async streams (options: { namespace?: string } = {}): Promise<string[]> {
    checkCallOptions(options, NAMESPACE_ONLY, 'streams()')
    const body = `{${this.#namespaceMember(options.namespace).slice(1)}}`
    const path = '/1.0/streams'
    const shown = this.#target.shown + path
    let namespaceChecked = false
    return await this.#retrying(async (signal) => {
      const res = await send(this.#target, 'POST', path, body, signal)
      if (res.statusCode !== 200) {
        const failed = await statusError(res, 'POST', shown, this.#target.timeoutMs)
        // A bare 500 may be a real Kronos's word for an unknown namespace (namespace-check.ts): asked once.
        if (namespaceChecked || !mayBeUnknownNamespace(failed)) throw failed
        namespaceChecked = true
        throw await checkNamespace(this.#target, failed, { stream: undefined, namespace: options.namespace ?? this.namespace }, signal)
      }
      const text = await readText(res, shown, this.#target.timeoutMs)
      const lines = text.split('\n').map((line) => line.replace(/\r$/, ''))
      // A line no stream can be named (a proxy's login page, a wrong URL's answer) is no stream list: refused, not listed.
      const bad = lines.findIndex((line) => line.trim() !== '' && !isValidStreamName(line))
      if (bad >= 0) {
        throw new KronosError('SHOEBOX_EVENTS_FAILED', `POST ${shown}: line ${bad + 1} of the answer is not a stream name: ${JSON.stringify(lines[bad].slice(0, 200))}`, { status: 200 })
      }
      return lines.filter((line) => line.trim() !== '')
    })
  }

  /** The server's JSON schema of `stream` (spec §5.6): { stream, namespace, schema }. */
  async inferSchema (stream: string, options: { namespace?: string } = {}): Promise<KronosAnswer> {
    checkCallOptions(options, NAMESPACE_ONLY, 'inferSchema()')
    checkStreamName(stream)
    // pykronos always sends the key, null meaning the default; so does this.
    const namespace = options.namespace ?? this.namespace ?? null
    return await this.#json('POST', '/1.0/streams/infer_schema', `{"stream":${JSON.stringify(stream)},"namespace":${JSON.stringify(namespace)}}`)
  }

  /** GET /1.0/index: the server's name, version and storage. */
  async index (): Promise<KronosAnswer> {
    return await this.#json('GET', '/1.0/index', undefined)
  }

  /** Ends the idle keep-alive connections (requests in flight finish). */
  close (): void {
    this.#target.agent.destroy()
  }

  #namespaceMember (namespace: string | undefined): string {
    const ns = namespace ?? this.namespace
    return ns === undefined ? '' : `,"namespace":${JSON.stringify(ns)}`
  }

  async #json (method: 'GET' | 'POST', path: string, body: string | undefined): Promise<KronosAnswer> {
    return await this.#retrying(async (signal) => await requestJson(this.#target, method, path, body, signal))
  }

  async #retrying<T> (operation: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    let retryAfterMs = 0
    return await retry(async (_attempt, signal) => await operation(signal), {
      attempts: this.#retry.attempts,
      baseDelay: this.#retry.baseDelay,
      maxDelay: this.#retry.maxDelay,
      retryable: isRetryable,
      onRetry: (event) => { retryAfterMs = (event.error as KronosError).retryAfterMs ?? 0 },
      sleep: async (ms, signal) => { await sleepFor(timerMs(Math.max(ms, retryAfterMs)), undefined, { signal }) }
    })
  }
}

function checkStartId (startId: string | undefined): string | undefined {
  if (startId !== undefined && !isEventId(startId)) throw invalidOption('startId', `not a UUID: ${JSON.stringify(String(startId)).slice(0, 60)}`)
  return startId
}

/** A client for the Kronos server at `url` (http or https; a path prefix is kept). */
export function kronos (url: string | URL, options?: KronosClientOptions): KronosClient {
  checkOptionsObject(options, 'kronos()')
  return new KronosClient(url, options)
}
