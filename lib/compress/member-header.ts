/**
 * The header of one gzip member (RFC 1952, section 2.3), parsed by hand so a
 * reader knows where each member's deflate data begins. Pure: a parse returns
 * the header's length, "need more bytes", or what is wrong; it never throws.
 */
import zlib from 'node:zlib'

const FHCRC = 0x02
const FEXTRA = 0x04
const FNAME = 0x08
const FCOMMENT = 0x10
const RESERVED = 0xe0

/** Longer than any honest header (FEXTRA is at most 64 KiB); stops a missing NUL from holding the whole file. */
export const MAX_HEADER_SIZE = 1024 * 1024

/** Not enough bytes yet to know. */
export const NEED_MORE = -1

export type HeaderResult = number | string

/**
 * Parse the member header at the start of `buf`: its length in bytes,
 * NEED_MORE, or a description of the damage.
 */
export function parseMemberHeader (buf: Buffer): HeaderResult {
  if (buf.length >= 1 && buf[0] !== 0x1f) return 'not a gzip member (no gzip magic)'
  if (buf.length >= 2 && buf[1] !== 0x8b) return 'not a gzip member (no gzip magic)'
  if (buf.length < 10) return NEED_MORE
  if (buf[2] !== 8) return `unknown gzip compression method ${buf[2]}`
  const flags = buf[3]
  if ((flags & RESERVED) !== 0) return `reserved gzip header flags set (0x${flags.toString(16)})`
  let at = 10
  if ((flags & FEXTRA) !== 0) {
    if (buf.length < at + 2) return NEED_MORE
    at += 2 + buf.readUInt16LE(at)
  }
  if ((flags & FNAME) !== 0) {
    const end = endOfString(buf, at)
    if (end < 0) return end === NEED_MORE ? NEED_MORE : 'gzip file name longer than 1 MiB'
    at = end
  }
  if ((flags & FCOMMENT) !== 0) {
    const end = endOfString(buf, at)
    if (end < 0) return end === NEED_MORE ? NEED_MORE : 'gzip comment longer than 1 MiB'
    at = end
  }
  if ((flags & FHCRC) !== 0) {
    if (buf.length < at + 2) return NEED_MORE
    if ((zlib.crc32(buf.subarray(0, at)) & 0xffff) !== buf.readUInt16LE(at)) return 'gzip header checksum does not match'
    at += 2
  }
  return buf.length < at ? NEED_MORE : at
}

/** Just past the NUL ending the string at `at`; NEED_MORE; or -2 when the header would be too long. */
function endOfString (buf: Buffer, at: number): number {
  const nul = buf.indexOf(0, at)
  if (nul >= 0) return nul + 1
  return buf.length > MAX_HEADER_SIZE ? -2 : NEED_MORE
}
