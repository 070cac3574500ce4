/**
 * A Readable over a file another part of this process is still appending
 * to: it reads the bytes it is told are written (grow()), waits when it has
 * caught up, and ends once it is told the file's final size (end()).
 *
 * The early upload (early-upload.ts) reads the file the rolling sink is
 * writing through one of these, so each part leaves while the file grows,
 * read back from the page cache rather than kept as a copy. Bytes are only
 * read once written (the sink says so after its write, and its fsync when
 * the policy asks), and the file only grows, so what is read is what the
 * file holds. It reads through a descriptor opened while the file still has
 * its temporary name (given, or opened at once), which stays valid when
 * sealing moves the file to its final name.
 */
import fs from 'node:fs'
import { Readable } from 'node:stream'
import { ioError } from '../fs/io-error.js'

/** Bytes asked of the file at once: as the sink's 1 MiB blocks, and no more held per read. */
const READ_SIZE = 1024 * 1024

export class GrowingFile extends Readable {
  readonly path: string
  #fd: number | undefined
  /** Next byte to read. */
  #at = 0
  /** Bytes known to be written. */
  #written = 0
  /** The final size, once end() has said it. */
  #final: number | undefined
  /** _read was called with nothing to read: the next grow() or end() reads. */
  #wanted = false
  #reading = false

  /** Read `file` through `fd`, which this stream closes. */
  constructor (file: string, fd: number) {
    super({ highWaterMark: READ_SIZE })
    this.path = file
    this.#fd = fd
  }

  /** The file now holds `bytes` bytes (a total, never less than before). */
  grow (bytes: number): void {
    if (this.#final !== undefined || bytes <= this.#written) return
    this.#written = bytes
    this.#wake()
  }

  /** The file is complete at `bytes` bytes: read to there, then end. */
  end (bytes: number): void {
    if (this.#final !== undefined) return
    if (bytes < this.#written) {
      this.destroy(ioError(new Error(`it holds ${bytes} bytes, ${this.#written} were written`), 'cannot read', this.path))
      return
    }
    this.#final = bytes
    this.#written = bytes
    this.#wake()
  }

  override _read (): void {
    this.#wanted = true
    this.#pull()
  }

  #wake (): void {
    if (this.#wanted) this.#pull()
  }

  #pull (): void {
    const fd = this.#fd
    if (this.#reading || this.destroyed || fd === undefined) return
    if (this.#at >= this.#written) {
      if (this.#final !== undefined) {
        this.#wanted = false
        this.push(null)
      }
      return
    }
    this.#wanted = false
    this.#reading = true
    const length = Math.min(READ_SIZE, this.#written - this.#at)
    const buffer = Buffer.allocUnsafeSlow(length)
    fs.read(fd, buffer, 0, length, this.#at, (err, bytesRead) => {
      this.#reading = false
      if (this.destroyed) return
      if (err === null && bytesRead === 0) err = new Error(`it ends at byte ${this.#at}, ${this.#written} were written`)
      if (err !== null) {
        this.destroy(ioError(err, 'cannot read', this.path))
        return
      }
      this.#at += bytesRead
      // push() may call _read again at once, which reads on.
      this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead))
    })
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    const fd = this.#fd
    this.#fd = undefined
    if (fd === undefined) {
      callback(err)
      return
    }
    fs.close(fd, () => { callback(err) })
  }
}
