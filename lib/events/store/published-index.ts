/**
 * A collector's index object in the shared store (`index/<id>.json`, written
 * by run-publisher.ts, read by remote-runs.ts), and reading one back. Each
 * run entry is the local index's, and says where the run is stored: in a pack
 * (run-pack.ts), `packs/<id>/<pack>` from byte `pack.offset` on, or, with no
 * `pack` (a run too large to pack, and every run of an object written before
 * packs), as its own object `runs/<id>/<file>`. Anyone
 * with write access to the prefix can leave other things there (a foreign
 * JSON file, a hand-edited or cut copy): an object is taken only if it is
 * the index of the collector its key names, with run entries a reader can
 * use as they are (integer times, ids, block offsets, a run file name that
 * stays under the collector's `runs/`, a pack name that stays under its
 * `packs/` and an offset that is a byte), else refused whole with what is
 * wrong. Taken half, it would answer gets with a silent hole or fail them one
 * by one later.
 */
import { ShoeboxError } from '../../errors.js'
import type { RunIndex } from './run-index.js'
import { compactRunInfo, SharedStrings, type RunInfo } from './run-file.js'
import { PACK_NAME } from './run-pack.js'

/** Where in a pack a packed run is: the pack's name (its key is packKey()) and the byte the run begins at. */
export interface PackPlace {
  file: string
  offset: number
}

/** A run as a collector's index object names it: the local index's entry, and its pack if it is packed. */
export interface PublishedRun extends RunInfo {
  pack?: PackPlace
}

/** What a collector's index object holds. */
export interface PublishedIndex {
  collector: string
  /** The publishing data directory's token (run-publisher.ts); absent in objects written before there was one. */
  instance?: string
  runs: PublishedRun[]
  streams: RunIndex['streams']
}

/** Packs of the runs compacted: a pack holds the runs of one publish, many streams' (run-pack.ts). */
const packs = new SharedStrings(4096)

/**
 * The run's entry as a readonly server keeps it for as long as its view
 * lasts: the strings it repeats shared as the local index's are
 * (compactRunInfo()), and its pack's name with the other runs of the pack.
 * JSON.parse makes each its own copy. Values are unchanged.
 */
export function compactPublishedRun (run: PublishedRun): PublishedRun {
  compactRunInfo(run)
  if (run.pack !== undefined) run.pack.file = packs.of(run.pack.file)
  return run
}

export function runKey (collector: string, file: string): string {
  return `runs/${collector}/${file}`
}

export function packKey (collector: string, pack: string): string {
  return `packs/${collector}/${pack}`
}

/** Where a published run's bytes are: the key of its object (its pack, or its own) and the byte they begin at. */
export function runObject (collector: string, run: PublishedRun): { key: string, offset: number } {
  return run.pack === undefined ? { key: runKey(collector, run.file), offset: 0 } : { key: packKey(collector, run.pack.file), offset: run.pack.offset }
}

export function indexKey (collector: string): string {
  return `index/${collector}.json`
}

const RUN_FILE = /^\d+\.shoebox(\.gz)?$/
const INTEGER = /^-?\d+$/
const EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `text`, the object at `key` (`index/<id>.json`) of the store at `url`, as a collector's index; throws SHOEBOX_BAD_RECORD naming it if it is not one. */
export function parsePublishedIndex (text: string, url: string, key: string): PublishedIndex {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw notIndex(url, key, `not JSON (${(err as Error).message}, ${text.length} bytes)`)
  }
  return checkPublishedIndex(value, url, key)
}

/** `value`, the object at `key` parsed, as a collector's index (see parsePublishedIndex). */
export function checkPublishedIndex (value: unknown, url: string, key: string): PublishedIndex {
  const collector = collectorOf(key)
  const problem = (why: string): ShoeboxError => notIndex(url, key, why)
  if (!isObject(value)) throw problem('not a JSON object')
  if (value.collector !== collector) throw problem(`it names collector ${JSON.stringify(value.collector)}`)
  if (value.instance !== undefined && typeof value.instance !== 'string') throw problem('its instance is not a string')
  if (!Array.isArray(value.runs)) throw problem('no list of runs')
  value.runs.forEach((run: unknown, i: number) => {
    const why = runProblem(run)
    if (why !== undefined) throw problem(`run ${i}: ${why}`)
  })
  const streams = value.streams
  if (!isObject(streams) || !Object.values(streams).every((names) => Array.isArray(names) && names.every((n) => typeof n === 'string'))) {
    throw problem('no streams by namespace')
  }
  return value as unknown as PublishedIndex
}

/** The collector an index key (`index/<id>.json`) names. */
function collectorOf (key: string): string {
  return key.slice(key.lastIndexOf('/') + 1, -'.json'.length)
}

function notIndex (url: string, key: string, why: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_BAD_RECORD', `${url}/${key} is not the index of collector ${collectorOf(key)}: ${why}`)
}

function runProblem (run: unknown): string | undefined {
  if (!isObject(run)) return 'not an object'
  if (typeof run.file !== 'string' || !RUN_FILE.test(run.file)) return `file ${JSON.stringify(run.file)} is not a run file name`
  for (const field of ['ns', 'stream']) if (typeof run[field] !== 'string') return `no ${field}`
  for (const field of ['bucket', 'minTime', 'maxTime']) if (typeof run[field] !== 'string' || !INTEGER.test(run[field])) return `${field} is not an integer`
  for (const field of ['firstId', 'lastId']) if (typeof run[field] !== 'string' || !EVENT_ID.test(run[field])) return `${field} is not an event id`
  for (const field of ['count', 'bytes']) if (!Number.isSafeInteger(run[field]) || (run[field] as number) < 0) return `${field} is not a count`
  const blocks = run.blocks
  if (!Array.isArray(blocks) || !blocks.every((b) => Array.isArray(b) && b.length === 2 && Number.isSafeInteger(b[0]) && b[0] >= 0 && typeof b[1] === 'string' && INTEGER.test(b[1]))) {
    return 'blocks are not [offset, time] pairs'
  }
  if (run.pack !== undefined) {
    const pack = run.pack
    if (!isObject(pack) || typeof pack.file !== 'string' || !PACK_NAME.test(pack.file)) return `pack ${JSON.stringify(isObject(pack) ? pack.file : pack)} is not a pack name`
    if (!Number.isSafeInteger(pack.offset) || (pack.offset as number) < 0) return `pack offset ${JSON.stringify(pack.offset)} is not a byte offset`
  }
  return undefined
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
