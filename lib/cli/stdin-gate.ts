/**
 * Gate: standard input's bytes passed through until closed, then an end, the
 * rest ignored. A command feeds it from stdin in a pipeline of its own and
 * reads it in another, so that it can end its input cleanly where stdin has
 * not ended (a signal; a bad line): the stages after it finish as at a real
 * end, and stdin, which may never end (tail -f), is read no further.
 */
// node:stream's Transform: loading readable-stream would cost ~30 ms of start-up (see encode-ndjson.ts).
import { Transform, type Readable, type TransformCallback } from 'node:stream'

export class Gate extends Transform {
  #closed = false

  /** close() was called. */
  get stopped (): boolean {
    return this.#closed
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.push(null)
  }

  /**
   * close(), then, once the end has gone out, destroy `stdin` (its pipeline
   * into the gate then fails, harmlessly: the gate has ended). Destroyed
   * first, stdin's pipeline could destroy the gate before its end was read.
   */
  closeAndStop (stdin: Readable): void {
    if (this.#closed) return
    this.once('end', () => { stdin.destroy() })
    this.close()
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.#closed) this.push(chunk)
    callback()
  }
}
