/**
 * A file named on the command line whose name is not valid UTF-8. Node hands
 * arguments over decoded, each bad byte as U+FFFD, and the path so decoded
 * names no file: `shoebox verify *.shoebox` failed with ENOENT on a file the
 * shell had just listed, which `shoebox read 'dir/*'` reads (walk.ts keeps
 * the bytes of such names). Each segment holding U+FFFD is looked up again
 * among the names of its directory that decode to it.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import { ShoeboxError } from '../errors.js'

/**
 * The path `name` was decoded from, as bytes; undefined when it has no
 * U+FFFD, or when a segment matches no name or more than one (two names
 * that read alike: which one was meant cannot be told).
 */
export async function undecodedPath (name: string): Promise<Buffer | undefined> {
  if (!name.includes('\uFFFD')) return undefined
  // Built a segment at a time: '' for a relative path ('.' to list), '/' joins.
  let at = Buffer.alloc(0)
  for (const [i, segment] of name.split('/').entries()) {
    let raw = Buffer.from(segment)
    if (segment.includes('\uFFFD')) {
      const dir = i === 0 ? '.' : at.length === 0 ? '/' : at
      const entries = await fsp.readdir(dir, { encoding: 'buffer' }).catch(() => [])
      const alike = entries.filter((entry) => entry.toString() === segment)
      if (alike.length !== 1) return undefined
      raw = alike[0]
    }
    at = i === 0 ? raw : Buffer.concat([at, Buffer.from('/'), raw])
  }
  return at
}

/**
 * A directory named on the command line that a command makes when it is
 * missing (write's DIR, unpack's --out): a name that is not UTF-8 arrives
 * decoded, names no directory, and one of the name as it reads would be
 * made beside the one named, the records or files going there without a
 * word. The error to refuse it with (`inside` says how to name it instead),
 * or undefined when `dir` names a directory or no such one exists.
 */
export async function misdecodedDirectory (dir: string, inside: string): Promise<ShoeboxError | undefined> {
  if (!await namesAnother(dir)) return undefined
  return new ShoeboxError('SHOEBOX_IO', `cannot write into ${dir}: its name is not UTF-8 (each bad byte arrives as U+FFFD), and a directory of the name as it reads would be another one; nothing written (rename it, or run ${inside} inside it)`)
}

/**
 * A directory named on the command line that a command works in without
 * making it (recover's and pack's DIR): a name that is not UTF-8 arrives
 * decoded and names no directory, which read as ENOENT about a directory the
 * shell had just listed. The error to refuse it with, saying why (`action`:
 * what the command would have done; `inside`: how to name it instead), or
 * undefined when `dir` names a directory or no such one exists.
 */
export async function misdecodedSource (dir: string, action: string, inside: string): Promise<ShoeboxError | undefined> {
  if (!await namesAnother(dir)) return undefined
  return new ShoeboxError('SHOEBOX_IO', `cannot ${action} ${dir}: its name is not UTF-8 (each bad byte arrives as U+FFFD), and the name as it reads is no directory; nothing done (rename it, or run ${inside} inside it)`)
}

/** Whether `dir`, as it reads, names nothing, but names a directory by the bytes it was decoded from. */
async function namesAnother (dir: string): Promise<boolean> {
  return dir.includes('\uFFFD') && !fs.existsSync(dir) && await undecodedPath(dir) !== undefined
}
