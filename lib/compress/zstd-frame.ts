/**
 * Where zstd frames begin and end, from their headers alone (RFC 8878), so
 * a reader can hand whole frames to the decompressor, name each frame's
 * compressed offset, and tell a torn last frame from a complete one without
 * decompressing. A frame is: magic, frame header (whose descriptor byte says
 * how long the header is), blocks each led by a 3-byte header holding its
 * size and whether it is the last, then an optional 4-byte checksum.
 * Skippable frames (magic 0x184D2A5?, a 4-byte length) carry no content.
 * And, for a frame that is damaged or torn, its leading whole blocks as a
 * frame of their own (leadingBlocks()), which zstd.ts salvages.
 */

import { plural } from '../plural.js'
import { isSkippableMagic, isZstd, ZSTD_FRAME_MAGIC as MAGIC, ZSTD_MAGIC } from './zstd.js'

// The magic numbers live in zstd.ts, so that sniffing a codec does not load the frame walker.
export { isZstd, ZSTD_MAGIC }

const BLOCK_MAX = 128 * 1024

/** The longest frame header, magic included (ZSTD_FRAMEHEADERSIZE_MAX): what tells what a frame needs. */
export const FRAME_HEADER_MAX = 18

/** Not enough bytes yet to say. */
export const NEED_MORE = Symbol('need more bytes')

export interface FrameExtent {
  /** Offset just past the frame. */
  end: number
  /** A skippable frame: no content. */
  skippable: boolean
  /**
   * The most bytes the frame's content can be, from its headers alone (0 for
   * a skippable frame): what decompressing it would cost, known before it is
   * decompressed (see FrameWalker).
   */
  bound: number
}

/**
 * A frame refused by FrameWalker's limit, as soon as its headers show it
 * passes it (see FrameWalker): how, worded to follow "the frame at
 * compressed byte N" (zstd.ts frameTooLarge()).
 */
export interface FrameTooLarge {
  tooLarge: string
  /** Refused by its Frame_Content_Size: the header's length (from the frame's start); the size read may be another frame's bytes. */
  header?: number
}

/**
 * The most compressed bytes a frame whose content is within `limit` takes:
 * the content (a compressed block is smaller than what it regenerates, RFC
 * 8878 3.1.1.2.3, or it is sent raw), 3 bytes of block header per KiB (an
 * encoder's blocks are far larger: 128 KiB, or a split of one), its header
 * (18 bytes at most) and checksum (4). What a refused frame can have had
 * held: a frame's bound alone does not cap it (blocks of no content, or
 * blocks past a Frame_Content_Size, cost bytes without raising the bound).
 */
export function compressedLimit (limit: number): number {
  return limit + 3 * Math.ceil(limit / 1024) + 22
}

/**
 * Walks the frame starting at `start` of a growing buffer. step() resumes
 * where the last call stopped, so a frame arriving in many chunks is read
 * once, not again from its start for each chunk.
 *
 * On the way it bounds the frame's content (RFC 8878 3.1.1.2): a raw or RLE
 * block regenerates exactly its Block_Size bytes, a compressed block at most
 * Block_Maximum_Size = min(Window_Size, 128 KiB); and a Frame_Content_Size,
 * when the header has one, is exactly the content (the decompressor checks
 * it). So a 36 KB frame of a gigabyte of zeros is known for what it is
 * before anything is decompressed.
 *
 * With a `limit` (maxFrameSize), step() refuses the frame (FrameTooLarge) as
 * soon as its headers pass it, not once the whole frame has arrived: a
 * Frame_Content_Size over it at the header, else as soon as the blocks
 * walked could hold more, or take more compressed bytes than a frame within
 * it can (compressedLimit()). So a caller that holds the frame's bytes until
 * its end holds about `limit` at most before it is refused. After a refusal
 * the walk goes on without the limit, to skip the frame by its headers.
 */
