/**
 * Files opened ahead of their read. Reading thousands of small archives, each
 * file's open, stat, read and close are round trips to libuv's thread pool;
 * made one file after another, the reader mostly waited (62% of a profile of
 * 20,000 one-record files was idle). Opening the next few while the current
 * one is decoded overlaps those waits. Only the opening moves: files are
 * still read, and their records delivered, one after another in order.
 *
 * Bounded: at most READ_AHEAD files at a time, each at most READ_AHEAD_BYTES
 * as listed (opening is most of the cost of a small file only), so at most
 * about READ_AHEAD x READ_AHEAD_BYTES are held. Each stream opened ahead is
 * asked for its first bytes at once (read(0)): an S3 object's GET starts only
 * then, so reading many small objects one request after another waited out
 * every round trip in turn.
 *
 * Where the store reads files whole in batches (a FileStore with the native
 * addon: Store.wholeReadsTogether, 32), files are opened that many at once,
 * in one turn, so that they make one batch: a new group once no more than
 * half a group is left, so at most 1.5 groups (48 files of at most
 * READ_AHEAD_BYTES each) are held. One file at a time, the window slides by
 * one file: READ_AHEAD files ahead.
 *
 * What "opened" is, is the caller's: a stream (get()), a promise of a file's
 * bytes (a FileStore's getWhole(), counted as read only once taken), or a
 * promise of a stream (verify's
 * inputs, whose sizes no listing gave: all are opened ahead, and openInput()
 * reads only a small one whole).
 */
import { Readable } from 'node:stream'
import { SMALL_FILE_BYTES } from '../fs/read-size.js'
import type { WholeObject } from '../store/store.js'

/** Files opened ahead of the one being read. */
export const READ_AHEAD = 4
/** The largest file (as listed) opened ahead: what is read whole in one read. */
export const READ_AHEAD_BYTES = SMALL_FILE_BYTES
/** How many of the next files are looked at for those to open: a run of big ones is not walked to its end for every file. */
export const LOOK_AHEAD = 4 * READ_AHEAD

/** A file to open ahead: its name, and its size where a listing gave it (unknown: opened whatever its size). */
export interface AheadFile {
  name: string
  size?: number
}

/** A file opened: its stream, or a promise (which fails with the open's error) of its bytes, read whole or as a stream. */
export type Opened = Readable | Promise<Buffer | WholeObject | Readable>

export class ReadAhead<File extends AheadFile = AheadFile, Open extends Opened = Opened> {
  readonly #open: (file: File) => Open
  /** By name: files opened ahead, not yet taken. */
  readonly #opened = new Map<string, Open>()
  /** Files opened together (see the header), and the most held. */
  readonly #together: number
  readonly #most: number

  /**
   * `open` gives a file's bytes from its start, as the reader would open it;
   * `together`: how many opens made at once the store serves in one round
   * trip (Store.wholeReadsTogether; default one).
   */
  constructor (open: (file: File) => Open, together = 1) {
    this.#open = open
    this.#together = Math.max(1, Math.floor(together))
    this.#most = this.#together === 1 ? READ_AHEAD : this.#together + Math.ceil(this.#together / 2)
  }

  /**
   * Open the first of `next` not opened yet, up to READ_AHEAD files (or
   * 1.5 groups, see the header): the files to be read whole after the
   * current one, in order (those too big are passed over; no further than
   * LOOK_AHEAD files, or four times the most held, are looked at).
   */
  ahead (next: Iterable<File>): void {
    // In groups: the next group once no more than half a group is left to take.
    if (this.#together > 1 && this.#opened.size > this.#most - this.#together) return
    const lookAhead = Math.max(LOOK_AHEAD, 4 * this.#most)
    let count = 0
    let seen = 0
    // At most a group at a time (one at a time: as many as are held): a batch holds no more (a 33rd file was a batch of its own).
    const group = this.#together === 1 ? this.#most : this.#together
    let opening = 0
    for (const file of next) {
      if (count === this.#most || opening === group || seen++ === lookAhead) break
      if (file.size !== undefined && file.size > READ_AHEAD_BYTES) continue
      count++
      if (this.#opened.has(file.name)) continue
      opening++
      const opened = this.#open(file)
      // It may fail before it is taken (deleted, refused): take() throws that error (or the promise
      // rejects when awaited), so none goes unheard.
      if (opened instanceof Readable) {
        opened.on('error', () => {})
        opened.read(0) // start fetching (a lazy stream, such as an S3 object's, starts on its first read)
      } else {
        // A stream it gives (a file grown since listed, a big input) may fail before it is taken too.
        opened.then((settled) => { if (settled instanceof Readable) settled.on('error', () => {}) }, () => {})
      }
      this.#opened.set(file.name, opened)
    }
  }

  /**
   * What was opened ahead for `file`, now the caller's, or undefined if
   * nothing was. Throws a stream's error if it has already failed: its
   * 'error' event may have gone by, and a reader attaching now would wait
   * for its end forever.
   */
  take (file: File): Open | undefined {
    const opened = this.#opened.get(file.name)
    if (opened === undefined) return undefined
    this.#opened.delete(file.name)
    if (opened instanceof Readable && opened.errored !== null) throw opened.errored
    return opened
  }

  /** Close every file opened ahead and not taken (the read stopped, failed or ended); bytes read whole are dropped. */
  clear (): void {
    for (const opened of this.#opened.values()) {
      if (opened instanceof Readable) opened.destroy()
      else opened.then((settled) => { if (settled instanceof Readable) settled.destroy() }, () => {})
    }
    this.#opened.clear()
  }

  /**
   * What `opened` (taken, or opened now) gives, once it has: a stream that
   * failed meanwhile throws its error (its 'error' event has gone by).
   */
  static async settle<T extends Buffer | WholeObject | Readable> (opened: T | Promise<T>): Promise<T> {
    const settled = await opened
    if (settled instanceof Readable && settled.errored !== null) throw settled.errored
    return settled
  }

  /** Files opened ahead and not taken, for tests. */
  get size (): number {
    return this.#opened.size
  }
}
