/**
 * Recovery of files a writer left behind (a crash, a kill, a full disk).
 * A leftover temporary file is cut back to its last whole record (plain) or
 * last complete gzip member or zstd frame, then sealed under its final name like any other
 * file. Nothing readable is ever deleted: if readable data follows a damaged
 * stretch, the file is sealed whole and reported as damaged instead of cut.
 * How far the good part goes is temp-scan.ts's judgement, made a window at
 * a time, so a file of any size recovers (over 2 GiB too). A zstd frame
 * over maxFrameSize ends the good part, and it is kept, not cut.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { checkOptionsObject, ShoeboxError } from '../errors.js'
import { syncDir, syncFile } from '../fs/durable.js'
import { ioError, orIoError } from '../fs/io-error.js'
import { checkFlag } from '../units.js'
import { holderAlive } from '../process-start.js'
import { heldHere, hostName, parseTempName, sealName } from './names.js'
import { type ScanOptions, scanTemp } from './temp-scan.js'

export interface RecoveredFile {
  /** The temporary file found. */
  temp: string
  /** Where it was sealed, or null when it held no whole record (then it was removed). */
  path: string | null
  records: number
  /** Bytes cut from the end (a torn last record or gzip member). */
  bytesDropped: number
  /** Readable data followed a damaged stretch, so nothing was cut; `shoebox verify` shows where. */
  damaged: boolean
  /**
   * Why the good part ends at a zstd frame too large to be one a sink writes
   * (by its headers over maxFrameSize, 256 MiB; a sink's are about its
   * blockSize, 1 MiB): never decompressed, and kept, not cut, as it may read
   * with a larger maxFrameSize. Absent otherwise.
   */
  tooLarge?: string
}

export interface SkippedTemp {
  temp: string
  reason: string
  /**
   * Set where the file was read and could not be recovered here: 'SHOEBOX_UNSUPPORTED' (a zstd file where this
   * install has no zstd: it still needs recovering, elsewhere) or 'SHOEBOX_BAD_MAGIC' (not an archive). Absent for a
   * file left alone by rule (a live writer's, another host's, not a regular file).
   */
  code?: 'SHOEBOX_UNSUPPORTED' | 'SHOEBOX_BAD_MAGIC'
}

export interface RecoverOptions {
  /** Also recover files of writers on other hosts, or of live pids (only when you know they are gone). */
  force?: boolean
  /**
   * Told about temporary files left alone (a live writer's, or another host's). What it returns is
   * awaited (so are onRecover's): an async callback that rejects fails the recovery with its error,
   * where it was an unhandled rejection, which ends the process.
   */
  onSkip?: (skipped: SkippedTemp) => unknown
  /** Told about each file as soon as it is sealed (so a failure later still leaves a record of it). */
  onRecover?: (recovered: RecoveredFile) => unknown
}

export async function recoverDirectory (dir: string, options: RecoverOptions = {}): Promise<RecoveredFile[]> {
  checkOptionsObject(options, 'recoverDirectory()')
  // force: 'true' (a string) was quietly no (=== true): refused, as every yes/no option is.
  checkFlag(options.force, 'force')
  const out: RecoveredFile[] = []
  const host = hostName()
  const names = await orIoError(fs.readdir(dir), 'cannot recover', dir)
  for (const name of names.sort()) {
    const parts = parseTempName(name)
    if (parts === undefined) continue
    const temp = path.join(dir, name)
    // Only a regular file is a writer's: a directory of that name stopped the
    // recovery of every file after it (and a sink's start), and a symbolic link
    // was read and truncated through, whatever it pointed at.
    const kind = await kindOf(temp)
    if (kind === 'gone') continue
    if (kind !== 'file') {
      await options.onSkip?.({ temp, reason: `${kind}, not a file a writer left` })
      continue
    }
    if (options.force !== true) {
      if (parts.host !== host) {
        await options.onSkip?.({ temp, reason: `written by host ${parts.host}; recover with force if that writer is gone` })
        continue
      }
      // This pid: a file none of this process's sinks holds is a dead writer's that had the pid before (names.ts, `held`).
      // Another pid running: its writer's unless the name says a start it does not have (a pid comes back: names.ts).
      if (parts.pid === process.pid ? await heldHere(await orIoError(fs.lstat(temp), 'cannot recover', temp)) : holderAlive(parts.pid, parts.start)) {
        await options.onSkip?.({ temp, reason: `pid ${parts.pid} is still writing it` })
        continue
      }
    }
    let recovered: RecoveredFile
    try {
      recovered = await recoverFile(dir, temp, parts.finalName)
    } catch (err) {
      // Gone meanwhile: another recovery (another writer starting) sealed it.
      if (((err as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') continue
      // A zstd file where this install has no zstd: left as it is, for one that has; so is a file that is no archive.
      if (err instanceof ShoeboxError && (err.code === 'SHOEBOX_UNSUPPORTED' || err.code === 'SHOEBOX_BAD_MAGIC')) {
        await options.onSkip?.({ temp, reason: err.message, code: err.code })
        continue
      }
      throw err
    }
    out.push(recovered)
    await options.onRecover?.(recovered)
  }
  return out
}

/** What is at `file`, not following a link. */
async function kindOf (file: string): Promise<'file' | 'gone' | 'a symbolic link' | 'a directory' | 'not a regular file'> {
  try {
    const st = await fs.lstat(file)
    return st.isFile() ? 'file' : st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? 'a directory' : 'not a regular file'
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
    throw ioError(err, 'cannot recover', file)
  }
}

/** Recover one temporary file into `dir` under `finalName` (or the next free alternative). `scan`: the window, for tests. */
export async function recoverFile (dir: string, temp: string, finalName: string, scan: ScanOptions = {}): Promise<RecoveredFile> {
  // Every failure names the file (or directory) it happened to: SHOEBOX_IO, errno in `cause`.
  const found = await scanTemp(temp, scan)
  const result: RecoveredFile = { temp, path: null, records: found.records, bytesDropped: 0, damaged: false }
  if (found.tooLarge !== null) result.tooLarge = found.tooLarge
  // No record (whole empty gzip members or zstd frames too: they were sealed as an archive of 0 records).
  if (found.records === 0 && !found.moreAfter && found.tooLarge === null) {
    // Not begun by a writer of ours (another program's file under a name like ours): not ours to delete.
    if (!found.begunAsArchive) {
      throw new ShoeboxError('SHOEBOX_BAD_MAGIC', `not an archive (its first bytes are not a record's, a gzip member's or a zstd frame's); left as it is`)
    }
    // No whole record (an empty file too): nothing to seal.
    result.bytesDropped = found.size
    await orIoError(fs.unlink(temp), 'cannot remove', temp)
    return result
  }
  if (found.end < found.size) {
    if (found.moreAfter) {
      result.damaged = true
    } else if (found.tooLarge === null) {
      result.bytesDropped = found.size - found.end
      await orIoError(fs.truncate(temp, found.end), 'cannot truncate', temp)
    }
  }
  await orIoError(syncFile(temp), 'cannot fsync', temp)
  result.path = await orIoError(sealName(dir, temp, finalName), 'cannot seal', temp)
  await orIoError(syncDir(dir), 'cannot fsync directory', dir)
  return result
}
