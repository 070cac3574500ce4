/**
 * Slabs an encoder writes into, used again once every byte it handed out of
 * them has been given back.
 *
 * Why: `shoebox write` encodes 200 MB of NDJSON into fresh 4 MiB slabs, which
 * the rolling sink holds (as flush blocks) only until each block is
 * compressed or written. Fresh slabs are fresh pages: ~30k page faults,
 * and garbage V8 collects only once its external memory has grown by tens
 * of MB (the write's peak RSS). Reused, a few slabs do the whole job.
 *
 * How: an encoder made with a pool takes its slabs from it, says which bytes
 * it handed out (handedOut) and when it moved on to another slab (retire).
 * Whoever is done with bytes gives them back with releaseSlabBytes(), by
 * the view it holds; a slab retired with nothing outstanding is free again.
 * The accounting is by bytes: each byte handed out must be given back
 * exactly once (a view, or several views covering it), and only when no
 * reference to it remains. Bytes never given back (a stream destroyed, a
 * consumer that does not know the pool) are no harm: their slab is left to
 * the garbage collector. Opt-in (EncoderInternals.slabs): only a pipeline
 * whose one consumer gives bytes back (the CLI's write into a rolling sink)
 * may use it, since reused bytes change under anyone still holding a view.
 */

interface SlabState {
  pool: SlabPool
  slab: Buffer
  /** Bytes handed out and not given back. */
  out: number
  retired: boolean
}

/** Every pooled slab, by its memory (a slab is allocated alone: one ArrayBuffer each). */
const slabs = new WeakMap<ArrayBufferLike, SlabState>()

export class SlabPool {
  /** Slabs free for reuse. */
  readonly #free: Buffer[] = []
  /** Free slabs kept at most: more than an encoder needs at once goes to the garbage collector. */
  readonly #keep: number

  constructor (keep = 4) {
    this.#keep = keep
  }

  /** Free slabs held (tests). */
  get free (): number {
    return this.#free.length
  }

  /** A slab of at least `size` bytes: a free one, else a new one. */
  take (size: number): Buffer {
    const i = this.#free.findIndex((slab) => slab.length >= size)
    const slab = i >= 0 ? this.#free.splice(i, 1)[0] : Buffer.allocUnsafeSlow(size)
    const state = slabs.get(slab.buffer)
    if (state === undefined) slabs.set(slab.buffer, { pool: this, slab, out: 0, retired: false })
    else state.retired = false
    return slab
  }

  /** The encoder handed out `bytes` bytes of `slab`. */
  handedOut (slab: Buffer, bytes: number): void {
    const state = slabs.get(slab.buffer)
    if (state !== undefined) state.out += bytes
  }

  /** The encoder writes no more into `slab`: free once its bytes are all back. */
  retire (slab: Buffer): void {
    const state = slabs.get(slab.buffer)
    if (state === undefined) return
    state.retired = true
    state.pool.#freeIfDone(state)
  }

  #freeIfDone (state: SlabState): void {
    if (!state.retired || state.out > 0) return
    state.retired = false // not in use, and not retired twice
    if (this.#free.length < this.#keep) this.#free.push(state.slab)
    else slabs.delete(state.slab.buffer)
  }

  /** Give back the bytes of `view` (see above); a view of memory no pool knows is ignored. */
  static release (view: Uint8Array): void {
    const state = slabs.get(view.buffer)
    if (state === undefined) return
    state.out -= view.length
    state.pool.#freeIfDone(state)
  }
}

/** Give back bytes handed out of a pooled slab (SlabPool.release). */
export function releaseSlabBytes (view: Uint8Array): void {
  SlabPool.release(view)
}
