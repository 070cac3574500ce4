/**
 * "Deliver every good item, then fail": the one rule every shoebox reader
 * follows when it meets damage. Three pieces, used together:
 *
 * - failAfterDelivery(stream, err): a readable that has pushed items and then
 *   fails hands those items to its consumer first, and only then is destroyed
 *   with the error. Node (and readable-stream) drop a readable's buffer on
 *   destroy, so the error waits until the buffer is empty. Every way of
 *   consuming a readable (flowing 'data', pipe, pipeline, the async iterator,
 *   'readable' + read()) takes buffered items through the public read(): flow()
 *   loops on read(), the iterator calls read(), and an item pushed into an empty
 *   flowing stream is emitted at once and never buffered. So the stream's own
 *   read() is watched and the error delivered once a read leaves the buffer
 *   empty: no timers, no polling, and a consumer that attaches late still gets
 *   everything. A Transform that fails holds back its write or flush callback
 *   (it takes no more input) and hands it over here, to be called with the error.
 * - feed(source, ...stages): pipes bytes through stages such that a failure
 *   upstream (an unreadable file, damaged gzip) reaches the last stage after
 *   the bytes before it, and fails it after delivery, instead of destroying
 *   every stage as pipeline() does (dropping what they had already produced).
 * - endOnFailure(upstream): for a command that writes what it reads. pipeline()
 *   destroys every stage when one fails, which would drop output still batched
 *   downstream (RecordsToNdjson, stdout). This stage ends the output cleanly when
 *   its upstream fails and keeps the error, for the command to throw once the
 *   pipeline has completed: every good record is written, then one error line.
 * - LateWrites: the same rule on the writing side, for a sink that holds what
 *   it has taken (the rolling sink, the shipper) when a caller writes after
 *   end() (see there).
 */
import { Readable, type Writable } from 'node:stream'
import { ShoeboxError } from '../errors.js'

/** What both node:stream and readable-stream readables offer. */
interface Failing {
  readonly readableLength: number
  readonly destroyed: boolean
  read: (size?: number) => unknown
  destroy: (err?: Error) => unknown
}

const failing = new WeakSet<object>()

/**
 * Destroy `stream` with `err` once its consumer has taken every item already
 * pushed (at once if none waits). With `callback` (a held Transform write or
 * flush callback), that is called with the error instead, which destroys the
 * stream and tells the writer why. Only the first failure of a stream counts.
 */
export function failAfterDelivery (stream: Failing, err: Error, callback?: (err: Error) => void): void {
  if (failing.has(stream)) return
  failing.add(stream)
  const fail = (): void => {
    if (stream.destroyed) return
    if (callback === undefined) stream.destroy(err)
    else callback(err)
  }
  if (stream.readableLength === 0 || stream.destroyed) {
    fail()
    return
  }
  // An own read() on this one instance, only once it has failed: it works for
  // any readable, ours or not (readable-stream and node:stream alike), and
  // costs the healthy path nothing.
  const read = stream.read
  stream.read = function (this: Failing, size?: number): unknown {
    const item = read.call(this, size)
    if (this.readableLength === 0) {
      stream.read = read
      fail()
    }
    return item
  }
}

/** A readable stage that takes bytes on its writable side (decode(), gunzip()). */
type Stage = Failing & Writable

const NOTHING = Buffer.alloc(0)

/**
 * Pipe `source` through `stages` with backpressure, and return the last. The
 * end of one ends the next. A failure anywhere (source, or a stage of its own
 * accord) reaches the next stage only after that stage has taken every byte
 * written to it before (a write callback comes after all earlier ones) and has
 * handed on what it made of them; the last stage then fails after delivery. A
 * stage that closes closes what feeds it. Stages take bytes (an empty Buffer
 * marks the failure's place in line).
 */
export function feed<T extends Stage> (source: Readable, ...stages: [...Stage[], T]): T {
  let upstream: Failing & Readable = source
  for (const [index, stage] of stages.entries()) {
    const last = index === stages.length - 1
    link(upstream, stage, (err) => {
      stage.write(NOTHING, () => {
        // A middle stage passes the failure on instead of being destroyed with it: a
        // destroy can wait for input that never comes (Duplex.from awaits its writable).
        if (last) failAfterDelivery(stage, err)
        else failAfterDelivery(stage, err, (e) => { stage.emit(PASSED, e) })
      })
    })
    upstream = stage as unknown as Failing & Readable
  }
  return stages[stages.length - 1] as T
}

