/**
 * The metadir options every `shoebox meta` subcommand takes (spec §3):
 * `--metadir` (else the MMMETA variable, else the working directory) and
 * `--files-root` (else MMMETA_FILES_ROOT, else the metadir). Unlike
 * mmmeta's CLI, --files-root is honoured.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { ShoeboxError } from '../../errors.js'
import { ioError } from '../../fs/io-error.js'
import type { OptionSpec } from '../options.js'
import { usage } from '../io.js'

export const metadirOptionSpec: OptionSpec = {
  metadir: { type: 'string' },
  'files-root': { type: 'string' }
}

export const metadirOptionHelp = `  --metadir DIR      the metadir base (holding _mmmeta/); default $MMMETA, else the working directory
  --files-root DIR   where the JSON metadata and the files live; default $MMMETA_FILES_ROOT, else the metadir`

export interface MetadirLocation {
  base: string
  filesRoot: string
}

export function metadirFrom (values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): MetadirLocation {
  const pick = (option: string, variable: string): string | undefined => {
    const value = values[option]
    if (value !== undefined) {
      if (typeof value !== 'string' || value === '') throw usage(`--${option} needs a directory`)
      return value
    }
    const fromEnv = env[variable]
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv
  }
  const base = path.resolve(pick('metadir', 'MMMETA') ?? '.')
  const filesRoot = path.resolve(pick('files-root', 'MMMETA_FILES_ROOT') ?? base)
  return { base, filesRoot }
}

/**
 * The base of a metadir that must exist already (`<base>/_mmmeta/` a
 * directory), resolved as metadir() resolves it. Every meta command but
 * generate, index and pull (which make a metadir) reads or changes one that
 * is there: opening a mistyped --metadir with metadir() made an empty one and
 * answered from it (files: 0, exit 0).
 */
export async function existingMetadir (base: string | undefined): Promise<string> {
  const root = path.resolve(base ?? process.env.MMMETA ?? process.cwd())
  const dir = path.join(root, '_mmmeta')
  let stat
  try {
    stat = await fs.stat(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${dir}: no metadir here (no such directory); nothing read or created`)
    throw ioError(err, 'cannot read', dir)
  }
  if (!stat.isDirectory()) throw new ShoeboxError('SHOEBOX_NOT_FOUND', `${dir}: no metadir here (not a directory); nothing read or created`)
  return root
}
