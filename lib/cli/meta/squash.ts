/** shoebox meta squash: the history as one snapshot (mmmeta squash), optionally pruned. */
import { squashHistory } from '../../meta/squash.js'
import type { Command } from '../command.js'
import { untilInterrupted } from '../interrupt.js'
import { parse } from '../options.js'
import { existingMetadir, metadirFrom, metadirOptionHelp, metadirOptionSpec } from './metadir-options.js'
import { skippedRowLine } from './skipped-line.js'

const help = `Usage: shoebox meta squash [options]

Replays _mmmeta/db/ and writes it as one new .squashed snapshot, which
readers start from. As with mmmeta the older files are kept, unless --prune.

Options:
${metadirOptionHelp}
  --prune            remove the files the snapshot covers, once it is written
                     (a file holding a row it skipped is kept)
  --json             print the result as one JSON object
  -h, --help         show this help`

export const squashCommand: Command = {
  name: 'squash',
  summary: 'write the meta db history as one snapshot',
  help,
  async run (argv, io) {
    const { values } = parse(argv, { ...metadirOptionSpec, prune: { type: 'boolean' }, json: { type: 'boolean' } }, false)
    const base = await existingMetadir(metadirFrom(values).base)
    // Ctrl-C while it waits for another publisher's lock (up to 60 s) or replays: stopped, nothing written, exit 130.
    const result = await untilInterrupted(async (signal) => await squashHistory(base, {
      prune: values.prune === true,
      // as update words it: a row left out of the snapshot is never left out without a word
      onProblem: (p) => { io.stderr.write(skippedRowLine(p)) },
      onWait: (holder) => { io.stderr.write(`waiting for another publisher (pid ${holder.pid})\n`) },
      signal
    }))
    if (values.json === true) {
      io.stdout.write(JSON.stringify({ file: result.file?.path ?? null, rows: result.rows, pruned: result.pruned }) + '\n')
    } else if (result.file === null) {
      io.stdout.write('The meta db is empty: nothing written.\n')
    } else {
      io.stdout.write(`Wrote ${result.file.path} (${result.rows} rows).\n`)
      if (result.pruned.length > 0) io.stdout.write(`Removed ${result.pruned.length} older files.\n`)
    }
    return 0
  }
}
