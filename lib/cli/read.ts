/** shoebox read: every archive a glob matches, as one NDJSON stream. */
import { pipeline } from 'node:stream/promises'
import type { Position } from '../record.js'
import { archiveSource, PositionNotFoundError, type FileEndEvent, type FileEvent, type ListFailedEvent, type SkippedEvent } from '../source/archive-source.js'
import type { DecodedCorruptInfo } from '../format/decode.js'
import { CorruptArchiveError, InvalidOptionError, ShoeboxError } from '../errors.js'
import { endOnFailure } from '../stream/deliver-then-fail.js'
import type { Command } from './command.js'
import { RecordsToNdjson } from '../ndjson/records-to-ndjson.js'
import { checkDirArg, usage } from './io.js'
import { oneOf, parse } from './options.js'
import { exactHelp, maxFrameSizeFrom, maxRecordSizeFrom, rawMetadataFrom, rawMetadataHelp, READ_FLAGS, readOptionHelp, readOptionSpec } from './read-options.js'
import { parsePositionText } from '../source/position-text.js'
import { STORE_FLAGS, storeOptionHelp, storeOptionSpec, storeOptionsFrom } from './store-options.js'
import { storeUrlArg } from './store-url-arg.js'
import { TransferReporter } from './transfer-reporter.js'
import { isRemote } from '../store/open-store.js'
import { DamageLines, skippedLine } from './damage-lines.js'
import { oneLine } from './one-line.js'
import { Interrupted, onFirstSignal } from './interrupt.js'
import { plural } from '../plural.js'
import { withWrittenBefore } from './written-before.js'

const help = `Usage: shoebox read PATTERN [options]

Reads every archive matching the glob PATTERN (quote it), in natural name
order (which is write order for shoebox's own names), plain, gzip or zstd, and
writes one JSON object per record to stdout, as 'shoebox decode' does.
PATTERN may be a store URL: 's3://bucket/logs/**/*.shoebox.gz' lists the keys
under the pattern's literal prefix and streams each object (a broken download
resumes where it stopped); transfer statistics go to stderr.
Damage stops the read after every record before it is written, with one
error line saying how many were, and exit 1 (--lenient skips it and goes on,
and exits 1 too).
A pattern that matches nothing is an error, unless following.
Without --follow, SIGINT or SIGTERM end the output after a whole record, with
one line saying it is incomplete, and exit 130 or 143 (128 + the signal).

Options:
  --positions        add each record's "position" {file, offset}, to resume from
  --from FILE:OFFSET  continue right after that position (FILE relative to the
                     pattern's directory, as --positions prints it); in a gzip or
                     zstd file FILE:OFFSET@MEMBER+SKIP (as meta index stores it)
                     starts at that member; implies --positions
  --follow           keep watching for new files until SIGINT or SIGTERM, which
                     end the output after a whole record (exit 0)
  --order name|mtime  file order (default name)
  --lenient          skip damage (reported on stderr), files that are not archives,
                     and zstd files where this install has no zstd
  --payload-only     print only each payload's bytes, one per line
${rawMetadataHelp}
${exactHelp}
${readOptionHelp}
${storeOptionHelp}
  -h, --help         show this help`

