/**
 * A `readonly` server's view of a shared store (S3): every collector's
 * published runs (run-publisher.ts), refreshed by polling the index objects,
 * read block by block with ranged GETs and merged like local runs. Events
 * still in a collector's memtable are not visible until it flushes and
 * publishes (collectors flush at least every flush interval).
 */
import { ShoeboxError, type ShoeboxErrorCode } from '../../errors.js'
import type { Store } from '../../store/store.js'
import type { EventBackend, ReadOptions } from './event-backend.js'
import { mergeLimited } from './merge.js'
import { readLines, runSource } from './read-lines.js'
import { readRunBlocks, runMayHold, type BlockReader, type RunInfo } from './run-file.js'
import { runKey, type PublishedIndex } from './run-publisher.js'
import { compareKeys, lowestTime, type EventRange, type StoredEvent } from './stored-event.js'

interface RemoteRun {
  collector: string
  run: RunInfo
}

export class RemoteRuns implements EventBackend {
  readonly #store: Store
  #runs: RemoteRun[] = []
  #streams = new Map<string, Set<string>>()
  #timer: NodeJS.Timeout | undefined
  /** The last failed poll (the previous view is kept). */
  lastError: Error | undefined

  private constructor (store: Store) {
    this.#store = store
  }

  /**
   * Load every collector's index now, then again every `pollMs`; a poll that
   * fails keeps the previous view, and is kept in lastError and told to `onError`.
   */
  static async open (store: Store, pollMs: number, onError?: (err: Error) => void): Promise<RemoteRuns> {
    const remote = new RemoteRuns(store)
    await remote.refresh()
    remote.#timer = setInterval(() => {
      remote.refresh().catch((err: Error) => {
        remote.lastError = new ShoeboxError(codeOf(err), `cannot read the collectors' indexes in ${store.url}; the previous view is kept, polled again in ${pollMs} ms: ${err.message}`, { cause: err })
        onError?.(remote.lastError)
      })
    }, pollMs)
    remote.#timer.unref()
    return remote
  }

  /** Read the index objects again; the new view replaces the old in one step. */
  async refresh (): Promise<void> {
    const runs: RemoteRun[] = []
    const streams = new Map<string, Set<string>>()
    for await (const info of this.#store.list('index/')) {
      if (!info.key.endsWith('.json')) continue
      const published = JSON.parse((await readAll(this.#store.get(info.key))).toString('utf8')) as PublishedIndex
      for (const run of published.runs) runs.push({ collector: published.collector, run })
      for (const [ns, names] of Object.entries(published.streams)) {
        const set = streams.get(ns) ?? new Set()
        for (const name of names) set.add(name)
        streams.set(ns, set)
      }
    }
    this.#runs = runs
    this.#streams = streams
  }

  readBatches (ns: string, stream: string, range: EventRange, options: ReadOptions = {}): AsyncGenerator<StoredEvent[]> {
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER
    const descending = options.descending === true
    return this.#merge(this.#select(ns, stream, range, limit), range, descending, limit)
  }

  async * read (ns: string, stream: string, range: EventRange, options: ReadOptions = {}): AsyncGenerator<StoredEvent> {
    for await (const batch of this.readBatches(ns, stream, range, options)) yield * batch
  }

  /** The texts of readBatches()'s events, as a get sends them (read-lines.ts: runs that overlap no other, without a merge). */
  readLines (ns: string, stream: string, range: EventRange, options: ReadOptions = {}): AsyncGenerator<Buffer[]> {
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER
    const descending = options.descending === true
    const runs = this.#select(ns, stream, range, limit)
    return readLines(runs.map((r) => runSource(r.run, range, descending, this.#opener(r))), descending, limit)
  }

  async * #merge (runs: RemoteRun[], range: EventRange, descending: boolean, limit: number): AsyncGenerator<StoredEvent[]> {
    const sources = runs.map((r) => readRunBlocks(r.run, range, descending, this.#opener(r)))
    yield * mergeLimited(sources, compareKeys, descending, limit)
  }

  #select (ns: string, stream: string, range: EventRange, limit: number): RemoteRun[] {
    return limit <= 0 || lowestTime(range) > range.to
      ? []
      : this.#runs.filter((r) => runMayHold(r.run, ns, stream, range))
  }

  /** Ranged GETs of the run's object. */
  #opener (r: RemoteRun): () => Promise<BlockReader> {
    const key = runKey(r.collector, r.run.file)
    return async () => ({
      name: `${this.#store.url}/${key}`,
      read: async (start: number, end: number) => await readAll(this.#store.get(key, { range: { start, end } })),
      close: async () => {}
    })
  }

  streams (ns: string): string[] {
    return [...(this.#streams.get(ns) ?? [])].sort()
  }

  async put (): Promise<void> {
    throw new ShoeboxError('SHOEBOX_USAGE', 'a readonly server over a shared store takes no puts')
  }

  async delete (): Promise<number> {
    throw new ShoeboxError('SHOEBOX_USAGE', 'a readonly server over a shared store takes no deletes')
  }

  async close (): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    await this.#store.close()
  }
}

function codeOf (err: Error): ShoeboxErrorCode {
  return err instanceof ShoeboxError ? err.code : 'SHOEBOX_STORE_FAILED'
}

async function readAll (stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(chunk as Buffer)
  return Buffer.concat(parts)
}