export class FrameWalker {
  readonly start: number
  /** The next header to read (frame header, then each block header). */
  #cursor: number
  #phase: 'magic' | 'blocks' | 'skippable' = 'magic'
  #checksum = false
  /** What one compressed block can regenerate at most: min(Window_Size, 128 KiB). */
  #blockMax = BLOCK_MAX
  /** Frame_Content_Size, when the header has one. */
  #contentSize = Infinity
  /** The content of the blocks walked so far, at most. */
  #blocksBound = 0
  #blocks = 0
  /**
   * Where the last block ends (its checksum included) while its bytes have
   * not all come: its header is read again only once they have. Reading it
   * at each step was a walk through every chunk held (the caller's byte())
   * per chunk: a 100 KB frame written 3 bytes at a time took seconds.
   */
  #lastEnd = 0
  /** The frame's extent, once its last block is walked (a refusal there comes first). */
  #extent: FrameExtent | null = null
  /** The most content the frame may hold, and compressed bytes it may take (Infinity once it has been refused). */
  #limit: number
  #compressedLimit: number
  /** The compressed offset in the file of the bytes' offset 0, for the offsets its answers name. */
  readonly #origin: number
  /** The largest window read (a frame asking for more is refused, as damage): see WINDOW_LOG_MAX. */
  readonly #windowMax: number

  /**
   * `windowMax`: refuse a frame whose window is larger (text input, whose
   * streaming decoders hold the window: each path and backend refuses the
   * same frames). `origin`: where offset 0 of the bytes walked is in the compressed file,
   * when they are not the file from its start (a reader holds the bytes from
   * the frame on), so that a damaged block is named at its place in the file.
   */
  constructor (start: number, limit = Infinity, origin = 0, windowMax = Infinity) {
    this.start = start
    this.#windowMax = windowMax
    this.#cursor = start
    this.#limit = limit
    this.#compressedLimit = compressedLimit(limit)
    this.#origin = origin
  }

  /**
   * The offset the walk has reached (the next header; only headers are
   * read, so it may be past the bytes available): a caller skipping the
   * frame no longer needs the bytes before it.
   */
  get cursor (): number {
    return this.#cursor
  }

