/**
 * zstd text input decompressed as a stream, through zstd's window, not a
 * frame at a time: for decompressedInput() (NDJSON on stdin or from a
 * file), never for archives (their readers keep frames whole: a position
 * names its frame's offset, zstd.ts). The `zstd` command writes a whole
 * file as one frame, so `shoebox write DIR < big.ndjson.zst` held the frame
 * and its content in memory (~570 MB of RSS for 200 MB of NDJSON), and a
 * frame that could hold over 256 MiB was refused as damage; `zstd -dc
 * big.ndjson.zst | shoebox write DIR` ran in constant memory. Now both do.
 *
 * Memory is the window's: a frame's header says how large (zstd -19 and
 * lower: 8 MiB at most; --long: up to 128 MiB or more). Windows over
 * WINDOW_LOG_MAX are refused as damage at the frame's offset, as `zstd -d`
 * refuses them beyond its --memory default (the same 128 MiB).
 *
 * Which decoder: the libzstd backend's (the native addon's streaming
 * decoder, a piece of at most 1 MiB per job, so a few bytes that say a
 * gigabyte come out as the reader asks), also under auto where node:zlib
 * compresses (Node >= 22.15) and the addon loads, so that input goes
 * through the same decoder on every Node; else node:zlib's stream where it
 * decodes every frame (zlibZstdStage, written a frame at a time: Node 24
 * without the addon, or SHOEBOX_ZSTD=zlib; Node 22's stops at the first
 * frame); else, with
 * @mongodb-js/zstd (no streaming API), an addon built before the decoder,
 * or Node 22 without the addon, zstdDecompress() a frame at a time, bounded
 * by maxFrameSize as before.
 */
import { type Duplex, finished, Transform, type TransformCallback } from 'node:stream'
import { CorruptArchiveError, DECOMPRESS_HINT, takesBytes } from '../errors.js'
import type { ZstdStreamPiece } from '../native.js'
import { failAfterDelivery } from '../stream/deliver-then-fail.js'
import { ReadDemand } from '../stream/read-demand.js'
import { FrameEnds, type FramePiece } from './frame-ends.js'
import { nodeZlib } from './gzip.js'
import { loadZstd, requireZstd } from './zstd.js'
import { ZstdDecompressStage } from './zstd-decompress.js'
import { FRAME_HEADER_MAX, headRefusal, WINDOW_LOG_MAX } from './zstd-frame.js'
import type { ZstdStreamDecoder } from './zstd-loader.js'

export { WINDOW_LOG_MAX }

export interface ZstdInputOptions {
  /** The frame-at-a-time path's bound (zstdDecompress()'s maxFrameSize); the streaming decoders need none. */
  maxFrameSize?: number
}

/**
 * The stage that decompresses zstd input named `what` (in errors): streamed
 * where the backend can, else a frame at a time. Fails with
 * SHOEBOX_UNSUPPORTED naming `what` where this install has no zstd.
 */
export async function zstdInputStage (what: string, options: ZstdInputOptions = {}): Promise<Duplex> {
  const backend = await requireZstd(what)
  if (backend.streamDecoder !== undefined) return new ZstdStreamStage(backend.streamDecoder(WINDOW_LOG_MAX), what)
  if (backend.name === 'node:zlib') {
    // Under auto, the addon's decoder where it loads: the one fuzzed (test/compress/zstd-stream-fuzz.test.ts), as
    // on Node 20, whose errors say by which compressed byte exactly; and Node 22's zlib stream drops every frame
    // after the first.
    const { zstdChoice } = await import('./zstd-loader.js')
    const libzstd = zstdChoice() === 'auto' ? await loadZstd('libzstd') : null
    if (libzstd?.streamDecoder !== undefined) return new ZstdStreamStage(libzstd.streamDecoder(WINDOW_LOG_MAX), what)
    const stage = zlibZstdStage(what)
    if (stage !== null) return stage
  }
  // A frame at a time: each frame is handed to the backend alone, so Node 22's zlib decodes it whole. Its window
  // bounded as the streaming decoders bound theirs: the same frames refused in the same words.
  return new ZstdDecompressStage({ file: what, maxFrameSize: options.maxFrameSize }, 2 ** WINDOW_LOG_MAX)
}

