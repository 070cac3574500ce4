/**
 * zstd as stages. zstd({ level }) compresses each written chunk into its own
 * complete frame (the rolling sink writes one flush block per chunk, so frames
 * are independent and a record's position can name its frame's offset);
 * several chunks compress at once, off the main thread, and leave in order.
 * zstdDecompress() walks the frames by their headers (zstd-frame.ts), hands
 * each whole frame to the decompressor, skips skippable frames, and passes
 * input that is not zstd through untouched, as gunzip() does. Its `members`
 * says which frame each decompressed byte came from, for decode({ positions:
 * true, members }): a record's position then names its frame's compressed
 * offset, to fetch it with one ranged read (as gunzipMembers() does). Damage is
 * reported at the compressed offset of its frame: strict fails after every
 * byte before it is delivered (stream/deliver-then-fail.ts), lenient skips
 * the frame (or, when the walk itself is lost, to the next frame magic) and
 * emits 'corrupt'.
 */
import { Transform, type TransformCallback } from 'node:stream'
import { CorruptArchiveError, invalidOption } from '../errors.js'
import { failAfterDelivery } from '../stream/deliver-then-fail.js'
import { MemberMap } from './member-map.js'
import { FrameWalker, isZstd, NEED_MORE, ZSTD_MAGIC } from './zstd-frame.js'
import { requireZstd, type ZstdBackend, type ZstdChoice } from './zstd-loader.js'

export { isZstd, ZSTD_MAGIC } from './zstd-frame.js'
export { loadZstd, type ZstdBackend, type ZstdChoice } from './zstd-loader.js'

export const ZSTD_DEFAULT_LEVEL = 3
/** zstd's own range: negative levels are its --fast=N. 0 would mean "default" there: say 3. */
export const ZSTD_MIN_LEVEL = -131072
export const ZSTD_MAX_LEVEL = 22

export interface ZstdOptions {
  /** -131072 (fastest) to 22 (smallest), not 0. Default 3. */
  level?: number
  /** Which implementation (see zstd-loader.ts). Default: SHOEBOX_ZSTD, else the best that loads. */
  backend?: ZstdChoice
  /** Named in errors (a missing codec, damage). */
  file?: string
}

export function zstdLevel (level: number | undefined): number {
  const value = level ?? ZSTD_DEFAULT_LEVEL
  if (!Number.isInteger(value) || value < ZSTD_MIN_LEVEL || value > ZSTD_MAX_LEVEL || value === 0) {
    throw invalidOption('zstd.level', `must be an integer from ${ZSTD_MIN_LEVEL} to ${ZSTD_MAX_LEVEL}, not 0, got ${String(level)}`)
  }
  return value
}

/** Compress one block into one complete, independent frame, off the main thread. */
export async function zstdFrame (block: Buffer, level: number, what = 'zstd', backend?: ZstdChoice): Promise<Buffer> {
  return await (await requireZstd(what, backend)).compress(block, level)
}

/** Frames compressing at once in zstd(): enough to keep both cores busy while the next chunk arrives. */
const IN_FLIGHT = 4

export class ZstdCompressStage extends Transform {
  readonly level: number
  readonly #options: ZstdOptions
  #queue: Array<Promise<Buffer>> = []

  constructor (options: ZstdOptions = {}) {
    super()
    this.#options = { ...options }
    this.level = zstdLevel(options.level)
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length === 0) {
      callback()
      return
    }
    const frame = zstdFrame(chunk, this.level, this.#options.file ?? 'zstd()', this.#options.backend)
    frame.catch(() => {}) // awaited in order below; not "unhandled" meanwhile
    this.#queue.push(frame)
    this.#drain(IN_FLIGHT - 1).then(() => { callback() }, callback)
  }

  override _flush (callback: TransformCallback): void {
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
  return new ZstdCompressStage(options)
}

export interface ZstdDecompressOptions {
  /** 'strict' (default) fails at the first damaged frame; 'lenient' skips it and emits 'corrupt'. */
  mode?: 'strict' | 'lenient'
  backend?: ZstdChoice
  /** Named in errors. */
  file?: string
  /**
   * Where the input begins, when it starts at a frame in the middle of a file
   * (a saved position's member): the frame's compressed offset and the
   * decompressed offset of its first byte. Offsets in errors and `members`
   * count from them, and input that is not zstd is an error rather than
   * passed through. Default: the start of the file.
   */
  start?: { compressed: number, decompressed: number }
}

/** What a lenient zstdDecompress() tells about a frame it skipped. */
export interface ZstdCorruptInfo {
  /** Compressed offset of the damage (the frame's start). */
  offset: number
  bytesSkipped: number
  reason: 'bad-compression'
  detail: string
}

/** sniff: zstd or not; plain: passing through; frames: walking frames; lost: lenient, looking for the next magic. */
type State = 'sniff' | 'plain' | 'frames' | 'lost'

export class ZstdDecompressStage extends Transform {
  readonly #options: ZstdDecompressOptions
  #state: State = 'sniff'
  /** Input not yet handled, starting at compressed offset #base. */
  #held: Buffer[] = []
  #heldLength = 0
  #base = 0
  #walker: FrameWalker | null = null
  #backend: ZstdBackend | null = null
  /** The frames read so far (for decode({ positions: true, members })); empty for plain input. */
  readonly members = new MemberMap()
  /** Decompressed offset of the next byte out. */
  #out = 0
  /** Started at a frame (options.start): the input must be zstd. */
  readonly #mustBeZstd: boolean
  /** Lenient: where the walk was lost (reported once the next frame is found). */
  #lostAt = 0
  #lostDetail = ''

