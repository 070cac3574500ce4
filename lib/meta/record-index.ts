/**
 * A record index over archives (`shoebox meta index`, `meta get|query
 * --records`): every record of the archives a pattern matches becomes one
 * metadata object, its own metadata plus two columns,
 *
 *   _archive    the archive file: an s3:// URL, or a local path (relative to
 *               the metadir base when it is inside it, so the two move together)
 *   _position   where the record is, as position-text.ts writes it, FILE
 *               relative to the pattern's directory (or the bucket):
 *               `FILE:OFFSET`, or `FILE:OFFSET@MEMBER+SKIP` in a gzip or zstd file
 *
 * which metaIngest() writes into the meta db like any other metadata, so
 * `meta update` brings them into the state db and a query selects rows by
 * metadata; indexedRecords() then fetches just those records with ranged
 * reads (archiveSource's `positions: [...]`), never the whole archive.
 *
 * config.yml must keep both columns: with `metadata.include`, it must name
 * `_archive` and `_position` (checkIndexConfig() says so before any work).
 * `metadata.unique` must be a key every record has; `_position` makes one
 * row per record.
 */
import path from 'node:path'
import { Readable, Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ShoeboxError } from '../errors.js'
import type { Position, ShoeboxRecord } from '../record.js'
import { archiveSource } from '../source/archive-source.js'
import { escapeGlob } from '../source/glob.js'
import { formatPosition, parsePositionText } from '../source/position-text.js'
import { failAfterDelivery } from '../stream/deliver-then-fail.js'
import type { ReadableOf } from '../stream/readable-of.js'
import { isRemote, type StoreOptions } from '../store/open-store.js'
import type { MetaConfig } from './config.js'
import { withOrigin } from './origin.js'

export const ARCHIVE_KEY = '_archive'
export const POSITION_KEY = '_position'

export interface RecordIndexOptions {
  /** The metadir base: local archives inside it are named relative to it. Default process.cwd(). */
  base?: string
  /** For an s3:// pattern: endpoint, region, credentials... (see openStore). */
  storeOptions?: StoreOptions
  /** Largest record read, as in archiveSource(): bytes or a size string ('100MiB'). */
  maxRecordSize?: number | string
}

/** Refuse a config that would drop the index's columns (SHOEBOX_META_CONFIG), before any archive is read. */
export function checkIndexConfig (config: MetaConfig, source = 'config.yml'): void {
  if (config.keys === null) return
  const missing = [ARCHIVE_KEY, POSITION_KEY].filter((key) => !(config.keys as readonly string[]).includes(key))
  if (missing.length > 0) {
    throw new ShoeboxError('SHOEBOX_META_CONFIG', `${source}: metadata.include must name ${missing.join(' and ')} for a record index (meta index), or the positions are not kept`)
  }
}

/** How `_archive` names a file: a URL as is; a local path relative to `base` when inside it, '/'-separated. */
function archiveName (base: string, location: string): string {
  if (isRemote(location)) return location
  const relative = path.relative(base, location)
  const inside = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative)
  return (inside ? relative : location).split(path.sep).join('/')
}

/**
 * The metadata of every record of the archives `pattern` matches, each with
 * `_archive` and `_position`, origin = archive and record number: a source
 * for metaIngest().
 */
export function recordIndexSource (pattern: string, options: RecordIndexOptions = {}): ReadableOf<Record<string, string>> {
  const base = path.resolve(options.base ?? process.cwd())
  const records = archiveSource(pattern, { positions: true, storeOptions: options.storeOptions, maxRecordSize: options.maxRecordSize })
  const root = records.glob.root
  const remote = isRemote(root)
  let count = 0
  let current = ''
  const toObjects = new Transform({
    objectMode: true,
    transform (record: ShoeboxRecord, _encoding: BufferEncoding, callback: TransformCallback) {
      const position = record.position as Position
      if (position.file !== current) {
        current = position.file
        count = 0
      }
      count++
      const location = remote ? `${root}/${position.file}` : path.join(root, ...position.file.split('/'))
      const archive = archiveName(base, location)
      callback(null, withOrigin({ ...record.metadata, [ARCHIVE_KEY]: archive, [POSITION_KEY]: formatPosition(position) }, { file: archive, line: count }))
    }
  })
  pipeline(records, toObjects).catch((err: unknown) => toObjects.destroy(err as Error))
  return toObjects
}

