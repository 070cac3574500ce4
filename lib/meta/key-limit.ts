/**
 * How many metadata keys a metadir can have, and the error when it has more.
 *
 * The state db's `files` table has one column per key (spec mmmeta-metadir.md
 * §4.2, the layout mmmeta itself reads), and SQLite allows 2000 columns a
 * table (SQLITE_MAX_COLUMN, the default in better-sqlite3's build and in
 * Python's sqlite3, so mmmeta has the same ceiling). The replay tables of
 * generate, squash and update have one column per key too. A metadir with
 * more keys cannot be loaded by any consumer, so shoebox refuses it at once,
 * before writing anything, instead of failing with SQLite's raw "too many
 * columns" halfway through. The way out is `metadata.include` in
 * `_mmmeta/config.yml`: only the keys named there are kept.
 */
import { createReadStream } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'
import { ShoeboxError } from '../errors.js'
import { ioError } from '../fs/io-error.js'
import { CsvParser } from './csv.js'
import { NOT_METADATA, type HistoryFile } from './history.js'

/** SQLite's columns per table (SQLITE_MAX_COLUMN). */
export const SQLITE_MAX_COLUMNS = 2000

/** Columns update adds to every state row beside the metadata keys. */
const STATE_BOOKKEEPING = ['__state_added', '__state_last_updated', '__deleted', '__deleted_at', '__deleted_reason']


/** Metadata keys a metadir can have: the unique key included, the state's bookkeeping columns left out. */
export const MAX_METADATA_KEYS = SQLITE_MAX_COLUMNS - STATE_BOOKKEEPING.length

/** The state `files` columns these keys need (bookkeeping and `others`, e.g. a consumer's own columns, included). */
export function stateColumnsNeeded (keys: Iterable<string>, others: Iterable<string> = []): number {
  const columns = new Set(STATE_BOOKKEEPING)
  for (const key of keys) if (!NOT_METADATA.has(key)) columns.add(key)
  for (const column of others) columns.add(column)
  return columns.size
}

/**
 * Throw SHOEBOX_META_SCHEMA when `keys` (with `others`) need more state
 * columns than SQLite allows. `what` names the metadata ("the meta db of
 * /x"); `kept` says what stays as it was.
 */
export function checkKeyCount (what: string, keys: Iterable<string>, kept: string, others: Iterable<string> = []): void {
  const needed = stateColumnsNeeded(keys, others)
  if (needed > SQLITE_MAX_COLUMNS) throw tooManyKeys(what, `${needed - STATE_BOOKKEEPING.length}`, kept)
}

/** The error itself; `count` is a number or "more than N" when the rest was not counted. */
export function tooManyKeys (what: string, count: string, kept: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_META_SCHEMA',
    `${what} has ${count} metadata keys (and state columns); a metadir holds at most ${MAX_METADATA_KEYS}, ` +
    `because the state db's files table has a column per key and SQLite allows ${SQLITE_MAX_COLUMNS} ` +
    `(${STATE_BOOKKEEPING.length} are bookkeeping); ${kept}. Name the keys to keep with metadata.include in _mmmeta/config.yml`)
}

/** Every column named in the headers of these history files (each file's first CSV row). */
export async function historyKeys (files: readonly HistoryFile[]): Promise<Set<string>> {
  const keys = new Set<string>()
  for (const file of files) for (const key of await headerOf(file.path)) keys.add(key)
  return keys
}

async function headerOf (file: string): Promise<string[]> {
  const parser = new CsvParser(file)
  const decoder = new StringDecoder('utf8')
  const input = createReadStream(file, { highWaterMark: 64 * 1024 })
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      const rows = parser.push(decoder.write(chunk))
      if (rows.length > 0) return rows[0].cells.map((c) => c ?? '')
    }
    const rows = parser.push(decoder.end())
    const last = rows.length > 0 ? rows : parser.end()
    return last.length > 0 ? last[0].cells.map((c) => c ?? '') : []
  } catch (err) {
    // a history file listed and then gone (a concurrent squash --prune) or unreadable: name it, as the replay does
    if (err instanceof ShoeboxError) throw err
    throw ioError(err, 'cannot read', file)
  } finally {
    input.destroy()
  }
}
