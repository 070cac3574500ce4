/**
 * Packing many small files into a few large archives (the CloudFusion way):
 * the records of packFiles() (pack-source.ts), one per file, fed through a
 * rolling sink that seals an archive every `rollSize` bytes and uploads it
 * to a store. A tree of 10,000 small files becomes a handful of objects.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { GzipOptions } from '../compress/gzip.js'
import { compressionOf, type CompressOption } from '../compress/codecs.js'
import { abortReason, checkCallback, checkSignal, checkText, invalidOption, ShoeboxError, throwIfAborted } from '../errors.js'
import { discardSink, rollingSink, type RollingSink, type SealedEvent } from '../roll/rolling-sink.js'
import { SealedUploader, type UploadErrorEvent, type UploadEvent, type UploadOptions } from '../roll/uploader.js'
import { openStore, type StoreOptions } from '../store/open-store.js'
import { fileUrlPath, schemeOf } from '../store/store-url.js'
import { sizeOption } from '../units.js'
import { packFiles, type PackFilesOptions, type PackSource, type SkippedEntry } from './pack-source.js'
import type { ReadProgress } from './read-file.js'
import { plural } from '../plural.js'
import { describeIoError } from '../fs/io-error.js'
import { realPathOf } from '../fs/real-path.js'
import { CallbackResults } from '../callback-results.js'

// The walk's API is part of pack's: lib/index.ts and the CLI import it from here.
export { packFiles, PackSource, PACK_KEYS, type PackFilesOptions, type PackRecord, type SkippedEntry, type SkipReason } from './pack-source.js'
export type { ReadProgress }

export interface PackOptions extends PackFilesOptions {
  /** Where the archives go: 's3://bucket/prefix', 'file:///dir' or a directory. */
  to: string
  /** Compress the archives (one gzip member per block). Default false. */
  gzip?: boolean | GzipOptions
  /** Or any codec: 'gzip', 'zstd', 'none', or { codec, level } (as rollingSink's). Not with gzip. */
  compress?: CompressOption
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
  onSkip?: (entry: SkippedEntry) => unknown
  /** After each megabyte read of a file (the PackSource's `progress` event). */
  onProgress?: (progress: ReadProgress) => unknown
  /** Each archive once it is sealed in the staging directory. */
  onSealed?: (event: SealedEvent) => unknown
  /** Each archive once the store has it (and has verified it). */
  onUpload?: (event: UploadEvent) => unknown
  /**
   * Stops the pack when aborted (the CLI's SIGINT/SIGTERM): the walk ends,
   * uploads under way are aborted, the staging directory is removed, and
   * pack() rejects (SHOEBOX_ABORTED, or the signal's reason when it is a
   * ShoeboxError) saying how many archives the store kept.
   */
  signal?: AbortSignal
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
 * archives already uploaded stay in the store, and the error says how many;
 * nothing more is sealed or uploaded (the sink is discarded, its last
 * archive dropped with the staging directory).
 */
