/** shoebox recover: seal what crashed writers left behind. */
import { reworded, ShoeboxError } from '../errors.js'
import { misdecodedSource } from '../fs/undecoded-path.js'
import { recoverDirectory, type RecoveredFile, type SkippedTemp } from '../roll/recover.js'
import type { Command } from './command.js'
import { checkDirArg, checkLocalDir, usage } from './io.js'
import { inFlags, parse } from './options.js'
import { plural } from '../plural.js'
import { recoveredLine } from './recovered-line.js'
import { oneLine } from './one-line.js'

const help = `Usage: shoebox recover DIR [--force]

Finds temporary files that writers left in DIR (a crash, a kill, a full disk),
cuts each back to its last whole record, gzip member or zstd frame, and seals
it under its final name (a file with readable data after a damaged stretch is
sealed whole, not cut: shoebox verify shows where). Files of live writers on
this host are left alone (a file whose pid now runs a process that started
otherwise is a dead writer's), and so are other hosts' (--force recovers
those: only when you know the writer is gone).
Prints one line per file: records kept and bytes dropped.

Options:
  --force       also recover files of other hosts' or live writers
  -h, --help    show this help`

export const recoverCommand: Command = {
  name: 'recover',
  reportsOnStdout: true,
  summary: 'seal the temporary files crashed writers left in a directory',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, { force: { type: 'boolean' } }, true)
    if (positionals.length !== 1) throw usage('recover needs exactly one directory')
    const dir = positionals[0]
    checkDirArg(dir, 'directory', 'recover seals the temporary files in a directory')
    checkLocalDir(dir, 'DIR', 'recover seals the temporary files in a local directory')
    // A name that is not UTF-8 names no directory as it reads: said, not ENOENT (misdecodedSource()).
    const misdecoded = await misdecodedSource(dir, 'recover the files in', "'shoebox recover .'")
    if (misdecoded !== undefined) throw misdecoded
    let done = 0
    let noZstd = 0
    try {
      // One line per file as soon as it is sealed: a failure later leaves those lines true.
      await recoverDirectory(dir, {
        force: values.force === true,
        onSkip: (s: SkippedTemp) => {
          if (s.code === 'SHOEBOX_UNSUPPORTED') noZstd++
          io.stdout.write(`skipped ${oneLine(s.temp)}: ${oneLine(inFlags(s.reason, { force: '--force' }))}\n`)
        },
        onRecover: (r: RecoveredFile) => {
          done++
          io.stdout.write(`${recoveredLine(r)}\n`)
        }
      })
    } catch (err) {
      if (!(err instanceof ShoeboxError)) throw err
      // A file that could not be sealed (a read-only directory: EROFS on its fsync) said only "cannot fsync ...".
      // Not the listing of DIR itself (readdir's failure, its cause), which names DIR and touched nothing.
      if (done === 0) {
        if ((err.cause as NodeJS.ErrnoException | undefined)?.syscall === 'scandir') throw err
        throw reworded(err, `${err.message}; nothing recovered, the files left as they were`)
      }
      throw reworded(err, `${err.message}; ${plural(done, 'file')} recovered before it (listed above), the rest left as they were`)
    }
    // A zstd file this install cannot read still needs recovering: not "nothing to recover", nor exit 0.
    if (noZstd > 0) {
      throw new ShoeboxError('SHOEBOX_UNSUPPORTED', `${oneLine(dir)}: ${plural(noZstd, 'file')} left unrecovered (listed above): zstd is not available in this install; recover ${noZstd === 1 ? 'it' : 'them'} where zstd is (left as ${noZstd === 1 ? 'it was' : 'they were'})${done > 0 ? `; ${plural(done, 'file')} recovered` : ''}`)
    }
    if (done === 0) io.stdout.write('nothing to recover\n')
    return 0
  }
}
