/** shoebox upload: files into a store, each under its own name, verified. */
import { setMaxListeners } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { abortReason, ShoeboxError, throwIfAborted, untilAborted } from '../errors.js'
import { openStore } from '../store/open-store.js'
import { StoreError } from '../store/store-error.js'
import type { Command } from './command.js'
import { describeIoError, EMPTY_DIRECTORY, quotedGlobHint, usage } from './io.js'
import { filesOfArguments } from './file-args.js'
import { ioError, orIoError } from '../fs/io-error.js'
import { fileReadSize } from '../fs/read-size.js'
import { undecodedPath } from '../fs/undecoded-path.js'
import { directoryStoreAt } from '../fs/real-path.js'
import { asUsage, parse, positiveInteger } from './options.js'
import { STORE_FLAGS, storeOptionHelp, storeOptionSpec, storeOptionsFrom } from './store-options.js'
import { storeUrlArg } from './store-url-arg.js'
import { TransferReporter } from './transfer-reporter.js'
import { plural } from '../plural.js'
import { untilInterrupted } from './interrupt.js'
import { oneLine } from './one-line.js'
import { checkPartSize, DEFAULT_PART_SIZE } from '../store/s3-config.js'
import { Slots } from '../slots.js'

/**
 * Files of one part uploaded at once. One at a time, each small file cost
 * its PutObject's and its HEAD's round trips in turn: 300 one-record files
 * took 13 ms each against a server on the same machine, and far more against
 * S3 across a network.
 */
const DEFAULT_CONCURRENCY = 4

const help = `Usage: shoebox upload FILE... --to URL [options]

Uploads each FILE to the store URL (s3://bucket/prefix, file:///dir or a
directory) under the key of its file name (a directory stands for the files
directly in it, dotfiles left out; a file named twice is uploaded once), as
a multipart upload on S3, and verifies it (each part's CRC32 as sent against the bytes read, and the
stored size). Prints one line per file to stdout, in the order given, and
the transfer statistics to stderr. A failed upload leaves no multipart
upload behind (one whose abort the server refuses is named, with its id, as
open); after a failure no other file is started, those under way
finish, and the error line names the file that failed (it is kept) and
says how many were uploaded, or that none was. Two FILEs with the
same name (a/x.gz b/x.gz) would be one key: that is refused before anything
is uploaded. With --delete-local, a file that changed during its upload is
kept, and the command fails naming it. A stored size unlike the file's at
its look (it grew or was cut before its read) fails too: the object is left
as stored, the file is kept.

Options:
  --to URL              the store to upload into (required)
  --part-size SIZE      multipart part size (default 8MiB, at least 5MiB)
  --queue-size N        parts in flight per file (default 4)
  --concurrency N       files of one part uploaded at a time (default 4); a
                        bigger file is uploaded alone
  --delete-local        delete each file once its upload is verified
${storeOptionHelp}
  -h, --help            show this help`

