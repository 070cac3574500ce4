/**
 * Events as archive records, the one layout the log and the run files share
 * (metadata `t` and `id`, the log adding `ns` and `s` before them; payload
 * the event text): encoded straight from each event's body bytes into one
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

/** Longest decimal kronos time (a '-' and 19 digits) plus the id text. */
const KEY_CHARS = 20 + 36 + 't'.length + 'id'.length

/** The groups' events as v2 records in one buffer (empty when there are none). */
export function encodeEventRecords (groups: readonly EventGroup[]): Buffer {
  let bound = 0
  for (const { prefix, events } of groups) {
    let prefixChars = 0
    for (const s of prefix) prefixChars += s.length
    // What the encoder reserves per record (see ArchiveEncoder's #append): header, trailer and a UTF-8 bound of the metadata.
    const perRecord = V2_HEADER_SIZE + V2_TRAILER_SIZE + 4 + 4 * (prefix.length + 4) + 3 * (prefixChars + KEY_CHARS)
    for (const e of events) bound += perRecord + e.body.length
  }
  if (bound === 0) return Buffer.alloc(0)
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
