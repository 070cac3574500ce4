/**
 * Sources for metaIngest(): Readables of metadata objects, each carrying its
 * origin (withOrigin: file and, where it has one, line), so an invalid
 * object is reported where it came from. Unreadable input (a JSON file that
 * does not parse, an NDJSON line that is not an object) is passed on as an
 * UnreadableMetadata, which the ingest counts and reports as invalid, so one
 * bad file never stops a run and nothing valid is lost.
 *
 * - jsonFilesSource(root): every `*.json` under root, walked in sorted order
 *   (each directory's names in code-unit order), skipping `_mmmeta/` and
 *   dot-names; one object per file, a symbolic link read as the file it
 *   names (a linked directory is not descended into, as os.walk does
 *   not). A file that is not UTF-8 is unreadable
 *   (decoded, its bad bytes would be U+FFFD: values changed without a word).
 * - jsonArraySource(file): a big file holding a top-level array, streamed in
 *   constant memory (json/array-splitter.ts); an element that is not JSON or
 *   not UTF-8 is unreadable, damage to the array fails the source naming the
 *   byte, after every element before it.
 * - ndjsonSource(input): NDJSON text (a file, stdin) split with split2; a
 *   line that is not UTF-8 is unreadable (ndjson/utf8-line-check.ts).
 * - archiveMetadataSource(pattern): the metadata of the records of shoebox
 *   archives (archiveSource), origin = archive file and record number.
 * - fileStatSource(root): mmmeta's --no-meta, one record per file (any name)
 *   under root, its path not containing `_mmmeta`: name, path, size, times
 *   and the SHA-1 of its content; a symbolic link to nothing is
 *   unreadable, as for jsonFilesSource.
 *
 * Numbers keep their digits throughout (json-exact.ts, NumberText).
 */
import { isUtf8 } from 'node:buffer'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable, Transform, type TransformCallback } from 'node:stream'
import { ShoeboxError } from '../errors.js'
import { describeIoError, ioError } from '../fs/io-error.js'
import { fileReadSize } from '../fs/read-size.js'
import { walk, type WalkedName, type WalkFailure } from '../fs/walk.js'
import { Utf8LineCheck } from '../ndjson/utf8-line-check.js'
import { LinesInOneChunk, TOO_LONG_LINE } from '../ndjson/lines-in-one-chunk.js'
import { type ArrayDamage, type ArrayElement, JsonArraySplitter, MAX_ARRAY_ELEMENT_BYTES } from '../json/array-splitter.js'
import { InvalidJsonError } from '../json/json-scan.js'
import { failAfterDelivery, feed } from '../stream/deliver-then-fail.js'
import type { DecompressedInput } from '../compress/decompressed-input.js'
import { archiveSource, type ArchiveSourceOptions } from '../source/archive-source.js'
import type { Position, ShoeboxRecord } from '../record.js'
import { plural } from '../plural.js'
import { NumberText } from './flatten.js'
import { metaTimestamp } from './history.js'
import { UnreadableMetadata, withOrigin } from './origin.js'
import { firstBadUtf8Byte } from './utf8-bytes.js'
import { parseJsonExact } from './json-exact.js'
import type { ReadableOf } from '../stream/readable-of.js'

function reasonOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof NumberText)
}

/**
 * The files under `root` that `wanted(name)` takes, as mmmeta's os.walk
 * lists them (fs/walk.ts): each directory's names in code-unit order,
 * lazily; a name (file or directory) that `skip(name, file)` takes is passed
 * over. A symbolic link is taken as the file it names; a linked directory is
 * not descended into (a link to '.' would loop), nor is anything else that
 * is not a file (a FIFO would never end). A found file's `file` is its path
 * as text (the origin, and what messages name), its `path` what opens it:
 * a Buffer where a name on the way is not UTF-8, since the text (each bad
 * byte as U+FFFD) names no file, and the file was skipped without a word (a
 * directory failed the whole run). A directory that cannot be listed fails
 * the walk naming it; one removed while walking has nothing left to read.
 */
async function * walkFiles (root: string, skip: (name: string, file: string) => boolean, wanted: (name: string) => boolean): AsyncGenerator<WalkedName> {
  try {
    for await (const found of walk(root, { sorted: true, skip })) {
      if (found.kind === 'other' || !wanted(path.basename(found.file))) continue
      if (found.kind === 'file' || !await isDirectory(found.path)) yield found
    }
  } catch (err) {
    const dir = (err as Partial<WalkFailure>).dir
    throw dir === undefined ? err : ioError(err, 'cannot list', dir === '' ? root : path.join(root, dir))
  }
}

