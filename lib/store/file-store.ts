/**
 * A local directory as a bucket: the embedded default store. A key is a
 * path below the root (checked, so it never climbs out). Writes go to a
 * temporary file beside the target and are renamed over it only when
 * complete and fsynced, so a reader sees the old object or the new one,
 * never half of one.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { makeDirs, randomSuffix, syncDir, writevAll } from '../fs/durable.js'
import { fileReadSize } from '../fs/read-size.js'
import { readWhole, SMALL_FILE_BYTES } from '../fs/read-size.js'
import { checkKey } from './keys.js'
import { TransferStats } from '../transfer/stats.js'
import { describeIoError } from '../fs/io-error.js'
import { givenValue, invalidOption, isBytes, refuseNotBytes, refusedLateWrite, STORE_HINT } from '../errors.js'
import type { WalkedName, WalkFailure, walkNames } from '../fs/walk.js'
import { ByteNames } from './byte-names.js'
import { loadNativeFiles } from '../native.js'
import { classify, storeError, StoreError } from './store-error.js'
import {
  putThrough, type GetOptions, type GetWholeOptions, type WholeObject, type ListedKey, type ListOptions, type ObjectInfo, type ObjectWriter, type OpenUpload, type PutOptions, type PutResult, type Store, type WriterOptions
} from './store.js'
import { failsOnListenerRejection } from '../stream/listener-rejections.js'
import { lateEnd } from '../stream/deliver-then-fail.js'

/**
 * Temporary files of unfinished writes: hidden, and never listed. Named
 * `.NAME~<host>~<writer>~<hex>.shoebox-tmp` (its tag is `<host>~<writer>~<hex>`, the writer its pid and start),
 * as a rolling sink's are (roll/names.ts): whose it is can be told from the
 * name, so that one a killed process left is removed by the next writer in
 * its directory (sweepDeadTemps), never a live one's. The host cannot hold a
 * '~' (hostName()): it is the run before `~<writer>~<hex>`, whatever NAME holds.
 */
const TEMP_SUFFIX = '.shoebox-tmp'
/** A temporary file's tag: `<host>~<writer>~<hex>` (the writer: `<pid>` or `<pid>-<start>`, roll/names.ts; or, written before the host and pid joined it, 12 hex digits). */
const TAG = /^[^~/\\\0]+~\d+(?:-\d+-[0-9a-f]{8})?~[0-9a-f]{12}$/
const OLD_TAG = /^[0-9a-f]{12}$/
/** The host and writer a temporary file's name holds. */
const TEMP_OWNER = /~([^~]+)~([^~]+)~[0-9a-f]{12}\.shoebox-tmp$/

/** Stats a listing keeps in flight. */
const STATS_AHEAD = 32

/** Small files getWhole() reads on one thread-pool job, with the native addon (whole-batch.ts). */
const WHOLE_BATCH = 32

/** whole-batch.ts, loaded by the first getWhole() that may batch (not at import: test/startup-lazy.test.ts). */
let batching: typeof import('./whole-batch.js') | undefined
/** Whether getWhole() reads in batches: the native addon's readSmallFiles() is here (asked once). */
let batched: boolean | undefined

/**
 * Close a regular file opened only for reading and read to its end, at once:
 * such a close waits on no disk, and an asynchronous one cost every small
 * file of a read of thousands a thread-pool round trip and its callback (a
 * tenth of the main thread's time reading 10,000 one-record files).
 */
function closeReadFile (fd: number): void {
  try {
    fs.closeSync(fd)
  } catch {
    // EBADF or EIO on close: the bytes were read whole already; nothing to keep.
  }
}

/**
 * A file's version tag: its inode, size, and mtime and ctime in nanoseconds
 * (a bigint stat's). Size and mtime in ms were not enough: a filesystem
 * with 1 s mtimes, or two writes in one mtime tick, gave a rewrite of the
 * same size the old tag, and a reader polling for changes (a readonly
 * server's index files) missed it. A file renamed over the old one (how
 * publishes are written) is another inode, and any write moves the ctime.
 */
function fileEtag (st: fs.BigIntStats): string {
  return `"${st.ino.toString(16)}-${st.size.toString(16)}-${st.mtimeNs.toString(16)}-${st.ctimeNs.toString(16)}"`
}

