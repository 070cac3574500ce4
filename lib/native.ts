/**
 * The optional native part of shoebox (native/record_crc.c, built by
 * `npm install` through scripts/build-native.js): two functions that work
 * on a whole slab of encoded records in one call, so that the encoder pays
 * for one crossing into native code per slab instead of one per record
 * (that crossing costs more than hashing a record). Everything works
 * without it; it is used only when it was built and the CPU has the
 * instructions it needs (x86-64 with PCLMULQDQ and SSE4.2), and it is
 * switched off with SHOEBOX_NATIVE=0.
 */
import { createRequire } from 'node:module'

export interface NativeRecords {
  /**
   * For i < count: store the checksum (1 = CRC32, 2 = CRC32C) of
   * buffer[ranges[2i], ranges[2i + 1]) as a little-endian uint32 at
   * buffer[ranges[2i + 1]]. Throws a RangeError, writing nothing, if any
   * range lies outside the buffer.
   */
  seal (buffer: Uint8Array, ranges: Uint32Array, count: number, algorithm: 1 | 2): void
  /**
   * For i < count: copy moves[3i + 2] bytes from source[moves[3i]] to
   * target[moves[3i + 1]]. Throws a RangeError, copying nothing, if any
   * move lies outside either buffer.
   */
  place (target: Uint8Array, source: Uint8Array, moves: Uint32Array, count: number): void
  /**
   * NDJSON's fast path: the complete lines of input[state[0], state[1]) framed
   * as whole v2 records into slab from state[2], each with the metadata block
   * `block`; stops at the first line it leaves to the caller. The layout of
   * `state` is in native/record_crc.c. Absent from a build that predates it
   * (the encoder then frames line by line).
   */
  frameLines?: (input: Uint8Array, slab: Uint8Array, block: Uint8Array, ends: Uint32Array, state: Uint32Array) => void
}

/** Load the native functions: null when they are not built, not usable on this CPU, or switched off in `env`. */
export function loadNative (env: NodeJS.ProcessEnv = process.env): NativeRecords | null {
  if (env.SHOEBOX_NATIVE === '0') return null
  try {
    // From lib/ (tests) and dist/ (the package) alike, the build is one level up.
    const addon = createRequire(import.meta.url)('../build/Release/shoebox_native.node') as Partial<NativeRecords>
    return typeof addon.seal === 'function' && typeof addon.place === 'function' ? addon as NativeRecords : null
  } catch {
    return null // not built (no compiler at install) or built for another platform
  }
}

/** The native slab functions, or null when they are not available here. */
export const nativeRecords: NativeRecords | null = loadNative()
