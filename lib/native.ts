/**
 * The optional native part of shoebox (native/, built by `npm install`
 * through scripts/build-native.js), one addon of independent parts: the
 * record functions, small files read in batches, zstd through the system's
 * libzstd, and sync_file_range (each described at its interface below).
 *
 * The record functions (native/record_crc.c): functions that work on a
 * whole slab of encoded records in one call, so that the encoder (and the
 * decoder, checking records) pays for one crossing into native code per
 * slab instead of one per record (that crossing costs more than hashing a
 * record). Everything works without it; it is used only when it was built
 * and the CPU has the instructions it needs (x86-64 with PCLMULQDQ and
 * SSE4.2), and it is switched off with SHOEBOX_NATIVE=0.
 */
import { createRequire } from 'node:module'
import { VariableRefusedError } from './errors.js'

export interface NativeRecords {
  /**
   * For i < count: store the checksum (1 = CRC32, 2 = CRC32C) of
   * buffer[ranges[2i], ranges[2i + 1]) as a little-endian uint32 at
   * buffer[ranges[2i + 1]]. Throws a RangeError, writing nothing, if any
   * range lies outside the buffer.
   */
  seal (buffer: Uint8Array, ranges: Uint32Array, count: number, algorithm: 1 | 2): void
  /**
   * NDJSON's fast path: the complete lines of input[state[0], state[1]) framed
   * as whole v2 records into slab from state[2], each with the metadata block
   * `block`; stops at the first line it leaves to the caller. The layout of
   * `state` is in native/record_crc.c. Absent from a build that predates it
   * (the encoder then frames line by line).
   */
  frameLines?: (input: Uint8Array, slab: Uint8Array, block: Uint8Array, ends: Uint32Array, state: Uint32Array) => void
  /**
   * The decoder's fast path: the offset of the first record from `at` on
   * that is not a whole, sound v2 record before `end` (every check of
   * format/v2.ts checkV2, within maxSize); `at` itself when there is none.
   * Absent from a build that predates it (records are then checked one by one).
   */
  checkRun?: (buffer: Uint8Array, at: number, end: number, maxSize: number) => number
}

/**
 * zstd through the system's libzstd (native/zstd_system.c), for
 * lib/compress/zstd-loader.ts. Absent on Windows and from a build that
 * predates it.
 */
export interface NativeZstd {
  /**
   * Open the system's libzstd (`library`: a file name or path; default its
   * soname, libzstd.so.1 or libzstd.1.dylib) and return its
   * ZSTD_versionNumber(). Throws why not: not found, not zstd, older than
   * 1.4.0. The first library opened is the process's.
   */
  zstdOpen: (library?: string) => number
  /** One complete frame of `data`, on the thread pool. Throws a RangeError for a level outside the library's. */
  zstdCompress: (data: Uint8Array, level: number) => Promise<Buffer>
  /**
   * zstdCompress() into `room` (from its start): the frame's length. Rejects
   * when the room is too small (zstdCompressBound(data.length) always holds
   * it). `room` is the pool's until the promise settles. Absent from a build
   * that predates it.
   */
  zstdCompressInto?: (data: Uint8Array, level: number, room: Uint8Array) => Promise<number>
  /**
   * The content of the complete frames in `data`, on the thread pool;
   * rejects with the library's error name. `bound`: the most content they
   * can hold, by their headers: decompressed into that much room in one pass.
   */
  zstdDecompress: (data: Uint8Array, bound?: number) => Promise<Buffer>
  /**
   * A streaming decoder (an opaque handle owning a ZSTD_DCtx) refusing
   * frames whose window is over 2^windowLogMax bytes. Absent from a build
   * that predates it (input is then decompressed a frame at a time).
   */
  zstdStreamOpen?: (windowLogMax: number) => object
  /**
   * Decode from `input`, on the thread pool, until it is taken or a piece
   * of content (1 MiB) is full; one call at a time per decoder (a second
   * throws). Damage resolves with `error` and the content before it.
   */
  zstdStreamDecode?: (decoder: object, input: Uint8Array) => Promise<ZstdStreamPiece>
  /** Free the decoder's context (once its running call completes); idempotent. */
  zstdStreamFree?: (decoder: object) => void
}

/**
 * Small files read whole, several on one thread-pool job
 * (native/small_files.c), for lib/store/whole-batch.ts. Absent on Windows
 * and from a build that predates it (each file is then opened and read in
 * its own round trips).
 */
export interface NativeFiles {
  /**
   * For each path (at most 64): open (read-only, non-blocking), fstat, one
   * read of `expected[i]` bytes + 1 (fstat's size where expected[i] < 0),
   * close; no file over `cap` bytes is read. `results` holds
   * SMALL_FILE_STRIDE numbers a path, the first a SmallFileOutcome; the
   * bytes of the files read are ranges of `bytes`.
   */
  readSmallFiles: (paths: Array<string | Uint8Array>, expected: Float64Array, cap: number) => Promise<{ bytes: Buffer, results: Float64Array }>
}

