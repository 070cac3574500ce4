/**
 * A gunzip stage that knows its members. Node's createGunzip() reads
 * multi-member gzip but hides where one member ends and the next begins; an
 * index needs that (a record's position names the compressed offset of its
 * member, to fetch it with one ranged read). So each member's header and
 * trailer are parsed here, and its deflate data goes through a raw inflater
 * (on the threadpool, as createGunzip's would): when the deflate stream ends
 * inside a chunk, the inflater stops early and its bytesWritten says where,
 * and the rest of the chunk is the trailer and the next member.
 *
 * Output is the inflater's own 256 KiB chunks, passed on without copying; the
 * inflater is paused while this stage's reader is behind, so memory stays at
 * about one chunk whatever the compression ratio.
 */
import { Duplex } from 'node:stream'
import type zlib from 'node:zlib'
import { checkOptionsObject, CorruptArchiveError, DECOMPRESS_HINT, takesBytes } from '../errors.js'
import { CHUNK, nodeZlib } from './gzip.js'
import { failAfterDelivery, refusesLateWrites } from '../stream/deliver-then-fail.js'
import { MemberMap } from './member-map.js'
import type * as MemberHeader from './member-header.js'

/**
 * member-header.ts, loaded when the first gzip header is met rather than at
 * import: each module the package's import loads costs start-up time
 * (test/startup-lazy.test.ts), and header parsing happens in async #consume.
 */
let memberHeader: typeof MemberHeader | undefined

const TRAILER_SIZE = 8
const EMPTY = Buffer.alloc(0)

/**
 * sniff: deciding gzip or not; plain: passing through; header, deflate,
 * trailer: inside a member; next: between members; padding: zero bytes after
 * the last member (ignored, as gzip and zlib do).
 */
type State = 'sniff' | 'plain' | 'header' | 'deflate' | 'trailer' | 'next' | 'padding'

export interface GunzipOptions {
  /**
   * Where the input begins, when it starts at a member in the middle of a
   * file (see openAt()): the member's compressed offset and the decompressed
   * offset of its first byte. Offsets in errors and in `members` count from
   * them, and input that is not gzip is an error rather than passed through.
   * Default: the start of the file.
   */
  start?: { compressed: number, decompressed: number }
  /**
   * Keep `members` (default true). False for a reader that never asks which
   * member a byte came from: the map then costs nothing for a file of many
   * small members.
   */
  members?: boolean
}

interface Member {
  /** Compressed offset of its header. */
  start: number
  crc: number
  size: number
  inflater: zlib.InflateRaw
  /** Settles when the inflater has ended (all its output delivered) or failed. */
  done: Promise<void>
}

export class GunzipStage extends takesBytes(refusesLateWrites(Duplex, 'gunzip()'), 'gunzip()', DECOMPRESS_HINT) {
  /** The members seen so far, for decode({ positions: true, members }). Empty for plain input. */
  readonly members = new MemberMap()
  #state: State = 'sniff'
  /** Header or trailer bytes waiting for the rest of them. */
  #held: Buffer = EMPTY
  /** Compressed offset of the first byte not yet handled. */
  #in: number
  /** Decompressed offset of the next byte out. */
  #out: number
  #member: Member | null = null
  /** Wakes a write waiting for the reader (plain input under backpressure). */
  #wake: (() => void) | null = null
  /** Started at a member (options.start): the input must be gzip. */
  #mustBeGzip: boolean
  #trackMembers: boolean

  constructor (options: GunzipOptions = {}) {
    super({ readableHighWaterMark: CHUNK })
    this.#in = options.start?.compressed ?? 0
    this.#out = options.start?.decompressed ?? 0
    this.#mustBeGzip = options.start !== undefined
    this.#trackMembers = options.members !== false
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#consume(chunk).then(() => { callback() }, (err: unknown) => { this.#fail(err, callback) })
  }

  override _final (callback: (err?: Error | null) => void): void {
    this.#finish().then(() => {
      this.push(null)
      callback()
    }, (err: unknown) => { this.#fail(err, callback) })
  }

