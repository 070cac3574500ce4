/**
 * Filesystem failures as one clear line: what was being done, to which path,
 * and why in words ("no space left on device"), never a bare errno. Every
 * module that touches the disk reports through here, so a CLI line always
 * names the file or directory.
 */
import { ShoeboxError } from '../errors.js'

const WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  EFBIG: 'file too large',
  EIO: 'input/output error',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links'
}

/** An errno error in words ('permission denied'), or its message when it has no code we know. */
export function describeIoError (err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (typeof code === 'string' && code in WORDS) return `${WORDS[code]} (${code})`
  return (err as Error | undefined)?.message ?? String(err)
}

/**
 * A SHOEBOX_IO error: "<action> <path>: <why>", e.g. "cannot write
 * /data/x.part: no space left on device (ENOSPC)", keeping the errno `code`
 * reachable as `cause`. A ShoeboxError passes through unchanged.
 */
export function ioError (err: unknown, action: string, path: string): ShoeboxError {
  if (err instanceof ShoeboxError) return err
  return new ShoeboxError('SHOEBOX_IO', `${action} ${path}: ${describeIoError(err)}`, { cause: err })
}

/** `promise`, with a filesystem failure turned into ioError(err, action, path). */
export async function orIoError<T> (promise: Promise<T>, action: string, path: string): Promise<T> {
  try {
    return await promise
  } catch (err) {
    throw ioError(err, action, path)
  }
}
