/**
 * Events as archive records, the run files' layout (metadata `t` and `id`;
 * payload the event text; logs written before put-records.ts had `ns` and
 * `s` before them, one record per event, and are still replayed): encoded
 * straight from each event's body bytes, with one metadata list reused for
 * every event of a group and one encoder for every call, so encoding costs
 * no per-event record objects and no slab or tables per call (a 1 MiB slab
 * per call, then a right-sized one plus the encoder's tables, were most of
 * the server's external memory churn).
 */
import { ArchiveEncoder } from '../../format/encoder.js'
import { formatEventId } from '../event-id.js'
import type { StoredEvent } from './stored-event.js'

export interface EventGroup {
  /** Metadata pairs before `t` and `id`, flattened: [] for a run, ['ns', ns, 's', stream] for the log. */
  prefix: readonly string[]
  events: readonly StoredEvent[]
}

/**
 * One encoder for every call (runs and the log's put records), used
 * synchronously: a new encoder per run block or per put cost its tables
 * (~56 KiB of typed arrays) and a slab, external memory that made V8 ask for
 * full collections. Its 1 MiB slabs are carved into the blocks; a block (and
 * so its slab) is held only until it is written.
 */
let shared: ArchiveEncoder | undefined

/** What `write` encodes, as v2 records in one buffer (empty when it wrote none). */
export function encodeWithSharedEncoder (write: (encoder: ArchiveEncoder) => void): Buffer {
  const encoder = shared ??= new ArchiveEncoder({ chunkSize: 1024 * 1024 })
  try {
    write(encoder)
  } catch (err) {
    // A refused record must not leave the records before it for the next call's take().
    encoder.take()
    throw err
  }
  const parts = encoder.take()
  return parts.length === 0 ? Buffer.alloc(0) : parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

/** The groups' events as v2 records in one buffer (empty when there are none). */
export function encodeEventRecords (groups: readonly EventGroup[]): Buffer {
  return encodeWithSharedEncoder((encoder) => {
    for (const { prefix, events } of groups) {
      const flat = [...prefix, 't', '', 'id', '']
      const t = flat.length - 3
      const id = flat.length - 1
      for (const e of events) {
        flat[t] = e.time.toString()
        flat[id] = e.idText ?? formatEventId(e.id)
        encoder.writeRange(flat, e.body, 0, e.body.length)
      }
    }
  })
}
