/**
 * The walk of pack() (pack.ts): `packFiles()` turns every regular file under
 * a directory into one record, its metadata the file's relative path, size,
 * mtime, mode and sha256, its payload the file's bytes.
 *
 * The walk is fs/walk.ts's, depth first, each directory's entries sorted by
 * name (UTF-16 code units), so the same tree always packs in the same order;
 * a directory no include glob reaches is not read. Symbolic
 * links are never followed: they are skipped and counted, as are sockets,
 * FIFOs, devices and names that could not be restored safely (see
 * unpack.ts). One file is read at a time, hashed as it is read, and read
 * again if it changed meanwhile (read-file.ts).
 */
import type { Stats } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import type { Minimatch } from 'minimatch'
import { invalidOption, ShoeboxError } from '../errors.js'
import { DEFAULT_MAX_RECORD_SIZE } from '../format/constants.js'
import { describeIoError, ioError } from '../fs/io-error.js'
import type { WalkFailure } from '../fs/walk.js'
import { realPathOf } from '../fs/real-path.js'
import { checkKey } from '../store/keys.js'
import { checkFlag, positiveCount, sizeOption } from '../units.js'
import type { ReadOutcome } from './read-file.js'
import { plural } from '../plural.js'
import { failsOnListenerRejection } from '../stream/listener-rejections.js'

/** The metadata keys of a packed file's record, in the order they are written. */
export const PACK_KEYS = ['path', 'size', 'mtime', 'mode', 'sha256'] as const

/** One file as a record: metadata pairs in PACK_KEYS order, the file's bytes as payload. */
export interface PackRecord {
  metadata: Array<[string, string]>
  payload: Buffer
}

export interface PackFilesOptions {
  /** Glob(s) over paths relative to the directory ('/'-separated); a file is packed if any matches. Default '**'. */
  include?: string | string[]
  /** Let globs match names starting with '.' (dot files and dot directories). Default false. */
  dot?: boolean
  /**
   * Largest file packed, bytes or '60MiB'. A larger file fails the walk
   * (SHOEBOX_INVALID_RECORD): its record would exceed what readers accept.
   * Default: 64 MiB less 64 KiB for the record's header and metadata.
   */
  maxFileSize?: number | string
  /**
   * Skip, instead of failing on, a file or directory that cannot be read
   * (permission denied, I/O error) and a file that changed during each of
   * its `readAttempts` reads; each is a `skip` event naming it and why.
   * Default false: the first such entry fails the walk (SHOEBOX_IO), naming it.
   */
  skipUnreadable?: boolean
  /**
   * Reads of a file that changes while it is read (size, mtime or ctime
   * moved between the stat before and after), before it fails or is
   * skipped. Default 3.
   */
  readAttempts?: number
  /**
   * The directory the archives are written to, when it is local (pack()
   * sets it from `to`). If it lies inside the directory packed, it is not
   * walked into (one `skip`, reason 'destination'): the archives written
   * there during the walk would otherwise be packed too, as files.
   */
  destination?: string
}

/** Why an entry was not packed. 'unreadable' and 'changed while read' only with skipUnreadable. */
export type SkipReason = 'symlink' | 'not a regular file' | 'vanished' | 'unsafe name' | 'unreadable' | 'changed while read' | 'destination'

/** Something under the directory that was not packed. */
export interface SkippedEntry {
  /** Relative path, '/'-separated. */
  path: string
  reason: SkipReason
  /** For 'unsafe name', 'unreadable' and 'changed while read': why ('permission denied (EACCES)'). */
  detail?: string
}

const DEFAULT_MAX_FILE_SIZE = DEFAULT_MAX_RECORD_SIZE - 64 * 1024
const DEFAULT_READ_ATTEMPTS = 3

/**
 * An object-mode Readable of PackRecords, one per regular file under `dir`
 * that the include globs match. Emits `skip` (SkippedEntry) for each entry
 * left out, and `progress` (ReadProgress) after each megabyte read of a
 * file (and once for an empty file); `files`, `bytes` and `skipped` count
 * as it goes.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface PackSource {
  /** Its records, typed for TypeScript (declaration merging: no runtime part); Readable's own types give `any`. */
  [Symbol.asyncIterator] (): NodeJS.AsyncIterator<PackRecord>
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the interface above types its records
export class PackSource extends failsOnListenerRejection(Readable) {
  readonly dir: string
  /** Files packed so far. */
  files = 0
  /** Payload bytes packed so far. */
  bytes = 0
  /** Entries left out so far (symlinks, special files, unsafe names, files gone mid-walk, the destination). */
  skipped = 0
  readonly #globs: string[]
  readonly #dot: boolean
  /** The globs compiled, by the walk's start (minimatch loads only when a pack runs). */
  #include: Minimatch[] = []
  readonly #maxFileSize: number
  readonly #skipUnreadable: boolean
  readonly #readAttempts: number
  readonly #destination: string | undefined
  /** The destination's real path, relative to the real path of `dir` ('/'-separated), if inside it. */
  #destinationRel: string | undefined
  readonly #records: AsyncGenerator<PackRecord>

