/**
 * metaIngest(): the publisher step (mmmeta's `generate`, spec §4.1) as a
 * Writable of metadata objects. Each object is flattened, projected onto the
 * configured keys, validated (required keys present and non-empty) and
 * upserted by the unique key into the replayed history (held in a scratch
 * SQLite file, ingest-scratch.ts, not in memory); on `final` ONE
 * `.append` diff (or, with `replace`, one `.squashed` snapshot) is written
 * atomically, holding the publisher lock from start to end, so two
 * publishers never interleave and each diffs against the other's result.
 *
 * Fixes over mmmeta (spec §11): exact values (flatten.ts); deterministic
 * diff files (columns sorted, unique key first, rows by unique key,
 * `__mmmeta_keys` sorted); a file that reappears is undeleted; rows already
 * deleted are not deleted again by `ensure`; a key an object no longer has
 * is set to null (a removed key propagates), bookkeeping keys (`__*`) aside;
 * `replace` never leaves an empty db/: the snapshot is written first, then
 * the older files are removed.
 *
 * Invalid objects are counted and reported by an `invalid` event naming the
 * origin (file, line) a source attached with withOrigin(); the valid ones
 * are all kept.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { Writable } from 'node:stream'
import { invalidOption, reworded, ShoeboxError } from '../errors.js'
import { ensureDir } from '../fs/durable.js'
import { ioError } from '../fs/io-error.js'
import { loadMetaConfig, metaPaths, missingKeys, projectRow, type MetaConfig } from './config.js'
import { flattenMetadata, type MetaRow } from './flatten.js'
import { listHistoryFiles, MMMETA_KEYS, MMMETA_ROW_ID, metaTimestamp, nowMicros, replaySet, type HistoryFile, type HistoryProblem } from './history.js'
import { BEFORE, IngestScratch, SEEN } from './ingest-scratch.js'
import { ADDED, DELETED, DELETED_AT, DELETED_REASON, LAST_UPDATED, isDeleted, mergeObject } from './ingest-merge.js'
import type { RawRow, ReplayTable } from './replay-table.js'
import { removeStaleTemporaries, writeHistoryFile, writeHistoryLines, type WrittenHistoryFile } from './history-writer.js'
import { FreshScratch, type Duplicate } from './fresh-scratch.js'
import { acquirePublishLock, type LockHolder, type PublishLock } from './publish-lock.js'
import { originOf, UnreadableMetadata, type MetaOrigin } from './origin.js'
import { keyDict } from '../key-dict.js'
import { checkKeyCount } from './key-limit.js'
import { MetaStore } from './kv-store.js'
import { checkFlag } from '../units.js'
import { lockWaitOption, microsOption } from './run-options.js'
import { asciiLower } from './state-db.js'
import { lateEnd, LateWrites } from '../stream/deliver-then-fail.js'

export interface InvalidMetadata extends MetaOrigin {
  uid?: string
  reason: string
}

export interface MetaIngestOptions {
  /** The config (default: `<base>/_mmmeta/config.yml`). */
  config?: MetaConfig
  /** Start from an empty history; the result is written as one `.squashed`, then older files are removed. */
  replace?: boolean
  /** Soft-delete rows no object named in this run (reason `meta-missing`). */
  ensure?: boolean
  /** Soft-delete rows whose `<filesRoot>/<file_name>` does not exist (reason `original-missing`). */
  ensureFiles?: boolean
  /** Where the actual files live (default `base`). */
  filesRoot?: string
  /** How long to wait for another publisher's lock: ms or a duration ('30s'). Default 60000. */
  lockWait?: number | string
  /** fsync the new file and db/ (default true). */
  fsync?: boolean
  /** The run's time, µs since the epoch, a whole number (default now). */
  micros?: number
}

export interface MetaIngestResult {
  added: number
  updated: number
  deleted: number
  skipped: number
  invalid: number
  /** The file written, or null when nothing changed. */
  file: WrittenHistoryFile | null
  /** Rows in the meta db after the run. */
  rows: number
}

type WriteCallback = (error: Error | null | undefined) => void

