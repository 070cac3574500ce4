/**
 * logRequests(): one event per HTTP request for node:http-style handlers,
 * what pykronos's Django middleware logs (spec §8): method, path, client_ip,
 * get_params, duration (seconds), and the exception when the handler
 * failed; plus the status sent. Shipped with put(), when the response
 * finishes (or the connection closes first).
 *
 * Two forms:
 * - middleware `(req, res, next)` (connect/express): logs, then calls next();
 *   what next() throws is recorded (and thrown on). Failures later handlers
 *   pass to next(err) do not come back here: wrap such a handler instead.
 * - a wrapped handler `logRequests(shipper, options, handler)`: a handler that
 *   throws or rejects gets its failure recorded and, if nothing was sent
 *   yet, a 500 answer, instead of an unhandled error.
 *
 * The request body is not captured: a Node request is a stream read once,
 * and reading it here would take it from the handler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { keyDict } from '../key-dict.js'
import { checkLogTarget, exceptionInfo, secondsSince } from './log-scope.js'
import { checkOptionsObject } from '../errors.js'
import type { Shipper } from './ship.js'

export interface RequestLogOptions {
  /** The stream of the request events. */
  stream: string
  namespace?: string
  /** Add `stack_trace` to `exception`. Default false. */
  stackTrace?: boolean
  /** More fields for each request's event. */
  fields?: (req: IncomingMessage, res: ServerResponse) => Record<string, unknown>
}

export type Next = (error?: unknown) => void
export type Handler = (req: IncomingMessage, res: ServerResponse) => unknown
export type Middleware = (req: IncomingMessage, res: ServerResponse, next?: Next) => void

/** The query string as an object; a repeated name gives an array. Any name is a key (`?constructor=1`, `?__proto__=1`). */
function queryParams (url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = keyDict()
  for (const [name, value] of url.searchParams) {
    const had = out[name]
    out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value]
  }
  return out
}

/**
 * The path and query of a request target as a client sent it. Node's parser
 * passes any target: one in absolute form that no URL parser takes
 * ('http://[bad/x') made new URL() throw from the server's listener, ending
 * the process of any server logging its requests. An origin-form target is
 * parsed after a base, not against one, so '//host/p' stays a path; any other
 * is taken absolute if it parses, else logged as it is, with no parameters.
 */
function requestTarget (target: string): { path: string, params: Record<string, string | string[]> } {
  const url = target.startsWith('/') ? new URL(`http://localhost${target}`) : URL.canParse(target) ? new URL(target) : undefined
  return url === undefined ? { path: target, params: keyDict() } : { path: url.pathname, params: queryParams(url) }
}

export function logRequests (shipper: Shipper, options: RequestLogOptions, handler?: Handler): Middleware {
  checkOptionsObject(options, 'logRequests()')
  checkLogTarget(shipper, options?.stream, handler ?? (() => {}), 'handler')
  const settings = { ...options }
  return (req, res, next) => {
    const start = process.hrtime.bigint()
    const target = requestTarget(req.url ?? '/')
    const event: Record<string, unknown> = {
      method: req.method,
      path: target.path,
      client_ip: req.socket.remoteAddress,
      get_params: target.params
    }
    let logged = false
    const log = (): void => {
      if (logged) return
      logged = true
      event.status = res.statusCode
      event.duration = secondsSince(start)
      if (settings.fields !== undefined) Object.assign(event, settings.fields(req, res))
      shipper.put(settings.namespace === undefined ? { stream: settings.stream, event } : { stream: settings.stream, event, namespace: settings.namespace })
    }
    res.once('finish', log)
    res.once('close', log)
    const failed = (error: unknown): void => {
      event.exception = exceptionInfo(error, settings.stackTrace)
    }
    if (handler === undefined) {
      if (next === undefined) return
      try {
        next()
      } catch (error) {
        failed(error)
        throw error
      }
      return
    }
    const answer500 = (error: unknown): void => {
      failed(error)
      if (next !== undefined) {
        next(error)
        return
      }
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' })
      if (!res.writableEnded) res.end('Internal Server Error\n')
    }
    try {
      const result = handler(req, res)
      if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
        (result as Promise<unknown>).then(undefined, answer500)
      }
    } catch (error) {
      answer500(error)
    }
  }
}
