/**
 * Which zstd implementation this process uses, loaded on first need (never
 * at import: zstd is optional, and importing shoebox stays as fast as
 * starting Node). In order of preference:
 *
 * - node:zlib, where the runtime has zstd (Node >= 22.15): nothing extra to
 *   install. Its frames are written as the others': no content size, no
 *   content checksum (the records carry their own CRCs).
 * - 'libzstd': the system's libzstd (>= 1.4.0), called from shoebox's own
 *   optional native addon (native/zstd_system.c), where the addon was built
 *   at install and the library is there (SHOEBOX_LIBZSTD names another file
 *   than its soname). Each pool thread reuses its own context and reads the
 *   caller's buffer in place: a `write --zstd` of 200 MB of event NDJSON
 *   at level 1 costs 6-9% less CPU than with the package below
 *   (bench/RESULTS.md). Its frames, as the package's, have no content size.
 * - @mongodb-js/zstd (an optionalDependency): prebuilt binaries inside
 *   per-platform registry packages, nothing compiled or downloaded at
 *   install; the work runs on its native thread pool. Its index.js (1.2.2)
 *   drops the level argument, so the binding module underneath is used, which
 *   takes it.
 *
 * None may load (another platform, an install without optional
 * dependencies nor a compiler or libzstd): then gzip and plain archives
 * still work, and anything zstd fails with SHOEBOX_UNSUPPORTED naming its
 * file or directory. The SHOEBOX_ZSTD environment variable chooses: 'auto'
 * (default), 'zlib', 'libzstd', 'package', or '0' (none: how the tests see
 * an install without zstd).
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import { FileFailureError, VariableRefusedError } from '../errors.js'
import { nodeZlib } from './gzip.js'
import { ZSTD_CHOICES } from './zstd.js'
import { loadNativeZstd, type ZstdStreamPiece } from '../native.js'
import { Slots } from '../slots.js'

export interface ZstdBackend {
  readonly name: 'node:zlib' | 'libzstd' | '@mongodb-js/zstd'
  /** One complete frame of `data`. */
  compress: (data: Buffer, level: number) => Promise<Buffer>
  /**
   * compress() into `room` (from its start; zstdCompressBound() bytes always
   * hold the frame): the frame's length. Only the libzstd backend has it
   * (see frame-rooms.ts).
   */
  compressInto?: (data: Buffer, level: number, room: Buffer) => Promise<number>
  /**
   * The content of one or more complete frames. `bound`: the most content
   * they can hold, by their headers (zstd-frame.ts), when the caller walked
   * them: the libzstd backend decompresses into that much room in one pass
   * (frames without a content size otherwise stream through the library's
   * window); the others need no hint.
   */
  decompress: (data: Buffer, bound?: number) => Promise<Buffer>
  /**
   * A streaming decoder (zstd-stream.ts), whose memory is its window's, not
   * a frame's: the libzstd backend's, where the addon has it. The package
   * has no streaming API; node:zlib's stream is a stage of its own
   * (zstd-stream.ts).
   */
  streamDecoder?: (windowLogMax: number) => ZstdStreamDecoder
}

/** One stream of frames decoded through a window; free() it when done (or it is freed when collected). */
export interface ZstdStreamDecoder {
  decode: (input: Buffer) => Promise<ZstdStreamPiece>
  free: () => void
}

export type ZstdChoice = 'auto' | 'zlib' | 'libzstd' | 'package' | '0'

const CHOICES = ZSTD_CHOICES

const loaded = new Map<ZstdChoice, Promise<ZstdBackend | null>>()

/** SHOEBOX_ZSTD, read at each call so a test (or a caller) can switch it. */
export function zstdChoice (): ZstdChoice {
  const value = process.env.SHOEBOX_ZSTD ?? 'auto'
  return (CHOICES as readonly string[]).includes(value) ? value as ZstdChoice : 'auto'
}

/** The backend `choice` names (default: SHOEBOX_ZSTD), or null when none loads. Throws only SHOEBOX_USAGE for a SHOEBOX_NATIVE that is not 0 or 1 (native.ts). */
export async function loadZstd (choice: ZstdChoice = zstdChoice()): Promise<ZstdBackend | null> {
  let backend = loaded.get(choice)
  if (backend === undefined) {
    backend = load(choice)
    loaded.set(choice, backend)
  }
  return await backend
}

/**
 * The backend, or SHOEBOX_UNSUPPORTED naming `what` (the file or directory
 * that needs it). A SHOEBOX_ZSTD that names no choice (a typo: `off`,
 * `libzst`) is SHOEBOX_USAGE here, where zstd is needed, rather than a
 * silent 'auto' (loadZstd() never throws, so it reads such a value as 'auto').
 */
