/**
 * ship(url, options): a Writable (object mode) that ships events to a
 * Kronos-protocol server (POST /1.0/events/put), batched per namespace and
 * stream by count, bytes and age.
 *
 * A write's callback fires once the server acknowledged the batch holding
 * its event (null), or with a ShoeboxError saying why it never will be:
 * refused before sending (a SHOEBOX_INVALID_* code and an `invalid` event),
 * rejected by the server (SHOEBOX_EVENT_REJECTED and a `rejected` event),
 * dropped by the overflow policy (SHOEBOX_EVENT_DROPPED and a `drop`
 * event), or the shipper failed. Nothing is dropped silently: a refusal
 * that neither a callback nor a listener heard fails the stream at its end
 * (Unheard), after every other event is settled.
 *
 * Batches go in parallel, at most maxInFlight, over keep-alive connections,
 * and up to maxInFlightPerStream of one stream: with one at a time, a busy
 * stream's next batch waited for the last one's fsync and answer, and the
 * server sat idle meanwhile. A stream's answers are applied in the order
 * its batches were cut (callbacks, `ack` events, the spill's records), so
 * a caller still hears of a stream's events in the order written. A batch
 * of replayed (spilled) events goes alone among its stream's, because the
 * spill records acknowledged events per stream as a prefix (its last seq). A batch
 * that got no answer is tried again whole, with jittered backoff and the
 * server's Retry-After; a batch that got one is never sent again, except
 * one refused as too large (413, a server's or a proxy's body limit): it
 * is sent again as two halves, one after the other in its in-flight slot,
 * split again while refused, down to an event alone (then rejected), and
 * later batches are cut at half its size at most (Batcher.shrinkBytes), so
 * a long run pays a few 413s, not one a batch.
 *
 * The queue (events cut into batches, waiting or in flight) is bounded. When
 * it is full, onOverflow decides: 'block' holds the writer (backpressure),
 * 'drop' drops the event, 'spill' writes it to a local rolling archive
 * (ship-spill.ts), replayed in order, here or by the next run.
 *
 * A refusal of where the puts go (a namespace the server lacks, the URL, the
 * credentials) stops the shipper once the batches in flight are answered;
 * with a spill, every event it took and the server did not acknowledge goes
 * there first (as when it gives up on an unreachable server), for the
 * namespace it was written for. An earlier run's spilled events for a
 * namespace the server refuses are set aside (ship-aside.ts), not replayed
 * in front of every later run's.
 *
 * put(event) is the fire-and-forget form: it returns at once; queued events
 * are flushed on end(), on SIGTERM and before the process exits, and a
 * failing flush loses nothing and stops no later one (pykronos's defects,
 * spec §8).
 */
import type http from 'node:http'
import { Writable } from 'node:stream'
import { setTimeout as sleepFor } from 'node:timers/promises'
import { checkOptionsObject, ShoeboxError } from '../errors.js'
import { retry } from '../transfer/retry.js'
import { TransferStats, type TransferSnapshot } from '../transfer/stats.js'
import { Batcher, type Batch } from './ship-batcher.js'
import type { IdTail } from './ship-body.js'
import { eventAsPut, lineOf, prepareEvent, preparedText, type Library, type PreparedEvent, type ShipItem } from './ship-event.js'
import { ExitFlush } from './ship-exit.js'
import { shipSettings, type OverflowPolicy, type ShipOptions, type ShipSettings } from './ship-options.js'
import { httpFor, PutError, putBatch, putUrl, safeUrl } from './ship-put.js'
import { Spill, type SpillFile, type SpillOrigin } from './ship-spill.js'
import { asideDir, setAside } from './ship-aside.js'
import { plural } from '../plural.js'
import { failsOnListenerRejection } from '../stream/listener-rejections.js'
import { lateEnd, LateWrites } from '../stream/deliver-then-fail.js'
import { timerMs } from '../units.js'

export type { ShipItem, Library, ShipOptions, OverflowPolicy }

export interface ShipEventCounts {
  /** Events given to the shipper. */
  written: number
  acked: number
  rejected: number
  invalid: number
  dropped: number
  spilled: number
  replayed: number
  /** Replayed events of an earlier run for a namespace the server refuses, set aside in the spill's `refused` directory (ship-aside.ts). */
  setAside: number
  /** Events waiting or in flight now. */
  queued: number
}

export interface ShipStats extends TransferSnapshot {
  events: ShipEventCounts
  /** Batches the server refused as too large (413), sent again split in two. */
  splits: number
  /** The byte limit batches are cut at now: batchBytes, or less after a 413. */
  batchBytes: number
}

type Done = (error: Error | null) => void
type WriteCallback = (error?: Error | null) => void

/** A written chunk with the caller's callback, which waits for the acknowledgement. */
class Written {
  constructor (readonly chunk: unknown, public done: Done | undefined) {}
}

/** put()'s callback when its caller gave none: fire and forget hears of failures only through events and stats(). */
function forgotten (): void {}

/**
 * Events refused (invalid, or rejected by the server) that nobody heard of:
 * written without a callback (pipeline(), pipe()) and with no 'invalid' or
 * 'rejected' listener. The shipper ends with an error naming them, after
 * every other event is settled, instead of finishing as if all were stored.
 */
