/**
 * Store: a small interface over places that hold objects by key, a local
 * directory (file://, the embedded default) or an S3 bucket (s3://). Keys are
 * '/'-separated and relative to the store's root (the directory, or the
 * bucket plus the URL's prefix). Nothing here knows about records.
 */
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { TransferSnapshot } from '../transfer/stats.js'

export interface ObjectInfo {
  /** Key relative to the store's root. */
  key: string
  size: number
  mtime: Date
  /** The modification time in milliseconds where the store keeps it finer than `mtime` (a file's). */
  mtimeMs?: number
  /** The store's version tag: an S3 ETag, or a file's inode, size, mtime and ctime (in ns). */
  etag: string
}

/**
 * A multipart upload begun and neither completed nor aborted (S3): what a
 * writer leaves open when it dies and never restarts in its directory to
 * abort it (roll/uploader.ts). The server keeps its parts, and bills them,
 * until someone aborts it.
 */
export interface OpenUpload {
  /** Key relative to the store's root. */
  key: string
  uploadId: string
  /** When the server began it, by the server's clock; absent if the server does not say. */
  initiated?: Date
  /**
   * How far the server's clock is ahead of ours, in ms (behind: negative), from the Date of the answer that listed
   * the upload; absent if it gave none. `initiated` is compared with our clock through it (serverNow()): a local
   * clock off from the server's took a live upload for an old one, or a dead writer's for a young one, for good.
   */
  serverSkew?: number
}

/**
 * A skew under this is taken as none: the Date it is read from has whole seconds (within half a second, taken as
 * the middle of its second) plus the answer's way here, and the comparisons of Initiated with our clock already
 * count a second whole. Applied, such noise moved an upload begun in the same second out of its window.
 */
const SKEW_NOISE_MS = 2000

function skewOf (upload: OpenUpload): number {
  const skew = upload.serverSkew ?? 0
  return Math.abs(skew) < SKEW_NOISE_MS ? 0 : skew
}

/** Now by the server's clock that listed `upload` (ours where it gave no Date, or one within SKEW_NOISE_MS). */
export function serverNow (upload: OpenUpload, now = Date.now()): number {
  return now + skewOf(upload)
}

/** When `upload` began by our clock (initiated, moved by the server's skew); undefined if the server does not say. */
export function initiatedLocally (upload: OpenUpload): number | undefined {
  const at = upload.initiated?.getTime()
  return at === undefined ? undefined : at - skewOf(upload)
}

/** Bytes [start, end) of an object; end defaults to the object's end. */
export interface ByteRange {
  start: number
  end?: number
}

export interface PutOptions {
  contentType?: string
  /** User metadata (S3: x-amz-meta-*; a file store keeps none). */
  metadata?: Record<string, string>
}

export interface WriterOptions extends PutOptions {
  /** Multipart part size (S3), bytes or '8MiB'. Default 8 MiB. */
  partSize?: number | string
  /** Parts in flight at once (S3). Default 4. */
  queueSize?: number
  /**
   * How an S3 upload proves the stored bytes are those written (part-check.ts):
   * 'checksum' (default; true means it) compares each part's CRC32 with the
   * one the SDK sent and the server stored; 'etag' compares MD5s with the
   * ETag, for servers that ignore checksums; false checks sizes only.
   */
  verify?: boolean | 'checksum' | 'etag'
  /**
   * Called synchronously once a multipart upload has its id (S3), so a caller
   * can note it and abort it after a crash. Not called for single-request puts.
   * A file store calls it for every writer, before it creates its temporary
   * file, with that file's tag: abortUpload(key, tag) removes the file.
   */
  onMultipartUpload?: (uploadId: string) => void
}

export interface PutResult {
  key: string
  bytes: number
  etag: string
}

export interface ProgressEvent {
  key: string
  /** Bytes the store has confirmed so far. */
  bytes: number
}

/**
 * A Writable into one object. `finish` fires only once the store has
 * confirmed the object; `result` is set then. destroy() before that leaves
 * no object and, on S3, no multipart upload behind.
 */
export interface ObjectWriter extends Writable {
  readonly key: string
  result: PutResult | undefined
  stats (): TransferSnapshot
  on (event: 'progress', listener: (progress: ProgressEvent) => void): this
  on (event: string | symbol, listener: (...args: never[]) => void): this
}

export interface GetOptions {
  range?: ByteRange
  /** Only read this version of the object (an etag from list/stat); a change fails the read. */
  etag?: string
}

export interface GetWholeOptions extends GetOptions {
  /**
   * The object's size as listed: what the one read expects (a file grown
   * since is given as a stream, as get() gives it). Undefined where the
   * listing gave none (ListOptions.sizes false): the size the store finds
   * when it opens the object (one too big to hold is streamed).
   */
  size: number | undefined
}

