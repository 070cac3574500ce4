/**
 * ship()'s options: what they are, their defaults, and their checks (at
 * once, in the constructor, naming the option), resolved into the settings
 * the shipper runs with. The caller's object is copied, never changed.
 */
import { givenValue, invalidOption } from '../errors.js'
import { checkNamespaceOption } from './stream-name.js'
import type { BatcherLimits } from './ship-batcher.js'
import { shoeboxLibrary, type Library, type PrepareDefaults } from './ship-event.js'
import { checkFlag, checkKnownOptions, durationOption, oneOf, positiveCount, sizeOption } from '../units.js'

export type OverflowPolicy = 'block' | 'drop' | 'spill'

export interface ShipOptions {
  /** The stream of plain events (written without `{ stream, event }`). */
  stream?: string
  /** Sent with every put; absent, the server's default namespace applies. */
  namespace?: string
  /** Events per batch. Default 500. */
  batchEvents?: number
  /** Bytes of event text per batch. Default '1MiB'. */
  batchBytes?: number | string
  /** The longest an event waits for its batch to fill (ms or '100ms'). Default 100. */
  batchAge?: number | string
  /**
   * Batches in flight at once, of all streams. Default 8: enough for the
   * server to work on some while others wait for their fsync and answer (with
   * 4, `shoebox serve` sat blocked 39-42% of a benchmark run, with 8 27-32%),
   * and for a link with some latency; at most 8 bodies of batchBytes.
   */
  maxInFlight?: number
  /**
   * Batches of one stream in flight at once. Default: maxInFlight, so one
   * busy stream keeps the server busy while an earlier batch is fsynced
   * (with 1, each batch waits for the last one's answer). Callbacks and
   * `ack` events of a stream come in the order written either way; set 1
   * for a server that must also receive a stream's batches in that order
   * (with more, a retried batch can arrive after a later one).
   */
  maxInFlightPerStream?: number
  /** Events queued (cut into batches, waiting or in flight) before onOverflow applies. Default 10000. */
  queueEvents?: number
  /** Bytes queued before onOverflow applies. Default '16MiB'. */
  queueBytes?: number | string
  /** What a full queue does to the next event. Default 'block'. */
  onOverflow?: OverflowPolicy
  /** Directory of the spill archive (required by onOverflow 'spill'). */
  spill?: string
  retry?: {
    /** Tries per batch in all; Infinity (the default) retries until the server answers or destroy(). */
    attempts?: number
    /** First pause ceiling (ms or '1s'). Default 200. */
    baseDelay?: number | string
    /** Largest pause ceiling. Default '30s'. */
    maxDelay?: number | string
  }
  /** How long to wait for one answer (ms or '30s'). Default '30s'. */
  timeout?: number | string
  /** `@library` added to events without one; false adds none. Default { name: 'shoebox', version }. */
  library?: Library | false
  /** put() installs flushing before exit and on SIGTERM (then raised again, see ship-exit.ts). Default true. */
  exitHooks?: boolean
}

export interface ShipSettings {
  defaults: PrepareDefaults
  batch: BatcherLimits
  maxInFlight: number
  maxInFlightPerStream: number
  queueEvents: number
  queueBytes: number
  onOverflow: OverflowPolicy
  spill: string | undefined
  /** Tries (MAX_SAFE_INTEGER for unlimited) and pause ceilings in ms. */
  retry: { attempts: number, baseDelay: number, maxDelay: number }
  timeoutMs: number
  exitHooks: boolean
}

const POLICIES: readonly OverflowPolicy[] = ['block', 'drop', 'spill']

/** batchEvents's, batchBytes's and maxInFlight's defaults (`shoebox ship` sizes its queue for a file on stdin by them). */
export const DEFAULT_BATCH_EVENTS = 500
export const DEFAULT_BATCH_BYTES = 1024 * 1024
export const DEFAULT_MAX_IN_FLIGHT = 8

const OPTIONS: ReadonlyArray<keyof ShipOptions> = [
  'stream', 'namespace', 'batchEvents', 'batchBytes', 'batchAge', 'maxInFlight', 'maxInFlightPerStream', 'queueEvents', 'queueBytes',
  'onOverflow', 'spill', 'retry', 'timeout', 'library', 'exitHooks'
]
const RETRY_OPTIONS: ReadonlyArray<keyof NonNullable<ShipOptions['retry']>> = ['attempts', 'baseDelay', 'maxDelay']

