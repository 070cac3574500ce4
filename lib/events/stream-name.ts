/**
 * Stream names (spec §6.2): 1 to 2048 characters from [A-Za-z0-9_.-].
 *
 * Kronos checks `^[\w\-\.]+$` with Python's `$`, which also matches before a
 * trailing newline, so it accepts "x\n". That is a defect, fixed here: a
 * trailing newline (or any other character outside the set) is refused.
 */
import { invalidOption, ShoeboxError } from '../errors.js'

export const MAX_STREAM_NAME_LENGTH = 2048

const STREAM_NAME_RE = /^[A-Za-z0-9_.-]+$/

/** Whether `name` is a valid stream name. */
export function isValidStreamName (name: unknown): name is string {
  return typeof name === 'string' && name.length >= 1 && name.length <= MAX_STREAM_NAME_LENGTH &&
    STREAM_NAME_RE.test(name)
}

/** `name` itself when valid; SHOEBOX_INVALID_STREAM_NAME naming it otherwise. */
export function checkStreamName (name: unknown): string {
  if (isValidStreamName(name)) return name
  const shown = typeof name === 'string' ? JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}...` : name) : String(name)
  const why = typeof name !== 'string'
    ? 'not a string'
    : name.length === 0
      ? 'empty'
      : name.length > MAX_STREAM_NAME_LENGTH
        ? `longer than ${MAX_STREAM_NAME_LENGTH} characters`
        : 'only A-Z a-z 0-9 _ . - are allowed'
  return invalid(`invalid stream name ${shown}: ${why}`)
}

function invalid (message: string): never {
  throw new ShoeboxError('SHOEBOX_INVALID_STREAM_NAME', message)
}

/** A client's or shipper's `namespace` option: absent (the server's default) or a name; '' is no namespace a server has, and every call would be refused. */
export function checkNamespaceOption (namespace: unknown): void {
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace === '')) {
    throw invalidOption('namespace', 'must be a non-empty name (an empty one is no namespace a server has)')
  }
}
