/**
 * shoebox meta dump: the meta db's rows, replayed, to stdout: CSV in the db
 * dialect (columns sorted, unique key first, then the config's remote
 * attributes), or NDJSON with --json. Unlike mmmeta's dump the column order
 * is stable and an empty db prints just the header.
 */
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { loadMetaConfig, renderRemote } from '../../meta/config.js'
import { formatCsvRow } from '../../meta/csv.js'
import { loadHistory } from '../../meta/history.js'
import type { Command } from '../command.js'
import { parse } from '../options.js'
import { existingMetadir, metadirFrom, metadirOptionHelp, metadirOptionSpec } from './metadir-options.js'
import { skippedRowLine } from './skipped-line.js'

const help = `Usage: shoebox meta dump [options]

Prints every row of the meta db (_mmmeta/db/ replayed), with the remote
attributes of config.yml, as CSV (or NDJSON with --json).

Options:
${metadirOptionHelp}
  --json             one JSON object per row instead of CSV
  -h, --help         show this help`

async function put (out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain')
}

export const dumpCommand: Command = {
  name: 'dump',
  summary: 'print the meta db rows as CSV or NDJSON',
  help,
  async run (argv, io) {
    const { values } = parse(argv, { ...metadirOptionSpec, json: { type: 'boolean' } }, false)
    const base = await existingMetadir(metadirFrom(values).base)
    const config = await loadMetaConfig(base)
    const history = await loadHistory(base, config, {
      onProblem: (p) => { io.stderr.write(skippedRowLine(p)) }
    })
    const remotes = Object.keys(config.remote).sort()
    const uids = [...history.uids()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    if (values.json === true) {
      for (const uid of uids) {
        const row = history.get(uid) ?? {}
        await put(io.stdout, JSON.stringify({ ...row, ...renderRemote(config, row) }) + '\n')
      }
      return 0
    }
    const columns = history.columns()
    await put(io.stdout, formatCsvRow([...columns, ...remotes.filter((r) => !columns.includes(r))]))
    let batch = ''
    for (const uid of uids) {
      const row = history.get(uid) ?? {}
      const remote = renderRemote(config, row)
      batch += formatCsvRow([...columns.map((c) => row[c] ?? null), ...remotes.filter((r) => !columns.includes(r)).map((r) => remote[r])])
      if (batch.length >= 65536) {
        await put(io.stdout, batch)
        batch = ''
      }
    }
    if (batch.length > 0) await put(io.stdout, batch)
    return 0
  }
}