/** The `*.json` files under `root`, dot-names and `_mmmeta/` left out. */
function walkJsonFiles (root: string): AsyncGenerator<WalkedName> {
  return walkFiles(root, (name) => name.startsWith('.') || name === '_mmmeta', (name) => name.endsWith('.json'))
}

async function isDirectory (file: string | Buffer): Promise<boolean> {
  return (await fs.stat(file).catch(() => null))?.isDirectory() === true
}

/**
 * After ENOENT on a walked file: a symbolic link to nothing is reported
 * (the user's to mend; os.walk lists it among the files, as mmmeta reads them),
 * null for a file removed while walking (nothing to read).
 */
async function danglingLink (file: string, opens: string | Buffer): Promise<UnreadableMetadata | null> {
  const isLink = (await fs.lstat(opens).catch(() => null))?.isSymbolicLink() === true
  return isLink ? new UnreadableMetadata({ file }, 'a symbolic link to no file') : null
}

/** One object per `*.json` file under `root` (see above). */
export function jsonFilesSource (root: string): ReadableOf<object> {
  async function * objects (): AsyncGenerator<object> {
    for await (const { file, path: opens } of walkJsonFiles(root)) {
      let bytes: Buffer
      try {
        bytes = await fs.readFile(opens)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, 'cannot read', file)
        const dangling = await danglingLink(file, opens)
        if (dangling !== null) yield dangling
        continue
      }
      // Decoded, bytes that are not UTF-8 would be U+FFFD: the values changed without a word.
      if (!isUtf8(bytes)) {
        yield new UnreadableMetadata({ file }, `not valid UTF-8 (from byte ${firstBadUtf8Byte(bytes)})`)
        continue
      }
      let value: unknown
      try {
        value = parseJsonExact(bytes.toString())
      } catch (err) {
        yield new UnreadableMetadata({ file }, reasonOf(err))
        continue
      }
      yield isObject(value) ? withOrigin(value, { file }) : new UnreadableMetadata({ file }, 'not a JSON object')
    }
  }
  return Readable.from(objects(), { objectMode: true, highWaterMark: 16 })
}

/**
 * NDJSON lines as objects; blank lines are skipped; `name` is the origin's
 * file ('-' for stdin). gzip or zstd input (known by its magic bytes) is
 * decompressed; damage in it fails the source, naming the file and the
 * compressed offset (the ingest then writes nothing: one diff file per run,
 * or none).
 */
export function ndjsonSource (input: NodeJS.ReadableStream, name = '-'): ReadableOf<object> {
  let line = 0
  /** The text, once its first bytes are known: its damage fails the source at its end. */
  let decompressed: DecompressedInput | undefined
  let damaged = false
  // split2 decodes bad bytes to U+FFFD without a word: such a line is unreadable, not a changed object
  const check = new Utf8LineCheck()
  const toObjects = new Transform({
    objectMode: true,
    transform (text: string, _encoding: BufferEncoding, callback: TransformCallback) {
      // After damage: the lines still on their way fail with the source, and the one it cut is no line.
      if (damaged) return callback()
      line++
      const notUtf8 = check.badLines.delete(line)
      if (text.trim() === '') return callback()
      const origin = { file: name, line }
      if (text === TOO_LONG_LINE) return callback(null, new UnreadableMetadata(origin, `longer than ${MAX_ARRAY_ELEMENT_BYTES} bytes, the most one line may hold (stepped over, not read)`))
      if (notUtf8) return callback(null, new UnreadableMetadata(origin, 'not valid UTF-8'))
      try {
        const value = parseJsonExact(text)
        callback(null, isObject(value) ? withOrigin(value, origin) : new UnreadableMetadata(origin, 'not a JSON object'))
      } catch (err) {
        callback(null, new UnreadableMetadata(origin, reasonOf(err)))
      }
    },
    flush (callback: TransformCallback) {
      callback(decompressed?.failure ?? null)
    }
  })
  // The input may fail (a missing file) before the pipeline below is attached: caught here, not an
  // unhandled 'error' that ends the process.
  const early = (err: unknown): void => { toObjects.destroy(err instanceof ShoeboxError ? err : ioError(err, 'cannot read', name)) }
  input.once('error', early)
  // Destroyed before that pipeline is attached (generate stopped by a signal while no byte has come yet: its first
  // bytes are awaited, to see whether they are compressed), the input is let go as the pipeline would let it go. It
  // was read on: a pipe that stayed quiet kept the stopped command alive until its writer wrote or closed.
  let attached = false
  toObjects.once('close', () => { if (!attached && input instanceof Readable) input.destroy() })
  // split2 splits on \n; a \r before it is part of the JSON's whitespace. It and the decompressing stages are
  // loaded on first use: each module the package's import loads costs start-up.
  Promise.all([import('split2'), import('../compress/decompressed-input.js')])
    .then(async ([{ default: split2 }, { decompressedInput }]) => {
      // (Any stream Node gives is a Readable; one of another kind is read as it is.)
      const bytes = input instanceof Readable ? (decompressed = await decompressedInput(input, name === '-' ? 'stdin' : name, { onDamage: () => { damaged = true } })).stream : input
      // A line past the most a metadata object holds (as a JSON array's element) is stepped over, not held: a
      // 600 MB one became a string longer than V8 makes, and split2 crashed the process.
      attached = true
      await pipeline(bytes, check, new LinesInOneChunk({ longest: MAX_ARRAY_ELEMENT_BYTES }), split2(), toObjects)
    })
    .catch((err: unknown) => toObjects.destroy(err instanceof ShoeboxError ? err : ioError(err, 'cannot read', name)))
  return toObjects
}

