/**
 * Is a sealed file's key free in the store, or does the store hold another
 * file's object there?
 *
 * A file goes to the key of its name, and local names never collide (a
 * sealed file is linked into place, names.ts), but the store remembers
 * names the directory has forgotten: with deleteLocal, an uploaded file's
 * name is free again in its directory, so the next file planned under it (a
 * second writer of a template without the time or {pid}, the next run of
 * one) was sealed under it and uploaded over the first file's object,
 * losing its records; so did a writer in another directory shipping to the
 * same prefix under the same template. Before a file is put, its key is
 * looked up: an object there that is not a copy of the file (this file's
 * own earlier try, killed between its put and its marker, is one) means the
 * file must go under another name (uploader.ts).
 */
import fsp from 'node:fs/promises'
import type { ObjectInfo, Store } from '../store/store.js'

/** The object at `key`, or undefined where there is none (any other failure is thrown: the try fails). */
export async function storedAt (store: Store, key: string): Promise<ObjectInfo | undefined> {
  try {
    return await store.stat(key)
  } catch (err) {
    if ((err as { kind?: unknown }).kind === 'not-found') return undefined
    throw err
  }
}

/**
 * Is `stored` (the object at `key`) a copy of `file`, `size` bytes? Another
 * size is not; one of the same size is read back and compared (rare: a try
 * killed after its put, or another file of the very same size).
 */
export async function holdsCopyOf (store: Store, key: string, stored: ObjectInfo, file: string, size: number): Promise<boolean> {
  if (stored.size !== size) return false
  const handle = await fsp.open(file, 'r')
  try {
    let at = 0
    let local = Buffer.alloc(0)
    for await (const chunk of store.get(key) as AsyncIterable<Buffer>) {
      if (local.length < chunk.length) local = Buffer.allocUnsafe(chunk.length)
      const { bytesRead } = await handle.read(local, 0, chunk.length, at)
      if (bytesRead !== chunk.length || !local.subarray(0, bytesRead).equals(chunk)) return false
      at += bytesRead
    }
    return at === size
  } finally {
    await handle.close()
  }
}
