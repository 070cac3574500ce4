/**
 * Durable file helpers, shared by every part that writes to disk (the file
 * store, the rolling sink, pack/unpack, and later the metadir and the event
 * store): write a whole buffer, fsync a file or a directory (so a new name
 * in it survives a crash), create a directory (saying when a file is in the
 * way), and write a small file whole or not at all (a temporary name beside
 * the target, fsync, rename, directory fsync). Giving a file a name without
 * replacing another is link.ts.
 */
import { createRequire } from 'node:module'
import fs from 'node:fs/promises'
import path from 'node:path'
import { ShoeboxError } from '../errors.js'
import { ioError } from './io-error.js'

/** Write all of `data` at the handle's position (a short write is continued, never left). */
export async function writeAll (handle: fs.FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset)
    offset += bytesWritten
  }
}

/**
 * Write all of `parts`, in order, at the handle's position, in as few writev
 * calls as the kernel takes (a short writev is continued). `written` is told
 * the bytes of each call as it returns, so a caller whose write fails part-way
 * knows which parts reached the file whole.
 */
export async function writevAll (handle: fs.FileHandle, parts: readonly Buffer[], written?: (bytes: number) => void): Promise<void> {
  let rest = [...parts]
  while (rest.length > 0) {
    let { bytesWritten } = await handle.writev(rest)
    written?.(bytesWritten)
    let done = 0
    while (done < rest.length && bytesWritten >= rest[done].length) bytesWritten -= rest[done++].length
    rest = rest.slice(done)
    if (bytesWritten > 0) rest[0] = rest[0].subarray(bytesWritten)
  }
}

/** fsync what `name` names, opened with `flags` ('r' for a directory, 'r+' for a file). */
async function syncPath (name: string, flags: string): Promise<void> {
  const handle = await fs.open(name, flags)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** fsync a directory, so a file created, renamed or linked in it survives a crash. */
export async function syncDir (dir: string): Promise<void> {
  await syncPath(dir, 'r')
}

let crypto: typeof import('node:crypto') | undefined

/**
 * node:crypto, required on the first call, not at import: it loads about
 * twenty of Node's own modules, only writers need it, and importing the
 * package must stay about as fast as starting Node.
 */
export function nodeCrypto (): typeof import('node:crypto') {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')
  return crypto
}

/** 12 random hex digits for a temporary name. */
export function randomSuffix (): string {
  return nodeCrypto().randomBytes(6).toString('hex')
}

/** A hidden temporary name beside `target`, unique to this call: `.NAME.<random>.tmp`. */
export function tempBeside (target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomSuffix()}.tmp`)
}

export interface DurableWriteOptions {
  /** fsync the file and its directory (default true). */
  fsync?: boolean
  /** Permission bits of the new file (default 0o644, less the umask). */
  mode?: number
}

/**
 * Replace `target` with `data` so that a reader (or a crash) sees the old
 * content or the new, never part of either. The temporary file is removed if
 * anything fails. `data` may come in pieces (an iterable of buffers, each
 * written as it is made), so a large file is never held whole.
 */
export async function writeFileDurably (target: string, data: Uint8Array | string | Iterable<Uint8Array>, options: DurableWriteOptions = {}): Promise<void> {
  const sync = options.fsync ?? true
  const temp = tempBeside(target)
  const handle = await fs.open(temp, 'wx', options.mode ?? 0o644)
  let renamed = false
  try {
    if (typeof data === 'string') await writeAll(handle, Buffer.from(data))
    else if (data instanceof Uint8Array) await writeAll(handle, data)
    else for (const piece of data) await writeAll(handle, piece)
    if (sync) await handle.sync()
    await handle.close()
    await fs.rename(temp, target)
    renamed = true
    if (sync) await syncDir(path.dirname(target))
  } finally {
    if (!renamed) {
      await handle.close().catch(() => {})
      await fs.unlink(temp).catch(() => {})
    }
  }
}

/** fsync a file by name (one that was written and closed, or truncated). */
export async function syncFile (file: string): Promise<void> {
  await syncPath(file, 'r+')
}

/**
 * Create `dir` and its parents if missing, as one clear error when it cannot
 * be: a file where the directory (or a parent) should be is "a file is in the
 * way", not a raw EEXIST or ENOTDIR. `what` begins the error line.
 */
export async function ensureDir (dir: string, what = 'cannot create directory'): Promise<void> {
  try {
    await makeDirs(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new ShoeboxError('SHOEBOX_IO', `${what} ${dir}: a file is in the way (${code})`, { cause: err })
    }
    throw ioError(err, what, dir)
  }
}

/**
 * mkdir -p: create `dir` and its missing parents; errno errors as they come
 * (callers name the path). Not fs.mkdir's `recursive`, whose loop (libuv's)
 * never ends where mkdir says ENOENT below a parent that exists (/proc,
 * /sys, some network and FUSE filesystems): `shoebox serve --data /proc/x`
 * hung there, ignoring SIGTERM. Here each level is tried once more after its
 * parent is made, and a second ENOENT is the error.
 */
export async function makeDirs (dir: string): Promise<void> {
  const target = path.resolve(dir)
  try {
    await fs.mkdir(target)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // A directory, or a link to one, is what was asked for; anything else is in the way.
    if (code === 'EEXIST' && await isDirectory(target)) return
    const parent = path.dirname(target)
    if (code !== 'ENOENT' || parent === target) throw err
    await makeDirs(parent)
    try {
      await fs.mkdir(target)
    } catch (again) {
      // Made meanwhile by someone else: as good.
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST' || !await isDirectory(target)) throw again
    }
  }
}

async function isDirectory (target: string): Promise<boolean> {
  return await fs.stat(target).then((st) => st.isDirectory(), () => false)
}
