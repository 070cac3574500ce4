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
 * 16 KiB at a time, because one crypto call per id is the slow part. The
 * shipper makes an id per event: that path (newEventIdWordsFromDecimal,
 * writeEventIdText) uses no bigint and allocates nothing.
 *
 * Order (§3.2): by 60-bit time, then bytes 8..15 as unsigned bytes;
 * descending is the exact reverse. The canonical text is NOT sortable as a
 * string (time_low comes first); eventIdSortKey() is.
 */
import { randomFillSync } from 'node:crypto'
import { ShoeboxError } from '../errors.js'
import { checkKronosTime, UUID_EPOCH_OFFSET, type KronosTime } from './kronos-time.js'

/** Random words, refilled in bulk: one crypto call per id is the slow part. */
const POOL_WORDS = 4096
const pool = new Uint32Array(POOL_WORDS)
let poolAt = POOL_WORDS

function randomUint32 (): number {
  if (poolAt === POOL_WORDS) {
    randomFillSync(pool)
    poolAt = 0
  }
  return pool[poolAt++]
}

/*
 * The never-repeat memory: the last suffix (byte 8's low nibble + bytes
 * 9..15, as 28 + 32 bits) of each recent 60-bit time T (as its high 28 and
 * low 32 bits), in two generations of open-addressed tables of numbers, so
 * an id allocates nothing and hashes no bigint. A time is looked up in the
 * current table, then the previous one; when the current one holds
 * GENERATION times it becomes the previous one (the older generation is
 * forgotten). So a time is remembered for at least the next 2048 other
 * times used, and every step is O(1). (An LRU by Map delete-and-reinsert
 * cost 6-28 µs per id; a Map keyed by bigint ~0.5 µs.)
 */
const GENERATION = 2048
/** Slots per table (a power of two, so at most half full); 4 words a slot: T high, T low, suffix high, suffix low. */
const SLOTS = 4096
const SLOT_BITS = 12
/** No T high is this large (it has 28 bits). */
const EMPTY = 0xFFFF_FFFF
let current = new Uint32Array(SLOTS * 4).fill(EMPTY)
let older = new Uint32Array(SLOTS * 4).fill(EMPTY)
let currentTimes = 0
const TWO_32 = 0x1_0000_0000
const HI_MAX = 0x0FFF_FFFF

/** Where (hi, lo) is in `table`, or the empty slot where it would go (the word index of the slot). */
function slotOf (table: Uint32Array, hi: number, lo: number): number {
  let i = Math.imul(lo ^ Math.imul(hi, 0x27D4_EB2D), 0x9E37_79B1) >>> (32 - SLOT_BITS)
  for (;;) {
    const k = i << 2
    const h = table[k]
    if (h === EMPTY || (h === hi && table[k + 1] === lo)) return k
    i = (i + 1) & (SLOTS - 1)
  }
}

/** The id made last (newEventIdWords): bytes 0..15 as four big-endian uint32 words. Reused. */
export const eventIdWords = new Uint32Array(4)

/** The suffix being made (module variables: an id allocates nothing). */
let suffixHi = 0
let suffixLo = 0

/** The next suffix for a time seen before: the last plus a random 1..2^24, so they sort in the order made. */
function stepSuffix (hi: number, lo: number): void {
  suffixLo += (randomUint32() & 0xFF_FFFF) + 1
  if (suffixLo >= TWO_32) {
    suffixLo -= TWO_32
    suffixHi += 1
  }
  if (suffixHi > HI_MAX) {
    // 2^36 ids or so for one tick in one process: not a real workload.
    throw new ShoeboxError('SHOEBOX_INVALID_EVENT_ID', `no unused event id left for kronos time ${BigInt(hi) * 0x1_0000_0000n + BigInt(lo) - UUID_EPOCH_OFFSET} in this process`)
  }
}

