/**
 * A preload (`node --import enospc.js ...`) that makes the disk look full:
 * once SHOEBOX_TEST_ENOSPC_AFTER bytes have been written to temporary
 * (.part) files (or files whose path SHOEBOX_TEST_ENOSPC_FILES, a regular
 * expression, matches), the write that would pass that budget writes what
 * still fits (a short write, as a filling disk does) and the next one fails
 * with a real-shaped ENOSPC error. The real code path meets it: only the
 * FileHandle's write and writev are changed, reached through the first
 * handle opened.
 */
import fs from 'node:fs/promises'

let budget = Number(process.env.SHOEBOX_TEST_ENOSPC_AFTER ?? 'NaN')
if (!Number.isFinite(budget)) throw new Error('enospc.ts: set SHOEBOX_TEST_ENOSPC_AFTER to a byte count')
const filling = new RegExp(process.env.SHOEBOX_TEST_ENOSPC_FILES ?? '\\.part$')

type Write = (this: fs.FileHandle, ...args: unknown[]) => Promise<{ bytesWritten: number, buffer: unknown }>
type Writev = (this: fs.FileHandle, buffers: Buffer[], position?: number | null) => Promise<{ bytesWritten: number, buffers: unknown }>
const parts = new WeakSet<fs.FileHandle>()
let patched = false

function enospc (): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })
}

/** The first `budget` bytes of `buffers` (all of them when they fit). */
function fitting (buffers: Buffer[]): Buffer[] {
  const out: Buffer[] = []
  let room = budget
  for (const b of buffers) {
    if (room <= 0) break
    out.push(b.subarray(0, room))
    room -= b.length
  }
  return out
}

function patch (proto: { write: Write, writev: Writev }): void {
  const write = proto.write
  proto.write = async function (this: fs.FileHandle, ...args: unknown[]) {
    const [data, offset, length] = args
    if (!parts.has(this) || !ArrayBuffer.isView(data) || typeof offset !== 'number' || typeof length !== 'number') {
      return await write.apply(this, args)
    }
    if (budget <= 0) throw enospc()
    // Taken from the budget before the write is awaited: writes to two files at once each saw all of it.
    const n = Math.min(length, budget)
    budget -= n
    const result = await write.call(this, data, offset, n, ...args.slice(3))
    budget += n - result.bytesWritten
    return result
  }
  const writev = proto.writev
  proto.writev = async function (this: fs.FileHandle, buffers: Buffer[], position?: number | null) {
    if (!parts.has(this)) return await writev.call(this, buffers, position)
    if (budget <= 0 && buffers.some((b) => b.length > 0)) throw enospc()
    const fits = fitting(buffers)
    const n = fits.reduce((sum, b) => sum + b.length, 0)
    budget -= n
    const result = await writev.call(this, fits, position)
    budget += n - result.bytesWritten
    return result
  }
}

// Patched synchronously here, so no write can come before it (no top-level await).
const open = fs.open
fs.open = async function (...args: Parameters<typeof fs.open>) {
  const handle = await open.apply(fs, args)
  if (!patched) {
    patched = true
    patch(Object.getPrototypeOf(handle) as { write: Write, writev: Writev })
  }
  if (filling.test(String(args[0]))) parts.add(handle)
  return handle
}
