/**
 * Names on disk. A file being written has a hidden temporary name that says
 * what it will be called and who writes it, so recovery knows where it goes
 * and never touches a file a live writer still holds:
 *
 *   .<final name>~<host>~<pid>.part
 *
 * Sealing moves the temporary file to its final name without replacing
 * (../fs/link.ts: a hard link, which fails if that name exists): two writers
 * can never share a name, and a sealed file is never replaced.
 */
import fs, { type FileHandle } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ioError } from '../fs/io-error.js'
import { moveNoReplace } from '../fs/link.js'

const PART = /^\.(.+)~([^~]*)~(\d+)\.part$/

export function hostName (): string {
  return os.hostname().replace(/[~/\\:\s\0]/g, '_')
}

export function tempName (finalName: string, host = hostName(), pid = process.pid): string {
  return `.${finalName}~${host}~${pid}.part`
}

export interface TempNameParts {
  finalName: string
  host: string
  pid: number
}

export function parseTempName (name: string): TempNameParts | undefined {
  const m = PART.exec(name)
  if (m === null) return undefined
  return { finalName: m[1], host: m[2], pid: Number(m[3]) }
}

/** The n-th alternative for a taken name: 'x.shoebox.gz' -> 'x_1.shoebox.gz' (sorts right after it). */
export function alternativeName (name: string, n: number): string {
  const dot = name.indexOf('.', 1)
  return dot < 0 ? `${name}_${n}` : `${name.slice(0, dot)}_${n}${name.slice(dot)}`
}

/**
 * The temporary files this process's sinks hold, by device and inode (one
 * set however often the package is loaded: two copies of shoebox in one
 * process, as two dependencies can bring, share it).
 * A temporary name's pid says whether its writer is alive, but a pid comes
 * back: a container restarted after a kill runs its writer under the same
 * hostname and, as often as not, the same pid (1), so the file the killed
 * writer left named this process, and every start skipped it ("still
 * writing it") for good. For this process's own pid, a file is a live
 * writer's only if one of its sinks holds it.
 */
interface Held { files: Set<string>, creating: Set<Promise<unknown>> }
const held: Held = ((globalThis as Record<symbol, Held | undefined>)[Symbol.for('shoebox.heldTempFiles')] ??= { files: new Set(), creating: new Set() })

function fileKey (stats: { dev: number, ino: number }): string {
  return `${stats.dev}:${stats.ino}`
}

/**
 * Is the file with these stats a temporary file one of this process's sinks
 * holds? Creations under way are waited for first: a file just opened is
 * held only once its inode is known.
 */
export async function heldHere (stats: { dev: number, ino: number }): Promise<boolean> {
  await Promise.allSettled([...held.creating])
  return held.files.has(fileKey(stats))
}

/** The sink is done with the temporary file createTemp gave it as `key` (sealed, or closed and left for recovery). */
export function releaseTemp (key: string): void {
  held.files.delete(key)
}

/** True if a process with this pid is running on this host. */
export function isAlive (pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Temporary files, by path, that this process writes outside a sink (a
 * directory store's writer, an unpack's file), from before each is created
 * until it is renamed or removed; one set however often the package is
 * loaded, as `held`. A sweep that finds this process's pid in a name takes
 * the file for a live writer's only if it is one of these: a pid comes back
 * (a container's one-shot command runs as pid 1 every time), and a file a
 * killed run left named this process.
 */
const writing: Set<string> = ((globalThis as Record<symbol, Set<string> | undefined>)[Symbol.for('shoebox.writingTempPaths')] ??= new Set())

/** This process is about to create the temporary file `file` (before the file exists): a sweep leaves it. */
export function writingTemp (file: string): void {
  writing.add(file)
}

/** The temporary file `file` is renamed or removed (writingTemp). */
export function doneWritingTemp (file: string): void {
  writing.delete(file)
}

/**
 * Was the temporary file `file`, whose name says `host` and `pid`, left by
 * a writer that is gone? Of this host, and its pid not running; or this
 * process's pid, and none of this process's writers' (writingTemp).
 */
export function leftByDeadWriter (file: string, host: string, pid: number): boolean {
  if (host !== hostName()) return false
  return pid === process.pid ? !writing.has(file) : !isAlive(pid)
}

/**
 * Give `tempPath` its final name in `dir`, never replacing an existing file:
 * if `finalName` is taken, the next free alternative is used. Returns the
 * path it got.
 */
export async function sealName (dir: string, tempPath: string, finalName: string): Promise<string> {
  for (let n = 0; ; n++) {
    const candidate = path.join(dir, n === 0 ? finalName : alternativeName(finalName, n))
    if (await moveNoReplace(tempPath, candidate)) return candidate
  }
}

/** How many alternatives createTemp tries past a taken temporary name before it gives up. */
const MAX_TEMP_ALTERNATIVES = 1000

/**
 * Create the temporary file for `finalName` in `dir` ('wx': never an
 * existing file). The temporary name names the process, not the writer: two
 * sinks of one process on one directory planning the same name (a template
 * without {seq} and the time, or one millisecond) asked for the same
 * temporary file, and the second failed with EEXIST. A taken temporary name
 * moves the file to the name's next alternative, as sealName does for a
 * taken final name; `name` is the name the file is then planned under.
 */
export async function createTemp (dir: string, finalName: string): Promise<{ handle: FileHandle, tempPath: string, name: string, key: string }> {
  // Known to heldHere() from before the file exists until it is held (see `held`), or not created.
  const creating = openTemp(dir, finalName)
  held.creating.add(creating)
  try {
    return await creating
  } finally {
    held.creating.delete(creating)
  }
}

async function openTemp (dir: string, finalName: string): Promise<{ handle: FileHandle, tempPath: string, name: string, key: string }> {
  for (let n = 0; ; n++) {
    const name = n === 0 ? finalName : alternativeName(finalName, n)
    const tempPath = path.join(dir, tempName(name))
    let handle: FileHandle
    try {
      handle = await fs.open(tempPath, 'wx')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n === MAX_TEMP_ALTERNATIVES) throw ioError(err, 'cannot create', tempPath)
      continue
    }
    const opened = handle
    const stats = await opened.stat().catch(async (err: unknown) => {
      await opened.close().catch(() => {})
      throw ioError(err, 'cannot create', tempPath)
    })
    const key = fileKey(stats)
    held.files.add(key)
    return { handle, tempPath, name, key }
  }
}
