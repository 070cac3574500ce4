/**
 * Packing many small files into a few large archives (the CloudFusion way):
 * `packFiles()` walks a directory and turns every regular file into one
 * record, its metadata the file's relative path, size, mtime, mode and
 * sha256, its payload the file's bytes; `pack()` feeds those records through
 * a rolling sink that seals an archive every `rollSize` bytes and uploads it
 * to a store. A tree of 10,000 small files becomes a handful of objects.
 *
 * The walk is depth first, each directory's entries sorted by name (UTF-16
 * code units), so the same tree always packs in the same order. Symbolic
 * links are never followed: they are skipped and counted, as are sockets,
 * FIFOs, devices and names that could not be restored safely (see
 * unpack.ts). One file is read at a time, once, hashed as it is read.
 */
import { randomBytes } from 'node:crypto'
import type { Dirent, Stats } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { Minimatch } from 'minimatch'
import type { GzipOptions } from '../compress/gzip.js'
import { invalidOption, ShoeboxError } from '../errors.js'
import { DEFAULT_MAX_RECORD_SIZE } from '../format/constants.js'
import { describeIoError, ioError } from '../fs/io-error.js'
import { rollingSink, type RollingSink, type SealedEvent } from '../roll/rolling-sink.js'
import type { UploadErrorEvent, UploadEvent, UploadOptions } from '../roll/uploader.js'
import { checkKey } from '../store/keys.js'
import { openStore, type StoreOptions } from '../store/open-store.js'
import { parseSize } from '../units.js'
import { readFileOnce, type ReadOutcome, type ReadProgress } from './read-file.js'

export type { ReadProgress }

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
}

