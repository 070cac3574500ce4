/** decode(): a Transform from archive bytes to records. */
import { checkFlag } from '../units.js'
import { LazyTransform } from '../stream/lazy-transform.js'
import type { TransformCallback } from 'node:stream'
import { checkOptionsObject, checkText, CorruptArchiveError, takesBytes } from '../errors.js'
import { isBreakAfter } from '../stream/content-break.js'
import { failAfterDelivery, refusesLateWrites } from '../stream/deliver-then-fail.js'
import type { MemberLookup, MemberSpan, Position, ShoeboxRecord, SpanLookup } from '../record.js'
import { ArchiveDecoder, type CorruptInfo, type DecoderOptions, type DecoderStats } from './decoder.js'
import { failsOnListenerRejection } from '../stream/listener-rejections.js'

export interface DecodeOptions extends DecoderOptions {
  /** File name to put in errors, `corrupt` events and positions. */
  file?: string
  /** Give each record a `position` {file, offset}, to resume from later. Default false. */
  positions?: boolean
  /** With positions: the `members` of the gunzipMembers() stage before this decoder, so positions in gzip files also name their member. */
  members?: MemberLookup
  /**
   * The `members` of the zstdDecompress() stage before this decoder (with or
   * without positions): each `corrupt` then names the zstd frame its stretch
   * starts in (`frame`). A damaged frame that still decompresses (its
   * content checksum is optional, and @mongodb-js/zstd writes none) gives garbage to
   * its end, among which the records that prove themselves are read: one
   * damaged frame shows as many stretches, which a reader reports as one.
   */
  frames?: SpanLookup
}

export interface DecodedCorruptInfo extends CorruptInfo {
  file?: string
  /** The zstd frame the stretch starts in (decode({ frames })): its compressed offset and length, and its first decompressed byte. */
  frame?: MemberSpan
}

/**
 * Records out, in order. Payloads are views of the input chunks (no copy):
 * copy one (Buffer.from(payload)) if you keep it long after reading.
 * Emits `corrupt` ({offset, reason, detail, bytesSkipped, file, frame?}) in lenient mode.
 */
/** Records written here (from archiveSource(), say) fail the stream with a message that says so (see refuseNotBytes). */
const DecodeBase = takesBytes(refusesLateWrites(LazyTransform, 'decode()'), 'decode()', 'archiveSource() and decode() give records already, and encode() takes them')

/** What decode() hands out: records (with their positions if asked) and damage (named by file and frame). */
export interface DecodedEvents {
  record: (record: ShoeboxRecord) => void
  corrupt: (info: DecodedCorruptInfo) => void
}

/** The decoder behind both decode() and WholeDecoder: records and damage as `options` ask them told to `events`. */
function archiveDecoder (options: DecodeOptions, events: DecodedEvents): ArchiveDecoder {
  checkFlag(options.positions, 'positions')
  const file = options.file ?? ''
  const members = options.members
  const frames = options.frames
  const position = (offset: number): Position => {
    const member = members?.at(offset)
    return member === undefined ? { file, offset } : { file, offset, member }
  }
  return new ArchiveDecoder({
    record: options.positions === true
      ? (record: ShoeboxRecord, _version, offset) => { events.record({ ...record, position: position(offset) }) }
      : (record: ShoeboxRecord) => { events.record(record) },
    corrupt: (info: CorruptInfo) => {
      const frame = frames?.span(info.offset)
      const named: DecodedCorruptInfo = options.file === undefined ? info : { ...info, file: options.file }
      events.corrupt(frame === undefined ? named : { ...named, frame })
    }
  }, options)
}

/** Damage thrown names the file decoded, where one was given. */
function named (err: unknown, file: string | undefined): unknown {
  if (err instanceof CorruptArchiveError && file !== undefined) err.inFile(file)
  return err
}