/**
 * A fresh id for the 60-bit UUID time T = hi * 2^32 + lo (T = kronos time +
 * UUID_EPOCH_OFFSET, in range), left in eventIdWords: no bigint, no object.
 */
function newIdForUuidTime (hi: number, lo: number): void {
  let k = slotOf(current, hi, lo)
  if (current[k] !== EMPTY) {
    suffixHi = current[k + 2]
    suffixLo = current[k + 3]
    stepSuffix(hi, lo)
  } else {
    const j = slotOf(older, hi, lo)
    if (older[j] !== EMPTY) {
      suffixHi = older[j + 2]
      suffixLo = older[j + 3]
      stepSuffix(hi, lo)
    } else {
      suffixHi = randomUint32() & HI_MAX
      suffixLo = randomUint32()
    }
    if (currentTimes >= GENERATION) {
      const forgotten = older
      older = current
      current = forgotten.fill(EMPTY)
      currentTimes = 0
      k = slotOf(current, hi, lo)
    }
    currentTimes++
    current[k] = hi
    current[k + 1] = lo
  }
  current[k + 2] = suffixHi
  current[k + 3] = suffixLo
  eventIdWords[0] = lo
  eventIdWords[1] = ((hi & 0xFFFF) << 16) | 0x1000 | ((hi >>> 16) & 0x0FFF)
  eventIdWords[2] = suffixHi | 0x8000_0000
  eventIdWords[3] = suffixLo
}

const OFFSET_HI = Number(UUID_EPOCH_OFFSET >> 32n)
const OFFSET_LO = Number(UUID_EPOCH_OFFSET & 0xFFFF_FFFFn)

/** A fresh id for kronos time `t` (range-checked), left in eventIdWords. */
export function newEventIdWords (t: KronosTime): void {
  const T = checkKronosTime(t) + UUID_EPOCH_OFFSET
  newIdForUuidTime(Number(T >> 32n), Number(T & 0xFFFF_FFFFn))
}

/**
 * A fresh id for the kronos time high * 10^9 + low, left in eventIdWords:
 * the shipper's form, read from an @time's digits (at most 17, so
 * 0 <= high < 10^8 and 0 <= low < 10^9: always in range) with no bigint.
 */
export function newEventIdWordsFromDecimal (high: number, low: number): void {
  // t = high * 10^9 + low can pass 2^53: high is split in 16-bit halves so every product is exact.
  const p1 = (high >>> 16) * 1e9 // < 2^41, counts 2^16
  const p0 = (high & 0xFFFF) * 1e9 + low // < 2^47
  let lo = (p1 % 0x1_0000) * 0x1_0000 + (p0 % TWO_32) + OFFSET_LO
  let hi = Math.floor(p1 / 0x1_0000) + Math.floor(p0 / TWO_32) + OFFSET_HI
  while (lo >= TWO_32) {
    lo -= TWO_32
    hi++
  }
  newIdForUuidTime(hi, lo)
}

/** The two lowercase hex digits of each byte value, as character codes. */
const HEX_CODES = new Uint8Array(512)
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, '0')
  HEX_CODES[2 * i] = h.charCodeAt(0)
  HEX_CODES[2 * i + 1] = h.charCodeAt(1)
}

/** Four hex digits of the 16-bit `v` into `buf` at `at`. */
function hex16 (buf: Uint8Array, at: number, v: number): void {
  const a = (v >>> 8) << 1
  const b = (v & 0xFF) << 1
  buf[at] = HEX_CODES[a]
  buf[at + 1] = HEX_CODES[a + 1]
  buf[at + 2] = HEX_CODES[b]
  buf[at + 3] = HEX_CODES[b + 1]
}

/**
 * Write the 36-character text of the id in eventIdWords-style words into
 * `buf` at `at` (ASCII, so as UTF-8 too): straight into a put body, with
 * no string made. Returns the index after it.
 */
