/**
 * The package's async entry points whose modules load on their first call,
 * not when the package is imported: pack() and unpack() (with the rolling
 * sink, the stores and the archive source they drive) and
 * recoverDirectory(). Importing shoebox must stay about as fast as starting
 * Node (bench/startup.js, test/startup-lazy.test.ts), and each module loaded
 * at import costs about a millisecond whether or not it is used. Each
 * wrapper has its module's signature and behaviour: it only adds the one
 * `import()` before the first call. Sync factories (encode(),
 * rollingSink(), archiveSource()...) cannot wait for a module; they are
 * imported directly by index.ts.
 */
import type { PackOptions, PackSummary } from './pack/pack.js'
import type { UnpackOptions, UnpackSummary } from './pack/unpack.js'
import type { RecoveredFile, RecoverOptions } from './roll/recover.js'

/**
 * Pack every matching file under `dir` into archives and upload them to
 * `options.to` (lib/pack/pack.ts).
 */
export async function pack (dir: string, options: PackOptions): Promise<PackSummary> {
  const { pack } = await import('./pack/pack.js')
  return await pack(dir, options)
}

/** Restore the files of every archive `pattern` matches into `options.out` (lib/pack/unpack.ts). */
export async function unpack (pattern: string, options: UnpackOptions): Promise<UnpackSummary> {
  const { unpack } = await import('./pack/unpack.js')
  return await unpack(pattern, options)
}

/** Cut back and seal what crashed writers left in `dir` (lib/roll/recover.ts). */
export async function recoverDirectory (dir: string, options?: RecoverOptions): Promise<RecoveredFile[]> {
  const { recoverDirectory } = await import('./roll/recover.js')
  return await recoverDirectory(dir, options)
}
