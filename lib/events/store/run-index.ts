/**
 * The run index: which run files exist (per namespace and stream, with their
 * bucket, time range, first/last id and block offsets), which log files are
 * already folded into runs (`walSeq`), and which streams exist. One small
 * JSON file replaced whole (temp + fsync + rename + dir fsync), so a crash
 * leaves the old index or the new one: swapping it is how a flush or a
 * delete becomes visible after a restart, all at once or not at all.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { writeFileDurably } from '../../fs/durable.js'
import { ioError } from '../../fs/io-error.js'
import { ShoeboxError } from '../../errors.js'
import { compactRunInfo, type RunInfo } from './run-file.js'

export interface RunIndex {
  version: 1
  /** Log files numbered below this are folded into runs. */
  walSeq: number
  /**
   * And so are the records of file `walSeq` that end at or before this byte
   * offset: a replay whose log held more than a memtable wrote runs as it
   * went (event-store.ts). Absent: none of that file's.
   */
  walOffset?: number
  /** The next run file number. */
  runSeq: number
  runs: RunInfo[]
  /** Stream names per namespace (a stream stays listed after its events are deleted, as in Kronos). */
  streams: Record<string, string[]>
}

export const INDEX_FILE = 'index.json'

export function emptyIndex (): RunIndex {
  return { version: 1, walSeq: 0, runSeq: 1, runs: [], streams: {} }
}

export async function loadIndex (dir: string): Promise<RunIndex> {
  const file = path.join(dir, INDEX_FILE)
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyIndex()
    throw new ShoeboxError('SHOEBOX_IO', `cannot read event index ${file}: ${(err as Error).message}`, { cause: err })
  }
  try {
    const index = JSON.parse(text) as RunIndex
    if (index.version !== 1 || !Array.isArray(index.runs)) throw new Error(`unknown layout (version ${String(index.version)})`)
    // Held for as long as the store is open: the copies JSON.parse made of one time or bucket shared (run-file.ts).
    for (const run of index.runs) if (Array.isArray(run?.blocks)) compactRunInfo(run)
    return index
  } catch (err) {
    throw new ShoeboxError('SHOEBOX_BAD_RECORD', `event index ${file} is damaged: ${(err as Error).message}; nothing was changed`, { cause: err })
  }
}

export async function saveIndex (dir: string, index: RunIndex, fsync: boolean): Promise<void> {
  const file = path.join(dir, INDEX_FILE)
  // Named: a full disk said only "no space left on device, write", which read as the run files' failure.
  await writeFileDurably(file, inPieces(indexText(index)), { fsync }).catch((err: unknown) => { throw ioError(err, 'cannot write the run index', file) })
}

/** About how many characters of the index are written at once. */
const PIECE_CHARS = 1024 * 1024

/**
 * JSON.stringify(index), the same text, a thousand runs or stream names at a time.
 * Made whole, the text of an index of 100,000 one-event runs (32 MB) and
 * its bytes were held at once at every flush, on top of the runs: saving it
 * took the process's RSS 230 MB above what it was, 54 MB so, in less CPU
 * (bench/RESULTS.md, "serve: a put naming many streams").
 */
function * indexText (index: RunIndex): Generator<string> {
  let comma = '{'
  for (const [key, value] of Object.entries(index) as Array<[string, unknown]>) {
    const whole = key === 'runs' || key === 'streams' ? undefined : JSON.stringify(value)
    // What JSON.stringify leaves out (an undefined walOffset).
    if (value === undefined || (whole === undefined && key !== 'runs' && key !== 'streams')) continue
    yield `${comma}${JSON.stringify(key)}:`
    comma = ','
    if (whole !== undefined) yield whole
    else if (Array.isArray(value)) yield * jsonArray(value)
    else if (value !== null && typeof value === 'object') yield * jsonLists(value as Record<string, unknown>)
    else yield JSON.stringify(value)
  }
  yield comma === '{' ? '{}' : '}'
}

/** Elements stringified at once: one JSON.stringify per element cost a third more CPU than the whole text. */
const ELEMENTS_AT_ONCE = 1000

/** JSON.stringify(list), ELEMENTS_AT_ONCE elements at a time. */
function * jsonArray (list: readonly unknown[]): Generator<string> {
  yield '['
  for (let i = 0; i < list.length; i += ELEMENTS_AT_ONCE) {
    const text = JSON.stringify(list.slice(i, i + ELEMENTS_AT_ONCE))
    yield `${i === 0 ? '' : ','}${text.slice(1, -1)}`
  }
  yield ']'
}

/** JSON.stringify(record) of lists (stream names per namespace), an element at a time. */
function * jsonLists (record: Record<string, unknown>): Generator<string> {
  let comma = '{'
  for (const [key, value] of Object.entries(record)) {
    const whole = Array.isArray(value) ? undefined : JSON.stringify(value)
    if (whole === undefined && !Array.isArray(value)) continue
    yield `${comma}${JSON.stringify(key)}:`
    comma = ','
    if (whole !== undefined) yield whole
    else yield * jsonArray(value as unknown[])
  }
  yield comma === '{' ? '{}' : '}'
}

/** Texts joined into UTF-8 buffers of about PIECE_CHARS characters. */
function * inPieces (texts: Iterable<string>): Generator<Buffer> {
  let parts: string[] = []
  let chars = 0
  for (const text of texts) {
    parts.push(text)
    chars += text.length
    if (chars >= PIECE_CHARS) {
      yield Buffer.from(parts.join(''))
      parts = []
      chars = 0
    }
  }
  if (parts.length > 0) yield Buffer.from(parts.join(''))
}

/**
 * Runs by namespace and stream, each stream's in the order given: what a get
 * chooses its runs from, made once per index, in the local store
 * (event-store.ts) and in a readonly server's view of the collectors' runs
 * (remote-runs.ts). Choosing them from the whole list looked at every run of
 * every stream at each get. Keyed by the runs' own name strings: a key made
 * per stream (ns + stream) cost ~70 bytes more each.
 */
export class RunsByStream<T> {
  readonly #runs = new Map<string, Map<string, T[]>>()

  /** `runOf` gives the index entry of an item (the item itself for the local index). */
  constructor (items: Iterable<T>, runOf: (item: T) => RunInfo) {
    for (const item of items) {
      const run = runOf(item)
      let streams = this.#runs.get(run.ns)
      if (streams === undefined) this.#runs.set(run.ns, streams = new Map())
      const list = streams.get(run.stream)
      if (list === undefined) streams.set(run.stream, [item])
      else list.push(item)
    }
  }

  /** The stream's runs, in the order given. */
  of (ns: string, stream: string): readonly T[] {
    return this.#runs.get(ns)?.get(stream) ?? []
  }
}

export function runFileName (seq: number, gzip: boolean): string {
  return `${String(seq).padStart(10, '0')}.shoebox${gzip ? '.gz' : ''}`
}