class Unheard {
  invalid = 0
  rejected = 0
  first: Error | undefined

  add (kind: 'invalid' | 'rejected', error: Error): void {
    this[kind]++
    this.first ??= error
  }

  error (where: string, counts: ShipEventCounts): ShoeboxError | null {
    const first = this.first
    if (first === undefined) return null
    const parts = [this.invalid > 0 ? `${this.invalid} invalid` : '', this.rejected > 0 ? `${this.rejected} rejected by the server` : ''].filter((p) => p !== '')
    return new ShoeboxError(first instanceof ShoeboxError ? first.code : 'SHOEBOX_INVALID_EVENT',
      `${where}: ${plural(this.invalid + this.rejected, 'event')} not stored (${parts.join(', ')}; the first: ${first.message}); ` +
      `${counts.acked} acknowledged. Listen to 'invalid' and 'rejected', or give write() a callback, to handle them one by one`, { cause: first })
  }
}

/** Written by flush(): every event before it is queued; send them all now. */
const FLUSH = Symbol('flush')

/**
 * What a put's answer means for the events of the batch sent: 'refused' when the server refuses where it
 * went (the shipper's #refusal says how), so that nothing more is sent there; 'aside' when it refuses the
 * namespace of an earlier run's spilled events, which are set aside (ship-aside.ts) and the run goes on.
 */
type Answer = { kind: 'acked', bytes: number } | { kind: 'rejected', message: string, stored: number } | { kind: 'refused' } |
  { kind: 'aside', error: PutError }

/** What a batch's answer means for its events (applied in the stream's order, see Flight): a split batch's is its parts' answers, in order. */
type Outcome = Answer | { kind: 'split', parts: Array<{ batch: Batch, answer: Answer }> }

/** One stream's batches in flight. */
class Flight {
  /** Batches sent and not yet settled. */
  sent = 0
  /** One of them holds replayed events: it goes alone (the spill records acknowledged events as a prefix). */
  replaying = false
  /** Settles after the last batch sent was applied: the next one's outcome waits for it. */
  last: Promise<void> = Promise.resolve()

  canTake (batch: Batch, perStream: number): boolean {
    return this.sent === 0 || (this.sent < perStream && !this.replaying && batch.origins === undefined)
  }
}

export class Shipper extends failsOnListenerRejection(Writable) {
  /** The put endpoint, without the URL's user name and password (they are sent, never shown). */
  readonly url: URL
  readonly onOverflow: OverflowPolicy
  /** The put endpoint with them: what requests go to. */
  readonly #target: URL
  readonly #where: string
  readonly #settings: ShipSettings
  readonly #batcher: Batcher
  readonly #agent: http.Agent
  readonly #abort = new AbortController()
  readonly #transfer = new TransferStats()
  readonly #counts: ShipEventCounts = { written: 0, acked: 0, rejected: 0, invalid: 0, dropped: 0, spilled: 0, replayed: 0, setAside: 0, queued: 0 }
  readonly #unheard = new Unheard()
  readonly #spill: Spill | undefined
  /**
   * Settles once the shipper can take events: its spill opened (at once
   * without one), or the reason it could not be (`shoebox ship` waits for it
   * before reading stdin, so a spill it cannot open costs no line).
   */
  readonly opened: Promise<void>
  #settleOpened: (error?: Error) => void = () => {}
  #queuedBytes = 0
  #splits = 0
  #ready: Batch[] = []
  readonly #inFlight = new Set<Batch>()
  readonly #flights = new Map<string, Flight>()
  /** Batches the server acknowledged that wait for an earlier batch of their stream. */
  readonly #ackedEarly = new Set<Batch>()
  /**
   * Batches whose answer is being applied (#apply): the server's answer is what these events'
   * callbacks hear, so a destroy meanwhile (from an `ack` listener or a callback) must not tell
   * them anything else.
   */
  readonly #answered = new Set<Batch>()
  #timer: ReturnType<typeof setTimeout> | null = null
  #timerAt = 0
  /** A write held by 'block', resumed when there is room (or failed with the shipper). */
  #blocked: { event: PreparedEvent, written: Written, callback: WriteCallback } | null = null
  /** Written events the Writable buffers, not yet taken by _write (from #unacceptedAt on). */
  readonly #unaccepted: Written[] = []
  #unacceptedAt = 0
  #roomWaiters: Array<() => void> = []
  #idleWaiters: Array<() => void> = []
  #replay: Promise<void> | null = null
  #failed: Error | null = null
  /**
   * The server refused where the puts go (its namespace, the URL, the credentials: answer-kind.ts): no
   * batch is sent from then on, those in flight get their answers, and then the shipper fails with it.
   */
  #refusal: ShoeboxError | null = null
  /** Namespaces that refused an earlier run's spilled events (NamespaceMissing): its other such batches are set aside unsent. */
  readonly #asideNamespaces = new Map<string | undefined, PutError>()
  /** Set-aside writes, one after the other (each seals its own files in the `refused` directory). */
  #asideWrites: Promise<void> = Promise.resolve()
  /**
   * put() fed it: fire and forget never fails the stream (a logging helper's shipper has no 'error' listener, and
   * its process would crash), so there a refusal of where puts go rejects its batch's events, as any refusal does.
   */
  #firedAndForgotten = false
  /** A write after end(): refused alone, and reported by _final once the rest is sent (deliver-then-fail.ts). */
  readonly #late: LateWrites
  #exitFlush: ExitFlush | null = null

