/**
 * The upload of a file while the rolling sink still writes it.
 *
 * A file's key is its name, and the planner names the file when it creates
 * it (the temporary name says what it will be called), so the upload can
 * start then: the store's writer (a multipart upload on S3) reads the file
 * as it grows (growing-file.ts), each part leaving once the file has passed
 * it, and only the last part and the completion wait for sealing. A file's
 * upload then ends moments after the file does, instead of starting then.
 * It starts once the file has more than a part (a store writer sends nothing
 * sooner).
 *
 * It is only a head start, never the record: the sealed file stays the
 * source of truth and the uploader (uploader.ts) still verifies the object
 * against it. Anything else (a failed part, a file sealed under another
 * name because its name was taken, a close) abandons it: the writer aborts
 * its multipart upload, and the sealed file is uploaded as any other. Its
 * intent, then its upload id, is noted in the final name's
 * `.NAME.uploading` marker, before the upload is asked for and the moment
 * its id is assigned, so an upload a crash left open is aborted when the
 * recovered file is shipped at the next start.
 */
import fs from 'node:fs'
import type { ObjectWriter, PutResult, Store, WriterOptions } from '../store/store.js'
import { GrowingFile } from './growing-file.js'
import { noteIntent, noteUpload, uploadEnded } from './upload-marker.js'
import { removeMarker, UPLOADED_AGAIN } from './uploader.js'

export class EarlyUpload {
  /** The key: the name the file is planned to be sealed as. */
  readonly name: string
  readonly tempPath: string
  /** When the upload began (performance.now(): monotonic, for the upload event's ms), once it has. */
  started = 0
  readonly #store: Store
  readonly #marker: string
  readonly #options: WriterOptions
  /** Bytes written before the upload starts (see the constructor). */
  readonly #startAt: number
  #source: GrowingFile | undefined
  #done: Promise<PutResult> | undefined
  #written = 0
  /** The multipart upload's id, once the server has assigned one. */
  #uploadId: string | undefined
  /** The marker's note of intent (upload-marker.ts), written before the upload is created. */
  #intent: string | undefined

  /**
   * Upload `tempPath` (just created) to `name` once more than `startAt`
   * bytes are written (a part size: a store's writer sends nothing before a
   * whole part is there). `marker` is where the multipart upload's id is
   * noted; it is removed once the writer has completed or aborted that upload.
   */
  constructor (store: Store, tempPath: string, name: string, marker: string, options: WriterOptions & { startAt: number }) {
    this.name = name
    this.tempPath = tempPath
    this.#store = store
    this.#marker = marker
    const { startAt, ...writerOptions } = options
    this.#startAt = startAt
    this.#options = writerOptions
  }

  /** True once the upload has started (more than `startAt` bytes were written). */
  get begun (): boolean {
    return this.#done !== undefined
  }

  #start (): void {
    let fd: number
    try {
      // Synchronous on purpose: called as a block of the file is written, so the file still has its temporary name.
      fd = fs.openSync(this.tempPath, 'r')
    } catch {
      // Not uploading early is never an error: the sealed file is uploaded as any other.
      return
    }
    this.started = performance.now()
    const name = this.name
    const marker = this.#marker
    try {
      // Before the upload is asked for: one the server creates but whose id never reaches this process (killed) is found from it.
      this.#intent = noteIntent(marker, name)
    } catch {
      fs.closeSync(fd)
      return
    }
    const writer = this.#store.writer(name, {
      ...this.#options,
      // Synchronous on purpose: the id is on disk before any part is sent.
      onMultipartUpload: (uploadId) => {
        this.#uploadId = uploadId
        noteUpload(marker, name, uploadId)
      }
    })
    const source = new GrowingFile(this.tempPath, fd, writer)
    source.grow(this.#written)
    this.#source = source
    const done = this.#run(source, writer)
    // A failure is reported by result(); until it is asked for, it is not unhandled.
    done.catch(() => {})
    this.#done = done
  }

  async #run (source: GrowingFile, writer: ObjectWriter): Promise<PutResult> {
    try {
      await source.done
    } finally {
      // The writer has completed or aborted its multipart upload either way by now.
      await removeMarker(this.#marker, `the upload marker of ${this.tempPath}, to be sealed as ${this.name}`, UPLOADED_AGAIN).finally(() => {
        // Only once the marker is gone: an uploader of this process reading it meanwhile would take it for a dead one's.
        uploadEnded(this.#uploadId)
        uploadEnded(this.#intent)
      })
    }
    return writer.result as PutResult
  }

  /** `bytes` more bytes of the file are written. */
  grew (bytes: number): void {
    this.#written += bytes
    if (this.#source !== undefined) this.#source.grow(this.#written)
    else if (this.#written > this.#startAt) this.#start()
  }

  /**
   * The file is sealed under this upload's name with `bytes` bytes: send the
   * rest, complete the upload, and resolve with what the store confirmed.
   * Rejects if any part of it failed. Only once begun.
   */
  async result (bytes: number): Promise<PutResult> {
    this.#source?.end(bytes)
    return await (this.#done as Promise<PutResult>)
  }

  /** Give it up (the file was sealed under another name, or the uploader closes): the upload is aborted. */
  async abandon (): Promise<void> {
    this.#source?.destroy()
    await this.#done?.catch(() => {})
  }
}
