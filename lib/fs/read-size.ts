/**
 * A file's reads sized to what it holds: a stream's read size
 * (fileReadSize), and a small file whole in one read (readWhole).
 */
import fs from 'node:fs'

/**
 * How many bytes a file stream reads at a time. fs.ReadStream allocates a
 * whole highWaterMark for every read, the last one (which finds the end)
 * included, and V8 counts that memory: read through 1 MiB buffers, each
 * small file cost 2 MiB, and reading 11,000 files of 49 bytes spent 29% of
 * its time in the garbage collector. So a stream over a file gets what the
 * file holds (from where the read starts), within 16 KiB .. 1 MiB: a file
 * still growing is read on, in reads of that size.
 */
export function fileReadSize (bytes: number): number {
  return Math.min(1024 * 1024, Math.max(16 * 1024, bytes))
}

/** The largest file (as sized beforehand) read whole in one read: as many as a few of these are held at once (read-ahead.ts). */
export const SMALL_FILE_BYTES = 256 * 1024

/**
 * The bytes of the open file `fd` from `start` to its end, `expected` of them
 * as sized beforehand, or null when the file has grown since: the caller
 * then streams it from `start` (a file still being appended to could grow
 * without bound while it is read; a stream holds a read of it at a time).
 * Does not close `fd`.
 *
 * Reading thousands of one-record archives, each file through an
 * fs.ReadStream cost a stream object, its listeners and two reads on libuv's
 * thread pool: one for the bytes and one more to find the end. Where the size
 * is known (a listing's, or fstat's), one positioned read into a buffer one
 * byte larger does both: fewer bytes than the buffer holds is the end (a file
 * that shrank since gives what it still holds; a regular file's read returns
 * short only at its end); the last byte filled says the file grew.
 */
export async function readWhole (fd: number, start: number, expected: number): Promise<Buffer | null> {
  const buf = Buffer.allocUnsafe(expected + 1)
  const n = await readAt(fd, buf, start)
  return n <= expected ? buf.subarray(0, n) : null
}

/** One positioned read into `buf`, as many bytes as it holds or the file has. */
async function readAt (fd: number, buf: Buffer, position: number): Promise<number> {
  return await new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, buf.length, position, (err, n) => { if (err !== null) reject(err); else resolve(n) })
  })
}
