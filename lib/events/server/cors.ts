/**
 * CORS with an explicit allow-list of origins. Kronos echoes any Origin on
 * non-OPTIONS requests (so any web page could read the answers); here only a
 * listed origin gets the Access-Control-* headers, on every request.
 *
 * CORS only keeps a page from reading an answer: a "simple" request (a POST
 * of text/plain, no preflight) is still sent and acted on. A browser names
 * the page's origin in every such request, so a request naming an unlisted
 * one is refused whole (unlistedOrigin): otherwise any page the user opens
 * could put or delete events on a server that listens on 127.0.0.1.
 * Clients that are no browser send no Origin.
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

/** The request's Origin when it names one not on the list (a web page's request to refuse), else undefined. */
export function unlistedOrigin (req: IncomingMessage, allowed: ReadonlySet<string>): string | undefined {
  const origin = req.headers.origin
  return typeof origin === 'string' && !allowed.has(origin) ? origin : undefined
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
