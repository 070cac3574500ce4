/**
 * Part-sized buffers that a store's finished S3 writers leave for its next
 * ones (s3-writer.ts). A rolling upload sends one file after another through
 * the same store, each through a writer of its own, and each writer used to
 * allocate its part buffers afresh (queue size + 1 of them: 24 MiB for an
 * early upload, 40 MiB by default), which the kernel then zero-filled a page
 * at a time as the first parts were copied in (about 6,000 page faults per
 * 24 MiB), and which V8 counted as new external memory until a full
 * collection freed the previous writer's.
 *
 * A writer gives a buffer back only once no request of its own still sends
 * from it (as it reuses them between its own parts): once its last part is
 * handed out, the spare ones at once and each other one as its request
 * settles, so the next file's writer, usually under way by then, has them
 * while this one completes; after a destroy, once every request settled. Kept: at most as many as the last
 * writer that gave held, of its part size, so an idle store holds no more
 * than one writer did; and only for a few seconds after the last writer gave
 * them (or until the store is closed), so a store that uploads rarely does
 * not hold them in between.
 */

/** How long buffers wait for the next writer: a rolling sink's next file starts well within it. */
const KEEP_MS = 5000

export class PartBuffers {
  readonly #keepMs: number
  /** The size of the buffers kept (all one writer's part size). */
  #size = 0
  readonly #free: Buffer[] = []
  #timer: NodeJS.Timeout | undefined

  /** `keepMs`: how long what was given waits for a taker before it is let go. */
  constructor (keepMs = KEEP_MS) {
    this.#keepMs = keepMs
  }

  /** A kept buffer of `size` bytes, if there is one (its bytes are a previous upload's). */
  take (size: number): Buffer | undefined {
    return size === this.#size ? this.#free.pop() : undefined
  }

  /** A writer is done with `buffers` (no request sends from them): keep those of `size` bytes, at most `most` in all. */
  give (buffers: Buffer[], size: number, most: number): void {
    if (size !== this.#size) {
      this.#free.length = 0
      this.#size = size
    }
    for (const buffer of buffers) {
      if (this.#free.length >= most) break
      if (buffer.length === size) this.#free.push(buffer)
    }
    if (this.#free.length === 0) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => { this.release() }, this.#keepMs).unref()
  }

  /** How many are kept. */
  get kept (): number {
    return this.#free.length
  }

  /** Let every kept buffer go. */
  release (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#free.length = 0
  }
}
