/**
 * encode(): a Transform from records (or arrays of records) to archive bytes,
 * in large batched chunks. Bytes go out when a chunk fills, when the event
 * loop turns (so a slow trickle of records is not held back), and at end().
 *
 * The natural pipeline(source, encode(), sink) writes one record per
 * write(), so the per-write path is kept short: _write is implemented here
 * rather than Transform's, which wraps every write's callback in a new
 * closure, and writes that queue up behind backpressure arrive as one batch
 * (_writev). The backpressure rule is Transform's: a write that pushed
 * output while the readable side is at its high-water mark is called back
 * only when the reader asks for more (_read).
 *
 * A record written on its own (no callback, no encoding) into an idle
 * stream is encoded by write() itself (see there): the Writable machinery's
 * bookkeeping cost as much per record as a fifth of the encoding.
 */
import { LazyTransform } from '../stream/lazy-transform.js'
import { checkOptionsObject } from '../errors.js'
import type { TransformCallback } from 'node:stream'
import { failAfterDelivery, refusesLateWrites } from '../stream/deliver-then-fail.js'
import type { RecordInput } from '../record.js'
import { ArchiveEncoder, type EncoderOptions } from './encoder.js'

export type EncodeOptions = EncoderOptions

type WriteCallback = (error?: Error | null) => void

/**
 * What write()'s fast path writes through the Writable machinery in place of
 * a record it has encoded itself, when that write needs the machinery after
 * all: FULL when the record filled a chunk (to push it and apply the
 * backpressure rule), REFUSED when the encoder refused it (#refusal).
 */
const FULL = Object.freeze({ fastPath: 'full' })
const REFUSED = Object.freeze({ fastPath: 'refused' })
type Marker = typeof FULL | typeof REFUSED

export class EncodeStream extends refusesLateWrites(LazyTransform, 'encode()') {
  #encoder: ArchiveEncoder
  #scheduled: ReturnType<typeof setImmediate> | null = null
  #records = 0
  /** A write's callback held until the reader takes output (see _read). */
  #held: WriteCallback | null = null
  /** write()'s fast path is encoding a record (see write()). */
  #busy = false
  /** A write that reached _write or _writev while #busy: done once that record is. */
  #deferred: { chunks: Array<{ chunk: RecordInput | RecordInput[] }>, callback: WriteCallback } | null = null
  /** A flush (end()) that came while #busy: done once that record is. */
  #deferredFlush: TransformCallback | null = null
  /** The error for the REFUSED marker write()'s fast path writes next. */
  #refusal: Error | undefined

  constructor (options: EncodeOptions = {}) {
    super({ writableObjectMode: true, readableObjectMode: false })
    this.#encoder = new ArchiveEncoder(options)
  }

  /** Records encoded so far. */
  get records (): number {
    return this.#records
  }

