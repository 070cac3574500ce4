/**
 * serveEvents() as the package exports it: the server and its store are
 * loaded when a server is first started, not when shoebox is imported
 * (importing the package stays about as fast as starting Node).
 */
import type { EventServer, ServeEventsOptions } from './server/serve-events.js'

export type { EventServer, ServeEventsOptions, ServingMode } from './server/serve-events.js'

/** Start a Kronos-compatible event server on a local event store (see server/serve-events.ts). */
export async function serveEvents (options: ServeEventsOptions): Promise<EventServer> {
  const { serveEvents: start } = await import('./server/serve-events.js')
  return await start(options)
}