export const uploadCommand: Command = {
  name: 'upload',
  reportsOnStdout: true,
  summary: 'upload files to a store, verified',
  flags: STORE_FLAGS,
  help,
  async run (argv, io) {
    const { values, positionals: named } = parse(argv, {
      to: { type: 'string' },
      'part-size': { type: 'string' },
      'queue-size': { type: 'string' },
      'delete-local': { type: 'boolean' },
      concurrency: { type: 'string' },
      ...storeOptionSpec
    }, true)
    // A malformed --endpoint is a usage error, said before anything is read or made.
    const storeOptions = storeOptionsFrom(values)
    if (named.length === 0) throw usage('needs at least one FILE')
    if (typeof values.to !== 'string') throw usage('needs --to URL')
    const queueSize = positiveInteger('--queue-size', values['queue-size'])
    const concurrency = positiveInteger('--concurrency', values.concurrency) ?? DEFAULT_CONCURRENCY
    // Parsed once: what "a file of one part" means for --concurrency, and each writer's part size. Checked
    // against S3's bounds whatever the store: a directory store ignores it, and took --part-size 0 without a word.
    const partSize = asUsage(() => checkPartSize(values['part-size']), { flags: { partSize: '--part-size' } })
    // A directory as the files directly in it (as read and ls take it); a file named twice uploaded once: it was
    // refused as two files of one name (file-args.ts).
    const positionals = await filesOfArguments(named)
    refuseSharedKeys(positionals)
    const store = openStore(storeUrlArg(values.to, storeOptions), storeOptions)
    refuseUploadOntoItself(positionals, store)
    const transfers = new TransferReporter(io, 'shoebox upload', () => store.stats())
    const listed = new InputOrderLines(io.stdout, positionals.length)
    let uploaded = false
    /** Objects stored whose check a signal cut short. */
    const unverified: string[] = []
    /** Files whose bytes the store took (their writer finished), verified or not. */
    let written = 0
    /** The first file whose write into the store failed: no object for it, and the file is kept. */
    let unstored: { error: unknown, file: string } | undefined
    const uploadOne = async (file: string, before: fs.Stats, signal: AbortSignal): Promise<string> => {
      const key = path.basename(file)
      // S3 takes at most 10,000 parts: the writer failed at part 10,001, 80 GB sent for nothing at 8MiB parts.
      if (store.url.startsWith('s3://') && before.size > partSize * S3_MAX_PARTS) {
        const fits = Math.ceil(before.size / S3_MAX_PARTS / MiB)
        throw usage(`${file} is ${before.size} bytes: more than ${S3_MAX_PARTS} parts of --part-size ${values['part-size'] as string | undefined ?? `${DEFAULT_PART_SIZE / MiB}MiB`} ` +
          `(S3 takes at most ${S3_MAX_PARTS}); give --part-size ${fits}MiB or more`)
      }
      // The flag's text, not its bytes: a part size the writer refuses is named as typed ('"1MiB" (1048576 bytes)').
      const writer = asUsage(() => store.writer(key, { partSize: values['part-size'] as string | undefined ?? partSize, queueSize }), { flags: { partSize: '--part-size' } })
      // An abort destroys the writer, which aborts its multipart upload.
      // Read in chunks of the file's size (16 KiB .. 1 MiB, fs/read-size.ts), not 1 MiB each: a ReadStream
      // allocates its whole highWaterMark for each read, the one that finds the end too, and V8 counts it. 2 MiB
      // a small file set off a full collection every ~30 files, each marking a heap that grows with the file
      // count: 20,000 one-record files took 28-30 CPU-s in one run against 16 in four runs of 5,000.
      const input = fs.createReadStream(file, { highWaterMark: fileReadSize(before.size) })
      let unread: unknown
      input.once('error', (err) => { unread = err })
      await pipeline(input, writer, { signal }).catch((err: unknown) => {
        if (signal.aborted) throw abortReason(signal)
        // The file gone since it was looked at, or unreadable: named (Node's error names no file), and typed, so
        // that the line also says what was uploaded.
        if (err === unread) throw ioError(err, 'cannot read', file)
        // The store's line names the key, not the file: the command's line adds which file is kept.
        unstored ??= { error: err, file }
        throw err
      })
      written++
      const size = before.size
      // A signal does not wait for it: on a server that stalls it, the command lived on (the store's close ends it).
      // The object is stored then, unchecked: the line says so.
      const stored = await untilAborted(store.stat(key), signal).catch((err: unknown) => {
        if (signal.aborted) unverified.push(`${store.url}/${key}`)
        throw err
      })
      if (stored.size !== size) throw new StoreError('verify', store.url, 'upload', key, `stored ${plural(stored.size, 'byte')} of ${size}${await sizeMismatchCause(file, size)}; the object is left as stored, the file is kept`)
      const etag = writer.result?.etag ?? stored.etag
      if (values['delete-local'] === true) {
        await keepIfChanged(file, before, `${store.url}/${key}`)
        await orIoError(fs.promises.unlink(file), `uploaded to ${store.url}/${key}; cannot delete`, file)
      }
      return `${oneLine(file)}\t${oneLine(`${store.url}/${key}`)}\t${plural(size, 'byte')}\t${etag}\n`
    }
    try {
      await untilInterrupted(async (signal) => {
        await uploadEach(positionals, concurrency, partSize, signal, async (file, before, index) => {
          listed.set(index, await uploadOne(file, before, signal))
        })
      })
      uploaded = true
    } catch (err) {
      // Say what stays: the files listed on stdout (a file under way left nothing behind).
      listed.flush()
      if (err instanceof ShoeboxError) {
        const done = listed.count
        if (err.code === 'SHOEBOX_ABORTED') {
          err.message += done === 0 ? `; nothing was uploaded to ${store.url}` : `; ${plural(done, 'file')} uploaded to ${store.url} before it (listed above)`
          if (unverified.length > 0) err.message += `; stored but not verified, the file kept: ${unverified.map((u) => oneLine(u)).join(', ')}`
        } else if (err.code !== 'SHOEBOX_USAGE') {
          // A read-only or full directory store said only 'put a.bin: read-only file system (EROFS)': not which
          // file that was, nor that nothing was uploaded.
          const kept = unstored?.error === err ? `${oneLine(unstored.file)} is kept; ` : ''
          if (done > 0) err.message += `; ${kept}${plural(done, 'file')} uploaded to ${store.url} (listed on stdout)`
          else if (written === 0) err.message += `; ${kept}nothing was uploaded to ${store.url}`
          else if (kept !== '') err.message += `; ${kept.slice(0, -2)}`
        }
      }
      throw err
    } finally {
      transfers.stop(uploaded)
      await store.close()
    }
    return 0
  }
}

