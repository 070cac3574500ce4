/** Shared CLI plumbing: standard streams, opening inputs, and one-line errors. */
import fs from 'node:fs'
import type { Readable, Writable } from 'node:stream'
import { ShoeboxError } from '../errors.js'
import { describeIoError } from '../fs/io-error.js'

export { describeIoError }

/** Read with 1 MiB chunks: the default 64 KiB costs about 3x on this path. */
export const READ_CHUNK = 1024 * 1024

export interface Io {
  stdin: Readable
  stdout: Writable
  stderr: Writable
}

/**
 * Open a named input ('-' is standard input), reporting a missing file or a
 * directory as one clear line before any streaming starts (a directory opens
 * fine on Linux and fails only at the first read, with a bare EISDIR).
 */
export async function openInput (io: Io, name: string): Promise<Readable> {
  if (name === '-') return io.stdin
  let handle: fs.promises.FileHandle
  try {
    handle = await fs.promises.open(name, 'r')
  } catch (err) {
    throw new ShoeboxError('SHOEBOX_IO', `cannot read ${name}: ${describeIoError(err)}`, { cause: err })
  }
  const stat = await handle.stat().catch(async (err: unknown) => {
    await handle.close()
    throw new ShoeboxError('SHOEBOX_IO', `cannot read ${name}: ${describeIoError(err)}`, { cause: err })
  })
  if (stat.isDirectory()) {
    await handle.close()
    throw new ShoeboxError('SHOEBOX_IO', `cannot read ${name}: is a directory`)
  }
  return handle.createReadStream({ highWaterMark: READ_CHUNK })
}

/**
 * Standard streams for the real process. A regular file (`< in.ndjson`,
 * `> out.shoebox`) is read and written with 1 MiB chunks; a pipe or terminal
 * goes through process.stdin/stdout, which handle non-blocking descriptors
 * (fs streams on a pipe fail with EAGAIN when it is momentarily empty or full).
 */
export function processIo (): Io {
  return {
    stdin: isFile(0) ? fs.createReadStream('', { fd: 0, highWaterMark: READ_CHUNK, autoClose: false }) : process.stdin,
    stdout: isFile(1) ? fs.createWriteStream('', { fd: 1, autoClose: false, highWaterMark: READ_CHUNK }) : process.stdout,
    stderr: process.stderr
  }
}

function isFile (fd: number): boolean {
  try {
    return fs.fstatSync(fd).isFile()
  } catch {
    return false
  }
}

/** A usage mistake: the CLI prints it with a hint and exits 2. */
export function usage (message: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_USAGE', message)
}
