/**
 * Bytes that are kept long (by a store's memtable, by a caller holding a
 * fetched record) in memory of their own, not as a view of a larger buffer
 * that they would keep alive whole. Two kinds of larger buffer: Node's
 * shared pool, from which Buffer.from(), Buffer.allocUnsafe() and
 * Buffer.concat() take any result under half of Buffer.poolSize (4 KiB of
 * 8 on Node 20, 32 of 64 KiB on Node 24), and a chunk read or decompressed
 * (a 32 KiB window, a 1 MiB zstd frame) that a small record was cut from.
 * Buffer.allocUnsafeSlow() is never pooled.
 */

/** `bytes` as memory of its own: itself when it is all of its memory already, else a copy. */
export function ownBytes (bytes: Buffer): Buffer {
  if (bytes.byteOffset === 0 && bytes.length === bytes.buffer.byteLength) return bytes
  const own = Buffer.allocUnsafeSlow(bytes.length)
  bytes.copy(own, 0, 0, bytes.length)
  return own
}

/** `parts` (`size` bytes in all) joined into memory of its own, where Buffer.concat() may cut a small one from the pool. */
export function ownJoined (parts: readonly Buffer[], size: number): Buffer {
  const own = Buffer.allocUnsafeSlow(size)
  let at = 0
  for (const part of parts) at += part.copy(own, at)
  return own
}
