/**
 * --max-record-size, which the reading commands (read, decode, verify, ls,
 * unpack) and the writing ones (encode, write) share, and --max-frame-size
 * (the largest zstd frame decompressed), the readers' and that of the
 * commands taking NDJSON, which may be zstd (encode, write, ship): there it
 * bounds only input read a frame at a time, where the backend cannot
 * stream (compress/zstd-stream.ts). And the flags by which a record goes
 * through a pipe whole: the readers' --raw-metadata and --exact, the
 * writers' --records.
 */
import { DEFAULT_MAX_FRAME_SIZE } from '../compress/zstd.js'
import { DEFAULT_MAX_RECORD_SIZE, MIN_MAX_RECORD_SIZE } from '../format/constants.js'
import { parseSize } from '../units.js'
import { asUsage, type OptionSpec } from './options.js'
import { usage } from './io.js'

/** The writers' options (encode, write). */
export const recordSizeOptionSpec: OptionSpec = {
  'max-record-size': { type: 'string' },
  'max-frame-size': { type: 'string' }
}

/** The readers' options (read, decode, verify, ls, unpack). */
export const readOptionSpec: OptionSpec = recordSizeOptionSpec

/** The writers' line: they refuse what readers would refuse. */
export const writeOptionHelp = `  --max-record-size SIZE  largest record written (default ${DEFAULT_MAX_RECORD_SIZE / (1024 * 1024)}MiB): a longer line fails,
                          naming it; readers need the same --max-record-size to read it back
  --max-frame-size SIZE   largest zstd frame of zstd input held whole (default ${DEFAULT_MAX_FRAME_SIZE / (1024 * 1024)}MiB): where
                          input cannot stream through zstd's window (with @mongodb-js/zstd, or on
                          Node 22 without the native addon's streaming decoder) each frame is
                          decompressed whole, and one that could hold more is refused unread, as
                          damage; streamed input (the addon's decoder, Node 24's zlib) needs no bound`

export const readOptionHelp = `  --max-record-size SIZE  largest record accepted (default ${DEFAULT_MAX_RECORD_SIZE / (1024 * 1024)}MiB); raise it
                          ('100MiB') for archives written with a larger maxRecordSize
  --max-frame-size SIZE   largest zstd frame decompressed (default ${DEFAULT_MAX_FRAME_SIZE / (1024 * 1024)}MiB): a frame
                          that could hold more is refused unread, as damage`

/**
 * decode's and read's --raw-metadata (decode()'s rawMetadata): the metadata as
 * the archive holds it, which the object form cannot always say (bytes that
 * are not UTF-8, a repeated key, where array-index keys stood).
 */
export const rawMetadataHelp = `  --raw-metadata  metadata as stored: [["key","value"],...] in order,
                  a key held twice twice; base64 (and "metadataEncoding":
                  "base64") when any key or value is not UTF-8`

/**
 * decode's and read's --exact: each line such that `write --records` and
 * `encode --records` (encodeNdjson's `records`) write back the record it
 * was, byte for byte: the metadata as --raw-metadata prints it, and each
 * payload as RecordsToNdjson's exactPayloads prints it.
 */
export const exactHelp = `  --exact         each record as 'write --records' and 'encode --records'
                  write it back byte for byte: metadata as --raw-metadata
                  prints it, a JSON payload's spaces kept (one with a line
                  break, or spaces around it, as a "utf8" string)`

/** The flags that print metadata, each a usage error with --payload-only (which prints none). */
const METADATA_FLAGS = ['raw-metadata', 'exact'] as const

/** --raw-metadata (or --exact, which implies it): whether records carry rawMetadata; with --payload-only (no metadata printed) a usage error. */
export function rawMetadataFrom (values: { 'raw-metadata'?: unknown, exact?: unknown, 'payload-only'?: unknown }): boolean {
  for (const flag of METADATA_FLAGS) {
    if (values[flag] === true && values['payload-only'] === true) throw usage(`--${flag} and --payload-only: choose one (--payload-only prints no metadata)`)
  }
  return values['raw-metadata'] === true || values.exact === true
}

/** The reading commands' flags for the API options their library messages name (options.ts inFlags). */
export const READ_FLAGS = { maxRecordSize: '--max-record-size', maxFrameSize: '--max-frame-size' }

/** --max-record-size as bytes, or undefined for the default; a bad size is a usage error, in parseSize()'s words. */
export function maxRecordSizeFrom (values: Record<string, unknown>): number | undefined {
  return sizeFrom(values, 'max-record-size', MIN_MAX_RECORD_SIZE)
}

/** --max-frame-size as bytes, or undefined for the default; a bad size is a usage error, in parseSize()'s words. */
export function maxFrameSizeFrom (values: Record<string, unknown>): number | undefined {
  return sizeFrom(values, 'max-frame-size', 1)
}

/** The flag's size as the API reads it (the least it takes, and at most Number.MAX_SAFE_INTEGER), refusals naming the flag. */
function sizeFrom (values: Record<string, unknown>, flag: string, least: number): number | undefined {
  const value = values[flag]
  if (typeof value !== 'string') return undefined
  return asUsage(() => parseSize(value, `--${flag}`, least))
}

/*
 * What `write --records` and `encode --records` share: the flags that do not go with it, and the hint either prints
 * when its input looks like `shoebox read`'s output and --records was not given (encodeNdjson's 'recordLines').
 */

/** The line said once on stderr; the write goes on as asked (such lines may be meant as payloads). */
export const recordLinesHint = "stdin's first line looks like shoebox read's output ({\"metadata\":...}): each line is " +
  "stored whole as one record's payload, the metadata it gives not as metadata; --records writes each back as the record it was"

/** --meta, --meta-from-field and --validate with --records: a usage error, as each would change or repeat what the line says. */
export function refuseWithRecords (values: { meta?: unknown, 'meta-from-field'?: unknown, validate?: unknown }): void {
  const given = [values.meta !== undefined && '--meta', values['meta-from-field'] !== undefined && '--meta-from-field', values.validate === true && '--validate']
    .filter((flag): flag is string => flag !== false)
  if (given.length > 0) {
    throw usage(`--records and ${given.join(', ')}: choose one (with --records each record keeps the metadata its line gives, and every line is checked)`)
  }
}
