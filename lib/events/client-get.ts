/**
 * get(): a Readable (object mode, async iterable) of the events of one
 * stream and time range, parsed as the body streams in: lines end in CRLF
 * (LF alone is taken too), UTF-8 may be split anywhere, integers beyond
 * 2^53 stay exact (bigint; or the line's text as received, format 'text').
 *
 * After a broken connection (or a 5xx/429) the request is made again, with
 * bounded retries and jittered backoff, resuming after the last @id yielded,
 * and never more than `limit` events are yielded in all. pykronos got both
 * wrong (spec §8): it resent the full limit, and in descending order resent
 * start_id, a lower bound, so it re-read newer events and never reached
 * older ones. Here, ascending resumes with start_id = last id (exclusive)
 * and limit = what is left; descending asks again with end_time = the last
 * id's time (inclusive) and limit = what is left + the events already
 * yielded at that time, and drops those (ids >= the last one, which come
 * first in descending order).
 *
 * Every event is checked against what was asked as it is taken
 * (get-answer-order.ts): @time within the range, @id after start_id, its
 * time at or past the last one's in the order asked, and @id carrying @time
 * (spec §3: its UUID time is @time + 0x01B21DD213814000). A resume goes on
 * from the last @id, so an answer out of order, or an @id whose time is not
 * its event's (a broken server or store), made it repeat or skip events. An
 * event that breaks the rules fails the get after the events before it,
 * and is never asked again (the server would send it again).
 *
 * Parsed events wait in a queue of their own, and go from there either to
 * the Readable's buffer (when read(), 'data' or pipe() ask: _read) or
 * straight to `for await`: the stream's own async iterator takes them from
 * the queue with one settled promise each, instead of Node's iterator (an
 * async generator calling read() per event through the stream's state
 * machine, ~0.5 µs an event). Events the Readable's buffer already holds
 * are older than the queue's, so the iterator takes those first: any mix of
 * the two ways sees every event once, in order. The socket is paused while
 * the queue and the buffer together hold HIGH_WATER events.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { setTimeout as sleepFor } from 'node:timers/promises'
import { ShoeboxError } from '../errors.js'
import { failAfterDelivery } from '../stream/deliver-then-fail.js'
import { retry, type RetryEvent } from '../transfer/retry.js'
import { compareEventIdTexts, eventIdHasTime, eventIdTime, isEventId } from './event-id.js'
import { GetAnswerOrder, unaskedEvent } from './get-answer-order.js'
import { parseEvent, scanEvent, type EventObject } from './event-text.js'
import { formatKronosTime, type KronosTime } from './kronos-time.js'
import { isRetryable, KronosError, send, statusError, type KronosTarget } from './client-request.js'
import { AnswerLines } from './answer-lines.js'
import { checkNamespace, mayBeUnknownNamespace } from './namespace-check.js'
import { describeAt } from '../json/json-scan.js'
import { plural } from '../plural.js'
import { timerMs } from '../units.js'

export interface GetRequest {
  stream: string
  start: KronosTime
  end: KronosTime
  order: 'ascending' | 'descending'
  /** Undefined: no limit. */
  limit: number | undefined
  startId: string | undefined
  namespace: string | undefined
  format: 'object' | 'text'
}

export interface RetryPolicy {
  attempts: number
  baseDelay: number | string
  maxDelay: number | string
}

const PATH = '/1.0/events/get'

/** Events parsed ahead of the consumer before the socket is paused (~1 MB of objects). */
const HIGH_WATER = 1024
/** The iterator resumes a paused socket once the queue is down to this. */
const RESUME_AT = HIGH_WATER / 2
/** #pull(): no event yet. */
const NOTHING = Symbol('nothing')

/** An event as get() yields it: an object (format 'object', the default), or its line (format 'text'). */
type GetEvent = EventObject | string

/**
 * The events of a get(), typed by its format: KronosGetStream<EventObject>
 * (the default) or KronosGetStream<string> (format 'text'), so a TypeScript
 * consumer can read `event['@time']` without narrowing a JsonValue first.
 */
