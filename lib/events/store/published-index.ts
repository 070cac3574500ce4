/**
 * A collector's index object in the shared store (`index/<id>.json`, written
 * by run-publisher.ts, read by remote-runs.ts), and reading one back. Anyone
 * with write access to the prefix can leave other things there (a foreign
 * JSON file, a hand-edited or cut copy): an object is taken only if it is
 * the index of the collector its key names, with run entries a reader can
 * use as they are (integer times, ids, block offsets, a run file name that
 * stays under the collector's `runs/`), else refused whole with what is
 * wrong. Taken half, it would answer gets with a silent hole or fail them one
 * by one later.
 */
import { ShoeboxError } from '../../errors.js'
import type { RunIndex } from './run-index.js'

/** What a collector's index object holds. */
export interface PublishedIndex {
  collector: string
  /** The publishing data directory's token (run-publisher.ts); absent in objects written before there was one. */
  instance?: string
  runs: RunIndex['runs']
  streams: RunIndex['streams']
}

export function runKey (collector: string, file: string): string {
  return `runs/${collector}/${file}`
}

export function indexKey (collector: string): string {
  return `index/${collector}.json`
}

const RUN_FILE = /^\d+\.shoebox(\.gz)?$/
const INTEGER = /^-?\d+$/
const EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `text`, the object at `key` (`index/<id>.json`) of the store at `url`, as a collector's index; throws SHOEBOX_BAD_RECORD naming it if it is not one. */
export function parsePublishedIndex (text: string, url: string, key: string): PublishedIndex {
  const collector = key.slice(key.lastIndexOf('/') + 1, -'.json'.length)
  const problem = (why: string): ShoeboxError =>
    new ShoeboxError('SHOEBOX_BAD_RECORD', `${url}/${key} is not the index of collector ${collector}: ${why}`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw problem(`not JSON (${(err as Error).message}, ${text.length} bytes)`)
  }
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
  return undefined
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
