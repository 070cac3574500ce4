/**
 * Typed errors. Every error shoebox raises on purpose is a ShoeboxError with a
 * stable `code`; tests and callers branch on the code, never on the message.
 */

export type ShoeboxErrorCode =
  | 'SHOEBOX_BAD_MAGIC'
  | 'SHOEBOX_UNKNOWN_VERSION'
  | 'SHOEBOX_BAD_HEADER'
  | 'SHOEBOX_BAD_CHECKSUM'
  | 'SHOEBOX_BAD_RECORD'
  | 'SHOEBOX_TRUNCATED'
  | 'SHOEBOX_RECORD_TOO_LARGE'
  | 'SHOEBOX_UNSUPPORTED'
  | 'SHOEBOX_BAD_COMPRESSION'
  | 'SHOEBOX_INVALID_RECORD'
  | 'SHOEBOX_INVALID_OPTION'
  | 'SHOEBOX_INVALID_JSON'
  | 'SHOEBOX_USAGE'
  | 'SHOEBOX_IO'
  | 'SHOEBOX_BAD_URL'
  | 'SHOEBOX_BAD_KEY'
  | 'SHOEBOX_NOT_FOUND'
  | 'SHOEBOX_NO_BUCKET'
  | 'SHOEBOX_DENIED'
  | 'SHOEBOX_UNREACHABLE'
  | 'SHOEBOX_THROTTLED'
  | 'SHOEBOX_STORE_FAILED'
  | 'SHOEBOX_VERIFY_FAILED'
  | 'SHOEBOX_INVALID_EVENT_TIME'
  | 'SHOEBOX_INVALID_EVENT_ID'
  | 'SHOEBOX_INVALID_STREAM_NAME'
  | 'SHOEBOX_INVALID_EVENT'
  | 'SHOEBOX_EVENTS_FAILED'
  | 'SHOEBOX_META_CONFIG'
  | 'SHOEBOX_META_HISTORY'
  | 'SHOEBOX_META_INVALID'
  | 'SHOEBOX_META_LOCKED'
  | 'SHOEBOX_META_VALUE'
  | 'SHOEBOX_META_SCHEMA'
  | 'SHOEBOX_EVENT_REJECTED'
  | 'SHOEBOX_EVENT_DROPPED'
  | 'SHOEBOX_ABORTED'
  | 'SHOEBOX_LISTENER_FAILED'
  | 'SHOEBOX_CLOCK_AHEAD'

export class ShoeboxError extends Error {
  readonly code: ShoeboxErrorCode

  constructor (code: ShoeboxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ShoeboxError'
    this.code = code
  }
}

/**
 * `err` with a new message (what a caller adds: where, what was kept), as an
 * error of the same class with the same fields (code, a VariableRefusedError's
 * `variable`, a CorruptArchiveError's offset), and `err` as its cause. A
 * `new ShoeboxError(err.code, ...)` made every such error a plain ShoeboxError,
 * and what is told by the class (main.ts prints no --help hint under a
 * VariableRefusedError) was lost.
 */
export function reworded<E extends ShoeboxError> (err: E, message: string): E {
  const copy = Object.create(Object.getPrototypeOf(err) as object) as E
  Object.assign(copy, err)
  Object.defineProperty(copy, 'message', { value: message, writable: true, configurable: true, enumerable: false })
  Object.defineProperty(copy, 'cause', { value: err, writable: true, configurable: true, enumerable: false })
  Error.captureStackTrace(copy, reworded)
  return copy
}

/**
 * An error's message without the file it names, for a line or event that
 * names the file apart ('PATH: skipped: REASON'): told by the error's
 * fields (FileFailureError, CorruptArchiveError), not by whether its
 * message begins with `${file}: `.
 */
export function reasonIn (err: Error, file: string): string {
  if (err instanceof FileFailureError && err.file === file) return err.reason
  if (err instanceof CorruptArchiveError && err.file === file) return describeDamage(err.reason, err.offset, err.detail)
  return err.message
}

/**
 * A failure of one file or input, said `${file}: ${reason}` (zstd missing
 * for a .zst file), which keeps both: a line or event that names the file
 * apart takes `reason` (reasonIn). Named ShoeboxError, as it was.
 */
export class FileFailureError extends ShoeboxError {
  readonly file: string
  readonly reason: string

  constructor (code: ShoeboxErrorCode, file: string, reason: string) {
    super(code, `${file}: ${reason}`)
    this.file = file
    this.reason = reason
  }
}

