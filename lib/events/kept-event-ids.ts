/**
 * Exactly-once shipping. A put whose answer is lost (the connection broke,
 * the server was killed after its fsync and before its reply) is sent
 * again by the shipper; had the server given the events new @ids, they
 * would be stored twice. So shoebox's shipper gives each event its @id
 * when it is written (kept through retries, the spill and a restart) and
 * asks the server, with the KEEP_IDS_HEADER, to keep those ids; the event
 * store counts events with an equal (time, @id) as one (merge.ts), as
 * Kronos's Cassandra backend does with its (key, id) primary key.
 *
 * Without the header a client's @id is overwritten, as Kronos does (spec
 * §3.3): pykronos and other clients see no change, and a Kronos server
 * ignores the header (it stamps ids of its own). With it, an @id is kept
 * only when it is the id a server could have made for the event's @time
 * (the same 60-bit time, version 1, byte 8 in 0x80..0x8F, so it sorts
 * between LOWEST and HIGHEST of its time); any other gets a new one.
 */
import { eventIdTime, isEventId, parseEventId } from './event-id.js'
import type { KronosTime } from './kronos-time.js'

/** Request header of a put whose events carry @ids to keep (value '1'). */
export const KEEP_IDS_HEADER = 'shoebox-keep-ids'

/**
 * The 16 bytes of `given` (an @id member's JSON text, quotes included)
 * when it is a plain lowercase or uppercase UUID string valid for `time`;
 * undefined when a new id must be made instead.
 */
export function keptEventId (given: string | undefined, time: KronosTime): Buffer | undefined {
  if (given === undefined || given.length !== 38 || given.charCodeAt(0) !== 0x22 || given.charCodeAt(37) !== 0x22) return undefined
  const text = given.slice(1, 37)
  if (!isEventId(text)) return undefined
  const id = parseEventId(text)
  if ((id[6] >> 4) !== 1 || (id[8] & 0xF0) !== 0x80 || eventIdTime(id) !== time) return undefined
  return id
}
