/**
 * A collector's side of scale-out on a shared store (S3): after each change
 * of its runs, upload the run files not yet uploaded, then its own index
 * object. Run files are immutable and named uniquely, so their keys are
 * idempotent (a retry uploads the same bytes under the same key); each
 * collector writes only `runs/<id>/...` and `index/<id>.json`, so no two
 * processes ever write one object and no locking is needed. Readers
 * (remote-runs.ts) poll the index objects. A run the collector replaced
 * (merged, rewritten by a delete, expired) is removed from the store once it
 * has been out of the index for `sweepAfterMs`: long enough for every reader
 * to have polled the new index and finished the gets that began before.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Store } from '../../store/store.js'
import type { RunIndex } from './run-index.js'

export function runKey (collector: string, file: string): string {
  return `runs/${collector}/${file}`
}

export function indexKey (collector: string): string {
  return `index/${collector}.json`
}

/** What a collector's index object holds. */
export interface PublishedIndex {
  collector: string
  runs: RunIndex['runs']
  streams: RunIndex['streams']
}

export class RunPublisher {
  readonly #store: Store
  readonly #collector: string
  readonly #runsDir: string
  readonly #sweepAfterMs: number
  readonly #uploaded = new Set<string>()
  /** Uploaded runs no longer in the index, and since when (ms). */
  readonly #obsolete = new Map<string, number>()
  #listed = false

  constructor (store: Store, collector: string, runsDir: string, sweepAfterMs = 3_600_000) {
    this.#store = store
    this.#collector = collector
    this.#runsDir = runsDir
    this.#sweepAfterMs = sweepAfterMs
  }

  /** Upload what `index` has that the store lacks, then the index object (runs first: a reader never sees a run it cannot fetch). */
  async publish (index: RunIndex): Promise<void> {
    if (!this.#listed) {
      // After a restart: what earlier lives of this collector uploaded is in the store, not in memory.
      for await (const info of this.#store.list(`runs/${this.#collector}/`)) this.#uploaded.add(info.key.slice(info.key.lastIndexOf('/') + 1))
      this.#listed = true
    }
    for (const run of index.runs) {
      if (this.#uploaded.has(run.file)) continue
      await this.#store.put(runKey(this.#collector, run.file), fs.createReadStream(path.join(this.#runsDir, run.file)))
      this.#uploaded.add(run.file)
    }
    const published: PublishedIndex = { collector: this.#collector, runs: index.runs, streams: index.streams }
    await this.#store.put(indexKey(this.#collector), JSON.stringify(published), { contentType: 'application/json' })
    await this.#sweep(index)
  }

  async #sweep (index: RunIndex, now = Date.now()): Promise<void> {
    const live = new Set(index.runs.map((r) => r.file))
    for (const file of this.#uploaded) {
      if (live.has(file)) continue
      const since = this.#obsolete.get(file) ?? now
      this.#obsolete.set(file, since)
      if (now - since < this.#sweepAfterMs) continue
      await this.#store.delete(runKey(this.#collector, file))
      this.#uploaded.delete(file)
      this.#obsolete.delete(file)
    }
  }
}
