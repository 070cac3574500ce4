/**
 * Events as archive records, the run files' layout (metadata `t` and `id`;
 * payload the event text; logs written before put-records.ts had `ns` and
 * `s` before them, one record per event, and are still replayed): encoded straight from each event's body bytes into one
 * buffer sized for them, with one metadata list reused for every event of a
 * group, so encoding costs no per-event record objects and no slab larger
 * than the records (encodeRecords' default 1 MiB slab per call was most of
 * the server's external memory churn).
 */
import { ArchiveEncoder } from '../../format/encoder.js'
import { V2_HEADER_SIZE, V2_TRAILER_SIZE } from '../../format/constants.js'
import { formatEventId } from '../event-id.js'
import type { StoredEvent } from './stored-event.js'

export interface EventGroup {
  /** Metadata pairs before `t` and `id`, flattened: [] for a run, ['ns', ns, 's', stream] for the log. */
  prefix: readonly string[]
  events: readonly StoredEvent[]
}

/** The longest decimal kronos time: a '-' and 19 digits. */
const TIME_CHARS = 20
const ID_CHARS = 36

/** The groups' events as v2 records in one buffer (empty when there are none). */
export function encodeEventRecords (groups: readonly EventGroup[]): Buffer {
  // The buffer is sized to the records (times counted at their longest), plus the
  // headroom the encoder wants for one record: its UTF-8 bound on metadata is 3
  // bytes a character, and sizing every record by it left a third of the buffer unused.
  let size = 0
  let headroom = 0
  for (const { prefix, events } of groups) {
    if (events.length === 0) continue
    let prefixChars = 0
    let prefixBytes = 0
    for (const s of prefix) {
      prefixChars += s.length
      prefixBytes += Buffer.byteLength(s)
    }
    const pairs = prefix.length / 2 + 2
    const metaChars = prefixChars + 't'.length + TIME_CHARS + 'id'.length + ID_CHARS
    const record = V2_HEADER_SIZE + V2_TRAILER_SIZE + 4 + 8 * pairs + prefixBytes + metaChars - prefixChars
    // What ArchiveEncoder's #append reserves beyond the record itself.
    headroom = Math.max(headroom, 4 + 4 * 2 * pairs + 3 * metaChars - (4 + 8 * pairs + prefixBytes + metaChars - prefixChars))
    for (const e of events) size += record + e.body.length
  }
  if (size === 0) return Buffer.alloc(0)
  const bound = size + headroom
  const encoder = new ArchiveEncoder({ chunkSize: Math.max(64, bound) })
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
  const parts = encoder.take()
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}
