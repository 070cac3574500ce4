/**
 * CORS with an explicit allow-list of origins. Kronos echoes any Origin on
 * non-OPTIONS requests (so any web page could read the answers); here only a
 * listed origin gets the Access-Control-* headers, on every request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { givenValue, invalidOption } from '../../errors.js'

export const ALLOWED_HEADERS = 'Accept, Content-Type, Origin, X-Requested-With'

/** Set the CORS headers when the request's Origin is on the list. */
export function applyCors (req: IncomingMessage, res: ServerResponse, allowed: ReadonlySet<string>, methods: string): void {
  const origin = req.headers.origin
  if (typeof origin !== 'string' || !allowed.has(origin)) return
  res.setHeader('Access-Control-Allow-Origin', origin)
  res.setHeader('Access-Control-Allow-Credentials', 'true')
  res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS)
  res.setHeader('Access-Control-Allow-Methods', methods)
  res.setHeader('Vary', 'Origin')
}

/**
 * serveEvents()'s corsOrigins as the set applyCors() matches: a list of
 * origins exactly as a browser sends them in its Origin header. A string
 * was a Set of its characters, and 'https://app.example.com/' (a trailing
 * '/', a path, capitals, a default port) matched no request, without a word:
 * refused, naming the origin meant. Undefined: none.
 */
export function corsAllowList (value: unknown): Set<string> {
  if (value === undefined) return new Set()
  if (!Array.isArray(value)) throw invalidOption('corsOrigins', `must be a list of origins (such as ['https://app.example.com']), got ${givenValue(value)}`)
  for (const item of value as unknown[]) {
    const origin = typeof item === 'string' && URL.canParse(item) ? new URL(item).origin : 'null'
    // An opaque origin ('null': a data: or file: page, a sandboxed frame) is every such page at once: never listed.
    if (origin === 'null') throw invalidOption('corsOrigins', `must be an origin such as 'https://app.example.com', got ${givenValue(item)}`)
    if (origin !== item) throw invalidOption('corsOrigins', `a browser sends the origin ${JSON.stringify(origin)} (scheme, host and port, lower case, no path), got ${givenValue(item)}`)
  }
  return new Set(value as string[])
}