const NO_INPUT = Buffer.alloc(0)

/** What libzstd says of a frame whose window is over windowLogMax. */
const WINDOW_TOO_LARGE = 'Frame requires too much memory for decoding'

/**
 * A stream of zstd frames (skippable ones skipped by the library, empty
 * ones giving nothing) as their content, through `decoder`. Damage (a
 * frame's content other than its Frame_Content_Size too): the content
 * before it, then a 'bad-compression' error at the offset of the frame it
 * is in, saying by which compressed byte it was found; an input ending
 * inside a frame fails there, cut short.
 */
export class ZstdStreamStage extends takesBytes(Transform, 'zstd input', DECOMPRESS_HINT) {
  readonly #decoder: ZstdStreamDecoder
  readonly #file: string
  /** The last piece's account of where the input stands. */
  #at: Pick<ZstdStreamPiece, 'inFrame' | 'frameStart'> = { inFrame: false, frameStart: 0 }
  /** A piece waits while the reader's buffer is full (stream/read-demand.ts). */
  readonly #demand = new ReadDemand()
  /**
   * The first bytes (FRAME_HEADER_MAX at most) of the frame being decoded,
   * from compressed offset #headAt: what a refusal at its header is told by
   * (the library names a dictionary, a window over the limit or no frame at
   * all only as "Dictionary mismatch", "Frame requires too much memory for
   * decoding", "Unknown frame descriptor"). Kept across writes: a header may
   * come split over any of them.
   */
  #head = NO_INPUT
  #headAt = 0
  /** The compressed offset of the next byte written. */
  #given = 0
  /**
   * The decoder's error, while the frame's header has not all come: it may
   * fail at a frame's first byte (not the magic), before a header that names
   * a dictionary is whole. The error waits for the header's bytes (or the
   * end of input), so that it is told by them however the input is cut.
   */
  #pending: { error: string, frameStart: number, by: number } | null = null

  constructor (decoder: ZstdStreamDecoder, file: string) {
    super()
    this.#decoder = decoder
    this.#file = file
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    // The write is called back only once the pool has read all of `chunk` (the writer may then fill it again).
    this.#settle(this.#decode(chunk), callback)
  }