/**
 * The records and events' payloads of a decode() stream, for TypeScript
 * (declaration merging: no runtime part); Readable's own types give `any`
 * for each, `for await` included. The iterator is typed with care:
 * @types/node's pipeline() takes a middle stage only as a
 * NodeJS.ReadWriteStream, whose iterator yields strings or Buffers, and
 * TypeScript types a `for await` by every zero-argument iterator signature
 * at once (their results intersected). So a record-typed iterator alone
 * broke `pipeline(input, gunzip(), decode(), sink)` (TS2769), and one with a
 * string-or-Buffer overload beside it typed each record
 * `ShoeboxRecord & (string | Buffer)`. One generic signature serves both:
 * `for await` reads its records as `ShoeboxRecord & T`, whose members are
 * the record's (T is unknown, and adds none), and a call gets
 * `ShoeboxRecord` (T's default); pipeline()'s check infers T as
 * `string | Buffer`, and `ShoeboxRecord & (string | Buffer)` is one of those.
 * test/consumer-types.test.ts compiles both uses.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface DecodeStream {
  [Symbol.asyncIterator]<T = unknown> (): NodeJS.AsyncIterator<ShoeboxRecord & T>
  on (event: 'data', listener: (record: ShoeboxRecord) => void): this
  on (event: 'corrupt', listener: (info: DecodedCorruptInfo) => unknown): this
  on (event: 'error', listener: (err: Error) => void): this
  on (event: 'close' | 'drain' | 'end' | 'finish' | 'pause' | 'readable' | 'resume', listener: () => void): this
  on (event: string | symbol, listener: (...args: never[]) => void): this
  once (event: 'data', listener: (record: ShoeboxRecord) => void): this
  once (event: 'corrupt', listener: (info: DecodedCorruptInfo) => unknown): this
  once (event: 'error', listener: (err: Error) => void): this
  once (event: 'close' | 'drain' | 'end' | 'finish' | 'pause' | 'readable' | 'resume', listener: () => void): this
  once (event: string | symbol, listener: (...args: never[]) => void): this
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the interface above types its records and events
export class DecodeStream extends failsOnListenerRejection(DecodeBase) {
  readonly file: string | undefined
  #decoder: ArchiveDecoder

  constructor (options: DecodeOptions = {}) {
    // An object here named the file '[object Object]' in every error, and went into each record's position as it was.
    checkText(options.file, 'file')
    super({ readableObjectMode: true, writableObjectMode: false })
    this.file = options.file
    this.#decoder = archiveDecoder(options, {
      record: (record) => { this.push(record) },
      corrupt: (info) => { this.emit('corrupt', info) }
    })
  }

  /** Records, versions, bytes and damage seen so far. */
  get stats (): Readonly<DecoderStats> {
    return this.#decoder.stats
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#run(() => {
      this.#decoder.write(chunk)
      if (isBreakAfter(chunk)) this.#decoder.breakHere()
    }, callback)
  }

  override _flush (callback: TransformCallback): void {
    this.#run(() => { this.#decoder.end() }, callback)
  }

  #run (step: () => void, callback: TransformCallback): void {
    try {
      step()
    } catch (err) {
      // The records decoded before the damage are delivered first; the held callback takes no more input.
      failAfterDelivery(this, named(err, this.file) as Error, callback)
      return
    }
    callback()
  }
}

export function decode (options?: DecodeOptions): DecodeStream {
  checkOptionsObject(options, 'decode()')
  return new DecodeStream(options)
}

/**
 * decode() of bytes that are all there (a whole small file: a FileStore's
 * getWhole()), in one call and without a stream: for thousands of small
 * files, a DecodeStream each, its listeners and a hop per chunk were much of
 * the cost. The same decoder, so the same records, positions, damage and
 * errors: `events` are told them synchronously, as decode() would push and
 * emit them, and damage in strict mode is thrown after the records before it
 * were told.
 */
export class WholeDecoder {
  readonly file: string | undefined
  readonly #decoder: ArchiveDecoder

  constructor (options: DecodeOptions, events: DecodedEvents) {
    this.file = options.file
    this.#decoder = archiveDecoder(options, events)
  }

  /** Records, versions, bytes and damage seen so far. */
  get stats (): Readonly<DecoderStats> {
    return this.#decoder.stats
  }

  /** Decode `bytes`, the whole of the input. Throws CorruptArchiveError (strict) naming the file. */
  decode (bytes: Buffer): void {
    try {
      this.#decoder.write(bytes)
      this.#decoder.end()
    } catch (err) {
      throw named(err, this.file)
    }
  }
}
