/** Option parsing shared by the subcommands, on node:util parseArgs. */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { Metadata } from '../record.js'
import { givenValue, InvalidOptionError, ShoeboxError, VariableRefusedError, type ShoeboxErrorCode } from '../errors.js'
import { keyDict } from '../key-dict.js'
import { oneOf as checkOneOf, parseDuration } from '../units.js'
import { usage } from './io.js'

export type OptionSpec = NonNullable<ParseArgsConfig['options']>

export function parse (argv: string[], options: OptionSpec, allowPositionals: boolean): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true })
  } catch (err) {
    throw usage(argumentMistake(err as NodeJS.ErrnoException))
  }
}

/**
 * Whether the arguments ask for a command's help: `-h` or `--help` before a `--`. After it every argument is a
 * name (parseArgs takes them as positionals): `shoebox decode -- -h` decodes the file `-h`; it printed the help,
 * exit 0, the file unread, into whatever stdout was redirected to.
 */
export function asksForHelp (argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false
    if (arg === '--help' || arg === '-h') return true
  }
  return false
}

/**
 * node:util's refusal in our words, on one line: its messages run to
 * several lines ('--limit -1': ambiguous, did you forget..., use
 * --limit=-XYZ), and its unknown-option hint ends with an unbalanced quote
 * ('as in \'-- "--nope"'). The option is taken from between its quotes;
 * a message of another shape (another Node) is passed on, joined into one line.
 */
function argumentMistake (err: NodeJS.ErrnoException): string {
  const message = err.message
  const quoted = /^[^']*'(.+?)'(?:[. ]|$)/.exec(message)?.[1]
  // '-t, --to <value>': the long name, as the help lists it.
  const option = quoted === undefined ? undefined : /(?:^|, )(--?[^\s,]+)(?: <value>)?$/.exec(quoted)?.[1]
  if (option !== undefined) {
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      return `unknown option '${option}'`
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      if (/argument missing$/.test(message)) return `${option} needs a value`
      if (/does not take an argument$/.test(message)) return `${option} takes no value`
      if (/argument is ambiguous/.test(message)) return `${option}'s value starts with '-': give it as ${option}=VALUE`
    }
  }
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && quoted !== undefined) return noArgumentsLine(quoted)
  return message.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ')
}

/**
 * Refuse the arguments a command that takes none was given, quoting the
 * first as every refusal quotes what was typed (`takes no arguments, got
 * "x"`), whether parseArgs found it or the command (which takes them only to
 * say why not: `note`, ' (it reads stdin)').
 */
export function noArguments (positionals: readonly string[], note = ''): void {
  if (positionals.length > 0) throw usage(noArgumentsLine(positionals[0], note))
}

function noArgumentsLine (argument: string, note = ''): string {
  return `takes no arguments${note}, got ${givenValue(argument)}`
}

/** ['k=v', ...] to {k: v}; an entry without '=' is a usage error naming the option. */
export function keyValues (option: string, entries: string[] | undefined): Metadata {
  const out: Metadata = keyDict()
  for (const entry of entries ?? []) {
    const eq = entry.indexOf('=')
    if (eq <= 0) throw usage(`${option}: must be key=value, got ${givenValue(entry)}`)
    out[entry.slice(0, eq)] = entry.slice(eq + 1)
  }
  return out
}

/**
 * ['[key=]path', ...] to {key: path}; the key defaults to the path. An empty
 * key ('=x') or path ('k=', '') is a usage error naming the flag.
 */
export function metaFields (entries: string[] | undefined): Record<string, string> {
  const fields: Record<string, string> = keyDict()
  for (const spec of entries ?? []) {
    const eq = spec.indexOf('=')
    if (eq === 0) throw usage(`--meta-from-field: must be [key=]path with a key before '=', got ${givenValue(spec)}`)
    const [key, path] = eq > 0 ? [spec.slice(0, eq), spec.slice(eq + 1)] : [spec, spec]
    if (path === '') throw usage(`--meta-from-field: must be [key=]path, got ${givenValue(spec)}`)
    fields[key] = path
  }
  return fields
}

/**
 * A count option (--queue N, --attempts N, --roll-records N...): a whole
 * number from 1, in decimal digits; undefined when not given. Anything else
 * ('0', '-1', '1.5', '1e3', ' 5', '') is a usage error naming the flag and
 * what was typed (Number() alone would take '1e3' and ' 5', and read '' as 0),
 * in the API's words: "--queue: must be a positive integer, got \"abc\"".
 */
export function positiveInteger (option: string, value: unknown): number | undefined {
  return decimalInteger(option, value, 1, 'a positive integer')
}

/** A limit option (--limit N): as positiveInteger(), from 0. */
export function wholeNumber (option: string, value: unknown): number | undefined {
  return decimalInteger(option, value, 0, 'a whole number')
}

function decimalInteger (option: string, value: unknown, min: number, what: string): number | undefined {
  if (value === undefined) return undefined
  const text = String(value)
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) throw usage(`${option}: must be ${what}, got ${givenValue(text)}`)
  return n
}

