/**
 * A collector's side of scale-out on a shared store (S3): after each change
 * of its runs, upload the run files not yet uploaded, then its own index
 * object. The runs a publish uploads go as one object, a pack
 * (run-pack.ts: the run files one after the other, named by content, under
 * `packs/<id>/`), or a few if they pass 64 MiB; a run file over 4 MiB goes
 * alone, as its own object `runs/<id>/<file>`. So a publish costs a handful
 * of requests whatever the number of runs: a flush of 500 one-event streams
 * cost ~1,000 (a PUT and a HEAD per run). Both go through the sealed-file
 * uploader (roll/uploader.ts: tries with pauses, the stored size verified),
 * a pack from a file made in the runs directory and removed once uploaded,
 * and every run uploaded gets its `.NAME.uploaded` marker beside it (for a
 * packed run, naming the pack and its offset). The keys are idempotent: run
 * files are immutable and named uniquely, and a pack is named by its bytes,
 * so a retry, or a collector killed after a run's fsync and before its
 * upload, writes the same bytes under the same key, never other bytes. Each
 * collector writes only `runs/<id>/...`, `packs/<id>/...` and
 * `index/<id>.json`, so no two processes ever write one object and no
 * locking is needed. The index object names, for each packed run, the pack
 * and the run's offset in it (published-index.ts), and only packs uploaded
 * and verified. Readers (remote-runs.ts) poll the index objects.
 *
 * An object whose runs are all out of the index (the collector replaced them:
 * merged, rewritten by a delete, expired) is removed from the store once the
 * last of them has been out for `sweepAfterMs`: long enough for every reader
 * to have polled the new index and finished the gets that began before. A
 * pack some of whose runs were replaced stays whole (its dead bytes too)
 * until all its runs are. A pack uploaded and never named in an index (the
 * collector killed between the two) is swept the same way from the first
 * publish after the restart, unless that publish packs the same runs again:
 * then it is the same pack, and stays.
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
 * Where each run is stored is learnt at the first publish from the store
 * itself: the index object this collector published last (which names the
 * packs of its runs), and a listing of `runs/<id>/` and `packs/<id>/` (every
 * object earlier lives uploaded, whatever became of their markers: a run
 * uploaded alone is found by its key; a pack named in no index, by the sweep).
 * From then on, it is what the uploaders report.
 */
import fsp from 'node:fs/promises'
import path from 'node:path'
import { buffer } from 'node:stream/consumers'
import { ShoeboxError } from '../../errors.js'
import { orIoError } from '../../fs/io-error.js'
import { plural } from '../../plural.js'
import { SealedUploader, uploadedMarker, type UploaderOptions, type UploadEvent } from '../../roll/uploader.js'
import { prefixedStore } from '../../store/prefixed-store.js'
import type { Store } from '../../store/store.js'
import { inParallel } from './in-parallel.js'
import { checkPublishedIndex, indexKey, packKey, runKey, type PackPlace, type PublishedIndex, type PublishedRun } from './published-index.js'
import type { RunIndex } from './run-index.js'
import { PACK_ALONE_BYTES, PACK_NAME, planPacks, writePack, type PackFile } from './run-pack.js'
import type { RunInfo } from './run-file.js'

export interface PublisherOptions {
  /** This data directory's token: the index object names it, and one naming another is refused (see above). */
  instance: string
  /** How long an object whose runs were all replaced stays in the store. Default 1h. */
  sweepAfterMs?: number
  upload?: UploaderOptions
}

/** Where a run is stored: the object's key (from the store's root), and its place in it if that is a pack. */
interface StoredRun {
  key: string
  pack?: PackPlace
}

/** Markers of packed runs written at once (each a small file write). */
const MARKER_WRITERS = 4

