/** shoebox meta inspect: rows, path and store entries, as mmmeta prints them. */
import { metadir } from '../../meta/metadir.js'
import { existingMetadir } from './metadir-options.js'
import { metaJson } from '../../meta/files.js'
import { oneLine } from '../one-line.js'
import { storeValueText } from './store.js'
import type { Command } from '../command.js'
import { noArguments, parse } from '../options.js'

const help = `Usage: shoebox meta inspect [--metadir DIR] [--json]

Prints, as mmmeta inspect does: 'files: N' (every state row, soft-deleted
ones included), 'path: <the _mmmeta directory>', then each store entry as
'key: value' (timestamps in UTC, as 'YYYY-MM-DD HH:MM:SS.ffffff').

Options:
  --metadir DIR   the base directory holding _mmmeta/ (default $MMMETA, else the current directory)
  --json          one JSON object: {files, path, store}
  -h, --help      show this help`

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'row count, path and store entries',
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, { metadir: { type: 'string' }, json: { type: 'boolean' } }, true)
    noArguments(positionals)
    const md = await metadir(await existingMetadir(values.metadir as string | undefined))
    try {
      const files = md.files.count({}, { deleted: true })
      const entries = await md.store.entries()
      if (values.json === true) {
        io.stdout.write(metaJson({ files, path: md.path, store: Object.fromEntries(entries) }) + '\n')
      } else {
        const lines = [`files: ${files}`, `path: ${md.path}`]
        for (const [k, v] of entries) lines.push(`${oneLine(k)}: ${await storeValueText(md.store, k, v)}`)
        io.stdout.write(lines.join('\n') + '\n')
      }
    } finally {
      md.close()
    }
    return 0
  }
}
