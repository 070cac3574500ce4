/**
 * metadir(base): one consumer's handle on an mmmeta metadir, tying together
 * its config (`_mmmeta/config.yml`), the state db (`files`), the typed
 * key-value store (`store`) and `update()`, which merges the meta history
 * into the state db (update.ts) and touches `state_last_updated` as mmmeta
 * does when anything changed.
 *
 * `base` defaults to the MMMETA environment variable, then the working
 * directory, as mmmeta's; the metadir is `<base>/_mmmeta`.
 */
import path from 'node:path'
import { ensureDir } from '../fs/durable.js'
import { onReadOnlyMount } from '../fs/read-only-mount.js'
import { reworded, ShoeboxError } from '../errors.js'
import { loadMetaConfig, metaPaths, type MetaConfig, type MetaPaths } from './config.js'
import { listHistoryFiles, replaySet, type HistoryProblem } from './history.js'
import { MetaFiles } from './files.js'
import { MetaStore } from './kv-store.js'
import { openStateDb, type StateDb, type StateSchema } from './state-db.js'
import { mergeHistoryFiles, type UpdateOptions, type UpdateResult } from './update.js'
import { checkKeyCount, historyKeys } from './key-limit.js'
import { checkUpdateOptions } from './run-options.js'

export interface MetadirOptions {
  /** Where the actual files live (default MMMETA_FILES_ROOT, else the base). */
  filesRoot?: string
}

export interface MetadirUpdateOptions extends UpdateOptions {
  /** Told about each history row that could not be applied (file, line, reason). */
  onProblem?: (problem: HistoryProblem) => unknown
}

export class Metadir {
  /** The base directory (MMMETA). */
  readonly base: string
  /** Where the actual files live. */
  readonly filesRoot: string
  readonly paths: MetaPaths
  readonly config: MetaConfig
  readonly files: MetaFiles
  readonly store: MetaStore
  readonly #state: StateDb

  constructor (base: string, filesRoot: string, config: MetaConfig, state: StateDb) {
    this.base = base
    this.filesRoot = filesRoot
    this.paths = metaPaths(base)
    this.config = config
    this.#state = state
    this.files = new MetaFiles(state, config)
    this.store = new MetaStore(this.paths.metadir)
  }

  /** True when `_mmmeta/` is on a read-only mount: the state db is then only read, and update() and save() are refused. */
  get readOnly (): boolean {
    return this.#state.readOnlyMount
  }

  /** The `_mmmeta` directory. */
  get path (): string {
    return this.paths.metadir
  }

  /** Merge the meta history into the state db, in one transaction. */
  async update (options: MetadirUpdateOptions = {}): Promise<UpdateResult> {
    checkUpdateOptions(options)
    this.#state.checkWritable('update it', 'nothing was merged')
    const { onProblem, ...merge } = options
    const files = replaySet(await listHistoryFiles(this.base))
    // Refused before the state db is touched when its files table could not have a column per key.
    const own = options.replace === true ? [] : this.#state.columns()
    checkKeyCount(`the meta db of ${this.base}`, await historyKeys(files), `the state db ${this.paths.state} is unchanged`, own)
    const result = await mergeHistoryFiles(this.#state, files, { ...merge, onProblem })
    if (result.added + result.updated + result.deleted + result.invalid > 0) {
      // the merge is committed by now: its failure (a file in the way of _store/) must not read as a lost update
      await this.store.touch('state_last_updated').catch((err: unknown) => {
        if (!(err instanceof ShoeboxError)) throw err
        throw reworded(err, `${err.message}; the update of ${this.paths.state} is committed (added ${result.added}, updated ${result.updated}, deleted ${result.deleted}), only the store's state_last_updated was not updated`)
      })
    }
    return result
  }

  /** The newest `__state_last_updated` of any row, or null. */
  get stateLastUpdated (): Date | null {
    return this.#newest('__state_last_updated')
  }

  /** The newest `__meta_last_updated` of any row, or null. */
  get metaLastUpdated (): Date | null {
    return this.#newest('__meta_last_updated')
  }

  /**
   * The newest of stateLastUpdated, metaLastUpdated and the store's
   * store_last_updated, ignoring those not set (mmmeta's raised TypeError).
   */
  async lastTouched (): Promise<Date | null> {
    const stored = await this.store.get('store_last_updated', 'timestamp').catch(() => undefined)
    const times = [this.stateLastUpdated, this.metaLastUpdated, stored instanceof Date ? stored : null].filter((d): d is Date => d !== null)
    return times.length === 0 ? null : new Date(Math.max(...times.map((d) => d.getTime())))
  }

  #newest (column: string): Date | null {
    if (!this.#state.has(column)) return null
    const raw = this.#state.db.prepare(`SELECT max(${column}) AS m FROM files`).get() as { m: unknown }
    const value = this.#state.decode({ [column]: raw.m })[column]
    return value instanceof Date ? value : null
  }

  /** Checkpoint and close the state db. */
  close (): void {
    this.#state.close()
  }
}

/** The state db's needs, from the config. */
export function stateSchema (config: MetaConfig): StateSchema {
  return { unique: config.unique, types: config.types, indexes: config.index, required: config.required, keys: config.keys ?? undefined }
}

/**
 * Open the metadir at `base` (creating `_mmmeta/`, `db/`, `_store/` and the state db as mmmeta does). A
 * `_mmmeta/` on a read-only mount is opened as it is, to be read: nothing made, the state db opened read-only.
 */
export async function metadir (base?: string, options: MetadirOptions = {}): Promise<Metadir> {
  const root = path.resolve(base ?? process.env.MMMETA ?? process.cwd())
  const paths = metaPaths(root)
  const readOnlyMount = await onReadOnlyMount(paths.metadir)
  if (!readOnlyMount) for (const dir of [paths.metadir, paths.db, paths.store]) await ensureDir(dir)
  const config = await loadMetaConfig(root)
  const state = await openStateDb(paths.state, stateSchema(config), { readOnlyMount })
  const filesRoot = path.resolve(options.filesRoot ?? process.env.MMMETA_FILES_ROOT ?? root)
  return new Metadir(root, filesRoot, config, state)
}