/**
 * Why an operation given an AbortSignal stopped: the signal's reason when
 * it is a ShoeboxError (the CLI aborts with one naming the signal), else
 * SHOEBOX_ABORTED. A fresh error each call: callers add what was kept to
 * its message.
 */
export function abortReason (signal: AbortSignal): ShoeboxError {
  const reason: unknown = signal.reason
  if (reason instanceof ShoeboxError) return new ShoeboxError(reason.code, reason.message, { cause: reason })
  return new ShoeboxError('SHOEBOX_ABORTED', reason instanceof Error && reason.name !== 'AbortError' ? `aborted: ${reason.message}` : 'aborted', { cause: reason })
}

/** Throw abortReason() if `signal` is aborted (no signal: never). */
/**
 * A `signal` option: left out, or an AbortSignal (told by its shape, so that one of another realm or a polyfill
 * passes). Anything else threw "signal?.addEventListener is not a function" from inside pack() or unpack().
 */
export function checkSignal (signal: unknown, option = 'signal'): void {
  if (signal === undefined) return
  const s = signal as Partial<AbortSignal> | null
  if (s !== null && typeof s === 'object' && typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function') return
  throw invalidOption(option, `must be an AbortSignal, got ${givenValue(signal)}`)
}

/** A callback option: left out, or a function. Anything else was called when its first event came, mid-run. */
export function checkCallback (fn: unknown, option: string): void {
  if (fn !== undefined && typeof fn !== 'function') throw invalidOption(option, `must be a function, got ${givenValue(fn)}`)
}

/** A text option (a name, a directory): left out, or a string. A number threw Node's or a String method's TypeError. */
export function checkText (value: unknown, option: string): void {
  if (value !== undefined && typeof value !== 'string') throw invalidOption(option, `must be a string, got ${givenValue(value)}`)
}

export function throwIfAborted (signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortReason(signal)
}

/**
 * `promise`, or abortReason(signal) as soon as `signal` aborts, for a request
 * that takes no signal of its own (a store's stat): the caller goes on, and
 * the request ends when its store is closed. Its later failure is not unhandled.
 */
export async function untilAborted<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  promise.catch(() => {})
  if (signal === undefined) return await promise
  throwIfAborted(signal)
  let onAbort = (): void => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(abortReason(signal)) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Why a stretch of archive bytes could not be read as a record. */
export type DamageReason =
  | 'bad-magic'
  | 'unknown-version'
  | 'bad-header'
  | 'bad-checksum'
  | 'bad-record'
  | 'truncated'
  | 'record-too-large'
  | 'unsupported'
  | 'bad-compression'

const codeForReason: Record<DamageReason, ShoeboxErrorCode> = {
  'bad-magic': 'SHOEBOX_BAD_MAGIC',
  'unknown-version': 'SHOEBOX_UNKNOWN_VERSION',
  'bad-header': 'SHOEBOX_BAD_HEADER',
  'bad-checksum': 'SHOEBOX_BAD_CHECKSUM',
  'bad-record': 'SHOEBOX_BAD_RECORD',
  truncated: 'SHOEBOX_TRUNCATED',
  'record-too-large': 'SHOEBOX_RECORD_TOO_LARGE',
  unsupported: 'SHOEBOX_UNSUPPORTED',
  'bad-compression': 'SHOEBOX_BAD_COMPRESSION'
}

/**
 * An archive is damaged (or is not an archive). Names the byte offset of the
 * record that could not be read and, when known, the file.
 */
export class CorruptArchiveError extends ShoeboxError {
  readonly reason: DamageReason
  readonly offset: number
  readonly detail: string
  file: string | undefined
  /**
   * The input ended inside a unit (a record, a gzip member, a zstd frame): a
   * file cut short, or one still being written, which a follower reads again
   * once it grows. Not damage in the bytes that are there.
   */
  readonly cutShort: boolean
  /**
   * A zstd frame refused for its size (over maxFrameSize), never decompressed: not damage in the bytes, and
   * raising maxFrameSize reads it. Told by this field, not by the detail's words (which may be reworded).
   */
  readonly frameTooLarge: boolean

  constructor (reason: DamageReason, offset: number, detail: string, file?: string, options: { cutShort?: boolean, frameTooLarge?: boolean } = {}) {
    super(codeForReason[reason], describeDamage(reason, offset, detail, file))
    this.name = 'CorruptArchiveError'
    this.reason = reason
    this.offset = offset
    this.detail = detail
    this.file = file
    this.cutShort = options.cutShort ?? reason === 'truncated'
    this.frameTooLarge = options.frameTooLarge ?? false
  }

  /** Attach the file name once the caller knows it (the decoder only sees bytes). */
  inFile (file: string): this {
    this.file = file
    this.message = describeDamage(this.reason, this.offset, this.detail, file)
    return this
  }
}

function describeDamage (reason: DamageReason, offset: number, detail: string, file?: string): string {
  const where = file === undefined ? `at byte ${offset}` : `${file}: at byte ${offset}`
  return `${where}: ${reason}: ${detail}`
}

/**
 * An option the API refuses (SHOEBOX_INVALID_OPTION). Carries which option
 * (the API's name: 'zstd.level', 'roll.records') and why ('must be an
 * integer from 1 to 9, got 12'), so a caller that knows the option by
 * another name (the CLI's --gzip=12) words its own line from the fields,
 * never by rewriting the message.
 */
export class InvalidOptionError extends ShoeboxError {
  readonly option: string
  readonly reason: string

  constructor (option: string, reason: string) {
    super('SHOEBOX_INVALID_OPTION', `option ${option}: ${reason}`)
    this.name = 'InvalidOptionError'
    this.option = option
    this.reason = reason
  }
}

/**
 * A value of an environment variable refused (SHOEBOX_ZSTD, SHOEBOX_NATIVE,
 * SHOEBOX_S3_ENDPOINT): `variable` names it. The CLI prints no "(try
 * 'shoebox X --help')" under it, since a command's flags cannot fix a
 * setting of the environment; told by this class, kept where a refusal is
 * made a usage error (asUsage), not by the message's first word: a usage
 * error about a file named SHOEBOX_NOTES lost its hint.
 */
export class VariableRefusedError extends ShoeboxError {
  readonly variable: string

  constructor (code: ShoeboxErrorCode, variable: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'VariableRefusedError'
    this.variable = variable
  }
}

export function invalidOption (option: string, reason: string): InvalidOptionError {
  return new InvalidOptionError(option, reason)
}

/**
 * A factory's options argument: left out, or an object. `null`, text, a
 * number or an array there (`decode(config.decode ?? null)`,
 * `archiveSource(pattern, 'lenient')`) threw Node's TypeError from inside the
 * factory ("Cannot read properties of null") or was taken as no options at all.
 */
export function checkOptionsObject (options: unknown, factory: string): void {
  if (options === undefined || (typeof options === 'object' && options !== null && !Array.isArray(options))) return
  throw invalidOption('options', `${factory} takes an object of options or none, got ${givenValue(options)}`)
}

/**
 * The value an option was given, as a refusal quotes it ("got ..."): its
 * JSON ("v3", 0, null, {"a":1}), so a string is told from a number, or its
 * type where JSON has none (a function, undefined). A number JSON cannot
 * spell (NaN, Infinity) is written as JavaScript does: JSON would say null.
 */
export function givenValue (value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  return JSON.stringify(value) ?? typeof value
}

/**
 * A URL given as text that is refused (it does not parse, or is of the wrong
 * kind), quoted as givenValue() does but with what could be a user name and
 * password (everything before the last '@', after the scheme's '//') shown
 * as ***: a refusal must not print credentials, and a text that does not
 * parse cannot be asked for its username.
 */
export function givenUrl (value: unknown): string {
  if (typeof value !== 'string') return givenValue(value)
  return JSON.stringify(value.replace(/^((?:[^/@]*\/\/)?)[^]*@/, '$1***@'))
}

/**
 * Throws SHOEBOX_BAD_URL (naming `shown`, the URL without them) when the user
 * name or password of `url` has a '%' that is no %XX escape of UTF-8: Basic auth
 * decodes them (the Kronos client, Node's request for the shipper), and
 * decodeURIComponent threw 'URI malformed' at the first request.
 */
export function checkUrlUserinfo (url: URL, shown: string): void {
  for (const part of [url.username, url.password]) {
    if (!canDecode(part)) {
      throw new ShoeboxError('SHOEBOX_BAD_URL', `${shown}: the user name or password has a '%' that is no %XX escape of UTF-8 text (write % as %25)`)
    }
  }
}

function canDecode (text: string): boolean {
  try {
    decodeURIComponent(text)
    return true
  } catch {
    return false
  }
}

/**
 * write() of a byte stage (decode(), encodeNdjson(), the compression stages,
 * stampNdjson()) given something other than bytes or text (records from
 * archiveSource(), objects): Node's own error is thrown from write(), inside
 * whatever wrote (a pipe's 'data' handler: an uncaught exception that ends
 * the process), and names neither the stage nor the mistake. The stage calls
 * this instead (see takesBytes): the stream fails with a SHOEBOX_USAGE error
 * that does, and write() returns false.
 */
export function refuseNotBytes (
  stream: { destroy: (error: Error) => unknown }, stage: string, chunk: unknown, hint: string,
  encoding?: unknown, callback?: (error?: Error | null) => void
): false {
  const got = chunk === null ? 'null' : Array.isArray(chunk) ? 'an array' : typeof chunk === 'object' ? 'an object' : typeof chunk
  const err = new ShoeboxError('SHOEBOX_USAGE', `${stage} takes bytes (a Buffer, Uint8Array or string), got ${got}; ${hint}`)
  stream.destroy(err)
  const done = typeof encoding === 'function' ? encoding as (error?: Error | null) => void : callback
  if (done !== undefined) process.nextTick(done, err)
  return false
}

/**
 * write() after end() into a store's writer (uploadSink(), store.writer()):
 * true when refused, its callback then given a SHOEBOX_USAGE error naming the
 * writer (`what`) and the writer destroyed with it, as Node's Writable
 * destroys it, but with words: Node's ERR_STREAM_WRITE_AFTER_END named no key.
 * An object lacking the chunk is not what its writer meant, so the upload is
 * abandoned (a writer destroyed before its rename or completion stores
 * nothing). False where Node's own answer applies (not ended, destroyed, or
 * finished).
 */
export function refusedLateWrite (
  stream: { readonly writableEnded: boolean, readonly writableFinished: boolean, readonly destroyed: boolean, destroy: (error: Error) => unknown },
  what: string, encoding?: unknown, callback?: (error?: Error | null) => void
): boolean {
  if (!stream.writableEnded || stream.writableFinished || stream.destroyed) return false
  const err = new ShoeboxError('SHOEBOX_USAGE', `${what}: write after end(): it was not taken; the upload is abandoned, so nothing is stored (unless it was completing already: then the object holds what was written before end())`)
  stream.destroy(err)
  const done = typeof encoding === 'function' ? encoding as (error?: Error | null) => void : callback
  if (done !== undefined) process.nextTick(done, err)
  return true
}

/** Whether a chunk is what a byte stage takes (see refuseNotBytes). */
export function isBytes (chunk: unknown): chunk is string | Uint8Array {
  return typeof chunk === 'string' || chunk instanceof Uint8Array
}

type WriteCallback = (error?: Error | null) => void

/** A stream class whose instances have write() and destroy() (node:stream's, readable-stream's, zlib's). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- TypeScript's rule for a mixin: its base takes (...args: any[])
type ByteStageClass = new (...args: any[]) => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as the stream classes declare it
  write (chunk: any, encoding?: any, callback?: any): boolean
  destroy (error?: Error): unknown
}

/**
 * `Base`, a stream that takes bytes, whose write() refuses anything else by
 * name (refuseNotBytes): `class X extends takesBytes(Transform, 'x()', hint)`.
 * `hint` says where such a chunk goes instead.
 */
export function takesBytes<Base extends ByteStageClass> (base: Base, stage: string, hint: string): Base {
  return class TakesBytes extends base {
    override write (chunk: unknown, encoding?: string | WriteCallback, callback?: WriteCallback): boolean {
      if (isBytes(chunk)) return super.write(chunk, encoding, callback)
      return refuseNotBytes(this, stage, chunk, hint, encoding, callback)
    }
  }
}

/** What a compressing stage (gzip(), zstd()) given records says: they are encoded first. */
export const COMPRESS_HINT = 'it compresses bytes, such as encode()\'s output: records go through encode() first'
/** What a store's writer (uploadSink(), store.writer()) given records says: it stores bytes. */
export const STORE_HINT = 'it stores bytes, such as encode()\'s output: records go through encode() first'
/** What a decompressing stage (gunzip(), zstdDecompress()) given records says: they come decompressed already. */
export const DECOMPRESS_HINT = 'it decompresses bytes; archiveSource() and decode() give records already'
