/**
 * zstdDecompress(): walks the frames by their headers (zstd-frame.ts), hands
 * each whole frame to the decompressor, skips skippable frames, and passes
 * input that is not zstd through untouched, as gunzip() does. Its `members`
 * says which frame each decompressed byte came from, for decode({ positions:
 * true, members }): a record's position then names its frame's compressed
 * offset, to fetch it with one ranged read (as gunzipMembers() does). A
 * damaged or torn frame first gives up the content of its leading whole
 * blocks that still decode (salvageFrame()), as gzip gives its output up to
 * the damage. Then the damage is reported at the compressed offset of its
 * frame: strict fails after every byte before it is delivered
 * (stream/deliver-then-fail.ts), lenient skips the frame (or, when the walk
 * itself is lost, to the next frame magic) and emits 'corrupt'. (Compressing
 * is zstd.ts.)
 */
import { type Duplex, Transform, type TransformCallback } from 'node:stream'
import { checkOptionsObject, CorruptArchiveError, DECOMPRESS_HINT, takesBytes } from '../errors.js'
import { breakAfter } from '../stream/content-break.js'
import { failAfterDelivery, refusesLateWrites } from '../stream/deliver-then-fail.js'
import { ReadDemand } from '../stream/read-demand.js'
import { plural } from '../plural.js'
import { checkDecodeMode } from '../units.js'
import { MemberMap } from './member-map.js'
import { isSkippableMagic, isZstd, maxFrameSizeOption, requireZstd, zstdBackendOption, ZSTD_FRAME_MAGIC, ZSTD_MAGIC } from './zstd.js'
import type * as ZstdFrame from './zstd-frame.js'
import type { ZstdBackend, ZstdChoice } from './zstd-loader.js'
import type { SpanLookup } from '../record.js'

/**
 * zstd-frame.ts (the frame walker), loaded when the first frame is walked
 * rather than with this module (each module loaded costs start-up time:
 * test/startup-lazy.test.ts).
 */
let frames: typeof ZstdFrame | undefined

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
  /**
   * The most content one frame may hold, by its headers (zstd-frame.ts),
   * before it is decompressed: a frame that could hold more is refused as
   * damage at its offset, never decompressed (a few KB of zstd can say a
   * gigabyte of zeros), and as soon as its headers pass the limit, so about
   * this much of it is held at most (a 5 GB frame is not held first).
   * Default DEFAULT_MAX_FRAME_SIZE (256 MiB).
   */
  maxFrameSize?: number | string
  /**
   * The input may still be growing (a followed file being written): a frame
   * cut short by the end of the input fails (CorruptArchiveError `cutShort`)
   * even when lenient, for the reader to read it again once it has grown,
   * rather than being skipped as damage. Default false.
   */
  growing?: boolean
}

/** What a lenient zstdDecompress() tells about a frame it skipped. */
export interface ZstdCorruptInfo {
  /** Compressed offset of the damage (the frame's start). */
  offset: number
  bytesSkipped: number
  /** 'unsupported' for a sound frame that needs a zstd dictionary (`needsDictionary`), as strict mode's error says. */
  reason: 'bad-compression' | 'unsupported'
  detail: string
  /** The frame was skipped for its size (over maxFrameSize), not for damage (CorruptArchiveError.frameTooLarge). */
  frameTooLarge?: true
  /** The frame was skipped because it needs a zstd dictionary, which shoebox does not read: not damage. */
  needsDictionary?: true
}

/** Frames decompressing while the oldest is decoded downstream: enough for the backend's two jobs and two more. */
const FRAMES_AHEAD = 4

/**
 * The content of the frames decompressing ahead, by their bounds: past it, a
 * frame starts only once those before it are delivered, so big frames (up to
 * maxFrameSize each) are not also multiplied by FRAMES_AHEAD. Our 1 MiB
 * frames stay four ahead.
 */
const AHEAD_BYTES = 32 * 1024 * 1024

