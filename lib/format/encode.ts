/**
 * encode(): a Transform from records (or arrays of records) to archive bytes,
 * in large batched chunks. Bytes go out when a chunk fills, when the event
 * loop turns (so a slow trickle of records is not held back), and at end().
 */
import { Transform } from 'readable-stream'
import type { TransformCallback } from 'node:stream'
import { failAfterDelivery } from '../stream/deliver-then-fail.js'
import type { RecordInput } from '../record.js'
import { ArchiveEncoder, type EncoderOptions } from './encoder.js'

export type EncodeOptions = EncoderOptions

export class EncodeStream extends Transform {
  #encoder: ArchiveEncoder
  #scheduled: ReturnType<typeof setImmediate> | null = null
  #records = 0

  constructor (options: EncodeOptions = {}) {
    super({ writableObjectMode: true, readableObjectMode: false })
    this.#encoder = new ArchiveEncoder(options)
  }

  /** Records encoded so far. */
  get records (): number {
    return this.#records
  }

  override _transform (chunk: RecordInput | RecordInput[], _encoding: BufferEncoding, callback: TransformCallback): void {
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
    } catch (err) {
      // The records before the refused one (in this array, and still pending) go out first.
      this.#records += i
      this.#cancel()
      this.#pushPending()
      failAfterDelivery(this, err as Error, callback)
      return
    }
    for (const buf of encoder.takeFull()) this.push(buf)
    if (this.#scheduled === null && encoder.pendingBytes > 0) {
      this.#scheduled = setImmediate(() => {
        this.#scheduled = null
        if (!this.destroyed) this.#pushPending()
      })
    }
    callback()
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
