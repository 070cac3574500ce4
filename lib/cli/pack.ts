/** shoebox pack: a directory's files into a few large archives in a store. */
import path from 'node:path'
import { gzipLevel } from '../compress/gzip.js'
import { ShoeboxError } from '../errors.js'
import { pack } from '../pack/pack.js'
import { parseSize } from '../units.js'
import type { Command } from './command.js'
import { usage } from './io.js'
import { expandGzip, parse } from './options.js'
import { storeOptionHelp, storeOptionSpec, storeOptionsFrom } from './store-options.js'

const help = `Usage: shoebox pack DIR --to URL [options]

Packs every regular file under DIR into a few large archives, one record per
file: its metadata holds the file's path relative to DIR, size, mtime, mode
and sha256, its payload the file's bytes. Each archive is sealed at
--roll-size and uploaded to URL (s3://bucket/prefix, file:///dir or a
directory); 10,000 small files become a handful of objects. Files are packed
in a stable order (depth first, names sorted). Symbolic links are not
followed: they are skipped and counted, as are sockets, FIFOs and devices.
'shoebox unpack' restores the files. Prints a one-line summary on stderr.

Options:
  --to URL              where the archives go (required)
  --include GLOB        pack only files whose path relative to DIR matches
                        (repeatable; default **)
  --dot                 let globs match dot files and dot directories
  --name NAME           archive names start with NAME (default: DIR's base name)
  --gzip[=LEVEL]        compress the archives (default level 6)
  --roll-size SIZE      seal an archive at this size (default 64MiB)
${storeOptionHelp}
  -h, --help            show this help`

export const packCommand: Command = {
  name: 'pack',
  summary: 'a directory of files into a few large archives in a store',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(expandGzip(argv), {
      to: { type: 'string' },
      include: { type: 'string', multiple: true },
      dot: { type: 'boolean' },
      name: { type: 'string' },
      gzip: { type: 'boolean' },
      'gzip-level': { type: 'string' },
      'roll-size': { type: 'string' },
      ...storeOptionSpec
    }, true)
    if (positionals.length !== 1) throw usage('pack needs exactly one directory')
    const to = values.to
    if (typeof to !== 'string' || to === '') throw usage('pack needs --to URL (s3://bucket/prefix, file:///dir or a directory)')
    const includes = values.include as string[] | undefined
    if (includes?.some((g) => g === '') === true) throw usage('--include needs a glob')
    const rollSize = values['roll-size'] as string | undefined ?? '64MiB'
    const gzip = values.gzip === true ? { level: values['gzip-level'] === undefined ? 6 : Number(values['gzip-level']) } : false
    try {
      parseSize(rollSize, '--roll-size')
      gzipLevel(gzip)
    } catch (err) {
      if (err instanceof ShoeboxError && err.code === 'SHOEBOX_INVALID_OPTION') throw usage(err.message)
      throw err
    }
    const started = Date.now()
    const summary = await pack(positionals[0], {
      to,
      include: includes,
      dot: values.dot === true,
      name: values.name as string | undefined,
      gzip,
      rollSize,
      storeOptions: storeOptionsFrom(values)
    })
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    const skipped = summary.skipped > 0 ? `, ${summary.skipped} skipped (symlinks, special files)` : ''
    io.stderr.write(`shoebox pack: ${summary.files} files, ${summary.bytes} bytes from ${path.resolve(positionals[0])} into ${summary.archives} archive${summary.archives === 1 ? '' : 's'} (${summary.archiveBytes} bytes) at ${to}${skipped}, ${seconds} s\n`)
    return 0
  }
}
