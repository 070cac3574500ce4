/**
 * What `meta generate` and `meta index` share once they have a source and a
 * metaIngest sink: run one into the other with a line on stderr per invalid
 * item and per history row its replay skipped (skipped-line.ts) and a
 * progress line on a terminal, then print the counts (text, or
 * one JSON object) and fail after the valid items were written when asked to.
 */
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ShoeboxError } from '../../errors.js'
import type { InvalidMetadata, MetaIngest, MetaIngestResult } from '../../meta/ingest.js'
import { Interrupted, onFirstSignal } from '../interrupt.js'
import type { Io } from '../io.js'
import { isTerminal } from '../store-options.js'
import { oneLine } from '../one-line.js'
import { skippedRowLine } from './skipped-line.js'
import type { HistoryProblem } from '../../meta/history.js'

export interface IngestRunOptions {
  onInvalid: 'report' | 'fail'
  json: boolean
  /** What an item is called in messages: 'metadata objects', 'records'. */
  items: string
  /** What the summary counts: mmmeta's 'files' (generate), or 'records' (index). */
  counted: 'files' | 'records'
  /** The progress line after the count: 'objects read'. */
  progress: string
  /** Where an invalid item came from, for its line on stderr. */
  where: (info: InvalidMetadata) => string
}

/**
 * The counts in mmmeta's generate words ("Added 3 new files."), the items
 * named as `items` says: mmmeta's files for generate, records for index.
 */
export function summaryLines (r: MetaIngestResult, items: 'files' | 'records' = 'files'): string[] {
  return [
    `Added ${r.added} new ${items}.`,
    `Updated ${r.updated} ${items}.`,
    `Skipped ${r.skipped} not changed ${items}.`,
    ...(r.deleted > 0 ? [`${r.deleted} soft deleted ${items}.`] : []),
    ...(r.invalid > 0 ? [`${r.invalid} invalid ${items}.`] : []),
    r.file === null ? 'Nothing changed: no file written.' : `Wrote ${r.file.path} (${r.file.rows} rows).`,
    `Now ${r.rows} ${items} in meta database.`
  ]
}

export async function runIngest (io: Io, source: Readable, sink: MetaIngest, options: IngestRunOptions): Promise<number> {
  let firstInvalid: InvalidMetadata | undefined
  sink.on('invalid', (info: InvalidMetadata) => {
    firstInvalid ??= info
    // The row's key and values come from history files (pulled from anyone's store): one line, control characters escaped.
    io.stderr.write(`${oneLine(`invalid ${options.where(info)}: ${info.reason}`)}\n`)
  })
  // A history row the replay skipped (generate and index replay the history to diff against it): said as squash says it.
  sink.on('history-problem', (p: HistoryProblem) => { io.stderr.write(skippedRowLine(p)) })
  sink.on('wait', (holder: { pid: number }) => io.stderr.write(`waiting for another publisher (pid ${holder.pid})\n`))
  const progress = isTerminal(io) ? setInterval(() => { io.stderr.write(`\r${sink.processed} ${options.progress}`) }, 1000) : null
  // Whether the input failed first (then the sink never came to write its diff file), or the sink did.
  let inputFailed = false
  let sinkFailed = false
  source.once('error', () => { inputFailed ||= !sinkFailed })
  sink.once('error', () => { sinkFailed = true })
  // SIGINT or SIGTERM while objects come in: the sink is destroyed, which writes no diff file and releases the
  // publisher lock (killed outright by Node's default, the run left the lock and its scratch db behind). Once the
  // input has ended the sink is writing its one diff file: that finishes, whole, and the run ends as it would have.
  let interrupted: Interrupted | undefined
  const offSignals = onFirstSignal((name) => {
    if (sink.writableEnded) return
    interrupted = new Interrupted(name, `interrupted by ${name}`)
    sink.destroy(interrupted)
  })
  try {
    await pipeline(source, sink)
  } catch (err) {
    // pipeline() rejects as soon as the source fails, while the sink may still be starting (its
    // directories, the publisher lock): the command ends once the sink has closed, lock released.
    // (Not once(sink, 'close'): it rejects at the sink's 'error', which comes first.)
    if (!sink.closed) await new Promise<void>((resolve) => { sink.once('close', () => { resolve() }) })
    // The input failed, so the sink wrote no diff file: say so (the invalid items' lines above were not written either).
    if (err instanceof ShoeboxError && (inputFailed || err === interrupted) && sink.result === undefined) {
      err.message += "; nothing written, the meta db is as it was"
    }
    throw err
  } finally {
    offSignals()
    if (progress !== null) {
      clearInterval(progress)
      io.stderr.write('\r\x1b[K')
    }
  }
  const result = sink.result as MetaIngestResult
  if (options.json) {
    io.stdout.write(JSON.stringify({ ...result, file: result.file?.path ?? null }) + '\n')
  } else {
    io.stdout.write(summaryLines(result, options.counted).join('\n') + '\n')
  }
  if (options.onInvalid === 'fail' && firstInvalid !== undefined) {
    throw new ShoeboxError('SHOEBOX_META_INVALID', `${result.invalid} invalid ${options.items}, the first ${options.where(firstInvalid)}: ${firstInvalid.reason} (the valid ones were written)`)
  }
  return 0
}