/** What readSmallFiles() says of a path: results[i * SMALL_FILE_STRIDE], then the numbers after it. */
export const SmallFileOutcome = {
  /** Read whole: then its offset in `bytes`, its length, fstat's size, and its mtime in ms. */
  read: 0,
  /** A call failed: then the errno, and the call (1 open, 2 fstat, 3 read). */
  failed: 1,
  /** Not a regular file. */
  notAFile: 2,
  /** Larger than the cap: then, after one slot, fstat's size. */
  overCap: 3,
  /** More bytes than expected: the file grew since it was sized. */
  grew: 4,
  /** Not tried (a path holding a NUL byte). */
  notRead: 5
} as const

/** The numbers readSmallFiles() gives a path. */
export const SMALL_FILE_STRIDE = 5

/** What one zstdStreamDecode() call gives. */
export interface ZstdStreamPiece {
  /** Content decoded, at most 1 MiB. */
  content: Buffer
  /** Bytes of the input taken (the library may hold some of them until more comes). */
  consumed: number
  /** The piece is full: call again (without input too) for more content. */
  full: boolean
  /** Bytes of a frame were taken and its end not reached: at the end of input, it is cut short. */
  inFrame: boolean
  /** The compressed offset of the frame being decoded (or of the next one). */
  frameStart: number
  /** Compressed bytes taken in all. */
  position: number
  /** The library's name for the damage met; the decoder is spent. */
  error?: string
  /** The damage lies before this compressed offset. */
  errorBy?: number
}

/** Linux's sync_file_range (native/writeback.c), for lib/fs/writeback.ts. */
export interface NativeWriteback {
  /**
   * Queue the dirty pages of bytes [offset, offset + length) of the open
   * file `fd` for writing to the disk (SYNC_FILE_RANGE_WRITE), on the
   * thread pool, without waiting for the writes. Rejects with an Error
   * carrying the positive `errno` and `syscall`.
   */
  startWriteback: (fd: number, offset: number, length: number) => Promise<void>
}

type Addon = Partial<NativeRecords & NativeZstd & NativeFiles & NativeWriteback>

/** SHOEBOX_NATIVE's values: unset or '1' uses the addon where built, '0' switches it off. */
export const NATIVE_SWITCHES = ['0', '1'] as const

/**
 * The addon as built, or null when it is not built or switched off in `env`.
 * Any other SHOEBOX_NATIVE (`off`, `false`, a typo) is SHOEBOX_USAGE, as a
 * SHOEBOX_ZSTD typo is: read as "on", it silently left the addon in use.
 * Every loader below comes through here, so this is the one check.
 */
function loadAddon (env: NodeJS.ProcessEnv): Addon | null {
  const value = env.SHOEBOX_NATIVE
  if (value !== undefined && !(NATIVE_SWITCHES as readonly string[]).includes(value)) {
    throw new VariableRefusedError('SHOEBOX_USAGE', 'SHOEBOX_NATIVE', `SHOEBOX_NATIVE must be ${NATIVE_SWITCHES.map((c) => `'${c}'`).join(' or ')} (or unset), got ${JSON.stringify(value)}`)
  }
  if (value === '0') return null
  try {
    // From lib/ (tests) and dist/ (the package) alike, the build is one level up.
    return createRequire(import.meta.url)('../build/Release/shoebox_native.node') as Addon
  } catch {
    return null // not built (no compiler at install) or built for another platform
  }
}

/** Load the native functions: null when they are not built, not usable on this CPU, or switched off in `env` (SHOEBOX_USAGE: a SHOEBOX_NATIVE not '0' or '1'). */
export function loadNative (env: NodeJS.ProcessEnv = process.env): NativeRecords | null {
  const addon = loadAddon(env)
  return typeof addon?.seal === 'function' ? addon as NativeRecords : null
}

/** The addon's zstd functions (libzstd not opened yet): null when not built, not on this platform, or switched off in `env`. */
export function loadNativeZstd (env: NodeJS.ProcessEnv = process.env): NativeZstd | null {
  const addon = loadAddon(env)
  return typeof addon?.zstdOpen === 'function' && typeof addon.zstdCompress === 'function' && typeof addon.zstdDecompress === 'function'
    ? addon as NativeZstd
    : null
}

/** The addon's sync_file_range: null when not built, not on Linux, or switched off in `env`. */
export function loadNativeWriteback (env: NodeJS.ProcessEnv = process.env): NativeWriteback | null {
  const addon = loadAddon(env)
  return typeof addon?.startWriteback === 'function' ? addon as NativeWriteback : null
}

/** The addon's readSmallFiles(): null when not built, not on this platform, or switched off in `env`. */
export function loadNativeFiles (env: NodeJS.ProcessEnv = process.env): NativeFiles | null {
  const addon = loadAddon(env)
  return typeof addon?.readSmallFiles === 'function' ? addon as NativeFiles : null
}

let records: NativeRecords | null | undefined

/**
 * The native slab functions, or null when they are not available here: the
 * addon is loaded by the first encoder or decoder that asks (and SHOEBOX_NATIVE
 * read then), not when the package is imported: dlopen costs about a
 * millisecond, a fifth of Node's start-up budget for the import (bench/startup.js).
 */
export function nativeRecords (): NativeRecords | null {
  if (records === undefined) records = loadNative()
  return records
}
