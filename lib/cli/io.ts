/** Shared CLI plumbing: standard streams, opening inputs, and one-line errors. */
import fs from 'node:fs'
import { Readable, type Writable } from 'node:stream'
import { ShoeboxError } from '../errors.js'
import { describeIoError } from '../fs/io-error.js'
import { fileReadSize } from '../fs/read-size.js'
import { readWhole, SMALL_FILE_BYTES } from '../fs/read-size.js'
import { undecodedPath } from '../fs/undecoded-path.js'

export { describeIoError }

/** Why a directory named as a FILE was not read: one that holds files stands for them (file-args.ts). */
export const EMPTY_DIRECTORY = 'is a directory with no files directly in it'

/** Read with 1 MiB chunks: the default 64 KiB costs about 3x on this path. */
export const READ_CHUNK = 1024 * 1024

export interface Io {
  stdin: Readable
  stdout: Writable
  stderr: Writable
  /**
   * Set when standard input is a regular file (`< in.ndjson`): its descriptor,
   * for feedFile(). `stdin` reads the same file; use one or the other.
   */
  stdinFile?: number
  /**
   * Set when standard input is a directory (`< archives/`): `stdin` fails at
   * its first read, and a command that would create something first (write's
   * DIR) refuses before it does.
   */
  stdinDirectory?: boolean
  /**
   * Set (by main() and a command group) once the command running is one whose stdout reports its work
   * (Command.reportsOnStdout): its reader going away then leaves the process running (bin.ts).
   */
  stdoutIsReport?: boolean
}

/**
 * Open a named input ('-' is standard input), reporting a missing file or a
 * directory as one clear line before any streaming starts (a directory opens
 * fine on Linux and fails only at the first read, with a bare EISDIR). A
 * small regular file is read whole at once, in one read (fs/read-size.ts):
 * `verify` of thousands of small files spent a read stream and two reads on
 * each.
 */
export async function openInput (io: Io, name: string): Promise<Readable> {
  const opened = await openInputWhole(io, name)
  return Buffer.isBuffer(opened) ? Readable.from([opened], { objectMode: false }) : opened
}

/** openInput(), with a small file's bytes as they were read (one Buffer), for a reader that takes them whole (verify). */
export async function openInputWhole (io: Io, name: string): Promise<Readable | Buffer> {
  if (name === '-') return io.stdin
  let handle: fs.promises.FileHandle
  try {
    handle = await fs.promises.open(name, 'r').catch(async (err: unknown) => {
      // A name that is not UTF-8 arrives decoded (U+FFFD for its bad bytes): open the file it was decoded from.
      const raw = (err as NodeJS.ErrnoException).code === 'ENOENT' ? await undecodedPath(name) : undefined
      if (raw === undefined) throw err
      return await fs.promises.open(raw, 'r')
    })
  } catch (err) {
    throw new ShoeboxError('SHOEBOX_IO', `cannot read ${name}: ${describeIoError(err)}${quotedGlobHint(name, err)}`, { cause: err })
  }
  const stat = await handle.stat().catch(async (err: unknown) => {
    await handle.close()
    throw new ShoeboxError('SHOEBOX_IO', `cannot read ${name}: ${describeIoError(err)}`, { cause: err })
  })
  if (stat.isDirectory()) {
    await handle.close()
    // A directory named stands for its files (file-args.ts): one here had none.
    throw new ShoeboxError('SHOEBOX_IO', `cannot read ${name}: ${EMPTY_DIRECTORY}`)
  }
  if (stat.isFile() && stat.size <= SMALL_FILE_BYTES) {
    let whole: Buffer | null
    try {
      whole = await readWhole(handle.fd, 0, stat.size)
    } catch (err) {
      await handle.close()
      throw new ShoeboxError('SHOEBOX_IO', `cannot read ${name}: ${describeIoError(err)}`, { cause: err })
    }
    if (whole !== null) {
      await handle.close()
      return whole
    }
    // Grown since its fstat (still being written): read on as a stream, below.
  }
  // A FIFO or device (/dev/stdin on a pipe) tells no size: full chunks for it.
  return handle.createReadStream({ highWaterMark: stat.isFile() ? fileReadSize(stat.size) : READ_CHUNK })
}