  constructor (options: ZstdDecompressOptions = {}) {
    super()
    this.#options = { ...options }
    this.#base = options.start?.compressed ?? 0
    this.#out = options.start?.decompressed ?? 0
    this.#mustBeZstd = options.start !== undefined
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#state === 'plain') {
      callback(null, chunk)
      return
    }
    if (chunk.length > 0) {
      this.#held.push(chunk)
      this.#heldLength += chunk.length
    }
    this.#consume(false).then(() => { callback() }, (err: Error) => { failAfterDelivery(this, err, callback) })
  }

  override _flush (callback: TransformCallback): void {
    this.#consume(true).then(() => { callback() }, (err: Error) => { failAfterDelivery(this, err, callback) })
  }

  async #consume (ending: boolean): Promise<void> {
    for (;;) {
      if (this.#state === 'sniff') {
        if (this.#heldLength < 4 && !ending) return
        const head = this.#take(Math.min(4, this.#heldLength), false)
        this.#state = isZstd(head) ? 'frames' : 'plain'
        if (this.#state === 'plain' && this.#mustBeZstd) {
          throw new CorruptArchiveError('bad-compression', this.#base, 'no zstd frame starts here, where the position says one does (has the file changed since?); the offset is in the compressed file', this.#options.file)
        }
        if (this.#state === 'plain') {
          const rest = this.#take(this.#heldLength, true)
          if (rest.length > 0) this.push(rest)
          return
        }
      }
      if (this.#state === 'lost' && !this.#resync(ending)) return
      if (this.#heldLength === 0) return
      const walker = this.#walker ??= new FrameWalker(0)
      const extent = walker.step(this.#heldLength, (at) => this.#byte(at))
      if (extent === NEED_MORE) {
        if (!ending) return
        this.#walker = null
        this.#damage(`the frame at compressed byte ${this.#base} is cut short (the file ends inside it)`)
        continue
      }
      this.#walker = null
      if (typeof extent === 'string') {
        this.#damage(extent)
        continue
      }
      const start = this.#base
      if (extent.skippable) {
        this.#take(extent.end, true)
        continue
      }
      const frame = this.#take(extent.end, false)
      this.#backend ??= await requireZstd(this.#options.file ?? 'zstd input', this.#options.backend)
      let content: Buffer
      try {
        content = await this.#backend.decompress(frame)
      } catch (err) {
        this.#damage(`the frame at compressed byte ${start} is damaged (${(err as Error).message})`)
        continue
      }
      this.#take(extent.end, true)
      this.members.add(this.#out, start)
      this.#out += content.length
      if (content.length > 0) this.push(content)
    }
  }

  /**
   * Damage in the frame the held bytes start with: strict throws; lenient
   * goes on at the next frame magic after its first byte (a damaged frame's
   * own lengths are not to be trusted) and reports the bytes skipped there.
   */
  #damage (detail: string): void {
    const offset = this.#base
    const err = new CorruptArchiveError('bad-compression', offset, `zstd data: ${detail}; the offset is in the compressed file`, this.#options.file)
    if (this.#options.mode !== 'lenient') throw err
    this.#state = 'lost'
    this.#lostAt = offset
    this.#lostDetail = err.detail
    this.#take(1, true)
  }

  /** Lenient, after a lost walk: drop bytes up to the next frame magic. False: none in sight yet. */
  #resync (ending: boolean): boolean {
    const held = this.#take(this.#heldLength, false)
    const at = held.indexOf(ZSTD_MAGIC)
    if (at < 0 && !ending) {
      // Keep a tail that may be the start of a magic split across chunks.
      const keep = Math.min(3, held.length)
      this.#base += held.length - keep
      this.#put(held.subarray(held.length - keep))
      return false
    }
    const found = at < 0 ? held.length : at
    this.#base += found
    this.#put(held.subarray(found))
    const to = at < 0 ? 'the end' : 'the next frame'
    this.emit('corrupt', { offset: this.#lostAt, bytesSkipped: this.#base - this.#lostAt, reason: 'bad-compression', detail: `${this.#lostDetail}; skipped to ${to}` } satisfies ZstdCorruptInfo)
    this.#state = 'frames'
    return true
  }

  #put (buf: Buffer): void {
    this.#held = buf.length > 0 ? [buf] : []
    this.#heldLength = buf.length
  }

  /** The first `n` held bytes as one buffer; `consume` removes them (and advances #base). */
  #take (n: number, consume: boolean): Buffer {
    const joined = this.#held.length === 1 ? this.#held[0] : Buffer.concat(this.#held)
    this.#held = [joined]
    const taken = joined.subarray(0, n)
    if (consume) {
      this.#put(joined.subarray(n))
      this.#base += n
    }
    return taken
  }

  /** One held byte, by offset from #base; chunks are joined lazily, only when a header straddles them. */
  #byte (at: number): number {
    let offset = at
    for (const chunk of this.#held) {
      if (offset < chunk.length) return chunk[offset]
      offset -= chunk.length
    }
    return 0
  }
}

export function zstdDecompress (options: ZstdDecompressOptions = {}): ZstdDecompressStage {
  return new ZstdDecompressStage(options)
}
