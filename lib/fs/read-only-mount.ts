/**
 * Whether a directory sits on a read-only mount (a snapshot, an NFS export
 * mounted ro, a container volume with `:ro`): access(W_OK) answers EROFS
 * there, for root too, and writes nothing. Permission bits (EACCES) are not
 * a read-only mount: the directory's owner may be writing in it, and the
 * readers that assume nothing changes (an immutable SQLite open, a store read
 * without its lock) would then read a file changing under them.
 */
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'

export async function onReadOnlyMount (dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EROFS'
  }
}
