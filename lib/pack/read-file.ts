/**
 * Reading one file of a tree for pack(), as one version of it. A file that
 * another program writes while we read it would otherwise be stored torn:
 * its first megabytes from the old version, the rest from the new, with a
 * sha256 taken over those torn bytes that verifies on unpack. So, as tar's
 * "file changed as we read it": the open file is stat'ed before and after
 * its bytes are read, and if its size, mtime or ctime moved (ctime catches
 * a writer that puts the mtime back, as `cp -p` and `rsync -t` do), or the
 * bytes read are not the size it had, this read is thrown away. The caller
 * reads it again (a few times) and then fails or skips the file by name.
 *
 * Times are compared in nanoseconds (bigint stats). A file replaced by a
 * rename during the read is not a change here: the open handle keeps
 * reading the old inode, one whole version.
 */
import { createHash } from 'node:crypto'
import { constants as fsConstants, type BigIntStats } from 'node:fs'
import fs from 'node:fs/promises'

/** Bytes per read() call; each is followed by a `progress` event. */
export const READ_CHUNK = 1024 * 1024

/** Where a read of a file has got to (emitted after each chunk, and once for an empty file). */
export interface ReadProgress {
  /** Relative path, '/'-separated. */
  path: string
  /** Bytes read so far in this attempt. */
  bytes: number
  /** The file's size when this attempt began. */
  size: number
  /** 1 for the first read of the file, 2 for the first retry... */
  attempt: number
}

export type ReadOutcome =
  | { kind: 'read', payload: Buffer, sha256: string, mtimeMs: number, mode: number }
  /** The file changed during this read: `change` says how ('size 10 -> 12'). */
  | { kind: 'changed', change: string }
  /** Not a regular file any more (replaced by a link or something else since it was listed, or gone). */
  | { kind: 'not packed', reason: 'symlink' | 'vanished' | 'not a regular file' }

export interface ReadFileOptions {
  /** Relative path (for progress events). */
  rel: string
  attempt: number
  /** Called with the file's size before it is read; throws to refuse it. */
  checkSize: (size: number) => void
  onProgress: (progress: ReadProgress) => void
}

/**
 * Read the file at `abs` once (never through a symlink), hashing as it
 * reads. Errors from the filesystem (EACCES, EIO...) are thrown as they are,
 * for the caller to name or skip.
 */
export async function readFileOnce (abs: string, options: ReadFileOptions): Promise<ReadOutcome> {
  let handle: fs.FileHandle
  try {
    // O_NONBLOCK: a FIFO put there since the listing must not block the open.
    handle = await fs.open(abs, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // Replaced by a symlink, or gone, since the directory was listed.
    if (code === 'ELOOP' || code === 'EMLINK') return { kind: 'not packed', reason: 'symlink' }
    if (code === 'ENOENT') return { kind: 'not packed', reason: 'vanished' }
    throw err
  }
  try {
    const before = await handle.stat({ bigint: true })
    if (!before.isFile()) return { kind: 'not packed', reason: 'not a regular file' }
    const size = Number(before.size)
    options.checkSize(size)
    const hash = createHash('sha256')
    // One byte more than the size stat gave: a read that fills it means the
    // file grew, and this read stops there (a file growing faster than it is
    // read would otherwise never end); one that returns 0 first ends the file.
    const buf = Buffer.allocUnsafe(size + 1)
    let n = 0
    while (n < buf.length) {
      const { bytesRead } = await handle.read(buf, n, Math.min(READ_CHUNK, buf.length - n), n)
      if (bytesRead === 0) break
      hash.update(buf.subarray(n, n + bytesRead))
      n += bytesRead
      options.onProgress({ path: options.rel, bytes: n, size, attempt: options.attempt })
    }
    if (n === 0) options.onProgress({ path: options.rel, bytes: 0, size, attempt: options.attempt })
    const after = await handle.stat({ bigint: true })
    const change = changeOf(before, after, n)
    if (change !== undefined) return { kind: 'changed', change }
    return {
      kind: 'read',
      payload: buf.subarray(0, n),
      sha256: hash.digest('hex'),
      // Rounded to the millisecond, as utimes() from a JS Date leaves it a few nanoseconds short.
      mtimeMs: Math.round(Number(before.mtimeNs) / 1e6),
      mode: Number(before.mode) & 0o7777
    }
  } finally {
    await handle.close()
  }
}

/** How the file moved between the two stats (or from the bytes read), or undefined if it did not. */
function changeOf (before: BigIntStats, after: BigIntStats, bytesRead: number): string | undefined {
  const changes: string[] = []
  if (after.size !== before.size) changes.push(`size ${before.size} -> ${after.size}`)
  else if (BigInt(bytesRead) !== before.size) changes.push(`size ${before.size}, ${bytesRead} bytes read`)
  if (after.mtimeNs !== before.mtimeNs) changes.push(`mtime ${nsTime(before.mtimeNs)} -> ${nsTime(after.mtimeNs)}`)
  else if (after.ctimeNs !== before.ctimeNs) changes.push(`ctime ${nsTime(before.ctimeNs)} -> ${nsTime(after.ctimeNs)}`)
  return changes.length === 0 ? undefined : changes.join(', ')
}

/** ISO 8601 to the nanosecond. The milliseconds floored, so the rest is never negative (before 1970, ns / 10^6 rounds toward zero). */
function nsTime (ns: bigint): string {
  const rest = ((ns % 1_000_000n) + 1_000_000n) % 1_000_000n
  const iso = new Date(Number((ns - rest) / 1_000_000n)).toISOString()
  return iso.slice(0, -1) + String(rest).padStart(6, '0') + 'Z'
}
