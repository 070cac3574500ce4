/** shoebox recover: seal what crashed writers left behind. */
import { recoverDirectory, type SkippedTemp } from '../roll/recover.js'
import type { Command } from './command.js'
import { usage } from './io.js'
import { parse } from './options.js'

const help = `Usage: shoebox recover DIR [--force]

Finds temporary files that writers left in DIR (a crash, a kill, a full disk),
cuts each back to its last whole record or gzip member, and seals it under its
final name. Files of live writers on this host are left alone, and so are
other hosts' (--force recovers those: only when you know the writer is gone).
Prints one line per file: records kept and bytes dropped.

Options:
  --force       also recover files of other hosts' or live writers
  -h, --help    show this help`

export const recoverCommand: Command = {
  name: 'recover',
  summary: 'seal the temporary files crashed writers left in a directory',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, { force: { type: 'boolean' } }, true)
    if (positionals.length !== 1) throw usage('recover needs exactly one directory')
    const recovered = await recoverDirectory(positionals[0], {
      force: values.force === true,
      onSkip: (s: SkippedTemp) => { io.stdout.write(`skipped ${s.temp}: ${s.reason}\n`) }
    })
    for (const r of recovered) {
      io.stdout.write(`recovered ${r.temp} -> ${r.path ?? '(nothing readable; removed)'}: ${r.records} records kept, ${r.bytesDropped} bytes dropped${r.damaged ? ', damage inside (see shoebox verify)' : ''}\n`)
    }
    if (recovered.length === 0) io.stdout.write('nothing to recover\n')
    return 0
  }
}