  /**
   * The fast path: a lone record (no callback or encoding, not an array)
   * written while the writable side is idle (nothing being written or
   * queued, not corked, ended, destroyed or errored) would go straight to
   * _write and be called back at once. Here it is encoded at once instead,
   * skipping the Writable bookkeeping, which had nothing to do: no callback
   * to call, nothing queued, and write() would return true. When the record
   * fills a chunk or is refused, a marker (FULL, REFUSED) is written the
   * ordinary way to finish it as _write would, so pushing, holding the
   * callback (backpressure), the return value and errors are Writable's own.
   * Anything else goes through Writable as before.
   *
   * Only public stream state is read. User code can run during the encoding
   * (a metadata getter, a payload's toJSON); a write or end() it makes on
   * this stream then is held until the record is done (#busy, #deferred,
   * #deferredFlush), as one made during _write waits.
   */
  override write (chunk: unknown, encoding?: string | WriteCallback, callback?: WriteCallback): boolean {
    if (encoding !== undefined || callback !== undefined || typeof chunk !== 'object' || chunk === null ||
      Array.isArray(chunk) || this.#busy || !this.#idle()) {
      return super.write(chunk, encoding as string | undefined, callback)
    }
    let refusal: Error | undefined
    this.#busy = true
    try {
      this.#encoder.write(chunk as RecordInput)
      this.#records++
    } catch (err) {
      refusal = err as Error
    }
    this.#busy = false
    const deferred = this.#deferred
    const deferredFlush = this.#deferredFlush
    if (deferred === null && deferredFlush === null && this.#idle()) {
      // As it would have reached _write.
      if (refusal !== undefined) {
        this.#refusal = refusal
        return super.write(REFUSED)
      }
      if (this.#encoder.hasFull) return super.write(FULL)
      if (this.#scheduled === null) this.#scheduled = setImmediate(this.#onTurn)
      return true
    }
    // User code wrote to, ended or destroyed this stream during the encoding: finish the record here, then that.
    this.#deferred = null
    this.#deferredFlush = null
    if (refusal !== undefined) {
      // As a refusal in _write: a write queued behind it fails with it.
      this.#fail(refusal, deferred?.callback)
      return false
    }
    if (!this.destroyed) {
      for (const buf of this.#encoder.takeFull()) this.push(buf)
      if (this.#scheduled === null) this.#scheduled = setImmediate(this.#onTurn)
    }
    if (deferred !== null) this._writev(deferred.chunks, deferred.callback)
    if (deferredFlush !== null) this._flush(deferredFlush)
    return !this.destroyed && this.writableLength < this.writableHighWaterMark
  }

  /** Nothing being written or queued, and writes are taken: write() would call _write at once. */
  #idle (): boolean {
    return this.writable && this.writableLength === 0 && this.writableCorked === 0
  }

  override _write (chunk: RecordInput | RecordInput[] | Marker, _encoding: BufferEncoding, callback: WriteCallback): void {
    if (chunk === FULL) {
      this.#wrote(callback)
    } else if (chunk === REFUSED) {
      const refusal = this.#refusal as Error
      this.#refusal = undefined
      this.#fail(refusal, callback)
    } else if (this.#busy) {
      this.#deferred = { chunks: [{ chunk: chunk as RecordInput }], callback }
    } else if (this.#add(chunk as RecordInput, callback)) {
      this.#wrote(callback)
    }
  }

  override _writev (chunks: Array<{ chunk: RecordInput | RecordInput[] }>, callback: WriteCallback): void {
    if (this.#busy) {
      this.#deferred = { chunks, callback }
      return
    }
    for (let i = 0; i < chunks.length; i++) if (!this.#add(chunks[i].chunk, callback)) return
    this.#wrote(callback)
  }

  override _transform (chunk: RecordInput | RecordInput[], encoding: BufferEncoding, callback: TransformCallback): void {
    this._write(chunk, encoding, callback)
  }

  override _read (): void {
    const held = this.#held
    if (held === null) return
    this.#held = null
    held()
  }

  override _flush (callback: TransformCallback): void {
    if (this.#busy) {
      // end() from user code during write()'s encoding: after that record.
      this.#deferredFlush = callback
      return
    }
    this.#cancel()
    this.#pushPending()
    callback()
  }

  override _destroy (err: Error | null, callback: (error: Error | null) => void): void {
    this.#cancel()
    callback(err)
  }

  /**
   * Encode one write's records. When one is refused, the records before it
   * (in this array, and still pending) go out first, `callback` gets the
   * error once they are taken, and this returns false.
   */
  #add (chunk: RecordInput | RecordInput[], callback: WriteCallback): boolean {
    const encoder = this.#encoder
    let i = 0
    try {
      if (Array.isArray(chunk)) {
        for (; i < chunk.length; i++) encoder.write(chunk[i])
        this.#records += chunk.length
      } else {
        encoder.write(chunk)
        this.#records++
      }
      return true
    } catch (err) {
      this.#records += i
      this.#fail(err as Error, callback)
      return false
    }
  }

  /** A record was refused: what is pending goes out, then the error (to `callback`, the write's, when there is one). */
  #fail (err: Error, callback?: WriteCallback): void {
    this.#cancel()
    this.#pushPending()
    failAfterDelivery(this, err, callback)
  }

  /** After a write's records are encoded: hand on full chunks, schedule the rest, call back (or hold the callback). */
  #wrote (callback: WriteCallback): void {
    const encoder = this.#encoder
    let hold = false
    if (encoder.hasFull) {
      for (const buf of encoder.takeFull()) this.push(buf)
      hold = this.readableLength >= this.readableHighWaterMark && !this.writableEnded
    }
    if (this.#scheduled === null && encoder.pendingBytes > 0) this.#scheduled = setImmediate(this.#onTurn)
    if (hold) this.#held = callback
    else callback()
  }

  /** The event loop turned: hand on what is pending. One function for the stream's life, not a closure per turn. */
  readonly #onTurn = (): void => {
    this.#scheduled = null
    if (!this.destroyed) this.#pushPending()
  }

  #cancel (): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled)
    this.#scheduled = null
  }

  #pushPending (): void {
    for (const buf of this.#encoder.take()) this.push(buf)
  }
}

export function encode (options?: EncodeOptions): EncodeStream {
  checkOptionsObject(options, 'encode()')
  return new EncodeStream(options)
}
