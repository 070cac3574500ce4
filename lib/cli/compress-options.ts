/**
 * The compression flags write, pack and encode share: --gzip[=LEVEL],
 * --zstd[=LEVEL] and --compress gzip|zstd|none, as one CompressOption from
 * the codec table. At most one of them: two would leave one silently unused.
 */
import { codecs, compressionOf, type CodecName, type CompressOption } from '../compress/codecs.js'
import { givenValue, InvalidOptionError } from '../errors.js'
import { usage } from './io.js'
import { asUsage, oneOf, type OptionSpec } from './options.js'

export const compressOptionSpec: OptionSpec = {
  gzip: { type: 'boolean' },
  'gzip-level': { type: 'string' },
  zstd: { type: 'boolean' },
  'zstd-level': { type: 'string' },
  compress: { type: 'string' }
}

export const compressOptionHelp = `  --gzip[=LEVEL]        compress with gzip (level 1-9, default 6)
  --zstd[=LEVEL]        compress with zstd: much faster than gzip at a similar size
                        (level -131072..22, not 0; default 1)
  --compress gzip|zstd|none   the codec at its default level (one of these three flags at most)`

/** --gzip=LEVEL is --gzip --gzip-level LEVEL, --zstd=LEVEL likewise (parseArgs has no optional values). */
export function expandCompress (argv: string[]): string[] {
  return argv.flatMap((a) => {
    for (const codec of ['gzip', 'zstd']) {
      // One token with '=': a negative level ('-5') would otherwise read as an option.
      if (a.startsWith(`--${codec}=`)) return [`--${codec}`, `--${codec}-level=${a.slice(codec.length + 3)}`]
    }
    return [a]
  })
}

/** The flags as a checked CompressOption (undefined: not compressed); a bad one is a usage error naming it. */
export function compressFrom (values: Record<string, unknown>): CompressOption | undefined {
  const given = (['gzip', 'zstd', 'compress'] as const).filter((flag) => values[flag] !== undefined && values[flag] !== false)
  if (given.length > 1) throw usage(`give one of ${given.map((f) => `--${f}`).join(', ')}, not both`)
  for (const codec of ['gzip', 'zstd'] as const) {
    if (values[`${codec}-level`] !== undefined && values[codec] !== true) throw usage(`--${codec}-level needs --${codec}`)
  }
  let option: CompressOption | undefined
  if (typeof values.compress === 'string') {
    option = oneOf('--compress', values.compress, Object.keys(codecs) as CodecName[], 'none')
  }
  /** The level flag, the level as typed, and the API option it sets. */
  let levelFlag: { flag: string, typed: string, option: string } | undefined
  for (const codec of ['gzip', 'zstd'] as const) {
    if (values[codec] !== true) continue
    const level = values[`${codec}-level`] as string | undefined
    levelFlag = { flag: `--${codec}`, typed: level ?? '', option: `${codec}.level` }
    // Number('') is 0 and Number('abc') NaN: the error would name a level nobody typed.
    if (level !== undefined && !/^\s*-?\d+\s*$/.test(level)) throw usage(`${levelFlag.flag}: the level must be an integer, got ${givenValue(level)}`)
    option = { codec, level: level === undefined ? undefined : Number(level) }
  }
  // Checked now, so a bad level is refused before anything is read or created.
  try {
    compressionOf(option)
  } catch (err) {
    // The API names its option (zstd.level); the user typed the flag, so the line names that.
    // Its reason ends with the number it was given, which Number() rounds (99999999999999999999 is 1e20): what was typed instead.
    if (err instanceof InvalidOptionError && err.option === levelFlag?.option) {
      throw usage(`${levelFlag.flag}: the level ${err.reason.replace(/, got [^,]*$/, '')}, got ${givenValue(levelFlag.typed)}`)
    }
    asUsage(() => { throw err })
  }
  return option
}
