/** shoebox decode: archives (files or stdin) to NDJSON on stdout. */
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { decompressStages } from '../compress/codecs.js'
import { zstdFrames } from '../compress/zstd-decompress.js'
import { decode, type DecodedCorruptInfo } from '../format/decode.js'
import { CorruptArchiveError, reasonIn, ShoeboxError } from '../errors.js'
import { ioError } from '../fs/io-error.js'
import { RecordsToNdjson } from '../ndjson/records-to-ndjson.js'
import { endOnFailure, feed, type EndOnFailure } from '../stream/deliver-then-fail.js'
import type { Command } from './command.js'
import { openInput } from './io.js'
import { filesOfArguments } from './file-args.js'
import { parse } from './options.js'
import { exactHelp, maxFrameSizeFrom, maxRecordSizeFrom, rawMetadataFrom, rawMetadataHelp, READ_FLAGS, readOptionHelp, readOptionSpec } from './read-options.js'
import { DamageLines, skippedLine } from './damage-lines.js'
import { oneLine } from './one-line.js'
import { Interrupted, onFirstSignal } from './interrupt.js'
import { plural } from '../plural.js'
import { withWrittenBefore } from './written-before.js'

const help = `Usage: shoebox decode [options] [file ...]

Reads archives (v1 and v2 records, in any mix; plain, gzip or zstd, known by
their magic bytes) from the files given (a directory stands for the files
directly in it; a file named twice is read once), or stdin (also '-'), and
writes one JSON object per record to stdout:

  {"metadata":{...},"payload":<value>}

The payload is the parsed JSON when the payload is JSON; otherwise it is a
string and "payloadEncoding" says how to read it: "utf8" (text) or "base64"
(binary). SIGINT or SIGTERM end the output after a whole record, with one
line saying it is incomplete, and exit 130 or 143 (128 + the signal).

Options:
  --payload-only    print only each payload's bytes, one per line
${rawMetadataHelp}
${exactHelp}
  --lenient         skip damaged stretches (reported on stderr) instead of failing
                    (a damaged zstd frame too; damaged gzip ends the file; a zstd
                    file where this install has no zstd is skipped whole)
${readOptionHelp}
  -h, --help        show this help`

export const decodeCommand: Command = {
  name: 'decode',
  summary: 'archives to NDJSON on stdout',
  help,
  flags: READ_FLAGS,
  async run (argv, io) {
    const { values, positionals } = parse(argv, {
      'payload-only': { type: 'boolean' },
      'raw-metadata': { type: 'boolean' },
      exact: { type: 'boolean' },
      lenient: { type: 'boolean' },
      ...readOptionSpec
    }, true)
    const rawMetadata = rawMetadataFrom(values)
    const payloadOnly = values['payload-only'] === true
    const exactPayloads = values.exact === true
    const lenient = values.lenient === true
    const maxRecordSize = maxRecordSizeFrom(values)
    const maxFrameSize = maxFrameSizeFrom(values)
    // A directory as the files directly in it; a file named twice decoded once (file-args.ts).
    const inputs = positionals.length > 0 ? await filesOfArguments(positionals) : ['-']
    let damaged = 0
    // SIGINT or SIGTERM end the output after the record being printed, and the files after it are not read: the
    // decode was cut short (interrupt.ts). Killed by the signal, the output could end inside a line. A second
    // signal finds no handler and quits at once.
    let signal: NodeJS.Signals | undefined
    let current: { records: EndOnFailure, last: boolean } | undefined
    const offSignals = onFirstSignal((name) => {
      // The last file's records all printed: the output is whole whatever comes.
      if (current?.last === true && current.records.readableEnded) return
      signal = name
      current?.records.stop()
    })
    let written = 0
    let reading = ''
    // The inputs read to their end, and their records: what a failure's line says was kept before it.
    let filesWhole = 0
    let recordsWhole = 0
    try {
      for (const [index, name] of inputs.entries()) {
        const file = name === '-' ? 'stdin' : name
        reading = file
        const failure = await decodeOne(name, index === inputs.length - 1)
        if (signal !== undefined) break
        if (lenient && failure instanceof ShoeboxError && failure.code === 'SHOEBOX_UNSUPPORTED') {
          // zstd where this install has none: this file is unread, the files after it are not (as read --lenient).
          damaged++
          io.stderr.write(`shoebox decode: ${oneLine(file)}: skipped: ${oneLine(reasonIn(failure, file))} (${failure.code})\n`)
          continue
        }
        if (failure instanceof CorruptArchiveError && failure.file === undefined) failure.inFile(file)
        if (failure !== null) {
          throw ioError(withWrittenBefore(failure, { records: written, filesWhole, recordsOfThisFile: written - recordsWhole }), 'cannot read', file)
        }
        filesWhole++
        recordsWhole = written
      }
    } finally {
      offSignals()
    }
    io.stdout.end()
    if (signal !== undefined) throw new Interrupted(signal, `interrupted by ${signal}; ${plural(written, 'record')} written, stopped in ${oneLine(reading)}; the output is incomplete`)
    return damaged > 0 ? 1 : 0

    /** Decode one input to stdout; resolves to its failure (damage, a read error), after every record before it is written. */
    async function decodeOne (name: string, last: boolean): Promise<Error | null> {
      const file = name === '-' ? 'stdin' : name
      // Damage in a zstd file names its frame (one line per damaged frame); the stages' own are frames skipped whole.
      const stages = await decompressStages({ file, mode: lenient ? 'lenient' : 'strict', maxFrameSize })
      const decoder = decode({ mode: lenient ? 'lenient' : 'strict', maxRecordSize, file, frames: zstdFrames(stages), rawMetadata })
      const damage = new DamageLines<DecodedCorruptInfo>((text) => { io.stderr.write(`shoebox decode: ${oneLine(file)}: ${text}\n`) }, skippedLine)
      const corrupt = (info: DecodedCorruptInfo): void => {
        damaged++
        damage.add(info)
      }
      decoder.on('corrupt', corrupt)
      for (const stage of stages) stage.on('corrupt', corrupt)
      // Damage (or an input failure) fails the decoder only after every record
      // before it; that ends this file's output cleanly, and is thrown after it is written.
      const records = endOnFailure(feed(await openInput(io, name), ...stages, decoder))
      current = { records, last }
      // A signal while the input was being opened.
      if (signal !== undefined) records.stop()
      try {
        await pipeline(records, new RecordsToNdjson({ payloadOnly, exactPayloads }), writingOn(io.stdout))
      } finally {
        damage.end()
        written += records.delivered
      }
      return records.failure
    }
  }
}

/**
 * A Writable that writes into `out` and leaves it open when it ends: one
 * file's pipeline of several into stdout. A pipeline into stdout itself with
 * `{ end: false }` left its listeners there (it waits on for stdout's end),
 * five more for each file: a MaxListenersExceededWarning on stderr from the
 * 11th file, and listeners piling up with every file.
 */
function writingOn (out: Writable): Writable {
  const closed = (): Error => out.errored ?? Object.assign(new Error('stdout was closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })
  return new Writable({
    decodeStrings: false,
    write (chunk: Buffer | string, encoding, callback) {
      if (out.destroyed) return callback(closed())
      if (out.write(chunk, encoding)) return callback()
      // Backpressure: on once stdout drains; a stdout that fails meanwhile (EPIPE, ENOSPC) never drains.
      const done = (): void => {
        out.off('drain', done)
        out.off('close', done)
        callback(out.destroyed ? closed() : null)
      }
      out.on('drain', done)
      out.on('close', done)
    }
  })
}
