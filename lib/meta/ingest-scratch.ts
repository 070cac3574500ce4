/**
 * generate's working copy of the meta db: the history replayed into a
 * scratch SQLite file beside db/ (`_mmmeta/.replay.<random>.tmp`), so that
 * a run over a million rows holds SQLite's page cache, not the rows
 * (replay-table.ts). The file is disposable: no journal, no fsync, one
 * exclusive transaction never committed; removed when the run ends, and
 * what a killed run left is removed by the next publisher under the lock
 * (removeStaleTemporaries).
 *
 * Besides the history columns each row has two of the run's own:
 * `_b`, what the row was before this run (NULL: untouched, 1: new in this
 * run, else a JSON object of the pre-run values of the keys it changed), and
 * `_s`, 1 once an object named it (for `ensure`).
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import type * as BetterSqlite3 from 'better-sqlite3'
import { ShoeboxError } from '../errors.js'
import { metaPaths } from './config.js'
import type { HistoryFile, ReplayOptions } from './history.js'
import { ReplayTable, replayInto } from './replay-table.js'
import { checkKeyCount, historyKeys } from './key-limit.js'
import { loadSqlite } from './sqlite.js'

export const BEFORE = '_b'
export const SEEN = '_s'

/**
 * A name the stale-temporaries sweep recognises (history-writer.ts): the
 * scratch db and the files SQLite keeps beside it (a killed generate left
 * its `-journal`, which no later run removed).
 */
export const SCRATCH_NAME = /^\.replay\.[0-9a-f]{12}\.tmp(-journal|-wal|-shm)?$/

/** The scratch db's page cache: bounded, and most of the key index of a million rows. */
const CACHE_KIB = 64 * 1024

/**
 * A new scratch SQLite file in `<base>/_mmmeta/` (a name the sweep knows),
 * set up as a disposable working copy: no journal, no fsync, exclusive, its
 * one transaction begun. Used by both of generate's scratch tables.
 */
export async function createScratchDb (base: string): Promise<{ file: string, db: BetterSqlite3.Database }> {
  const { Sqlite } = await loadSqlite()
  const file = path.join(metaPaths(base).metadir, `.replay.${randomBytes(6).toString('hex')}.tmp`)
  let db: BetterSqlite3.Database
  try {
    db = new Sqlite(file)
  } catch (err) {
    throw new ShoeboxError('SHOEBOX_IO', `${file}: cannot create generate's scratch db: ${(err as Error).message}`, { cause: err })
  }
  try {
    // 16 KiB pages: ~20% less CPU than 4 KiB for rows of a few hundred bytes inserted at random keys
    db.pragma('page_size = 16384')
    db.pragma('journal_mode = OFF')
    db.pragma('synchronous = OFF')
    db.pragma('locking_mode = EXCLUSIVE')
    db.pragma(`cache_size = ${-CACHE_KIB}`)
    db.exec('BEGIN')
  } catch (err) {
    db.close()
    await fs.unlink(file).catch(() => {})
    throw err
  }
  return { file, db }
}

export class IngestScratch {
  readonly file: string
  readonly table: ReplayTable
  readonly #db: BetterSqlite3.Database

  private constructor (file: string, db: BetterSqlite3.Database, unique: string, what: string) {
    this.file = file
    this.#db = db
    this.table = new ReplayTable(db, 'main', 'history', unique, [BEFORE, SEEN], what)
  }

  /** Create the scratch file and replay `files` into it (none: an empty history). */
  static async open (base: string, unique: string, files: readonly HistoryFile[], options: ReplayOptions = {}): Promise<IngestScratch> {
    // A history with more keys than a state db can hold is refused before any replay (key-limit.ts).
    const what = `the metadata of ${base}`
    checkKeyCount(`the meta db of ${base}`, await historyKeys(files), 'nothing was written')
    const { file, db } = await createScratchDb(base)
    const scratch = new IngestScratch(file, db, unique, what)
    try {
      scratch.table.create()
      await replayInto(scratch.table, files, options)
    } catch (err) {
      await scratch.close()
      throw err
    }
    return scratch
  }

  /** Close and remove the file (nothing of it is kept). */
  async close (): Promise<void> {
    if (this.#db.open) this.#db.close()
    await fs.unlink(this.file).catch(() => {})
  }
}
