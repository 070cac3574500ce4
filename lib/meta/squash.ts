/**
 * squash (spec §3): the replayed history written as one `.squashed`
 * snapshot, whole (history-writer.ts), under the publisher lock. Columns are
 * sorted (unique key first) and rows ordered by unique key, so two squashes
 * of one history are byte-identical. As in mmmeta the older files stay,
 * unless `prune`: then, once the snapshot is durable, the files it covers
 * (those listed before it was written, all sorting before it) are removed.
 * A file another tool adds meanwhile is never removed.
 */
import fs from 'node:fs/promises'
import { syncDir } from '../fs/durable.js'
import { ioError } from '../fs/io-error.js'
import { loadMetaConfig, metaPaths, type MetaConfig } from './config.js'
import { listHistoryFiles, replayFiles, replaySet, type HistoryFile, type HistoryProblem } from './history.js'
import { removeStaleTemporaries, writeHistoryFile, type WrittenHistoryFile } from './history-writer.js'
import { acquirePublishLock } from './publish-lock.js'

export interface SquashOptions {
  config?: MetaConfig
  /** Remove the files the snapshot covers (default false, as mmmeta). */
  prune?: boolean
  /** How long to wait for another publisher's lock, in ms (default 60000). */
  lockWait?: number
  fsync?: boolean
  /** The snapshot's time, µs since the epoch (default now). */
  micros?: number
  onProblem?: (problem: HistoryProblem) => void
}

export interface SquashResult {
  /** The snapshot, or null for an empty history (nothing is written, as mmmeta). */
  file: WrittenHistoryFile | null
  rows: number
  /** Names of the files removed by `prune`. */
  pruned: string[]
}

export async function squashHistory (base: string, options: SquashOptions = {}): Promise<SquashResult> {
  const config = options.config ?? await loadMetaConfig(base)
  const db = metaPaths(base).db
  await fs.mkdir(db, { recursive: true }).catch((err: unknown) => { throw ioError(err, 'cannot create', db) })
  const lock = await acquirePublishLock(base, { wait: options.lockWait })
  try {
    await removeStaleTemporaries(base)
    const files = await listHistoryFiles(base)
    const history = await replayFiles(replaySet(files), config.unique, { onProblem: options.onProblem })
    const columns = history.columns()
    const uids = [...history.uids()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    function * rows (): Generator<Array<string | null>> {
      for (const uid of uids) yield columns.map((key) => history.value(uid, key) ?? null)
    }
    const file = await writeHistoryFile(base, 'squashed', columns, rows(), { micros: options.micros, fsync: options.fsync })
    const pruned: string[] = []
    if (file !== null && options.prune === true) {
      for (const old of files.filter((f: HistoryFile) => f.name < file.name)) {
        await fs.unlink(old.path).catch((err: unknown) => {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, 'cannot remove', old.path)
        })
        pruned.push(old.name)
      }
      if (pruned.length > 0 && options.fsync !== false) await syncDir(db)
    }
    return { file, rows: history.size, pruned }
  } finally {
    await lock.release()
  }
}
