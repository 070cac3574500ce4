/**
 * A file read in bounded windows by positioned reads, for a scan that walks
 * a file of any size (the recovery of a writer's temporary file,
 * roll/temp-scan.ts): fs.readFile stops at 2 GiB, and holds the whole file.
 * What is held is one window, or the one longer stretch a caller asks for
 * (a record, a frame being judged). Each read fills a new buffer, so a view
 * handed out stays valid after the next read (a decoder may keep one).
 */
import type { FileHandle } from 'node:fs/promises'
import { ShoeboxError } from '../errors.js'
import { ioError } from './io-error.js'

/** Big enough that a read costs little per byte, small enough to be no memory spike. */
export const DEFAULT_WINDOW = 8 * 1024 * 1024

/** One positioned read at most this long (Node refuses reads over 2 GiB). */
const MAX_READ = 1024 * 1024 * 1024

export class FileWindow {
  /** The file's size when it was opened: the scan's end. */
  readonly size: number
  /** Bytes a read fetches at least (the window). */
  readonly window: number
  readonly #handle: FileHandle
  readonly #path: string
  /** The bytes held, and the file offset of their first. */
  #held: Buffer = Buffer.alloc(0)
  #start = 0

  constructor (handle: FileHandle, path: string, size: number, window = DEFAULT_WINDOW) {
    this.#handle = handle
    this.#path = path
    this.size = size
    this.window = window
  }

  /**
   * The bytes from `at`: at least `n` of them, or all up to the end of the
   * file, and perhaps more (the rest of the window held). A view: no copy
   * when they are held already.
   */
  async bytes (at: number, n: number): Promise<Buffer> {
    const want = Math.max(0, Math.min(n, this.size - at))
    if (at >= this.#start && at + want <= this.#start + this.#held.length) return this.#held.subarray(at - this.#start)
    const length = Math.max(0, Math.min(Math.max(n, this.window), this.size - at))
    const buffer = Buffer.allocUnsafe(length)
    let filled = 0
    while (filled < length) {
      let read: number
      try {
        ({ bytesRead: read } = await this.#handle.read(buffer, filled, Math.min(length - filled, MAX_READ), at + filled))
      } catch (err) {
        throw ioError(err, 'cannot read', this.#path)
      }
      if (read === 0) {
        // Another process cut it meanwhile: what was judged of it no longer holds.
        throw new ShoeboxError('SHOEBOX_IO', `cannot read ${this.#path}: it ends at byte ${at + filled}, and was ${this.size} bytes when opened (changed while being read); left as it is`)
      }
      filled += read
    }
    this.#held = buffer
    this.#start = at
    return buffer
  }

  /** Where `pattern` next occurs at or after `from`, or -1; reads a window at a time. */
  async find (pattern: Buffer, from: number): Promise<number> {
    for (let at = from; at + pattern.length <= this.size;) {
      // The rest of the window held, if it holds the pattern's length: a scan goes on where the last one stopped, reading nothing again.
      const view = await this.bytes(at, pattern.length)
      const found = view.indexOf(pattern)
      if (found >= 0) return at + found
      // The next window overlaps this one by all but one byte of the pattern: it may straddle the two.
      at += view.length - pattern.length + 1
    }
    return -1
  }
}
