/**
 * keptEventId() (kept-event-ids.ts) for the put path: the same rule (a
 * plain UUID string, version 1, byte 8 in 0x80..0x8F, the 60-bit time of
 * the event's @time), read straight from the body's bytes at the @id
 * value's span. The general one slices the text twice, runs a regex, strips the
 * dashes into a new string, decodes it as hex and turns the time into a
 * bigint to compare: ~2 µs an event in the server's profile, with the
 * shipper sending an @id with every event. Here the hex digits are decoded
 * by table into the id's 16 bytes and its time bytes compared with the
 * time's, which costs two bigint operations and no string.
 * test/events/server/kept-id-text.test.ts checks it against keptEventId().
 */
import { UUID_EPOCH_OFFSET, type KronosTime } from '../kronos-time.js'

/** Each byte's hex value, or -1. */
const HEX_VALUE = new Int8Array(256).fill(-1)
for (let i = 0; i < 16; i++) {
  HEX_VALUE[i.toString(16).charCodeAt(0)] = i
  HEX_VALUE[i.toString(16).toUpperCase().charCodeAt(0)] = i
}

/** Where each byte's two digits start in the quoted text `"8-4-4-4-12"`. */
const DIGITS_AT = [1, 3, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27, 29, 31, 33, 35]
const QUOTED_LENGTH = 38

/**
 * The 16 bytes of the @id value at bytes[start, end) (its JSON text, quotes
 * included, UTF-8) when it is an id a server could have made for `time`;
 * undefined when a new id must be made instead.
 */
export function keptIdAt (bytes: Buffer, start: number, end: number, time: KronosTime): Buffer | undefined {
  if (end - start !== QUOTED_LENGTH || bytes[start] !== 0x22 || bytes[end - 1] !== 0x22) return undefined
  if (bytes[start + 9] !== 0x2D || bytes[start + 14] !== 0x2D || bytes[start + 19] !== 0x2D || bytes[start + 24] !== 0x2D) return undefined
  const id = Buffer.allocUnsafe(16)
  for (let i = 0; i < 16; i++) {
    const at = start + DIGITS_AT[i]
    // A byte of a multi-byte character, or an escape's '\\', is no digit.
    const hi = HEX_VALUE[bytes[at]]
    const lo = HEX_VALUE[bytes[at + 1]]
    if (hi < 0 || lo < 0) return undefined
    id[i] = (hi << 4) | lo
  }
  if ((id[6] >> 4) !== 1 || (id[8] & 0xF0) !== 0x80) return undefined
  // The id's 60-bit time (the version nibble aside) must be the event's: bytes 0..3 the
  // low 32 bits, 4..5 the next 16, byte 6's low nibble and byte 7 the top 12.
  const T = time + UUID_EPOCH_OFFSET
  if (T < 0n || T >= (1n << 60n)) return undefined
  const high = Number(T >> 32n)
  const low = Number(T & 0xFFFF_FFFFn)
  if (id.readUInt32BE(0) !== low || id.readUInt16BE(4) !== (high & 0xFFFF) || (id.readUInt16BE(6) & 0x0FFF) !== (high >>> 16)) return undefined
  return id
}
