/**
 * CORS with an explicit allow-list of origins. Kronos echoes any Origin on
 * non-OPTIONS requests (so any web page could read the answers); here only a
 * listed origin gets the Access-Control-* headers, on every request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

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
