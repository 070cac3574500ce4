/**
 * Push a growing file's newest bytes towards the disk without waiting for
 * them, so that the fsync that makes the file durable (a rolling sink's
 * seal) has little left to do when it comes.
 *
 * On Linux, with the addon, this is sync_file_range(SYNC_FILE_RANGE_WRITE)
 * (native/writeback.c): it queues the range's dirty pages for writing and
 * returns in ~0.1 ms, where fdatasync held a thread-pool thread for 2-7 ms
 * waiting for the journal, while the compressions held the other threads and
 * the next read and write waited behind it. Elsewhere (no addon, another
 * platform, SHOEBOX_NATIVE=0, or a file the call does not apply to) it is
 * fdatasync, as before. Neither promises anything by itself: durability
 * is the later fsync's, which also reports a page that failed to write.
 */
import type { FileHandle } from 'node:fs/promises'
import util from 'node:util'
import { loadNativeWriteback, type NativeWriteback } from '../native.js'

// Loaded at the first call, not at import: a SHOEBOX_NATIVE typo (SHOEBOX_USAGE, native.ts) then fails that call.
let native: NativeWriteback | null | undefined

function nativeWriteback (): NativeWriteback | null {
  if (native === undefined) native = loadNativeWriteback()
  return native
}

/** errnos saying sync_file_range does not apply here (not that the file is in trouble): fdatasync instead. */
const NOT_APPLICABLE = new Set(['ENOSYS', 'EINVAL', 'ESPIPE', 'EOPNOTSUPP'])

/**
 * Start writing bytes [offset, offset + length) of the file open as `handle`
 * to the disk. Resolves once they are queued (sync_file_range) or written
 * (fdatasync, the fallback); rejects with an errno error (`code`, `errno`,
 * `syscall`) as node:fs does. `using` is for tests: the native function to
 * call, null for none. A `length` of 0 is sync_file_range's "to the end of
 * the file", not nothing (the fallback syncs the whole file in any case).
 */
export async function startWriteback (handle: FileHandle, offset: number, length: number, using: NativeWriteback | null = nativeWriteback()): Promise<void> {
  if (using !== null) {
    try {
      await using.startWriteback(handle.fd, offset, length)
      return
    } catch (err) {
      const failure = asErrnoError(err)
      if (!NOT_APPLICABLE.has(failure.code ?? '')) throw failure
    }
  }
  await handle.datasync()
}

/** The addon's rejection (a positive `errno`) as node:fs words its errors: `code` ('EIO'), a negative `errno`, `syscall`. */
function asErrnoError (err: unknown): NodeJS.ErrnoException {
  const errno = (err as { errno?: unknown }).errno
  if (!(err instanceof Error) || typeof errno !== 'number' || errno <= 0) return err as NodeJS.ErrnoException
  const code = util.getSystemErrorName(-errno)
  return Object.assign(new Error(`${code}: ${err.message}, sync_file_range`), { code, errno: -errno, syscall: 'sync_file_range' })
}
