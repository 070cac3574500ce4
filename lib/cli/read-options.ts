/** --max-record-size, which the reading commands (read, decode, verify, ls, unpack) and the writing ones (encode, write) share. */
import { DEFAULT_MAX_RECORD_SIZE } from '../format/constants.js'
import { ShoeboxError } from '../errors.js'
import { parseSize } from '../units.js'
import { usage } from './io.js'
import type { OptionSpec } from './options.js'

export const readOptionSpec: OptionSpec = {
  'max-record-size': { type: 'string' }
}

/** The writers' line: they refuse what readers would refuse. */
export const writeOptionHelp = `  --max-record-size SIZE  largest record written (default ${DEFAULT_MAX_RECORD_SIZE / (1024 * 1024)}MiB): a longer line fails,
                          naming it; readers need the same --max-record-size to read it back`

export const readOptionHelp = `  --max-record-size SIZE  largest record accepted (default ${DEFAULT_MAX_RECORD_SIZE / (1024 * 1024)}MiB); raise it
                          ('100MiB') for archives written with a larger maxRecordSize`

/** --max-record-size as bytes, or undefined for the default; a bad size is a usage error. */
export function maxRecordSizeFrom (values: Record<string, unknown>): number | undefined {
  const value = values['max-record-size']
  if (typeof value !== 'string') return undefined
  let size = 0
  try {
    size = parseSize(value, '--max-record-size')
  } catch (err) {
    if (!(err instanceof ShoeboxError && err.code === 'SHOEBOX_INVALID_OPTION')) throw err
  }
  // 26 bytes: the smallest record there is (the decoder refuses less).
  if (size < 26) throw usage(`--max-record-size expects a size of at least 26 bytes such as 100MiB, got '${value}'`)
  return size
}