/** A duration option (--timeout 10s): milliseconds, as parseDuration() reads them; undefined when not given. */
export function duration (option: string, value: unknown): number | undefined {
  return value === undefined ? undefined : asUsage(() => parseDuration(String(value), option))
}

/**
 * A flag that takes one of a few values (--format v1|v2): `fallback` when
 * not given; a value it does not take is refused in the API's words
 * (units.ts oneOf()), naming the flag: "--format: must be 'v1' or 'v2', got \"v3\"".
 */
export function oneOf<T extends string> (option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  return asUsage(() => checkOneOf(value, allowed, option))
}

/** What the user typed is the mistake: a refused option value, or a store or server URL that is none. */
const ARGUMENT_CODES: readonly ShoeboxErrorCode[] = ['SHOEBOX_INVALID_OPTION', 'SHOEBOX_BAD_URL']

export interface AsUsageOptions {
  /** More codes that mean a refused argument. */
  also?: readonly ShoeboxErrorCode[]
  /**
   * The flag each API option came from ({ 'roll.size': '--roll-size' }): a
   * refusal names what the user typed, not the API's name for it.
   */
  flags?: Readonly<Record<string, string>>
}

/**
 * Options said as their flag only where one is refused (withFlags, asUsage:
 * '--endpoint: must be ...'), never in running text: the name is also a word
 * of other messages ('endpoint unreachable', a store's failure, which became
 * '--endpoint unreachable' though no --endpoint was given).
 */
const REFUSAL_ONLY = new Set(['endpoint'])

/**
 * `text` (a library's message) with each API option that `flags` knows said
 * as the CLI flag the user types ({ overwrite: '--overwrite' }: "overwrite
 * lets the later replace ..." becomes "--overwrite lets ..."). Only a whole
 * word, after a space or '(' and before a space, ')' or ';': a path or host
 * name that holds the word is left alone, and so is a name a message already
 * pairs with its flag ('raise maxFrameSize, --max-frame-size, ...'). Give it distinctive names only (not 'stream' or
 * 'dir', which are words of many messages): it rewrites every match.
 */
export function inFlags (text: string, flags: Readonly<Record<string, string>>): string {
  let said = text
  for (const [option, flag] of Object.entries(flags)) {
    if (REFUSAL_ONLY.has(option)) continue
    const name = option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    said = said.replace(new RegExp(`(?<=^|[\\s(])${name}(?=$|[\\s);])`, 'g'), flag)
  }
  return said
}

/**
 * Run `work`; a ShoeboxError it fails with says the CLI's flags for the API
 * options `flags` knows (inFlags), as asUsage's refusals do. The error itself
 * is kept (its class and code decide the exit), with its message reworded.
 */
export async function withFlags<T> (work: () => Promise<T>, flags: Readonly<Record<string, string>>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    // A refused option the flags know is said as asUsage says it ('--endpoint: must be ...', not 'option endpoint: ...').
    if (err instanceof InvalidOptionError && Object.hasOwn(flags, err.option)) err.message = `${flags[err.option]}: ${err.reason}`
    else if (err instanceof ShoeboxError) err.message = inFlags(err.message, flags)
    throw err
  }
}

/**
 * Run `check` (an option parser, a URL check, or a constructor that checks
 * its options) on what the command line gave; a value it refuses
 * (SHOEBOX_INVALID_OPTION, SHOEBOX_BAD_URL, and the codes in `also`) is the
 * user's mistake: a usage error (exit 2). Its line names the flag
 * ('--roll-size: expected a size ...') when `flags` knows the option, or the
 * option is a flag already (a CLI's own parseSize(v, '--roll-size')); else
 * it is the refusal's message. Only around arguments: a bad URL met in data
 * (an index row's archive) is bad data, exit 1. An async `check` (a request
 * that checks its options first) refuses by rejecting: its promise is
 * converted alike.
 */
export function asUsage<T> (check: () => T, options: AsUsageOptions = {}): T {
  const { also = [], flags = {} } = options
  const refused = (err: unknown): unknown => {
    if (!(err instanceof ShoeboxError && (ARGUMENT_CODES.includes(err.code) || also.includes(err.code)))) return err
    if (err instanceof InvalidOptionError) {
      const flag = Object.hasOwn(flags, err.option) ? flags[err.option] : err.option.startsWith('--') ? err.option : undefined
      if (flag !== undefined) return usage(`${flag}: ${err.reason}`)
    }
    // Still told as the environment's (no --help hint under it: main.ts).
    if (err instanceof VariableRefusedError) return new VariableRefusedError('SHOEBOX_USAGE', err.variable, err.message, { cause: err })
    return usage(err.message)
  }
  try {
    const result = check()
    if (result instanceof Promise) return result.catch((err: unknown) => { throw refused(err) }) as T
    return result
  } catch (err) {
    throw refused(err)
  }
}