/** A bigint stat's mtime in ms as a number stat gives it (sec * 1e3 + nsec / 1e6), and its Date (rounded, as Node's). */
function mtimeOf (st: fs.BigIntStats): { mtimeMs: number, mtime: Date } {
  const mtimeMs = Number(st.mtimeNs / 1_000_000_000n) * 1e3 + Number(st.mtimeNs % 1_000_000_000n) / 1e6
  return { mtimeMs, mtime: new Date(Math.round(mtimeMs)) }
}

export interface FileStoreOptions {
  /**
   * Accept every name this platform allows ('x:1.shoebox', 'a\\b' on POSIX),
   * for reading a directory other programs write (archiveSource, ls). By
   * default keys are portable: what the store writes, any store could hold.
   */
  platformNames?: boolean
}

/** For shoebox's own tests. */
export interface FileStoreInternals {
  /** The walk a listing makes (default: fs/walk.ts's, loaded when the first listing starts). */
  walkNames?: typeof walkNames
}

export class FileStore implements Store {
  readonly url: string
  readonly root: string
  /** Other programs may write files here while they are listed or read (see Store). */
  readonly writtenInPlace = true
  readonly #stats = new TransferStats()

  readonly #platformNames: boolean
  /** The root with a separator at its end, that a key's path starts with. */
  readonly #rootDir: string
  /** Listed keys whose file names are not UTF-8, and the bytes that name their files (see walk.ts). */
  readonly #byteNames = new ByteNames()
  readonly #walkNames: typeof walkNames | undefined
  /** Directories the writers of this store swept of dead writers' temporary files (sweepDeadTemps): once each. */
  readonly #swept = new Map<string, Promise<void>>()

  /** `internals` is for shoebox's own tests (see FileStoreInternals). */
  constructor (root: string, options: FileStoreOptions = {}, internals: FileStoreInternals = {}) {
    this.root = path.resolve(root)
    this.#rootDir = this.root.endsWith(path.sep) ? this.root : this.root + path.sep
    this.url = `file://${this.root.split(path.sep).join('/')}`
    this.#platformNames = options.platformNames === true && path.sep === '/'
    this.#walkNames = internals.walkNames
  }

  /** The path of a key, after checking it cannot leave the root. */
  pathOf (key: string): string {
    // On POSIX a backslash or a leading 'x:' is part of a file name, neither a separator
    // nor a drive; every check that keeps a key inside the root still applies.
    checkKey(this.#platformNames ? key.replace(/\\/g, '_').replace(/^([A-Za-z]):/, '$1_') : key)
    // What path.join(root, ...segments) gives, without its normalising pass (2-3% of reading 10,000 small
    // files): the checked key has no '.', '..' or empty segment, and the root is resolved.
    return this.#rootDir + (path.sep === '/' ? key : key.split('/').join(path.sep))
  }

  /**
   * The keys a listing of `prefix` (its walk of `dir` to `depth`, the keys it
   * `want`s) could find: the names that are not UTF-8 it decides. One it does
   * not find is gone since (deleted, renamed, or now under a UTF-8 name that
   * reads as the same key) and forgotten: a follower lists for days, and a
   * stale entry opened the old bytes. Only those: a listing of one name (a
   * fetch by position) forgot its neighbours, still there, and the next
   * record of one was NOT_FOUND.
   */
  #covered (dir: string, prefix: string, options: ListOptions): (key: string) => boolean {
    const depth = options.depth ?? Infinity
    const want = options.want
    return (key) => key.startsWith(prefix) && key.slice(dir.length).split('/').length <= depth && (want?.(key) ?? true)
  }