  /**
   * Fail only once the reader has taken every byte already inflated: failing
   * at once would destroy the stream and drop the output still buffered here,
   * the good members' records before the damage.
   */
  #fail (err: unknown, callback: (err?: Error | null) => void): void {
    failAfterDelivery(this, this.#damage(err), callback)
  }

  override _read (): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
    this.#member?.inflater.resume()
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    this.#member?.inflater.destroy()
    this.#wake?.()
    callback(err)
  }

  async #consume (chunk: Buffer): Promise<void> {
    let buf = chunk
    if (this.#held.length > 0) {
      // Only a header, trailer or magic split across chunks lands here: rare, or small chunks.
      buf = Buffer.concat([this.#held, chunk])
      this.#held = EMPTY
    }
    while (buf.length > 0) {
      switch (this.#state) {
        case 'sniff':
          if (buf.length < 2) {
            this.#hold(buf)
            return
          }
          this.#state = buf[0] === 0x1f && buf[1] === 0x8b ? 'header' : 'plain'
          if (this.#state === 'plain' && this.#mustBeGzip) throw this.#noMemberAtStart()
          break
        case 'plain':
          this.#in += buf.length
          if (!this.push(buf)) await new Promise<void>((resolve) => { this.#wake = resolve })
          return
        case 'next':
          this.#state = buf[0] === 0 ? 'padding' : 'header'
          break
        case 'header': {
          memberHeader ??= await import('./member-header.js')
          const size = memberHeader.parseMemberHeader(buf)
          if (size === memberHeader.NEED_MORE) {
            this.#hold(buf)
            return
          }
          if (typeof size === 'string') throw new CorruptArchiveError('bad-compression', this.#in, `${size}; the offset is in the compressed file`)
          this.#startMember()
          buf = buf.subarray(size)
          this.#in += size
          this.#state = 'deflate'
          break
        }
        case 'deflate': {
          const used = await this.#inflate(buf)
          this.#in += used
          buf = buf.subarray(used)
          // The inflater stopped before the chunk's end: its deflate stream is over.
          if (buf.length > 0) await this.#endOfDeflate()
          break
        }
        case 'trailer':
          if (buf.length < TRAILER_SIZE) {
            this.#hold(buf)
            return
          }
          this.#checkTrailer(buf)
          buf = buf.subarray(TRAILER_SIZE)
          this.#in += TRAILER_SIZE
          this.#state = 'next'
          break
        case 'padding': {
          const nonzero = buf.findIndex((b) => b !== 0)
          if (nonzero >= 0) throw new CorruptArchiveError('bad-compression', this.#in + nonzero, 'bytes after the last gzip member and its zero padding; the offset is in the compressed file')
          this.#in += buf.length
          return
        }
      }
    }
  }

  /**
   * Keep the start of a header, trailer or magic split across writes, as a
   * copy: `buf` may be the writer's own buffer, which it may fill again once
   * its write is called back (a reader with one buffer), and the member
   * would be read from the new bytes. A few bytes, and only at a split.
   */
  #hold (buf: Buffer): void {
    this.#held = Buffer.from(buf)
  }

  /** End of input: anything but a whole last member (or plain bytes) is a cut-short file. */
  async #finish (): Promise<void> {
    switch (this.#state) {
      case 'sniff':
        if (this.#mustBeGzip) throw this.#noMemberAtStart()
        if (this.#held.length > 0) this.push(this.#held)
        return
      case 'plain':
      case 'next':
      case 'padding':
        return
      case 'deflate':
        this.#member?.inflater.end()
        try {
          await this.#endOfDeflate()
        } catch (err) {
          // "unexpected end of file": the deflate data stops mid-stream. Anything else is damage.
          if ((err as NodeJS.ErrnoException).code !== 'Z_BUF_ERROR') throw err
        }
        break
    }
    const end = this.#in + this.#held.length
    const start = this.#member?.start ?? this.#in
    throw new CorruptArchiveError('bad-compression', end, `gzip data is cut short (the member at compressed byte ${start} has no end); the offset is in the compressed file`, undefined, { cutShort: true })
  }

  /** Started at a saved member that is not there: never read other bytes as plain. */
  #noMemberAtStart (): CorruptArchiveError {
    return new CorruptArchiveError('bad-compression', this.#in, 'no gzip member starts here, where the position says one does (has the file changed since?); the offset is in the compressed file')
  }

  #startMember (): void {
    const inflater = nodeZlib().createInflateRaw({ chunkSize: CHUNK })
    const done = new Promise<void>((resolve, reject) => {
      inflater.once('end', resolve)
      inflater.once('error', reject)
    })
    // Observed by #inflate or #endOfDeflate; this keeps an early failure from being "unhandled" meanwhile.
    done.catch(() => {})
    const member: Member = { start: this.#in, crc: 0, size: 0, inflater, done }
    if (this.#trackMembers) this.members.add(this.#out, this.#in)
    inflater.on('data', (out: Buffer) => {
      member.crc = nodeZlib().crc32(out, member.crc)
      member.size += out.length
      this.#out += out.length
      if (!this.push(out)) inflater.pause()
    })
    this.#member = member
  }

  /** Feed deflate data to the member's inflater; returns how much of it the deflate stream used. */
  async #inflate (buf: Buffer): Promise<number> {
    const member = this.#member as Member
    const before = member.inflater.bytesWritten
    // The write's callback comes once the inflater is done with the chunk: all of it used, or its stream ended.
    await Promise.race([
      new Promise<void>((resolve) => { member.inflater.write(buf, () => { resolve() }) }),
      member.done
    ])
    return member.inflater.bytesWritten - before
  }

  /** Wait for the member's last output, then expect its trailer. */
  async #endOfDeflate (): Promise<void> {
    await (this.#member as Member).done
    this.#state = 'trailer'
  }

  #checkTrailer (buf: Buffer): void {
    const member = this.#member as Member
    const crc = buf.readUInt32LE(0)
    const size = buf.readUInt32LE(4)
    if (crc !== member.crc >>> 0 || size !== member.size % 2 ** 32) {
      const what = crc !== member.crc >>> 0 ? 'CRC32' : 'length'
      throw new CorruptArchiveError('bad-compression', member.start, `the gzip member's ${what} does not match its trailer at compressed byte ${this.#in}; the offset is in the compressed file`)
    }
    this.#member = null
  }

  /** zlib's own errors become bad-compression at the member that failed. */
  #damage (err: unknown): Error {
    if (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).code?.startsWith('Z_') === true) {
      const start = this.#member?.start ?? this.#in
      return new CorruptArchiveError('bad-compression', start, `the gzip member at compressed byte ${start} is damaged (${err.message}); the offset is in the compressed file`)
    }
    return err as Error
  }
}

/**
 * Decompress if gzip, pass through if not; damage fails the stage as
 * 'bad-compression' (the offset in the compressed file) only after every
 * byte inflated before it has been read. This is the member-aware stage
 * (gunzipMembers()): zlib's own gunzip stream, on an error later in the
 * file, dropped the output it had inflated but not yet handed on (up to 16 x
 * 256 KiB of good records, for a slow reader). It costs about the CPU of
 * zlib's: on 100 MB of records in 1 MiB members, 0.99-1.10x for the stage
 * alone and 0.93x for a whole read with decoding (process CPU, medians of
 * 5-7 alternating runs on the 2-core machine); CRC32 by zlib.crc32 is cheap.
 */
export function gunzip (): Duplex {
  return new GunzipStage({ members: false })
}

/**
 * gunzip() that knows its members: the same contract (gzip by magic, anything
 * else passed through, damage as 'bad-compression' after everything before
 * it), and its `members` says which gzip member each decompressed byte came
 * from, for decode({ positions: true, members }). It parses headers and
 * trailers itself and checks each member's CRC32 on the main thread
 * (bench/gunzip-members.js). gunzip() is this stage too.
 */
export function gunzipMembers (options?: GunzipOptions): GunzipStage {
  checkOptionsObject(options, 'gunzipMembers()')
  return new GunzipStage(options)
}