/** An internal event: a failure handed on from the stage before, in order with its bytes. */
const PASSED = Symbol('shoebox.failure')

function link (upstream: Readable, stage: Stage, fail: (err: Error) => void): void {
  const onData = (chunk: Buffer): void => {
    if (!stage.write(chunk)) upstream.pause()
  }
  const onDrain = (): void => { upstream.resume() }
  const onEnd = (): void => {
    cleanup()
    stage.end()
  }
  const onError = (err: Error): void => {
    cleanup()
    if (stage.destroyed || stage.writableEnded) return
    fail(err)
  }
  const onClose = (): void => {
    cleanup()
    // Whatever upstream still reports once the stage is gone has no one to go to.
    upstream.on('error', () => {})
    upstream.destroy()
  }
  function cleanup (): void {
    upstream.off('data', onData)
    upstream.off('end', onEnd)
    upstream.off('error', onError)
    upstream.off(PASSED, onError)
    stage.off('drain', onDrain)
    stage.off('close', onClose)
  }
  upstream.on('data', onData)
  upstream.once('end', onEnd)
  upstream.once('error', onError)
  upstream.once(PASSED, onError)
  stage.on('drain', onDrain)
  stage.once('close', onClose)
}

/**
 * A readable of `upstream`'s items that ends cleanly when upstream fails;
 * `failure` holds the error. Destroying it destroys upstream.
 */
export class EndOnFailure extends Readable {
  #upstream: Readable
  #failure: Error | null = null
  #delivered = 0
  #stopped = false