export async function requireZstd (what: string, choice?: ZstdChoice): Promise<ZstdBackend> {
  const named = process.env.SHOEBOX_ZSTD
  if (choice === undefined && named !== undefined && !(CHOICES as readonly string[]).includes(named)) {
    // The variable is at fault, not `what` (the file or stream that needed zstd: 'stdout' for encode): named alone.
    throw new VariableRefusedError('SHOEBOX_USAGE', 'SHOEBOX_ZSTD', `SHOEBOX_ZSTD must be one of ${CHOICES.map((c) => `'${c}'`).join(', ')} (or unset), got ${JSON.stringify(named)}`)
  }
  const backend = await loadZstd(choice)
  if (backend !== null) return backend
  const chosen = choice ?? zstdChoice()
  if (chosen === 'auto' || chosen === '0') {
    throw new FileFailureError('SHOEBOX_UNSUPPORTED', what,
      `zstd is not available in this install (Node < 22.15, no system libzstd through the native addon, and the optional @mongodb-js/zstd package did not load${chosen === '0' ? ', or SHOEBOX_ZSTD=0' : ''}); gzip and plain archives still work`)
  }
  // One backend was asked for: say which and why it is missing, not that all three are (the others were not
  // tried, and may well load: the old words sent a user with SHOEBOX_ZSTD=zlib on Node 20 to install the package).
  const asked = choice === undefined ? `SHOEBOX_ZSTD=${chosen}` : `backend '${chosen}'`
  const why = chosen === 'zlib'
    ? `this Node's zlib has no zstd (Node ${process.versions.node}; it has from 22.15)`
    : chosen === 'libzstd'
      ? 'the system\'s libzstd (1.4.0 or later) through the native addon did not load'
      : 'the optional @mongodb-js/zstd package did not load'
  throw new FileFailureError('SHOEBOX_UNSUPPORTED', what,
    `zstd is not available in this install through ${asked}: ${why}${choice === undefined ? ' (without SHOEBOX_ZSTD, whichever zstd loads is used)' : ''}; gzip and plain archives still work`)
}

/** The first backend `choice` allows that loads (auto: in the order above). */
async function load (choice: ZstdChoice): Promise<ZstdBackend | null> {
  if (choice === '0') return null
  if (choice === 'zlib' || (choice === 'auto' && zlibMayHaveZstd())) {
    const fromZlib = zlibBackend()
    if (fromZlib !== null || choice === 'zlib') return limited(fromZlib)
  }
  if (choice === 'auto' || choice === 'libzstd') {
    const fromLibzstd = libzstdBackend()
    if (fromLibzstd !== null || choice === 'libzstd') return limited(fromLibzstd)
  }
  return limited(await packageBackend())
}

/**
 * Jobs one backend runs at once. Every backend runs on libuv's thread pool
 * (UV_THREADPOOL_SIZE, default 4), where file reads and writes wait too: the
 * rolling sink starts a compression per flush block as soon as it is cut, and
 * with every pool thread compressing, the read of the next stdin chunk queued
 * behind them and the main thread sat idle. So leave a pool thread to file
 * I/O. And run one more than the machine has cores: a pool thread that
 * finishes a frame then takes the next one, already queued, at once; with
 * only as many as cores, the next was handed over by the main thread after
 * the finished one's callback reached it, and meanwhile a core sat idle
 * (13% of a quiet `write --zstd`'s steady part with one more, 19-21% without).
 */
export function zstdConcurrency (poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4), cores = os.availableParallelism()): number {
  const pool = Number.isInteger(poolSize) && poolSize > 0 ? poolSize : 4
  return Math.max(1, Math.min(cores + 1, pool - 1))
}

function limited (backend: ZstdBackend | null): ZstdBackend | null {
  if (backend === null) return null
  const gate = new Slots(zstdConcurrency())
  const { streamDecoder, compressInto } = backend
  return {
    name: backend.name,
    compress: async (data, level) => await gate.run(async () => await backend.compress(data, level)),
    ...compressInto !== undefined && { compressInto: async (data: Buffer, level: number, room: Buffer) => await gate.run(async () => await compressInto(data, level, room)) },
    decompress: async (data, bound) => await gate.run(async () => await backend.decompress(data, bound)),
    // Its jobs run on the same pool: through the same gate.
    ...streamDecoder !== undefined && {
      streamDecoder: (windowLogMax: number) => {
        const decoder = streamDecoder(windowLogMax)
        return { decode: async (input) => await gate.run(async () => await decoder.decode(input)), free: () => { decoder.free() } }
      }
    }
  }
}

type Callback = (err: Error | null, out: Buffer) => void
interface ZlibZstd {
  zstdCompress?: (buf: Buffer, options: { params: Record<number, number>, chunkSize: number }, cb: Callback) => void
  zstdDecompress?: (buf: Buffer, options: { chunkSize: number }, cb: Callback) => void
  constants: Record<string, number>
}

/**
 * Whether this runtime's node:zlib may have zstd (Node 22.15 and 23.8 on).
 * On older ones 'auto' does not load node:zlib only to find it has none:
 * ~3 ms of the main thread before a write's first block can be compressed.
 */
export function zlibMayHaveZstd (version = process.versions.node): boolean {
  const [major, minor] = version.split('.').map(Number)
  return major > 23 || (major === 23 && minor >= 8) || (major === 22 && minor >= 15)
}

/**
 * zlib's output piece for a whole block: at its default (16 KiB) a 1 MiB
 * block's compression took a pool round trip per piece; compressing 200 MB
 * in 1 MiB blocks cost 0.66-0.73 CPU-s, against 0.56-0.57 with this (Node 22).
 */
