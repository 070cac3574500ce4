/**
 * The size of libuv's thread pool, where Node runs file I/O, fsync, zlib
 * and crypto work: UV_THREADPOOL_SIZE as libuv reads it when the pool
 * starts (default 4; libuv clamps it to 1..1024). Work that queues many
 * jobs of one kind sizes itself from it, leaving threads to the rest.
 */
export function threadPoolSize (value = process.env.UV_THREADPOOL_SIZE): number {
  const n = Number(value ?? 4)
  if (!Number.isInteger(n) || n <= 0) return 4
  return Math.min(n, 1024)
}
