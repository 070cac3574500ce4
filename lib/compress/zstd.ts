/**
 * zstd as stages: the compressing side. zstd({ level }) compresses each
 * written chunk into its own complete frame (the rolling sink writes one
 * flush block per chunk, so frames are independent and a record's position
 * can name its frame's offset; a chunk of no bytes makes none, and no input
 * at all one empty frame, which the zstd command reads, where zero bytes
 * are no zstd to it); several chunks compress at once, off the main
 * thread, and leave in order. What a frame starts with (for sniffing), the
 * levels and the largest frame a reader takes are here too. Decompressing is
 * zstd-decompress.ts, which loads with the first read: a write (the rolling
 * sink, `shoebox write`) starts without it (test/startup-lazy.test.ts).
 */
import { Transform, type TransformCallback } from 'node:stream'
import { checkOptionsObject, COMPRESS_HINT, givenValue, invalidOption, takesBytes } from '../errors.js'
import { refusesLateWrites } from '../stream/deliver-then-fail.js'
import { sizeOption } from '../units.js'
import type { FrameRooms } from './frame-rooms.js'
import type { ZstdBackend, ZstdChoice } from './zstd-loader.js'

/** 28 b5 2f fd: what a zstd frame starts with. */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd])

/** ZSTD_MAGIC as a little-endian uint32. */
export const ZSTD_FRAME_MAGIC = 0xfd2fb528

/** Does this start like a zstd frame (or a skippable one)? */
export function isZstd (head: Buffer): boolean {
  if (head.length < 4) return false
  const magic = head.readUInt32LE(0)
  return magic === ZSTD_FRAME_MAGIC || isSkippableMagic(magic)
}

/** 0x184D2A50 to 0x184D2A5F: a skippable frame's magic. */
export function isSkippableMagic (magic: number): boolean {
  return (magic & 0xfffffff0) >>> 0 === 0x184d2a50
}

export type { ZstdBackend, ZstdChoice } from './zstd-loader.js'

/*
 * zstd-loader.ts loads with the first zstd work, through these two wrappers
 * (same signatures): every use of a backend is async anyway, and each module
 * the package's import loads costs start-up time (test/startup-lazy.test.ts).
 */

/** The backend `choice` names (default: SHOEBOX_ZSTD), or null when none loads. Never throws (zstd-loader.ts). */
export async function loadZstd (choice?: ZstdChoice): Promise<ZstdBackend | null> {
  const loader = await import('./zstd-loader.js')
  return await loader.loadZstd(choice)
}

/** The backend, or SHOEBOX_UNSUPPORTED naming `what` (zstd-loader.ts). */
export async function requireZstd (what: string, choice?: ZstdChoice): Promise<ZstdBackend> {
  const loader = await import('./zstd-loader.js')
  return await loader.requireZstd(what, choice)
}

/**
 * Level 1, not zstd's own default of 3: on event NDJSON (bench/zstd.js) it
 * costs about a sixth less CPU for archives about 6% larger, still 0.94x
 * gzip -6's ratio; what users switch codecs for is the CPU. It is also the
 * level of the `zstd -1` the issue measures against.
 */
export const ZSTD_DEFAULT_LEVEL = 1
/** zstd's own range: negative levels are its --fast=N. 0 would mean "zstd's default" there: say 3. */
export const ZSTD_MIN_LEVEL = -131072
export const ZSTD_MAX_LEVEL = 22

export interface ZstdOptions {
  /** -131072 (fastest) to 22 (smallest), not 0. Default 1 (see ZSTD_DEFAULT_LEVEL). */
  level?: number
  /** Which implementation (see zstd-loader.ts). Default: SHOEBOX_ZSTD, else the best that loads. */
  backend?: ZstdChoice
  /** Named in errors (a missing codec, damage). */
  file?: string
}

/** The backends SHOEBOX_ZSTD and the stages' `backend` option name (zstd-loader.ts). */
export const ZSTD_CHOICES: readonly ZstdChoice[] = ['auto', 'zlib', 'libzstd', 'package', '0']

/**
 * The stages' `backend` option: undefined (SHOEBOX_ZSTD decides) or one of ZSTD_CHOICES. Any other (a typo,
 * 'libzst') was taken as the package, the last in the loader's order, without a word.
 */
export function zstdBackendOption (backend: unknown): ZstdChoice | undefined {
  if (backend === undefined || (ZSTD_CHOICES as readonly unknown[]).includes(backend)) return backend as ZstdChoice | undefined
  throw invalidOption('backend', `must be one of ${ZSTD_CHOICES.map((c) => `'${c}'`).join(', ')}, got ${givenValue(backend)}`)
}

export function zstdLevel (level: unknown): number {
  // Only undefined is "the default": a null level is refused as any other that is not one.
  const value = level === undefined ? ZSTD_DEFAULT_LEVEL : level
  if (typeof value !== 'number' || !Number.isInteger(value) || value < ZSTD_MIN_LEVEL || value > ZSTD_MAX_LEVEL || value === 0) {
    throw invalidOption('zstd.level', `must be an integer from ${ZSTD_MIN_LEVEL} to ${ZSTD_MAX_LEVEL}, not 0, got ${givenValue(value)}`)
  }
  return value
}

/** Compress one block into one complete, independent frame, off the main thread. */
export async function zstdFrame (block: Buffer, level: number, what = 'zstd', backend?: ZstdChoice): Promise<Buffer> {
  return await (await requireZstd(what, backend)).compress(block, level)
}

