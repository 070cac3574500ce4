/**
 * better-sqlite3, loaded on first use (importing shoebox does not load it),
 * with SQLite's URI filenames on: a state db on a read-only mount is opened
 * as `file:...?immutable=1` (state-db.ts), the one way SQLite reads a
 * WAL-mode db whose directory cannot hold its `-shm`. better-sqlite3 reads
 * SQLITE_USE_URI once, when its native part loads at the first connection
 * of the process: that first connection is made here, with the variable set
 * only for that moment (unless the user set it). Plain paths open as before (they are absolute, never
 * starting `file:`).
 */
import type * as BetterSqlite3 from 'better-sqlite3'

export type SqliteClass = typeof BetterSqlite3.default

let loaded: Promise<{ Sqlite: SqliteClass, uriFilenames: boolean }> | undefined

/** The Database class, and whether this process's SQLite takes URI filenames (false when something loaded better-sqlite3 before shoebox did). */
export async function loadSqlite (): Promise<{ Sqlite: SqliteClass, uriFilenames: boolean }> {
  loaded ??= (async () => {
    const { default: Sqlite } = await import('better-sqlite3')
    // A value of the user's own (SQLITE_USE_URI=0) is theirs to keep.
    const before = process.env.SQLITE_USE_URI
    if (before === undefined) process.env.SQLITE_USE_URI = '1'
    let uriFilenames = false
    try {
      // An in-memory db by URI: opened only where URIs are on; elsewhere it is a file name that does not exist (fileMustExist: none is made).
      new Sqlite('file::memory:', { readonly: true, fileMustExist: true }).close()
      uriFilenames = true
    } catch {
      // better-sqlite3 was loaded already, without URI filenames
    } finally {
      if (before === undefined) delete process.env.SQLITE_USE_URI
    }
    return { Sqlite, uriFilenames }
  })()
  return await loaded
}
