/**
 * Whether a directory sits on a read-only mount (a snapshot, an NFS export
 * mounted ro, a container volume with `:ro`): access(W_OK) answers EROFS
 * there, for root too, and writes nothing. Permission bits (EACCES) are not
 * a read-only mount: the directory's owner may be writing in it, and the
 * readers that assume nothing changes (an immutable SQLite open, a store read
 * without its lock) would then read a file changing under them.
 *
 * But Linux checks the permission bits first: on a read-only bind mount that
 * the user also may not write (a root-owned snapshot served by nobody),
 * access() answers EACCES and never says EROFS. Then the mount itself is
 * asked: the flags of the mount the directory is on (/proc/self/mountinfo),
 * which is what the kernel's EROFS is made from.
 */
import { constants } from 'node:fs'
import { access, readFile, realpath } from 'node:fs/promises'

export async function onReadOnlyMount (dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK)
    return false
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EROFS') return true
    return code === 'EACCES' && await mountFlagsSayReadOnly(dir)
  }
}

/**
 * Whether the mount `dir` is on is read-only, by its own flags (a bind mount
 * made ro) or its file system's (mounted ro). False where that cannot be read
 * (no /proc: macOS), as before.
 */
async function mountFlagsSayReadOnly (dir: string): Promise<boolean> {
  let target: string
  let table: string
  try {
    target = await realpath(dir)
    table = await readFile('/proc/self/mountinfo', 'utf8')
  } catch {
    return false
  }
  const mount = mountOf(target, table)
  return mount !== undefined && (mount.mountOptions.includes('ro') || mount.superOptions.includes('ro'))
}

interface MountLine {
  mountPoint: string
  mountOptions: string[]
  superOptions: string[]
}

/**
 * The mount `target` (a real path) is on: the longest mount point above it,
 * the last one listed where several are stacked on one point (the one on
 * top, which the path reaches).
 */
export function mountOf (target: string, table: string): MountLine | undefined {
  let found: MountLine | undefined
  for (const line of table.split('\n')) {
    const mount = parseMountLine(line)
    if (mount === undefined || !contains(mount.mountPoint, target)) continue
    if (found === undefined || mount.mountPoint.length >= found.mountPoint.length) found = mount
  }
  return found
}

function contains (mountPoint: string, target: string): boolean {
  return mountPoint === '/' || target === mountPoint || target.startsWith(mountPoint + '/')
}

/**
 * One line of mountinfo (proc(5)): `id parent major:minor root mountpoint
 * options [optional fields...] - fstype source superoptions`; a space, tab,
 * newline or backslash in a path is written as an octal escape (`\040`).
 */
function parseMountLine (line: string): MountLine | undefined {
  const fields = line.split(' ')
  const separator = fields.indexOf('-', 6)
  if (fields.length < 6 || separator === -1 || fields.length < separator + 4) return undefined
  return {
    mountPoint: fields[4].replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))),
    mountOptions: fields[5].split(','),
    superOptions: fields[separator + 3].split(',')
  }
}
