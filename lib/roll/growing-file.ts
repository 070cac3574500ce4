/**
 * Copies a file into a Writable (a store's object writer) while another part
 * of this process may still be appending to it: it reads the bytes it is
 * told are written (grow()), waits when it has caught up, and ends the
 * writer once it is told the file's final size (end()). A sealed file is the
 * same case with end() called at once (uploader.ts).
 *
 * The early upload (early-upload.ts) reads the file the rolling sink is
 * writing through one of these, so each part leaves while the file grows,
 * read back from the page cache rather than kept as a copy. Bytes are only
 * read once written (the sink says so after its write, and its fsync when
 * the policy asks), and the file only grows, so what is read is what the
 * file holds. It reads through a descriptor opened while the file still has
 * its temporary name (given, or opened at once), which stays valid when
 * sealing moves the file to its final name.
 *
 * Two read buffers, reused: a buffer is read into again only once the
 * writer has called back for the bytes it carried (a store's writer has
 * copied them into its part by then, s3-writer.ts). A fresh 1 MiB buffer per
 * read, as a Readable would hand out, is 50 MB of new external memory per
 * 50 MB uploaded, and that is what started V8's full collections in the
 * middle of the write (bench/RESULTS.md, "zstd to S3, third pass"). For the
 * same reason a file whose final size is known when a buffer is made gets
 * one of at most that size: a backlog of small sealed files.
 */
import fs from 'node:fs'
import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { ioError } from '../fs/io-error.js'

/** Bytes read at once: as the sink's 1 MiB blocks, and no more held per read. */
const READ_SIZE = 1024 * 1024
/** Read buffers: one being read into while the writer takes the other. */
const BUFFERS = 2

export class GrowingFile {
  readonly path: string
  /** Settles once the writer has finished (every byte up to end() taken, and its own end done), or failed. */
  readonly done: Promise<void>
  readonly #target: Writable
  #fd: number | undefined
  /** Next byte to read. */
  #at = 0
  /** Bytes known to be written. */
  #written = 0
  /** The final size, once end() has said it. */
  #final: number | undefined
  #reading = false
  #ended = false
  #stopped = false
  #allocated = 0
  readonly #free: Buffer[] = []

  /** Copy `file`, read through `fd` (which this closes), into `target`. */
  constructor (file: string, fd: number, target: Writable) {
    this.path = file
    this.#fd = fd
    this.#target = target
    this.done = finished(target).finally(() => { this.#stop() })
    // Reported through `done`; the writer's own failure is there too.
    this.done.catch(() => {})
  }

  /** The file now holds `bytes` bytes (a total, never less than before). */
  grow (bytes: number): void {
    if (this.#final !== undefined || bytes <= this.#written) return
    this.#written = bytes
    this.#pull()
  }

  /** The file is complete at `bytes` bytes: copy to there, then end the writer. */
  end (bytes: number): void {
    if (this.#final !== undefined) return
    if (bytes < this.#written) {
      this.destroy(ioError(new Error(`it holds ${bytes} bytes, ${this.#written} were written`), 'cannot read', this.path))
      return
    }
    this.#final = bytes
    this.#written = bytes
    this.#pull()
  }

  /** Stop copying; the writer is destroyed with `err` (a store's writer then aborts its upload). */
  destroy (err?: Error): void {
    this.#stop()
    this.#target.destroy(err)
  }

  #pull (): void {
    const fd = this.#fd
    if (this.#reading || this.#stopped || fd === undefined) return
    if (this.#at >= this.#written) {
      if (this.#final !== undefined && !this.#ended) {
        this.#ended = true
        this.#target.end()
      }
      return
    }
    let buffer = this.#free.pop()
    if (buffer === undefined) {
      // Both buffers are with the writer: its callback reads on.
      if (this.#allocated === BUFFERS) return
      this.#allocated++
      // A sealed file of a few bytes gets a buffer of those bytes: 1 MiB each (V8 counts it) set off a full
      // collection every ~60 files of a directory's backlog, each marking a heap that holds the whole queue.
      buffer = Buffer.allocUnsafeSlow(this.#final === undefined ? READ_SIZE : Math.min(READ_SIZE, this.#final - this.#at))
    }
    this.#reading = true
    const length = Math.min(buffer.length, this.#written - this.#at)
    const into = buffer
    fs.read(fd, into, 0, length, this.#at, (err, bytesRead) => {
      this.#reading = false
      if (this.#stopped) {
        this.#close()
        return
      }
      if (err === null && bytesRead === 0) err = new Error(`it ends at byte ${this.#at}, ${this.#written} were written`)
      if (err !== null) {
        this.destroy(ioError(err, 'cannot read', this.path))
        return
      }
      this.#at += bytesRead
      this.#target.write(bytesRead === into.length ? into : into.subarray(0, bytesRead), (error?: Error | null) => {
        // Taken (copied into a part): the buffer may be read into again. A failed write is reported by `done`.
        if (error !== undefined && error !== null) return
        this.#free.push(into)
        this.#pull()
      })
      this.#pull()
    })
  }

  #stop (): void {
    this.#stopped = true
    // A read under way still uses the descriptor: it is closed when that read returns.
    if (!this.#reading) this.#close()
  }

  #close (): void {
    const fd = this.#fd
    this.#fd = undefined
    if (fd !== undefined) fs.close(fd, () => {})
  }
}
