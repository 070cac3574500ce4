/**
 * The metadir options every `shoebox meta` subcommand takes (spec §3):
 * `--metadir` (else the MMMETA variable, else the working directory) and
 * `--files-root` (else MMMETA_FILES_ROOT, else the metadir). Unlike
 * mmmeta's CLI, --files-root is honoured.
 */
import path from 'node:path'
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