  constructor (dir: string, options: PackFilesOptions = {}) {
    // One record at a time: a record holds a whole file.
    super({ objectMode: true, highWaterMark: 1 })
    if (typeof dir !== 'string' || dir === '') throw invalidOption('dir', 'a directory to pack is required')
    const globs = options.include === undefined ? ['**'] : Array.isArray(options.include) ? options.include : [options.include]
    if (globs.length === 0 || globs.some((g) => typeof g !== 'string' || g === '')) {
      throw invalidOption('include', 'must be a non-empty glob or a list of them')
    }
    this.dir = path.resolve(dir)
    this.#globs = [...globs]
    // 'true' (a string) was quietly no (=== true): refused, as every yes/no option is.
    checkFlag(options.dot, 'dot')
    checkFlag(options.skipUnreadable, 'skipUnreadable')
    this.#dot = options.dot === true
    this.#maxFileSize = sizeOption(options.maxFileSize, DEFAULT_MAX_FILE_SIZE, 'maxFileSize')
    this.#skipUnreadable = options.skipUnreadable === true
    this.#readAttempts = positiveCount(options.readAttempts, DEFAULT_READ_ATTEMPTS, 'readAttempts')
    this.#destination = options.destination === undefined ? undefined : path.resolve(options.destination)
    this.#records = this.#walk()
  }

