/**
 * CRC32 (ISO-HDLC, as zlib and gzip) and CRC32C (Castagnoli).
 *
 * Fastest first: @node-rs/crc32 (hardware-accelerated; about 2x zlib.crc32 on
 * record-sized inputs here), then zlib.crc32 (Node >= 20.15), then a
 * slicing-by-8 table in JS, so a platform without the native module still works.
 *
 * The choice is made on the first checksum, not at import: loading the
 * native binary costs about as much as Node's own start, and a program that
 * imports shoebox (or runs `shoebox --help`) may never checksum anything.
 * Each entry point checks one module variable for undefined and chooses
 * once; nothing is swapped at runtime.
 */
import { createRequire } from 'node:module'

interface NativeCrc {
  crc32 (input: Uint8Array, initial?: number): number
  crc32c (input: Uint8Array, initial?: number): number
}

/**
 * Loaded with require, not a top-level await import(): a module with
 * top-level await cannot be require()d, and CommonJS jobs must be able to
 * `require('shoebox')`.
 */
function loadNativeCrc (): NativeCrc | null {
  try {
    return createRequire(import.meta.url)('@node-rs/crc32') as NativeCrc
  } catch {
    return null // no prebuilt binary for this platform
  }
}

export type ChecksumAlgorithm = 'crc32' | 'crc32c'

type Crc = (data: Uint8Array) => number

function makeTables (poly: number): Uint32Array[] {
  const tables: Uint32Array[] = []
  const t0 = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (poly ^ (c >>> 1)) : (c >>> 1)
    t0[n] = c >>> 0
  }
  tables.push(t0)
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1]
    const next = new Uint32Array(256)
    for (let n = 0; n < 256; n++) next[n] = (prev[n] >>> 8) ^ t0[prev[n] & 0xff]
    tables.push(next)
  }
  return tables
}

const crc32Tables = makeTables(0xedb88320)

/** A table-driven CRC with a reflected polynomial (exported for tests). */
export function tableCrc (poly: number): Crc {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = poly === 0xedb88320 ? crc32Tables : makeTables(poly)
  return (data: Uint8Array): number => {
    let crc = 0xffffffff
    let i = 0
    const end8 = data.length - 8
    for (; i <= end8; i += 8) {
      const a = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ crc
      crc = t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
        t3[data[i + 4]] ^ t2[data[i + 5]] ^ t1[data[i + 6]] ^ t0[data[i + 7]]
    }
    for (; i < data.length; i++) crc = t0[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)
    return (crc ^ 0xffffffff) >>> 0
  }
}

const [r0, r1, r2, r3, r4, r5, r6, r7] = crc32Tables

/**
 * CRC32 of buf[start, end) in plain JS, for short ranges such as a record
 * header (20 bytes, checked for every record read and written): it needs no
 * subarray and no native call, which cost more than the arithmetic below a
 * few dozen bytes. Eight bytes per step (slicing-by-8): about 3x fewer table
 * lookups and loop turns than a byte at a time.
 */
export function crc32Range (buf: Uint8Array, start: number, end: number): number {
  let crc = 0xffffffff
  let i = start
  for (; i <= end - 8; i += 8) {
    const a = (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) ^ crc
    crc = r7[a & 0xff] ^ r6[(a >>> 8) & 0xff] ^ r5[(a >>> 16) & 0xff] ^ r4[a >>> 24] ^
      r3[buf[i + 4]] ^ r2[buf[i + 5]] ^ r1[buf[i + 6]] ^ r0[buf[i + 7]]
  }
  for (; i < end; i++) crc = r0[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/**
 * One slicing-by-4 step of CRC32: the raw register `state` (before the final
 * inversion) advanced over the 4 little-endian bytes of `word`. Lets a caller
 * that holds a short message as numbers (a record header it is writing)
 * checksum it without storing and reading back its bytes. Start from
 * 0xffffffff; the CRC is (state ^ 0xffffffff) >>> 0.
 */
export function crc32Word (state: number, word: number): number {
  const a = state ^ word
  return r3[a & 0xff] ^ r2[(a >>> 8) & 0xff] ^ r1[(a >>> 16) & 0xff] ^ r0[a >>> 24]
}


/** zlib.crc32 (Node >= 20.15), node:zlib required only when the native package is missing. */
function zlibCrc32Of (): ((data: Uint8Array, value?: number) => number) | undefined {
  return (createRequire(import.meta.url)('node:zlib') as { crc32?: (data: Uint8Array, value?: number) => number }).crc32
}

/** The implementation in use, chosen by the first checksum computed. */
interface Chosen {
  name: '@node-rs/crc32' | 'zlib' | 'js'
  /**
   * For the codec, which checksums every record: the native functions
   * themselves where there are any, not wrappers, so a record costs the
   * native call alone. The codec passes exactly one argument (the native
   * functions take an optional initial state as a second, which the public
   * crc32/crc32c hide).
   */
  crc32: Crc
  crc32c: Crc
  /** CRC32 of data continued from `previous`. */
  crc32Continue: (previous: number, data: Uint8Array) => number
}

let chosen: Chosen | undefined

function jsContinue (previous: number, data: Uint8Array): number {
  let crc = (previous ^ 0xffffffff) >>> 0
  for (let i = 0; i < data.length; i++) crc = r0[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/** Choose (once) and remember the fastest implementation available here. */
function choose (): Chosen {
  const native = loadNativeCrc()
  const zlibCrc32 = native === null ? zlibCrc32Of() : undefined
  if (native !== null) {
    chosen = { name: '@node-rs/crc32', crc32: native.crc32, crc32c: native.crc32c, crc32Continue: (previous, data) => native.crc32(data, previous) }
  } else if (zlibCrc32 !== undefined) {
    chosen = { name: 'zlib', crc32: (data) => zlibCrc32(data), crc32c: tableCrc(0x82f63b78), crc32Continue: (previous, data) => zlibCrc32(data, previous) }
  } else {
    chosen = { name: 'js', crc32: tableCrc(0xedb88320), crc32c: tableCrc(0x82f63b78), crc32Continue: jsContinue }
  }
  return chosen
}

/** CRC32 (ISO-HDLC) of `data`. */
export function crc32 (data: Uint8Array): number {
  return (chosen ?? choose()).crc32(data)
}

/** CRC32C (Castagnoli) of `data`. */
export function crc32c (data: Uint8Array): number {
  return (chosen ?? choose()).crc32c(data)
}

/**
 * Which implementation is in use (for benchmarks and bug reports). Asking
 * chooses it, loading the native module if there is one.
 */
export function checksumImplementation (): Chosen['name'] {
  return (chosen ?? choose()).name
}

/**
 * The checksum of buf[start, end), for the codec's per-record checks. The
 * native functions take a whole Uint8Array, so the range needs a view: a
 * plain Uint8Array over the same memory, which costs about a quarter of
 * Buffer#subarray (that goes through the species constructor, FastBuffer).
 */
export function checksumRange (algorithm: ChecksumAlgorithm, buf: Uint8Array, start: number, end: number): number {
  const view = new Uint8Array(buf.buffer, buf.byteOffset + start, end - start)
  const use = chosen ?? choose()
  return algorithm === 'crc32' ? use.crc32(view) : use.crc32c(view)
}

/**
 * CRC32 of `data` continued from `previous`, the CRC32 of the bytes before
 * it (0 for none): for data that arrives in pieces, such as an upload part.
 */
export function crc32Continue (previous: number, data: Uint8Array): number {
  return (chosen ?? choose()).crc32Continue(previous, data)
}