export function writeEventIdText (buf: Uint8Array, at: number, w0: number, w1: number, w2: number, w3: number): number {
  hex16(buf, at, w0 >>> 16)
  hex16(buf, at + 4, w0 & 0xFFFF)
  buf[at + 8] = 0x2D
  hex16(buf, at + 9, w1 >>> 16)
  buf[at + 13] = 0x2D
  hex16(buf, at + 14, w1 & 0xFFFF)
  buf[at + 18] = 0x2D
  hex16(buf, at + 19, w2 >>> 16)
  buf[at + 23] = 0x2D
  hex16(buf, at + 24, w2 & 0xFFFF)
  hex16(buf, at + 28, w3 >>> 16)
  hex16(buf, at + 32, w3 & 0xFFFF)
  return at + 36
}

function writeTime (buf: Buffer, t: KronosTime): void {
  const T = checkKronosTime(t) + UUID_EPOCH_OFFSET
  // The top 28 bits as a number: two bigint operations per id rather than four.
  const high = Number(T >> 32n)
  buf.writeUInt32BE(Number(T & 0xFFFF_FFFFn), 0)
  buf.writeUInt16BE(high & 0xFFFF, 4)
  buf.writeUInt16BE(0x1000 | ((high >>> 16) & 0x0FFF), 6)
}

/** A fresh id for kronos time `t`, as 16 bytes. */
export function newEventIdBytes (t: KronosTime): Buffer {
  newEventIdWords(t)
  const buf = Buffer.allocUnsafe(16)
  buf.writeUInt32BE(eventIdWords[0], 0)
  buf.writeUInt32BE(eventIdWords[1], 4)
  buf.writeUInt32BE(eventIdWords[2], 8)
  buf.writeUInt32BE(eventIdWords[3], 12)
  return buf
}

/** The text being formatted (reused: formatting is synchronous). */
const idText = Buffer.alloc(36)

/** A fresh id for kronos time `t`, in canonical text form. */
export function newEventId (t: KronosTime): string {
  newEventIdWords(t)
  writeEventIdText(idText, 0, eventIdWords[0], eventIdWords[1], eventIdWords[2], eventIdWords[3])
  return idText.toString('latin1', 0, 36)
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

/** Lowercase 8-4-4-4-12 text of 16 id bytes. */
export function formatEventId (bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new ShoeboxError('SHOEBOX_INVALID_EVENT_ID', `an event id is 16 bytes, got ${bytes.length}`)
  // Written digit by digit into one buffer and read as one string: a hex string and five
  // slices per id cost the shipper and the server ~0.3 µs an event more.
  writeEventIdText(idText, 0, word(bytes, 0), word(bytes, 4), word(bytes, 8), word(bytes, 12))
  return idText.toString('latin1', 0, 36)
}

function word (b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0
}

/** Per byte (or character code below 256), its hex digit's value, or -1. */
export const HEX_VALUE = new Int8Array(256).fill(-1)
for (let c = 0; c < 10; c++) HEX_VALUE[0x30 + c] = c
for (let c = 0; c < 6; c++) HEX_VALUE[0x41 + c] = HEX_VALUE[0x61 + c] = 10 + c

/** Where the 32 hex digits of 8-4-4-4-12 text are. */
const DIGIT_AT = [...Array(36).keys()].filter((i) => i !== 8 && i !== 13 && i !== 18 && i !== 23)

/**
 * Whether `text` is a UUID in 8-4-4-4-12 form (any case, any version).
 * A character loop, not a regex: the client checks every event's @id and
 * the server every stored record's (~0.3 µs an event with the regex).
 */
export function isEventId (text: unknown): text is string {
  if (typeof text !== 'string' || text.length !== 36) return false
  for (let i = 0; i < 36; i++) {
    const c = text.charCodeAt(i)
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2D) return false
    } else if (c > 0xFF || HEX_VALUE[c] < 0) {
      return false
    }
  }
  return true
}

/**
 * The 16 bytes of any UUID in 8-4-4-4-12 text (any case, any version, as a
 * start_id may be); SHOEBOX_INVALID_EVENT_ID otherwise.
 */