/** The most parts an S3 multipart upload has. */
const S3_MAX_PARTS = 10_000
const MiB = 1024 * 1024

/**
 * Each file goes to the key of its base name, so two files of one name
 * (logs/a/x.gz logs/b/x.gz) would be one object: the second upload replaced
 * the first, and with --delete-local both local copies went, the first's
 * bytes with nothing left anywhere. Refused before any upload starts.
 */
function refuseSharedKeys (files: string[]): void {
  const byKey = new Map<string, string>()
  for (const file of files) {
    const key = path.basename(file)
    const earlier = byKey.get(key)
    if (earlier !== undefined) {
      throw usage(`${earlier} and ${file} would both be uploaded as ${JSON.stringify(key)} (the second replacing the first); upload them to different --to prefixes`)
    }
    byKey.set(key, file)
  }
}

/**
 * A directory store where a FILE already is (--to its own directory): its object would be the file itself,
 * rewritten onto itself, and --delete-local would then delete both (the change check happened to keep it, with a
 * line saying the file had changed while it was uploaded). Refused before any upload starts.
 */
function refuseUploadOntoItself (files: string[], store: object): void {
  for (const file of files) {
    const at = directoryStoreAt(store, path.dirname(file))
    if (at !== undefined) throw usage(`${file} is already in ${path.resolve(at)}, the --to directory: its object would be the file itself; upload it to another directory or a store`)
  }
}

/**
 * Why a stored size may differ from the file's at its listing: the file
 * changed meanwhile (a live log appended to, or cut), which is then said;
 * otherwise the store answered another size than it was sent.
 */
async function sizeMismatchCause (file: string, listed: number): Promise<string> {
  const now = await fs.promises.stat(file).catch(() => undefined)
  if (now === undefined) return ` (${file} is gone since)`
  return now.size === listed ? '' : ` (${file} changed while it was uploaded: size ${listed} -> ${now.size})`
}

/**
 * --delete-local deletes a file only as it was uploaded: one appended to (a
 * live log) or rewritten after its bytes were read and before the unlink
 * (the store's size check passes, it was taken at the first stat) lost
 * those bytes with the file. If its size, mtime, ctime or inode moved since
 * the upload began, it is kept and the upload fails, naming it.
 */
async function keepIfChanged (file: string, before: fs.Stats, object: string): Promise<void> {
  let now: fs.Stats
  try {
    now = await fs.promises.stat(file)
  } catch (err) {
    throw new ShoeboxError('SHOEBOX_IO', `cannot delete ${file} after its upload to ${object}: ${describeIoError(err)}`, { cause: err })
  }
  const moved: string[] = []
  if (now.ino !== before.ino) moved.push('replaced by another file')
  if (now.size !== before.size) moved.push(`size ${before.size} -> ${now.size}`)
  if (now.mtimeMs !== before.mtimeMs) moved.push('mtime moved')
  else if (now.ctimeMs !== before.ctimeMs) moved.push('ctime moved')
  if (moved.length > 0) {
    throw new ShoeboxError('SHOEBOX_IO', `${file} changed while it was uploaded (${moved.join(', ')}): ${object} holds it as it was, and the file is kept (not deleted)`)
  }
}