export class MetaIngest extends Writable {
  readonly base: string
  readonly #options: MetaIngestOptions
  #config: MetaConfig | undefined
  #scratch: IngestScratch | undefined
  /** Instead of #scratch when the meta db is empty (not with `replace`): fresh-scratch.ts. */
  #fresh: FreshScratch | undefined
  #lock: PublishLock | undefined
  /** Aborted by destroy(): a wait for another publisher's lock (up to lockWait) ends at once, a replay at its next batch. */
  readonly #stopWaiting = new AbortController()
  #previous: HistoryFile[] = []
  readonly #micros: number
  readonly #ts: string
  #processed = 0
  #result: MetaIngestResult | undefined
  readonly #counts = { added: 0, updated: 0, deleted: 0, skipped: 0, invalid: 0 }
  /** Every key spelling the meta db holds (replayed, or kept in this run), and each one's case folding's first spelling. */
  readonly #spellings = new Set<string>()
  readonly #firstSpelling = new Map<string, string>()
  readonly #late: LateWrites

  constructor (base: string, options: MetaIngestOptions = {}) {
    // Checked before super(): the stream's _construct would otherwise still run, on a half-made object, and fail
    // with an 'error' nobody listens for (metaIngest('') threw, then crashed the process). A yes/no option given
    // 'true' (a string) was quietly no (=== true), and fsync: 'false' quietly yes: refused, as every one is.
    if (typeof base !== 'string' || base === '') throw invalidOption('base', 'the metadir base path is required')
    for (const flag of ['replace', 'ensure', 'ensureFiles', 'fsync'] as const) checkFlag(options[flag], flag)
    const lockWait = lockWaitOption(options.lockWait)
    const micros = microsOption(options.micros)
    super({ objectMode: true, highWaterMark: 64 })
    this.base = base
    this.#options = { ...options, lockWait }
    this.#config = options.config
    this.#micros = micros ?? nowMicros()
    this.#ts = metaTimestamp(this.#micros)
    this.#late = new LateWrites(`meta ingest ${base}`, 'the objects written before end() are written to the meta db')
  }

  /** Objects taken so far (valid or not). */
  get processed (): number {
    return this.#processed
  }

  /** The counts and the file written, once the stream has finished. */
  get result (): MetaIngestResult | undefined {
    return this.#result
  }

  override _construct (callback: (error?: Error | null) => void): void {
    this.#start().then(() => callback(), (err: unknown) => callback(err as Error))
  }

