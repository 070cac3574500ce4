/**
 * What the event store keeps per event: its Kronos time (bigint, never a JS
 * number: it is above 2^53), its 16 id bytes, and its JSON text exactly as
 * stored (the put's text with only @id/@time spliced in). The order is the
 * spec's (§3.2): time first, then id bytes 8..15 unsigned; a range is
 * inclusive at both times, or starts exclusively after an id (start_id).
 */
export interface EventKey {
  time: bigint
  /** The 16 bytes of the @id. */
  id: Buffer
}

export interface StoredEvent extends EventKey {
  /** The event's JSON text (UTF-8), as it goes out on the wire. */
  body: Buffer
  /** The id as text, when the maker of the event had it (saves formatting it again). */
  idText?: string
}

/** (time, id bytes 8..15) order: the one sort rule of the store, ascending. */
export function compareKeys (a: EventKey, b: EventKey): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1
  return a.id.compare(b.id, 8, 16, 8, 16)
}

/** Which events a get or delete means: `@time` in [from, to], or after the key `after` up to `to`. */
export interface EventRange {
  /** Inclusive lower time; ignored when `after` is given. */
  from: bigint
  /** Inclusive upper time. */
  to: bigint
  /** Exclusive lower bound (a start_id): events strictly after this key. */
  after?: EventKey
}

/** Every time there is: what compaction and a delete's rewrite read a whole run with. */
export const EVERY_TIME: EventRange = { from: -(2n ** 63n), to: 2n ** 63n }

/** The lowest time an event of the range can have. */
export function lowestTime (range: EventRange): bigint {
  return range.after === undefined ? range.from : range.after.time
}

export function inRange (key: EventKey, range: EventRange): boolean {
  if (key.time > range.to) return false
  if (range.after !== undefined) return compareKeys(key, range.after) > 0
  return key.time >= range.from
}

/** Can [min, max] hold an event of the range? */
export function overlaps (min: bigint, max: bigint, range: EventRange): boolean {
  return max >= lowestTime(range) && min <= range.to && lowestTime(range) <= range.to
}

/** Floor division for bigints (negative times belong to the bucket below). */
export function bucketOf (time: bigint, width: bigint): bigint {
  const q = time / width
  return (time % width !== 0n && time < 0n) ? (q - 1n) * width : q * width
}