export async function pack (dir: string, options: PackOptions): Promise<PackSummary> {
  if (options === null || typeof options !== 'object' || typeof options.to !== 'string' || options.to === '') {
    throw invalidOption('to', 'a destination (s3://bucket/prefix, file:///dir or a directory) is required')
  }
  // Checked before anything is read: onSkip: 5 was called at the first skip, mid-pack, and failed it there.
  checkSignal(options.signal)
  for (const callback of ['onSkip', 'onProgress', 'onSealed', 'onUpload'] as const) checkCallback(options[callback], callback)
  checkText(options.name, 'name')
  checkText(options.tmpDir, 'tmpDir')
  const signal = options.signal
  throwIfAborted(signal)
  const destination = localDirectory(options.to)
  refuseDestinationIsDir(dir, destination, options.to)
  const source = packFiles(dir, { ...options, destination })
  // A bad URL or option fails here, before any file is read.
  await openStore(options.to, options.storeOptions).close()
  const rollSize = sizeOption(options.rollSize, DEFAULT_ROLL_SIZE, 'rollSize')
  const name = packName(options.name ?? path.basename(source.dir))
  // Resolved: this pack registers its staging directory, and a sweep asks for it, by one spelling of its path.
  const tmpDir = path.resolve(options.tmpDir ?? os.tmpdir())
  await removeDeadStaging(tmpDir, options.to, options.storeOptions)
  const staging = await makeStaging(tmpDir)
  const { doneWritingTemp } = await import('../roll/names.js')
  const upload: UploadOptions = { to: options.to, deleteLocal: true, storeOptions: options.storeOptions }
  if (options.concurrency !== undefined) upload.concurrency = options.concurrency
  let sink: RollingSink | undefined
  let failure: unknown
  // An abort fails the walk and the sink (the walk may be over, the uploads not);
  // the failure path below then cleans up as for any other error. The sink is
  // discarded, on every failure: what it holds is sealed and uploaded nowhere.
  const abort = (): void => {
    const reason = abortReason(signal as AbortSignal)
    source.destroy(reason)
    if (sink !== undefined) discardSink(sink, reason)
  }
  signal?.addEventListener('abort', abort, { once: true })
  // The walk's errors are the feed's to report. An abort before the feed listens (the staging directory being set
  // up) destroys the walk with nobody listening: an unhandled 'error' that ended the process. The pack fails with
  // the abort all the same, by throwIfAborted() below or by the feed's read of the destroyed walk.
  source.on('error', () => {})
  // Async callbacks are settled before pack resolves; a rejection fails the pack at once, with the callback's own
  // error (the walk's skip and progress events are not the sink's; the sink would wrap a rejection of its 'sealed'
  // and 'upload' listeners as SHOEBOX_LISTENER_FAILED, so these four take one path, and the listeners stay sync).
  const callbacks = new CallbackResults((err) => {
    source.destroy(err)
    if (sink !== undefined) discardSink(sink, err)
  })
  try {
    // A read-only or full TMPDIR: it said only "read-only file system (EROFS)", naming nothing.
    const destination = path.join(staging, DESTINATION)
    await fs.writeFile(destination, options.to).catch((err: unknown) => {
      throw new ShoeboxError('SHOEBOX_IO', `cannot write ${destination} in the staging directory (tmpDir, or TMPDIR): ${describeIoError(err)}`, { cause: err })
    })
    throwIfAborted(signal)
    // A codec this install lacks (zstd) fails here, naming the destination: the sink would name its staging directory.
    await compressionOf(options.compress, options.gzip)?.codec.ready(options.to)
    sink = rollingSink({
      dir: staging,
      gzip: options.gzip,
      compress: options.compress,
      roll: { size: rollSize },
      // Time first, so names sort in write order; a random tag so two packs never share a key.
      template: `${name}-%Y%m%dT%H%M%S%fZ-${randomBytes(3).toString('hex')}-{seq}.shoebox`,
      // The store keeps the archives: staging needs no fsync, and nothing to recover.
      fsync: 'never',
      recover: false,
      // Blocks are cut when full (or at a roll); no timer.
      flushInterval: 0,
      upload
    }, { SealedUploader, openStore })
    let archives = 0
    let archiveBytes = 0
    sink.on('sealed', (event: SealedEvent) => {
      archives++
      archiveBytes += event.bytes
      callbacks.call(options.onSealed, event)
    })
    sink.on('upload', (event: UploadEvent) => { callbacks.call(options.onUpload, event) })
    source.on('skip', (entry: SkippedEntry) => { callbacks.call(options.onSkip, entry) })
    source.on('progress', (progress: ReadProgress) => { callbacks.call(options.onProgress, progress) })
    await feed(source, sink)
    await callbacks.settled()
    return { files: source.files, bytes: source.bytes, archives, archiveBytes, skipped: source.skipped }
  } catch (err) {
    // A callback's rejection failed the sink or the walk: the pack fails with it, not with what that did to a write.
    failure = callbacks.failure ?? err
    throw failure
  } finally {
    signal?.removeEventListener('abort', abort)
    source.destroy()
    if (sink !== undefined && !sink.closed) {
      // On failure: nothing more is sealed (no onSealed for an archive the store will never have), no upload
      // starts, uploads under way are aborted; wait for that before the staging files go. (A sink that has
      // finished is destroyed already.) The failure is pack's to report, not the sink's 'error'.
      const closed = new Promise((resolve) => { (sink as RollingSink).once('close', resolve) })
      sink.on('error', () => {})
      discardSink(sink, failure instanceof Error ? failure : new Error(String(failure)))
      await closed
    }
    await fs.rm(staging, { recursive: true, force: true })
    doneWritingTemp(staging)
    // What was kept (counted once the aborted uploads have settled): the archives the store has, those a stop
    // caught between their put and its verification (no 'upload' event) included.
    if (failure instanceof ShoeboxError) {
      // Less those that failed their check (another size stored): the error names that archive, and "N uploaded
      // before it" counted it among them.
      const uploader = sink?.uploader
      const uploaded = uploader === undefined ? 0 : [...uploader.stored].filter((name) => !uploader.failed.has(name)).length
      failure.message += uploaded === 0 ? `; nothing was uploaded to ${options.to}` : `; ${plural(uploaded, 'archive')} uploaded to ${options.to} before it ${uploaded === 1 ? 'stays' : 'stay'} there`
    }
  }
}