/** The index columns of a state row (any other columns are ignored). */
export interface IndexedRow {
  readonly [key: string]: unknown
}

/** Where a row's record is: the pattern of its archive's directory (or bucket) and its position there. */
function locate (base: string, row: IndexedRow, what: string): { pattern: string, position: Position } {
  const archive = row[ARCHIVE_KEY]
  const text = row[POSITION_KEY]
  if (typeof archive !== 'string' || archive === '' || typeof text !== 'string' || text === '') {
    throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${what} has no ${ARCHIVE_KEY} and ${POSITION_KEY} (was it written by meta index, and does config.yml keep them?)`)
  }
  let position: Position
  try {
    position = parsePositionText(text, `${what}: ${POSITION_KEY}`)
  } catch (err) {
    throw new ShoeboxError('SHOEBOX_META_VALUE', (err as Error).message)
  }
  const location = isRemote(archive) ? archive : path.resolve(base, archive).split(path.sep).join('/')
  if (!location.endsWith('/' + position.file)) {
    throw new ShoeboxError('SHOEBOX_META_VALUE', `${what}: ${ARCHIVE_KEY} '${archive}' does not end with the file of ${POSITION_KEY} '${text}'`)
  }
  // The archive's directory (or bucket) as the pattern's root: the position's file is relative to it.
  // Glob characters in its name ('backup (1)', 'x[2]') stand for themselves.
  const dir = location.slice(0, -position.file.length)
  const bucket = /^[^:]+:\/\/[^/]*\//.exec(dir)?.[0] ?? ''
  return { pattern: bucket + escapeGlob(dir.slice(bucket.length)) + '**', position }
}

/**
 * The records the rows name (rows of the state db, or any objects with
 * `_archive` and `_position`), in the rows' order, fetched with ranged reads;
 * rows of one archive directory in a row are fetched by one source. `name`
 * says how errors call row i (default 'row i'). A row that names no record,
 * or a record that cannot be read, fails the stream after the records before it.
 */
export function indexedRecords (rows: Iterable<IndexedRow>, options: RecordIndexOptions & { name?: (i: number) => string } = {}): ReadableOf<ShoeboxRecord> {
  const base = path.resolve(options.base ?? process.cwd())
  const list = [...rows]
  const name = options.name ?? ((i: number) => `row ${i}`)
  let resume: (() => void) | null = null
  let started = false
  const out = new Readable({
    objectMode: true,
    highWaterMark: 16,
    read () {
      const waiting = resume
      resume = null
      waiting?.()
      if (started) return
      started = true
      run().then(() => { if (!out.destroyed) out.push(null) }, (err: Error) => { if (!out.destroyed) failAfterDelivery(out, err) })
    },
    destroy (err, callback) {
      const waiting = resume
      resume = null
      waiting?.()
      callback(err)
    }
  })
  async function fetchGroup (pattern: string, positions: Position[]): Promise<void> {
    const source = archiveSource(pattern, { positions, storeOptions: options.storeOptions, maxRecordSize: options.maxRecordSize })
    try {
      for await (const record of source) {
        if (out.destroyed) return
        if (!out.push(record)) await new Promise<void>((resolve) => { resume = resolve })
      }
    } finally {
      source.destroy()
    }
  }
  async function run (): Promise<void> {
    let group: { pattern: string, positions: Position[] } | null = null
    for (let i = 0; i < list.length; i++) {
      // A bad row fails after the records of the rows before it.
      let located
      try {
        located = locate(base, list[i], name(i))
      } catch (err) {
        if (group !== null) await fetchGroup(group.pattern, group.positions)
        throw err
      }
      if (group !== null && group.pattern === located.pattern) {
        group.positions.push(located.position)
        continue
      }
      if (group !== null) await fetchGroup(group.pattern, group.positions)
      if (out.destroyed) return
      group = { pattern: located.pattern, positions: [located.position] }
    }
    if (group !== null) await fetchGroup(group.pattern, group.positions)
  }
  return out
}
