/**
 * shoebox meta push URL (and, through syncCommand(), pull): copy the metadir
 * to and from a store. The two differ only in direction, so they share one
 * definition here.
 */
import { pullMetadir, pushMetadir } from '../../meta/sync.js'
import type { Command } from '../command.js'
import { untilInterrupted } from '../interrupt.js'
import { usage } from '../io.js'
import { oneLine } from '../one-line.js'
import { parse } from '../options.js'
import { STORE_FLAGS, storeOptionHelp, storeOptionSpec, storeOptionsFrom } from '../store-options.js'
import { storeUrlArg } from '../store-url-arg.js'
import { plural } from '../../plural.js'

const DIRECTIONS = {
  push: { sync: pushMetadir, summary: 'copy the metadir to a store (file://, s3://)', what: 'Copies the metadir (_mmmeta/: history, config.yml, store) to URL' },
  pull: { sync: pullMetadir, summary: 'copy a metadir from a store (file://, s3://)', what: 'Copies a metadir (_mmmeta/: history, config.yml, store) from URL into the local one' }
}

export function syncCommand (name: keyof typeof DIRECTIONS): Command {
  const { sync, summary, what } = DIRECTIONS[name]
  return {
    name,
    summary,
    flags: STORE_FLAGS,
    reportsOnStdout: true,
    help: `Usage: shoebox meta ${name} URL [--metadir DIR] [--json]

${what}
(a directory, file://... or s3://bucket/prefix; keys mirror the layout,
URL/_mmmeta/db/...). History files go first, oldest first, then config.yml
and the store, the *_last_updated pointers last, so a reader never sees a
pointer before the history it points past; each file arrives whole. Only
files missing or changed at the other side are copied; nothing is deleted
there. state.db stays local. Prints one line per file copied, then a total.
A URL with nothing under _mmmeta/ (pull), or a directory without _mmmeta/
(push), is an error (exit 1): most likely a typo. SIGINT or SIGTERM drop the
file under way (no multipart upload is left open, no partial file) and keep
those copied before it: one line says how many, exit 130 or 143.

Options:
  --metadir DIR   the base directory holding _mmmeta/ (default $MMMETA, else the current directory)
  --json          the files copied and the totals as one JSON object
${storeOptionHelp}
  -h, --help      show this help`,
    async run (argv, io) {
      const { values, positionals } = parse(argv, { ...storeOptionSpec, metadir: { type: 'string' }, json: { type: 'boolean' } }, true)
      // A malformed --endpoint is a usage error, said before anything is read or made.
      const storeOptions = storeOptionsFrom(values)
      if (positionals.length !== 1) throw usage(`meta ${name} needs exactly one URL`)
      const base = (values.metadir as string | undefined) ?? process.env.MMMETA ?? process.cwd()
      const json = values.json === true
      const target = storeUrlArg(positionals[0], storeOptions)
      // SIGINT or SIGTERM drop the file under way (killed outright, a push left its multipart upload open on S3)
      // and keep those copied before it: one line says how many, exit 130 or 143.
      const result = await untilInterrupted(async (signal) => await sync(base, target, {
        ...storeOptions,
        signal,
        // A key is a file name (of the store pulled from: anyone's): one line, its control characters escaped.
        onFile: json ? undefined : (f) => { io.stdout.write(`${oneLine(f.key)}\t${plural(f.bytes, 'byte')}\n`) }
      }))
      if (json) io.stdout.write(JSON.stringify(result) + '\n')
      else io.stdout.write(`${plural(result.copied.length, 'file')} copied (${plural(result.bytes, 'byte')}), ${result.unchanged} unchanged\n`)
      return 0
    }
  }
}

export const pushCommand = syncCommand('push')
