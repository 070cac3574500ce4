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
 *
 * Headroom: each slab's memory starts with unused bytes before the part the
 * encoder writes into. The rolling sink's flush blocks (1 MiB) fall across
 * slab boundaries (4 MiB) about once a slab; such a block's head, at the end
 * of the old slab, is then copied into the headroom of the new one, just
 * before its tail (joinSlabParts), instead of the whole block into a fresh
 * buffer: half the bytes copied on average, and no 1 MiB allocation (and the
 * garbage) per slab (`shoebox write` of 200 MB: ~50 of its ~200 blocks).
 */

interface SlabState {
  pool: SlabPool
  /** The part the encoder writes into: its memory after the headroom. */
  slab: Buffer
  /** Bytes handed out and not given back (with the headroom's, once used). */
  out: number
  retired: boolean
  /** Headroom bytes still unused before `slab` (all of it, or none once a block's head is copied there). */
  room: number
}

/** Headroom by default: the rolling sink's default block size (a block's head is shorter than a block). */
const DEFAULT_HEADROOM = 1024 * 1024

/** Every pooled slab, by its memory (a slab is allocated alone: one ArrayBuffer each). */
const slabs = new WeakMap<ArrayBufferLike, SlabState>()

export class SlabPool {
  /** Slabs free for reuse. */
  readonly #free: Buffer[] = []
  /** Free slabs kept at most: more than an encoder needs at once goes to the garbage collector. */
  readonly #keep: number
  /** Bytes of each slab's memory before the part the encoder writes into (see above). */
  readonly #headroom: number

  constructor (keep = 4, headroom = DEFAULT_HEADROOM) {
    this.#keep = keep
    this.#headroom = headroom
  }

  /** Free slabs held (tests). */
  get free (): number {
    return this.#free.length
  }

  /** A slab of at least `size` bytes: a free one, else a new one. */
  take (size: number): Buffer {
    const i = this.#free.findIndex((slab) => slab.length >= size)
    // Pages of the headroom never written are never touched: they cost address space, not memory.
    const slab = i >= 0 ? this.#free.splice(i, 1)[0] : Buffer.allocUnsafeSlow(this.#headroom + size).subarray(this.#headroom)
    const state = slabs.get(slab.buffer)
    if (state === undefined) {
      slabs.set(slab.buffer, { pool: this, slab, out: 0, retired: false, room: slab.byteOffset })
    } else {
      state.retired = false
      state.room = slab.byteOffset
    }
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

  /**
   * `head` (bytes that come just before `tail` in a block) copied into the
   * headroom of `tail`'s slab, and one view of both; null when `tail` does
   * not start its pooled slab or the headroom is used or too small. The
   * view's bytes count as handed out, so giving it back gives back both.
   */
  static prepend (head: Buffer[], headLength: number, tail: Buffer, tailLength: number): Buffer | null {
    const state = slabs.get(tail.buffer)
    if (state === undefined || tail.byteOffset !== state.slab.byteOffset || headLength > state.room) return null
    const at = tail.byteOffset - headLength
    const memory = Buffer.from(tail.buffer, 0, tail.byteOffset)
    let offset = at
    for (const part of head) offset += part.copy(memory, offset)
    state.room = 0
    state.out += headLength
    return Buffer.from(tail.buffer, at, headLength + tailLength)
  }
}

/** Give back bytes handed out of a pooled slab (SlabPool.release). */
export function releaseSlabBytes (view: Uint8Array): void {
  SlabPool.release(view)
}

/**
 * A flush block's parts (bytes handed out one after another) as one
 * buffer. Parts an encoder handed out one after another from the same slab
 * lie next to each other in memory (encodeNdjson's slabs span several
 * blocks), and one view spans them without a copy. A block whose tail
 * starts a pooled slab has its head copied into that slab's headroom (see
 * above). Anything else is copied once. Parts copied are given back at once
 * (they are done with); the block's own bytes are the caller's to give back.
 */
export function joinSlabParts (parts: Buffer[]): Buffer {
  if (parts.length === 0) return Buffer.alloc(0) // a seal with nothing new
  if (parts.length === 1) return parts[0]
  // The last run of parts that lie one after another in one memory.
  let from = parts.length - 1
  let tailLength = parts[from].length
  while (from > 0 && parts[from - 1].buffer === parts[from].buffer && parts[from - 1].byteOffset + parts[from - 1].length === parts[from].byteOffset) {
    from--
    tailLength += parts[from].length
  }
  const tail = parts[from]
  if (from === 0) return Buffer.from(tail.buffer, tail.byteOffset, tailLength)
  const head = parts.slice(0, from)
  let headLength = 0
  for (const part of head) headLength += part.length
  const joined = SlabPool.prepend(head, headLength, tail, tailLength) ?? Buffer.concat(parts)
  for (const part of joined.buffer === tail.buffer ? head : parts) SlabPool.release(part)
  return joined
}