/** NDJSON from a file. */
export function ndjsonFileSource (file: string): ReadableOf<object> {
  return ndjsonSource(createReadStream(file), file)
}

/**
 * The elements of a file holding one top-level JSON array, in constant
 * memory (json/array-splitter.ts), each parsed with exact numbers as a
 * `*.json` file is. Origin: the file and `line` = the element's index + 1.
 * An element that is not JSON, not UTF-8 or too large is unreadable on its
 * own; damage to the array (the file ends inside an element, a stray byte
 * between elements, text after it) fails the source naming the byte, after
 * every element before it, and so does a read that fails part way.
 */
export function jsonArraySource (file: string): ReadableOf<object> {
  return jsonArrayElements(createReadStream(file), file)
}

/** jsonArraySource() over any bytes (the tests' chunkings); `name` is the origin's file. */
export function jsonArrayElements (input: Readable, name: string): Readable {
  return feed(input, new JsonArrayElements(name))
}

/** Bytes of a JSON array file -> its elements as metadata objects (or UnreadableMetadata). */
class JsonArrayElements extends Transform {
  readonly #file: string
  readonly #splitter: JsonArraySplitter

  constructor (file: string) {
    super({ readableObjectMode: true, readableHighWaterMark: 16 })
    this.#file = file
    this.#splitter = new JsonArraySplitter((element) => { this.push(arrayElementItem(file, element)) })
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#settle(this.#splitter.write(chunk), callback)
  }

  override _flush (callback: TransformCallback): void {
    this.#settle(this.#splitter.end(), callback)
  }

  #settle (damage: ArrayDamage | null, callback: TransformCallback): void {
    if (damage === null) return callback()
    failAfterDelivery(this, new ShoeboxError('SHOEBOX_INVALID_JSON', `${this.#file}: at byte ${damage.offset}: ${damage.why}`), callback)
  }

  // A failure of the file's reading (feed() hands it here, once every element before it is delivered) names the file.
  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    const errno = err !== null && !(err instanceof ShoeboxError) && typeof (err as NodeJS.ErrnoException).code === 'string'
    callback(errno ? this.#readError(err) : err)
  }

  /** A read that failed part way also says where, and how many elements came before (as the array's damage does). */
  #readError (err: Error): ShoeboxError {
    const taken = this.#splitter.taken
    if (taken === 0) return ioError(err, 'cannot read', this.#file)
    return new ShoeboxError('SHOEBOX_IO',
      `cannot read ${this.#file} at byte ${taken}: ${describeIoError(err)}; ${plural(this.#splitter.elements, 'whole element')} before it`, { cause: err })
  }
}

