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
 */
import { LazyTransform } from '../stream/lazy-transform.js'
import type { TransformCallback } from 'node:stream'
import { failAfterDelivery } from '../stream/deliver-then-fail.js'
import type { RecordInput } from '../record.js'
import { ArchiveEncoder, type EncoderOptions } from './encoder.js'

export type EncodeOptions = EncoderOptions

type WriteCallback = (error?: Error | null) => void

export class EncodeStream extends LazyTransform {
  #encoder: ArchiveEncoder
  #scheduled: ReturnType<typeof setImmediate> | null = null
  #records = 0
  /** A write's callback held until the reader takes output (see _read). */
  #held: WriteCallback | null = null

  constructor (options: EncodeOptions = {}) {
    super({ writableObjectMode: true, readableObjectMode: false })
    this.#encoder = new ArchiveEncoder(options)
  }

  /** Records encoded so far. */
  get records (): number {
    return this.#records
  }

  override _write (chunk: RecordInput | RecordInput[], _encoding: BufferEncoding, callback: WriteCallback): void {
    if (this.#add(chunk, callback)) this.#wrote(callback)
  }

  override _writev (chunks: Array<{ chunk: RecordInput | RecordInput[] }>, callback: WriteCallback): void {
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
      this.#cancel()
      this.#pushPending()
      failAfterDelivery(this, err as Error, callback)
      return false
    }
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
  return new EncodeStream(options)
}