/** Why an entry was not packed. 'unreadable' and 'changed while read' only with skipUnreadable. */
export type SkipReason = 'symlink' | 'not a regular file' | 'vanished' | 'unsafe name' | 'unreadable' | 'changed while read'

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
export class PackSource extends Readable {
  readonly dir: string
  /** Files packed so far. */
  files = 0
  /** Payload bytes packed so far. */
  bytes = 0
  /** Entries left out so far (symlinks, special files, unsafe names, files gone mid-walk). */
  skipped = 0
  readonly #include: Minimatch[]
  readonly #maxFileSize: number
  readonly #skipUnreadable: boolean
  readonly #readAttempts: number
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
    this.#include = globs.map((g) => new Minimatch(g, { dot: options.dot === true }))
    this.#maxFileSize = parseSize(options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE, 'maxFileSize')
    this.#skipUnreadable = options.skipUnreadable === true
    const attempts = options.readAttempts ?? DEFAULT_READ_ATTEMPTS
    if (!Number.isSafeInteger(attempts) || attempts < 1) throw invalidOption('readAttempts', `must be a whole number of reads, 1 or more, got ${String(attempts)}`)
    this.#readAttempts = attempts
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
    yield * this.#walkDir(this.dir, '')
  }

  async * #walkDir (abs: string, rel: string): AsyncGenerator<PackRecord> {
    let entries: Dirent[]
    try {
      entries = await fs.readdir(abs, { withFileTypes: true })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (rel !== '' && (code === 'ENOENT' || code === 'ENOTDIR')) {
        this.#skip({ path: rel, reason: 'vanished' })
        return
      }
      // The directory being packed is never skipped: it is the whole pack.
      if (rel !== '' && this.#skipUnreadable) {
        this.#skip({ path: rel, reason: 'unreadable', detail: describeIoError(err) })
        return
      }
      const failure = ioError(err, 'cannot read directory', abs)
      throw rel === '' ? failure : withHint(failure)
    }
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    for (const entry of entries) {
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`
      const childAbs = path.join(abs, entry.name)
      const kind = await kindOf(entry, childAbs)
      if (kind === 'gone') continue
      if (kind === 'dir') {
        if (this.#reaches(childRel)) yield * this.#walkDir(childAbs, childRel)
        continue
      }
      if (kind === 'file' ? !this.#matches(childRel) : !(this.#matches(childRel) || this.#reaches(childRel))) continue
      if (kind !== 'file') {
        this.#skip({ path: childRel, reason: kind === 'symlink' ? 'symlink' : 'not a regular file' })
        continue
      }
      const unsafe = unsafeName(childRel)
      if (unsafe !== undefined) {
        this.#skip({ path: childRel, reason: 'unsafe name', detail: unsafe })
        continue
      }
      const record = await this.#readFile(childAbs, childRel)
      if (record === null) continue
      this.files++
      this.bytes += record.payload.length
      yield record
    }
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
    const detail = `changed while it was read, ${changes.length} time${changes.length === 1 ? '' : 's'} (${changes.join('; ')})`
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

type Kind = 'file' | 'dir' | 'symlink' | 'other' | 'gone'

async function kindOf (entry: Dirent, abs: string): Promise<Kind> {
  if (entry.isFile()) return 'file'
  if (entry.isDirectory()) return 'dir'
  if (entry.isSymbolicLink()) return 'symlink'
  if (entry.isFIFO() || entry.isSocket() || entry.isBlockDevice() || entry.isCharacterDevice()) return 'other'
  // Some filesystems report no type in the listing: ask, without following links.
  try {
    const st = await fs.lstat(abs)
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other'
  } catch {
    return 'gone'
  }
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

export interface PackOptions extends PackFilesOptions {
  /** Where the archives go: 's3://bucket/prefix', 'file:///dir' or a directory. */
  to: string
  /** Compress the archives (one gzip member per block). Default false. */
  gzip?: boolean | GzipOptions
  /** Seal an archive when it reaches this size (bytes or '64MiB'). Default 64 MiB. */
  rollSize?: number | string
  /** Archive names start with this (characters other than A-Z a-z 0-9 . _ - become '_'). Default: the directory's base name. */
  name?: string
  /** For an s3:// destination: endpoint, region, credentials... */
  storeOptions?: StoreOptions
  /** Archives uploading at once (the sink's upload.concurrency). Default 2. */
  concurrency?: number
  /** Where the staging directory is made. Default os.tmpdir(). */
  tmpDir?: string
  /** Each entry not packed (symlinks, special files, unsafe names; with skipUnreadable, what could not be read). */
  onSkip?: (entry: SkippedEntry) => void
  /** After each megabyte read of a file (the PackSource's `progress` event). */
  onProgress?: (progress: ReadProgress) => void
  /** Each archive once it is sealed in the staging directory. */
  onSealed?: (event: SealedEvent) => void
  /** Each archive once the store has it (and has verified it). */
  onUpload?: (event: UploadEvent) => void
}

export interface PackSummary {
  /** Files packed. */
  files: number
  /** Their bytes (payloads, before compression). */
  bytes: number
  /** Archives sealed (and uploaded). */
  archives: number
  /** Their bytes as stored (compressed, with gzip). */
  archiveBytes: number
  /** Entries left out: symlinks, special files, unsafe names, files gone mid-walk; with skipUnreadable, what could not be read. */
  skipped: number
}

const DEFAULT_ROLL_SIZE = '64MiB'

/** A name safe inside a file-name template: no '%', '{', '/' or anything a shell or URL would trip on. */
export function packName (name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '')
  return safe === '' ? 'pack' : safe
}

/**
 * Pack every matching file under `dir` into archives of about `rollSize`
 * and upload them to `to`. Archives are staged in a fresh temporary
 * directory (removed at the end) and each is deleted there once the store
 * has it. Resolves when every archive is uploaded and verified. On failure,
 * archives already uploaded stay in the store, and the error says how many.
 */
export async function pack (dir: string, options: PackOptions): Promise<PackSummary> {
  if (options === null || typeof options !== 'object' || typeof options.to !== 'string' || options.to === '') {
    throw invalidOption('to', 'a destination (s3://bucket/prefix, file:///dir or a directory) is required')
  }
  const source = packFiles(dir, options)
  // A bad URL or option fails here, before any file is read.
  await openStore(options.to, options.storeOptions).close()
  const rollSize = parseSize(options.rollSize ?? DEFAULT_ROLL_SIZE, 'rollSize')
  const name = packName(options.name ?? path.basename(source.dir))
  const staging = await fs.mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'shoebox-pack-'))
  const upload: UploadOptions = { to: options.to, deleteLocal: true, storeOptions: options.storeOptions }
  if (options.concurrency !== undefined) upload.concurrency = options.concurrency
  let sink: RollingSink | undefined
  let uploaded = 0
  let failure: unknown
  try {
    sink = rollingSink({
      dir: staging,
      gzip: options.gzip,
      roll: { size: rollSize },
      // Time first, so names sort in write order; a random tag so two packs never share a key.
      template: `${name}-%Y%m%dT%H%M%S%fZ-${randomBytes(3).toString('hex')}-{seq}.shoebox`,
      // The store keeps the archives: staging needs no fsync, and nothing to recover.
      fsync: 'never',
      recover: false,
      // Blocks are cut when full (or at a roll); no timer.
      flushInterval: 0,
      upload
    })
    let archives = 0
    let archiveBytes = 0
    sink.on('sealed', (event: SealedEvent) => {
      archives++
      archiveBytes += event.bytes
      options.onSealed?.(event)
    })
    sink.on('upload', (event: UploadEvent) => {
      uploaded++
      options.onUpload?.(event)
    })
    if (options.onSkip !== undefined) source.on('skip', options.onSkip)
    if (options.onProgress !== undefined) source.on('progress', options.onProgress)
    await feed(source, sink)
    return { files: source.files, bytes: source.bytes, archives, archiveBytes, skipped: source.skipped }
  } catch (err) {
    failure = err
    throw err
  } finally {
    source.destroy()
    if (sink !== undefined && !sink.closed) {
      // On failure: uploads under way are aborted; wait for that before the staging files go.
      const closed = new Promise((resolve) => { (sink as RollingSink).once('close', resolve) })
      sink.destroy()
      await closed
    }
    await fs.rm(staging, { recursive: true, force: true })
    // What was kept (counted once the aborted uploads have settled): the archives the store has.
    if (failure instanceof ShoeboxError) {
      failure.message += uploaded === 0 ? `; nothing was uploaded to ${options.to}` : `; ${uploaded} archive${uploaded === 1 ? '' : 's'} uploaded to ${options.to} before it stay there`
    }
  }
}

/**
 * Write the records one at a time, waiting for the sink to take each: the
 * sink's own queue would otherwise hold up to 16 whole files. Resolves once
 * the sink has finished (sealed and uploaded everything).
 */
async function feed (source: PackSource, sink: RollingSink): Promise<void> {
  let failure: Error | undefined
  const failed = new Promise<never>((_resolve, reject) => {
    const fail = (err: Error): void => {
      failure ??= err
      reject(failure)
    }
    sink.once('error', fail)
    source.once('error', fail)
    // An archive that could not be uploaded fails the pack now, not after the whole tree is read.
    sink.on('uploadError', (event: UploadErrorEvent) => { if (!event.willRetry) fail(event.error) })
    sink.once('close', () => { fail(new ShoeboxError('SHOEBOX_IO', 'the archive sink closed before the pack was complete')) })
  })
  failed.catch(() => {})
  const finished = new Promise<void>((resolve) => { sink.once('finish', resolve) })
  for await (const record of source) {
    if (failure !== undefined) throw failure
    await Promise.race([failed, new Promise<void>((resolve, reject) => {
      sink.write(record, (err) => { if (err == null) resolve(); else reject(err) })
    })])
  }
  sink.end()
  await Promise.race([failed, finished])
}
