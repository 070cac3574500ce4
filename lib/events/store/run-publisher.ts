/**
 * A collector's side of scale-out on a shared store (S3): after each change
 * of its runs, upload the run files not yet uploaded, then its own index
 * object. The run files go through the sealed-file uploader
 * (roll/uploader.ts: tries with pauses, the stored size verified, a
 * `.NAME.uploaded` marker beside the file), each to the key of its own
 * name under `runs/<id>/`: run files are immutable and named uniquely, so
 * the keys are idempotent (a retry, or a collector killed after a run's
 * fsync and before its upload, uploads the same bytes under the same key
 * after its restart). Each collector writes only `runs/<id>/...` and
 * `index/<id>.json`, so no two processes ever write one object and no
 * locking is needed. Readers (remote-runs.ts) poll the index objects. A run
 * the collector replaced (merged, rewritten by a delete, expired) is
 * removed from the store once it has been out of the index for
 * `sweepAfterMs`: long enough for every reader to have polled the new index
 * and finished the gets that began before.
 *
 * "No two processes write one object" holds only while every collector has
 * its own id, and an id is an option an operator can give twice (two hosts,
 * one `--collector-id`; a data directory wiped and started again under its
 * old id). Then both would write `runs/<id>/0000000001.shoebox` and the index
 * object, each overwriting the other's acknowledged events. So a data
 * directory has an instance token of its own, written into the index object;
 * before uploading anything a publish reads the index object back and refuses
 * (SHOEBOX_INVALID_OPTION, naming the id and the store) if another instance
 * published it. One GET per publish; two collectors started with one id
 * within one publish of each other can still both pass the check once
 * (S3 offers no compare-and-swap here), and the next publish of one of them
 * refuses.
 *
 * What is uploaded is learnt from the store itself at the first publish (a
 * listing of `runs/<id>/`: it holds what earlier lives of this collector
 * uploaded whatever became of their markers), then from the uploader.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { buffer } from 'node:stream/consumers'
import { ShoeboxError } from '../../errors.js'
import { plural } from '../../plural.js'
import { SealedUploader, uploadedMarker, type UploaderOptions, type UploadEvent } from '../../roll/uploader.js'
import { prefixedStore } from '../../store/prefixed-store.js'
import type { Store } from '../../store/store.js'
import { indexKey, runKey, type PublishedIndex } from './published-index.js'
import type { RunIndex } from './run-index.js'

export interface PublisherOptions {
  /** This data directory's token: the index object names it, and one naming another is refused (see above). */
  instance: string
  /** How long a replaced run stays in the store. Default 1h. */
  sweepAfterMs?: number
  upload?: UploaderOptions
}

export class RunPublisher {
  readonly #store: Store
  readonly #collector: string
  readonly #instance: string
  readonly #runsDir: string
  readonly #sweepAfterMs: number
  readonly #uploader: SealedUploader
  readonly #uploaded = new Set<string>()
  /** Uploaded runs no longer in the index, and since when (ms). */
  readonly #obsolete = new Map<string, number>()
  #listed = false

  constructor (store: Store, collector: string, runsDir: string, options: PublisherOptions) {
    this.#store = store
    this.#collector = collector
    this.#instance = options.instance
    this.#runsDir = runsDir
    this.#sweepAfterMs = options.sweepAfterMs ?? 3_600_000
    this.#uploader = new SealedUploader(runsDir, prefixedStore(store, `runs/${collector}`), { ...options.upload })
    this.#uploader.on('upload', (event: UploadEvent) => { this.#uploaded.add(event.key) })
  }

  /** Upload what `index` has that the store lacks, then the index object (runs first: a reader never sees a run it cannot fetch). */
  async publish (index: RunIndex): Promise<void> {
    await this.claim()
    if (!this.#listed) {
      // After a restart: what earlier lives of this collector uploaded is in the store, not in memory.
      for await (const info of this.#store.list(`runs/${this.#collector}/`)) this.#uploaded.add(info.key.slice(info.key.lastIndexOf('/') + 1))
      this.#listed = true
    }
    const missing = (): RunIndex['runs'] => index.runs.filter((run) => !this.#uploaded.has(run.file))
    for (const run of missing()) this.#uploader.enqueue(path.join(this.#runsDir, run.file))
    const failure = await this.#uploader.drain()
    const left = missing()
    if (left.length > 0) {
      // Kept queued on disk (no marker): the next change publishes again, and tries them again.
      throw new ShoeboxError('SHOEBOX_STORE_FAILED', `${plural(left.length, 'run file')} of collector ${this.#collector} not uploaded to ${this.#store.url} (first: ${left[0].file}); the index object was not changed` +
        (failure === undefined ? '' : `: ${failure.message}`), { cause: failure })
    }
    const published: PublishedIndex = { collector: this.#collector, instance: this.#instance, runs: index.runs, streams: index.streams }
    await this.#store.put(indexKey(this.#collector), JSON.stringify(published), { contentType: 'application/json' })
    await this.#sweep(index)
  }

  /**
   * Throw SHOEBOX_INVALID_OPTION if this collector's index object was
   * published by another instance (another data directory under the same id).
   * None yet, one of ours, one from before instances were written, or one
   * too damaged to say: ours to write.
   */
  async claim (): Promise<void> {
    let text: string
    try {
      text = (await buffer(this.#store.get(indexKey(this.#collector)))).toString('utf8')
    } catch (err) {
      if ((err as ShoeboxError).code === 'SHOEBOX_NOT_FOUND') return
      throw err
    }
    let owner: unknown
    try {
      owner = (JSON.parse(text) as { instance?: unknown }).instance
    } catch {
      return
    }
    if (owner === undefined || owner === this.#instance) return
    throw new ShoeboxError('SHOEBOX_INVALID_OPTION', `collector id ${this.#collector} is taken in ${this.#store.url}: ${indexKey(this.#collector)} is published by another data directory ` +
      `(instance ${String(owner)}, this one is ${this.#instance}); nothing was uploaded. Give each collector its own --collector-id, or leave it out to have one made`)
  }

  async #sweep (index: RunIndex, now = Date.now()): Promise<void> {
    const live = new Set(index.runs.map((r) => r.file))
    for (const file of this.#uploaded) {
      if (live.has(file)) continue
      if (!this.#obsolete.has(file)) {
        this.#obsolete.set(file, now)
        // The run file itself is gone (or going) from the runs directory; its marker goes too.
        await fsp.rm(uploadedMarker(this.#runsDir, file), { force: true })
      }
      if (now - (this.#obsolete.get(file) as number) < this.#sweepAfterMs) continue
      await this.#store.delete(runKey(this.#collector, file))
      this.#uploaded.delete(file)
      this.#obsolete.delete(file)
    }
  }
}
