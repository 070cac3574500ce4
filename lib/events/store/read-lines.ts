/**
 * A get's events as their texts (get-endpoint.ts), from a snapshot's runs
 * and memtable slices. Merging every source event by event (a key per event:
 * a bigint, an id buffer, an object; a heap step and distinct()'s compare)
 * cost the server more than reading the records, while runs mostly do not
 * overlap: a flush writes the memtable's events after the runs before it,
 * and compaction keeps whole ranges together. So the sources are sorted by
 * their lowest key and cut into groups that share no key (one group's
 * highest key is below the next group's lowest): a group of one run goes
 * out through readRunLines (its texts straight from the checked records), a
 * group of one memtable slice as its texts, and only a group of
 * overlapping sources is merged event by event, as before (mergeLimited).
 * Groups are read one after the other (last first when descending), so the
 * order, one event per (time, id) and the limit are those of mergeLimited()
 * over all the sources, and at most one group's sources are open at a time.
 */
import { distinct, mergeBlocks } from './merge.js'
import type { MemtableSlice } from './memtable.js'
import { firstKey, lastKey, readRunBlocks, type BlockReader, type RunInfo } from './run-file.js'
import { readRunLines } from './run-lines.js'
import { compareKeys, type EventKey, type EventRange, type StoredEvent } from './stored-event.js'

export interface LineSource {
  /** The lowest and highest key the source can hold (a run's index entry, a slice's ends). */
  low: EventKey
  high: EventKey
  /** Its events in the read's order, for a merge with overlapping sources. */
  events: () => AsyncIterator<StoredEvent[]>
  /** Its texts in the read's order, one per key, when no other source overlaps it. */
  lines: () => AsyncIterator<Buffer[]>
}

/** A run as a source (`open` makes its reader when it is first read). */
export function runSource (run: RunInfo, range: EventRange, descending: boolean, open: () => Promise<BlockReader>): LineSource {
  return {
    low: firstKey(run),
    high: lastKey(run),
    events: () => readRunBlocks(run, range, descending, open),
    lines: () => readRunLines(run, range, descending, open)
  }
}

/** A memtable's slice (not empty) as a source: its events or texts made a block at a time. */
export function memtableSource (slice: MemtableSlice, descending: boolean): LineSource {
  return {
    low: slice.event(0),
    high: slice.event(slice.size - 1),
    events: () => slice.blocks(descending),
    lines: () => slice.lines(descending)
  }
}

/** The texts of the sources' events in (time, id) order or its reverse, one per key, at most `limit`. */
export async function * readLines (sources: readonly LineSource[], descending: boolean, limit: number): AsyncGenerator<Buffer[]> {
  const groups = disjointGroups(sources)
  if (descending) groups.reverse()
  let left = limit
  for (const group of groups) {
    for await (const batch of readGroup(group, descending)) {
      if (batch.length >= left) {
        yield batch.slice(0, left)
        return
      }
      left -= batch.length
      yield batch
    }
  }
}

/** The sources in groups, ascending: no key of one group is at or above the next group's lowest. */
export function disjointGroups (sources: readonly LineSource[]): LineSource[][] {
  const sorted = [...sources].sort((a, b) => compareKeys(a.low, b.low))
  const groups: LineSource[][] = []
  let high: EventKey | undefined
  for (const source of sorted) {
    if (high !== undefined && compareKeys(source.low, high) <= 0) {
      groups[groups.length - 1].push(source)
      if (compareKeys(source.high, high) > 0) high = source.high
    } else {
      groups.push([source])
      high = source.high
    }
  }
  return groups
}

function readGroup (group: LineSource[], descending: boolean): AsyncIterable<Buffer[]> {
  if (group.length === 1) return { [Symbol.asyncIterator]: () => group[0].lines() }
  const order = descending ? (a: StoredEvent, b: StoredEvent) => compareKeys(b, a) : compareKeys
  return texts(distinct(mergeBlocks(group.map((s) => s.events()), order), order))
}

async function * texts (batches: AsyncIterable<StoredEvent[]>): AsyncGenerator<Buffer[]> {
  for await (const batch of batches) yield batch.map((e) => e.body)
}