  /** The path to open a key's file by: its name's bytes where the listing found it under a name that is not UTF-8. */
  #fileOf (key: string): string | Buffer {
    return this.#byteNames.get(key) ?? this.pathOf(key)
  }

  /** Whether #fileOf(key) may not be the file yet: a key that may stand for a name not UTF-8 that no listing has found. */
  #unlisted (key: string, file: string | Buffer): boolean {
    return typeof file === 'string' && key.includes('\uFFFD')
  }

  /**
   * #fileOf(key), after finding the bytes of a name that is not UTF-8 (each
   * bad byte reads as U+FFFD) when no listing has: a key given without one (a
   * fetch by position, a stat) opened nothing and was NOT_FOUND. A UTF-8
   * name that holds U+FFFD itself is taken as it is; else the key alone is
   * listed, from its first such segment down (its directories may be such
   * names too).
   */
  async #locate (key: string): Promise<string | Buffer> {
    const file = this.#fileOf(key)
    if (!this.#unlisted(key, file) || await fsp.lstat(file).then(() => true, () => false)) return file
    const segments = key.split('/')
    const first = segments.findIndex((segment) => segment.includes('\uFFFD'))
    const prefix = segments.slice(0, first).map((segment) => `${segment}/`).join('')
    for await (const listed of this.list(prefix, { depth: segments.length - first, want: (k) => k === key })) void listed
    return this.#fileOf(key)
  }

  async put (key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<PutResult> {
    return await putThrough(this.writer(key, options), body)
  }

  writer (key: string, options?: WriterOptions): ObjectWriter {
    return new FileWriter(this, key, this.pathOf(key), this.#stats, options?.onMultipartUpload, (dir) => this.#sweep(dir))
  }

  /** sweepDeadTemps(dir), the first time a writer of this store writes into `dir`; after, what that did. */
  async #sweep (dir: string): Promise<void> {
    let swept = this.#swept.get(dir)
    if (swept === undefined) {
      swept = sweepDeadTemps(dir)
      this.#swept.set(dir, swept)
    }
    await swept
  }

  /**
   * A small file's bytes as one Buffer (fs/read-size.ts): no stream, one
   * read where `size` (the listing's, or the open file's where none was
   * listed) still holds. archiveSource() takes the files of a listing so,
   * and decodes each in one call. A file grown since it was sized is given
   * as get() gives it, a stream: it may grow on.
   *
   * Calls made together (a reader opening files ahead) are read together:
   * with the native addon, up to WHOLE_BATCH files on one thread-pool job
   * (whole-batch.ts). A file that batch does not read whole (gone, refused,
   * grown...) is read here as without it, which fails or streams as always.
   */
  async getWhole (key: string, options: GetWholeOptions): Promise<WholeObject | Readable> {
    const size: unknown = options.size
    if (size !== undefined && (!Number.isSafeInteger(size) || (size as number) < 0)) throw invalidOption('size', `must be a whole number of bytes, got ${givenValue(size)}`)
    // The size is the caller's word (a listing's): a Buffer of it is asked for at once. Past a small file's, the file
    // is streamed as get() streams it (1 TB was a RangeError; 2 GiB, allocated).
    if (size !== undefined && (size as number) > SMALL_FILE_BYTES) return this.get(key, { etag: options.etag })
    // Asked for before any await but the first call's loading whole-batch.ts (those calls go on in one turn
    // too): the calls of one turn make one batch.
    const file = this.#fileOf(key)
    if (options.etag === undefined && !this.#unlisted(key, file) && this.wholeReadsTogether !== undefined) {
      batching ??= await import('./whole-batch.js')
      const read = await batching.wholeBatch(WHOLE_BATCH)?.read(file, options.size)
      if (read != null) return this.#wholeObject(read.bytes)
    }
    return await this.#getWholeAlone(key, options)
  }

  /** getWhole() of one file, by its own open, fstat, read and close. */
  async #getWholeAlone (key: string, options: GetWholeOptions): Promise<WholeObject | Readable> {
    const file = await this.#locate(key)
    const { fd, size } = await this.#openChecked(key, file, options)
    if (options.size === undefined && size > SMALL_FILE_BYTES) {
      // Not listed, and too big to hold: streamed, as get() streams it.
      closeReadFile(fd)
      return this.get(key, { etag: options.etag })
    }
    let bytes: Buffer | null
    try {
      bytes = await readWhole(fd, 0, options.size ?? size)
    } catch (err) {
      throw this.#fail(err, 'get', key)
    } finally {
      closeReadFile(fd)
    }
    if (bytes === null) return this.get(key, { etag: options.etag })
    return this.#wholeObject(bytes)
  }

  /** A file's bytes read whole, counted as downloaded once taken. */
  #wholeObject (read: Buffer): WholeObject {
    const stats = this.#stats
    let taken = false
    return {
      take () {
        if (!taken) {
          taken = true
          stats.downloadedBytes(read.length)
          stats.downloadedObject()
        }
        return read
      }
    }
  }

  /**
   * How many getWhole() calls made together are read in one round trip:
   * WHOLE_BATCH with the native addon, else none (each its own).
   */
  get wholeReadsTogether (): number | undefined {
    batched ??= loadNativeFiles() !== null
    return batched ? WHOLE_BATCH : undefined
  }

  /** `file` opened for reading and checked (#checkOpened), and its size; the caller closes it. */
  async #openChecked (key: string, file: string | Buffer, options: GetOptions): Promise<{ fd: number, size: number }> {
    // Non-blocking, so that a FIFO (a name fetched by position, never listed) opens at once instead of holding
    // a thread-pool thread until some writer comes; it is then refused, as anything but a file is.
    const fd = await new Promise<number>((resolve, reject) => {
      fs.open(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0), (err, fd) => { if (err !== null) reject(this.#fail(err, 'get', key)); else resolve(fd) })
    })
    try {
      return { fd, size: this.#checkOpened(fd, key, options).size }
    } catch (refused) {
      fs.close(fd, () => {})
      throw refused
    }
  }

  get (key: string, options: GetOptions = {}): Readable {
    let file: string | Buffer
    try {
      file = this.#fileOf(key)
    } catch (err) {
      return Readable.from([]).destroy(err as Error)
    }
    const range = options.range
    if (range !== undefined && range.end !== undefined && range.end <= range.start) return Readable.from([])
    let stream: fs.ReadStream | undefined
    const stats = this.#stats
    const out = new Readable({
      highWaterMark: 1024 * 1024,
      read () { stream?.resume() },
      destroy (err, callback) {
        stream?.destroy()
        // Read from the file but never taken by a reader (a file opened ahead, then dropped: read-ahead.ts): not downloaded.
        if (!out.readableEnded) stats.downloadedBytesUnread(out.readableLength)
        callback(err)
      }
    })
    // An object is downloaded once its reader has taken it to its end, not when its file is read.
    out.once('end', () => { stats.downloadedObject() })
    if (!this.#unlisted(key, file)) this.#read(key, file, options, out, (opened) => { stream = opened })
    else {
      this.#locate(key).then((located) => {
        if (!out.destroyed) this.#read(key, located, options, out, (opened) => { stream = opened })
      }, (err: unknown) => { out.destroy(this.#fail(err, 'get', key)) })
    }
    return out
  }

  /**
   * get()'s read of `file` into `out`, once the file is known: `opened` is
   * told the stream, if one is made. The file is opened and checked first:
   * a small one read to its end is one read (fs/read-size.ts), any other
   * is streamed in reads of its size (read-size.ts).
   */
  #read (key: string, file: string | Buffer, options: GetOptions, out: Readable, opened: (stream: fs.ReadStream) => void): void {
    const range = options.range
    const start = range?.start ?? 0
    this.#openChecked(key, file, options).then(({ fd, size }) => {
      if (out.destroyed) {
        fs.close(fd, () => {})
        return
      }
      const length = Math.max(0, Math.min(range?.end ?? size, size) - start)
      if (range?.end === undefined && length <= SMALL_FILE_BYTES) {
        // A small file to its end: one read (fs/read-size.ts), no fs.ReadStream.
        this.#readSmall(key, fd, file, start, length, out, opened)
        return
      }
      const stream = fs.createReadStream(file, {
        fd,
        start,
        end: range?.end === undefined ? undefined : range.end - 1,
        highWaterMark: fileReadSize(length)
      })
      opened(stream)
      this.#pipeRead(key, stream, out)
    }, (err: Error) => { out.destroy(err) })
  }

  /** The open `fd`'s stats; throws the StoreError to fail the get with when it is no regular file, or not the version asked for. */
  #checkOpened (fd: number, key: string, options: GetOptions): fs.Stats {
    let st: fs.Stats
    try {
      st = fs.fstatSync(fd)
    } catch (err) {
      throw this.#fail(err, 'get', key)
    }
    if (!st.isFile()) {
      // A directory is refused as its read would have been (EISDIR); the others in words ('ENOTFILE' is ours, not an errno).
      const notFile = st.isDirectory()
        ? Object.assign(new Error('illegal operation on a directory'), { code: 'EISDIR' })
        : Object.assign(new Error('not a regular file (a FIFO, socket or device): not read'), { code: 'ENOTFILE' })
      throw this.#fail(notFile, 'get', key)
    }
    if (options.etag !== undefined && fileEtag(fs.fstatSync(fd, { bigint: true })) !== options.etag) {
      // A version pin: the file must still be the one listed.
      throw storeError(Object.assign(new Error('the object changed since it was listed'), { name: 'PreconditionFailed' }), this.url, 'get', key)
    }
    return st
  }

  /**
   * get()'s read of a small file, open as `fd`, from `start` to its end
   * (`length` bytes as fstat saw it) into `out`: one read, or a stream from
   * `start` if it has grown since. (get()'s 'end' counts the object.)
   */
  #readSmall (key: string, fd: number, file: string | Buffer, start: number, length: number, out: Readable, opened: (stream: fs.ReadStream) => void): void {
    readWhole(fd, start, length).then((bytes) => {
      if (bytes === null && !out.destroyed) {
        const stream = fs.createReadStream(file, { fd, start, highWaterMark: fileReadSize(length) })
        opened(stream)
        this.#pipeRead(key, stream, out)
        return
      }
      closeReadFile(fd)
      if (out.destroyed || bytes === null) return
      this.#stats.downloadedBytes(bytes.length)
      if (bytes.length > 0) out.push(bytes)
      out.push(null)
    }, (err: unknown) => {
      closeReadFile(fd)
      out.destroy(this.#fail(err, 'get', key))
    })
  }

  /** The read of an open file into get()'s `out`. */
  #pipeRead (key: string, stream: fs.ReadStream, out: Readable): void {
    const stats = this.#stats
    stream.on('data', (chunk: string | Buffer) => {
      stats.downloadedBytes(chunk.length)
      if (!out.push(chunk)) stream.pause()
    })
    stream.once('end', () => { out.push(null) })
    stream.once('error', (err) => { out.destroy(this.#fail(err, 'get', key)) })
  }

  /**
   * Walks only below the prefix's directory ('logs/2024/' never reads the rest
   * of the tree) and no deeper than `depth`, as walk.ts says (linked
   * directories are not descended into), stats only the files `want`s (an
   * unrelated file that cannot be looked at fails nothing), and stats a few
   * files ahead of the one it yields: a listing of many files
   * waits on one stat at a time otherwise. Only regular files (and links to
   * them) are listed: a FIFO, socket or device is not an object to read.
   *
   * Without sizes (`sizes: false`, a reader that opens each file and so
   * learns its size then: archiveSource()), a name its directory says is a
   * regular file is listed as a key alone, not stat'ed (with `sizes` a
   * function, a file it says false for): that stat was 13%
   * of reading 10,000 one-record files. A link, or a name of another kind,
   * is stat'ed as always, to list only links to regular files. The same
   * walk, filter, order and stat either way: one listing, which only skips
   * a stat whose answer its lister does not want. A file gone between the
   * walk and the read is then found gone by the read (as one gone between
   * the stat and the read always was), not passed over by the stat.
   */
  list (prefix?: string, options?: ListOptions & { sizes?: true }): AsyncIterable<ObjectInfo>
  list (prefix: string | undefined, options: ListOptions): AsyncIterable<ListedKey>
  async * list (prefix = '', options: ListOptions = {}): AsyncIterable<ListedKey> {
    const dir = prefix.slice(0, prefix.lastIndexOf('/') + 1)
    const covered = this.#covered(dir, prefix, options)
    let walked: WalkedName[]
    // Numbered before the walk: another listing may start and finish while it runs (see byte-names.ts).
    const listing = this.#byteNames.begin()
    try {
      // Loaded when a listing starts, not at import (test/startup-lazy.test.ts).
      const walk = this.#walkNames ?? (await import('../fs/walk.js')).walkNames
      const walkDir = dir === '' ? this.root : this.pathOf(dir.slice(0, -1))
      // A directory named by text that is not UTF-8 (a glob's root from the command line, each bad byte as U+FFFD)
      // is walked by the bytes it was decoded from: its text names nothing, and the listing was empty.
      const walkBytes = walkDir.includes('\uFFFD') ? await (await import('../fs/undecoded-path.js')).undecodedPath(walkDir) : undefined
      walked = await walk(walkDir, options.depth, walkBytes)
    } catch (err) {
      const failure = err as WalkFailure
      if (failure.dir === '' && (failure.code === 'ENOENT' || (failure.code === 'ENOTDIR' && dir !== ''))) {
        this.#byteNames.settle(listing, covered, new Map())
        return
      }
      this.#byteNames.abandon(listing)
      const where = failure.dir === undefined || failure.dir === '' ? prefix : dir + failure.dir
      throw this.#fail(err, 'list', where === '' ? undefined : where)
    }
    const found = walked
      .map((w) => ({ key: dir + w.name, path: w.path, kind: w.kind }))
      .filter((f) => f.key.startsWith(prefix) && !f.key.endsWith(TEMP_SUFFIX) && (options.want?.(f.key) ?? true))
      .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    const byteNames = new Map<string, Buffer>()
    let ambiguous: string | undefined
    for (let i = 0; i < found.length; i++) {
      const { key, path: bytes } = found[i]
      if (typeof bytes === 'string') continue
      // Two names that are not UTF-8 may decode to one key: which file it means is unknowable.
      if (found[i + 1]?.key === key || found[i - 1]?.key === key) ambiguous ??= key
      else byteNames.set(key, bytes)
    }
    this.#byteNames.settle(listing, covered, byteNames)
    if (ambiguous !== undefined) {
      throw new StoreError('other', this.url, 'list', ambiguous, 'two file names that are not UTF-8 read as this same key: rename them')
    }
    const statOf = async (file: string | Buffer): Promise<fs.BigIntStats | undefined> => await fsp.stat(file, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
      // Gone between the walk and the stat (a writer sealing, a cleaner), or a dangling link: nothing to read.
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
      throw err
    })
    // A regular file by its directory entry, for a lister that wants no sizes: not stat'ed.
    const { sizes } = options
    const unsized = (f: { key: string, kind: WalkedName['kind'] }): boolean =>
      f.kind === 'file' && (sizes === false || (typeof sizes === 'function' && !sizes(f.key)))
    const ahead: Array<Promise<fs.BigIntStats | undefined> | null> = []
    for (let i = 0; i < found.length; i++) {
      while (ahead.length < STATS_AHEAD && i + ahead.length < found.length) {
        const next = found[i + ahead.length]
        const stat = unsized(next) ? null : statOf(next.path)
        stat?.catch(() => {}) // awaited in turn: a failure ahead of it must not be an unhandled rejection meanwhile
        ahead.push(stat)
      }
      const stat = ahead.shift()
      if (stat === null) {
        yield { key: found[i].key }
        continue
      }
      let st: fs.BigIntStats | undefined
      try {
        st = await stat
      } catch (err) {
        // Not gone, but it cannot be looked at (a link loop, a directory without search permission): say which.
        throw this.#fail(err, 'list', found[i].key)
      }
      if (st === undefined || !st.isFile()) continue
      yield { key: found[i].key, size: Number(st.size), ...mtimeOf(st), etag: fileEtag(st) }
    }
  }

  async stat (key: string): Promise<ObjectInfo> {
    const file = await this.#locate(key)
    let st: fs.BigIntStats
    try {
      st = await fsp.stat(file, { bigint: true })
    } catch (err) {
      throw this.#fail(err, 'stat', key)
    }
    if (!st.isFile()) throw storeError(Object.assign(new Error('not a file'), { code: 'ENOENT' }), this.url, 'stat', key)
    return { key, size: Number(st.size), mtime: mtimeOf(st).mtime, etag: fileEtag(st) }
  }

  async exists (key: string): Promise<boolean> {
    const file = await this.#locate(key) // a bad key is SHOEBOX_BAD_KEY, not a store failure
    try {
      return (await fsp.stat(file)).isFile()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw this.#fail(err, 'exists', key)
    }
  }

  async delete (key: string): Promise<void> {
    // Not pathOf: a listed name that is not UTF-8 was "deleted" by its decoded path, which names no file (ENOENT: done).
    const file = await this.#locate(key)
    try {
      await fsp.unlink(file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw this.#fail(err, 'delete', key)
    }
  }

  /**
   * None: a file store has no multipart uploads. A writer's unfinished file
   * is a hidden temporary file beside its key, which its writer notes as an
   * upload (onMultipartUpload, the file's random tag as the id) so that an
   * uploader killed mid-put removes it at its next start (abortUpload).
   */
  async * listUploads (): AsyncIterable<OpenUpload> {}

  /**
   * Remove the temporary file a writer of `key` noted as `uploadId` (one a
   * killed process left: it was never renamed into place, and nothing else
   * ever removes it). An id that is no writer's tag names nothing: done.
   */
  async abortUpload (key: string, uploadId: string): Promise<void> {
    if (!TAG.test(uploadId) && !OLD_TAG.test(uploadId)) return
    const temp = tempOf(this.pathOf(key), uploadId)
    try {
      await fsp.unlink(temp)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      // A read-only mount refuses the unlink (EROFS) before looking the name up: a file never made is still done,
      // not a failure that replaced the put's own (pack into a read-only directory said 'abort upload ...').
      if (await fsp.lstat(temp).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOENT')) return
      throw this.#fail(err, 'abort upload', key)
    }
  }

  stats (): ReturnType<TransferStats['snapshot']> {
    return this.#stats.snapshot()
  }

  async close (): Promise<void> {}

  #fail (err: unknown, operation: string, key: string | undefined): Error {
    return fileStoreError(err, this.url, operation, key)
  }
}

/**
 * A filesystem failure in words ('not a directory (ENOTDIR)'), not in an S3
 * store's terms: storeError() gave 'failed (Error: ENOTDIR: not a directory,
 * mkdir ...)', Node's text with the path a second time. The store and key
 * name where.
 */
function fileStoreError (err: unknown, store: string, operation: string, key: string | undefined): StoreError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (err instanceof StoreError || typeof code !== 'string') return storeError(err, store, operation, key)
  return new StoreError(classify(err), store, operation, key, describeIoError(err))
}

