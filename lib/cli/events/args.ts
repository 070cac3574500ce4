/** What the `shoebox events` subcommands share: the client from URL and --namespace, times, and usage errors. */
import { kronos, type KronosClient } from '../../events/client.js'
import { kronosTimeNow, toKronosTime, type KronosTime } from '../../events/kronos-time.js'
import { checkStreamName } from '../../events/stream-name.js'
import { givenValue } from '../../errors.js'
import { usage } from '../io.js'
import { asUsage, duration, positiveInteger, type OptionSpec } from '../options.js'

/** The options of every events subcommand: which namespace, how long to keep trying and to wait. */
export const clientSpec: OptionSpec = { namespace: { type: 'string' }, attempts: { type: 'string' }, timeout: { type: 'string' } }
export const clientHelp = '  --namespace NS    the namespace (default: the server\'s default namespace)\n' +
  '  --attempts N      give up after N tries (default 10, backing off up to 5 s\n' +
  '                    between tries: about 15 s when the connection is refused)\n' +
  '  --timeout T       a try that gets no byte for T fails (default 60s; 10s,\n' +
  '                    500ms; 0 waits for ever): a server that takes the\n' +
  '                    connection and never answers costs T a try'
export const timeHelp = 'Times are ISO 8601 (2026-12-03T10:00:00Z; no offset means UTC), kronos time\n' +
  '(an integer count of 100 ns ticks since the epoch), or now.'

/** A refused argument (bad name, time, id, URL or option) is the user's mistake: a usage error, exit 2. */
export function asUsageArg<T> (check: () => T): T {
  return asUsage(check, { also: ['SHOEBOX_INVALID_STREAM_NAME', 'SHOEBOX_INVALID_EVENT_TIME', 'SHOEBOX_INVALID_EVENT_ID'], flags: CLIENT_FLAGS })
}

/** The flag each of kronos()'s options (and get's and delete's startId) comes from, for the line that refuses it. */
const CLIENT_FLAGS = { namespace: '--namespace', attempts: '--attempts', timeout: '--timeout', startId: '--start-id' }

export function client (url: string, values: Record<string, unknown>): KronosClient {
  const namespace = values.namespace as string | undefined
  const attempts = positiveInteger('--attempts', values.attempts)
  const timeout = duration('--timeout', values.timeout)
  return asUsageArg(() => kronos(url, {
    ...(namespace === undefined ? {} : { namespace }), ...(attempts === undefined ? {} : { attempts }), ...(timeout === undefined ? {} : { timeout })
  }))
}

export function time (option: string, value: unknown, fallback: () => KronosTime): KronosTime {
  if (value === undefined) return fallback()
  const text = String(value)
  if (text.trim().toLowerCase() === 'now') return kronosTimeNow()
  try {
    return toKronosTime(text)
  } catch (err) {
    throw usage(`${option}: ${(err as Error).message}`)
  }
}

/**
 * --to before --from selects nothing, and with --order descending it reads
 * like a mistake (--from is the earlier end in either order): say so rather
 * than answer (or delete) nothing.
 */
export function checkRange (from: KronosTime, to: KronosTime, values: Record<string, unknown>): void {
  if (to < from) {
    throw usage(`--to ${String(values.to ?? 'now')} is before --from ${String(values.from ?? '0')}: no event is in that range (--from is the earlier end in either --order)`)
  }
}

export function streamName (value: string): string {
  return asUsageArg(() => checkStreamName(value))
}

/** The options of the subcommands that take a time range of a stream (get, delete). */
export const rangeSpec: OptionSpec = { from: { type: 'string' }, to: { type: 'string' }, 'start-id': { type: 'string' } }

/** The subcommands that take a stream (get, delete, schema) take it as `shoebox ship` does too: --stream NAME. */
export const streamSpec: OptionSpec = { stream: { type: 'string' } }
export const streamHelp = '  --stream NAME     the stream, as the STREAM argument (as shoebox ship takes it)'

/**
 * URL STREAM, or URL --stream STREAM, the stream name checked (get, delete,
 * schema). Both the same is one stream; both different is refused, naming
 * both, rather than one of them taken without a word.
 */
export function urlAndStream (positionals: string[], values: Record<string, unknown>): { url: string, stream: string } {
  const form = 'URL STREAM (or URL --stream STREAM)'
  const flag = values.stream as string | undefined
  if (flag === undefined) {
    const [url, name] = positionalArgs(positionals, form, 2)
    return { url, stream: streamName(name) }
  }
  if (positionals.length !== 1 && positionals.length !== 2) throw usage(`expected ${form}`)
  if (positionals.length === 2 && positionals[1] !== flag) {
    throw usage(`the stream is given twice, as ${givenValue(positionals[1])} and as --stream ${givenValue(flag)}: give it once`)
  }
  return { url: positionals[0], stream: streamName(flag) }
}

/** URL and STREAM, or URL alone; anything else is a usage error naming the form. */
export function positionalArgs (positionals: string[], form: string, count: number): string[] {
  if (positionals.length !== count) throw usage(`expected ${form}`)
  return positionals
}
