/**
 * Kronos's response envelope: every JSON answer carries `@success` and
 * `@errors` as the endpoint decides, and `@took` (milliseconds, "%f"
 * formatted) is added on the way out, except where Kronos leaves it off
 * (a get with a bad stream name). Bodies are always `application/json`,
 * chunked (no Content-Length), as Kronos's server sends them.
 */
import type { ServerResponse } from 'node:http'
import { NOT_FOUND_TEXT } from './kronos-errors.js'
import { pythonJson } from './python-text.js'

export type Envelope = Record<string, unknown>

/** "0.483990ms": the time since `started` (a process.hrtime.bigint()). */
export function took (started: bigint): string {
  return `${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(6)}ms`
}

export interface SendOptions {
  /** Leave `@took` off (Kronos does for a get's InvalidStreamName). */
  noTook?: boolean
}

export function sendJson (res: ServerResponse, status: number, body: Envelope, started: bigint, options: SendOptions = {}): void {
  const out = options.noTook === true ? body : { ...body, '@took': took(started) }
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json')
  res.end(pythonJson(out))
}

/** A failure envelope: `@success` false and the errors. */
export function failure (errors: string[]): Envelope {
  return { '@errors': errors, '@success': false }
}

export function sendNotFound (res: ServerResponse): void {
  res.statusCode = 404
  res.setHeader('Content-Type', 'text/plain')
  res.end(NOT_FOUND_TEXT)
}
