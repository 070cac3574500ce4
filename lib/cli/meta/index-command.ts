/** shoebox meta index: a record index over archives, written by the publisher step (as generate). */
import { loadMetaConfig } from '../../meta/config.js'
import { metaIngest, type InvalidMetadata } from '../../meta/ingest.js'
import { checkIndexConfig, recordIndexSource } from '../../meta/record-index.js'
import type { Command } from '../command.js'
import { usage } from '../io.js'
import { oneOf, parse } from '../options.js'
import { STORE_FLAGS, storeOptionHelp, storeOptionSpec, storeOptionsFrom } from '../store-options.js'
import { storeUrlArg } from '../store-url-arg.js'
import { runIngest } from './ingest-run.js'
import { metadirFrom, metadirOptionHelp, metadirOptionSpec } from './metadir-options.js'

const help = `Usage: shoebox meta index PATTERN [options]

Indexes every record of the archives PATTERN matches (a quoted glob, local
or s3://): its metadata plus _archive (the archive file: an s3:// URL, or a
path relative to the metadir when inside it) and _position (FILE:OFFSET, or
FILE:OFFSET@MEMBER+SKIP in a gzip or zstd file: the member a ranged read
starts at), written as ONE new diff file in _mmmeta/db/ like generate (same
lock, same history). After 'meta update', 'meta query ... --records' and
'meta get UID --records' fetch just the matching records.

config.yml: metadata.unique must be a key every record has (_position gives
one row per record); with metadata.include, it must name _archive and
_position. For cheap fetches from gzip archives, write them with small blocks
(rollingSink blockSize, e.g. 64KiB): a fetch reads at most about one member.

Options:
${metadirOptionHelp}
  --replace           start a new history: write one snapshot, then remove the older files
  --ensure            soft-delete rows no record named this run (reason meta-missing)
  --on-invalid MODE   report (default: a line on stderr each, exit 0) or fail (exit 1 after writing the valid ones)
  --json              print the counts as one JSON object
${storeOptionHelp}
  -h, --help          show this help`

/** Where an invalid record came from: its archive and its number there. */
function where (info: InvalidMetadata): string {
  return info.file === undefined ? info.uid ?? '(record)' : `${info.file} record ${info.line ?? '?'}`
}

export const indexCommand: Command = {
  name: 'index',
  summary: 'index the records of archives (metadata + position) into the meta db',
  flags: STORE_FLAGS,
  help,
  async run (argv, io) {
    const { values, positionals } = parse(argv, {
      ...metadirOptionSpec,
      ...storeOptionSpec,
      replace: { type: 'boolean' },
      ensure: { type: 'boolean' },
      'on-invalid': { type: 'string' },
      json: { type: 'boolean' }
    }, true)
    // A malformed --endpoint is a usage error, said before anything is read or made.
    const storeOptions = storeOptionsFrom(values)
    if (positionals.length !== 1) throw usage('needs one PATTERN (quote it, so the shell leaves the glob alone)')
    const onInvalid = oneOf('--on-invalid', values['on-invalid'], ['report', 'fail'] as const, 'report')
    const { base, filesRoot } = metadirFrom(values)
    const config = await loadMetaConfig(base)
    checkIndexConfig(config)
    const source = recordIndexSource(storeUrlArg(positionals[0], storeOptions), { base, storeOptions })
    const sink = metaIngest(base, { config, replace: values.replace === true, ensure: values.ensure === true, filesRoot })
    return await runIngest(io, source, sink, { onInvalid, json: values.json === true, items: 'records', counted: 'records', progress: 'records indexed', where })
  }
}
