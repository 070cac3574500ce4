/**
 * Size-tiered compaction of runs. Each flush adds a run per stream and
 * bucket, so a busy day would otherwise collect thousands of small runs
 * (each opened by a wide get, each listed in the index). When a stream's
 * bucket holds COMPACT_AT runs of about the same size (the same power-of-4
 * tier), they are merged into one; the merged run may then complete a
 * higher tier. Every event is rewritten O(log n) times, not once per flush.
 */
import { distinct, mergeBlocks } from './merge.js'
import { readRun, type RunInfo } from './run-file.js'
import { BLOCK_BYTES, RunWriter } from './run-writer.js'
import { compareKeys, type EventRange } from './stored-event.js'

export const COMPACT_AT = 4

const EVERYTHING: EventRange = { from: -(2n ** 63n), to: 2n ** 63n }

function tier (run: RunInfo): number {
  return Math.floor(Math.log(Math.max(run.bytes, BLOCK_BYTES)) / Math.log(4))
}

/** Runs of one stream and bucket that should be merged now, or undefined. */
export function pickCompaction (runs: readonly RunInfo[], ns: string, stream: string, bucket: string): RunInfo[] | undefined {
  const tiers = new Map<number, RunInfo[]>()
  for (const run of runs) {
    if (run.ns !== ns || run.stream !== stream || run.bucket !== bucket) continue
    const list = tiers.get(tier(run)) ?? []
    list.push(run)
    if (list.length >= COMPACT_AT) return list
    tiers.set(tier(run), list)
  }
  return undefined
}

/** Merge sorted runs into one new run file, one event per (time, id) key (streaming: one block per run in memory). */
export async function mergeRuns (dir: string, file: string, runs: readonly RunInfo[], options: { gzip: boolean, fsync: boolean }): Promise<RunInfo> {
  const { ns, stream, bucket } = runs[0]
  const writer = new RunWriter(dir, file, ns, stream, BigInt(bucket), options)
  try {
    for await (const batch of distinct(mergeBlocks(runs.map((r) => readRun(dir, r, EVERYTHING, false)), compareKeys), compareKeys)) await writer.add(batch)
  } catch (err) {
    await writer.abort()
    throw err
  }
  return await writer.finish()
}
