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
import { pipeline } from 'node:stream/promises'
import { decompressedInput, type DecompressedInput } from '../compress/decompressed-input.js'
import type { ShoeboxError } from '../errors.js'
import { WholeLines } from './whole-lines.js'

export class Gate extends WholeLines {
  #closed = false
  /** What feeds the gate (feed()): stdin, then its text once its first bytes are known. */
  #source: Readable | undefined
  #input: DecompressedInput | undefined

  /**
   * Feed the gate from `stdin`'s text: gzip and zstd decompressed
   * (compress/decompressed-input.ts). Damage ends the text at its last whole
   * line (the one it cut stays out) and is then `failure`. A read error, or
   * zstd where this install has none, destroys the gate, and so fails the
   * pipeline that reads it. Closed before (stdin is then destroyed) or while
   * the first bytes were awaited, the text is not read.
   */
  feed (stdin: Readable, options: { maxFrameSize?: number } = {}): void {
    if (this.#closed) {
      stdin.destroy()
      return
    }
    this.#source = stdin
    decompressedInput(stdin, 'stdin', { maxFrameSize: options.maxFrameSize, onDamage: () => { this.cut = true } }).then(async (text) => {
      this.#input = text
      this.#source = text.stream
      if (this.#closed) text.stream.destroy()
      else await pipeline(text.stream, this)
    }, (err: unknown) => { this.destroy(err as Error) }).catch(() => {})
  }

  /** The damage or read error that ended the fed input's text (feed()), naming stdin; null if none. */
  get failure (): ShoeboxError | null {
    return this.#input?.failure ?? null
  }

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
   * close(), then, once the end has gone out, destroy what feeds the gate:
   * what feed() reads (stdin's text), else `stdin` (its pipeline into the
   * gate then fails, harmlessly: the gate has ended). Destroyed first,
   * stdin's pipeline could destroy the gate before its end was read.
   */
  closeAndStop (stdin?: Readable): void {
    if (this.#closed) return
    this.once('end', () => { (this.#source ?? stdin)?.destroy() })
    this.close()
  }

  /**
   * Closed, the gate passes nothing more: a transform under way may still be passing a long line's pieces when
   * the stage reading them refuses that line (too long) and closes the gate, and a push after the end failed
   * the run ('stream.push() after EOF'), losing what write had not yet sealed.
   */
  override push (chunk: unknown, encoding?: BufferEncoding): boolean {
    if (this.#closed && chunk !== null) return false
    return super.push(chunk, encoding)
  }

  override _transform (chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#closed) {
      callback()
      return
    }
    super._transform(chunk, encoding, callback)
  }
}