  async #start (): Promise<void> {
    // Destroyed before it started (Node runs _construct all the same): nothing made, as rollingSink() makes nothing.
    if (this.destroyed) return
    const paths = metaPaths(this.base)
    await ensureDir(paths.db, 'cannot create')
    this.#config ??= await loadMetaConfig(this.base)
    // Destroyed meanwhile (its source failed as it opened): no lock, no scratch db; closing waits for this.
    if (this.destroyed) return
    try {
      this.#lock = await acquirePublishLock(this.base, {
        wait: this.#options.lockWait as number,
        onWait: (holder: LockHolder) => this.emit('wait', holder),
        signal: this.#stopWaiting.signal
      })
    } catch (err) {
      // Destroyed while it waited: the stream ends with the destroy's error alone (Node would join the two).
      if (this.#stopWaiting.signal.aborted) return
      throw err
    }
    await removeStaleTemporaries(this.base)
    this.#previous = await listHistoryFiles(this.base)
    // the replayed history lives in a scratch SQLite file, not in memory (ingest-scratch.ts)
    const files = this.#options.replace === true ? [] : replaySet(this.#previous)
    this.#rememberKeys([this.#config.unique])
    if (files.length === 0 && this.#options.replace !== true) {
      // nothing to replay or diff against: every row is new (fresh-scratch.ts)
      this.#fresh = await FreshScratch.open(this.base, this.#config.unique)
      return
    }
    try {
      // Destroyed during the replay (Ctrl-C in generate): it stops at the next batch of rows, not at the history's
      // end, the scratch db removed; the stream ends with the destroy's error alone, the lock released by _destroy.
      this.#scratch = await IngestScratch.open(this.base, this.#config.unique, files, {
        onProblem: (p: HistoryProblem) => this.emit('history-problem', p),
        signal: this.#stopWaiting.signal
      })
    } catch (err) {
      if (this.#stopWaiting.signal.aborted) return
      throw err
    }
    this.#rememberKeys(this.#scratch.table.columns())
  }

  /**
   * A write after end() is refused alone: the objects before it are written to the meta db, then the sink fails
   * with the refusal (deliver-then-fail.ts). Node's own refusal destroyed the sink, its diff file unwritten.
   */
  override write (chunk: unknown, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    if (this.#late.refusedWrite(this, encoding, callback)) return false
    return super.write(chunk, encoding as BufferEncoding, callback)
  }

  override end (chunk?: unknown, encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (!lateEnd(this, chunk)) return super.end(chunk, encoding as BufferEncoding, callback)
    this.write(chunk)
    return super.end(typeof encoding === 'function' ? encoding : callback)
  }

  override _write (object: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#processed++
    if (this.#options.ensureFiles === true) {
      Promise.resolve().then(async () => { await this.#ingest(object) }).then(() => callback(), (err: unknown) => callback(err as Error))
      return
    }
    try {
      void this.#ingest(object)
      callback()
    } catch (err) {
      callback(err as Error)
    }
  }

  #invalid (object: unknown, reason: string, uid?: string | null): void {
    this.#counts.invalid++
    const info: InvalidMetadata = { ...originOf(object), reason }
    if (uid !== undefined && uid !== null && uid !== '') info.uid = uid
    this.emit('invalid', info)
  }

  /** Synchronous unless ensureFiles (which stats the file). */
  #ingest (object: unknown): Promise<void> | undefined {
    const config = this.#config as MetaConfig
    if (object instanceof UnreadableMetadata) {
      this.#invalid(object, object.reason)
      return undefined
    }
    let row: MetaRow
    try {
      row = projectRow(config, flattenMetadata(object))
    } catch (err) {
      if (err instanceof ShoeboxError && err.code === 'SHOEBOX_META_INVALID') {
        this.#invalid(object, err.message)
        return undefined
      }
      throw err
    }
    const missing = missingKeys(config, row)
    if (missing.length > 0) {
      this.#invalid(object, `missing keys: ${missing.join(', ')}`, row[config.unique])
      return undefined
    }
    const uid = row[config.unique] as string
    const comma = Object.keys(row).find((key) => key.includes(','))
    if (comma !== undefined) {
      // __mmmeta_keys lists changed keys comma-joined: such a key could never be replayed
      this.#invalid(object, `the key '${comma}' holds a comma, which the meta db cannot list in __mmmeta_keys`, uid)
      return undefined
    }
    const unkept = Object.keys(row).find((key) => key === MMMETA_KEYS || key.includes('\0'))
    if (unkept !== undefined) {
      // __mmmeta_keys is the diff's own column (the value was dropped, the header named it twice);
      // no state db column name holds a NUL (every update of the metadir would fail)
      this.#invalid(object, unkept === MMMETA_KEYS
        ? `the key '${MMMETA_KEYS}' is the meta db's list of changed keys, not a key an object can have`
        : `the key ${JSON.stringify(unkept)} holds a NUL character, which no state db column name can`, uid)
      return undefined
    }
    const rowId = Object.keys(row).find((key) => asciiLower(key) === MMMETA_ROW_ID && key !== config.unique)
    if (rowId !== undefined) {
      // update leaves the column out of every row, and mmmeta (whose dataset matches names regardless of case) would write it over its row numbers
      this.#invalid(object, `the key '${rowId}' is the row id column mmmeta adds to its tables, which update leaves out; rename it, or make it the unique key`, uid)
      return undefined
    }
    if (uid.includes('\n') || uid.includes('\r')) {
      // the state db and every listing are line-based: refuse rather than break them
      this.#invalid(object, `the unique key '${config.unique}' holds a line break`, uid)
      return undefined
    }
    const clash = this.#caseClash(row)
    if (clash !== undefined) {
      // SQLite takes the two as one column: every later update of the metadir would refuse the meta db
      // (mmmeta's dataset matches column names regardless of case, and stored the value under the first)
      this.#invalid(object, `the keys ${JSON.stringify(clash[0])} and ${JSON.stringify(clash[1])} differ only in case, which the state db takes as one column (the first is kept)`, uid)
      return undefined
    }
    this.#rememberKeys(Object.keys(row))
    if (this.#options.ensureFiles === true) {
      const name = row[config.fileName] as string
      return this.#originalExists(name).then((exists) => this.#upsert(uid, row, exists ? null : 'original-missing'))
    }
    this.#upsert(uid, row, null)
    return undefined
  }

  /** The first key of `row` that differs only in ASCII case from one known (or one before it in `row`): [known, its]. */
  #caseClash (row: MetaRow): [string, string] | undefined {
    let within: Map<string, string> | undefined
    for (const key of Object.keys(row)) {
      if (this.#spellings.has(key)) continue // a spelling known is its folding's first
      const folded = asciiLower(key)
      const other = this.#firstSpelling.get(folded) ?? within?.get(folded)
      if (other !== undefined) return [other, key]
      ;(within ??= new Map()).set(folded, key)
    }
    return undefined
  }

  #rememberKeys (keys: Iterable<string>): void {
    for (const key of keys) {
      if (this.#spellings.has(key)) continue
      this.#spellings.add(key)
      const folded = asciiLower(key)
      if (!this.#firstSpelling.has(folded)) this.#firstSpelling.set(folded, key)
    }
  }

  async #originalExists (name: string): Promise<boolean> {
    const root = path.resolve(this.#options.filesRoot ?? this.base)
    const file = path.resolve(root, name)
    if (file !== root && !file.startsWith(root + path.sep)) return false // a name leaving the root names no file of it
    try {
      await fs.stat(file)
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false
      throw ioError(err, 'cannot stat', file)
    }
  }

  /**
   * What row `raw` (undefined: none yet) was before this run, once `keys`
   * change now: 1 for a row new in this run, else a JSON object of the
   * pre-run values of every key changed so far (a key changed earlier in
   * this run keeps its first value); undefined when that is already stored.
   */
  #before (table: ReplayTable, raw: RawRow | undefined, current: MetaRow | undefined, keys: readonly string[]): number | string | undefined {
    if (raw === undefined) return 1
    const stored = table.extra(raw, BEFORE)
    if (stored !== null && typeof stored !== 'string') return undefined // new in this run: everything is a change
    const saved = keyDict(stored === null ? undefined : JSON.parse(stored) as MetaRow)
    let added = false
    for (const key of keys) {
      if (!Object.hasOwn(saved, key)) {
        saved[key] = (current !== undefined && Object.hasOwn(current, key) ? current[key] : null) ?? null
        added = true
      }
    }
    return added || stored === null ? JSON.stringify(saved) : undefined
  }

  #upsert (uid: string, row: MetaRow, deleteReason: string | null): void {
    if (this.#fresh !== undefined) {
      this.#upsertFresh(this.#fresh, uid, row, deleteReason)
      return
    }
    const table = (this.#scratch as IngestScratch).table
    const ensure = this.#options.ensure === true
    const raw = table.get(uid)
    const current = raw === undefined ? undefined : table.toRow(raw)
    const { values, changed, outcome } = mergeObject(current, row, deleteReason, this.#ts)
    if (outcome === 'skipped') {
      if (ensure && raw !== undefined && table.extra(raw, SEEN) === null) table.setExtra(uid, SEEN, 1)
      this.#counts.skipped++
      return
    }
    const before = this.#before(table, raw, current, [...changed, LAST_UPDATED])
    this.#counts[outcome]++
    this.#apply(table, uid, values, before, ensure)
  }

  /** #upsert() over an empty meta db: queued for a multi-row insert; a uid that came before in this run is merged. */
  #upsertFresh (fresh: FreshScratch, uid: string, row: MetaRow, deleteReason: string | null): void {
    // a new row is the object plus the keys mergeObject() adds to a new one (no copy of it)
    const ts = this.#ts
    const extra: MetaRow = keyDict(deleteReason === null ? { [LAST_UPDATED]: ts, [ADDED]: ts } : { [DELETED]: '1', [DELETED_AT]: ts, [DELETED_REASON]: deleteReason, [LAST_UPDATED]: ts, [ADDED]: ts })
    this.#mergeDuplicates(fresh, fresh.add(uid, row, extra, deleteReason))
  }

  #mergeDuplicates (fresh: FreshScratch, duplicates: readonly Duplicate[]): void {
    for (const { uid, row, reason } of duplicates) {
      const current = fresh.get(uid) as MetaRow
      const { values, outcome } = mergeObject(current, row, reason, this.#ts)
      this.#counts[outcome]++
      if (outcome !== 'skipped') fresh.replace(uid, Object.assign(keyDict(current), values))
    }
  }

  /** Set `values` of row `uid`, its pre-run values (`before`, unless undefined) and, with `seen`, its mark. */
  #apply (table: ReplayTable, uid: string, values: MetaRow, before: number | string | undefined, seen: boolean): void {
    const cols: number[] = []
    const cells: Array<string | null> = []
    for (const key in values) {
      if (key === table.unique) continue
      cols.push(table.column(key))
      cells.push(values[key])
    }
    const extraNames: string[] = []
    const extraValues: unknown[] = []
    if (before !== undefined) {
      extraNames.push(BEFORE)
      extraValues.push(before)
    }
    if (seen) {
      extraNames.push(SEEN)
      extraValues.push(1)
    }
    table.upsert(uid, cols, cells, extraNames, extraValues)
  }

  override _final (callback: (error?: Error | null) => void): void {
    this.#finish().then(() => { callback(this.#late.settle()) }, (err: unknown) => {
      this.#late.settle()
      callback(err as Error)
    })
  }

  async #finish (): Promise<void> {
    if (this.#fresh !== undefined) {
      await this.#finishFresh(this.#fresh, (this.#config as MetaConfig).unique)
      return
    }
    const table = (this.#scratch as IngestScratch).table
    const config = this.#config as MetaConfig
    if (this.#options.ensure === true) {
      const unseen = `"${SEEN}" IS NULL`
      // The deletion's columns exist before the scan: one added during it (the first deletion this meta db
      // has seen) changes the row layout under the page already read, and every later row of that page was
      // misread and left out of the diff (counted deleted, written live).
      if (!table.rows('insertion', unseen).next().done) for (const key of [DELETED, DELETED_AT, DELETED_REASON, LAST_UPDATED]) table.column(key)
      // rows no object named: pages of them (rows() allows writes between its pages)
      for (const raw of table.rows('insertion', unseen)) {
        if (isDeleted(table.cell(raw, DELETED))) continue
        // An input that brought nothing (an empty file, a files root with no *.json: most likely the wrong one)
        // is not "every file is gone": that deleted the whole meta db without a word.
        if (this.#processed === 0) throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${this.base}: no metadata objects came in, and ensure would soft-delete every row of the meta db; nothing written, the meta db is as it was`)
        const deletion = { [DELETED]: '1', [DELETED_AT]: this.#ts, [DELETED_REASON]: 'meta-missing', [LAST_UPDATED]: this.#ts }
        const uid = raw[0] as string
        this.#apply(table, uid, deletion, this.#before(table, raw, table.toRow(raw), Object.keys(deletion)), false)
        this.#counts.deleted++
      }
    }
    const write = { micros: this.#micros, fsync: this.#options.fsync }
    let file: WrittenHistoryFile | null
    if (this.#options.replace === true) {
      const columns = table.columns()
      const cellRows = function * (): Generator<Array<string | null>> {
        for (const raw of table.rows('insertion')) yield columns.map((c) => table.cell(raw, c) ?? null)
      }
      file = await writeHistoryFile(this.base, 'squashed', columns, cellRows(), write)
      if (file !== null) await this.#removeFiles(this.#previous)
    } else {
      const { header, rows } = this.#diff(table, config.unique)
      file = await writeHistoryFile(this.base, 'append', header, rows, write)
    }
    const { added, updated, invalid, deleted } = this.#counts
    if (added + updated + invalid + deleted > 0) await this.#touch(file)
    this.#result = { ...this.#counts, file, rows: table.count() }
    if (file !== null) this.emit('written', file)
    await this.#release()
  }

  /** #finish() over an empty meta db: every row is new, its diff is its keys with a value (as #diff() writes it). */
  async #finishFresh (fresh: FreshScratch, unique: string): Promise<void> {
    this.#mergeDuplicates(fresh, fresh.flush())
    this.#counts.added = fresh.count // every row stored is one added
    const header = [unique, ...fresh.keys().sort(), MMMETA_KEYS]
    checkKeyCount(`the metadata of ${this.base}`, header, 'nothing was written')
    const file = await writeHistoryLines(this.base, 'append', header, fresh.diffLines(header), { micros: this.#micros, fsync: this.#options.fsync })
    const { added, updated, invalid, deleted } = this.#counts
    if (added + updated + invalid + deleted > 0) await this.#touch(file)
    this.#result = { ...this.#counts, file, rows: fresh.count }
    if (file !== null) this.emit('written', file)
    await this.#release()
  }

  /**
   * The diff of this run: per changed row (in unique-key order), the keys
   * whose value differs from before it. Two passes over the changed rows
   * (one for the header's columns, one while writing) rather than holding
   * a list of keys per row: that would be another copy of a big run.
   */
  #diff (table: ReplayTable, unique: string): { header: string[], rows: Iterable<Array<string | null>> } {
    const changedKeys = (raw: RawRow): string[] => {
      const stored = table.extra(raw, BEFORE)
      let keys: string[]
      if (typeof stored === 'string') {
        const old = JSON.parse(stored) as MetaRow
        keys = Object.keys(old).filter((key) => (table.cell(raw, key) ?? null) !== old[key])
      } else {
        keys = table.keysOf(raw).filter((key) => key !== unique && (table.cell(raw, key) ?? null) !== null)
      }
      return keys.sort()
    }
    const changedRows = `"${BEFORE}" IS NOT NULL`
    // a new row's changed keys are those it has a value for: found by SQLite in one scan
    const columns = new Set<string>(table.textColumns(`typeof("${BEFORE}") IN ('integer', 'real')`))
    // the header's columns do not depend on row order: read in the table's own order
    for (const raw of table.rows('insertion', `typeof("${BEFORE}") = 'text'`)) for (const key of changedKeys(raw)) columns.add(key)
    const header = [unique, ...[...columns].sort(), MMMETA_KEYS]
    const at = new Map(header.map((key, i) => [key, i]))
    function * rows (): Generator<Array<string | null>> {
      for (const raw of table.rows('uid', changedRows)) {
        const keys = changedKeys(raw)
        if (keys.length === 0) continue
        const cells: Array<string | null> = new Array<string | null>(header.length).fill(null)
        cells[0] = raw[0] as string
        for (const key of keys) cells[at.get(key) as number] = table.cell(raw, key) ?? null
        cells[header.length - 1] = keys.join(',')
        yield cells
      }
    }
    return { header, rows: rows() }
  }

  async #removeFiles (files: readonly HistoryFile[]): Promise<void> {
    for (const file of files) await fs.unlink(file.path).catch((err: unknown) => { throw ioError(err, 'cannot remove', file.path) })
  }

  /**
   * `_store/meta_last_updated` and `store_last_updated`, as mmmeta's touch(), in UTC, typed
   * timestamp: written untyped, meta_last_updated read back as a string beside update's Date.
   * Its failure (a file in the way of `_store/`) says the history file `written` stays.
   */
  async #touch (written: WrittenHistoryFile | null): Promise<void> {
    try {
      await new MetaStore(metaPaths(this.base).metadir).touchText('meta_last_updated', metaTimestamp(this.#micros, 'T'), { fsync: this.#options.fsync })
    } catch (err) {
      if (!(err instanceof ShoeboxError)) throw err
      const kept = written === null ? 'nothing was written to the meta db' : `${written.path} was written (${written.rows} rows) and stays`
      throw reworded(err, `${err.message}; ${kept}, only the store's meta_last_updated was not updated`)
    }
  }

  async #release (): Promise<void> {
    const scratch = this.#scratch ?? this.#fresh
    this.#scratch = undefined
    this.#fresh = undefined
    await scratch?.close()
    const lock = this.#lock
    this.#lock = undefined
    await lock?.release()
  }

  /**
   * Destroyed while it starts (waiting for another publisher's lock, or
   * replaying the history), Node calls _destroy only once the start is over:
   * the wait or the replay is ended here, at once (the replay at its next
   * batch of rows), and the stream ends with `error`, nothing written.
   */
  override destroy (error?: Error): this {
    this.#stopWaiting.abort()
    return super.destroy(error)
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    this.#release().then(() => callback(error), () => callback(error))
  }
}

/** A Writable of metadata objects ingested into the meta db of the metadir at `base` (see MetaIngest). */
export function metaIngest (base: string, options?: MetaIngestOptions): MetaIngest {
  return new MetaIngest(base, options)
}
