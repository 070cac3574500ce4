/**
 * logScope() and logFunction(): one event per call, shipped with put() (it
 * returns at once), as pykronos's log_scope / log_function do (spec §8):
 * the properties asked for, `duration` in seconds, and on a failure
 * `exception: { message, class, stack_trace? }`.
 *
 * As in pykronos, logFunction re-throws (or rejects again) what the function
 * threw, and logScope swallows it, resolving to undefined; a scope that
 * wants it back asks with `rethrow: true`.
 */
import type { Shipper } from './ship.js'
import { checkCallback, invalidOption } from '../errors.js'
import { checkStreamName } from './stream-name.js'

export interface LogOptions {
  /** Namespace of the events (else the shipper's). */
  namespace?: string
  /** Add `stack_trace` (the stack's lines below the message) to `exception`. Default false. */
  stackTrace?: boolean
}

export interface ExceptionInfo {
  message: string
  /** The error's class name ('TypeError', 'ShoeboxError'); pykronos's module.Class. */
  class: string
  stack_trace?: string[]
}

/** What an event says about a thrown value. */
export function exceptionInfo (error: unknown, stackTrace = false): ExceptionInfo {
  if (!(error instanceof Error)) return { message: describe(error), class: typeof error }
  const info: ExceptionInfo = { message: error.message, class: error.constructor?.name ?? error.name }
  if (stackTrace && typeof error.stack === 'string') {
    info.stack_trace = error.stack.split('\n').slice(1).map((line) => line.trim()).filter((line) => line !== '')
  }
  return info
}

/** String(value), or its [object Type] tag where String() throws (no prototype, a toString that throws): the log must not fail. */
function describe (value: unknown): string {
  try {
    return String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

/** Seconds since `start` (process.hrtime.bigint()). */
export function secondsSince (start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9
}

function isPromiseLike (value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function'
}

/** Ship one finished call's event. */
/**
 * The shipper, the stream and the function of a logging helper, checked when it is called (logFunction: when it
 * wraps): a stream name the server refuses made every event invalid, which put() reports to no one, and
 * logFunction(shipper, stream, notAFunction) threw 'fn.apply is not a function' at each call of the wrapper.
 */
export function checkLogTarget (shipper: unknown, stream: unknown, fn: unknown, fnName: string): void {
  if (typeof (shipper as Partial<Shipper> | null)?.put !== 'function') throw invalidOption('shipper', 'must be a shipper, as ship() makes')
  try {
    checkStreamName(stream)
  } catch (err) {
    throw invalidOption('stream', (err as Error).message)
  }
  if (fn === undefined) throw invalidOption(fnName, 'is required')
  checkCallback(fn, fnName)
}

function putEvent (shipper: Shipper, stream: string, event: Record<string, unknown>, options: LogOptions): void {
  shipper.put(options.namespace === undefined ? { stream, event } : { stream, event, namespace: options.namespace })
}

export interface ScopeOptions extends LogOptions {
  /** Throw (reject with) the body's failure after logging it, instead of swallowing it as pykronos does. Default false. */
  rethrow?: boolean
}

/**
 * Run `body` with the event (start with `properties`, add more inside) and
 * ship it when the body ends, with its duration and any failure.
 */
export async function logScope<T> (
  shipper: Shipper,
  stream: string,
  body: (event: Record<string, unknown>) => T | Promise<T>,
  properties: Record<string, unknown> = {},
  options: ScopeOptions = {}
): Promise<T | undefined> {
  checkLogTarget(shipper, stream, body, 'body')
  const event: Record<string, unknown> = { ...properties }
  const start = process.hrtime.bigint()
  let failure: { error: unknown } | undefined
  let result: T | undefined
  try {
    result = await body(event)
  } catch (error) {
    failure = { error }
  }
  event.duration = secondsSince(start)
  if (failure !== undefined) event.exception = exceptionInfo(failure.error, options.stackTrace)
  putEvent(shipper, stream, event, options)
  if (failure !== undefined && options.rethrow === true) throw failure.error
  return result
}

/**
 * Wrap `fn` so each call ships one event: each property computed from the
 * call's arguments, the duration (until the returned promise settles, for
 * an async function) and any failure, which is thrown on unchanged.
 */
export function logFunction<A extends unknown[], R> (
  shipper: Shipper,
  stream: string,
  fn: (...args: A) => R,
  properties: Record<string, (...args: A) => unknown> = {},
  options: LogOptions = {}
): (...args: A) => R {
  checkLogTarget(shipper, stream, fn, 'fn')
  return function (this: unknown, ...args: A): R {
    const event: Record<string, unknown> = {}
    for (const [name, get] of Object.entries(properties)) event[name] = get(...args)
    const start = process.hrtime.bigint()
    const finish = (error?: { error: unknown }): void => {
      event.duration = secondsSince(start)
      if (error !== undefined) event.exception = exceptionInfo(error.error, options.stackTrace)
      putEvent(shipper, stream, event, options)
    }
    let result: R
    try {
      result = fn.apply(this, args)
    } catch (error) {
      finish({ error })
      throw error
    }
    if (isPromiseLike(result)) {
      return Promise.resolve(result).then((value) => {
        finish()
        return value
      }, (error: unknown) => {
        finish({ error })
        throw error
      }) as R
    }
    finish()
    return result
  }
}
