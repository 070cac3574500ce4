/** shoebox unpack: the files of packed archives back into a directory. */
import path from 'node:path'
import { unpack } from '../pack/unpack.js'
import { InvalidOptionError } from '../errors.js'
import type { Command } from './command.js'
import { checkDirArg, checkLocalDir, usage } from './io.js'
import { parse } from './options.js'
import { maxFrameSizeFrom, maxRecordSizeFrom, READ_FLAGS, readOptionSpec } from './read-options.js'
import { STORE_FLAGS, storeOptionHelp, storeOptionSpec, storeOptionsFrom } from './store-options.js'
import { storeUrlArg } from './store-url-arg.js'
import { plural } from '../plural.js'
import { untilInterrupted } from './interrupt.js'
import { oneLine } from './one-line.js'
import { misdecodedDirectory } from '../fs/undecoded-path.js'

const help = `Usage: shoebox unpack PATTERN --out DIR [options]

Restores the files that 'shoebox pack' stored in the archives matching
PATTERN (a glob, quoted, or s3://bucket/prefix/*.shoebox.gz) into DIR, with
their modes (permission bits, less the umask as tar does; never setuid,
setgid or sticky) and modification times. Every path is checked
first: an absolute path, a '..' segment, a backslash, a drive letter, or a
directory on the way that is a symbolic link stops the unpack; so does a file
whose bytes do not match its recorded size and sha256 (nothing is written for
it). Two records that disagree (a path that is a file in one and a
directory on another's path, like fd and fd/child) are refused too, and so is
the same path twice unless --overwrite (then the later replaces the earlier).
Each record is checked before its file is written; files restored before a
refusal (or a file that cannot be written) stay, and no later one is
written: the line says how many stay, or that nothing was restored. Each file is written under a
temporary name and renamed into place. Prints a one-line summary on stderr
(each path restored counted once).

Options:
  --out DIR             directory to restore into (required; created if missing)
  --overwrite           replace files that exist, and let a later record of
                        the same path replace an earlier (default: either
                        stops the unpack)
  --max-record-size SIZE  largest record read (default 64MiB); raise it for
                        archives packed with a larger maxFileSize
  --max-frame-size SIZE   largest zstd frame decompressed (default 256MiB); a
                        frame that could hold more is refused unread
${storeOptionHelp}
  -h, --help            show this help`

export const unpackCommand: Command = {
  name: 'unpack',
  summary: 'the files of packed archives back into a directory',
  help,
  flags: { overwrite: '--overwrite', ...READ_FLAGS, ...STORE_FLAGS },
  async run (argv, io) {
    const { values, positionals } = parse(argv, {
      out: { type: 'string' },
      overwrite: { type: 'boolean' },
      ...readOptionSpec,
      ...storeOptionSpec
    }, true)
    // A malformed --endpoint is a usage error, said before anything is read or made.
    const storeOptions = storeOptionsFrom(values)
    if (positionals.length !== 1) throw usage('needs exactly one PATTERN (quote globs)')
    checkDirArg(positionals[0], 'PATTERN', "unpack reads archives by name")
    const out = values.out
    if (typeof out !== 'string' || out === '') throw usage('needs --out DIR')
    checkLocalDir(out, '--out', 'unpack restores the files onto local disk')
    // A name that is not UTF-8 names another directory, which unpack would make (misdecodedDirectory()).
    const misdecoded = await misdecodedDirectory(out, "'shoebox unpack ... --out .'")
    if (misdecoded !== undefined) throw misdecoded
    const maxRecordSize = maxRecordSizeFrom(values)
    // Monotonic: a wall clock stepped back during the run made the time it took negative.
    const started = performance.now()
    const pattern = storeUrlArg(positionals[0], storeOptions)
    const summary = await untilInterrupted(async (signal) => await unpack(pattern, {
      out,
      overwrite: values.overwrite === true,
      maxRecordSize,
      maxFrameSize: maxFrameSizeFrom(values),
      storeOptions,
      signal
    }).catch((err: unknown) => {
      // --out among the archives (unpack.ts refuseOutAmongArchives): named as the flag typed, a usage mistake.
      throw err instanceof InvalidOptionError && err.option === 'out' ? usage(`--out: ${err.reason}`) : err
    }))
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    io.stderr.write(`shoebox unpack: ${plural(summary.files, 'file')}, ${plural(summary.bytes, 'byte')} from ${plural(summary.archives, 'archive')} into ${oneLine(path.resolve(out))}, ${seconds} s\n`)
    return 0
  }
}