export function shipSettings (options: ShipOptions = {}): ShipSettings {
  // A misspelt option ({ batchsize: 10 }, retry: { attempt: 3 }) was ignored and its default taken without a word.
  checkKnownOptions(options, OPTIONS, 'ship()')
  const retryGiven: unknown = options.retry
  if (retryGiven !== undefined && (typeof retryGiven !== 'object' || retryGiven === null || Array.isArray(retryGiven))) {
    throw invalidOption('retry', `must be an object of ${RETRY_OPTIONS.join(', ')}, got ${givenValue(retryGiven)}`)
  }
  if (options.retry !== undefined) checkKnownOptions(options.retry, RETRY_OPTIONS, 'retry', 'retry.')
  const onOverflow = options.onOverflow === undefined ? 'block' : options.onOverflow
  oneOf(onOverflow, POLICIES, 'onOverflow')
  if (onOverflow === 'spill' && (typeof options.spill !== 'string' || options.spill === '')) throw invalidOption('spill', "onOverflow 'spill' needs a spill directory")
  if (options.spill !== undefined && onOverflow !== 'spill') throw invalidOption('spill', "a spill directory is used only with onOverflow 'spill'")
  if (options.stream !== undefined && (typeof options.stream !== 'string' || options.stream === '')) throw invalidOption('stream', `must be a stream name, got ${givenValue(options.stream)}`)
  checkNamespaceOption(options.namespace)
  const attempts = options.retry?.attempts === undefined ? Infinity : options.retry.attempts
  if (attempts !== Infinity) positiveCount(attempts, 1, 'retry.attempts')
  const library = libraryFrom(options.library)
  const maxInFlight = positiveCount(options.maxInFlight, DEFAULT_MAX_IN_FLIGHT, 'maxInFlight')
  return {
    defaults: { stream: options.stream, namespace: options.namespace, library },
    batch: {
      maxEvents: positiveCount(options.batchEvents, DEFAULT_BATCH_EVENTS, 'batchEvents'),
      maxBytes: sizeOption(options.batchBytes, DEFAULT_BATCH_BYTES, 'batchBytes'),
      maxAgeMs: durationOption(options.batchAge, 100, 'batchAge')
    },
    maxInFlight,
    maxInFlightPerStream: positiveCount(options.maxInFlightPerStream, maxInFlight, 'maxInFlightPerStream'),
    queueEvents: positiveCount(options.queueEvents, 10_000, 'queueEvents'),
    queueBytes: sizeOption(options.queueBytes, 16 * 1024 * 1024, 'queueBytes'),
    onOverflow,
    spill: onOverflow === 'spill' ? options.spill : undefined,
    retry: {
      attempts: attempts === Infinity ? Number.MAX_SAFE_INTEGER : attempts,
      baseDelay: durationOption(options.retry?.baseDelay, 200, 'retry.baseDelay'),
      maxDelay: durationOption(options.retry?.maxDelay, 30_000, 'retry.maxDelay')
    },
    timeoutMs: durationOption(options.timeout, 30_000, 'timeout'),
    exitHooks: exitHooksFrom(options.exitHooks)
  }
}

/**
 * The `@library` member: { name, version } (two strings), false for none, or shoebox's when left out. Anything
 * else was spread into every event as it came: library: 'x' sent "@library": {"0":"x"}, true sent {}.
 */
function libraryFrom (value: unknown): Library | false {
  if (value === undefined) return shoeboxLibrary()
  if (value === false) return false
  const { name, version } = (value ?? {}) as Partial<Library>
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof name === 'string' && typeof version === 'string') return { ...value as Library }
  throw invalidOption('library', `must be { name, version } (two strings) or false, got ${givenValue(value)}`)
}

/** exitHooks: 'false' (a string) was read by its truthiness, as yes: refused, as every yes/no option is. */
function exitHooksFrom (value: boolean | undefined): boolean {
  checkFlag(value, 'exitHooks')
  return value ?? true
}
