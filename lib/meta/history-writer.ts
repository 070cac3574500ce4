/**
 * Writing one new history file into `_mmmeta/db/`, whole or not at all: the
 * CSV is written under a dot-name in `_mmmeta/` (outside db/, so neither
 * tool's listing, nor a sync of db/, ever sees a half file), fsynced, given
 * its db/ name by hard link (never replacing a file), and the directory
 * fsynced. Call it holding the publisher lock (publish-lock.ts): then the
 * name chosen sorts after every file already there, and the temporaries a
 * killed writer left can be removed (removeStaleTemporaries).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { ShoeboxError } from '../errors.js'
import { ensureDir, syncDir, tempBeside, writeAll } from '../fs/durable.js'
import { ioError } from '../fs/io-error.js'
import { moveNoReplace } from '../fs/link.js'
import { metaPaths } from './config.js'
import { formatCsvRow, type CsvCell } from './csv.js'
import { SCRATCH_NAME } from './ingest-scratch.js'
import { deadWaiterTemp } from './publish-lock.js'
import { listHistoryFiles, nextHistoryName, nowMicros, type HistoryFile, type HistoryKind } from './history.js'

export interface WriteHistoryOptions {
  /** The run's time in µs since the epoch (default now); the name is never before existing names. */
  micros?: number
  /** fsync the file and db/ (default true). */
  fsync?: boolean
}

export interface WrittenHistoryFile extends HistoryFile {
  rows: number
}

/** Bytes per write (a UTF-16 unit is at most 3 UTF-8 bytes, so a row fits when 3x its length does). */
const CHUNK = 1024 * 1024

const TEMP = /^\..+\.(append|squashed)\.[0-9a-f]{12}\.tmp$/

/**
 * Remove what killed writers left in _mmmeta/: half history files and generate's scratch dbs (only while holding
 * the publisher lock), and the lock's temporaries of publishers killed while they waited for it.
 */
export async function removeStaleTemporaries (base: string): Promise<string[]> {
  const dir = metaPaths(base).metadir
  const names = await fs.readdir(dir).catch(() => [] as string[])
  const removed: string[] = []
  for (const name of names) {
    if (!TEMP.test(name) && !SCRATCH_NAME.test(name) && !await deadWaiterTemp(dir, name)) continue
    await fs.unlink(path.join(dir, name)).then(() => removed.push(name), () => {})
  }
  return removed
}

/**
 * Write `header` and `rows` as a new `.append` or `.squashed` in db/;
 * nothing is written for no rows (returns null), as mmmeta.
 */
export async function writeHistoryFile (
  base: string, kind: HistoryKind, header: readonly string[], rows: Iterable<readonly CsvCell[]>, options: WriteHistoryOptions = {}
): Promise<WrittenHistoryFile | null> {
  function * lines (): Generator<string> {
    let count = 0
    for (const row of rows) {
      count++
      if (row.length !== header.length) throw new ShoeboxError('SHOEBOX_META_HISTORY', `row ${count} has ${row.length} cells for ${header.length} columns`)
      yield formatCsvRow(row)
    }
  }
  return await writeHistoryLines(base, kind, header, lines(), options)
}

/**
 * writeHistoryFile() for rows the caller formatted already: each item of
 * `lines` is one CSV row of `header`'s columns in the db/ dialect (csv.ts),
 * ending `\r\n`. Written a chunk of rows per write.
 */
export async function writeHistoryLines (
  base: string, kind: HistoryKind, header: readonly string[], lines: Iterable<string>, options: WriteHistoryOptions = {}
): Promise<WrittenHistoryFile | null> {
  const paths = metaPaths(base)
  const sync = options.fsync ?? true
  const iterator = lines[Symbol.iterator]()
  let next = iterator.next()
  if (next.done === true) return null
  await ensureDir(paths.db, 'cannot create')

  let name = nextHistoryName(kind, await listHistoryFiles(base), options.micros ?? nowMicros())
  const temp = tempBeside(path.join(paths.metadir, name))
  let count = 0
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(temp, 'wx', 0o644)
    // rows are encoded straight into one buffer per chunk (no string of a chunk's rows built first)
    let chunk = Buffer.allocUnsafe(CHUNK)
    let used = 0
    for (let line = formatCsvRow(header); ; line = next.value, count++, next = iterator.next()) {
      if (used + line.length * 3 > chunk.length) {
        if (used > 0) await writeAll(handle, chunk.subarray(0, used))
        used = 0
        if (line.length * 3 > chunk.length) chunk = Buffer.allocUnsafe(line.length * 3) // a row bigger than a chunk
      }
      used += chunk.write(line, used)
      if (next.done === true) break
    }
    if (used > 0) await writeAll(handle, chunk.subarray(0, used))
    if (sync) await handle.sync()
    await handle.close()
    handle = undefined
    // the lock makes a taken name impossible unless a writer without it (mmmeta) took it: then pick the next
    for (;;) {
      if (await moveNoReplace(temp, path.join(paths.db, name))) break
      name = nextHistoryName(kind, await listHistoryFiles(base), options.micros ?? nowMicros())
    }
    if (sync) await syncDir(paths.db)
  } catch (err) {
    await handle?.close().catch(() => {})
    await fs.unlink(temp).catch(() => {})
    if (err instanceof ShoeboxError && err.code === 'SHOEBOX_META_HISTORY') throw new ShoeboxError(err.code, `${name}: ${err.message}`)
    throw ioError(err, 'cannot write the history file', path.join(paths.db, name))
  }
  return { name, path: path.join(paths.db, name), kind, rows: count }
}
