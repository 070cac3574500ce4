/**
 * A Transform that does its work asynchronously (a decompressor on the
 * thread pool) and pushes what it made must wait when the reader's buffer
 * is full: otherwise it goes on pushing while the reader is busy, and holds
 * all of it (a file of 256 MiB zstd frames held five of them at once). Its
 * _transform's callback waits with the work, so the writer waits too.
 *
 * ReadDemand is that wait: push() resolves at once while the buffer has
 * room, else once the stream's _read asks for more or it is destroyed (both
 * call wake()). One promise per push that fills the buffer, no copy.
 */
import type { Readable } from 'node:stream'

export class ReadDemand {
  #wake: (() => void) | null = null

  /** `stream.push(chunk)`; when that fills its buffer, resolves once more is asked for (or it is destroyed). */
  async push (stream: Readable, chunk: Buffer): Promise<void> {
    if (stream.push(chunk) || stream.destroyed) return
    await new Promise<void>((resolve) => { this.#wake = resolve })
  }

  /** From the stream's _read (more is asked for) and _destroy: a waiting push goes on. */
  wake (): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }
}