export class KronosGetStream<Event extends GetEvent = GetEvent> extends Readable {
  readonly #target: KronosTarget
  readonly #request: GetRequest
  readonly #retry: RetryPolicy
  readonly #abort = new AbortController()
  #started = false
  #response: IncomingMessage | undefined
  #yielded = 0
  /** The range and order every event is checked against; its last @id is where a resume goes on from. */
  readonly #order: GetAnswerOrder
  /** A descending resume's answer is re-sending the events at the last @id's time already yielded (dropped). */
  #resending = false
  /** An event without a usable @id was yielded: a resume could not know where it stands. */
  #unresumable = false
  #retryAfterMs = 0
  /** A failed answer was checked for an unknown namespace (namespace-check.ts): once per get. */
  #namespaceChecked = false
  /** Parsed events not handed on yet: #queue[#head...]. */
  #queue: Array<GetEvent | null> = []
  #head = 0
  /** _read asked for events the queue did not have: the next ones are pushed at once. */
  #wanting = false
  /** The requests are over: end, or fail with `error`, once the queue is empty. */
  #outcome: { error: Error | undefined } | undefined
  #eofPushed = false
  #socketPaused = false
  /** An iterator's next() waiting for an event, the end or an error. */
  #wake: (() => void) | undefined
  #waiting: Promise<unknown> | undefined
  /** The iterator's return() ended it: next() says done from then on. */
  #returned = false

  constructor (target: KronosTarget, request: GetRequest, retryPolicy: RetryPolicy) {
    // With 64 the socket was paused and resumed every few chunks.
    super({ objectMode: true, highWaterMark: HIGH_WATER })
    this.#target = target
    this.#request = { ...request }
    this.#retry = { ...retryPolicy }
    this.#order = new GetAnswerOrder(request.order)
  }

  /** Events yielded so far. */
  get yielded (): number {
    return this.#yielded
  }

