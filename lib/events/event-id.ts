/**
 * Event ids (`@id`): the version-1-layout UUID of Kronos (spec §3.1).
 *
 * Bytes 0..7 carry T = kronos time + 0x01B21DD213814000 as a 60-bit UUID
 * time (time_low, time_mid, version nibble 1 + time_hi). Bytes 8..15 are
 * random, from `crypto` (Kronos used an unseeded C rand(), so restarted or
 * forked servers repeated ids: fixed), with byte 8 forced into 0x80..0x8F
 * exactly as Kronos does, so every id stays strictly between LOWEST(t) and
 * HIGHEST(t) and Kronos servers order it the same way.
 *
 * Ids for one time never repeat within a process: the first id for a time
 * gets a random suffix, and the next ones for that time (while it is among
 * the last few thousand times used) add a random step of 1..2^24 to the last
 * suffix, so they also sort in the order they were made. Randomness is read
 * 4 KiB at a time, because one crypto call per id is the slow part.
 *
 * Order (§3.2): by 60-bit time, then bytes 8..15 as unsigned bytes;
 * descending is the exact reverse. The canonical text is NOT sortable as a
 * string (time_low comes first); eventIdSortKey() is.
 */
import { randomFillSync } from 'node:crypto'
import { ShoeboxError } from '../errors.js'
import { checkKronosTime, UUID_EPOCH_OFFSET, type KronosTime } from './kronos-time.js'

const POOL_SIZE = 4096
const pool = Buffer.alloc(POOL_SIZE)
let poolAt = POOL_SIZE

function randomUint32 (): number {
  if (poolAt + 4 > POOL_SIZE) {
    randomFillSync(pool)
    poolAt = 0
  }
  const v = pool.readUInt32BE(poolAt)
  poolAt += 4
  return v
}

/** The 60-bit suffix (byte 8's low nibble + bytes 9..15) as hi 28 bits + lo 32 bits. */
interface Suffix { hi: number, lo: number }

/**
 * The last suffix of each recent time, in two generations: a time is looked
 * up in the current map, then the previous one; when the current map holds
 * RECENT_TIMES / 2 times it becomes the previous one (the older generation
 * is forgotten). So a time is remembered for at least the next 2048 other
 * times used, and every step is O(1). (An LRU by Map delete-and-reinsert,
 * with keys().next() to find the oldest, cost 6-28 µs per id: V8 keeps
 * deleted entries as holes that the iterator skips one by one.)
 */
const RECENT_TIMES = 4096
let recentSuffix = new Map<bigint, Suffix>()
let olderSuffix = new Map<bigint, Suffix>()
const TWO_32 = 0x1_0000_0000
const HI_MAX = 0x0FFF_FFFF

function nextSuffix (t: bigint): Suffix {
  const last = recentSuffix.get(t) ?? olderSuffix.get(t)
  let next: Suffix
  if (last === undefined) {
    next = { hi: randomUint32() & HI_MAX, lo: randomUint32() }
  } else {
    let lo = last.lo + (randomUint32() & 0xFF_FFFF) + 1
    let hi = last.hi
    if (lo >= TWO_32) {
      lo -= TWO_32
      hi += 1
    }
    if (hi > HI_MAX) {
      // 2^36 ids or so for one tick in one process: not a real workload.
      throw new ShoeboxError('SHOEBOX_INVALID_EVENT_ID', `no unused event id left for kronos time ${t} in this process`)
    }
    next = { hi, lo }
  }
  if (!recentSuffix.has(t) && recentSuffix.size >= RECENT_TIMES / 2) {
    olderSuffix = recentSuffix
    recentSuffix = new Map()
  }
  recentSuffix.set(t, next)
  return next
}

function writeTime (buf: Buffer, t: KronosTime): void {
  const T = checkKronosTime(t) + UUID_EPOCH_OFFSET
  // The top 28 bits as a number: two bigint operations per id rather than four (the shipper makes one per event).
  const high = Number(T >> 32n)
  buf.writeUInt32BE(Number(T & 0xFFFF_FFFFn), 0)
  buf.writeUInt16BE(high & 0xFFFF, 4)
  buf.writeUInt16BE(0x1000 | ((high >>> 16) & 0x0FFF), 6)
}

/** A fresh id for kronos time `t`, as 16 bytes. */
export function newEventIdBytes (t: KronosTime): Buffer {
  const buf = Buffer.allocUnsafe(16)
  writeTime(buf, t)
  const s = nextSuffix(t)
  buf.writeUInt32BE((s.hi | 0x8000_0000) >>> 0, 8)
  buf.writeUInt32BE(s.lo, 12)
  return buf
}

/** A fresh id for kronos time `t`, in canonical text form. */
export function newEventId (t: KronosTime): string {
  return formatEventId(newEventIdBytes(t))
}

