/**
 * Names on disk. A file being written has a hidden temporary name that says
 * what it will be called and who writes it, so recovery knows where it goes
 * and never touches a file a live writer still holds:
 *
 *   .<final name>~<host>~<pid>.part
 *
 * Sealing hard-links the temporary file to its final name, which fails
 * (rather than overwriting) if that name exists: two writers can never share
 * a name, and a sealed file is never replaced.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

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
 * Give `tempPath` its final name in `dir`, never replacing an existing file:
 * if `finalName` is taken, the next free alternative is used. Returns the
 * path it got.
 */
export async function sealName (dir: string, tempPath: string, finalName: string): Promise<string> {
  for (let n = 0; ; n++) {
    const candidate = path.join(dir, n === 0 ? finalName : alternativeName(finalName, n))
    try {
      await fs.link(tempPath, candidate)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST') {
        // Already linked there by a concurrent recovery of the same file: one name, not two.
        if (await sameFile(tempPath, candidate)) {
          await fs.unlink(tempPath).catch(() => {})
          return candidate
        }
        continue
      }
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV') {
        // No hard links here: check, then rename (a narrow race, documented).
        if (await exists(candidate)) continue
        await fs.rename(tempPath, candidate)
        return candidate
      }
      throw err
    }
    await fs.unlink(tempPath)
    return candidate
  }
}

/** Are these two names one file? (Throws if `a` is gone.) */
async function sameFile (a: string, b: string): Promise<boolean> {
  const sa = await fs.stat(a)
  const sb = await fs.stat(b).catch(() => null)
  return sb !== null && sa.ino === sb.ino && sa.dev === sb.dev
}

async function exists (p: string): Promise<boolean> {
  try {
    await fs.lstat(p)
    return true
  } catch {
    return false
  }
}