/**
 * A small object read whole (getWhole()). Its bytes count as downloaded in
 * the store's stats() once taken: an object read ahead of its reader and
 * then dropped (a read stopped) is not counted as read.
 */
export interface WholeObject {
  /** The object's bytes, now counted as downloaded. */
  take: () => Buffer
}

/**
 * What a lister wants of a listing, so a store may do less: a store that
 * walks directories (a FileStore) need not enter deeper ones nor look at
 * other files; one that lists anyway (S3) may ignore it. The caller still
 * filters what it gets.
 */
export interface ListOptions {
  /** The most '/'-separated segments a wanted key has below the prefix's directory (its part up to its last '/'). */
  depth?: number
  /** Whether a key (the store's, as listed) is wanted. */
  want?: (key: string) => boolean
  /**
   * false: the lister needs no sizes, mtimes nor etags, so a store that
   * must look each object up for them (a FileStore: a stat per file) may
   * leave them out where it knows what the object is without (a regular
   * file by its directory entry): see ListedKey. A function: false for the
   * keys whose sizes the lister needs not (a follower's files that cannot
   * change), which such a store may leave out alike. Default true.
   */
  sizes?: boolean | ((key: string) => boolean)
}

/**
 * What a listing without sizes (ListOptions.sizes false) gives: an
 * ObjectInfo, or a key alone where the store did not look the object up.
 */
export type ListedKey = ObjectInfo | { key: string, size?: undefined, mtime?: undefined, mtimeMs?: undefined, etag?: undefined }

export interface Store {
  /** The store's URL, without credentials, as errors and logs name it. */
  readonly url: string
  /**
   * True where other programs may write an object in place while it is listed
   * or read (a local directory): a reader must not take one listing as final,
   * nor pin a read to the listed version (a file still growing is read again
   * later). S3 objects appear whole, so its store leaves this unset.
   */
  readonly writtenInPlace?: boolean
  /** Write an object whole: from a Buffer, a string or a stream. */
  put (key: string, body: Readable | Buffer | string, options?: PutOptions): Promise<PutResult>
  /** A Writable into one object (uploadSink() is this). */
  writer (key: string, options?: WriterOptions): ObjectWriter
  /** Read an object (or a range of it) as a stream of Buffers. */
  get (key: string, options?: GetOptions): Readable
  /**
   * Read a small object whole, as one Buffer (a file store: one read, no
   * stream), or as get() would where it has grown since `size` was listed.
   * Optional: a reader falls back to get() where a store has none. Not for
   * large objects: the whole object is held in memory.
   */
  getWhole? (key: string, options: GetWholeOptions): Promise<WholeObject | Readable>
  /**
   * How many getWhole() calls made together (in one turn of the event loop)
   * the store reads in one round trip, where it batches them: a reader may
   * open that many files ahead at once. Absent: each call is its own.
   */
  readonly wholeReadsTogether?: number
  /** Every object whose key starts with `prefix`, in key order (of those `options` want: at least those). */
  list (prefix?: string, options?: ListOptions & { sizes?: true }): AsyncIterable<ObjectInfo>
  list (prefix: string | undefined, options: ListOptions): AsyncIterable<ListedKey>
  /** An object's info; a StoreError with code SHOEBOX_NOT_FOUND if there is none. */
  stat (key: string): Promise<ObjectInfo>
  exists (key: string): Promise<boolean>
  /** Remove an object; removing one that does not exist is not an error. */
  delete (key: string): Promise<void>
  /**
   * The multipart uploads open under `prefix`, in key order (S3). A file store
   * has none (a writer's unfinished object is a hidden temporary file beside
   * the key, noted by onMultipartUpload and removed by abortUpload; one
   * noted nowhere, a one-shot put killed outright, is removed by the next
   * writer in its directory: file-store.ts sweepDeadTemps): it lists nothing.
   */
  listUploads (prefix?: string): AsyncIterable<OpenUpload>
  /** Abort a multipart upload left by a crashed writer (a file store: remove the temporary file); no-op where it is gone. */
  abortUpload (key: string, uploadId: string): Promise<void>
  /** Transfer statistics of everything done through this store. */
  stats (): TransferSnapshot
  /** Release connections. */
  close (): Promise<void>
}

/** put() through a store's writer: what both stores do, so they do it the same way. */
export async function putThrough (writer: ObjectWriter, body: Readable | Buffer | string): Promise<PutResult> {
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    writer.end(body)
    await new Promise<void>((resolve, reject) => {
      writer.once('finish', resolve)
      writer.once('error', reject)
    })
  } else {
    await pipeline(body, writer)
  }
  return writer.result as PutResult
}
