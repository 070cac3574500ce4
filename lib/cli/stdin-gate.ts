/**
 * Gate: standard input's whole lines passed through until closed, then an
 * end, the rest ignored. A command feeds it from stdin in a pipeline of its
 * own and reads it in another, so that it can end its input cleanly where
 * stdin has not ended (a signal; a bad line): the stages after it finish as
 * at a real end, and stdin, which may never end (tail -f), is read no
 * further. A line whose end had not been read when the gate closed is left
 * out (heldBytes): given to the encoder, it became a record cut short.
 */
import type { Readable, TransformCallback } from 'node:stream'
import { WholeLines } from './whole-lines.js'

export class Gate extends WholeLines {
  #closed = false

  /** close() was called. */
  get stopped (): boolean {
    return this.#closed
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.cut = true
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

  override _transform (chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#closed) {
      callback()
      return
    }
    super._transform(chunk, encoding, callback)
  }
}
