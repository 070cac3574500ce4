/**
 * --max-record-size, which the reading commands (read, decode, verify, ls,
 * unpack) and the writing ones (encode, write) share, and --max-frame-size,
 * the readers' alone (the largest zstd frame decompressed).
 */
import { DEFAULT_MAX_FRAME_SIZE } from '../compress/zstd.js'
import { DEFAULT_MAX_RECORD_SIZE } from '../format/constants.js'
import { ShoeboxError } from '../errors.js'
import { plural } from '../plural.js'
import { parseSize } from '../units.js'
import { usage } from './io.js'
import type { OptionSpec } from './options.js'

/** The writers' options (encode, write). */
export const recordSizeOptionSpec: OptionSpec = {
  'max-record-size': { type: 'string' }
}

/** The readers' options (read, decode, verify, ls, unpack). */
export const readOptionSpec: OptionSpec = {
  ...recordSizeOptionSpec,
  'max-frame-size': { type: 'string' }
}

/** The writers' line: they refuse what readers would refuse. */
export const writeOptionHelp = `  --max-record-size SIZE  largest record written (default ${DEFAULT_MAX_RECORD_SIZE / (1024 * 1024)}MiB): a longer line fails,
                          naming it; readers need the same --max-record-size to read it back`

export const readOptionHelp = `  --max-record-size SIZE  largest record accepted (default ${DEFAULT_MAX_RECORD_SIZE / (1024 * 1024)}MiB); raise it
                          ('100MiB') for archives written with a larger maxRecordSize
  --max-frame-size SIZE   largest zstd frame decompressed (default ${DEFAULT_MAX_FRAME_SIZE / (1024 * 1024)}MiB): a frame
                          that could hold more is refused unread, as damage`

/** --max-record-size as bytes, or undefined for the default; a bad size is a usage error. */
export function maxRecordSizeFrom (values: Record<string, unknown>): number | undefined {
  // 26 bytes: the smallest record there is (the decoder refuses less).
  return sizeFrom(values, 'max-record-size', 26)
}

/** --max-frame-size as bytes, or undefined for the default; a bad size is a usage error. */
export function maxFrameSizeFrom (values: Record<string, unknown>): number | undefined {
  return sizeFrom(values, 'max-frame-size', 1)
}

function sizeFrom (values: Record<string, unknown>, flag: string, least: number): number | undefined {
  const value = values[flag]
  if (typeof value !== 'string') return undefined
  let size = 0
  try {
    size = parseSize(value, `--${flag}`)
  } catch (err) {
    if (!(err instanceof ShoeboxError && err.code === 'SHOEBOX_INVALID_OPTION')) throw err
  }
  // '99999999999999999999' is 1e20 to Number(): no size a Buffer or a file offset can be.
  if (!Number.isSafeInteger(size)) throw usage(`--${flag}: '${value}' is more bytes than any size (at most ${Number.MAX_SAFE_INTEGER})`)
  if (size < least) throw usage(`--${flag} expects a size of at least ${plural(least, 'byte')} such as 100MiB, got '${value}'`)
  return size
}
