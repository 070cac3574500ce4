/**
 * Names on disk. A file being written has a hidden temporary name that says
 * what it will be called and who writes it, so recovery knows where it goes
 * and never touches a file a live writer still holds:
 *
 *   .<final name>~<host>~<writer>.part
 *
 * Sealing moves the temporary file to its final name without replacing
 * (../fs/link.ts: a hard link, which fails if that name exists): two writers
 * can never share a name, and a sealed file is never replaced.
 *
 * The writer, here and in every other name that says whose a file is (a
 * directory store's and an unpack's temporary files, a metadir pull's
 * downloads, pack's staging directories: `<host>~<writer>~<hex>`), is
 * `<pid>-<start>`: the pid, and when that process started
 * (../process-start.ts, `<ticks>-<8 hex digits of the boot id>`), e.g.
 * `.a.shoebox~web1~4242-81234567-5f1f647d.part`. A pid comes back (a reboot,
 * a long uptime): a file whose pid is running again, in a process that
 * started otherwise, is a dead writer's and is recovered or removed, where
 * with the pid alone it was taken for a live writer's for good. Where the
 * start cannot be read (no /proc: macOS, Windows) the writer is the pid
 * alone, as names written before the start joined it are, and a running pid
 * counts as the writer.
 */
import fs, { type FileHandle } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ioError } from '../fs/io-error.js'
import { moveNoReplace } from '../fs/link.js'
import { holderAlive, ownStart, startInName } from '../process-start.js'

const PART = /^\.(.+)~([^~]*)~([^~]+)\.part$/
/** A name's writer: `<pid>`, or `<pid>-<start>` (startInName). */
const WRITER = /^(\d+)(?:-(\d+-[0-9a-f]{8}))?$/

export function hostName (): string {
  return os.hostname().replace(/[~/\\:\s\0]/g, '_')
}

/** This process as a name's writer: `<pid>-<start>`, or `<pid>` where its start cannot be read. */
export function writerTag (): string {
  const start = ownStart()
  return start === undefined ? String(process.pid) : `${process.pid}-${startInName(start)}`
}

export interface Writer {
  pid: number
  /** Its start as a name holds it (startInName) or a file (processStart()); undefined where the pid is alone. */
  start: string | undefined
}

/** The writer a name's `<writer>` field says, or undefined where it is none. */
export function parseWriter (text: string): Writer | undefined {
  const m = WRITER.exec(text)
  return m === null ? undefined : { pid: Number(m[1]), start: m[2] }
}

/** `writer`: writerTag() (this process), or a pid alone (as names written before the start joined them). */
export function tempName (finalName: string, host = hostName(), writer: string | number = writerTag()): string {
  return `.${finalName}~${host}~${writer}.part`
}

export interface TempNameParts extends Writer {
  finalName: string
  host: string
}

export function parseTempName (name: string): TempNameParts | undefined {
  const m = PART.exec(name)
  const writer = m === null ? undefined : parseWriter(m[3])
  if (m === null || writer === undefined) return undefined
  return { finalName: m[1], host: m[2], ...writer }
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
 * Was the temporary file `file`, whose name says `host` and `writer` (its
 * `<writer>` field, or a Writer), left by a writer that is gone? Of this
 * host, and its pid not running, or running in a process that started
 * otherwise (holderAlive); or this process's pid, and none of this process's
 * writers' (writingTemp). A writer field that is none stays.
 */
export function leftByDeadWriter (file: string, host: string, writer: string | Writer): boolean {
  const w = typeof writer === 'string' ? parseWriter(writer) : writer
  if (host !== hostName() || w === undefined) return false
  return w.pid === process.pid ? !writing.has(file) : !holderAlive(w.pid, w.start)
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
