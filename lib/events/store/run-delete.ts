/**
 * A delete's rewrite of one run: the run without the range's events, read
 * block by block (run-file.ts) and written through the RunWriter flushes and
 * compaction use, so a delete holds a few blocks whatever the run's size.
 * The blocks the range misses (all but one or two, for a small range) are
 * copied as they are; only those it cuts are encoded again, and what they
 * keep is packed into blocks of at least half the usual size (with the next
 * block's events when it is less: RunWriter.addBlock), as are blocks under
 * that size: left as they came, a run deleted from often became mostly
 * small blocks, which nothing else repacks.
 * A delete read the whole file and made an object of every event: a 511 MB run took
 * 1.16 GB of RSS to delete 99 events, and a run over 2 GiB could not be read
 * at all (bench/RESULTS.md, "A delete streams its runs").
 *
 * The new file is written under its final name and fsynced like any run
 * (run-writer.ts): the caller syncs the directory and swaps the index, and
 * removes the file if the delete fails before that.
 */
import { firstKey, lastKey, localReader, parseBlock, readBlockBytes, readRunBlocks, type BlockReader, type RunInfo } from './run-file.js'
import { MIN_BLOCK_BYTES, RunWriter } from './run-writer.js'
import { EVERY_TIME, inRange, type EventRange } from './stored-event.js'
import type { RunIndex } from './run-index.js'

/** What a delete leaves of a run: the run as it was, nothing (drop it), or a new run file. */
export type RunAfterDelete = { kind: 'untouched' } | { kind: 'empty' } | { kind: 'rewritten', run: RunInfo }

/**
 * Put what a delete left of `run` into `index` (changed in place): an emptied
 * run leaves it, a rewritten one takes its place, under the next run number.
 */
export function applyToIndex (index: RunIndex, run: RunInfo, after: RunAfterDelete): void {
  if (after.kind === 'untouched') return
  const at = index.runs.indexOf(run)
  if (after.kind === 'empty') {
    index.runs.splice(at, 1)
  } else {
    index.runSeq++
    index.runs[at] = after.run
  }
}

/**
 * The run without the range's events, as the new run file `file` when it
 * keeps some. `open` reads the run (its local file unless a test counts the reads).
 */
export async function deleteFromRun (
  dir: string, run: RunInfo, range: EventRange, file: string, options: { gzip: boolean, fsync: boolean },
  open: () => Promise<BlockReader> = localReader(dir, run)
): Promise<RunAfterDelete> {
  // A range is one interval of keys and a run is sorted: holding both ends, it holds every event.
  if (inRange(firstKey(run), range) && inRange(lastKey(run), range)) return { kind: 'empty' }
  // Only the blocks that can hold the range are read to learn whether it holds any event
  // (a range in a gap between events, or beside a run whose times only overlap it).
  if (!await holdsAny(run, range, open)) return { kind: 'untouched' }
  const writer = new RunWriter(dir, file, run.ns, run.stream, BigInt(run.bucket), options)
  let kept = 0
  try {
    // A block the range misses is copied as it is when the new run is packed as the old one.
    const copy = (run.gzip === true) === options.gzip
    for await (const { bytes, packed, name, offset } of readBlockBytes(run, EVERY_TIME, false, open)) {
      // Parsed all the same: its records are checked, and the writer needs its last key.
      const events = parseBlock(bytes, name, offset)
      const outside = events.filter((e) => !inRange(e, range))
      kept += outside.length
      // A small block (one an older version's delete left) is packed with its neighbours instead.
      if (copy && outside.length === events.length && events.length > 0 && bytes.length >= MIN_BLOCK_BYTES) {
        await writer.addBlock(packed, events)
      } else if (outside.length > 0) {
        await writer.add(outside)
      }
    }
    // Only when the index's first or last key is not the file's (a run of an older store, or a damaged index).
    if (kept === 0) {
      await writer.abort()
      return { kind: 'empty' }
    }
    return { kind: 'rewritten', run: await writer.finish() }
  } catch (err) {
    // The file is gone whatever failed (a read, a write, the fsync): the caller has not counted it.
    await writer.abort()
    throw err
  }
}

/** Whether the run holds any event in the range (only the blocks that can hold it are read): a delete of it would change the run. */
export async function holdsAny (run: RunInfo, range: EventRange, open: () => Promise<BlockReader>): Promise<boolean> {
  // Leaving the loop early closes the reader (readBlockBytes' finally).
  for await (const batch of readRunBlocks(run, range, false, open)) if (batch.length > 0) return true
  return false
}