const ZLIB_CHUNK = 1024 * 1024

function zlibBackend (): ZstdBackend | null {
  const z = nodeZlib() as unknown as ZlibZstd
  const { zstdCompress, zstdDecompress } = z
  const levelParam = z.constants.ZSTD_c_compressionLevel
  const checksumParam = z.constants.ZSTD_c_checksumFlag
  if (zstdCompress === undefined || zstdDecompress === undefined || levelParam === undefined || checksumParam === undefined) return null
  return {
    name: 'node:zlib',
    // No content checksum, as the other backends write: the same archive on every Node, and a byte flipped in a
    // frame leaves the records around it to prove themselves by their CRCs, where a checksum would fail the frame.
    compress: async (data, level) => await new Promise((resolve, reject) => {
      zstdCompress(data, { params: { [levelParam]: level, [checksumParam]: 0 }, chunkSize: ZLIB_CHUNK }, (err, out) => { if (err !== null) reject(err); else resolve(out) })
    }),
    decompress: async (data) => await new Promise((resolve, reject) => {
      zstdDecompress(data, { chunkSize: ZLIB_CHUNK }, (err, out) => { if (err !== null) reject(err); else resolve(out) })
    })
  }
}

/**
 * The system's libzstd through the native addon: null when the addon is not
 * built or is switched off (SHOEBOX_NATIVE=0), or the library does not open
 * (absent, not zstd, older than 1.4.0); the next backend is then used,
 * without a word, as when the package is not installed.
 */
function libzstdBackend (): ZstdBackend | null {
  const native = loadNativeZstd()
  if (native === null) return null
  try {
    const library = process.env.SHOEBOX_LIBZSTD
    native.zstdOpen(library === undefined || library === '' ? undefined : library)
  } catch {
    return null
  }
  const { zstdStreamOpen, zstdStreamDecode, zstdStreamFree, zstdCompressInto } = native
  return {
    name: 'libzstd',
    compress: async (data, level) => await native.zstdCompress(data, level),
    // An addon built before it has none: frames then come in rooms of their own.
    ...zstdCompressInto !== undefined && { compressInto: async (data: Buffer, level: number, room: Buffer) => await zstdCompressInto(data, level, room) },
    decompress: async (data, bound) => await native.zstdDecompress(data, bound),
    // An addon built before the streaming decoder has none: input is then read a frame at a time.
    ...zstdStreamOpen !== undefined && zstdStreamDecode !== undefined && zstdStreamFree !== undefined && {
      streamDecoder: (windowLogMax: number) => {
        const handle = zstdStreamOpen(windowLogMax)
        return { decode: async (input) => await zstdStreamDecode(handle, input), free: () => { zstdStreamFree(handle) } }
      }
    }
  }
}

interface Binding {
  compress: (data: Buffer, level?: number) => Promise<Buffer>
  decompress: (data: Buffer) => Promise<Buffer>
}

/**
 * The package's prebuilt binary for this platform, named as its bindings.js
 * names them, most likely first. bindings.js tells glibc from musl with
 * process.report.getReport(), which takes 20-60 ms (a tenth of writing
 * 200 MB); the musl loader's file says the same at the cost of one stat.
 */
function platformPackages (): string[] {
  const { platform, arch } = process
  if (platform === 'linux' && (arch === 'x64' || arch === 'arm64')) {
    const musl = fs.existsSync(`/lib/ld-musl-${arch === 'x64' ? 'x86_64' : 'aarch64'}.so.1`)
    return (musl ? ['musl', 'gnu'] : ['gnu', 'musl']).map((libc) => `@mongodb-js/zstd-linux-${arch}-${libc}`)
  }
  if (platform === 'darwin' && (arch === 'x64' || arch === 'arm64')) return [`@mongodb-js/zstd-darwin-${arch}`]
  if (platform === 'win32' && arch === 'x64') return ['@mongodb-js/zstd-win32-x64-msvc']
  return []
}

function isBinding (value: unknown): value is Binding {
  const b = value as Partial<Binding> | null
  return typeof b?.compress === 'function' && typeof b.decompress === 'function'
}

/** The binding: this platform's package, else whatever bindings.js finds; null when neither loads. */
function loadBinding (): Binding | null {
  let require: NodeJS.Require
  try {
    // Resolved from the package itself: its platform packages are its dependencies, not ours (pnpm).
    require = createRequire(createRequire(import.meta.url).resolve('@mongodb-js/zstd/package.json'))
  } catch {
    return null // not installed
  }
  for (const name of [...platformPackages(), '@mongodb-js/zstd/bindings.js']) {
    try {
      const binding: unknown = require(name)
      if (isBinding(binding)) return binding
    } catch {
      // not this one (another libc, not installed): the next
    }
  }
  return null
}

async function packageBackend (): Promise<ZstdBackend | null> {
  const binding = loadBinding()
  if (binding === null) return null
  return {
    name: '@mongodb-js/zstd',
    compress: async (data, level) => await binding.compress(data, level),
    decompress: async (data) => await binding.decompress(data)
  }
}
