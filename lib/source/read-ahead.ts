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
 */
import type { Readable } from 'node:stream'
import type { ListedFile } from './order.js'

/** Files opened ahead of the one being read. */
export const READ_AHEAD = 4
/** The largest file (as listed) opened ahead. */
export const READ_AHEAD_BYTES = 256 * 1024
/** How many of the next files are looked at for those to open: a run of big ones is not walked to its end for every file. */
export const LOOK_AHEAD = 4 * READ_AHEAD

export class ReadAhead {
  readonly #open: (file: ListedFile) => Readable
  /** By name: streams opened ahead, not yet taken. */
  readonly #opened = new Map<string, Readable>()

  /** `open` gives a file's bytes from its start, as the reader would open it. */
  constructor (open: (file: ListedFile) => Readable) {
    this.#open = open
  }

  /**
   * Open the first READ_AHEAD of `next` not opened yet: the files to be read
   * whole after the current one, in order (those too big are passed over;
   * no further than LOOK_AHEAD files are looked at).
   */
  ahead (next: Iterable<ListedFile>): void {
    let count = 0
    let seen = 0
    for (const file of next) {
      if (count === READ_AHEAD || seen++ === LOOK_AHEAD) break
      if (file.size > READ_AHEAD_BYTES) continue
      count++
      if (this.#opened.has(file.name)) continue
      const stream = this.#open(file)
      // It may fail before it is taken (deleted, refused): take() throws that error, so none goes unheard.
      stream.on('error', () => {})
      stream.read(0) // start fetching (a lazy stream, such as an S3 object's, starts on its first read)
      this.#opened.set(file.name, stream)
    }
  }

  /**
   * The stream opened ahead for `file`, now the caller's, or undefined if
   * none was. Throws its error if it has already failed: its 'error' event
   * may have gone by, and a reader attaching now would wait for its end forever.
   */
  take (file: ListedFile): Readable | undefined {
    const stream = this.#opened.get(file.name)
    if (stream === undefined) return undefined
    this.#opened.delete(file.name)
    if (stream.errored !== null) throw stream.errored
    return stream
  }

  /** Close every stream opened ahead and not taken (the read stopped, failed or ended). */
  clear (): void {
    for (const stream of this.#opened.values()) stream.destroy()
    this.#opened.clear()
  }

  /** Streams opened ahead and not taken, for tests. */
  get size (): number {
    return this.#opened.size
  }
}