  override _flush (callback: TransformCallback): void {
    if (this.#pending !== null) {
      const { error, frameStart, by } = this.#pending
      this.#settle(Promise.reject(this.#damage(error, frameStart, by)), callback)
      return
    }
    this.#settle(this.#decode(NO_INPUT).then(() => {
      const { inFrame, frameStart } = this.#at
      if (inFrame) throw cutShort(this.#file, frameStart)
      this.#decoder.free()
    }), callback)
  }

  override _read (size: number): void {
    this.#demand.wake()
    super._read(size)
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    this.#demand.wake()
    // A job still running frees the context when it completes.
    this.#decoder.free()
    super._destroy(err, callback)
  }

  #settle (work: Promise<void>, callback: TransformCallback): void {
    work.then(() => { callback() }, (err: Error) => {
      this.#decoder.free()
      failAfterDelivery(this, err, callback)
    })
  }

  /** Decode `input` whole, a piece per job, each pushed (and waited on when the reader is full) before the next. */
  async #decode (input: Buffer): Promise<void> {
    const inputAt = this.#given
    this.#given += input.length
    if (this.#pending !== null) {
      this.#keepHead(input, inputAt, this.#pending.frameStart)
      if (this.#head.length >= FRAME_HEADER_MAX) throw this.#damage(this.#pending.error, this.#pending.frameStart, this.#pending.by)
      return
    }
    let rest = input
    for (;;) {
      if (this.destroyed) return
      const piece = await this.#decoder.decode(rest)
      rest = rest.subarray(piece.consumed)
      this.#at = piece
      this.#keepHead(input, inputAt, piece.frameStart)
      if (piece.content.length > 0) await this.#demand.push(this, piece.content)
      if (piece.error !== undefined) {
        const by = piece.errorBy ?? piece.position
        // At the frame's header, not all of which has come: wait for it (#pending).
        if (piece.frameStart === this.#headAt && this.#head.length < FRAME_HEADER_MAX) {
          this.#pending = { error: piece.error, frameStart: piece.frameStart, by }
          return
        }
        throw this.#damage(piece.error, piece.frameStart, by)
      }
      if (!piece.full && (rest.length === 0 || (piece.consumed === 0 && piece.content.length === 0))) {
        // Taken whole; or, never expected, a job that moved nothing (rather than asking again for ever).
        if (rest.length > 0) throw this.#damage('the decoder took no more input', piece.frameStart, piece.position)
        return
      }
    }
  }

  /** Keep the first bytes of the frame at `frameStart` that `input` (from compressed offset `inputAt`) holds. */
  #keepHead (input: Buffer, inputAt: number, frameStart: number): void {
    if (frameStart !== this.#headAt) {
      this.#headAt = frameStart
      this.#head = NO_INPUT
    }
    const from = this.#headAt + this.#head.length - inputAt
    if (this.#head.length >= FRAME_HEADER_MAX || from < 0 || from >= input.length) return
    this.#head = Buffer.concat([this.#head, input.subarray(from, from + FRAME_HEADER_MAX - this.#head.length)])
  }

  #damage (error: string, frameStart: number, by: number): CorruptArchiveError {
    // Refused by its header: said as the frame-at-a-time path says it (zstd-frame.ts), whichever decoder met it.
    const refusal = frameStart === this.#headAt ? headRefusal(this.#head, WINDOW_LOG_MAX) : null
    if (refusal === null) return frameDamage(this.#file, error, frameStart, by)
    const detail = typeof refusal === 'string' ? refusal : `the frame at compressed byte ${frameStart} ${refusal.notRead}`
    return new CorruptArchiveError(typeof refusal === 'string' ? 'bad-compression' : refusal.reason, frameStart, `zstd data: ${detail}; the offset is in the compressed file`, this.#file)
  }
}

/** Damage in the frame at `frameStart` of zstd input `file`, as the decoder's `error` says, found by compressed byte `by`. */
function frameDamage (file: string, error: string, frameStart: number, by: number): CorruptArchiveError {
  const what = error === WINDOW_TOO_LARGE
    ? `needs a window over ${2 ** (WINDOW_LOG_MAX - 20)} MiB (${error}); not decompressed, as zstd -d refuses it without --memory`
    : `is damaged (${error}), found by compressed byte ${by}`
  return new CorruptArchiveError('bad-compression', frameStart, `zstd data: the frame at compressed byte ${frameStart} ${what}; the offset is in the compressed file`, file)
}

/** An input that ends inside the frame at `frameStart`. */
function cutShort (file: string, frameStart: number): CorruptArchiveError {
  return new CorruptArchiveError('bad-compression', frameStart,
    `zstd data: the frame at compressed byte ${frameStart} is cut short (the file ends inside it); the offset is in the compressed file`, file, { cutShort: true })
}

interface ZlibZstd extends ZlibZstdSync {
  createZstdDecompress?: (options: { params: Record<number, number> }) => Transform & { bytesWritten: number }
  constants: Record<string, number | undefined>
}

/** node:zlib's one-shot zstd, as decodesEveryFrame() asks it. */
export interface ZlibZstdSync {
  zstdCompressSync?: (data: Buffer) => Buffer
  zstdDecompressSync?: (data: Buffer) => Buffer
}

let everyFrame: boolean | undefined

/**
 * Whether `z` decodes every frame of concatenated input, as the format and
 * `zstd -d` do. Node 22's zstd (22.23.5, the newest here; nodejs/node#64741)
 * ends at the end of the first frame and drops the rest of the input without
 * a word, in its stream as in its one-shot calls: `shoebox write DIR <
 * x.zst` stored the first frame's lines and exited 0 (or, the stage waiting
 * on a write never called back, stopped without a word). Node 24's decodes
 * them all. Asked of two 1-byte frames, once per process (microseconds).
 */