/** ZSTD_COMPRESSBOUND (zstd.h, stable): the most bytes one frame of `size` bytes takes, so a room that size always holds it. */
export function zstdCompressBound (size: number): number {
  const small = 128 * 1024
  return size + Math.floor(size / 256) + (size < small ? Math.floor((small - size) / 2048) : 0)
}

/**
 * `block` as complete, independent frames of at most ZSTD_MAX_FRAME_CONTENT
 * each (one for a block that size or smaller), joined: what the rolling
 * sink writes for a flush block, so that a block larger than the readers'
 * default maxFrameSize (a blockSize of '300MiB') still reads back. With
 * `rooms`, a block of one frame is compressed into one of them where the
 * backend can (libzstd): the frame is then a view of the room, for the
 * caller to give back (frame-rooms.ts).
 */
export async function zstdBlockFrames (block: Buffer, level: number, what = 'zstd', backend?: ZstdChoice, rooms?: FrameRooms): Promise<Buffer> {
  if (block.length <= ZSTD_MAX_FRAME_CONTENT) {
    const z = await requireZstd(what, backend)
    if (rooms === undefined || z.compressInto === undefined) return await z.compress(block, level)
    const room = rooms.take(zstdCompressBound(block.length))
    try {
      return room.subarray(0, await z.compressInto(block, level, room))
    } catch (err) {
      // Settled: the pool no longer writes into it.
      rooms.giveBack(room)
      throw err
    }
  }
  const frames: Array<Promise<Buffer>> = []
  for (let at = 0; at < block.length; at += ZSTD_MAX_FRAME_CONTENT) {
    frames.push(zstdFrame(block.subarray(at, at + ZSTD_MAX_FRAME_CONTENT), level, what, backend))
  }
  return Buffer.concat(await Promise.all(frames))
}

/** Frames compressing at once in zstd(): enough to keep both cores busy while the next chunk arrives. */
const IN_FLIGHT = 4

/**
 * The most zstdBlockFrames() (so zstd() and the rolling sink) puts in one
 * frame: a larger chunk (a 300 MB Buffer written at once) becomes several
 * frames, which read back as the same bytes. One frame of it would pass the readers' default maxFrameSize
 * (DEFAULT_MAX_FRAME_SIZE, 256 MiB) and be refused as a bomb; and this is
 * what decompressing one of zstd()'s frames costs at most.
 */
export const ZSTD_MAX_FRAME_CONTENT = 64 * 1024 * 1024

export class ZstdCompressStage extends takesBytes(refusesLateWrites(Transform, 'zstd()'), 'zstd()', COMPRESS_HINT) {
  readonly level: number
  readonly #options: ZstdOptions
  #queue: Array<Promise<Buffer>> = []
  /** Whether a frame was made: with none at the end, one empty frame is (see _flush). */
  #framed = false

  constructor (options: ZstdOptions = {}) {
    super()
    this.#options = { ...options }
    this.level = zstdLevel(options.level)
    zstdBackendOption(options.backend)
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length === 0) {
      callback()
      return
    }
    // A copy: the write is called back while its frame may still be compressing on the thread pool (up to
    // IN_FLIGHT at once), and a writer may then fill the same buffer again (a reader with one buffer): the
    // frame was compressed from the new bytes, valid zstd of the wrong data.
    const frames = zstdBlockFrames(Buffer.from(chunk), this.level, this.#options.file ?? 'zstd()', this.#options.backend)
    frames.catch(() => {}) // awaited in order below; not "unhandled" meanwhile
    this.#queue.push(frames)
    this.#framed = true
    this.#drain(IN_FLIGHT - 1).then(() => { callback() }, callback)
  }

  override _flush (callback: TransformCallback): void {
    // No input is one empty frame, as gzip() writes an empty member: zero bytes are no zstd
    // stream, and the zstd command (`zstd -d`, `zstd -t`) refuses them, "unexpected end of file".
    if (!this.#framed) this.#queue.push(zstdBlockFrames(Buffer.alloc(0), this.level, this.#options.file ?? 'zstd()', this.#options.backend))
    this.#drain(0).then(() => { callback() }, callback)
  }

  /** Push finished frames, oldest first, until at most `keep` are in flight. */
  async #drain (keep: number): Promise<void> {
    while (this.#queue.length > keep) {
      const frame = await this.#queue[0]
      this.#queue.shift()
      this.push(frame)
    }
  }
}

export function zstd (options: ZstdOptions = {}): ZstdCompressStage {
  checkOptionsObject(options, 'zstd()')
  return new ZstdCompressStage(options)
}

/**
 * 256 MiB: a frame is decompressed whole, in one buffer (the backends have no
 * streaming API on Node 20), so this is what one frame may cost in memory.
 * Far above the 1 MiB frames shoebox writes, and above what the `zstd`
 * command puts in a frame for any file that size or smaller (it writes a
 * file as one frame); a larger file from elsewhere is read with a larger
 * maxFrameSize (--max-frame-size) once it is trusted. The decompressors
 * check a frame's content size, so the bound holds.
 */
export const DEFAULT_MAX_FRAME_SIZE = 256 * 1024 * 1024

/** The maxFrameSize option in bytes: a size as parseSize() takes it (1024, '1GiB'), at least 1; DEFAULT_MAX_FRAME_SIZE when not given. */
export function maxFrameSizeOption (value: unknown): number {
  return sizeOption(value, DEFAULT_MAX_FRAME_SIZE, 'maxFrameSize', 1)
}