/** A frame walked: its bytes, and its decompression (null: a skippable frame). */
interface Ahead {
  start: number
  frame: Buffer
  /** Its content at most (zstd-frame.ts). */
  bound: number
  content: Promise<Buffer> | null
  settled: boolean
}

/**
 * sniff: zstd or not; plain: passing through; frames: walking frames; lost: lenient, looking for the next magic;
 * skipping: lenient, walking past a frame refused for its size.
 */
type State = 'sniff' | 'plain' | 'frames' | 'lost' | 'skipping'

/** A refused frame being skipped: its walker, compressed offset, bytes dropped so far, and what is reported. */
interface Skipping {
  walker: ZstdFrame.FrameWalker
  offset: number
  dropped: number
  detail: string
}

export class ZstdDecompressStage extends takesBytes(refusesLateWrites(Transform, 'zstdDecompress()'), 'zstdDecompress()', DECOMPRESS_HINT) {
  readonly #options: ZstdDecompressOptions
  #state: State = 'sniff'
  /** Input not yet handled, starting at compressed offset #base. */
  #held: Buffer[] = []
  #heldLength = 0
  /** The memory of the chunk being consumed, the writer's (see #own); null between writes. */
  #writer: ArrayBufferLike | null = null
  #base = 0
  #walker: ZstdFrame.FrameWalker | null = null
  /** Frames walked and decompressing (null content: a skippable frame), oldest first; contiguous, ending at #base. */
  #ahead: Ahead[] = []
  /** The queue of work on the held bytes (see #serially). */
  #work: Promise<void> = Promise.resolve()
  #failed = false
  /** A delivery of finished frames is queued. */
  #kicked = false
  #backend: ZstdBackend | null = null
  /**
   * The frames read so far, for decode({ positions: true, members }) and
   * decode({ frames }) (damage reported by frame); a frame walked whole
   * knows its compressed length, a salvaged one not. Empty for plain input.
   */
  readonly members = new MemberMap()
  /** Decompressed offset of the next byte out. */
  #out = 0
  /** Started at a frame (options.start): the input must be zstd. */
  readonly #mustBeZstd: boolean
  /** Lenient: where the walk was lost (reported once the next frame is found). */
  #lostAt = 0
  #lostDetail = ''
  /** The walk was lost at a sound frame that needs a dictionary (reported as unsupported), not at damage. */
  #lostNeedsDictionary = false
  readonly #maxFrameSize: number
  #skipping: Skipping | null = null
  /** A skippable frame longer than what was held when it was met: where it starts, and its bytes still to drop. */
  #skippable: { start: number, left: number } | null = null
  /**
   * A frame's content is pushed, then, when the reader's buffer is full, waits until it asks for more: nothing
   * more is walked, decompressed or taken in meanwhile (stream/read-demand.ts).
   */
  readonly #demand = new ReadDemand()

  /**
   * The largest window read (Infinity for archives: a frame is held whole,
   * bounded by maxFrameSize, and libzstd needs no window for it). Text input
   * read a frame at a time (zstd-stream.ts) passes the streaming decoders'
   * limit, so that every backend refuses the same frames, in the same words.
   */
  readonly #windowMax: number

