/**
 * squash (spec §3): the replayed history written as one `.squashed`
 * snapshot, whole (history-writer.ts), under the publisher lock. Columns are
 * sorted (unique key first) and rows ordered by unique key (code point
 * order, as Python sorts), so two squashes
 * of one history are byte-identical. As in mmmeta the older files stay,
 * unless `prune`: then, once the snapshot is durable, the files it covers
 * (those listed before it was written, all sorting before it) are removed,
 * but for a file holding a row the replay skipped (onProblem): the snapshot
 * lacks that row, and pruning deleted its only copy without a word. A file
 * another tool adds meanwhile is never removed.
 */
import fs from 'node:fs/promises'
import { ensureDir, syncDir } from '../fs/durable.js'
import { ioError } from '../fs/io-error.js'
import { loadMetaConfig, metaPaths, type MetaConfig } from './config.js'
import { listHistoryFiles, replaySet, type HistoryFile, type HistoryProblem } from './history.js'
import { IngestScratch } from './ingest-scratch.js'
import { removeStaleTemporaries, writeHistoryFile, type WrittenHistoryFile } from './history-writer.js'
import { acquirePublishLock, type LockHolder, type PublishLock } from './publish-lock.js'
import { lockWaitOption, microsOption } from './run-options.js'
import { checkFlag } from '../units.js'
import { ShoeboxError } from '../errors.js'

export interface SquashOptions {
  config?: MetaConfig
  /** Remove the files the snapshot covers (default false, as mmmeta). */
  prune?: boolean
  /** How long to wait for another publisher's lock: ms or a duration ('30s'). Default 60000. */
  lockWait?: number | string
  fsync?: boolean
  /** The snapshot's time, µs since the epoch (default now). */
  micros?: number
  onProblem?: (problem: HistoryProblem) => unknown
  /** Another publisher holds the lock: called once as the wait for it begins. */
  onWait?: (holder: LockHolder) => unknown
  /**
   * Stops the squash before it writes anything: at once while it waits for
   * another publisher's lock, between two batches of rows while it replays
   * the history (the snapshot being written once it is replayed is finished,
   * and pruned after, as asked). Rejects with SHOEBOX_ABORTED, the metadir as
   * it was.
   */
  signal?: AbortSignal
}

export interface SquashResult {
  /** The snapshot, or null for an empty history (nothing is written, as mmmeta). */
  file: WrittenHistoryFile | null
  rows: number
  /** Names of the files removed by `prune`. */
  pruned: string[]
}

export async function squashHistory (base: string, options: SquashOptions = {}): Promise<SquashResult> {
  // Checked before the lock is taken: a bad value failed late (NaN named the snapshot 'NaN-NaN-...'), or not at all.
  const wait = lockWaitOption(options.lockWait)
  const micros = microsOption(options.micros)
  for (const flag of ['prune', 'fsync'] as const) checkFlag(options[flag], flag)
  const config = options.config ?? await loadMetaConfig(base)
  const db = metaPaths(base).db
  await ensureDir(db, 'cannot create')
  const signal = options.signal
  checkStopped(signal)
  let lock: PublishLock
  try {
    lock = await acquirePublishLock(base, { wait, onWait: options.onWait, signal })
  } catch (err) {
    checkStopped(signal)
    throw err
  }
  try {
    await removeStaleTemporaries(base)
    const files = await listHistoryFiles(base)
    // replayed into a scratch db (ingest-scratch.ts), not memory: a squash of a million rows holds a page cache
    // a file holding a row the replay skipped (ragged, no unique key) is not covered by the snapshot: never pruned
    const skippedIn = new Set<string>()
    const onProblem = async (problem: HistoryProblem): Promise<unknown> => {
      skippedIn.add(problem.file)
      return await options.onProblem?.(problem)
    }
    let scratch: IngestScratch
    try {
      // Stopped during the replay, it stops there (the scratch db removed, the lock released below).
      scratch = await IngestScratch.open(base, config.unique, replaySet(files), { onProblem, signal })
    } catch (err) {
      checkStopped(signal)
      throw err
    }
    let file: WrittenHistoryFile | null
    let count: number
    try {
      // Stopped after the replay's last batch: the snapshot is not begun.
      checkStopped(signal)
      const table = scratch.table
      const columns = table.columns()
      const rows = function * (): Generator<Array<string | null>> {
        for (const raw of table.rows('uid')) yield columns.map((key) => table.cell(raw, key) ?? null)
      }
      file = await writeHistoryFile(base, 'squashed', columns, rows(), { micros, fsync: options.fsync })
      count = table.count()
    } finally {
      await scratch.close()
    }
    const pruned: string[] = []
    if (file !== null && options.prune === true) {
      for (const old of files.filter((f: HistoryFile) => f.name < file.name && !skippedIn.has(f.path))) {
        await fs.unlink(old.path).catch((err: unknown) => {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, 'cannot remove', old.path)
        })
        pruned.push(old.name)
      }
      if (pruned.length > 0 && options.fsync !== false) await syncDir(db)
    }
    return { file, rows: count, pruned }
  } finally {
    await lock.release()
  }
}

/** A squash stopped by `signal` before writing rejects with the signal's reason, and that nothing changed. */
function checkStopped (signal: AbortSignal | undefined): void {
  if (signal?.aborted !== true) return
  const why = signal.reason instanceof Error ? signal.reason.message : 'the squash was aborted'
  throw new ShoeboxError('SHOEBOX_ABORTED', `${why}; nothing written, the meta db is as it was`, { cause: signal.reason })
}