  override _read (): void {
    this.#start()
    this.#wanting = true
    while (this.#wanting && this.#head < this.#queue.length) this.#wanting = this.push(this.#shift())
    this.#taken()
    // Readable calls _read again only after a push: with nothing queued, the socket must flow.
    if (this.#head === this.#queue.length) this.#resumeSocket()
  }

  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    this.#abort.abort()
    this.#response?.destroy()
    this.#queue = []
    this.#head = 0
    callback(err)
    // Not at once: a destroy can happen inside #pull (a failure delivered after the last event).
    process.nextTick(() => this.#wake?.())
  }

  override [Symbol.asyncIterator] (): NodeJS.AsyncIterator<Event> {
    // The iterator reports errors from next(); without a listener an 'error' would be uncaught.
    const ignore = (): void => {}
    this.on('error', ignore)
    const iterator: NodeJS.AsyncIterator<Event> = {
      // Not an async function: one promise per event, not three (each event is of the format asked: #take).
      next: () => this.#next() as Promise<IteratorResult<Event, undefined>>,
      // As Node's iterator does: leaving the loop early destroys the stream (and ends the request).
      return: async () => {
        this.#wake = undefined
        this.#returned = true
        this.destroy()
        return { done: true, value: undefined }
      },
      [Symbol.asyncIterator]: () => iterator
    }
    return iterator
  }

  #next (): Promise<IteratorResult<GetEvent, undefined>> {
    // next() called again before the last one settled (not by for await) waits its turn.
    if (this.#waiting !== undefined) return this.#waiting.then(async () => await this.#next())
    let result: IteratorResult<GetEvent, undefined> | typeof NOTHING
    try {
      result = this.#pull()
    } catch (err) {
      return Promise.reject(err)
    }
    if (result !== NOTHING) return Promise.resolve(result)
    const waiting = new Promise<IteratorResult<GetEvent, undefined>>((resolve, reject) => {
      this.#wake = () => {
        try {
          const r = this.#pull()
          if (r === NOTHING) return
          this.#wake = undefined
          resolve(r)
        } catch (err) {
          this.#wake = undefined
          reject(err)
        }
      }
    })
    this.#waiting = waiting
    const done = (): void => { if (this.#waiting === waiting) this.#waiting = undefined }
    waiting.then(done, done)
    return waiting
  }

  /** The iterator's next result, NOTHING if it must wait; throws the stream's error. */
  #pull (): IteratorResult<GetEvent, undefined> | typeof NOTHING {
    // A failure is delivered after the last event (failAfterDelivery): destroyed means nothing is left.
    if (this.destroyed) {
      if (this.errored !== null) throw this.errored
      if (this.#eofPushed || this.#returned) return { done: true, value: undefined }
      throw Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })
    }
    if (this.readableLength > 0) {
      const value = this.read() as GetEvent | null
      if (value !== null) return { done: false, value }
    }
    if (this.#head < this.#queue.length) {
      const value = this.#shift()
      this.#taken()
      if (this.#socketPaused && this.#queue.length - this.#head <= RESUME_AT) this.#resumeSocket()
      return { done: false, value }
    }
    if (this.#eofPushed) {
      this.read() // lets the Readable emit 'end' (and close) for its listeners
      return { done: true, value: undefined }
    }
    this.#start()
    this.#resumeSocket()
    return NOTHING
  }

  #start (): void {
    if (this.#started) return
    this.#started = true
    void this.#run()
  }

  #shift (): GetEvent {
    const event = this.#queue[this.#head] as GetEvent
    this.#queue[this.#head++] = null // the consumer may keep the event; the queue should not
    return event
  }

  /** After events left the queue: reuse it once empty, and end or fail if the requests are over. */
  #taken (): void {
    if (this.#head < this.#queue.length) return
    this.#queue.length = 0
    this.#head = 0
    const outcome = this.#outcome
    if (outcome === undefined) return
    if (outcome.error !== undefined) {
      failAfterDelivery(this, outcome.error)
    } else if (!this.#eofPushed) {
      this.#eofPushed = true
      this.push(null)
    }
  }

  #resumeSocket (): void {
    if (!this.#socketPaused) return
    this.#socketPaused = false
    this.#response?.resume()
  }

  async #run (): Promise<void> {
    let error: Error | undefined
    try {
      // The tries are a budget for failures in a row without progress: a
      // connection that breaks after some events is reconnected at once with
      // a fresh budget, so a long read through a flaky network goes on, and
      // one that gets nowhere `attempts` times in a row stops.
      while (await this.#retrying() === 'again');
    } catch (err) {
      error = err as Error
    }
    if (this.destroyed) return
    this.#outcome = { error }
    this.#taken()
    this.#wake?.()
  }

  async #retrying (): Promise<'done' | 'again'> {
    return await retry(async (attempt, signal) => {
      const before = this.#yielded
      try {
        await this.#attempt(signal)
        return 'done' as const
      } catch (err) {
        if (this.#yielded === before || this.#unresumable || !isRetryable(err)) throw err
        this.emit('retry', { error: err, attempt, delayMs: 0, yielded: this.#yielded })
        return 'again' as const
      }
    }, {
      attempts: this.#retry.attempts,
      baseDelay: this.#retry.baseDelay,
      maxDelay: this.#retry.maxDelay,
      signal: this.#abort.signal,
      retryable: (err) => !this.#unresumable && isRetryable(err),
      onRetry: (event: RetryEvent) => {
        this.#retryAfterMs = (event.error as KronosError).retryAfterMs ?? 0
        this.emit('retry', { ...event, delayMs: Math.max(event.delayMs, this.#retryAfterMs), yielded: this.#yielded })
      },
      // A server's Retry-After wins over a shorter backoff.
      sleep: async (ms, signal) => { await sleepFor(timerMs(Math.max(ms, this.#retryAfterMs)), undefined, { signal }) }
    })
  }

  #remaining (): number {
    return this.#request.limit === undefined ? Infinity : this.#request.limit - this.#yielded
  }

  #body (): string {
    const r = this.#request
    const lastId = this.#order.last
    const resuming = this.#yielded > 0 && lastId !== undefined
    const remaining = this.#remaining()
    let startId = r.startId
    let end = r.end
    let limit = remaining
    if (resuming && r.order === 'ascending') {
      startId = lastId
    } else if (resuming) {
      end = eventIdTime(lastId)
      limit = remaining + this.#order.sameTime
    }
    // What this answer's events are checked against (past the last @id: the order check sees to that).
    this.#order.ask({ start: r.startId === undefined ? r.start : undefined, end, startId: r.startId })
    this.#resending = resuming && r.order === 'descending'
    let body = `{"stream":${JSON.stringify(r.stream)}`
    body += startId === undefined ? `,"start_time":${formatKronosTime(r.start)}` : `,"start_id":${JSON.stringify(startId)}`
    body += `,"end_time":${formatKronosTime(end)},"order":"${r.order}"`
    if (Number.isFinite(limit)) body += `,"limit":${limit}`
    if (r.namespace !== undefined) body += `,"namespace":${JSON.stringify(r.namespace)}`
    return body + '}'
  }

  async #attempt (signal: AbortSignal | undefined): Promise<void> {
    if (this.#remaining() <= 0) return
    const shown = this.#target.shown + PATH
    const res = await send(this.#target, 'POST', PATH, this.#body(), signal)
    if (res.statusCode !== 200) {
      const failed = await statusError(res, 'POST', shown, this.#target.timeoutMs)
      // A bare 500 before any event may be a real Kronos's word for an unknown namespace: asked once, not retried for ~20 s.
      if (this.#yielded > 0 || this.#namespaceChecked || !mayBeUnknownNamespace(failed)) throw failed
      this.#namespaceChecked = true
      const checked = await checkNamespace(this.#target, failed, { stream: this.#request.stream, namespace: this.#request.namespace }, signal)
      throw checked === failed ? failed : new KronosError('SHOEBOX_EVENTS_FAILED', `${checked.message}; no event yielded`, { status: checked.status, errors: checked.errors, cause: failed })
    }
    await new Promise<void>((resolve, reject) => {
      this.#response = res
      this.#socketPaused = false
      let settled = false
      const finish = (err?: Error): void => {
        if (settled) return
        settled = true
        this.#response = undefined
        if (err === undefined) resolve()
        else reject(err)
      }
      const lines: AnswerLines = new AnswerLines((line) => {
        try {
          return this.#take(line)
        } catch (err) {
          finish(new ShoeboxError((err as ShoeboxError).code ?? 'SHOEBOX_INVALID_JSON',
            `POST ${shown}: line ${lines.lineNo} of the answer: ${(err as Error).message}`, { cause: err }))
          return false
        }
      })
      res.on('data', (chunk: Buffer) => {
        if (settled) return
        if (!lines.write(chunk)) {
          // The limit is reached, or a line was bad (finish has the error), or too long.
          res.destroy()
          finish(this.#linesFailure(shown, lines))
          return
        }
        if (this.#queue.length - this.#head + this.readableLength >= HIGH_WATER) {
          res.pause()
          this.#socketPaused = true
        }
        this.#wake?.()
      })
      res.once('end', () => {
        if (!settled) lines.end()
        finish(this.#linesFailure(shown, lines))
        this.#wake?.()
      })
      const broken = (err?: Error): void => {
        finish(new KronosError('SHOEBOX_UNREACHABLE',
          `POST ${shown}: the connection broke after ${plural(this.#yielded, 'event')}${err === undefined ? '' : `: ${err.message}`}`, { cause: err }))
      }
      res.once('error', broken)
      res.once('close', () => { if (!res.complete) broken() })
    })
  }

  /** A line the answer's lines stopped at (not retried: the server would send it again), or undefined. */
  #linesFailure (shown: string, lines: AnswerLines): KronosError | undefined {
    if (lines.failure === undefined) return undefined
    const line = `POST ${shown}: line ${lines.lineNo + 1} of the answer`
    const before = `${plural(this.#yielded, 'event')} before it yielded`
    return lines.failure === 'line too long'
      ? new KronosError('SHOEBOX_EVENTS_FAILED', `${line} is longer than ${lines.maxLine} characters (not an event this client takes); ${before}`)
      : new KronosError('SHOEBOX_INVALID_EVENT', `${line} is not valid UTF-8; ${before}`)
  }

  /**
   * One event line: parse, check it is what was asked (range, order), drop
   * what a descending resume re-sends, push. False once the limit is reached.
   */
  #take (line: string): boolean {
    let event: GetEvent
    let id: unknown
    let time: unknown
    if (this.#request.format === 'text') {
      const scan = scanEvent(line)
      const member = scan.idMembers[scan.idMembers.length - 1]
      id = member === undefined ? undefined : JSON.parse(line.slice(member.valueStart, member.valueEnd))
      time = scan.time ?? undefined
      event = line
    } else {
      const parsed = parseEvent(line)
      // As scanEvent() refuses it in format 'text': a line that is not an object is no event.
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new ShoeboxError('SHOEBOX_INVALID_EVENT', `an event is a JSON object, got ${describeAt(line, line.search(/\S/))}`)
      }
      event = parsed
      id = parsed['@id']
      time = parsed['@time']
    }
    const wrongTime = this.#order.timeProblem(time)
    if (wrongTime !== undefined) throw unaskedEvent(this.#request.stream, this.#yielded, wrongTime)
    if (isEventId(id)) {
      // timeProblem() let only an integer through.
      if (!eventIdHasTime(id, time as number | bigint)) {
        throw unaskedEvent(this.#request.stream, this.#yielded, `@id ${id} carries time ${eventIdTime(id)}, not its @time ${String(time)}`)
      }
      if (this.#resending) {
        // Asked again from the last @id's time, the ids yielded at that time come first: at or past the last one.
        if (compareEventIdTexts(id, this.#order.last as string) >= 0) return true
        this.#resending = false
      }
      const wrongId = this.#order.take(id)
      if (wrongId !== undefined) throw unaskedEvent(this.#request.stream, this.#yielded, wrongId)
    } else {
      this.#unresumable = true
    }
    this.#yielded++
    if (this.#wanting && this.#head === this.#queue.length) this.#wanting = this.push(event)
    else this.#queue.push(event)
    return this.#remaining() > 0
  }
}
