/** shoebox meta get: one state row by its unique key, as JSON. */
import { ShoeboxError } from '../../errors.js'
import { metadir } from '../../meta/metadir.js'
import { existingMetadir } from './metadir-options.js'
import { metaJson } from '../../meta/files.js'
import type { Command } from '../command.js'
import { usage } from '../io.js'
import { parse } from '../options.js'
import { STORE_FLAGS, storeOptionSpec, storeOptionsFrom } from '../store-options.js'
import { oneLine } from '../one-line.js'
import { printIndexedRecords, recordsOptionHelp } from './print-records.js'

const help = `Usage: shoebox meta get UID... [--metadir DIR] [--records]

Prints the state row of each UID (the configured unique key) as one JSON
line, soft-deleted or not (its __deleted and __deleted_reason say so), with
the rendered remote URLs under "remote" when config.yml has templates (a
row without a value for a key a template names is printed without, and a
line on stderr says so).
A UID that is not in the state db is an error (exit 1), after the rows found.

Options:
  --metadir DIR   the base directory holding _mmmeta/ (default $MMMETA, else the current directory)
${recordsOptionHelp}
  -h, --help      show this help`

export const getCommand: Command = {
  name: 'get',
  summary: 'state rows by unique key, as JSON',
  flags: STORE_FLAGS,
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, { metadir: { type: 'string' }, records: { type: 'boolean' }, ...storeOptionSpec }, true)
    // A malformed --endpoint is a usage error, said before anything is read or made.
    const storeOptions = storeOptionsFrom(values)
    if (positionals.length === 0) throw usage('needs at least one UID')
    const md = await metadir(await existingMetadir(values.metadir as string | undefined))
    const missing: string[] = []
    // With --records: the rows found, whose records are printed once the state db is closed.
    const found: Array<{ uid: string, row: Record<string, unknown> }> = []
    try {
      for (const uid of positionals) {
        const file = md.files.get(uid)
        if (file === undefined) {
          missing.push(uid)
          continue
        }
        if (values.records === true) {
          found.push({ uid, row: file.data })
          continue
        }
        let remote: Record<string, string> | undefined
        try {
          remote = Object.keys(md.config.remote).length > 0 ? file.remote : undefined
        } catch (err) {
          // a template naming a key the row has no value for (mmmeta's .remote raised KeyError): said, not left out silently
          remote = undefined
          io.stderr.write(`shoebox meta get: ${oneLine(uid)}: ${oneLine((err as Error).message)}; printed without "remote"\n`)
        }
        io.stdout.write(metaJson(remote === undefined ? file.data : { ...file.data, remote }) + '\n')
      }
    } finally {
      md.close()
    }
    if (values.records === true) {
      await printIndexedRecords(io, md.base, found.map((f) => f.row), (i) => `${md.config.unique} ${found[i].uid}`, storeOptions)
    }
    if (missing.length > 0) throw new ShoeboxError('SHOEBOX_NOT_FOUND', `not in ${md.paths.state}: ${missing.join(', ')}`)
    return 0
  }
}
