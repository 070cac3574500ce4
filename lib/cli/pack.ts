/** shoebox pack: a directory's files into a few large archives in a store. */
import path from 'node:path'
import { InvalidOptionError, ShoeboxError } from '../errors.js'
import { misdecodedSource } from '../fs/undecoded-path.js'
import { pack, type SkipReason } from '../pack/pack.js'
import { parseSize } from '../units.js'
import type { Command } from './command.js'
import { checkDirArg, usage } from './io.js'
import { asUsage, parse } from './options.js'
import { compressFrom, compressOptionHelp, compressOptionSpec, expandCompress } from './compress-options.js'
import { STORE_FLAGS, storeOptionHelp, storeOptionSpec, storeOptionsFrom } from './store-options.js'
import { storeUrlArg } from './store-url-arg.js'
import { plural } from '../plural.js'
import { untilInterrupted } from './interrupt.js'
import { oneLine } from './one-line.js'

const help = `Usage: shoebox pack DIR --to URL [options]

Packs every regular file under DIR into a few large archives, one record per
file: its metadata holds the file's path relative to DIR, size, mtime, mode
and sha256, its payload the file's bytes. Each archive is sealed at
--roll-size and uploaded to URL (s3://bucket/prefix, file:///dir or a
directory); 10,000 small files become a handful of objects. Files are packed
in a stable order (depth first, names sorted). Symbolic links are not
followed: they are skipped and counted, as are sockets, FIFOs and devices.
A file that changes while it is read is read again (up to 3 reads), never
stored torn. A file or directory that cannot be read, or a file that changed
during every read, stops the pack with one line naming it, unless
--skip-unreadable. 'shoebox unpack' restores the files. Prints a one-line
summary on stderr, with the skipped entries counted by reason (--verbose
lists each).

Options:
  --to URL              where the archives go (required)
  --include GLOB        pack only files whose path relative to DIR matches
                        (repeatable; default **)
  --dot                 let globs match dot files and dot directories
  --name NAME           archive names start with NAME (characters other than
                        A-Z a-z 0-9 . _ - become _; default: DIR's base name)
${compressOptionHelp}
  --roll-size SIZE      seal an archive at this size (default 64MiB)
  --max-file-size SIZE  largest file packed; a larger one stops the pack
                        (default 64MiB less 64KiB, what readers accept)
  --skip-unreadable     skip (and count) files and directories that cannot be
                        read, and files that changed during every read
  --verbose             print each skipped entry and why on stderr, one line each
${storeOptionHelp}
  -h, --help            show this help`

export const packCommand: Command = {
  name: 'pack',
  summary: 'a directory of files into a few large archives in a store',
  flags: STORE_FLAGS,
  help,
  async run (argv, io) {
    const { values, positionals } = parse(expandCompress(argv), {
      to: { type: 'string' },
      include: { type: 'string', multiple: true },
      dot: { type: 'boolean' },
      name: { type: 'string' },
      ...compressOptionSpec,
      'roll-size': { type: 'string' },
      'max-file-size': { type: 'string' },
      'skip-unreadable': { type: 'boolean' },
      verbose: { type: 'boolean' },
      ...storeOptionSpec
    }, true)
    // A malformed --endpoint is a usage error, said before anything is read or made.
    const storeOptions = storeOptionsFrom(values)
    if (positionals.length !== 1) throw usage('needs exactly one directory')
    // An unset shell variable ("$SRC"): it was 'option dir: a directory to pack is required', exit 1.
    checkDirArg(positionals[0], 'directory', 'pack reads the files of a directory')
    const to = values.to
    if (typeof to !== 'string' || to === '') throw usage('needs --to URL (s3://bucket/prefix, file:///dir or a directory)')
    storeUrlArg(to, storeOptions)
    const includes = values.include as string[] | undefined
    if (includes?.some((g) => g === '') === true) throw usage('--include needs a glob')
    const rollSize = values['roll-size'] as string | undefined ?? '64MiB'
    const compress = compressFrom(values)
    const maxFileSize = values['max-file-size'] as string | undefined
    asUsage(() => {
      parseSize(rollSize, '--roll-size')
      if (maxFileSize !== undefined) parseSize(maxFileSize, '--max-file-size')
    })
    // A name that is not UTF-8 names no directory as it reads: said, not ENOENT (misdecodedSource()).
    const misdecoded = await misdecodedSource(positionals[0], 'pack', "'shoebox pack . --to ...'")
    if (misdecoded !== undefined) throw misdecoded
    const dir = path.resolve(positionals[0])
    const verbose = values.verbose === true
    const byReason = new Map<SkipReason, number>()
    // Monotonic: a wall clock stepped back during the run made the time it took negative.
    const started = performance.now()
    const summary = await untilInterrupted(async (signal) => await pack(positionals[0], {
      to,
      include: includes,
      dot: values.dot === true,
      name: values.name as string | undefined,
      compress,
      rollSize,
      maxFileSize,
      skipUnreadable: values['skip-unreadable'] === true,
      storeOptions,
      onSkip: (entry) => {
        byReason.set(entry.reason, (byReason.get(entry.reason) ?? 0) + 1)
        if (verbose) io.stderr.write(`shoebox pack: skipped ${oneLine(`${path.join(dir, ...entry.path.split('/'))} (${entry.reason}${entry.detail === undefined ? '' : `: ${entry.detail}`})`)}\n`)
      },
      signal
    }).catch((err: unknown) => {
      // --to the directory being packed (pack.ts refuseDestinationIsDir): named as the flag typed, a usage mistake.
      throw err instanceof InvalidOptionError && err.option === 'to' ? usage(`--to: ${err.reason}`) : err
    }))
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    const reasons = [...byReason].map(([reason, count]) => `${reason}: ${count}`).join(', ')
    const skipped = summary.skipped > 0 ? `, ${summary.skipped} skipped (${reasons})` : ''
    // Nothing to pack (an --include that matches nothing, a misspelt one, an empty DIR) is said, exit 1, as
    // read and unpack say a pattern that matches nothing: a summary of 0 files and exit 0 passed for success.
    if (summary.files === 0) {
      const matching = includes === undefined ? '' : ` matching --include ${includes.map((g) => JSON.stringify(g)).join(', ')}`
      throw new ShoeboxError('SHOEBOX_NOT_FOUND', `no file to pack under ${dir}${matching}${skipped}; nothing was uploaded to ${to}`)
    }
    io.stderr.write(`shoebox pack: ${plural(summary.files, 'file')}, ${plural(summary.bytes, 'byte')} from ${oneLine(dir)} into ${plural(summary.archives, 'archive')} (${plural(summary.archiveBytes, 'byte')}) at ${oneLine(to)}${skipped}, ${seconds} s\n`)
    return 0
  }
}