export const readCommand: Command = {
  name: 'read',
  summary: 'archives matching a glob, as one NDJSON stream',
  help,
  flags: { ...READ_FLAGS, ...STORE_FLAGS },
  async run (argv, io) {
    const { values, positionals } = parse(argv, {
      positions: { type: 'boolean' },
      from: { type: 'string' },
      follow: { type: 'boolean' },
      order: { type: 'string' },
      lenient: { type: 'boolean' },
      'payload-only': { type: 'boolean' },
      'raw-metadata': { type: 'boolean' },
      exact: { type: 'boolean' },
      ...readOptionSpec,
      ...storeOptionSpec
    }, true)
    const rawMetadata = rawMetadataFrom(values)
    // A malformed --endpoint is a usage error, said before anything is read or made.
    const storeOptions = storeOptionsFrom(values)
    if (positionals.length !== 1) throw usage('needs exactly one PATTERN (quote globs)')
    checkDirArg(positionals[0], 'PATTERN', "for archives on stdin, 'shoebox decode'")
    const order = oneOf('--order', values.order, ['name', 'mtime'], 'name')
    const lenient = values.lenient === true
    const source = fromRefused(() => archiveSource(storeUrlArg(positionals[0], storeOptions), {
      mode: lenient ? 'lenient' : 'strict',
      maxRecordSize: maxRecordSizeFrom(values),
      maxFrameSize: maxFrameSizeFrom(values),
      positions: values.positions === true,
      from: typeof values.from === 'string' ? parsePosition(values.from) : undefined,
      follow: values.follow === true,
      order,
      rawMetadata,
      storeOptions
    }))
    const transfers = isRemote(positionals[0]) ? new TransferReporter(io, 'shoebox read', () => source.stats()) : null
    let damaged = 0
    type Damage = DecodedCorruptInfo & { path: string }
    const damage = new DamageLines<Damage>((text, info) => { io.stderr.write(`shoebox read: ${oneLine(info.path)}: ${text}\n`) }, skippedLine)
    source.on('corrupt', (info: Damage) => {
      damaged++
      damage.add(info)
    })
    source.on('skipped', (info: SkippedEvent) => {
      damaged++
      io.stderr.write(`shoebox read: ${oneLine(info.path)}: skipped: ${info.reason}${info.code === undefined ? '' : ` (${info.code})`}\n`)
    })
    // --follow over a store: a listing lost past the store's retries (a network blip) is said, and the tail goes on.
    source.on('listFailed', (e: ListFailedEvent) => {
      io.stderr.write(`shoebox read: ${oneLine(e.path)}: listing failed, trying again in ${e.retryMs / 1000} s (still following): ${oneLine(e.error.message)}\n`)
    })
    // A file's damage lines end with it (its last frame's line, what the cap left out). The file being read,
    // or the last one read, is where a signal stops the read.
    let reading: { path: string, ended: boolean } | undefined
    // The files read to their end, and their records: what a strict failure's line says was kept before it.
    let filesWhole = 0
    let recordsWhole = 0
    source.on('file', (e: FileEvent) => {
      damage.end()
      reading = { path: e.path, ended: false }
    })
    source.on('fileEnd', (e: FileEndEvent) => {
      damage.end()
      reading = { path: e.path, ended: true }
      filesWhole++
      recordsWhole += e.records
    })
    // SIGINT or SIGTERM end the output after the record being printed (killed by SIGTERM, a reader could see half a
    // line); a second one finds no handler and quits at once.
    let signal: NodeJS.Signals | undefined
    const offSignals = onFirstSignal((name) => {
      // Once the source has delivered its end, the output is whole whatever comes.
      if (source.readableEnded) return
      signal = name
      source.stop()
    })
    // The source fails only after handing over every record before the damage;
    // the failure ends the output cleanly (all of it written) and is thrown after.
    const records = endOnFailure(source)
    let streamed = false
    try {
      await pipeline(records, new RecordsToNdjson({ payloadOnly: values['payload-only'] === true, exactPayloads: values.exact === true }), io.stdout)
      // The transfer totals mean something after damage, not after a failed transfer.
      streamed = records.failure === null || records.failure instanceof CorruptArchiveError
    } finally {
      offSignals()
      damage.end()
      // A failed read says so in its one error line, without a statistics line before it.
      transfers?.stop(streamed && records.failure === null)
    }
    if (records.failure !== null) {
      const written = { records: records.delivered, filesWhole, recordsOfThisFile: records.delivered - recordsWhole }
      throw usageOfFrom(withWrittenBefore(records.failure, written))
    }
    if (signal !== undefined) {
      // Every record the source handed over was printed (a stop keeps those it had buffered).
      const written = records.delivered
      const where = reading === undefined ? '' : `, stopped ${reading.ended ? 'after' : 'in'} ${oneLine(reading.path)}`
      // Following, a signal is how the read ends; otherwise it cut the read short (interrupt.ts).
      if (values.follow !== true) throw new Interrupted(signal, `interrupted by ${signal}; ${plural(written, 'record')} written${where}; the output is incomplete`)
      io.stderr.write(`shoebox read: stopped by ${signal}; ${plural(written, 'record')} written${where}\n`)
    }
    return damaged > 0 ? 1 : 0
  }
}

/**
 * A `from` the source refuses, at once (a member that cannot be) or once it reads the file (no record where the
 * position says: an offset and a skip that disagree), is what was typed: a usage error naming --from. One that
 * names records that are not there (no such file listed, past its end) stays SHOEBOX_NOT_FOUND (exit 1), and names
 * --from too: the library's message names its option `from`, which no one typed here.
 */
function usageOfFrom (err: unknown): unknown {
  if (err instanceof PositionNotFoundError) return new ShoeboxError(err.code, `--from: ${err.detail}`, { cause: err })
  return err instanceof InvalidOptionError && (err.option === 'from' || err.option.startsWith('from.')) ? usage(`--from: ${err.reason}`) : err
}

function fromRefused<T> (open: () => T): T {
  try {
    return open()
  } catch (err) {
    throw usageOfFrom(err)
  }
}

/** 'FILE:OFFSET', or 'FILE:OFFSET@MEMBER+SKIP' as `meta index` stores it (position-text.ts). */
export function parsePosition (text: string): Position {
  try {
    return parsePositionText(text, '--from')
  } catch (err) {
    throw usage((err as Error).message)
  }
}