/** One element as ndjsonSource() takes one line: an object with its origin, or why not. */
function arrayElementItem (file: string, element: ArrayElement): object {
  const origin = { file, line: element.index + 1 }
  if (element.problem !== undefined) return new UnreadableMetadata(origin, element.problem)
  const { bytes, offset } = element
  // Decoded, bytes that are not UTF-8 would be U+FFFD: the values changed without a word.
  if (!isUtf8(bytes)) return new UnreadableMetadata(origin, `not valid UTF-8 (from byte ${offset + firstBadUtf8Byte(bytes)})`)
  const text = bytes.toString()
  let value: unknown
  try {
    value = parseJsonExact(text)
  } catch (err) {
    const cause = (err as Error).cause
    if (!(cause instanceof InvalidJsonError)) return new UnreadableMetadata(origin, reasonOf(err))
    // Where in the file, as the array's own damage is named.
    return new UnreadableMetadata(origin, `byte ${offset + Buffer.byteLength(text.slice(0, cause.offset))}: ${cause.why}`)
  }
  return isObject(value) ? withOrigin(value, origin) : new UnreadableMetadata(origin, 'not a JSON object')
}

/**
 * The metadata of every record of the archives matching `pattern`; origin: the archive and the record's number.
 * Each record's archive is its position's: a 'file' event comes as the read moves on, while the records of
 * the archive before may still wait for a slow consumer (an ingest), and were told as the next archive's.
 */
export function archiveMetadataSource (pattern: string, options: ArchiveSourceOptions = {}): ReadableOf<object> {
  const records = archiveSource(pattern, { ...options, positions: Array.isArray(options.positions) ? options.positions : true })
  // Each archive's path by its name (a position names it relative to the pattern's root).
  const paths = new Map<string, string>()
  records.on('file', (event: { path: string, name: string }) => { paths.set(event.name, event.path) })
  let name: string | undefined
  let current = ''
  let count = 0
  const toObjects = new Transform({
    objectMode: true,
    transform (record: ShoeboxRecord, _encoding: BufferEncoding, callback: TransformCallback) {
      const file = (record.position as Position).file
      if (file !== name) {
        name = file
        current = paths.get(file) ?? file
        count = 0
      }
      count++
      callback(null, withOrigin({ ...record.metadata }, { file: current, line: count }))
    }
  })
  pipeline(records, toObjects).catch((err: unknown) => toObjects.destroy(err as Error))
  return toObjects
}

/** `size`: the file's at its stat, for the read size (fs/read-size.ts: 1 MiB reads of each small file kept V8 collecting). */
async function sha1Of (file: string, size: number): Promise<string> {
  const hash = createHash('sha1')
  await pipeline(createReadStream(file, { highWaterMark: fileReadSize(size) }), hash)
  return hash.digest('hex')
}

/**
 * mmmeta's `generate --no-meta`: per file under `root`, `{ file_name,
 * file_path, file_size, created_at, modified_at, content_hash }`:
 * file_name is the path relative to root ('/'-separated, so --ensure-files
 * finds it), file_path the absolute path, the times UTC (ctime, mtime) and
 * content_hash the SHA-1 of the content, as mmmeta computes it.
 */
export function fileStatSource (root: string): ReadableOf<object> {
  async function * records (): AsyncGenerator<object> {
    // every file whose path has no `_mmmeta` in it, as mmmeta's --no-meta
    for await (const { file, path: opens } of walkFiles(path.resolve(root), (_name, file) => file.includes('_mmmeta'), () => true)) {
      if (typeof opens !== 'string') {
        // its file_name would name no file (each bad byte U+FFFD), for --ensure-files and every consumer
        yield new UnreadableMetadata({ file }, 'its name is not valid UTF-8, which a file_name in the meta db cannot hold')
        continue
      }
      let stat
      let hash
      try {
        stat = await fs.stat(file, { bigint: true }) // ns: microseconds without float rounding
        hash = await sha1Of(file, Number(stat.size))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, 'cannot read', file)
        const dangling = await danglingLink(file, opens)
        if (dangling !== null) yield dangling
        continue
      }
      const name = path.relative(path.resolve(root), file).split(path.sep).join('/')
      yield withOrigin({
        file_name: name,
        file_path: file,
        file_size: stat.size,
        created_at: metaTimestamp(Number(stat.ctimeNs / 1000n)),
        modified_at: metaTimestamp(Number(stat.mtimeNs / 1000n)),
        content_hash: hash
      }, { file })
    }
  }
  return Readable.from(records(), { objectMode: true, highWaterMark: 16 })
}