/** LOWEST(t): below every id of time t (suffix 8000-000000000000). */
export function lowestEventId (t: KronosTime): string {
  const buf = Buffer.alloc(16)
  writeTime(buf, t)
  buf[8] = 0x80
  return formatEventId(buf)
}

/** HIGHEST(t): above every id of time t (suffix 8fff-ffffffffffff). */
export function highestEventId (t: KronosTime): string {
  const buf = Buffer.alloc(16, 0xFF)
  writeTime(buf, t)
  buf[8] = 0x8F
  return formatEventId(buf)
}

/** The two lowercase hex digits of each byte value, as character codes. */
const HEX_CODES = new Uint8Array(512)
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, '0')
  HEX_CODES[2 * i] = h.charCodeAt(0)
  HEX_CODES[2 * i + 1] = h.charCodeAt(1)
}
/** Where each byte's digits go in the 36-character text. */
const HEX_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34]
/** The text being formatted, dashes in place (reused: formatting is synchronous). */
const idText = Buffer.alloc(36, 0x2D)

/** Lowercase 8-4-4-4-12 text of 16 id bytes. */
export function formatEventId (bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new ShoeboxError('SHOEBOX_INVALID_EVENT_ID', `an event id is 16 bytes, got ${bytes.length}`)
  // Written digit by digit into one buffer and read as one string: a hex string and five
  // slices per id cost the shipper and the server ~0.3 µs an event more.
  for (let i = 0; i < 16; i++) {
    const at = HEX_AT[i]
    const v = bytes[i]
    idText[at] = HEX_CODES[2 * v]
    idText[at + 1] = HEX_CODES[2 * v + 1]
  }
  return idText.toString('latin1', 0, 36)
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

/** Whether `text` is a UUID in 8-4-4-4-12 form (any case, any version). */
export function isEventId (text: unknown): text is string {
  return typeof text === 'string' && text.length === 36 && UUID_RE.test(text)
}

/**
 * The 16 bytes of any UUID in 8-4-4-4-12 text (any case, any version, as a
 * start_id may be); SHOEBOX_INVALID_EVENT_ID otherwise.
 */
export function parseEventId (text: string): Buffer {
  if (!isEventId(text)) {
    throw new ShoeboxError('SHOEBOX_INVALID_EVENT_ID', `not a UUID (8-4-4-4-12 hex): ${JSON.stringify(String(text)).slice(0, 80)}`)
  }
  return Buffer.from(text.replace(/-/g, ''), 'hex')
}

function asBytes (id: string | Uint8Array): Uint8Array {
  return typeof id === 'string' ? parseEventId(id) : id
}

function uuidTime (b: Uint8Array): bigint {
  const low = BigInt(((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3])
  const mid = BigInt((b[4] << 8) + b[5])
  const hi = BigInt(((b[6] & 0x0F) << 8) + b[7])
  return (hi << 48n) | (mid << 32n) | low
}

/** The kronos time an id carries (its version nibble ignored). */
export function eventIdTime (id: string | Uint8Array): KronosTime {
  return uuidTime(asBytes(id)) - UUID_EPOCH_OFFSET
}

/**
 * Kronos order: 60-bit time, then bytes 8..15 unsigned. Negative, 0 or
 * positive, for Array.prototype.sort; negate it (or swap the arguments) for
 * descending.
 */
export function compareEventIds (a: string | Uint8Array, b: string | Uint8Array): number {
  const x = asBytes(a)
  const y = asBytes(b)
  const ta = uuidTime(x)
  const tb = uuidTime(y)
  if (ta !== tb) return ta < tb ? -1 : 1
  return Buffer.compare(Buffer.from(x.buffer, x.byteOffset + 8, 8), Buffer.from(y.buffer, y.byteOffset + 8, 8))
}

/**
 * A 16-byte key that sorts like compareEventIds under Buffer.compare (and
 * its hex text under plain string comparison): the 60-bit time big-endian
 * in 8 bytes, then bytes 8..15. The version nibble is not kept; ids of one
 * time that differ only in version share a key.
 */
export function eventIdSortKey (id: string | Uint8Array): Buffer {
  const b = asBytes(id)
  const key = Buffer.allocUnsafe(16)
  key.writeBigUInt64BE(uuidTime(b), 0)
  key.set(b.subarray(8, 16), 8)
  return key
}

/** The version-1 id a sort key came from. */
export function eventIdFromSortKey (key: Uint8Array): string {
  if (key.length !== 16) throw new ShoeboxError('SHOEBOX_INVALID_EVENT_ID', `a sort key is 16 bytes, got ${key.length}`)
  const k = Buffer.from(key.buffer, key.byteOffset, 16)
  const buf = Buffer.allocUnsafe(16)
  writeTime(buf, k.readBigUInt64BE(0) - UUID_EPOCH_OFFSET)
  k.copy(buf, 8, 8, 16)
  return formatEventId(buf)
}
