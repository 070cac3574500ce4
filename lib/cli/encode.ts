/** shoebox encode: NDJSON on stdin to an archive on stdout. */
import { pipeline } from 'node:stream/promises'
import { encodeNdjson, invalidWhat } from '../ndjson/encode-ndjson.js'
import type { Command } from './command.js'
import { inFlags, keyValues, metaFields, noArguments, oneOf, parse } from './options.js'
import { compressionOf } from '../compress/codecs.js'
import { compressFrom, compressOptionHelp, compressOptionSpec, expandCompress } from './compress-options.js'
import { usage } from './io.js'
import { DEFAULT_MAX_RECORD_SIZE } from '../format/constants.js'
import { Gate } from './stdin-gate.js'
import { maxFrameSizeFrom, maxRecordSizeFrom, recordLinesHint, recordSizeOptionSpec, refuseWithRecords, writeOptionHelp } from './read-options.js'
import { plural } from '../plural.js'
import { lineCutBySignal, onFirstSignal, stdinStoppedExitCode } from './interrupt.js'

const help = `Usage: shoebox encode [options] < input.ndjson > archive.shoebox

Turns each line of NDJSON on stdin into one record; the line's bytes are the
payload as-is (no parse). Blank lines are ignored. gzip or zstd input is
decompressed (known by its magic bytes); damage in it ends the output after
every whole line before it, exit 1. SIGINT or SIGTERM stop
reading stdin after its last whole line: the output ends after its record,
exit 0 (a regular file on stdin: 128 + the signal, 130 or 143, as the input
was cut short); a second signal quits at once.

Options:
  --format v1|v2             record format (default v2; v1 is the legacy StackTach format)
  --checksum crc32|crc32c    v2 record checksum (default crc32; v1 has none: a usage error with v1)
  --meta key=value           metadata for every record (repeatable)
  --meta-from-field [key=]path
                             metadata taken from each line's JSON field (dotted path;
                             key defaults to the path; repeatable; implies parsing)
  --validate                 parse each line and report one that is not JSON (or not UTF-8)
  --records                  each line is a record as 'shoebox read' and 'decode' print it,
                             {"metadata":...,"payload":...}, written back as that record:
                             its metadata and its payload's bytes (read --exact prints
                             every record so that they come back byte for byte); a line
                             that is no such record is invalid (--on-invalid)
  --on-invalid fail|skip     with --validate, --meta-from-field or --records (which parse
                             each line; without one it is a usage error): stop at a bad line,
                             after writing every line before it, and exit 1 (fail,
                             default), or skip bad lines and list them on stderr at the
                             end (skip, exit 0)
${compressOptionHelp}
${writeOptionHelp}
  -h, --help                 show this help`

/** The API options encode's library messages name, said as its flags (options.ts inFlags). */
const ENCODE_FLAGS = { maxRecordSize: '--max-record-size', maxFrameSize: '--max-frame-size' }