export class RunPublisher {
  readonly #store: Store
  readonly #collector: string
  readonly #instance: string
  readonly #runsDir: string
  readonly #sweepAfterMs: number
  /** Run files too large to pack, each to `runs/<id>/<file>`. */
  readonly #runUploader: SealedUploader
  /** Pack files, each to `packs/<id>/<name>`, removed once verified. */
  readonly #packUploader: SealedUploader
  /** Where each uploaded run still in the index is stored. */
  readonly #stored = new Map<string, StoredRun>()
  /**
   * Every object of this collector in the store, by key, with since when (ms) none of its runs is in the index, if
   * so. On the monotonic clock (performance.now()), as the wait of sweepAfterMs is: on Date.now(), a wall clock
   * stepped forward past it deleted them at once, under readers still reading them by the index they last polled.
   */
  readonly #objects = new Map<string, number | undefined>()
  /** Packs the pack uploader has uploaded and verified, not yet taken by publish(). */
  readonly #packsUploaded = new Set<string>()
  #learnt = false
  /** The multipart uploads a killed process left open are aborted (#abortLeftUploads). */
  #leftAborted = false

  constructor (store: Store, collector: string, runsDir: string, options: PublisherOptions) {
    this.#store = store
    this.#collector = collector
    this.#instance = options.instance
    this.#runsDir = runsDir
    this.#sweepAfterMs = options.sweepAfterMs ?? 3_600_000
    this.#runUploader = new SealedUploader(runsDir, prefixedStore(store, `runs/${collector}`), { ...options.upload })
    this.#runUploader.on('upload', (event: UploadEvent) => {
      const key = runKey(this.#collector, event.key)
      this.#stored.set(event.key, { key })
      this.#objects.set(key, undefined)
    })
    this.#packUploader = new SealedUploader(runsDir, prefixedStore(store, `packs/${collector}`), { ...options.upload, deleteLocal: true })
    this.#packUploader.on('upload', (event: UploadEvent) => { this.#packsUploaded.add(event.key) })
  }

  /** Upload what `index` has that the store lacks, then the index object (runs first: a reader never sees a run it cannot fetch). */
  async publish (index: RunIndex): Promise<void> {
    const previous = await this.claim()
    const leftOpen = this.#leftAborted ? undefined : await this.#abortLeftUploads()
    if (!this.#learnt) {
      await this.#learn(previous)
      this.#learnt = true
    }
    const missing = (): RunInfo[] => index.runs.filter((run) => !this.#stored.has(run.file))
    const failure = await this.#upload(missing())
    const left = missing()
    if (left.length > 0) {
      // Kept on disk (no marker): the next change publishes again, and tries them again.
      throw new ShoeboxError('SHOEBOX_STORE_FAILED', `${plural(left.length, 'run file')} of collector ${this.#collector} not uploaded to ${this.#store.url} (first: ${left[0].file}); the index object was not changed` +
        (failure === undefined ? '' : `: ${failure.message}`), { cause: failure })
    }
    const runs = index.runs.map((run): PublishedRun => {
      const pack = this.#stored.get(run.file)?.pack
      return pack === undefined ? run : { ...run, pack }
    })
    const published: PublishedIndex = { collector: this.#collector, instance: this.#instance, runs, streams: index.streams }
    await this.#store.put(indexKey(this.#collector), JSON.stringify(published), { contentType: 'application/json' })
    await this.#sweep(index)
    // Said once the runs are published: an abort that failed holds up no run.
    if (leftOpen !== undefined) throw leftOpen
  }

  /**
   * When the first object whose runs all left the index (as of the last
   * publish) is due to be deleted (performance.now()'s ms), if any: a collector
   * with no new events sweeps then (sweep()), as a publish would.
   */
  sweepDueAt (): number | undefined {
    let due: number | undefined
    for (const deadSince of this.#objects.values()) {
      if (deadSince !== undefined && (due === undefined || deadSince + this.#sweepAfterMs < due)) due = deadSince + this.#sweepAfterMs
    }
    return due
  }

  /**
   * Delete the objects due (sweepDueAt()) without publishing: a collector
   * that takes no events would otherwise keep them for ever, since only a
   * publish swept. Claims the collector id first (claim()), as a publish
   * does: a data directory whose id another has taken deletes nothing.
   * Not while a publish runs (the event store runs one at a time).
   */
  async sweep (now = performance.now()): Promise<void> {
    await this.claim()
    await this.#deleteDue(now)
  }

  /**
   * After a restart: abort the multipart uploads the last life left open
   * (a collector killed while a pack or a run over the part size uploaded),
   * which no later upload would (a pack's file is removed at open, and the
   * next publish may pack other runs). Each uploader aborts those of its own
   * files, by their `.uploading` notes (roll/uploader.ts): a pack's upload is
   * under `packs/<id>/`, a run's under `runs/<id>/`. A failure is returned,
   * to be thrown once the publish is done, and tried again by the next.
   */
  async #abortLeftUploads (): Promise<ShoeboxError | undefined> {
    const isPack = (name: string): boolean => PACK_NAME.test(name)
    const failures = [
      ...await this.#packUploader.dropLeftMarkers(isPack),
      ...await this.#runUploader.dropLeftMarkers((name) => !isPack(name))
    ]
    if (failures.length === 0) {
      this.#leftAborted = true
      return undefined
    }
    const [name, err] = failures[0]
    return new ShoeboxError('SHOEBOX_STORE_FAILED', `the uploader's markers of ${plural(failures.length, 'file')} gone from ${this.#runsDir} not cleared (first: ${name}'s; ` +
      `one naming a multipart upload collector ${this.#collector} left open in ${this.#store.url} aborts it): ${err.message}; the runs are published, the markers kept, and the next publish tries again`, { cause: err })
  }

  /**
   * Throw SHOEBOX_INVALID_OPTION if this collector's index object was
   * published by another instance (another data directory under the same id).
   * None yet, one of ours, one from before instances were written, or one
   * too damaged to say: ours to write. Resolves with the object, if it is a
   * collector's index (published-index.ts).
   */
  async claim (): Promise<PublishedIndex | undefined> {
    const key = indexKey(this.#collector)
    let text: string
    try {
      text = (await buffer(this.#store.get(key))).toString('utf8')
    } catch (err) {
      if ((err as ShoeboxError).code === 'SHOEBOX_NOT_FOUND') return undefined
      throw err
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      return undefined
    }
    const owner = (value as { instance?: unknown } | null)?.instance
    if (owner !== undefined && owner !== this.#instance) {
      throw new ShoeboxError('SHOEBOX_INVALID_OPTION', `collector id ${this.#collector} is taken in ${this.#store.url}: ${key} is published by another data directory ` +
        `(instance ${String(owner)}, this one is ${this.#instance}); nothing was uploaded. Give each collector its own --collector-id, or leave it out to have one made`)
    }
    try {
      return checkPublishedIndex(value, this.#store.url, key)
    } catch {
      return undefined
    }
  }

  /**
   * After a restart: where earlier lives of this collector stored its runs.
   * Every object under its keys, whatever its markers say; a run uploaded
   * alone by its key; a packed run by the index object it published last,
   * if the pack it names is there (an index naming a pack that is gone
   * has that run uploaded again).
   */
  async #learn (previous: PublishedIndex | undefined): Promise<void> {
    for await (const info of this.#store.list(`runs/${this.#collector}/`)) {
      this.#stored.set(info.key.slice(info.key.lastIndexOf('/') + 1), { key: info.key })
      this.#objects.set(info.key, undefined)
    }
    for await (const info of this.#store.list(`packs/${this.#collector}/`)) this.#objects.set(info.key, undefined)
    for (const run of previous?.runs ?? []) {
      if (run.pack === undefined) continue
      const key = packKey(this.#collector, run.pack.file)
      if (this.#objects.has(key)) this.#stored.set(run.file, { key, pack: run.pack })
    }
  }

  /**
   * Upload `runs`: the large ones alone, the others packed; resolves once
   * every upload is verified or has failed (those runs are not in #stored
   * then), with a failure that says why, if any.
   */
  async #upload (runs: RunInfo[]): Promise<Error | undefined> {
    for (const run of runs) if (run.bytes > PACK_ALONE_BYTES) this.#runUploader.enqueue(path.join(this.#runsDir, run.file))
    const packs: PackFile[] = []
    let failure: Error | undefined
    try {
      for (const group of planPacks(runs.filter((run) => run.bytes <= PACK_ALONE_BYTES))) {
        const pack = await writePack(this.#runsDir, group)
        packs.push(pack)
        this.#packUploader.enqueue(pack.path)
      }
    } catch (err) {
      // A run file that cannot be packed (a full disk): the packs made so far are still uploaded; these runs wait for the next publish.
      failure = err as Error
    }
    try {
      const [runsFailure] = await Promise.all([this.#runUploader.drain(), this.#packUploader.drain()])
      failure ??= runsFailure
      const uploaded = packs.filter((pack) => this.#packsUploaded.delete(pack.name))
      for (const pack of packs) {
        // A pack's name is its content: one that failed is forgotten (its runs may never make that pack again).
        failure ??= this.#packUploader.failed.get(pack.name)
        this.#packUploader.failed.delete(pack.name)
      }
      for (const pack of uploaded) await this.#packed(pack).catch((err: Error) => { failure ??= err })
    } finally {
      // A pack that failed is made again by the next publish (one uploaded is removed by its uploader).
      for (const pack of packs) await fsp.rm(pack.path, { force: true })
    }
    return failure
  }

  /**
   * `pack` is uploaded and verified: its runs get their markers (as a run
   * uploaded alone does from the uploader), then count as stored. A marker
   * that cannot be written (SHOEBOX_IO naming it) leaves the pack's runs
   * unstored: a run the index names always has its marker, and the next
   * publish packs them again (the same pack, if they are the same runs).
   */
  async #packed (pack: PackFile): Promise<void> {
    const key = packKey(this.#collector, pack.name)
    this.#objects.set(key, undefined)
    const at = new Date().toISOString()
    try {
      await inParallel(pack.runs, MARKER_WRITERS, async ({ run, offset }) => {
        const marker = uploadedMarker(this.#runsDir, run.file)
        await orIoError(fsp.writeFile(marker, JSON.stringify({ key, offset, bytes: run.bytes, at }) + '\n'), 'cannot mark a packed run uploaded', marker)
      })
    } catch (err) {
      const error = err as ShoeboxError
      throw new ShoeboxError(error.code, `${error.message}; its pack ${key} is stored, and its runs are packed again by the next publish`, { cause: err })
    }
    for (const { run, offset } of pack.runs) this.#stored.set(run.file, { key, pack: { file: pack.name, offset } })
  }

  async #sweep (index: RunIndex, now = performance.now()): Promise<void> {
    const files = new Set(index.runs.map((r) => r.file))
    const live = new Set<string>()
    for (const [file, stored] of this.#stored) {
      if (files.has(file)) {
        live.add(stored.key)
        continue
      }
      this.#stored.delete(file)
      // The run file itself is gone (or going) from the runs directory; its marker goes too.
      await fsp.rm(uploadedMarker(this.#runsDir, file), { force: true })
    }
    for (const [key, deadSince] of this.#objects) this.#objects.set(key, live.has(key) ? undefined : deadSince ?? now)
    await this.#deleteDue(now)
  }

  /** Delete every object whose runs have all been out of the index for sweepAfterMs by `now`. */
  async #deleteDue (now: number): Promise<void> {
    for (const [key, deadSince] of this.#objects) {
      if (deadSince === undefined || now - deadSince < this.#sweepAfterMs) continue
      await this.#store.delete(key)
      this.#objects.delete(key)
    }
  }
}