/** Staging directories: `shoebox-pack-HOST~WRITER~XXXXXX` (the writer, its pid and start: roll/names.ts); beside each archive its `.to` says where the pack went. */
const STAGING = 'shoebox-pack-'
const DESTINATION = '.to'

/**
 * Make this pack's staging directory in `tmpDir`, `shoebox-pack-HOST~WRITER~XXXXXX`
 * (makeWriterDir): named with its host and writer (pid and start), so that
 * one a killed pack leaves is known for dead (removeDeadStaging), never a
 * live pack's.
 */
async function makeStaging (tmpDir: string): Promise<string> {
  const { makeWriterDir } = await import('../roll/writer-dir.js')
  return await makeWriterDir(tmpDir, STAGING)
}

/**
 * Remove the staging directories of packs on this host that were killed
 * (their pid is gone, or runs a process that started otherwise; this process's own pid, when none of its packs
 * registered the directory): nothing else ever would, and each may hold archives
 * of up to rollSize. The uploads they had in flight are aborted first
 * (their `.uploading` notes, as a restarted writer's are) when they went to
 * `to`, this pack's destination; those to another stay open (see
 * "Guarantees": the bucket's lifecycle rule aborts them). Best effort: a
 * failure leaves the directory for the next pack.
 */
async function removeDeadStaging (tmpDir: string, to: string, storeOptions: StoreOptions | undefined): Promise<void> {
  // Loaded here, not at import (as the rolling sink loads it): importing the package stays small.
  const { deadWriterDirs } = await import('../roll/writer-dir.js')
  // One named the older way (shoebox-pack-XXXXXX) names no process: it stays.
  for (const dead of await deadWriterDirs(tmpDir, STAGING)) {
    try {
      if (await fs.readFile(path.join(dead, DESTINATION), 'utf8').catch(() => undefined) === to) {
        // Its archives go first: the notes of files gone are the ones dropLeftMarkers() aborts.
        for (const file of await fs.readdir(dead)) {
          if (!file.endsWith('.uploading') && file !== DESTINATION) await fs.rm(path.join(dead, file), { force: true })
        }
        const store = openStore(to, storeOptions)
        try {
          await new SealedUploader(dead, store).dropLeftMarkers()
        } finally {
          await store.close()
        }
      }
      await fs.rm(dead, { recursive: true, force: true })
    } catch {
      // Left for the next pack (the store down, another user's directory).
    }
  }
}

/** The directory a store URL names, when it is local (a path or file://). */
/**
 * `to` the directory being packed (`shoebox pack src --to src`), by real paths: its archives were packed by every
 * later pack of it, each run's archive holding all the earlier ones. One inside it is fine (not walked into).
 */
function refuseDestinationIsDir (dir: string, destination: string | undefined, to: string): void {
  if (typeof dir !== 'string' || dir === '' || destination === undefined) return
  const real = realPathOf(dir)
  if (realPathOf(destination) !== real) return
  throw invalidOption('to', `${to} is the directory being packed (${real}): the next pack of it would pack these archives too; ` +
    'give another directory (one inside it, such as its archives/, is not packed); nothing was read or uploaded')
}

function localDirectory (to: string): string | undefined {
  const scheme = schemeOf(to)
  return scheme === undefined ? to : scheme === 'file' ? fileUrlPath(to) : undefined
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
      // At once, not once the walk's next record comes: nothing more is sealed or uploaded after a failure.
      discardSink(sink, failure)
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