export const encodeCommand: Command = {
  name: 'encode',
  summary: 'NDJSON on stdin to an archive on stdout',
  help,
  flags: ENCODE_FLAGS,
  async run (argv, io) {
    const { values, positionals } = parse(expandCompress(argv), {
      format: { type: 'string' },
      checksum: { type: 'string' },
      meta: { type: 'string', multiple: true },
      'meta-from-field': { type: 'string', multiple: true },
      validate: { type: 'boolean' },
      records: { type: 'boolean' },
      'on-invalid': { type: 'string' },
      ...compressOptionSpec,
      ...recordSizeOptionSpec
    }, true)
    noArguments(positionals, ' (it reads stdin)')
    const format = oneOf('--format', values.format, ['v1', 'v2'] as const, 'v2')
    const checksum = oneOf('--checksum', values.checksum, ['crc32', 'crc32c'] as const, 'crc32')
    const onInvalid = oneOf('--on-invalid', values['on-invalid'], ['fail', 'skip'] as const, 'fail')
    if (format === 'v1' && values.checksum !== undefined) throw usage('--checksum applies to --format v2 only: v1 records carry no checksum')
    const metadataFromFields = metaFields(values['meta-from-field'] as string[] | undefined)
    const validate = values.validate === true
    const records = values.records === true
    if (records) refuseWithRecords(values)
    const maxRecordSize = maxRecordSizeFrom(values)
    const maxFrameSize = maxFrameSizeFrom(values)
    const compression = compressionOf(compressFrom(values))
    // A codec this install cannot load fails before anything is read.
    await compression?.codec.ready('stdout')
    // Without a parse no line is ever invalid: the flag would do nothing, silently.
    if (values['on-invalid'] !== undefined && !validate && !records && Object.keys(metadataFromFields).length === 0) {
      throw usage('--on-invalid needs --validate (or --meta-from-field or --records, which parse each line)')
    }
    const lines = encodeNdjson({
      format,
      ...(format === 'v2' ? { checksum } : {}),
      metadata: keyValues('--meta', values.meta as string[] | undefined),
      metadataFromFields,
      validate,
      records,
      onInvalid: onInvalid === 'fail' ? 'end' : 'skip',
      maxRecordSize,
      source: 'stdin'
    })
    // A bad line ends the output ('end'); stdin is then read no further: a producer that never ends (tail -f)
    // kept the command reading, and the line unreported, for ever.
    const gate = new Gate({ longest: maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE })
    lines.on('invalid', () => { if (onInvalid === 'fail') gate.closeAndStop() })
    lines.once('recordLines', () => { io.stderr.write(`shoebox encode: ${recordLinesHint}\n`) })
    // SIGINT or SIGTERM end the input after its last whole line, so that the output ends as at a real end: whole
    // records (and a complete compressed stream), never half of one. Killed by the signal, it ended wherever the
    // encoder or the compressor was. A second signal finds no handler: Node's default ends the process at once.
    let signal: NodeJS.Signals | undefined
    const offSignals = onFirstSignal((name) => {
      // After the end of stdin (all of it read) a signal cuts nothing: the output is finished as without it.
      if (gate.writableEnded) return
      signal = name
      gate.closeAndStop()
    })
    try {
      // stdin's text feeds the gate: damage ends it at its last whole line, reported below. A read error of
      // plain stdin, or zstd where this install has none, destroys the gate, and so fails the pipeline below.
      gate.feed(io.stdin, { maxFrameSize })
      if (compression === undefined) await pipeline(gate, lines, io.stdout)
      else await pipeline(gate, lines, compression.codec.compress(compression.level), io.stdout)
    } finally {
      offSignals()
    }
    if (onInvalid === 'fail' && lines.invalid.length > 0) {
      const bad = lines.invalid[0]
      io.stderr.write(`shoebox encode: stdin: line ${bad.line}: ${inFlags(invalidWhat(bad), ENCODE_FLAGS)} (${plural(lines.records, 'record')} written before it)\n`)
      return 1
    }
    for (const bad of lines.invalid) io.stderr.write(`shoebox encode: skipped stdin line ${bad.line}: ${inFlags(invalidWhat(bad), ENCODE_FLAGS)}\n`)
    const skipped = lines.invalid.length > 0 ? `, ${plural(lines.invalid.length, 'invalid line')} skipped` : ''
    const damage = gate.failure
    if (damage !== null) {
      // The line the damage cut is not encoded; every whole line before it is (the skipped ones listed above).
      const cut = gate.heldBytes > 0 ? `; the last line it cut, ${plural(gate.heldBytes, 'byte')}, not encoded` : ''
      io.stderr.write(`shoebox encode: ${damage.message} (${plural(lines.records, 'record')} written before it${skipped}${cut})\n`)
      return 1
    }
    if (signal !== undefined) {
      io.stderr.write(`shoebox encode: interrupted by ${signal}; ${plural(lines.records, 'record')} written${skipped}${lineCutBySignal(signal, gate.heldBytes, 'encoded')}, the rest of stdin was not read\n`)
      // The end of a producer that may never end (a pipe) or a file's cut short: interrupt.ts.
      return stdinStoppedExitCode(io, signal)
    }
    if (skipped !== '') io.stderr.write(`shoebox encode: ${plural(lines.records, 'record')} written${skipped}\n`)
    return 0
  }
}
