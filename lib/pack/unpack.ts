/**
 * unpack(): the files of packed archives (pack.ts) restored into a
 * directory. Every record's path is checked before anything is written: it
 * must be a plain relative path (no '..', '.', or empty segment, not
 * absolute, no drive letter, NUL or backslash), it must resolve inside the
 * output directory, and no directory on the way may be a symbolic link (a
 * link planted there could lead a write outside). The payload is checked
 * against the record's size and sha256 before the file is created; it is
 * written under a temporary name, given its mode (less the umask) and mtime, and renamed
 * into place, so a file is either whole or not there. Without `overwrite`
 * it is linked into place instead (../fs/link.ts), which fails where a file
 * exists: one made after the check (another unpack into the same
 * directory) is never replaced unasked.
 *
 * Paths must also agree with each other across all the archives: a path
 * that is a file in one record and a directory on another's path (`fd` and
 * `fd/child`, in either order) is refused, and so is the same path twice
 * unless `overwrite` (then the later record replaces the earlier, as it
 * would replace a file already there). See paths.ts.
 *
 * What is written when: records are read in order (archives in name order)
 * and each is checked (path, conflicts with every earlier record, size and
 * sha256) before its file is written; up to CONCURRENCY files are written at
 * once, behind the checks. The first refusal or mismatch stops the unpack
 * before that record is written, with a ShoeboxError (SHOEBOX_BAD_KEY for a
 * path, SHOEBOX_VERIFY_FAILED for content) naming the archive and the path:
 * the files of earlier records are restored (writes under way finish) and
 * stay; no later record is written.
 */
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { abortReason, checkCallback, checkSignal, invalidOption, ShoeboxError, throwIfAborted } from '../errors.js'
import { ensureDir, writeAll } from '../fs/durable.js'
import { moveNoReplace } from '../fs/link.js'
import { ioError } from '../fs/io-error.js'
import { realPathOf } from '../fs/real-path.js'
import type { ShoeboxRecord } from '../record.js'
import { parseTimestamp } from '../meta/state-db-values.js'
import { archiveSource } from '../source/archive-source.js'
import { keyProblem } from '../store/keys.js'
import type { StoreOptions } from '../store/open-store.js'
import { PathClaims } from './paths.js'
import { doneWritingTemp, hostName, leftByDeadWriter, writerTag, writingTemp } from '../roll/names.js'
import { plural } from '../plural.js'
import { checkFlag } from '../units.js'

export interface UnpackOptions {
  /** Directory to restore into; created if missing (and removed again if the unpack fails before restoring a file). */
  out: string
  /** For an s3:// pattern: endpoint, region, credentials... */
  storeOptions?: StoreOptions
  /** Replace files that exist already. Default false: an existing file stops the unpack (SHOEBOX_IO). */
  overwrite?: boolean
  /** fsync each file before it is renamed into place. Default false. */
  fsync?: boolean
  /** Largest record read (as in decode()), bytes or a size string; raise it for archives packed with a larger maxFileSize. */
  maxRecordSize?: number | string
  /** Most content one zstd frame may hold before it is decompressed (as in archiveSource()): bytes or a size string. Default 256 MiB. */
  maxFrameSize?: number | string
  /** Each file once it is in place (twice for a path an `overwrite` replaced). */
  onFile?: (event: UnpackedFile) => unknown
  /**
   * Stops the unpack when aborted (the CLI's SIGINT/SIGTERM), as a refusal
   * does: no new file is started, the writes under way finish (so no
   * temporary file is left), and unpack() rejects (SHOEBOX_ABORTED, or the
   * signal's reason when it is a ShoeboxError) saying how many files were restored.
   */
  signal?: AbortSignal
}

export interface UnpackedFile {
  /** The record's path, relative to `out`. */
  path: string
  bytes: number
  /** The archive it came from. */
  archive: string
}

export interface UnpackSummary {
  /** Paths restored, each counted once (a path a later record replaced, too). */
  files: number
  /** Their bytes, as they are now (a replaced file's last version). */
  bytes: number
  /** Archives records were read from. */
  archives: number
}

/**
 * Temporary files of this unpack, beside their targets:
 * `.shoebox-unpack-<host>~<writer>~<hex>` (the writer, its pid and start:
 * roll/names.ts). The host and writer say whose it is: one
 * that an unpack killed outright (SIGKILL) left is removed by the next unpack
 * that writes into its directory (sweepDeadTemps), never a live one's.
 */