/**
 * Standard streams for the real process. A regular file (`< in.ndjson`,
 * `> out.shoebox`) is read and written with 1 MiB chunks; a pipe or terminal
 * goes through process.stdin/stdout, which handle non-blocking descriptors
 * (fs streams on a pipe fail with EAGAIN when it is momentarily empty or full).
 */
export function processIo (): Io {
  const stdinIsFile = isFile(0)
  const stdinDirectory = !stdinIsFile && isDirectory(0)
  return {
    stdin: stdinIsFile ? fs.createReadStream('', { fd: 0, highWaterMark: READ_CHUNK, autoClose: false }) : stdinDirectory ? directoryStdin() : process.stdin,
    stdout: isFile(1) ? fs.createWriteStream('', { fd: 1, autoClose: false, highWaterMark: READ_CHUNK }) : process.stdout,
    stderr: process.stderr,
    stdinFile: stdinIsFile ? 0 : undefined,
    stdinDirectory
  }
}

/** Buffers feedFile() reads into: one being read, the rest written and not yet consumed. */
const FEED_BUFFERS = 4

/**
 * Write the rest of the regular file open as `fd` into `into`, then end it,
 * reading into a few buffers used again and again. A read stream allocates a
 * fresh 1 MiB buffer per read: for `shoebox write` of 200 MB that was 200 MB
 * of page faults and of garbage that V8 collects only when its external
 * memory grows (RSS and GC time). A buffer is read into again once its write
 * callback has fired (the stream has consumed it: `into` must not keep a
 * reference to a chunk after that, as encodeNdjson copies lines out), so the
 * buffers bound what is in flight, as backpressure would. A read error
 * destroys `into` with it; `stopped()` (a signal) ends `into` cleanly after the
 * read under way, whose bytes are dropped: the reads before it end anywhere in
 * a line, so the caller marks `into` cut (EncodeNdjson.cut) for the line the
 * last of them cut. Never rejects: the pipeline `into` is part of reports.
 */
export async function feedFile (fd: number, into: Writable, stopped: () => boolean): Promise<void> {
  const free: Buffer[] = []
  for (let i = 0; i < FEED_BUFFERS; i++) free.push(Buffer.allocUnsafeSlow(READ_CHUNK))
  let returned: (() => void) | null = null
  const giveBack = (buf: Buffer): void => {
    free.push(buf)
    returned?.()
    returned = null
  }
  // A destroyed stream may never call back the write it holds: stop waiting for buffers then.
  let closed = into.destroyed
  const onClose = (): void => {
    closed = true
    returned?.()
    returned = null
  }
  into.once('close', onClose)
  const freeBuffer = async (): Promise<Buffer | null> => {
    while (free.length === 0 && !closed) await new Promise<void>((resolve) => { returned = resolve })
    return closed ? null : free.pop() as Buffer
  }
  // The next read goes out before the chunk just read is written: reading (on the pool) and encoding overlap.
  let reading: Promise<number> | null = null
  try {
    let buf = await freeBuffer()
    if (buf !== null) reading = readInto(fd, buf)
    while (buf !== null && reading !== null) {
      const n = await reading
      reading = null
      if (n === 0 || closed || stopped()) break
      const chunk = buf
      buf = await freeBuffer()
      if (buf === null) break // closed meanwhile
      if (!stopped()) reading = readInto(fd, buf)
      into.write(chunk.subarray(0, n), () => { giveBack(chunk) })
    }
    if (!closed) into.end()
  } catch (err) {
    into.destroy(err as Error)
  } finally {
    into.off('close', onClose)
    reading?.catch(() => {})
  }
}

/**
 * The next `n` bytes (fewer only at its end) of the regular file open as
 * `fd`, read from where it stands: its first read, which says what it
 * starts with (a compressed input's magic) without a stream. The next read
 * goes on after them. A read error is SHOEBOX_IO naming stdin.
 */
export async function readHead (fd: number, n: number): Promise<Buffer> {
  const head = Buffer.alloc(n)
  let got = 0
  try {
    for (let read = -1; got < n && read !== 0; got += read) read = await readInto(fd, head.subarray(got))
  } catch (err) {
    throw new ShoeboxError('SHOEBOX_IO', `cannot read stdin: ${describeIoError(err)}`, { cause: err })
  }
  return head.subarray(0, got)
}

