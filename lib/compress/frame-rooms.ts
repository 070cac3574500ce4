/**
 * Rooms a compressor writes frames into, used again once the frame's bytes
 * have been given back.
 *
 * Why: the libzstd backend wrote each frame into a room malloc'd for it
 * (compressBound of the block: ~1 MiB for the rolling sink's 1 MiB blocks)
 * and shrunk to the frame (~230 KB of event NDJSON). glibc maps a chunk that
 * large on its own, so each frame was a fresh mapping, each page of it a
 * page fault on a pool thread: `shoebox write --zstd` of 200 MB took ~7k of
 * its ~22k page faults there, and a mmap, mremap and munmap per frame. A
 * room used again has its pages already.
 *
 * How: take() a room of at least the size the frame may need; the frame is
 * a view of its start. Whoever is done with the frame's bytes gives them
 * back with giveBackRoom(), by that view (or the room itself), exactly once
 * and only when nothing can read them any more: a room given back is
 * written again by the next frame. A frame never given back (a stream
 * destroyed, a consumer that does not know the rooms) is no harm: its room
 * is left to the garbage collector. Opt-in: only the rolling sink's file
 * chain uses rooms, and gives each frame back once it is written and hashed.
 */

/** Each room out, by its memory (one ArrayBuffer each), with the rooms it goes back to. */
const out = new WeakMap<ArrayBufferLike, { rooms: FrameRooms, room: Buffer }>()

/** Rooms are made in steps of this: blocks a little larger or smaller than the last ones still fit the rooms they left. */
const STEP = 64 * 1024

export class FrameRooms {
  readonly #free: Buffer[] = []
  /** Free rooms kept at most (the rest go to the garbage collector): about the frames a sink holds at once. */
  readonly #keep: number

  constructor (keep = 16) {
    this.#keep = keep
  }

  /** Free rooms held (tests). */
  get free (): number {
    return this.#free.length
  }

  /** A room of at least `size` bytes: a free one, else a new one. Its bytes are the taker's until given back. */
  take (size: number): Buffer {
    const i = this.#free.findIndex((room) => room.length >= size)
    const room = i >= 0 ? this.#free.splice(i, 1)[0] : Buffer.allocUnsafeSlow(Math.max(STEP, Math.ceil(size / STEP) * STEP))
    out.set(room.buffer, { rooms: this, room })
    return room
  }

  /** FrameRooms.giveBack(view), for a taker that has these rooms but imports only the type (zstd.ts). */
  giveBack (view: Uint8Array): void {
    FrameRooms.giveBack(view)
  }

  /** Give back the room `view` lies in (see above); a view of memory no rooms know, or of a room already given back, is ignored. */
  static giveBack (view: Uint8Array): void {
    const taken = out.get(view.buffer)
    if (taken === undefined) return
    out.delete(view.buffer)
    const free = taken.rooms.#free
    if (free.length < taken.rooms.#keep) free.push(taken.room)
  }
}
