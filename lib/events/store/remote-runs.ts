/**
 * A `readonly` server's view of a shared store (S3): every collector's
 * published runs (run-publisher.ts), refreshed by polling the index objects,
 * read block by block with ranged GETs and merged like local runs. A packed
 * run's blocks are ranges of its pack, at the run's offset in it plus the
 * block's; a run of its own is its own object (published-index.ts). Events
 * still in a collector's memtable are not visible until it flushes and
 * publishes (collectors flush at least every flush interval).
 */
import { buffer } from 'node:stream/consumers'
import { ShoeboxError, type ShoeboxErrorCode } from '../../errors.js'
import type { Store } from '../../store/store.js'
import type { EventBackend, ReadOptions } from './event-backend.js'
import { mergeLimited } from './merge.js'
import { readLines, runSource } from './read-lines.js'
import { readRunBlocks, runMayHold, type BlockReader } from './run-file.js'
import { compactPublishedRun, parsePublishedIndex, runObject, type PublishedIndex, type PublishedRun } from './published-index.js'
import { RunsByStream } from './run-index.js'
import { compareKeys, lowestTime, type EventRange, type StoredEvent } from './stored-event.js'
import { timerMs } from '../../units.js'

interface RemoteRun {
  collector: string
  run: PublishedRun
}

interface SeenIndex {
  etag: string | undefined
  damage?: ShoeboxError
}

export class RemoteRuns implements EventBackend {
  readonly #store: Store
  /** The index objects of the view, by key. */
  #indexes = new Map<string, PublishedIndex>()
  /** The version of each index object read last (its etag), and what was wrong with it if it was not taken. */
  #seen = new Map<string, SeenIndex>()
  /** Every collector's runs by stream, as the local store chooses a get's runs (run-index.ts). */
  #runs = new RunsByStream<RemoteRun>([], (r) => r.run)
  #streams = new Map<string, Set<string>>()
  #timer: NodeJS.Timeout | undefined
  #polling = false
  /** The last failed poll (the previous view is kept). */
  lastError: Error | undefined
  /** Run entries the gets have looked at (their stream's, checked for the time range): for tests and benches. */
  runsExamined = 0
  /** Index objects read (GETs) by the polls and refreshes: for tests. */
  indexReads = 0

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
    remote.#timer = setInterval(() => { void remote.#poll(pollMs, onError) }, timerMs(pollMs))
    remote.#timer.unref()
    return remote
  }

  /** One poll; not while the one before still runs (finishing later, it would put back an older view). */
  async #poll (pollMs: number, onError: ((err: Error) => void) | undefined): Promise<void> {
    if (this.#polling) return
    this.#polling = true
    let failure: Error | undefined
    try {
      failure = await this.#reload()
    } catch (err) {
      failure = new ShoeboxError(codeOf(err as Error), `cannot read the collectors' indexes in ${this.#store.url}; the previous view is kept, polled again in ${pollMs} ms: ${(err as Error).message}`, { cause: err })
    } finally {
      this.#polling = false
    }
    if (failure === undefined) return
    this.lastError = failure
    onError?.(failure)
  }

  /** Read the index objects again (see #reload); throws SHOEBOX_BAD_RECORD if any is damaged. */
  async refresh (): Promise<void> {
    const damaged = await this.#reload()
    if (damaged !== undefined) throw damaged
  }

  /**
   * Read the index objects again; the new view replaces the old in one step.
   * An object that is not a collector's index (published-index.ts) keeps the
   * version of it the previous view had (none at the first read), and the
   * result is a SHOEBOX_BAD_RECORD naming every such object, once the view of
   * the others is taken: a reader starts only on a clean prefix (open()
   * throws it), and a running one goes on serving every collector it can.
   */
  async #reload (): Promise<ShoeboxError | undefined> {
    const indexes = new Map<string, PublishedIndex>()
    const seen = new Map<string, SeenIndex>()
    const damaged: ShoeboxError[] = []
    let read = false
    for await (const info of this.#store.list('index/')) {
      if (!info.key.endsWith('.json')) continue
      const previous = this.#indexes.get(info.key)
      const before = this.#seen.get(info.key)
      if (before !== undefined && info.etag !== undefined && info.etag !== '' && before.etag === info.etag) {
        // Unchanged since the last poll (the store's version tag): read and parsed again, 37 MB of index for
        // 100,000 runs cost ~0.4 s of CPU at every poll (bench/RESULTS.md, "readonly over a shared store").
        seen.set(info.key, before)
        if (before.damage !== undefined) damaged.push(before.damage)
        if (previous !== undefined) indexes.set(info.key, previous)
        continue
      }
      read = true
      this.indexReads++
      const text = (await buffer(this.#store.get(info.key))).toString('utf8')
      try {
        const published = parsePublishedIndex(text, this.#store.url, info.key)
        // Held until the next poll replaces it: the strings JSON.parse copied per run shared, as in the local index.
        for (const run of published.runs) compactPublishedRun(run)
        indexes.set(info.key, published)
        seen.set(info.key, { etag: info.etag })
      } catch (err) {
        damaged.push(err as ShoeboxError)
        seen.set(info.key, { etag: info.etag, damage: err as ShoeboxError })
        if (previous !== undefined) indexes.set(info.key, previous)
      }
    }
    this.#seen = seen
    if (read || indexes.size !== this.#indexes.size) this.#view(indexes)
    if (damaged.length === 0) return undefined
    return new ShoeboxError('SHOEBOX_BAD_RECORD', damaged.map((e) => e.message).join('; ') +
      `; ${damaged.length === 1 ? 'it is' : `these ${damaged.length} are`} not read (the version read before, if any, is served)`)
  }

  /** Take the indexes as the view: their runs by stream, their streams. */
  #view (indexes: Map<string, PublishedIndex>): void {
    const runs: RemoteRun[] = []
    const streams = new Map<string, Set<string>>()
    for (const published of indexes.values()) {
      for (const run of published.runs) runs.push({ collector: published.collector, run })
      for (const [ns, names] of Object.entries(published.streams)) {
        const set = streams.get(ns) ?? new Set()
        for (const name of names) set.add(name)
        streams.set(ns, set)
      }
    }
    this.#indexes = indexes
    this.#runs = new RunsByStream(runs, (r) => r.run)
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
    if (limit <= 0 || lowestTime(range) > range.to) return []
    const runs = this.#runs.of(ns, stream)
    this.runsExamined += runs.length
    return runs.filter((r) => runMayHold(r.run, ns, stream, range))
  }

  /** Ranged GETs of the run's object, or of its part of its pack. */
  #opener (r: RemoteRun): () => Promise<BlockReader> {
    const { key, offset: at } = runObject(r.collector, r.run)
    return async () => ({
      name: r.run.pack === undefined ? `${this.#store.url}/${key}` : `${this.#store.url}/${key} (run ${r.run.file}, from byte ${at})`,
      read: async (start: number, end: number) => await buffer(this.#store.get(key, { range: { start: at + start, end: at + end } })),
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