/**
 * The file system a stream of a descriptor it does not own reads with: a
 * read stream's destroy() (a signal, damage) closes its descriptor even
 * with autoClose false; the descriptor's owner closes it.
 */
const LEAVE_OPEN = { read: fs.read, close: (_fd: number, callback: (err: null) => void) => { callback(null) } }

/** The regular file open as `fd` as a stream: `head` (readHead()'s bytes), then the rest of it, in 1 MiB reads; `fd` is left open. */
export function fileStream (fd: number, head: Buffer): Readable {
  const rest = fs.createReadStream('', { fd, highWaterMark: READ_CHUNK, autoClose: false, fs: LEAVE_OPEN })
  if (head.length > 0) rest.unshift(head)
  return rest
}

async function readInto (fd: number, buf: Buffer): Promise<number> {
  return await new Promise((resolve, reject) => {
    fs.read(fd, buf, 0, buf.length, null, (err, n) => { if (err !== null) reject(err); else resolve(n) })
  })
}

function isFile (fd: number): boolean {
  try {
    return fs.fstatSync(fd).isFile()
  } catch {
    return false
  }
}

function isDirectory (fd: number): boolean {
  try {
    return fs.fstatSync(fd).isDirectory()
  } catch {
    return false
  }
}

export const STDIN_DIRECTORY = 'cannot read stdin: is a directory'

/**
 * Standard input that is a directory (`shoebox decode < archives/`): Node's
 * process.stdin reads it as empty, with no error, so `encode` wrote an empty
 * archive, `decode` printed nothing, and both exited 0. As openInput() does
 * for a named directory, the first read fails instead, naming it.
 */
function directoryStdin (): Readable {
  return new Readable({
    read () {
      this.destroy(new ShoeboxError('SHOEBOX_IO', STDIN_DIRECTORY))
    }
  })
}

/**
 * For a FILE argument that is not there and looks like a glob ('logs/*'
 * quoted): decode, verify and upload take file names, which the shell
 * expands; read and ls take globs. Empty otherwise.
 */
export function quotedGlobHint (name: string, err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' && /[*?[\]{}]/.test(name)
    ? ' (a file name, not a glob: leave globs unquoted for the shell to expand)'
    : ''
}

/**
 * checkDirArg(): a DIR or PATTERN argument that is '-' or empty, refused as the usage
 * mistake it is. `shoebox write -` made a directory named '-' (the user
 * meant stdout: that is `encode`), `read -` said 'no archive matches -',
 * and an unset shell variable ("$DIR") read as a missing directory named
 * ''. A directory named '-' is still reached as './-'.
 */
export function checkDirArg (value: string, what: string, stdinInstead: string): void {
  if (value === '') throw usage(`'' names no ${what} (an empty argument: an unset shell variable?)`)
  if (value === '-') throw usage(`'-' is not stdin or stdout here: it would name a ${what}; ${stdinInstead} (a ${what} of that name is './-')`)
}

/**
 * checkLocalDir(): a directory the command makes or writes (write's DIR, unpack's --out, serve's --data, recover's
 * DIR) given as a URL, refused as the usage mistake it is. `shoebox write s3://bucket/events` wrote its files into
 * a directory made here, ./s3:/bucket/events, and exited 0, as if they had gone to the bucket; a file:// URL made
 * ./file:/... the same way. A directory of that name is still reached as './s3:/...'.
 */
export function checkLocalDir (value: string, what: string, instead: string): void {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(value)?.[1]
  if (scheme === undefined) return
  const hint = scheme.toLowerCase() === 'file' ? `give it as a path, not a URL; ${instead}` : instead
  throw usage(`${what} ${value} is a URL, not a local directory (it names a directory '${scheme}:' here); ${hint} (a directory of that name is './${value}')`)
}

/** A usage mistake: the CLI prints it with a hint and exits 2. */
export function usage (message: string): ShoeboxError {
  return new ShoeboxError('SHOEBOX_USAGE', message)
}
