/** What every endpoint handler is given: the store and the server's settings. */
import type { EventBackend } from '../store/event-backend.js'

export interface ServerContext {
  store: EventBackend
  namespaces: ReadonlySet<string>
  defaultNamespace: string
  /** The storage name in put/delete answers ({"s": {"<backend>": {"num_inserted": 3}}}). */
  backend: string
  /** A get's body is sent in chunks of at least this many bytes. */
  flushSize: number
  /** A streamed answer whose socket takes no chunk for this long is cut (0: never; send-timeout.ts). */
  sendTimeoutMs: number
  /** Largest event text accepted (larger ones are refused one by one). */
  maxEventSize: number
  /** The most distinct streams a put may name (a put naming more is refused whole, 413). */
  maxPutStreams: number
  /** The `id` the index endpoint reports. */
  nodeId: string
}