const TEMP_PREFIX = '.shoebox-unpack-'
const TEMP = /^\.shoebox-unpack-(.+)~([^~]+)~[0-9a-f]{16}$/

/**
 * `out` where the files restored would be listed with the archives: the directory the pattern lists from
 * (`unpack('backup', { out: 'backup' })`, the pattern a directory standing for its files), or one below it that a
 * '**' reaches. The files restored there were mixed with the archives, and the next unpack of the same pattern read
 * them as archives and failed at the first ('truncated'). Refused before anything is read or written.
 */
async function refuseOutAmongArchives (out: string, root: string, pattern: string): Promise<void> {
  if (/^[a-z0-9+.-]+:\/\//i.test(root)) return
  const realRoot = await fs.realpath(root).catch(() => undefined)
  if (realRoot === undefined) return
  const realOut = realPathOf(out)
  const rel = path.relative(realRoot, realOut)
  const inside = rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)
  if (rel !== '' && !(inside && pattern.includes('**'))) return
  throw invalidOption('out', `${out} is ${rel === '' ? 'the directory' : 'inside the directory'} the archives are read from (${realRoot}): ` +
    'the files restored there would be read as archives by the next unpack of the same pattern; restore into another directory (nothing was restored)')
}

/**
 * Restore the files of every archive `pattern` matches (a local glob, or
 * 's3://bucket/prefix/*.shoebox.gz') into `options.out`.
 */
export async function unpack (pattern: string, options: UnpackOptions): Promise<UnpackSummary> {
  if (options === null || typeof options !== 'object' || typeof options.out !== 'string' || options.out === '') {
    throw invalidOption('out', 'a directory to unpack into is required')
  }
  // 'true' for overwrite or fsync was quietly no (=== true): refused, before the pattern is listed.
  checkFlag(options.overwrite, 'overwrite')
  checkFlag(options.fsync, 'fsync')
  // onFile: 'x' was called once the first file was written, failing the unpack with that file restored.
  checkSignal(options.signal)
  checkCallback(options.onFile, 'onFile')
  const signal = options.signal
  throwIfAborted(signal)
  // Read once, before this unpack does any I/O: reading it sets it to 0 for a moment (then back), and a file or
  // directory the thread pool made in that moment would miss the umask.
  const umask = process.umask()
  const source = archiveSource(pattern, {
    storeOptions: options.storeOptions,
    maxRecordSize: options.maxRecordSize,
    maxFrameSize: options.maxFrameSize,
    positions: true
  })
  try {
    await refuseOutAmongArchives(options.out, source.glob.root, source.glob.pattern)
  } catch (err) {
    source.destroy()
    throw err
  }
  let out: string
  // A directory this unpack makes is removed again if it fails with nothing restored ('nothing/*' matched no
  // archive: the directory was made before the pattern was listed).
  const made = !await fs.stat(options.out).then(() => true, () => false)
  try {
    await ensureDir(options.out, 'cannot unpack into')
    out = await fs.realpath(options.out)
  } catch (err) {
    source.destroy()
    if (err instanceof ShoeboxError) throw err
    throw ioError(err, 'cannot unpack into', options.out)
  }
  const restorer = new Restorer(out, options, umask)
  const claims = new PathClaims(options.overwrite === true)
  const archives = new Set<string>()
  // Positions name archives relative to the pattern's root (a directory, or the store's URL).
  const root = source.glob.root.endsWith('/') ? source.glob.root : `${source.glob.root}/`
  // Files are written a few at a time (each is several small filesystem calls);
  // every record is checked, in order, before its write starts, and after a
  // failure no new write starts (those under way finish).
  const running = new Map<string, Promise<void>>()
  let failure: unknown
  // An abort ends the reading of records; the failure path below then runs as for a refusal.
  // Archives opened, records or not: to say how many held nothing, when none held a record.
  let opened = 0
  source.on('file', () => { opened++ })
  const abort = (): void => { source.destroy(abortReason(signal as AbortSignal)) }
  signal?.addEventListener('abort', abort, { once: true })
  if (signal?.aborted === true) abort()
  try {
    for await (const record of source as AsyncIterable<ShoeboxRecord>) {
      if (failure !== undefined) break
      const archive = record.position === undefined ? pattern : root + record.position.file
      archives.add(archive)
      let job: Job
      try {
        job = restorer.check(record, archive)
        claims.claim(job.rel, job.where)
      } catch (err) {
        failure = err
        break
      }
      // The same path twice (with overwrite): the second waits for the first, then replaces it.
      const before = running.get(job.target)
      const write = (before ?? Promise.resolve()).then(async () => {
        if (failure === undefined) await restorer.write(job)
      })
        .catch((err: unknown) => { failure ??= err })
        .finally(() => { if (running.get(job.target) === write) running.delete(job.target) })
      running.set(job.target, write)
      if (running.size >= CONCURRENCY) await Promise.race(running.values())
    }
  } catch (err) {
    // A damaged or unreadable archive: the writes under way still finish first.
    failure ??= err
  } finally {
    signal?.removeEventListener('abort', abort)
  }
  await Promise.all(running.values())
  // Archives that hold no record (empty files) restore nothing, as a pattern that matches no archive: an
  // error, not a summary of 0 files (which the CLI printed with exit 0, leaving an empty directory).
  if (failure === undefined && archives.size === 0) {
    failure = new ShoeboxError('SHOEBOX_NOT_FOUND', `no packed file in the ${plural(opened, 'archive')} matching ${pattern}: ${opened === 1 ? 'it holds' : 'they hold'} no record`)
  }
  if (failure !== undefined) {
    // (rmdir removes only an empty directory: anything in it, ours or not, keeps it.)
    const removed = made && restorer.files === 0 && await fs.rmdir(out).then(() => true, () => false)
    // Say what was kept, whichever file failed: the files restored before the failure stay, or none was (the
    // first file's failure said nothing, and a user on a read-only or full disk could not tell what was written).
    // A pattern that matches no archive (a typo, most likely) is said as such alone: nothing was there to restore.
    const matchedNone = failure instanceof ShoeboxError && failure.code === 'SHOEBOX_NOT_FOUND' && opened === 0
    if (failure instanceof ShoeboxError && !matchedNone) {
      failure.message += restorer.files > 0
        ? `; ${plural(restorer.files, 'file')} restored before it ${restorer.files === 1 ? 'stays' : 'stay'} in ${out}`
        : `; nothing restored into ${out}${removed ? ' (made for this unpack, removed again)' : ''}`
    }
    throw failure
  }
  return { files: restorer.files, bytes: restorer.bytes, archives: archives.size }
}