/** roll/names.ts, loaded by the first writer, not at import (test/startup-lazy.test.ts), as the uploader loads it. */
let names: typeof import('../roll/names.js') | undefined
async function loadNames (): Promise<typeof import('../roll/names.js')> {
  names ??= await import('../roll/names.js')
  return names
}

/** The temporary file of a write of `target` tagged `tag` (`<host>~<writer>~<hex>`; or 12 hex digits, the older name). */
function tempOf (target: string, tag: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}${OLD_TAG.test(tag) ? '.' : '~'}${tag}${TEMP_SUFFIX}`)
}

/**
 * Remove from `dir` the temporary files of writers on this host whose
 * process is gone: a put killed outright (a one-shot `shoebox upload` or
 * `meta push`) left it, no queue noted it, and a file store lists no
 * uploads (listUploads), so nothing else ever would. One readdir of a
 * directory the writer writes into anyway (never a walk of the store); a
 * live writer's (its pid running, in a process that started as its name says; of this process's pid, one of its
 * writers') and another host's stay. Best effort: what cannot be listed or removed stays.
 */
async function sweepDeadTemps (dir: string): Promise<void> {
  const names = await fsp.readdir(dir).catch(() => [] as string[])
  const { leftByDeadWriter } = await loadNames()
  for (const name of names) {
    if (!name.startsWith('.') || !name.endsWith(TEMP_SUFFIX)) continue
    const owner = TEMP_OWNER.exec(name)
    const file = path.join(dir, name)
    if (owner === null || !leftByDeadWriter(file, owner[1], owner[2])) continue
    await fsp.unlink(file).catch(() => {})
  }
}

/** Writes into a hidden temporary file, then fsyncs and renames it over the key's path. */
class FileWriter extends failsOnListenerRejection(Writable) implements ObjectWriter {
  readonly key: string
  result: PutResult | undefined
  readonly #store: FileStore
  readonly #target: string
  /** The temporary file, named once its host and writer are known (_construct). */
  #temp: string | undefined
  readonly #stats: TransferStats
  /** Told the temporary file's tag before the file is made (WriterOptions.onMultipartUpload), so a crash's is found. */
  readonly #onOpen: ((tag: string) => void) | undefined
  /** FileStore's sweep of a directory before its first write there (sweepDeadTemps). */
  readonly #sweep: (dir: string) => Promise<void>
  #handle: fsp.FileHandle | undefined
  #bytes = 0

  constructor (store: FileStore, key: string, target: string, parent: TransferStats, onOpen: ((tag: string) => void) | undefined, sweep: (dir: string) => Promise<void>) {
    super({ highWaterMark: 1024 * 1024 })
    this.#store = store
    this.key = key
    this.#target = target
    this.#onOpen = onOpen
    this.#sweep = sweep
    this.#stats = new TransferStats({ parent })
  }

  /**
   * Anything but bytes is refused by failing the writer (see refuseNotBytes): Node's ERR_INVALID_ARG_TYPE thrown
   * from write() left the writer open, its temporary file and handle with it, and inside a pipe it was taken
   * for the source's failure ('cannot read FILE: The "chunk" argument must be ...').
   */
  override write (chunk: unknown, encoding?: BufferEncoding | ((err?: Error | null) => void), callback?: (err?: Error | null) => void): boolean {
    if (refusedLateWrite(this, `the writer of key "${this.key}"`, encoding, callback)) return false
    if (isBytes(chunk)) return super.write(chunk, encoding as BufferEncoding, callback)
    return refuseNotBytes(this, `the writer of key "${this.key}"`, chunk, STORE_HINT, encoding, callback)
  }

  /** end(chunk) after end(): refused as a late write() is (Node's end() writes it, answering ERR_STREAM_WRITE_AFTER_END). */
  override end (chunk?: unknown, encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (!lateEnd(this, chunk)) return super.end(chunk, encoding as BufferEncoding, callback)
    this.write(chunk)
    return this
  }

  override _construct (callback: (err?: Error | null) => void): void {
    // Destroyed before it started (Node runs _construct all the same): nothing made, no directory, no
    // temporary file, as a rolling sink destroyed at once makes none.
    if (this.destroyed) {
      callback()
      return
    }
    const dir = path.dirname(this.#target)
    makeDirs(dir)
      .then(async () => {
        await this.#sweep(dir)
        if (this.destroyed) return
        // The host and writer (pid and start) in the name: one a kill leaves is known for dead by the next writer here (sweepDeadTemps).
        const { hostName, writerTag, writingTemp } = await loadNames()
        const tag = `${hostName()}~${writerTag()}~${randomSuffix()}`
        this.#temp = tempOf(this.#target, tag)
        // Known to sweeps as this process's from before it exists until it is renamed or removed.
        writingTemp(this.#temp)
        // Noted before the file exists: a kill at any moment after leaves a note the next uploader acts on.
        this.#onOpen?.(tag)
        this.#handle = await fsp.open(this.#temp, 'wx')
      })
      .then(() => { callback() }, (err) => { callback(this.#fail(err, 'put')) })
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#writeAll([chunk]).then(() => { callback() }, (err) => { callback(this.#fail(err, 'put')) })
  }

  override _writev (chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.#writeAll(chunks.map((c) => c.chunk)).then(() => { callback() }, (err) => { callback(this.#fail(err, 'put')) })
  }

  async #writeAll (buffers: Buffer[]): Promise<void> {
    const handle = this.#handle as fsp.FileHandle
    let bytes = 0
    for (const b of buffers) bytes += b.length
    // A short writev (a filling disk writes what fits, and only the next call fails) is continued: taken as
    // whole, the file was renamed into place with its end missing, a cut object under the key.
    await writevAll(handle, buffers)
    this.#bytes += bytes
    this.#stats.uploadedBytes(bytes)
    this.emit('progress', { key: this.key, bytes: this.#bytes })
  }

  override _final (callback: (err?: Error | null) => void): void {
    const handle = this.#handle as fsp.FileHandle
    const finish = async (): Promise<void> => {
      await handle.sync()
      await handle.close()
      this.#handle = undefined
      // Destroyed meanwhile (a listener's rejection, a failure elsewhere in the pipeline): no object goes in place
      // (_destroy removes the temporary file). Once the rename has begun, the object is whole and synced: a destroy
      // then leaves it, rather than delete what the rename replaced.
      if (this.destroyed) return
      await fsp.rename(this.#temp as string, this.#target)
      // After the rename, which moves its ctime: the tag a listing gives the object.
      const st = await fsp.stat(this.#target, { bigint: true })
      names?.doneWritingTemp(this.#temp as string)
      await syncDir(path.dirname(this.#target))
      this.#stats.uploadedObject()
      this.result = { key: this.key, bytes: this.#bytes, etag: fileEtag(st) }
    }
    finish().then(() => { callback() }, (err) => { callback(this.#fail(err, 'put')) })
  }

  override _destroy (err: Error | null, callback: (err?: Error | null) => void): void {
    const handle = this.#handle
    this.#handle = undefined
    if (this.result !== undefined) {
      callback(err)
      return
    }
    const temp = this.#temp
    const cleanUp = async (): Promise<void> => {
      await handle?.close().catch(() => {})
      if (temp !== undefined) {
        await fsp.unlink(temp).catch(() => {})
        names?.doneWritingTemp(temp)
      }
    }
    cleanUp().then(() => { callback(err) }, () => { callback(err) })
  }

  stats (): ReturnType<TransferStats['snapshot']> {
    return this.#stats.snapshot()
  }

  #fail (err: unknown, operation: string): Error {
    return fileStoreError(err, this.#store.url, operation, this.key)
  }
}