  constructor (url: string, options: ShipOptions = {}) {
    super({ objectMode: true, highWaterMark: 64 })
    this.#target = putUrl(url)
    this.#where = safeUrl(this.#target)
    this.url = new URL(this.#where)
    this.#late = new LateWrites(`shipper to ${this.#where}`, 'the events written before end() are sent')
    const settings = shipSettings(options)
    this.#settings = settings
    this.onOverflow = settings.onOverflow
    this.#batcher = new Batcher(settings.batch)
    this.opened = new Promise((resolve, reject) => {
      this.#settleOpened = (error) => { if (error === undefined) resolve(); else reject(error) }
    })
    // A failure is the stream's 'error' too: one not awaited here is no unhandled rejection.
    this.opened.catch(() => {})
    this.#agent = new (httpFor(this.url).Agent)({ keepAlive: true, maxSockets: settings.maxInFlight })
    if (settings.spill !== undefined) {
      this.#spill = new Spill({
        dir: settings.spill,
        onDurable: (event) => { this.emit('spill', { path: event.path, events: event.records }) },
        onError: (err) => { this.destroy(err) },
        onDamage: (damage) => {
          // Heard ('damaged'), the replay goes on past it; unheard, it fails the shipper, as it always did.
          if (this.listenerCount('damaged') > 0) this.emit('damaged', damage)
          else this.destroy(new ShoeboxError('SHOEBOX_BAD_RECORD', `${damage.path}: at byte ${damage.offset}: ${damage.detail}`))
        }
      })
    }
  }

  override _construct (callback: (error?: Error | null) => void): void {
    if (this.#spill === undefined) {
      this.#settleOpened()
      callback()
      return
    }
    // Spilled events of an earlier run go first.
    this.#spill.open().then(() => {
      if (this.#spill?.active === true) this.#startReplay()
      this.#settleOpened()
      callback()
    }, (err: Error) => {
      this.#settleOpened(err)
      callback(err)
    })
  }

  /** Write an event; `callback` fires once the server acknowledged it (see the module comment). */
  override write (chunk: unknown, callback?: WriteCallback): boolean
  override write (chunk: unknown, encoding: BufferEncoding, callback?: WriteCallback): boolean
  override write (chunk: unknown, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    const done = typeof encoding === 'function' ? encoding : callback
    const written = new Written(chunk, done)
    const refusal = this.#late.refuse(this)
    if (refusal !== null) {
      // After end(): refused alone (Node's Writable would destroy the shipper, failing every event not acknowledged).
      process.nextTick(settle, written, refusal)
      return false
    }
    if (this.writableEnded || this.destroyed) {
      // Refused outright (Node's error after the end, or destroyed): the stream's callback says why.
      return super.write(written, (err) => { if (err !== null && err !== undefined) settle(written, err) })
    }
    // Accepted: one shared callback, not a closure per write (with a different callback per write,
    // Node schedules one nextTick per write: ~1.1-1.5 µs an event). Until _write takes it, the event
    // waits in #unaccepted, so a destroy can still tell its callback.
    this.#unaccepted.push(written)
    return super.write(written, streamWriteDone)
  }

  /** Queue an event and return at once; it is flushed on end(), SIGTERM and before the process exits. */
  put (chunk: unknown, done?: WriteCallback): void {
    // Fire and forget never throws or emits: after end() or destroy() only `done` hears of it.
    if (this.writableEnded || this.destroyed) {
      const error = this.#failed ?? new ShoeboxError('SHOEBOX_EVENT_DROPPED', `shipper to ${this.#where} already ended; event not sent`)
      if (done !== undefined) process.nextTick(done, error)
      return
    }
    this.#installExitHooks()
    this.#firedAndForgotten = true
    // put() never blocks, and its buffer is bounded too (pykronos's was not): with 'block', an
    // event put while the stream's own buffer holds another queue's worth is dropped and counted.
    if (this.onOverflow === 'block' && this.writableLength >= this.#settings.queueEvents) {
      const dropped = ++this.#counts.dropped
      this.emit('drop', { namespace: undefined, stream: undefined, event: chunk, dropped })
      const error = new ShoeboxError('SHOEBOX_EVENT_DROPPED', `event dropped by put(): ${plural(this.writableLength, 'event')} waiting for room already`)
      if (done !== undefined) process.nextTick(done, error)
      return
    }
    // Taken as it is now: the caller may reuse the object or Buffer at once (see eventAsPut).
    this.write(eventAsPut(chunk), done ?? forgotten)
  }

  /** Send every open batch now; resolves once everything queued so far is acknowledged or settled otherwise. */
  async flush (): Promise<void> {
    // Behind every write made so far (some may still wait in the Writable's buffer).
    await new Promise<void>((resolve, reject) => {
      super.write(FLUSH, (err) => { if (err === null || err === undefined) resolve(); else reject(err) })
    })
    await this.#whenIdle()
  }

  stats (): ShipStats {
    return { ...this.#transfer.snapshot(), events: { ...this.#counts, queued: this.#counts.queued }, splits: this.#splits, batchBytes: this.#batcher.limits.maxBytes }
  }

  /** `written`, taken off #unaccepted (the Writable hands chunks to _write in the order written). */
  #take (written: Written): Written {
    const at = this.#unacceptedAt
    if (this.#unaccepted[at] === written) {
      if (at === 0 && this.#unaccepted.length === 1) {
        // The common case (_write runs inside write()): pop() is inlined, `length = 0` a runtime call.
        this.#unaccepted.pop()
      } else if (at + 1 === this.#unaccepted.length) {
        this.#unaccepted.length = 0
        this.#unacceptedAt = 0
      } else {
        this.#unacceptedAt = at + 1
        // Compacted now and then, so a writer that ignores backpressure does not grow it for ever.
        if (at >= 1024 && at * 2 >= this.#unaccepted.length) {
          this.#unaccepted.splice(0, at + 1)
          this.#unacceptedAt = 0
        }
      }
    }
    return written
  }

  override _write (chunk: unknown, _encoding: BufferEncoding, callback: WriteCallback): void {
    if (this.#failed !== null) {
      if (chunk instanceof Written) settle(this.#take(chunk), this.#failed)
      callback(this.#failed)
      return
    }
    if (chunk === FLUSH) {
      this.#cutAll()
      callback()
      return
    }
    // end(chunk) bypasses write(): such a chunk has no callback of its own.
    const written = chunk instanceof Written ? this.#take(chunk) : new Written(chunk, undefined)
    const event = this.#prepare(written)
    if (event === undefined) {
      callback()
      return
    }
    this.#accept(event, written, callback)
  }

  #accept (event: PreparedEvent, written: Written, callback: WriteCallback): void {
    const spill = this.#spill
    if (spill?.active === true) {
      this.#spillEvent(spill, event, written, callback)
      return
    }
    if (this.#hasRoom()) {
      this.#enqueue(event.namespace, event.stream, event.text, event.tail, written.done, undefined, lineOf(written.chunk))
      callback()
      return
    }
    switch (this.onOverflow) {
      case 'block':
        this.#blocked = { event, written, callback }
        return
      case 'drop': {
        const dropped = ++this.#counts.dropped
        this.emit('drop', { namespace: event.namespace, stream: event.stream, event: preparedText(event), line: lineOf(written.chunk), dropped })
        settle(written, new ShoeboxError('SHOEBOX_EVENT_DROPPED', `event for stream ${event.stream} dropped: the queue is full (${plural(this.#counts.queued, 'event')})`))
        callback()
        return
      }
      case 'spill':
        this.#spillEvent(spill as Spill, event, written, callback)
    }
  }

  #spillEvent (spill: Spill, event: PreparedEvent, written: Written, callback: WriteCallback): void {
    this.#counts.spilled++
    spill.write(event.namespace, event.stream, preparedText(event), written.done, callback)
    this.#startReplay()
  }

  #hasRoom (): boolean {
    return this.#counts.queued < this.#settings.queueEvents && this.#queuedBytes < this.#settings.queueBytes
  }

  #enqueue (namespace: string | undefined, stream: string, text: string, tail: string | IdTail | undefined, done: Done | undefined, origin: unknown,
    line: number | undefined): void {
    this.#counts.queued++
    const ready = this.#ready.length
    this.#queuedBytes += this.#batcher.add(namespace, stream, text, tail, done, origin, line, performance.now(), this.#ready)
    // Only a cut batch can start a request, and an armed timer is due no later than any batch
    // opened since: per event, neither walk is needed (they cost ~5 µs an event).
    if (this.#ready.length > ready) this.#pump()
    if (this.#timer === null) this.#schedule()
  }

  /** Replay the spill into the queue while it holds events, as room allows. */
  #startReplay (): void {
    const spill = this.#spill
    if (spill === undefined || this.#replay !== null || this.#failed !== null) return
    this.#replay = (async () => {
      for await (const event of spill.replay()) {
        while (!this.#hasRoom() && this.#failed === null) await new Promise<void>((resolve) => { this.#roomWaiters.push(resolve) })
        if (this.#failed !== null) return
        this.#counts.replayed++
        this.#enqueue(event.namespace, event.stream, event.text, undefined, spill.takeDone(event.origin), event.origin, undefined)
      }
    })()
      .catch((err: Error) => { this.destroy(err) })
      .finally(() => {
        this.#replay = null
        // Events spilled while the replay was finishing start the next one.
        if (spill.active) this.#startReplay()
        else this.#checkIdle()
      })
  }

  /**
   * Batch ages are counted on the monotonic clock (performance.now()), as the timer runs: on Date.now(), a wall
   * clock stepped back (NTP, a resumed VM) held an open batch until the clock came back to its time, an hour's
   * step an hour.
   */
  #schedule (): void {
    const due = this.#batcher.nextDue()
    if (due === undefined) return
    if (this.#timer !== null && this.#timerAt <= due) return
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timerAt = due
    this.#timer = setTimeout(() => {
      this.#timer = null
      for (const batch of this.#batcher.due(performance.now())) this.#ready.push(batch)
      this.#pump()
      this.#schedule()
    }, timerMs(Math.max(0, due - performance.now())))
    if (this.#exitFlush !== null) this.#timer.unref()
  }

  #cutAll (): void {
    for (const batch of this.#batcher.all()) this.#ready.push(batch)
    this.#pump()
  }

  /** Start ready batches, oldest first, up to maxInFlight in all and maxInFlightPerStream per stream. */
  #pump (): void {
    const { maxInFlight, maxInFlightPerStream } = this.#settings
    // Streams with a batch left waiting in this pass: their later batches wait too (cut order).
    let waiting: Set<string> | undefined
    for (let i = 0; i < this.#ready.length && this.#inFlight.size < maxInFlight && this.#failed === null && this.#refusal === null;) {
      const batch = this.#ready[i]
      const key = batch.key
      let flight = this.#flights.get(key)
      if (waiting?.has(key) === true || (flight !== undefined && !flight.canTake(batch, maxInFlightPerStream))) {
        (waiting ??= new Set()).add(key)
        i++
        continue
      }
      this.#ready.splice(i, 1)
      if (flight === undefined) {
        flight = new Flight()
        this.#flights.set(key, flight)
      }
      this.#start(batch, flight)
    }
  }

  #start (batch: Batch, flight: Flight): void {
    flight.sent++
    if (batch.origins !== undefined) flight.replaying = true
    this.#inFlight.add(batch)
    const earlier = flight.last
    const applied = this.#send(batch).then(async (outcome) => {
      if (outcome?.kind === 'acked') this.#ackedEarly.add(batch)
      // Answers of one stream are applied in the order its batches were cut.
      await earlier
      this.#ackedEarly.delete(batch)
      if (outcome !== undefined && this.#failed === null) await this.#apply(batch, outcome)
    })
    flight.last = applied.catch(() => {})
    applied.then(() => { this.#finished(batch, flight) }, (err: Error) => { this.destroy(err) })
  }

  /** The put with its retries: what the answer says, or undefined once the shipper is destroyed. */
  async #send (batch: Batch): Promise<Outcome | undefined> {
    const { namespace, stream } = batch
    const events = batch.count
    // Cut before a 413 lowered the limit (queued, or a half of a refused batch): split before
    // sending, not after another 413. Never true otherwise: the batcher cuts at the limit.
    if (events > 1 && batch.bytes > this.#batcher.limits.maxBytes) return await this.#sendSplit(batch)
    const refusedBefore = this.#asideNamespaces.get(namespace)
    if (refusedBefore !== undefined && this.#earlierRunOnly(batch)) return { kind: 'aside', error: refusedBefore }
    this.emit('batch', { namespace, stream, events, bytes: batch.bytes })
    let retryAfterMs = 0
    try {
      const outcome = await retry(async (_attempt, signal) => await putBatch(this.#target, batch, { agent: this.#agent, timeoutMs: this.#settings.timeoutMs, signal }), {
        ...this.#settings.retry,
        signal: this.#abort.signal,
        retryable: (err) => err instanceof PutError && err.retryable,
        onRetry: ({ error, attempt, delayMs }) => {
          retryAfterMs = (error as PutError).retryAfterMs ?? 0
          this.#transfer.retried()
          this.#transfer.failed((error as PutError).status === undefined ? 'network' : (error as PutError).code === 'SHOEBOX_THROTTLED' ? 'throttled' : 'server')
          this.emit('retry', { namespace, stream, events, attempt, delayMs: Math.max(delayMs, retryAfterMs), error })
        },
        sleep: async (ms, signal) => { await sleepFor(timerMs(Math.max(ms, retryAfterMs)), undefined, { signal }) }
      })
      this.#transfer.uploadedBytes(outcome.bytes)
      if (outcome.inserted === events) return { kind: 'acked', bytes: outcome.bytes }
      const stored = outcome.inserted === 0 ? '' : ` (the server stored ${outcome.inserted} of the batch's ${events}; which ones, the protocol does not say)`
      return { kind: 'rejected', message: `${this.#where}: stream ${stream}: ${outcome.errors.join('; ')}${stored}`, stored: outcome.inserted }
    } catch (err) {
      if (this.#abort.signal.aborted) return undefined
      if (err instanceof PutError && err.status === 413 && batch.count > 1) return await this.#split(batch, err)
      if (err instanceof PutError && err.refused && err.namespaceMissing && this.#earlierRunOnly(batch)) {
        if (!this.#asideNamespaces.has(namespace)) this.#asideNamespaces.set(namespace, err)
        return { kind: 'aside', error: err }
      }
      if (err instanceof PutError && err.refused && !this.#firedAndForgotten) {
        this.#refusal ??= this.#refusalError(batch, err)
        return { kind: 'refused' }
      }
      if (err instanceof PutError && !err.retryable) {
        // A 200 whose body broke: the server answers only once the batch is stored, so it most
        // likely is (its @errors unknown). Not sent again; reported as maybe stored.
        if (err.status === 200) return { kind: 'rejected', message: `${err.message} (after a 200: the batch is most likely stored, and is not sent again)`, stored: events }
        return { kind: 'rejected', message: err.message, stored: 0 }
      }
      throw new ShoeboxError('SHOEBOX_UNREACHABLE',
        `${(err as Error).message}; gave up after ${plural(this.#settings.retry.attempts, 'try', 'tries')}; ${plural(this.#counts.queued, 'event')} not acknowledged` +
        (this.#spill === undefined ? '' : `; spilled events stay in ${this.#spill.dir} for the next run`), { cause: err })
    }
  }

  /**
   * The shipper's failure when the server refuses where its puts go: a mistyped namespace was rejected
   * event by event, every batch of the input sent and refused in turn, and nothing kept.
   */
  #refusalError (batch: Batch, err: PutError): ShoeboxError {
    const namespace = batch.namespace === undefined ? "the server's default namespace" : `namespace ${batch.namespace}`
    const said = err.message.startsWith(`${this.#where}: `) ? err.message.slice(this.#where.length + 2) : err.message
    // With a spill, every event not acknowledged is kept there (_destroy, #applyAnswer), for the namespace it was written for.
    const kept = this.#spill === undefined
      ? 'the events not acknowledged are not stored'
      : `the events not acknowledged are kept in the spill ${this.#spill.dir} for ${namespace} (the next run with it sends them there` +
        (err.namespaceMissing ? `; if the server still refuses ${namespace}, it sets them aside in ${asideDir(this.#spill.dir)})` : ')')
    return new ShoeboxError('SHOEBOX_EVENTS_FAILED', `${this.#where}: ${namespace}, stream ${batch.stream}: ${said}: ` +
      `the server refuses every put there, so nothing more was sent; ${kept}`, { cause: err })
  }

  /** Every event of the batch replayed from a spill file an earlier run wrote: none is what this run's caller wrote. */
  #earlierRunOnly (batch: Batch): boolean {
    if (this.#spill === undefined || batch.origins === undefined) return false
    for (let i = 0; i < batch.count; i++) {
      const origin = batch.origins[i] as SpillOrigin | undefined
      if (origin?.file.earlier !== true) return false
    }
    return true
  }

  /**
   * An earlier run's spilled events for a namespace the server refuses: written to the spill's `refused`
   * directory and sealed, then settled in their spill files (ship-aside.ts), so no run replays them again.
   */
  async #setAside (batch: Batch, error: PutError): Promise<void> {
    const dir = asideDir((this.#spill as Spill).dir)
    const events = Array.from({ length: batch.count }, (_, i) => ({ namespace: batch.namespace, stream: batch.stream, text: batch.text(i) }))
    const writing = this.#asideWrites.then(async () => { await setAside(dir, events) })
    this.#asideWrites = writing.catch(() => {})
    await writing.catch((err: Error) => {
      throw new ShoeboxError(err instanceof ShoeboxError ? err.code : 'SHOEBOX_IO', `cannot set aside ${plural(batch.count, 'spilled event')} the server refuses ` +
        `(${error.message}) in ${dir}: ${err.message}; they stay in the spill ${(this.#spill as Spill).dir}`, { cause: err })
    })
    this.#counts.setAside += batch.count
    await this.#settleSpilled(batch)
    this.emit('aside', { path: dir, namespace: batch.namespace, stream: batch.stream, events: batch.count, error })
    const told = new ShoeboxError('SHOEBOX_EVENTS_FAILED', `${error.message}; the event is set aside in ${dir}`, { cause: error })
    for (const done of batch.dones) done?.(told)
  }

  /** A batch the server refused as too large: later batches are cut at half its size at most, and it is sent split. */
  async #split (batch: Batch, refusal: PutError): Promise<Outcome | undefined> {
    this.#splits++
    const batchBytes = this.#batcher.shrinkBytes(batch.bytes)
    this.emit('split', { namespace: batch.namespace, stream: batch.stream, events: batch.count, bytes: batch.bytes, batchBytes, error: refusal })
    return await this.#sendSplit(batch)
  }

  /** Its two halves sent, one after the other (they keep its order and its slot in flight), each split again as needed. */
  async #sendSplit (batch: Batch): Promise<Outcome | undefined> {
    const parts: Array<{ batch: Batch, answer: Answer }> = []
    for (const half of batch.split()) {
      const outcome = await this.#send(half)
      if (outcome === undefined) return undefined
      if (outcome.kind === 'split') parts.push(...outcome.parts)
      else parts.push({ batch: half, answer: outcome })
    }
    return { kind: 'split', parts }
  }

  /** A batch's answer, applied to its events (a split batch's, part by part). */
  async #apply (batch: Batch, outcome: Outcome): Promise<void> {
    this.#answered.add(batch)
    if (outcome.kind !== 'split') {
      await this.#applyAnswer(batch, outcome)
      return
    }
    // Every part's callbacks hear their answer, even when recording an earlier part's failed.
    let failure: Error | null = null
    for (const part of outcome.parts) {
      try {
        await this.#applyAnswer(part.batch, part.answer)
      } catch (err) {
        failure ??= err as Error
      }
    }
    if (failure !== null) throw failure
  }

  async #applyAnswer (batch: Batch, answer: Answer): Promise<void> {
    if (answer.kind === 'refused') {
      // Not settled in the spill: replayed events refused so stay there; with a spill, the others go there too.
      const spill = this.#spill
      const refusal = this.#refusal as ShoeboxError
      if (spill === undefined) for (const done of batch.dones) done?.(refusal)
      else this.#spillBatch(spill, batch, refusal)
      return
    }
    if (answer.kind === 'aside') {
      await this.#setAside(batch, answer.error)
      return
    }
    if (answer.kind === 'rejected') {
      await this.#reject(batch, answer.message, answer.stored)
      return
    }
    this.#transfer.uploadedObject()
    this.#counts.acked += batch.count
    // Recorded in the spill first: an `ack` seen means no later run sends these again.
    // Acknowledged is acknowledged: the callbacks hear it even if recording it failed.
    const recorded = await this.#settleSpilled(batch).then(() => null, (err: Error) => err)
    this.emit('ack', { namespace: batch.namespace, stream: batch.stream, events: batch.count, bytes: answer.bytes })
    for (const done of batch.dones) done?.(null)
    if (recorded !== null) throw recorded
    // The server read the whole body: its buffer can hold a later one.
    this.#batcher.recycle(batch)
  }

  /** Every event of the batch rejected: reported one by one, never retried. */
  async #reject (batch: Batch, message: string, stored: number): Promise<void> {
    this.#counts.rejected += batch.count
    const recorded = await this.#settleSpilled(batch).then(() => null, (err: Error) => err)
    for (let i = 0; i < batch.count; i++) {
      const error = new ShoeboxError('SHOEBOX_EVENT_REJECTED', `event rejected: ${message}`)
      if (batch.dones[i] === undefined && this.listenerCount('rejected') === 0) this.#unheard.add('rejected', error)
      this.emit('rejected', { namespace: batch.namespace, stream: batch.stream, event: batch.text(i), line: batch.lines?.[i], error, maybeStored: stored > 0 })
      batch.dones[i]?.(error)
    }
    if (recorded !== null) throw recorded
  }

  /** Record replayed events as settled in their spill files, so no later run sends them again. */
  async #settleSpilled (batch: Batch): Promise<void> {
    const byFile = new Map<SpillFile, SpillOrigin[]>()
    for (const origin of (batch.origins ?? []) as Array<SpillOrigin | undefined>) {
      if (origin === undefined) continue
      const origins = byFile.get(origin.file) ?? []
      origins.push(origin)
      byFile.set(origin.file, origins)
    }
    for (const [file, origins] of byFile) await file.settle(origins)
  }

  #finished (batch: Batch, flight: Flight): void {
    this.#inFlight.delete(batch)
    flight.sent--
    if (batch.origins !== undefined) flight.replaying = false
    if (flight.sent === 0 && this.#flights.get(batch.key) === flight) this.#flights.delete(batch.key)
    this.#answered.delete(batch)
    this.#counts.queued -= batch.count
    this.#queuedBytes -= batch.bytes
    if (this.#refusal !== null && this.#inFlight.size === 0) {
      // Every batch sent has its answer: the rest is never sent.
      this.destroy(this.#refusal)
      return
    }
    // The next ready batch goes on the wire before a held writer resumes (it prepares events for a while).
    this.#pump()
    this.#release()
    this.#checkIdle()
  }

  #release (): void {
    const blocked = this.#blocked
    if (blocked !== null && this.#failed !== null) {
      this.#blocked = null
      settle(blocked.written, this.#failed)
      blocked.callback(this.#failed)
    } else if (blocked !== null && this.#hasRoom()) {
      this.#blocked = null
      this.#accept(blocked.event, blocked.written, blocked.callback)
    }
    if (this.#hasRoom() || this.#failed !== null) {
      const waiters = this.#roomWaiters
      this.#roomWaiters = []
      for (const resume of waiters) resume()
    }
  }

  #idle (): boolean {
    return this.#counts.queued === 0 && this.#replay === null && this.#spill?.active !== true
  }

  async #whenIdle (): Promise<void> {
    if (this.#idle() || this.#failed !== null) return
    await new Promise<void>((resolve) => { this.#idleWaiters.push(resolve) })
    if (this.#failed !== null) throw this.#failed
  }

  #checkIdle (): void {
    if (!this.#idle() && this.#failed === null) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const resume of waiters) resume()
  }

  override _final (callback: (error?: Error | null) => void): void {
    this.#cutAll()
    this.#whenIdle().then(async () => {
      this.#stop()
      await this.#spill?.close()
    }).then(() => {
      const late = this.#late.settle()
      callback(this.#unheard.error(this.#where, this.#counts) ?? late)
    }, (err: Error) => {
      this.#late.settle()
      callback(err)
    })
  }

  override end (chunk?: unknown, encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (!lateEnd(this, chunk)) return super.end(chunk as Buffer, encoding as BufferEncoding, callback)
    this.write(chunk)
    return super.end(typeof encoding === 'function' ? encoding : callback)
  }

  override _destroy (err: Error | null, callback: (error: Error | null) => void): void {
    this.#failed ??= err ?? new ShoeboxError('SHOEBOX_UNREACHABLE', `shipper to ${this.#where} destroyed`)
    const failure = this.#failed
    this.#abort.abort(failure)
    this.#stop()
    // Batches the server acknowledged while an earlier one of their stream was in flight: told so.
    for (const batch of this.#ackedEarly) {
      this.#inFlight.delete(batch)
      this.#counts.acked += batch.count
      for (const done of batch.dones) done?.(null)
    }
    this.#ackedEarly.clear()
    // When the shipper gave up on an unreachable server, or stopped at a refusal of where its puts go, what it
    // has not delivered goes to the spill (if any), after every event spilled so far: with 'spill', each event
    // is acknowledged, rejected or spilled, however far the spill's fsyncs lagged behind the writer.
    const spill = this.#spill !== undefined && err !== null && (err === this.#refusal || (err instanceof ShoeboxError && err.code === 'SHOEBOX_UNREACHABLE'))
      ? this.#spill
      : undefined
    // Whatever is not acknowledged is told so, or spilled. A batch whose answer is being applied
    // tells its callbacks that answer (#apply): not these.
    const unsettled = [...this.#inFlight, ...this.#ready, ...this.#batcher.all()].filter((batch) => !this.#answered.has(batch))
    this.#inFlight.clear()
    this.#answered.clear()
    this.#ready = []
    for (const batch of unsettled) {
      if (spill === undefined) {
        for (const done of batch.dones) done?.(failure)
      } else {
        this.#spillBatch(spill, batch, failure)
      }
    }
    // Writes the Writable still buffers never reach _write now: told, or spilled after the above.
    const unaccepted = this.#unaccepted.slice(this.#unacceptedAt)
    this.#unaccepted.length = 0
    this.#unacceptedAt = 0
    for (const written of unaccepted) {
      if (spill === undefined) settle(written, failure)
      else this.#spillUnsent(spill, written)
    }
    this.#release()
    this.#checkIdle()
    const spillOf = this.#spill
    if (spillOf === undefined) {
      callback(err)
      return
    }
    // Spilled events hear their fate once the spill is sealed: on disk for the next run, or,
    // where the spill could not write (a full disk), not kept, and the error says why.
    spillOf.close().then(() => undefined, (closeError: unknown) => closeError as Error).then((closeError) => {
      const spillFailure = spillOf.failure ?? closeError
      const final = spillFailure === undefined || spillFailure === failure
        ? failure
        : new ShoeboxError(failure instanceof ShoeboxError ? failure.code : 'SHOEBOX_IO', `${failure.message}; the spill could not keep every event: ${spillFailure.message}`, { cause: failure })
      spillOf.abandon(final)
      callback(err === null && final === failure ? err : final)
    })
  }

  /** A written event counted and prepared; undefined (its callback told, `invalid` emitted) when it is not an event. */
  #prepare (written: Written): PreparedEvent | undefined {
    this.#counts.written++
    try {
      return prepareEvent(written.chunk, this.#settings.defaults)
    } catch (err) {
      this.#counts.invalid++
      if (written.done === undefined && this.listenerCount('invalid') === 0) this.#unheard.add('invalid', err as Error)
      this.emit('invalid', { event: written.chunk, error: err })
      settle(written, err as Error)
      return undefined
    }
  }

  /**
   * A batch the shipper gave up on, into the spill with the texts it was sent with, @id
   * included: a put the server stored without its answer arriving is then stored once when
   * the next run replays it (the server keeps sent @ids). Events replayed from the spill are
   * still on disk there: their callbacks are told so.
   */
  #spillBatch (spill: Spill, batch: Batch, failure: Error): void {
    for (let i = 0; i < batch.count; i++) {
      const done = batch.dones[i]
      if (batch.origins?.[i] !== undefined) {
        done?.(spill.keptError(failure))
        continue
      }
      this.#counts.spilled++
      spill.write(batch.namespace, batch.stream, batch.text(i), done, streamWriteDone)
    }
  }

  /** A write not yet taken, put in the spill as _write would have (its callback hears of it from the spill). */
  #spillUnsent (spill: Spill, written: Written): void {
    const event = this.#prepare(written)
    if (event === undefined) return
    this.#counts.spilled++
    const done = written.done
    written.done = undefined
    spill.write(event.namespace, event.stream, preparedText(event), done, streamWriteDone)
  }

  #stop (): void {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#agent.destroy()
    this.#removeExitHooks()
  }

  #installExitHooks (): void {
    if (!this.#settings.exitHooks || this.#exitFlush !== null || this.destroyed) return
    this.#exitFlush = new ExitFlush(this, () => {
      // The loop ran dry with events in open batches: send them (the requests keep the process alive).
      if (this.#batcher.events > 0) this.#cutAll()
    })
    // With a flush before exit, an open batch's timer need not hold the process.
    this.#timer?.unref()
  }

  #removeExitHooks (): void {
    this.#exitFlush?.remove()
    this.#exitFlush = null
  }
}

/** The Writable's callback of an accepted write: the event's own callback is settled by the shipper. */
function streamWriteDone (): void {}

function settle (written: Written, error: Error | null): void {
  const done = written.done
  written.done = undefined
  done?.(error)
}

/** A shipper of events to the Kronos-protocol server at `url`. */
export function ship (url: string, options?: ShipOptions): Shipper {
  checkOptionsObject(options, 'ship()')
  return new Shipper(url, options)
}