/**
 * `upload` each file, in the order given, several at a time: a file of one
 * part takes one of `concurrency` slots, a bigger one takes them all (its
 * parts go --queue-size at a time), so many small files overlap their round
 * trips and the part buffers in memory stay bounded. At the first failure no
 * other file is started; those under way are let finish (or fail), and then
 * the first failure is thrown.
 */
async function uploadEach (
  files: string[], concurrency: number, partSize: number, signal: AbortSignal,
  upload: (file: string, before: fs.Stats, index: number) => Promise<void>
): Promise<void> {
  // Each file under way listens to `signal` (its pipeline): with --concurrency 11 or more, Node's bound of 10
  // warned on stderr of a leak that is none (the listeners go with their files).
  setMaxListeners(0, signal)
  const slots = new Slots(concurrency)
  const running = new Set<Promise<void>>()
  let failure: { error: unknown } | undefined
  try {
    for (let i = 0; i < files.length && failure === undefined; i++) {
      throwIfAborted(signal)
      const before = await regularFile(files[i])
      const weight = before.size <= partSize ? 1 : concurrency
      await slots.take(weight)
      if (failure !== undefined) {
        slots.give(weight)
        break
      }
      const job: Promise<void> = upload(files[i], before, i)
        .catch((err: unknown) => { failure ??= { error: err } })
        .finally(() => {
          slots.give(weight)
          running.delete(job)
        })
      running.add(job)
    }
  } finally {
    await Promise.all(running) // each catches its own failure
  }
  if (failure !== undefined) throw failure.error
}

/** The file's stat, or a typed error naming it: a FIFO or a device (its size is not its content) is not uploaded. */
async function regularFile (file: string): Promise<fs.Stats> {
  let stats: fs.Stats
  try {
    stats = await fs.promises.stat(file)
  } catch (err) {
    // A name that is not UTF-8 reaches Node decoded (U+FFFD for its bad bytes), so names no file. Its key would
    // be that decoded text, another name (as `pack` skips such a name): refused as what it is, not as missing.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && await undecodedPath(file) !== undefined) {
      throw new ShoeboxError('SHOEBOX_BAD_KEY', `cannot upload ${file}: its name is not UTF-8, and an object key is text (it would be stored under another name); rename it`)
    }
    throw new ShoeboxError('SHOEBOX_IO', `cannot read ${file}: ${describeIoError(err)}${quotedGlobHint(file, err)}`)
  }
  if (!stats.isFile()) throw new ShoeboxError('SHOEBOX_IO', `cannot read ${file}: ${stats.isDirectory() ? EMPTY_DIRECTORY : 'not a regular file'}`)
  return stats
}

/**
 * The per-file lines, written in the order the files were given however
 * their uploads finish; flush() writes those still held back (files done
 * while one before them was not) when the command stops.
 */
class InputOrderLines {
  readonly #out: NodeJS.WritableStream
  readonly #lines: Array<string | undefined>
  #next = 0
  count = 0

  constructor (out: NodeJS.WritableStream, files: number) {
    this.#out = out
    this.#lines = new Array<string | undefined>(files)
  }

  set (index: number, line: string): void {
    this.#lines[index] = line
    this.count++
    // A line written is let go: held, 20,000 files' lines were ~3 MB that every full collection marked again.
    while (this.#next < this.#lines.length && this.#lines[this.#next] !== undefined) {
      this.#out.write(this.#lines[this.#next] as string)
      this.#lines[this.#next++] = undefined
    }
  }

  flush (): void {
    for (; this.#next < this.#lines.length; this.#next++) {
      const line = this.#lines[this.#next]
      if (line !== undefined) this.#out.write(line)
    }
  }
}
