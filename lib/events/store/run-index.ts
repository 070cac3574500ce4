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
  await writeFileDurably(path.join(dir, INDEX_FILE), JSON.stringify(index), { fsync })
}

export function runFileName (seq: number, gzip: boolean): string {
  return `${String(seq).padStart(10, '0')}.shoebox${gzip ? '.gz' : ''}`
}