  constructor (options: ZstdDecompressOptions = {}, windowMax = Infinity) {
    super()
    this.#windowMax = windowMax
    this.#options = { ...options }
    checkDecodeMode(options.mode)
    this.#maxFrameSize = maxFrameSizeOption(options.maxFrameSize)
    zstdBackendOption(options.backend)
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
    this.#serially(async () => {
      this.#writer = chunk.buffer
      await this.#consume(false)
      // What is still held of it (a frame not yet whole) is copied before the write is called back. Only the last
      // held chunk can be of it: the chunks before it were made ours by earlier writes, and nothing puts bytes behind
      // it (#take and #put leave one chunk, #drop takes from the front). Copying them all again was a walk over every
      // held chunk per write: a 100 KB frame written 3 bytes at a time spent ~14 s here.
      const last = this.#held.length - 1
      if (last >= 0) this.#held[last] = this.#own(this.#held[last])
      this.#writer = null
    }, callback)
  }

  /**
   * `bytes` as bytes of this stage's own, if they are the writer's (a view
   * of the chunk being consumed). They are kept past the write's callback
   * (a frame decompressing on the thread pool or waiting its turn, bytes of
   * a frame not yet whole), and the writer may fill its buffer again then
   * (a reader with one buffer): the frame would be read from the new bytes.
   * Bytes of earlier chunks were copied before their callbacks, and joined
   * ones are ours: each compressed byte is copied once at most.
   */
  #own (bytes: Buffer): Buffer {
    return bytes.buffer === this.#writer ? Buffer.from(bytes) : bytes
  }

  override _flush (callback: TransformCallback): void {
    this.#serially(async () => { await this.#consume(true) }, callback)
  }

  override _read (size: number): void {
    this.#demand.wake()
    super._read(size)
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    this.#demand.wake()
    super._destroy(err, callback)
  }

  /**
   * Run `work` after the work queued before it (input, and frames delivered
   * as they finish decompressing): one at a time, since each moves the held
   * bytes. A failure fails the stream after delivery, through `callback`
   * when the work came with one; nothing runs after it.
   */
  #serially (work: () => Promise<void>, callback?: TransformCallback): void {
    this.#work = this.#work.then(async () => {
      if (this.#failed) return
      try {
        await work()
      } catch (err) {
        this.#failed = true
        failAfterDelivery(this, err as Error, callback)
        return
      }
      callback?.()
    })
  }

  /**
   * A frame finished decompressing: deliver the finished frames at the head
   * of the line now, not when the next input comes (which, following a file
   * being written, may be a while). A damaged one is handled as #deliver does.
   */
  #finished (): void {
    if (this.#kicked) return
    this.#kicked = true
    this.#serially(async () => {
      this.#kicked = false
      if (this.destroyed) return
      if (!await this.#deliver(0, true)) await this.#walk(false)
    })
  }

  /** Walk what is held; at the end of input, deliver every frame still decompressing (a lenient rewind walks again). */
  async #consume (ending: boolean): Promise<void> {
    for (;;) {
      await this.#walk(ending)
      // false: rewound to a damaged frame (lenient), so walk the bytes after it again
      if (!ending || await this.#deliver(0)) return
    }
  }

  /**
   * Walk the held bytes frame by frame, starting each whole frame's
   * decompression (on the thread pool) and delivering the oldest ones once
   * FRAMES_AHEAD are under way, so that the frames after it decompress while
   * the stages downstream decode it. Returns when it needs more input.
   */
  async #walk (ending: boolean): Promise<void> {
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
      if (this.#state === 'skipping') {
        if (!this.#skipRefused(ending)) return
        // Past it, or lost (and looking for the next magic).
        continue
      }
      if (this.#skippable !== null) {
        if (!this.#dropSkippable(ending)) return
        continue
      }
      if (this.#heldLength === 0) return
      // The held bytes start at the frame being walked (its walker may have waited for its first 8 bytes).
      const skippable = this.#skippableLength()
      if (skippable !== undefined && skippable > this.#heldLength) {
        // Its bytes are dropped as they come, not held until its end (its length is anyone's: 4 GB of them would
        // all be held). The frames before it go first: a rewind to damage among them needs the bytes after them.
        if (this.#ahead.length > 0 && !await this.#deliver(0)) continue
        this.#walker = null
        this.#skippable = { start: this.#base, left: skippable }
        continue
      }
      frames ??= await import('./zstd-frame.js')
      // The held bytes start at #base, where the frame starts: the walker names blocks by their offset in the file.
      const walker = this.#walker ??= new frames.FrameWalker(0, this.#maxFrameSize, this.#base, this.#windowMax)
      const extent = walker.step(this.#heldLength, (at) => this.#byte(at))
      // The one symbol step() returns is NEED_MORE.
      if (typeof extent === 'symbol' && !ending) return
      if (typeof extent === 'symbol' || typeof extent === 'string') {
        this.#walker = null
        // Damage here comes after the frames still decompressing: they go first (and may be damaged themselves).
        if (this.#ahead.length > 0 && !await this.#deliver(0)) continue
        const cutShort = typeof extent === 'symbol'
        const problem = cutShort ? `the frame at compressed byte ${this.#base} is cut short (the file ends inside it)` : extent
        // Reported at the frame's start (not the end of the input), so the error says it was cut short.
        this.#damage(problem + await this.#salvage(this.#base, this.#take(this.#heldLength, false)), cutShort)
        continue
      }
      if (frames.isNotRead(extent)) {
        // Refused by its header (a dictionary's: SHOEBOX_UNSUPPORTED; a window over the limit), after the frames
        // before it; lenient skips it as damage. Nothing is salvaged: none of it is decompressed.
        this.#walker = null
        if (this.#ahead.length > 0 && !await this.#deliver(0)) continue
        const detail = `the frame at compressed byte ${this.#base} ${extent.notRead}`
        if (this.#options.mode !== 'lenient') {
          throw new CorruptArchiveError(extent.reason, this.#base, `zstd data: ${detail}; the offset is in the compressed file`, this.#options.file)
        }
        this.#damage(detail)
        // A dictionary's frame is sound (the reader lacks the dictionary): reported as unsupported, not as damage.
        this.#lostNeedsDictionary = extent.reason === 'unsupported'
        continue
      }
      if (frames.isTooLarge(extent)) {
        // Refused as soon as its headers pass maxFrameSize, before the rest of it arrives. As damage: after the
        // frames before it, which may be damaged themselves (a rewind walks again, and refuses it again).
        if (this.#ahead.length > 0 && !await this.#deliver(0)) continue
        // A header cut short by another frame (`cat torn.zst whole.zst`), whose magic starts inside it: its size
        // was read from that magic, so it is over any limit. Skipped by its "blocks", the walk went on through the
        // next frame and lost it: this is damage, and the next frame is read.
        const seen = extent.header === undefined ? 0 : extent.header + ZSTD_MAGIC.length - 1
        if (this.#heldLength < seen && !ending) {
          // Not enough held to tell yet: walk the header again when more has come.
          this.#walker = null
          return
        }
        const next = extent.header === undefined ? -1 : this.#take(Math.min(seen, this.#heldLength), false).indexOf(ZSTD_MAGIC, 1)
        if (next > 0) {
          this.#walker = null
          this.#damage(`the frame header is cut short: another frame starts at compressed byte ${this.#base + next}`)
          continue
        }
        this.#refuse(walker, extent)
        continue
      }
      this.#walker = null
      // Room for this frame's content among those ahead: the oldest delivered until it fits (a rewind walks again).
      if (!await this.#makeRoom(extent.bound)) continue
      const start = this.#base
      const frame = this.#own(this.#take(extent.end, true))
      if (extent.skippable) {
        this.#ahead.push({ start, frame, bound: 0, content: null, settled: true })
      } else {
        this.#backend ??= await requireZstd(this.#options.file ?? 'zstd input', this.#options.backend)
        const ahead: Ahead = { start, frame, bound: extent.bound, content: this.#backend.decompress(frames.fittedWindow(frame, extent.bound), extent.bound), settled: false }
        // Also keeps a rejection from counting as "unhandled": #deliver awaits it in order.
        const settle = (): void => { ahead.settled = true; this.#finished() }
        ahead.content?.then(settle, settle)
        this.#ahead.push(ahead)
      }
      if (this.#ahead.length > FRAMES_AHEAD) await this.#deliver(FRAMES_AHEAD)
    }
  }

  /** Deliver the oldest frames ahead until `bound` more fits in AHEAD_BYTES, or none is left; false after a rewind (see #deliver). */
  async #makeRoom (bound: number): Promise<boolean> {
    while (this.#ahead.length > 0 && aheadBound(this.#ahead) + bound > AHEAD_BYTES) {
      if (!await this.#deliver(this.#ahead.length - 1)) return false
    }
    return true
  }

  /**
   * Push the decompressed frames, oldest first, until at most `keep` are
   * under way. A damaged one puts its bytes and those of the frames after it
   * back in front of the held input and reports the damage there, as if
   * they had never been walked (strict: throws; lenient: goes on at the next
   * magic). Resolves false after such a rewind. `settledOnly`: stop at the
   * first frame still decompressing.
   */
  async #deliver (keep: number, settledOnly = false): Promise<boolean> {
    while (this.#ahead.length > keep) {
      const frame = this.#ahead[0]
      if (settledOnly && !frame.settled) break
      let content: Buffer | null
      try {
        content = await frame.content
      } catch (err) {
        const rewound = this.#ahead.splice(0).map((f) => f.frame)
        this.#walker = null
        this.#base = frame.start
        this.#put(Buffer.concat([...rewound, ...this.#held]))
        this.#damage(`the frame at compressed byte ${frame.start} is damaged (${(err as Error).message})` + await this.#salvage(frame.start, frame.frame))
        return false
      }
      this.#ahead.shift()
      if (content === null) continue
      this.members.add(this.#out, frame.start, frame.frame.length)
      this.#out += content.length
      if (content.length > 0) await this.#demand.push(this, content)
    }
    return true
  }

  /**
   * Deliver what still decodes of the damaged or torn frame at compressed
   * offset `start` (`bytes`: the frame, or what the input holds of it; see
   * salvageFrame()), as gzip streams its inflater's output up to the
   * damage: the records there are not lost with the frame. Returns what to
   * add to the damage's detail.
   */
  async #salvage (start: number, bytes: Buffer): Promise<string> {
    // No frame starts here (garbage after a frame): nothing to salvage, or to say about it.
    if (bytes.length >= 4 && bytes.readUInt32LE(0) !== ZSTD_FRAME_MAGIC) return ''
    this.#backend ??= await requireZstd(this.#options.file ?? 'zstd input', this.#options.backend)
    const salvaged = await salvageFrame(bytes, this.#backend, this.#maxFrameSize)
    if (salvaged !== null) {
      const { content } = salvaged
      this.members.add(this.#out, start)
      this.#out += content.length
      // Lenient: the next frame's content follows, which does not continue this (stream/content-break.ts).
      if (content.length > 0) await this.#demand.push(this, this.#options.mode === 'lenient' ? breakAfter(content) : content)
    }
    return salvagedDetail(salvaged)
  }

  /**
   * Damage in the frame the held bytes start with: strict throws; lenient
   * goes on at the next frame magic after its first byte (a damaged frame's
   * own lengths are not to be trusted) and reports the bytes skipped there.
   * A torn last frame of a growing input is not damage yet: it throws.
   */
  #damage (detail: string, cutShort = false): void {
    const offset = this.#base
    const err = new CorruptArchiveError('bad-compression', offset, `zstd data: ${detail}; the offset is in the compressed file`, this.#options.file, { cutShort })
    if (this.#options.mode !== 'lenient' || (cutShort && this.#options.growing === true)) throw err
    this.#state = 'lost'
    this.#lostAt = offset
    this.#lostDetail = err.detail
    this.#lostNeedsDictionary = false
    this.#take(1, true)
  }

  /**
   * The frame the held bytes start with passes maxFrameSize (`walker` has
   * refused it): it is not decompressed, nor salvaged (which decompresses).
   * Strict throws; lenient skips the frame by its block headers, its bytes
   * dropped as they arrive, never held (#skipRefused), and reports it there.
   */
  #refuse (walker: ZstdFrame.FrameWalker, refusal: ZstdFrame.FrameTooLarge): void {
    const offset = this.#base
    const err = new CorruptArchiveError('bad-compression', offset, frameTooLarge(offset, refusal), this.#options.file, { frameTooLarge: true })
    if (this.#options.mode !== 'lenient') throw err
    this.#walker = null
    this.#skipping = { walker, offset, dropped: 0, detail: err.detail }
    this.#state = 'skipping'
  }

  /**
   * Lenient, past a refused frame: walk on through its block headers,
   * dropping the bytes walked. At its end, report it once (the frame
   * skipped, exactly) and go on. If the input ends inside it, or its walk
   * is lost, go on at the next frame magic as for damage, reported once from
   * its start; a growing input's frame cut short fails cutShort, to be read
   * again once it grows (as in #damage). False: it needs more input.
   */
  #skipRefused (ending: boolean): boolean {
    const skip = this.#skipping as Skipping
    const extent = skip.walker.step(this.#heldLength + skip.dropped, (at) => this.#byte(at - skip.dropped))
    if (typeof extent === 'object' && 'end' in extent) {
      this.#drop(extent.end - skip.dropped)
      this.#skipping = null
      this.#state = 'frames'
      this.emit('corrupt', { offset: skip.offset, bytesSkipped: extent.end, reason: 'bad-compression', detail: skip.detail, frameTooLarge: true } satisfies ZstdCorruptInfo)
      return true
    }
    // The walker reads block headers only: its cursor may be past the bytes that have arrived.
    const walked = Math.min(skip.walker.cursor - skip.dropped, this.#heldLength)
    this.#drop(walked)
    skip.dropped += walked
    if (typeof extent === 'symbol' && !ending) return false
    const cutShort = typeof extent === 'symbol'
    if (cutShort && this.#options.growing === true) {
      throw new CorruptArchiveError('bad-compression', skip.offset, `zstd data: the frame at compressed byte ${skip.offset} is cut short (the file ends inside it); the offset is in the compressed file`, this.#options.file, { cutShort })
    }
    this.#skipping = null
    this.#state = 'lost'
    this.#lostAt = skip.offset
    this.#lostDetail = `${skip.detail}; then ${cutShort ? 'the file ends inside it' : String(extent)}`
    this.#lostNeedsDictionary = false
    return true
  }

  /** The length of the skippable frame the held bytes start with (its header included), if they start with one. */
  #skippableLength (): number | undefined {
    if (this.#heldLength < 8) return undefined
    const u32 = (at: number): number => (this.#byte(at) | this.#byte(at + 1) << 8 | this.#byte(at + 2) << 16 | this.#byte(at + 3) << 24) >>> 0
    return isSkippableMagic(u32(0)) ? 8 + u32(4) : undefined
  }

  /**
   * Drop what is held of the skippable frame being passed over. At its end,
   * go on; if the input ends inside it, that is a frame cut short, as for
   * any frame: strict (or growing) fails at its start, lenient reports it
   * there and ends. False: it needs more input.
   */
  #dropSkippable (ending: boolean): boolean {
    const skip = this.#skippable as { start: number, left: number }
    const n = Math.min(skip.left, this.#heldLength)
    this.#drop(n)
    skip.left -= n
    if (skip.left === 0) {
      this.#skippable = null
      return true
    }
    if (!ending) return false
    this.#skippable = null
    const detail = `zstd data: the skippable frame at compressed byte ${skip.start} is cut short (the file ends inside it); the offset is in the compressed file`
    const err = new CorruptArchiveError('bad-compression', skip.start, detail, this.#options.file, { cutShort: true })
    if (this.#options.mode !== 'lenient' || this.#options.growing === true) throw err
    this.emit('corrupt', { offset: skip.start, bytesSkipped: this.#base - skip.start, reason: 'bad-compression', detail: err.detail } satisfies ZstdCorruptInfo)
    return true
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
    const lost = { offset: this.#lostAt, bytesSkipped: this.#base - this.#lostAt, detail: `${this.#lostDetail}; skipped to ${to}` }
    const info: ZstdCorruptInfo = this.#lostNeedsDictionary
      ? { ...lost, reason: 'unsupported', needsDictionary: true }
      : { ...lost, reason: 'bad-compression' }
    this.emit('corrupt', info)
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

  /** Drop the first `n` held bytes (advancing #base) without joining the chunks (#take would copy a refused frame's whole). */
  #drop (n: number): void {
    let left = n
    let whole = 0
    while (whole < this.#held.length && this.#held[whole].length <= left) left -= this.#held[whole++].length
    this.#held.splice(0, whole)
    if (left > 0 && this.#held.length > 0) this.#held[0] = this.#held[0].subarray(left)
    this.#heldLength -= n
    this.#base += n
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

/** The content the frames ahead can hold at most. */
function aheadBound (ahead: Ahead[]): number {
  let bound = 0
  for (const frame of ahead) bound += frame.bound
  return bound
}

/** Why the frame at `offset` (refused by its walker, zstd-frame.ts) is not decompressed: for errors, with what raises the limit. */
export function frameTooLarge (offset: number, refusal: ZstdFrame.FrameTooLarge): string {
  return `zstd data: the frame at compressed byte ${offset} ${refusal.tooLarge}; ${NOT_DECOMPRESSED}`
}

const NOT_DECOMPRESSED = 'not decompressed (a decompression bomb, or a frame from elsewhere larger than shoebox writes: raise maxFrameSize, --max-frame-size, to read it)'

/** What still decodes of a damaged or torn frame: the content of its first `blocks` of `of` whole blocks. */
export interface SalvagedFrame {
  content: Buffer
  blocks: number
  of: number
}

/**
 * The content of the longest run of leading whole blocks of the frame
 * `bytes` starts with (damaged, or torn) that decompresses, trying all of
 * them first, then one fewer each time; null when none does or the frame
 * header is bad (zstd-frame.ts, leadingBlocks()). A damaged frame of a 1 MiB
 * flush block has about 9 blocks: only damage pays for the tries. Only
 * blocks whose bound is within `maxFrameSize` are tried: a frame whose
 * Frame_Content_Size understates its blocks passed the walker's bound, and
 * its blocks, without it, could hold a gigabyte in a few KB.
 */
export async function salvageFrame (bytes: Buffer, backend: ZstdBackend, maxFrameSize: number): Promise<SalvagedFrame | null> {
  frames ??= await import('./zstd-frame.js')
  const leading = frames.leadingBlocks(bytes)
  if (leading === null) return null
  let within = leading.count
  while (within >= 1 && leading.bounds[within - 1] > maxFrameSize) within--
  for (let k = within; k >= 1; k--) {
    try {
      return { content: await backend.decompress(leading.frame(k), leading.bounds[k - 1]), blocks: k, of: leading.count }
    } catch {
      // Damage within these blocks: try one fewer.
    }
  }
  return null
}

/** What a damage's detail adds about a salvage, so that a frame read in part is told from one lost whole. */
export function salvagedDetail (salvaged: SalvagedFrame | null): string {
  if (salvaged === null) return '; none of its content could be read'
  return `; its first ${plural(salvaged.content.length, 'byte')} (${salvaged.blocks} of ${plural(salvaged.of, 'whole block')}) were read`
}

export function zstdDecompress (options: ZstdDecompressOptions = {}): ZstdDecompressStage {
  checkOptionsObject(options, 'zstdDecompress()')
  return new ZstdDecompressStage(options)
}

/** The zstd frames of decompressStages() (codecs.ts), for decode({ frames }): damage reported by the frame it is in. */
export function zstdFrames (stages: Duplex[]): SpanLookup | undefined {
  for (const stage of stages) if (stage instanceof ZstdDecompressStage) return stage.members
  return undefined
}