  /** `bytes`: upstream gives bytes (decompressed text), buffered by their length rather than 1024 items of up to 256 KiB each. */
  constructor (upstream: Readable, options: { bytes?: boolean } = {}) {
    // As deep as the source's own buffer: a shallow one would pause and resume upstream for every record.
    super(options.bytes === true ? {} : { objectMode: true, highWaterMark: 1024 })
    this.#upstream = upstream
    upstream.on('data', (item: unknown) => {
      if (this.#stopped) return
      this.#delivered++
      if (!this.push(item)) upstream.pause()
    })
    upstream.once('end', () => { if (!this.#stopped) this.push(null) })
    upstream.on('error', (err: Error) => {
      if (this.#stopped || this.#failure !== null) return
      this.#failure = err
      this.push(null)
    })
    upstream.pause()
  }

  /** The error upstream failed with, once it has; null if it ended cleanly (or not yet). */
  get failure (): Error | null {
    return this.#failure
  }

  /** Items taken from upstream and pushed on: once the output has ended, each was written. */
  get delivered (): number {
    return this.#delivered
  }

  /**
   * End the output here, cleanly, as at upstream's end: the items taken so
   * far go out, none after them; upstream is destroyed (what it still holds
   * is dropped). For a command stopped by a signal whose upstream has no
   * stop of its own (archiveSource() has: it also closes its files).
   */
  stop (): void {
    if (this.#stopped || this.readableEnded) return
    this.#stopped = true
    this.push(null)
    this.#upstream.destroy()
  }

  override _read (): void {
    this.#upstream.resume()
  }

  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    this.#upstream.destroy()
    callback(err)
  }
}

export function endOnFailure (upstream: Readable, options?: { bytes?: boolean }): EndOnFailure {
  return new EndOnFailure(upstream, options)
}

/**
 * A write after end(), for a sink that holds what it has taken (the rolling
 * sink: records not yet in a sealed file; the shipper: events not yet
 * acknowledged). Node's Writable destroys the stream for that mistake, and
 * with it everything held. The one rule here: the late write alone is
 * refused (SHOEBOX_USAGE, to its callback), what came before end() is
 * delivered, and then the stream fails with that refusal instead of finishing.
 *
 * The stream asks refuse() in its write(); passes a late end(chunk) to
 * write() (lateEnd()); and reports settle()'s error from _final once its
 * work is done. After that, or once destroyed, Node's own refusal applies:
 * there is nothing left to lose.
 */
export class LateWrites {
  /** Names the stream ('rolling sink DIR') and what happens to what it holds ('the records written before end() are sealed'). */
  readonly #what: string
  readonly #kept: string
  #first: ShoeboxError | null = null
  #settled = false

  constructor (what: string, kept: string) {
    this.#what = what
    this.#kept = kept
  }

  /** The refusal for a write to `stream` now, or null where Node's write applies (not ended, destroyed, or done). */
  refuse (stream: Ending): ShoeboxError | null {
    if (!stream.writableEnded || stream.destroyed || this.#settled) return null
    const err = new ShoeboxError('SHOEBOX_USAGE', `${this.#what}: write after end(): it was not taken; ${this.#kept}, then it fails with this error`)
    this.#first ??= err
    return err
  }

  /**
   * write()'s check: true when this write is refused (refuse()), its callback (the last function of
   * `encoding`, `callback`) then called with the refusal on the next tick; false when Node's write applies.
   */
  refusedWrite (stream: Ending, encoding: unknown, callback: unknown): boolean {
    const refusal = this.refuse(stream)
    if (refusal === null) return false
    const done = typeof encoding === 'function' ? encoding : callback
    if (typeof done === 'function') process.nextTick(done, refusal)
    return true
  }

  /** The first refusal so far (null: none). */
  get refused (): ShoeboxError | null {
    return this.#first
  }

  /** _final's work is done: the first refusal, which it fails with (null: none). */
  settle (): ShoeboxError | null {
    this.#settled = true
    return this.#first
  }
}

/** What LateWrites reads of a stream: whether end() was called, and whether it is destroyed. */
interface Ending {
  readonly writableEnded: boolean
  readonly destroyed: boolean
}

/** end(chunk) after end(): true when `chunk` must go to the stream's write() (refused there) rather than Node's end(), which writes it and destroys the stream. */
export function lateEnd (stream: Ending, chunk: unknown): boolean {
  return chunk !== undefined && chunk !== null && typeof chunk !== 'function' && stream.writableEnded
}

/** A stream class with both sides (a Transform: node:stream's, readable-stream's, zlib's; a Duplex). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- TypeScript's rule for a mixin: its base takes (...args: any[])
type StageClass = new (...args: any[]) => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as the stream classes declare them
  write (chunk: any, encoding?: any, callback?: any): boolean
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as the stream classes declare them
  end (chunk?: any, encoding?: any, callback?: any): unknown
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as the stream classes declare them
  push (chunk: any, encoding?: any): boolean
  read: (size?: number) => unknown
  destroy (error?: Error): unknown
  readonly writableEnded?: boolean
  readonly readableEnded?: boolean
  readonly readableLength: number
  readonly destroyed: boolean
}

/**
 * `Base`, a stage (encode(), decode(), the compression stages...) whose
 * write() after end() is refused by name (SHOEBOX_USAGE, to that write's
 * callback: `encode(): write after end(): it was not taken; ...`), and which
 * then fails with that refusal instead of ending, once what was written
 * before end() has gone through it and been taken by its reader (the rule of
 * LateWrites, for a stage). Node's Writable answered ERR_STREAM_WRITE_AFTER_END,
 * naming no stage, and destroyed the stage at once: the output of the writes
 * before end() still in it was dropped (a gzip() stage passed on nothing).
 * Once the stage is destroyed, Node's own refusal applies.
 */
export function refusesLateWrites<Base extends StageClass> (base: Base, stage: string): Base {
  return class RefusesLateWrites extends base {
    readonly #late = new LateWrites(stage, 'what was written before end() is passed on')
    /** push(null) came: the output is all there (held back from its reader when a write was refused). */
    #outputDone = false
    /** end() was called: readable-stream 3 (pumpify's, under stampNdjson()) has no writableEnded. */
    #endCalled = false

    /** What LateWrites asks of this stage. */
    get #ending (): Ending {
      return { writableEnded: this.#endCalled || this.writableEnded === true, destroyed: this.destroyed }
    }

    override write (chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
      if (!this.#late.refusedWrite(this.#ending, encoding, callback)) return super.write(chunk, encoding, callback)
      // Refused after the output was complete: fail now, after what the reader has not taken yet.
      if (this.#outputDone && this.readableEnded !== true) failAfterDelivery(this, this.#late.refused as ShoeboxError)
      return false
    }

    override end (chunk?: unknown, encoding?: unknown, callback?: unknown): unknown {
      if (!lateEnd(this.#ending, chunk)) {
        // Set after: readable-stream 3's end(chunk) writes the chunk through this.write().
        const ended = super.end(chunk, encoding, callback)
        this.#endCalled = true
        return ended
      }
      this.write(chunk)
      return super.end(typeof encoding === 'function' ? encoding : callback)
    }

    override push (chunk: unknown, encoding?: unknown): boolean {
      if (chunk !== null) return super.push(chunk, encoding)
      this.#outputDone = true
      const refused = this.#late.refused
      if (refused === null) return super.push(null)
      // No end: the reader takes what is buffered, then the stage fails with the refusal.
      failAfterDelivery(this, refused)
      return false
    }
  }
}
