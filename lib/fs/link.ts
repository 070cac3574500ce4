/**
 * Giving a finished file its name without ever replacing another: a hard
 * link fails with EEXIST where a rename would silently overwrite, so two
 * writers can never both own a name and a published file is never replaced.
 * Shared by the rolling sink and recovery (and later the metadir and the
 * event store, which publish files the same way).
 */
import fs from 'node:fs/promises'

/**
 * Move `source` to `target` unless `target` exists. Returns true when
 * `source` now lives at `target` (and is gone from its old name), false when
 * `target` was taken by another file (then `source` is left as it was).
 * Errors other than a taken name are thrown as they are (the caller names them).
 */
export async function moveNoReplace (source: string, target: string): Promise<boolean> {
  try {
    await fs.link(source, target)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') {
      // Already linked there by a concurrent publisher of the same file: one name, not two.
      if (!await sameFile(source, target)) return false
      await fs.unlink(source).catch(() => {})
      return true
    }
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV') {
      // No hard links on this filesystem: check, then rename (a narrow race, documented).
      if (await exists(target)) return false
      await fs.rename(source, target)
      return true
    }
    throw err
  }
  await fs.unlink(source)
  return true
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
