/**
 * The columns of a stream's events (times, ids, text places: put-rows.ts,
 * memtable.ts), carved out of shared ArrayBuffers while they are small.
 *
 * Each had three ArrayBuffers of its own, so a put naming 100,000 streams of
 * one event made 300,000 for its rows and 300,000 more for the memtable, each
 * a malloc'd backing store and its bookkeeping outside the JS heap: the
 * memtable cost ~1,090 bytes of heap per one-event stream, and a server's RSS
 * stayed ~1 KB per stream higher after the put than its heap explained
 * (bench/RESULTS.md, "serve: a put naming many streams"). Carved from 64 KiB
 * slabs, a one-event stream's columns are 40 bytes of a shared buffer.
 *
 * A slab lives while any column carved from it does: the memtable carves
 * from its own slab (memtable.ts), which dies with it at the flush; a put's
 * rows carve from one shared by every put, which its rows release once
 * stored. Columns past SMALL_BYTES get a buffer of their own, as before.
 */

const SLAB_BYTES = 64 * 1024

/** The most bytes of columns carved from a slab (a stream of up to ~100 events). */
const SMALL_BYTES = 4096

/** Bytes per event: time 8, id 16, text place 12 (index into memory, offset, length). */
const EVENT_BYTES = 36

export interface Columns {
  times: BigInt64Array
  /** `times` as 32-bit words. */
  words: Uint32Array
  ids: Buffer
  where: Uint32Array
}

export class ColumnSlab {
  #slab: ArrayBuffer | undefined
  #used = 0

  /** Zeroed columns for `capacity` events (at least one). */
  columns (capacity: number): Columns {
    const n = Math.max(1, capacity)
    // A multiple of 8: the next carve's BigInt64Array starts aligned.
    const bytes = (n * EVENT_BYTES + 7) & ~7
    let buffer: ArrayBuffer
    let offset = 0
    if (bytes > SMALL_BYTES) {
      buffer = new ArrayBuffer(bytes)
    } else {
      if (this.#slab === undefined || this.#used + bytes > SLAB_BYTES) {
        this.#slab = new ArrayBuffer(SLAB_BYTES)
        this.#used = 0
      }
      buffer = this.#slab
      offset = this.#used
      this.#used += bytes
    }
    return {
      times: new BigInt64Array(buffer, offset, n),
      words: new Uint32Array(buffer, offset, 2 * n),
      ids: Buffer.from(buffer, offset + 8 * n, 16 * n),
      where: new Uint32Array(buffer, offset + 24 * n, 3 * n)
    }
  }
}
