/**
 * A preload (`node --import enospc.js ...`) that makes the disk look full:
 * once SHOEBOX_TEST_ENOSPC_AFTER bytes have been written to temporary
 * (.part) files, the write that would pass that budget writes what still
 * fits (a short write, as a filling disk does) and the next one fails with
 * a real-shaped ENOSPC error. The real sink code path meets it: only the
 * FileHandle's write is changed, reached through the first handle opened.
 */
import fs from 'node:fs/promises'

let budget = Number(process.env.SHOEBOX_TEST_ENOSPC_AFTER ?? 'NaN')
if (!Number.isFinite(budget)) throw new Error('enospc.ts: set SHOEBOX_TEST_ENOSPC_AFTER to a byte count')

type Write = (this: fs.FileHandle, ...args: unknown[]) => Promise<{ bytesWritten: number, buffer: unknown }>
const parts = new WeakSet<fs.FileHandle>()
let patched = false

function enospc (): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
}

function patch (proto: { write: Write }): void {
  const write = proto.write
  proto.write = async function (this: fs.FileHandle, ...args: unknown[]) {
    const [data, offset, length] = args
    if (!parts.has(this) || !ArrayBuffer.isView(data) || typeof offset !== 'number' || typeof length !== 'number') {
      return await write.apply(this, args)
    }
    if (budget <= 0) throw enospc()
    const n = Math.min(length, budget)
    const result = await write.call(this, data, offset, n, ...args.slice(3))
    budget -= result.bytesWritten
    return result
  }
}

// Patched synchronously here, so no write can come before it (no top-level await).
const open = fs.open
fs.open = async function (...args: Parameters<typeof fs.open>) {
  const handle = await open.apply(fs, args)
  if (!patched) {
    patched = true
    patch(Object.getPrototypeOf(handle) as { write: Write })
  }
  if (String(args[0]).endsWith('.part')) parts.add(handle)
  return handle
}