export function decodesEveryFrame (z: ZlibZstdSync): boolean {
  if (z.zstdCompressSync === undefined || z.zstdDecompressSync === undefined) return false
  try {
    const two = Buffer.concat([z.zstdCompressSync(Buffer.from('a')), z.zstdCompressSync(Buffer.from('b'))])
    return z.zstdDecompressSync(two).toString('latin1') === 'ab'
  } catch {
    return false
  }
}

/**
 * Node's own streaming zstd (zlib.createZstdDecompress, Node >= 22.15),
 * its window capped the same; null where the runtime has none, or where it
 * stops at the first frame (decodesEveryFrame()). The tests run it on Node
 * 24 (with SHOEBOX_ZSTD=zlib), not on Node 20 (no zstd in zlib). Its
 * input is written a frame at a time (frame-ends.ts), its output waits for
 * the reader (paused while this stage's buffer is full), and its failure
 * comes after what it gave, typed at the frame it is in. (Its
 * maxOutputLength bounds the one-shot calls only: a chunk's content is
 * what it holds at most, as for gzip.)
 */
function zlibZstdStage (file: string): Duplex | null {
  const z = nodeZlib() as unknown as ZlibZstd
  const windowLogMax = z.constants.ZSTD_d_windowLogMax
  if (z.createZstdDecompress === undefined || windowLogMax === undefined) return null
  everyFrame ??= decodesEveryFrame(z)
  if (!everyFrame) return null
  return new ZlibZstdStage(z.createZstdDecompress({ params: { [windowLogMax]: WINDOW_LOG_MAX } }), file)
}

export class ZlibZstdStage extends takesBytes(Transform, 'zstd input', DECOMPRESS_HINT) {
  readonly #inner: Transform & { bytesWritten: number }
  readonly #file: string
  #error: Error | null = null
  /**
   * The write or flush callback held while the inner stream works on it.
   * zlib never calls a write back once it has failed on it: waiting on that
   * write alone, a damaged input left nothing pending, and `shoebox write DIR
   * < bad.zst` exited 0 having stored nothing and said nothing (Node 24).
   * So its error releases the callback too.
   */
  #held: TransformCallback | null = null
  readonly #ends = new FrameEnds()
  /** The frame the bytes being decoded are in. */
  #frameStart = 0

  constructor (inner: Transform & { bytesWritten: number }, file: string) {
    super()
    this.#inner = inner
    this.#file = file
    inner.on('data', (piece: Buffer) => { if (!this.push(piece)) inner.pause() })
    inner.on('error', (err) => {
      this.#error ??= err
      this.#release(err)
    })
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#held = callback
    this.#writePieces(this.#ends.cut(chunk))
  }

  /** A frame's end a write's end (frame-ends.ts): each written once the one before it is decoded. */
  #writePieces (pieces: FramePiece[]): void {
    const piece = pieces.shift()
    if (piece === undefined) {
      this.#release(null)
      return
    }
    this.#frameStart = piece.frameStart
    this.#inner.write(piece.bytes, (err) => {
      if (err !== null && err !== undefined) this.#release(err)
      else if (this.#held !== null) this.#writePieces(pieces)
    })
  }

  override _flush (callback: TransformCallback): void {
    this.#held = callback
    this.#inner.end()
    finished(this.#inner, { writable: false }, (err) => { this.#release(err) })
  }

  override _read (size: number): void {
    this.#inner.resume()
    super._read(size)
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    this.#inner.destroy()
    super._destroy(err, callback)
  }

  /** Call the held callback, once: with the damage, if the inner stream failed. */
  #release (err: Error | null | undefined): void {
    const callback = this.#held
    if (callback === null) return
    this.#held = null
    const failure = err ?? this.#error
    if (failure === null) {
      callback()
      return
    }
    // zlib says "unexpected end of file" of an input that ends inside a frame.
    const damage = /end of file/i.test(failure.message)
      ? cutShort(this.#file, this.#ends.frameStart)
      : frameDamage(this.#file, failure.message, this.#frameStart, this.#inner.bytesWritten)
    failAfterDelivery(this, damage, callback)
  }
}