  /**
   * With `length` bytes available (read through `byte`), the frame's extent,
   * NEED_MORE, why the bytes at `start` are not a zstd frame, or (once) why
   * it is over the limit.
   */
  step (length: number, byte: (at: number) => number): FrameExtent | typeof NEED_MORE | string | FrameTooLarge | FrameNotRead {
    if (this.#extent !== null) return this.#extent
    // A skippable frame's bytes are never read: its end is known from its header.
    if (this.#phase === 'skippable') return length < this.#cursor ? NEED_MORE : { end: this.#cursor, skippable: true, bound: 0 }
    const u32 = (at: number): number => (byte(at) | byte(at + 1) << 8 | byte(at + 2) << 16 | byte(at + 3) << 24) >>> 0
    if (this.#phase === 'magic') {
      const at = this.start
      if (length < at + 5) return NEED_MORE
      const magic = u32(at)
      if (isSkippableMagic(magic)) {
        if (length < at + 8) return NEED_MORE
        // The cursor past it at once: a caller holding bytes from the cursor on holds none of it (a skippable
        // frame may say 4 GiB, and FrameEnds, held from its start, copied it again at each chunk).
        this.#cursor = at + 8 + u32(at + 4)
        this.#phase = 'skippable'
        return length < this.#cursor ? NEED_MORE : { end: this.#cursor, skippable: true, bound: 0 }
      }
      if (magic !== MAGIC) return notAFrame([byte(at), byte(at + 1), byte(at + 2), byte(at + 3)])
      const header = frameHeader(byte(at + 4))
      if (typeof header === 'string') return header
      if (length < at + header.length) return NEED_MORE
      const uint = (from: number, size: number): number => {
        let value = 0
        for (let i = size - 1; i >= 0; i--) value = value * 256 + byte(from + i)
        return value
      }
      // Not damage: the frame is sound, but no backend is given a dictionary, and each would call it a mismatch.
      const dictionary = header.dictSize > 0 ? uint(at + header.dictAt, header.dictSize) : 0
      if (dictionary !== 0) return { notRead: needsDictionary(dictionary), reason: 'unsupported' }
      if (header.fcsSize > 0) this.#contentSize = contentSize(header, uint(at + header.length - header.fcsSize, header.fcsSize))
      // A single-segment frame's window is its content size.
      const window = header.single ? this.#contentSize : windowSize(byte(at + 5))
      if (window > this.#windowMax) return { notRead: windowOver(window, this.#windowMax), reason: 'bad-compression' }
      this.#blockMax = Math.min(window, BLOCK_MAX)
      this.#checksum = header.checksum
      this.#cursor = at + header.length
      this.#phase = 'blocks'
      if (this.#contentSize !== Infinity && this.#contentSize > this.#limit) {
        return { ...this.#refuse(`holds ${plural(this.#contentSize, 'byte')} by its Frame_Content_Size`), header: header.length }
      }
    }
    for (;;) {
      const at = this.#cursor
      if (length < at + 3 || length < this.#lastEnd) return NEED_MORE
      const block = blockHeader(at, byte(at) | byte(at + 1) << 8 | byte(at + 2) << 16, this.#blockMax, this.#origin)
      if (typeof block === 'string') return block
      const { last } = block
      const regenerates = block.type === 2 ? this.#blockMax : block.size
      this.#blocksBound += regenerates
      this.#blocks++
      this.#cursor = block.end
      const bound = Math.min(this.#contentSize, this.#blocksBound)
      const end = this.#cursor + (last && this.#checksum ? 4 : 0)
      if (last && length < end) {
        // Not all of the last block (or its checksum) has come: its header is read again once it has.
        this.#cursor = at
        this.#blocksBound -= regenerates
        this.#blocks--
        this.#lastEnd = end
        return NEED_MORE
      }
      if (last) this.#extent = { end, skippable: false, bound }
      if (bound > this.#limit) {
        const by = last ? '(by its headers)' : `(by the headers of its first ${plural(this.#blocks, 'block')})`
        return this.#refuse(`could hold ${last ? 'up to' : 'at least'} ${plural(bound, 'byte')} ${by}`)
      }
      if (this.#cursor - this.start > this.#compressedLimit) {
        return this.#refuse(`takes ${plural(this.#cursor - this.start, 'compressed byte')} in its first ${plural(this.#blocks, 'block')} (which could hold ${plural(bound, 'byte')}), more than a frame within the limit takes`)
      }
      if (this.#extent !== null) return this.#extent
    }
  }

  /** Refuse the frame, once: `how` it passes the limit. The walk goes on without it (to skip the frame). */
  #refuse (how: string): FrameTooLarge {
    const tooLarge = `${how}, over maxFrameSize ${this.#limit}`
    this.#limit = Infinity
    this.#compressedLimit = Infinity
    return { tooLarge }
  }
}

/** step()'s answer is a refusal. */
export function isTooLarge (answer: FrameExtent | typeof NEED_MORE | string | FrameTooLarge | FrameNotRead): answer is FrameTooLarge {
  return typeof answer === 'object' && 'tooLarge' in answer
}

/** step()'s answer is a frame refused by its header alone (a dictionary's, or a window over the walker's windowMax). */
export function isNotRead (answer: FrameExtent | typeof NEED_MORE | string | FrameTooLarge | FrameNotRead): answer is FrameNotRead {
  return typeof answer === 'object' && 'notRead' in answer
}

/**
 * 2^27 = 128 MiB: the largest window decoded from text input, zstd's own
 * default limit (ZSTD_WINDOWLOG_LIMIT_DEFAULT, `zstd -d` without --memory
 * or --long): what the streaming decoders hold (zstd-stream.ts).
 */
export const WINDOW_LOG_MAX = 27

/**
 * A frame refused by its header alone, not decompressed nor salvaged: why,
 * worded to follow "the frame at compressed byte N", and as what. A frame
 * that needs a dictionary is sound, and 'unsupported' (SHOEBOX_UNSUPPORTED);
 * one whose window is over the limit is refused as damage, as `zstd -d`
 * refuses it.
 */
export interface FrameNotRead {
  notRead: string
  reason: 'unsupported' | 'bad-compression'
}

/**
 * The words for the frames no path reads, the same whichever path and
 * backend met them (each backend's own were its error name: "Dictionary
 * mismatch", "Unknown frame descriptor", or the frame called "damaged").
 */
export function needsDictionary (id: number): string {
  return `needs zstd dictionary ${id}, which shoebox does not read (\`zstd -d -D DICTIONARY\` does)`
}

/** A frame whose window is over `windowMax`: its size, and the `zstd` flag that reads it. */
export function windowOver (window: number, windowMax: number): string {
  const log = Math.ceil(Math.log2(window))
  return `needs a window of ${sizeWords(window)}, over the ${sizeWords(windowMax)} shoebox decodes (as \`zstd -d\` without --memory); not decompressed: \`zstd -d --long=${log}\` reads it`
}

const NOT_A_FRAME = 'no zstd frame starts here'

/** Bytes where a frame should start and none does: what they are, when they say (another codec's data after the frames). */
export function notAFrame (first: number[]): string {
  const hex = first.map((b) => b.toString(16).padStart(2, '0')).join(' ')
  const gzip = first[0] === 0x1f && first[1] === 0x8b
  return `${NOT_A_FRAME} (its first bytes are ${hex}${gzip ? ': a gzip member; shoebox reads an input as one codec, `zstd -dc` reads both' : ''})`
}

function sizeWords (bytes: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size) return `${Number.isInteger(bytes / size) ? bytes / size : (bytes / size).toFixed(2)} ${unit}`
  }
  return plural(bytes, 'byte')
}

/**
 * What the first bytes of a frame (`head`, up to 18: its magic and whole
 * header) say that no decoder here reads, for a decoder that met it without
 * walking it (the streaming one says only "Dictionary mismatch", "Unknown
 * frame descriptor", "Frame requires too much memory for decoding"): no
 * frame there, a dictionary, or a window over 2^windowLogMax. Null: none
 * of these, or too few bytes to tell.
 */
export function headRefusal (head: Buffer, windowLogMax: number): string | FrameNotRead | null {
  if (head.length < 4) return null
  const answer = new FrameWalker(0, Infinity, 0, 2 ** windowLogMax).step(head.length, (at) => head[at])
  if (isNotRead(answer)) return answer
  // Only what the header says: the walk goes on into block headers, which the bytes given may cut anywhere.
  return typeof answer === 'string' && answer.startsWith(NOT_A_FRAME) ? answer : null
}

/** The frames of a whole buffer from `start`: complete ones, then where the walk stopped and why. */
export function walkFrames (data: Buffer, start = 0): { frames: Array<{ start: number } & FrameExtent>, stop: number, problem: string | null } {
  const frames: Array<{ start: number } & FrameExtent> = []
  let at = start
  while (at < data.length) {
    const extent = new FrameWalker(at).step(data.length, (i) => data[i])
    if (extent === NEED_MORE) return { frames, stop: at, problem: 'cut short' }
    if (typeof extent === 'string') return { frames, stop: at, problem: extent }
    // Never without a limit; for the type.
    if (isTooLarge(extent)) return { frames, stop: at, problem: extent.tooLarge }
    if (isNotRead(extent)) return { frames, stop: at, problem: `the frame ${extent.notRead}` }
    frames.push({ start: at, ...extent })
    at = extent.end
  }
  return { frames, stop: at, problem: null }
}

/** What a frame header descriptor byte says. */
interface FrameHeader {
  /** Bytes from the magic to the first block header. */
  length: number
  single: boolean
  checksum: boolean
  /** Where Dictionary_ID and Frame_Content_Size sit, from the magic, and their sizes. */
  dictAt: number
  dictSize: number
  fcsSize: number
}

function frameHeader (fhd: number): FrameHeader | string {
  if ((fhd & 0x08) !== 0) return 'the frame header\'s reserved bit is set'
  const single = (fhd & 0x20) !== 0
  const fcsFlag = fhd >> 6
  const fcsSize = fcsFlag === 0 ? (single ? 1 : 0) : 1 << fcsFlag
  const dictSize = [0, 1, 2, 4][fhd & 3]
  const dictAt = 5 + (single ? 0 : 1)
  return { length: dictAt + dictSize + fcsSize, single, checksum: (fhd & 0x04) !== 0, dictAt, dictSize, fcsSize }
}

interface BlockHeader {
  last: boolean
  /** 0 raw, 1 RLE, 2 compressed. */
  type: number
  /** Block_Size: the content of a raw or RLE block, the compressed bytes of a compressed one. */
  size: number
  /** Offset just past the block. */
  end: number
}

/**
 * The block whose 3-byte header (`header`, little-endian) is at `at`, or why
 * it cannot be one. `blockMax`: the frame's Block_Maximum_Size, which a raw
 * or RLE block's Block_Size (its content) may not pass. The streaming
 * decompressors refuse such a block, but libzstd's one-pass call (the
 * libzstd backend given a bound; 1.5.4 at least) regenerates it whole: so
 * it is refused here, by its header, whatever the backend.
 */
function blockHeader (at: number, header: number, blockMax: number, origin = 0): BlockHeader | string {
  const type = (header >> 1) & 3
  const size = header >>> 3
  const where = `block at compressed byte ${origin + at}`
  if (type === 3) return `${where} has the reserved type`
  if (size > BLOCK_MAX) return `${where} claims ${size} bytes, over zstd's 128 KiB`
  if (type !== 2 && size > blockMax) return `${where} claims ${size} bytes, over its frame's ${blockMax}-byte block maximum (its window)`
  // An RLE block (type 1) holds one byte, repeated `size` times.
  return { last: (header & 1) === 1, type, size, end: at + 3 + (type === 1 ? 1 : size) }
}

/** Frame_Content_Size from its field's value (`raw`, little-endian): a 2-byte field counts from 256. */
function contentSize (header: FrameHeader, raw: number): number {
  return raw + (header.fcsSize === 2 ? 256 : 0)
}

/** The Window_Size a Window_Descriptor byte says: 2^(10 + exponent) plus mantissa eighths of it (RFC 8878 3.1.1.1.2). */
function windowSize (descriptor: number): number {
  const base = 2 ** (10 + (descriptor >> 3))
  return base + base / 8 * (descriptor & 7)
}

/**
 * `frame` (whole, its content at most `bound` by its headers, FrameWalker)
 * with its Window_Descriptor lowered to the smallest window that holds
 * `bound` (128 KiB at least: its Block_Maximum_Size stays), where its header
 * asks for more than 2^WINDOW_LOG_MAX and `bound` fits in that: `zstd
 * --long=31` from a pipe asks for 2 GiB however small the frame. A frame
 * without a dictionary refers back only into its own content, so no offset
 * in it is over `bound`: it decodes to the same bytes. The libzstd backend
 * reads such a frame whole in one pass (no window needed); the package and
 * node:zlib stream it and refuse a window over 128 MiB, so the same archive
 * read or failed by backend. Returns `frame` itself when nothing changes.
 */
export function fittedWindow (frame: Buffer, bound: number): Buffer {
  if (frame.length < 6 || frame.readUInt32LE(0) !== MAGIC) return frame
  const header = frameHeader(frame[4])
  if (typeof header === 'string' || header.single || windowSize(frame[5]) <= 2 ** WINDOW_LOG_MAX) return frame
  const fitted = windowDescriptor(Math.max(bound, BLOCK_MAX))
  if (windowSize(fitted) > 2 ** WINDOW_LOG_MAX) return frame
  const copy = Buffer.from(frame)
  copy[5] = fitted
  return copy
}

/** A frame's leading whole blocks, and a frame of their own made of the first k of them (see leadingBlocks()). */
export interface LeadingBlocks {
  /** Whole blocks present: up to the end of the bytes, the first bad block header, or the frame's last block. */
  count: number
  /**
   * bounds[k - 1]: the most content the first k blocks regenerate, by their
   * headers (as FrameWalker counts). The frame of them has no
   * Frame_Content_Size to hold it to less: a frame's may understate its
   * blocks, which then fail to decompress whole, but do as a salvage.
   */
  bounds: number[]
  /** The first `k` blocks (1 to count) as a complete frame. */
  frame: (k: number) => Buffer
}

/**
 * The leading whole blocks of the zstd frame `bytes` starts with (damaged,
 * or torn), as frames of their own: what a reader can still decompress of
 * it. A frame's blocks only refer back to earlier content, so its first k
 * blocks decode to exactly the first bytes of its content, but a one-shot
 * decompressor needs a complete frame (RFC 8878). So the header is rewritten
 * without Frame_Content_Size (the prefix is shorter) and without the
 * Content_Checksum flag (the checksum covers the whole content), and so not
 * single-segment, which needs a content size: the original
 * Window_Descriptor is kept, or a single-segment frame gets the smallest
 * window that holds its content size (RFC 8878 3.1.1.1.2). The k-th block
 * gets the Last_Block bit. Null when the frame header is not whole and sound.
 */
export function leadingBlocks (bytes: Buffer): LeadingBlocks | null {
  if (bytes.length < 5 || bytes.readUInt32LE(0) !== MAGIC) return null
  const fhd = bytes[4]
  const header = frameHeader(fhd)
  if (typeof header === 'string' || bytes.length < header.length) return null
  let window: number
  if (header.single) {
    const fcsAt = header.length - header.fcsSize
    const size = contentSize(header, header.fcsSize === 8 ? Number(bytes.readBigUInt64LE(fcsAt)) : bytes.readUIntLE(fcsAt, header.fcsSize))
    window = windowDescriptor(size)
  } else {
    window = bytes[5]
  }
  // Frame_Content_Size_Flag 0, Single_Segment off, Content_Checksum off; the Dictionary_ID flag kept.
  const head = Buffer.concat([bytes.subarray(0, 4), Buffer.from([fhd & 0x03, window]), bytes.subarray(header.dictAt, header.dictAt + header.dictSize)])
  const ends: number[] = []
  const starts: number[] = []
  const bounds: number[] = []
  const blockMax = Math.min(windowSize(window), BLOCK_MAX)
  for (let at = header.length; at + 3 <= bytes.length;) {
    const block = blockHeader(at, bytes.readUIntLE(at, 3), blockMax)
    if (typeof block === 'string' || block.end > bytes.length) break
    starts.push(at)
    ends.push(block.end)
    bounds.push((bounds.length > 0 ? bounds[bounds.length - 1] : 0) + (block.type === 2 ? blockMax : block.size))
    if (block.last) break
    at = block.end
  }
  return {
    count: ends.length,
    bounds,
    frame: (k: number): Buffer => {
      const frame = Buffer.concat([head, bytes.subarray(header.length, ends[k - 1])])
      frame[head.length + starts[k - 1] - header.length] |= 1
      return frame
    }
  }
}

/** The Window_Descriptor of the smallest window at least `size` bytes (1 KiB at least): 2^(10 + exponent) plus mantissa eighths of it. */
function windowDescriptor (size: number): number {
  for (let exponent = 0; exponent < 32; exponent++) {
    const base = 2 ** (10 + exponent)
    for (let mantissa = 0; mantissa < 8; mantissa++) {
      if (base + base / 8 * mantissa >= size) return exponent << 3 | mantissa
    }
  }
  return 31 << 3 | 7
}
