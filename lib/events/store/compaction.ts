/**
 * Size-tiered compaction of runs. Each flush adds a run per stream and
 * bucket, so a busy day would otherwise collect thousands of small runs
 * (each opened by a wide get, each listed in the index). When a stream's
 * bucket holds COMPACT_AT runs of about the same size (the same power-of-4
 * tier), they are merged into one; the merged run may then complete a
 * higher tier. Every event is rewritten O(log n) times, not once per flush;
 * runs that do not overlap are rewritten as bytes (concatenated).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { ShoeboxError } from '../../errors.js'
import { writeAll } from '../../fs/durable.js'
import { orIoError } from '../../fs/io-error.js'
import { distinct, mergeBlocks } from './merge.js'
import { firstKey, lastKey, readRun, type RunInfo } from './run-file.js'
import { BLOCK_BYTES, openRunFile, RunWriter } from './run-writer.js'
import { compareKeys, EVERY_TIME } from './stored-event.js'

export const COMPACT_AT = 4

function tier (run: RunInfo): number {
  return Math.floor(Math.log(Math.max(run.bytes, BLOCK_BYTES)) / Math.log(4))
}

/** The key of a run's stream and bucket: the runs compaction may merge together share it. */
export function bucketKey (run: Pick<RunInfo, 'ns' | 'stream' | 'bucket'>): string {
  return JSON.stringify([run.ns, run.stream, run.bucket])
}

/**
 * The runs of each of `keys` (bucketKey()), in index order, in one pass over
 * `runs`: a flush that added a run to each of 10,000 streams looked up each
 * stream's runs with a scan of the whole index, 10,000 scans of 10,000 runs.
 */
export function runsByBucket (runs: readonly RunInfo[], keys: ReadonlySet<string>): Map<string, RunInfo[]> {
  const groups = new Map<string, RunInfo[]>()
  for (const run of runs) {
    const key = bucketKey(run)
    if (!keys.has(key)) continue
    const list = groups.get(key)
    if (list === undefined) groups.set(key, [run])
    else list.push(run)
  }
  return groups
}

/** Runs of one stream and bucket (`runs` holds only those) that should be merged now, or undefined. */
export function pickCompaction (runs: readonly RunInfo[]): RunInfo[] | undefined {
  const tiers = new Map<number, RunInfo[]>()
  for (const run of runs) {
    const list = tiers.get(tier(run)) ?? []
    list.push(run)
    if (list.length >= COMPACT_AT) return list
    tiers.set(tier(run), list)
  }
  return undefined
}

/**
 * Merge sorted runs into one new run file, one event per (time, id) key (streaming: one block per run in
 * memory). Runs whose key ranges do not overlap (events that arrived in time
 * order, the usual case) are concatenated as bytes instead, block index and
 * all: no event is decoded or encoded again.
 */
export async function mergeRuns (dir: string, file: string, runs: readonly RunInfo[], options: { gzip: boolean, fsync: boolean }): Promise<RunInfo> {
  const inOrder = disjointOrder(runs)
  if (inOrder !== undefined && runs.every((r) => (r.gzip === true) === options.gzip)) return await concatRuns(dir, file, inOrder, options)
  const { ns, stream, bucket } = runs[0]
  const writer = new RunWriter(dir, file, ns, stream, BigInt(bucket), options)
  try {
    for await (const batch of distinct(mergeBlocks(runs.map((r) => readRun(dir, r, EVERY_TIME, false)), compareKeys), compareKeys)) await writer.add(batch)
  } catch (err) {
    await writer.abort()
    throw err
  }
  return await writer.finish()
}

/** The runs ordered so each one's last key is below the next one's first, or undefined when their ranges overlap. */
export function disjointOrder (runs: readonly RunInfo[]): RunInfo[] | undefined {
  const sorted = [...runs].sort((a, b) => compareKeys(firstKey(a), firstKey(b)))
  for (let i = 1; i < sorted.length; i++) {
    if (compareKeys(lastKey(sorted[i - 1]), firstKey(sorted[i])) >= 0) return undefined
  }
  return sorted
}

const COPY_BYTES = 1024 * 1024

/** One run file that is `runs` (sorted, disjoint) one after the other, written as RunWriter does: under its final name, fsynced (the directory is the caller's). */
async function concatRuns (dir: string, file: string, runs: readonly RunInfo[], options: { gzip: boolean, fsync: boolean }): Promise<RunInfo> {
  const first = runs[0]
  const last = runs[runs.length - 1]
  const info: RunInfo = {
    file, ns: first.ns, stream: first.stream, bucket: first.bucket, minTime: first.minTime, maxTime: last.maxTime,
    firstId: first.firstId, lastId: last.lastId, count: 0, bytes: 0, blocks: []
  }
  if (options.gzip) info.gzip = true
  const target = path.join(dir, file)
  const out = await openRunFile(target)
  try {
    // No larger than the largest run: a flush's 10,000 merges of runs of a few hundred bytes took 1 MiB each.
    const buf = Buffer.allocUnsafe(Math.min(COPY_BYTES, Math.max(1, ...runs.map((r) => r.bytes))))
    for (const run of runs) {
      const name = path.join(dir, run.file)
      const input = await orIoError(fs.open(name, 'r'), 'cannot open event run', name)
      try {
        for (let done = 0; done < run.bytes;) {
          const { bytesRead } = await input.read(buf, 0, Math.min(buf.length, run.bytes - done), done)
          if (bytesRead === 0) throw new ShoeboxError('SHOEBOX_BAD_RECORD', `event run ${name}: at byte ${done}: shorter than its index says`)
          await writeAll(out, buf.subarray(0, bytesRead))
          done += bytesRead
        }
      } finally {
        await input.close()
      }
      for (const [offset, time] of run.blocks) info.blocks.push([info.bytes + offset, time])
      info.bytes += run.bytes
      info.count += run.count
    }
    if (options.fsync) await out.sync()
    await out.close()
  } catch (err) {
    await out.close().catch(() => {})
    await fs.unlink(target).catch(() => {})
    throw err
  }
  return info
}
