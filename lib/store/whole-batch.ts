/**
 * Small files read whole in batches, for FileStore.getWhole(): the reads
 * asked for in one turn of the event loop (a reader opening the next files
 * ahead asks for them together) go to the native addon's readSmallFiles()
 * in one call, up to `size` files at a time (FileStore's WHOLE_BATCH), each
 * call one thread-pool job that opens, fstats, reads and closes every file.
 * Loaded by the first getWhole(), not at import (test/startup-lazy.test.ts).
 *
 * Why: reading 10,000 one-record archives, each file's open and read were
 * thread-pool round trips with a JS callback each; with the listing's stat,
 * those callbacks and the waits between them were about half of the main
 * thread's time (bench/RESULTS.md), where `cat` pays the same calls in C.
 *
 * A file the batch did not read whole (it could not be opened or read, is
 * no regular file, is over the cap, or grew past the size expected), or
 * that was asked for alone in its turn, is given as null: the caller reads
 * it as it would have without the batch, which gives the same error, or
 * the same stream, as it always did.
 *
 * Bounded: a batch holds at most `size` x (cap + 1) bytes, in one
 * allocation its files' Buffers share (as Buffer.allocUnsafe's pool is
 * shared by small Buffers): a record kept from one file keeps its batch's
 * bytes. Without the addon (not built, Windows, SHOEBOX_NATIVE=0) there is
 * no batch (wholeBatch() is null), and every file is read on its own.
 */
import { SMALL_FILE_BYTES } from '../fs/read-size.js'
import { loadNativeFiles, SMALL_FILE_STRIDE, SmallFileOutcome, type NativeFiles } from '../native.js'

/** A file read whole by a batch. */
export interface BatchedFile {
  bytes: Buffer
  /** fstat's size and mtime (ms) when it was opened. */
  size: number
  mtimeMs: number
}

interface Wanted {
  file: string | Buffer
  expected: number | undefined
  resolve: (read: BatchedFile | null) => void
}

export class WholeBatch {
  readonly #native: NativeFiles
  readonly #size: number
  readonly #cap: number
  #pending: Wanted[] = []

  /** Batches of at most `size` of `native`'s reads of files of at most `cap` bytes. */
  constructor (native: NativeFiles, size: number, cap: number) {
    this.#native = native
    this.#size = size
    this.#cap = cap
  }

  /**
   * `file`'s bytes (`expected` of them as sized beforehand, or as many as
   * fstat says), read in the batch of this turn; null where the caller must
   * read it itself (see the header). Never rejects.
   */
  async read (file: string | Buffer, expected: number | undefined): Promise<BatchedFile | null> {
    return await new Promise((resolve) => {
      if (this.#pending.length === 0) queueMicrotask(() => { this.#flush() })
      this.#pending.push({ file, expected, resolve })
    })
  }

  #flush (): void {
    const pending = this.#pending
    this.#pending = []
    for (let i = 0; i < pending.length; i += this.#size) {
      const batch = pending.slice(i, i + this.#size)
      // A file asked for alone is read as it always was (its own open and read): a batch is for many.
      if (batch.length === 1) batch[0].resolve(null)
      else this.#readBatch(batch)
    }
  }

  #readBatch (batch: Wanted[]): void {
    const files: Array<string | Buffer> = []
    const expected = new Float64Array(batch.length)
    for (const [i, wanted] of batch.entries()) {
      files.push(wanted.file)
      expected[i] = wanted.expected ?? -1
    }
    let call: Promise<{ bytes: Buffer, results: Float64Array }>
    try {
      call = this.#native.readSmallFiles(files, expected, this.#cap)
    } catch {
      call = Promise.reject(new Error('not queued'))
    }
    call.then(({ bytes, results }) => {
      for (const [i, { resolve }] of batch.entries()) {
        const at = i * SMALL_FILE_STRIDE
        if (results[at] !== SmallFileOutcome.read) {
          resolve(null)
          continue
        }
        const offset = results[at + 1]
        resolve({ bytes: bytes.subarray(offset, offset + results[at + 2]), size: results[at + 3], mtimeMs: results[at + 4] })
      }
    }, () => {
      // The job could not run (no memory, not queued): each file is read on its own, as without the addon.
      for (const { resolve } of batch) resolve(null)
    })
  }
}

let shared: WholeBatch | null | undefined

/** The process's batches of `size` reads of small files (SMALL_FILE_BYTES at most), or null without the native addon. */
export function wholeBatch (size: number): WholeBatch | null {
  if (shared === undefined) {
    const native = loadNativeFiles()
    shared = native === null ? null : new WholeBatch(native, size, SMALL_FILE_BYTES)
  }
  return shared
}