export function parseEventId (text: string): Buffer {
  if (!isEventId(text)) {
    throw new ShoeboxError('SHOEBOX_INVALID_EVENT_ID', `not a UUID (8-4-4-4-12 hex): ${JSON.stringify(String(text)).slice(0, 80)}`)
  }
  // Digit pairs straight into the bytes (no dash-free copy, no hex decode of a new string).
  const out = Buffer.allocUnsafe(16)
  for (let b = 0; b < 16; b++) {
    out[b] = (HEX_VALUE[text.charCodeAt(DIGIT_AT[2 * b])] << 4) | HEX_VALUE[text.charCodeAt(DIGIT_AT[2 * b + 1])]
  }
  return out
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
 * Whether the id's text (isEventId) carries the kronos time `time` (an
 * integer: a number, or a bigint beyond 2^53), as spec §3 requires of an
 * event's @id and @time. The get client asks it of every event, so it is
 * integer work only: the id's 60-bit time read from its 15 hex digits as
 * two words (no parse into bytes, no bigint), and `time` split into the
 * same words: a number by a division by 2^32, a bigint by one `&` and two
 * conversions (Number(time) is rounded above 2^53, but only by far less
 * than 2^32, so its high word still comes out exact).
 */
export function eventIdHasTime (id: string, time: number | bigint): boolean {
  let lo = 0
  for (let i = 0; i < 8; i++) lo = lo * 16 + HEX_VALUE[id.charCodeAt(i) & 0xFF]
  let hi = HEX_VALUE[id.charCodeAt(15) & 0xFF]
  hi = hi * 16 + HEX_VALUE[id.charCodeAt(16) & 0xFF]
  hi = hi * 16 + HEX_VALUE[id.charCodeAt(17) & 0xFF]
  for (let i = 9; i < 13; i++) hi = hi * 16 + HEX_VALUE[id.charCodeAt(i) & 0xFF]
  // The id's kronos time as (signed high word, low word): its UUID time minus the epoch offset.
  lo -= OFFSET_LO
  hi -= OFFSET_HI
  if (lo < 0) {
    lo += TWO_32
    hi--
  }
  let timeLo: number
  let timeHi: number
  if (typeof time === 'number') {
    timeHi = Math.floor(time / TWO_32)
    timeLo = time - timeHi * TWO_32
  } else {
    timeLo = Number(time & 0xFFFF_FFFFn)
    timeHi = Math.round((Number(time) - timeLo) / TWO_32)
  }
  return timeLo === lo && timeHi === hi
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
 * The hex digits of an id's text, most significant first in Kronos order:
 * time_hi (after the version digit, which order ignores), time_mid,
 * time_low, then bytes 8..15.
 */
const ORDER_DIGITS = [15, 16, 17, 9, 10, 11, 12, 0, 1, 2, 3, 4, 5, 6, 7, 19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35]
/** ORDER_DIGITS[0..TIME_DIGITS) are the 60-bit time's. */
const TIME_DIGIT_COUNT = 15

/**
 * compareEventIds for two ids' texts (isEventId, any case), digit by digit:
 * no parse, no bigint, nothing allocated (the get client checks every
 * event's order with it). Says also where they differ: -2 or 2 when their
 * times do, -1 or 1 when only their suffixes do, 0 when they are equal.
 */
export function compareEventIdTexts (a: string, b: string): number {
  for (let k = 0; k < ORDER_DIGITS.length; k++) {
    const i = ORDER_DIGITS[k]
    // | 0x20 lower-cases A-F and leaves 0-9 as they are; then character order is digit order ('9' < 'a').
    const x = a.charCodeAt(i) | 0x20
    const y = b.charCodeAt(i) | 0x20
    if (x !== y) return (x < y ? -1 : 1) * (k < TIME_DIGIT_COUNT ? 2 : 1)
  }
  return 0
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
