/** shoebox meta update: merge the meta history into the consumer's state db. */
import { metadir } from '../../meta/metadir.js'
import { existingMetadir } from './metadir-options.js'
import type { Command } from '../command.js'
import { noArguments, parse } from '../options.js'
import { isTerminal } from '../store-options.js'
import { oneLine } from '../one-line.js'
import { skippedRowLine } from './skipped-line.js'

const help = `Usage: shoebox meta update [--metadir DIR] [--replace] [--cleanup] [--json]

Replays the meta history (_mmmeta/db/: the newest .squashed and the appends
after it) and merges it into the state db (_mmmeta/state.db) in one
transaction: rows upserted by the unique key, consumer columns kept, values
typed by config.yml's metadata.types, rows gone from the history
soft-deleted (reason state-missing), rows back in it undeleted. Prints the
counts: added, updated, deleted, skipped, invalid (and each invalid row on
stderr). A killed update leaves the state db as it was.

Options:
  --metadir DIR   the base directory holding _mmmeta/ (default $MMMETA, else the current directory)
  --replace       drop every state row and column first
  --cleanup       afterwards keep only configured keys and columns starting with _
  --json          print the counts as one JSON object
  -h, --help      show this help`

export const updateCommand: Command = {
  name: 'update',
  summary: 'merge the meta history into the state db',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, {
      metadir: { type: 'string' }, replace: { type: 'boolean' }, cleanup: { type: 'boolean' }, json: { type: 'boolean' }
    }, true)
    noArguments(positionals)
    const md = await metadir(await existingMetadir(values.metadir as string | undefined))
    const live = isTerminal(io)
    try {
      const result = await md.update({
        replace: values.replace === true,
        cleanup: values.cleanup === true,
        onProblem: (p) => { io.stderr.write(skippedRowLine(p)) },
        onProgress: live ? (rows) => { io.stderr.write(`\r\x1b[Kupdate: ${rows} rows merged`) } : undefined
      })
      if (live) io.stderr.write('\r\x1b[K')
      // A row's uid comes from a history file (pulled from anyone's store): one line, control characters escaped.
      for (const row of result.invalidRows) io.stderr.write(`${oneLine(`invalid ${row.uid ?? '(no uid)'}: ${row.reason}`)}\n`)
      const { added, updated, deleted, skipped, invalid } = result
      if (values.json === true) io.stdout.write(JSON.stringify({ added, updated, deleted, skipped, invalid, dropped: result.dropped }) + '\n')
      else io.stdout.write(`added ${added}, updated ${updated}, deleted ${deleted}, skipped ${skipped}, invalid ${invalid}\n`)
    } catch (err) {
      // The update's own error says what happened; a close failing after it (its checkpoint, on the same full disk) hid it.
      try {
        md.close()
      } catch {
        // the update's error is the one to report
      }
      throw err
    }
    md.close()
    return 0
  }
}
