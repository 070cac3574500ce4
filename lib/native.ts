/**
 * The optional native part of shoebox (native/record_crc.c, built by
 * `npm install` through scripts/build-native.js): a record checksummer that
 * hashes a whole slab of encoded records in one call. Everything works
 * without it; it is used only when it was built and the CPU has the
 * instructions it needs (x86-64 with PCLMULQDQ and SSE4.2), and it is
 * switched off with SHOEBOX_NATIVE=0.
 */
import { createRequire } from 'node:module'

export interface NativeSeal {
  /**
   * For i < count: store the checksum (1 = CRC32, 2 = CRC32C) of
   * buffer[ranges[2i], ranges[2i + 1]) as a little-endian uint32 at
   * buffer[ranges[2i + 1]]. Throws a RangeError, writing nothing, if any
   * range lies outside the buffer.
   */
  (buffer: Uint8Array, ranges: Uint32Array, count: number, algorithm: 1 | 2): void
}

/** Load the checksummer: null when it is not built, not usable on this CPU, or switched off in `env`. */
export function loadSeal (env: NodeJS.ProcessEnv = process.env): NativeSeal | null {
  if (env.SHOEBOX_NATIVE === '0') return null
  try {
    // From lib/ (tests) and dist/ (the package) alike, the build is one level up.
    const addon = createRequire(import.meta.url)('../build/Release/shoebox_native.node') as { seal?: NativeSeal }
    return typeof addon.seal === 'function' ? addon.seal : null
  } catch {
    return null // not built (no compiler at install) or built for another platform
  }
}

/** The native slab checksummer, or null when it is not available here. */
export const nativeSeal: NativeSeal | null = loadSeal()
