/** shoebox meta generate: the publisher step (mmmeta generate), with shoebox's sources. */
import { Readable } from 'node:stream'
import { metaIngest, type InvalidMetadata } from '../../meta/ingest.js'
import { archiveMetadataSource, fileStatSource, jsonArraySource, jsonFilesSource, ndjsonFileSource, ndjsonSource } from '../../meta/sources.js'
import type { Command } from '../command.js'
import { usage } from '../io.js'
import { oneOf, parse } from '../options.js'
import { runIngest } from './ingest-run.js'
import { STORE_FLAGS, storeOptionHelp, storeOptionSpec, storeOptionsFrom } from '../store-options.js'
import type { StoreOptions } from '../../store/open-store.js'
import { storeUrlArg } from '../store-url-arg.js'
import { metadirFrom, metadirOptionHelp, metadirOptionSpec } from './metadir-options.js'

const help = `Usage: shoebox meta generate [options]

Reads metadata (by default every *.json under the files root, one object per
file, in sorted order, _mmmeta/ skipped), flattens it ('parent:child' keys),
keeps the keys config.yml names (all keys when it names no 'include'),
checks the required ones, and writes what changed as ONE new diff file in
_mmmeta/db/ (none when nothing changed), readable by mmmeta. Values are kept
exactly (0, false, "", "0012", big integers, unicode). One publisher at a
time: a second one waits for the first.

Options:
${metadirOptionHelp}
  --ndjson FILE       read NDJSON instead ('-' for standard input)
  --json-array FILE   read a file holding one top-level JSON array instead
  --archives PATTERN  read the metadata of the records of shoebox archives instead
                      (local or s3://, with --endpoint URL)
  --no-meta           no JSON: one record per file under the files root (name, path,
                      size, UTC times, SHA-1 as content_hash), as mmmeta's --no-meta
  --replace           start a new history: write one snapshot, then remove the older files
  --ensure            soft-delete rows no metadata named this run (reason meta-missing)
  --ensure-files      soft-delete rows whose file is missing under the files root (original-missing)
  --on-invalid MODE   report (default: a line on stderr each, exit 0) or fail (exit 1 after writing the valid ones)
  --json              print the counts as one JSON object
${storeOptionHelp}
  -h, --help          show this help`

function sourceFor (values: Record<string, unknown>, filesRoot: string, stdin: Readable, storeOptions: StoreOptions): Readable {
  const chosen = ['ndjson', 'json-array', 'archives', 'no-meta'].filter((k) => values[k] !== undefined)
  if (chosen.length > 1) throw usage(`choose one source: --${chosen.join(', --')}`)
  if (typeof values.ndjson === 'string') return values.ndjson === '-' ? ndjsonSource(stdin, '-') : ndjsonFileSource(values.ndjson)
  if (typeof values['json-array'] === 'string') return jsonArraySource(values['json-array'])
  // A store URL is checked before anything is read or written (a bad one is a usage error, as for meta index).
  if (typeof values.archives === 'string') return archiveMetadataSource(storeUrlArg(values.archives, storeOptions), { storeOptions })
  if (values['no-meta'] === true) return fileStatSource(filesRoot)
  return jsonFilesSource(filesRoot)
}

function where (info: InvalidMetadata): string {
  if (info.file === undefined) return info.uid ?? '(object)'
  return info.line === undefined ? info.file : `${info.file}:${info.line}`
}

export const generateCommand: Command = {
  name: 'generate',
  summary: 'ingest metadata into the meta db (one new diff file)',
  help,
  flags: { ensure: '--ensure', ensureFiles: '--ensure-files', ...STORE_FLAGS },
  async run (argv, io) {
    const { values } = parse(argv, {
      ...metadirOptionSpec,
      ndjson: { type: 'string' },
      'json-array': { type: 'string' },
      archives: { type: 'string' },
      ...storeOptionSpec,
      'no-meta': { type: 'boolean' },
      replace: { type: 'boolean' },
      ensure: { type: 'boolean' },
      'ensure-files': { type: 'boolean' },
      'on-invalid': { type: 'string' },
      json: { type: 'boolean' }
    }, false)
    const onInvalid = oneOf('--on-invalid', values['on-invalid'], ['report', 'fail'] as const, 'report')
    // A malformed --endpoint is a usage error, said before anything is read or made.
    const storeOptions = storeOptionsFrom(values)
    const { base, filesRoot } = metadirFrom(values)
    const source = sourceFor(values, filesRoot, io.stdin, storeOptions)
    const sink = metaIngest(base, {
      replace: values.replace === true,
      ensure: values.ensure === true,
      ensureFiles: values['ensure-files'] === true,
      filesRoot
    })
    return await runIngest(io, source, sink, { onInvalid, json: values.json === true, items: 'metadata objects', counted: 'files', progress: 'objects read', where })
  }
}