/** Directories checked, by segment. */
type DirTree = Map<string, DirTree>

/** Files being written at once. */
const CONCURRENCY = 8

/** A checked record, ready to write. */
interface Job {
  rel: string
  target: string
  segments: string[]
  payload: Buffer
  meta: Record<string, string>
  archive: string
  where: string
}

class Restorer {
  /** Bytes of each path restored, its last version. */
  readonly #restored = new Map<string, number>()
  readonly #root: string
  readonly #options: UnpackOptions
  /**
   * Directories below root already checked (or made) by this unpack: real directories, no links. A tree of
   * segments, as PathClaims keeps: a set of their paths held the square of a deep path's length.
   */
  readonly #dirs: DirTree = new Map()
  /** Directories swept of dead unpacks' temporary files (sweepDeadTemps), each once, before its first write. */
  readonly #swept = new Map<string, Promise<void>>()
  /** The process umask when the unpack began, taken from every restored mode. */
  readonly #umask: number

  constructor (root: string, options: UnpackOptions, umask: number) {
    this.#root = root
    this.#options = options
    this.#umask = umask
  }

  get files (): number {
    return this.#restored.size
  }

  get bytes (): number {
    let sum = 0
    for (const bytes of this.#restored.values()) sum += bytes
    return sum
  }

  /**
   * Everything that can be checked without touching the disk: the path is
   * safe and stays inside the output directory, the payload matches the
   * record's size and sha256. Throws (SHOEBOX_BAD_KEY, SHOEBOX_VERIFY_FAILED) if not.
   */
  check (record: ShoeboxRecord, archive: string): Job {
    const where = record.position === undefined ? archive : `${archive} (record at byte ${record.position.offset})`
    const meta = record.metadata
    const rel = meta.path
    if (typeof rel !== 'string') throw new ShoeboxError('SHOEBOX_BAD_KEY', `${where}: record has no path (not a packed file)`)
    const refuse = (why: string): ShoeboxError =>
      new ShoeboxError('SHOEBOX_BAD_KEY', `${where}: refusing path ${JSON.stringify(rel)}: ${why}`)
    const unsafe = keyProblem(rel)
    if (unsafe !== undefined) throw refuse(unsafe)
    if (process.platform === 'win32' && /[:*?"<>|]/.test(rel)) throw refuse('has a character Windows reserves')
    const segments = rel.split('/')
    const target = path.resolve(this.#root, ...segments)
    const inside = this.#root.endsWith(path.sep) ? this.#root : this.#root + path.sep
    if (!target.startsWith(inside)) throw refuse(`resolves outside ${this.#root}`)

    const payload = record.payload
    const mismatch = (why: string): ShoeboxError =>
      new ShoeboxError('SHOEBOX_VERIFY_FAILED', `${where}: ${JSON.stringify(rel)}: ${why}; nothing written`)
    const size = meta.size
    if (typeof size !== 'string' || !/^\d+$/.test(size)) throw mismatch('record has no valid size')
    if (Number(size) !== payload.length) throw mismatch(`payload is ${payload.length} bytes, the record says ${size}`)
    const expected = meta.sha256
    if (typeof expected !== 'string' || !/^[0-9a-fA-F]{64}$/.test(expected)) throw mismatch('record has no valid sha256')
    const actual = createHash('sha256').update(payload).digest('hex')
    if (actual !== expected.toLowerCase()) throw mismatch(`sha256 is ${actual}, the record says ${expected.toLowerCase()}`)
    return { rel, target, segments, payload, meta, archive, where }
  }

  /** Make the directories on the way (refusing symlinks among them) and write the file into place. */
  async write (job: Job): Promise<void> {
    const { rel, segments, where } = job
    const refuse = (why: string): ShoeboxError =>
      new ShoeboxError('SHOEBOX_BAD_KEY', `${where}: refusing path ${JSON.stringify(rel)}: ${why}`)
    let dir = this.#root
    let known = this.#dirs
    for (let i = 0; i < segments.length - 1; i++) {
      dir = path.join(dir, segments[i])
      let next = known.get(segments[i])
      if (next === undefined) {
        await this.#directory(dir, segments.slice(0, i + 1).join('/'), refuse, where)
        next = known.get(segments[i]) ?? new Map()
        known.set(segments[i], next)
      }
      known = next
    }
    let sweep = this.#swept.get(dir)
    if (sweep === undefined) {
      sweep = sweepDeadTemps(dir)
      this.#swept.set(dir, sweep)
    }
    await sweep
    await this.#write(job.target, dir, rel, job.payload, job.meta, where)
    this.#restored.set(rel, job.payload.length)
    // Awaited: an async callback that rejects fails the unpack (it was an unhandled rejection, which ends the process).
    await this.#options.onFile?.({ path: rel, bytes: job.payload.length, archive: job.archive })
  }

  /** Make sure `dir` is a real directory (not a link to one), making it if missing. */
  async #directory (dir: string, rel: string, refuse: (why: string) => ShoeboxError, where: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let st
      try {
        st = await fs.lstat(dir)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw ioError(err, `${where}: cannot create directory`, dir)
        try {
          await fs.mkdir(dir)
        } catch (mkdirErr) {
          // Made by someone else in the meantime: look again.
          if ((mkdirErr as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(mkdirErr, `${where}: cannot create directory`, dir)
        }
        continue
      }
      if (st.isSymbolicLink()) throw refuse(`${JSON.stringify(rel)} in ${this.#root} is a symbolic link`)
      if (!st.isDirectory()) {
        throw new ShoeboxError('SHOEBOX_IO', `${where}: cannot restore into ${JSON.stringify(rel)}: it exists and is not a directory`)
      }
      return
    }
  }

  async #write (target: string, dir: string, rel: string, payload: Buffer, meta: Record<string, string>, where: string): Promise<void> {
    let existing
    try {
      existing = await fs.lstat(target)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, `${where}: cannot restore ${JSON.stringify(rel)} as`, target)
    }
    const exists = (): ShoeboxError => new ShoeboxError('SHOEBOX_IO', `${where}: ${JSON.stringify(rel)} exists in ${this.#root} (overwrite to replace it)`)
    if (existing !== undefined) {
      if (existing.isDirectory()) throw new ShoeboxError('SHOEBOX_IO', `${where}: cannot restore ${JSON.stringify(rel)}: a directory is in the way`)
      if (this.#options.overwrite !== true) throw exists()
      // A symlink there is replaced by the rename, never written through.
    }
    const temp = path.join(dir, `${TEMP_PREFIX}${hostName()}~${writerTag()}~${randomBytes(8).toString('hex')}`)
    // Known to sweeps (sweepDeadTemps) as this process's from before it exists until it is renamed or removed.
    writingTemp(temp)
    // 'wx': O_CREAT|O_EXCL, which never follows a link at the name.
    const handle = await fs.open(temp, 'wx', 0o600).catch((err: unknown) => {
      doneWritingTemp(temp)
      throw ioError(err, `${where}: cannot restore ${JSON.stringify(rel)} as`, target)
    })
    let renamed = false
    try {
      await writeAll(handle, payload)
      const mode = parseMode(meta.mode)
      // fchmod ignores the umask; tar (for a user other than root) applies it, so a stranger's 0777 is not world-writable here.
      if (mode !== undefined) await handle.chmod(mode & ~this.#umask)
      const mtime = parseTime(meta.mtime)
      if (mtime !== undefined) await handle.utimes(new Date(), utimeSeconds(mtime.getTime()))
      if (this.#options.fsync === true) await handle.sync()
      await handle.close()
      if (this.#options.overwrite === true) {
        await fs.rename(temp, target)
      } else if (!await moveNoReplace(temp, target)) {
        // Made since the check above (another unpack into the same directory, a
        // program writing there): a rename would have replaced it unasked.
        throw exists()
      }
      renamed = true
    } catch (err) {
      if (err instanceof ShoeboxError) throw err
      throw ioError(err, `${where}: cannot restore ${JSON.stringify(rel)} as`, target)
    } finally {
      if (!renamed) {
        await handle.close().catch(() => {})
        await fs.unlink(temp).catch(() => {})
      }
      doneWritingTemp(temp)
    }
  }
}

/**
 * Remove from `dir` the temporary files of unpacks on this host whose
 * process is gone (killed outright: nothing else ever removes them). One
 * readdir of a directory this unpack writes into anyway; a live unpack's
 * (its pid running, in a process that started as its name says; of this process's pid, one this process is writing) is left. Best effort: a file that
 * cannot be removed stays for the next unpack.
 */
async function sweepDeadTemps (dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[])
  for (const name of names) {
    const m = name.startsWith(TEMP_PREFIX) ? TEMP.exec(name) : null
    const file = path.join(dir, name)
    if (m === null || !leftByDeadWriter(file, m[1], m[2])) continue
    await fs.unlink(file).catch(() => {})
  }
}

/**
 * Epoch ms as the seconds to give utimes(), which truncates them (a double) to the microsecond: a Date gave a
 * double just under its millisecond for about half of all times (1796644800.001 is 1796644800.000999927...), and
 * the file came back a millisecond early (packed again as .000Z). Half a microsecond more (two of the double's
 * steps past 2106, where a step passes that) lands each time on its millisecond, an exact one exactly. Before
 * 1970 a Date: Node takes a negative number of seconds for now, and the truncation, toward zero, keeps such a
 * time on its millisecond.
 */
function utimeSeconds (ms: number): number | Date {
  if (ms < 0) return new Date(ms)
  const seconds = ms / 1000
  const step = seconds === 0 ? 0 : 2 ** (Math.floor(Math.log2(Math.abs(seconds))) - 52)
  return seconds + Math.max(5e-7, 2 * step)
}

/**
 * Permission bits of an octal mode string ('0644'); setuid, setgid and sticky
 * bits are never restored (an archive is not trusted to make a setuid file).
 */
function parseMode (text: string | undefined): number | undefined {
  if (typeof text !== 'string' || !/^[0-7]{1,6}$/.test(text)) return undefined
  return parseInt(text, 8) & 0o777
}

/**
 * An ISO 8601 time (no zone: UTC, as the metadir reads one) or milliseconds since the epoch; undefined for one
 * that does not parse or is no date (past ±8.64e15 ms). Date.parse read a zone-less time in the machine's zone, so
 * one archive restored other mtimes under another TZ.
 */
function parseTime (text: string | undefined): Date | undefined {
  if (typeof text !== 'string' || text === '') return undefined
  const ms = /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : parseTimestamp(text)?.getTime() ?? NaN
  // An Invalid Date reached utimes, and failed the unpack (EINVAL).
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? undefined : date
}