  override _read (): void {
    this.#records.next().then((step) => {
      this.push(step.done === true ? null : step.value)
    }, (err: Error) => { this.destroy(err) })
  }

  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    // Closes the file being read, if any (the generator's finally blocks).
    this.#records.return(undefined).then(() => { callback(err) }, () => { callback(err) })
  }

  #matches (rel: string): boolean {
    return this.#include.some((m) => m.match(rel))
  }

  /** Could something below directory `rel` match? (Prunes directories no glob reaches.) */
  #reaches (rel: string): boolean {
    return this.#include.some((m) => m.match(rel, true))
  }

  #skip (entry: SkippedEntry): void {
    this.skipped++
    this.emit('skip', entry)
  }

  async * #walk (): AsyncGenerator<PackRecord> {
    let st: Stats
    try {
      st = await fs.stat(this.dir)
    } catch (err) {
      throw ioError(err, 'cannot pack', this.dir)
    }
    if (!st.isDirectory()) throw new ShoeboxError('SHOEBOX_IO', `cannot pack ${this.dir}: not a directory`)
    // Imported here, not at the top: importing minimatch costs about half
    // of Node's own start, which a program that never packs should not pay.
    const { Minimatch } = await import('minimatch')
    this.#include = this.#globs.map((g) => new Minimatch(g, { dot: this.#dot }))
    if (this.#destination !== undefined) {
      // Compared as real paths: the walk follows no link, so a directory's real path is the root's plus its relative one.
      const inside = path.relative(await fs.realpath(this.dir), realPathOf(this.#destination))
      if (inside !== '' && !inside.startsWith('..') && !path.isAbsolute(inside)) this.#destinationRel = inside.split(path.sep).join('/')
    }
    // Loaded when a pack runs, as FileStore loads it when a listing starts (test/startup-lazy.test.ts).
    const { walk } = await import('../fs/walk.js')
    const names = walk(this.dir, {
      sorted: true,
      skip: (_name, _file, { name: rel, directory }) => {
        // A file no glob matches, a directory no glob reaches; a link or special file either (then it is skipped, and said).
        if (!directory) return !(this.#matches(rel) || this.#reaches(rel))
        if (rel !== this.#destinationRel) return !this.#reaches(rel)
        this.#skip({ path: rel, reason: 'destination' })
        return true
      },
      onUnreadable: (failure) => this.#unreadableDir(failure)
    })
    for await (const found of names) {
      const rel = found.name
      if (found.kind === 'file' && !this.#matches(rel)) continue
      if (found.kind !== 'file') {
        this.#skip({ path: rel, reason: found.kind === 'symlink' ? 'symlink' : 'not a regular file' })
        continue
      }
      // A name that is not UTF-8 (walk() opens it by its bytes): its record's path would name another file.
      const unsafe = typeof found.path === 'string' ? unsafeName(rel) : 'not valid UTF-8: its name as it decodes names another file'
      if (unsafe !== undefined) {
        this.#skip({ path: rel, reason: 'unsafe name', detail: unsafe })
        continue
      }
      const record = await this.#readFile(found.file, rel)
      if (record === null) continue
      this.files++
      this.bytes += record.payload.length
      yield record
    }
  }

  /**
   * A directory of the walk that cannot be read: one gone since its parent
   * was read is skipped ('vanished'), as is any other below the top with
   * skipUnreadable; else the pack fails naming it. The directory being
   * packed is never skipped: it is the whole pack.
   */
  #unreadableDir (failure: WalkFailure): 'skip' {
    const rel = failure.dir
    if (rel !== '' && (failure.code === 'ENOENT' || failure.code === 'ENOTDIR')) {
      this.#skip({ path: rel, reason: 'vanished' })
      return 'skip'
    }
    if (rel !== '' && this.#skipUnreadable) {
      this.#skip({ path: rel, reason: 'unreadable', detail: describeIoError(failure) })
      return 'skip'
    }
    const error = ioError(failure, 'cannot read directory', rel === '' ? this.dir : path.join(this.dir, rel))
    throw rel === '' ? error : withHint(error)
  }

  /**
   * Read one regular file into a record, as one version of it: a read
   * during which the file changed is thrown away and done again, up to
   * `readAttempts` reads (read-file.ts). A file that cannot be read, or
   * never holds still, fails the walk naming it, or with skipUnreadable is
   * skipped (and named in the `skip` event).
   */
  async #readFile (abs: string, rel: string): Promise<PackRecord | null> {
    const changes: string[] = []
    // Loaded with the first file, not when the package is imported (bench/startup.js).
    const { readFileOnce } = await import('./read-file.js')
    for (let attempt = 1; attempt <= this.#readAttempts; attempt++) {
      let outcome: ReadOutcome
      try {
        outcome = await readFileOnce(abs, {
          rel,
          attempt,
          checkSize: (size) => { this.#checkSize(abs, size) },
          onProgress: (progress) => { this.emit('progress', progress) }
        })
      } catch (err) {
        if (err instanceof ShoeboxError) throw err
        if (this.#skipUnreadable) {
          this.#skip({ path: rel, reason: 'unreadable', detail: describeIoError(err) })
          return null
        }
        throw withHint(ioError(err, 'cannot read', abs))
      }
      if (outcome.kind === 'not packed') {
        this.#skip({ path: rel, reason: outcome.reason })
        return null
      }
      if (outcome.kind === 'read') {
        return {
          metadata: [
            ['path', rel],
            ['size', String(outcome.payload.length)],
            ['mtime', new Date(outcome.mtimeMs).toISOString()],
            ['mode', outcome.mode.toString(8).padStart(4, '0')],
            ['sha256', outcome.sha256]
          ],
          payload: outcome.payload
        }
      }
      changes.push(outcome.change)
    }
    const detail = `changed while it was read, ${plural(changes.length, 'time')} (${changes.join('; ')})`
    if (this.#skipUnreadable) {
      this.#skip({ path: rel, reason: 'changed while read', detail })
      return null
    }
    throw withHint(new ShoeboxError('SHOEBOX_IO', `cannot pack ${abs}: it ${detail}; none of its bytes were stored`))
  }

  #checkSize (abs: string, size: number): void {
    if (size > this.#maxFileSize) {
      throw new ShoeboxError('SHOEBOX_INVALID_RECORD', `${abs}: ${size} bytes is more than maxFileSize (${this.#maxFileSize}); such a record would not read back`)
    }
  }
}

/** The way past a file or directory that cannot be read, in the error that names it. */
function withHint (err: ShoeboxError): ShoeboxError {
  err.message += '; skipUnreadable (--skip-unreadable) would skip it'
  return err
}

/** Why unpack would refuse this relative path (a backslash, a drive letter...), or undefined. */
function unsafeName (rel: string): string | undefined {
  try {
    checkKey(rel)
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

/** Records for every file under `dir` matching the include globs, in a stable order. */
export function packFiles (dir: string, options?: PackFilesOptions): PackSource {
  return new PackSource(dir, options)
}
