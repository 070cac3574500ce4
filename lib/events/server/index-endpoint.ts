/** GET /1.0/index (spec §5.1): what the server is; clients poll it to see a server is up. */
import type { ServerResponse } from 'node:http'
import { sendJson } from './envelope.js'
import type { ServerContext } from './server-context.js'

/** Kronos clients check the service name; the version is the protocol's (Kronos 0.6.2). */
export const SERVICE = 'kronosd'
export const PROTOCOL_VERSION = '0.6.2'

export function handleIndex (ctx: ServerContext, res: ServerResponse, started: bigint): void {
  sendJson(res, 200, {
    service: SERVICE,
    version: PROTOCOL_VERSION,
    id: ctx.nodeId,
    storage: { [ctx.backend]: { alive: true, backend: 'shoebox.events.EventStore' } },
    '@success': true
  }, started)
}
